//! How the administration commands show users and tokens: one JSON shape each (`--json`) and
//! one text line each. Token keys appear only in the answer to `tokens create`.

use serde_json::{json, Value};

use crate::domain::tokens::Token;
use crate::domain::users::User;
use crate::domain::Timestamp;

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_drf()))
}

/// A user as JSON.
pub fn user_json(user: &User) -> Value {
    json!({
        "pk": user.id,
        "uuid": user.uuid,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "type": user.user_type.as_str(),
        "path": user.path,
        "groups": user.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
        "has_password": user.has_password,
        "last_login": time(user.last_login),
        "date_joined": time(Some(user.date_joined)),
    })
}

/// A user as one line of text.
pub fn user_line(user: &User) -> String {
    let mut flags = Vec::new();
    if !user.is_active {
        flags.push("inactive");
    }
    if user.is_superuser {
        flags.push("superuser");
    }
    if !user.has_password {
        flags.push("no password");
    }
    format!(
        "{:>8}  {:<24} {:<28} {}{}",
        user.id,
        user.username,
        user.email,
        user.name,
        if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join(", "))
        }
    )
}

/// A token as JSON (never its key).
pub fn token_json(token: &Token) -> Value {
    json!({
        "identifier": token.identifier,
        "uuid": token.uuid,
        "intent": token.intent,
        "user": token.user.username,
        "user_pk": token.user.id,
        "description": token.description,
        "expiring": token.expiring,
        "expires": time(token.expires),
        "is_expired": token.is_expired(),
        "created": time(Some(token.created)),
    })
}

/// A token as one line of text.
pub fn token_line(token: &Token) -> String {
    let expiry = match (token.expiring, token.expires) {
        (false, _) | (true, None) => "never expires".to_string(),
        (true, Some(t)) if token.is_expired() => format!("expired {}", t.to_drf()),
        (true, Some(t)) => format!("expires {}", t.to_drf()),
    };
    format!(
        "{:<32} {:<13} {:<24} {expiry}",
        token.identifier, token.intent, token.user.username
    )
}
