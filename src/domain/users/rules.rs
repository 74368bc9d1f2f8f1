//! Validation rules for user writes: the field rules that need no database, the reference
//! rules checked inside the writing transaction, and the order errors are reported in.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::model::UserChanges;
use crate::domain::error::FieldErrors;
use crate::domain::DomainError;
use crate::store::{groups, users as store_users};

/// Field order of authentik's user serializer, for error bodies.
pub const FIELD_ORDER: [&str; 13] = [
    "username",
    "name",
    "first_name",
    "last_name",
    "is_active",
    "last_login",
    "groups",
    "roles",
    "email",
    "attributes",
    "path",
    "type",
    "password",
];

/// Username rule (deviation 9): 1–150 characters of letters, digits and `@.+-_`.
pub fn check_username(username: &str) -> Result<(), String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^[\w.@+-]+$").expect("static regex"));
    if username.chars().count() > 150 {
        return Err("Ensure this field has no more than 150 characters.".into());
    }
    if !re.is_match(username) {
        return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
    }
    Ok(())
}

/// Path rule: no leading/trailing slash, no empty segment.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.ends_with('/') {
        return Err("No leading or trailing slashes allowed.".into());
    }
    if path.contains("//") {
        return Err("No empty segments in user path allowed.".into());
    }
    Ok(())
}

/// E-mail rule: Django's validator in spirit (local@domain with a dotted domain), ≤254 chars.
pub fn check_email(email: &str) -> Result<(), String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r#"^(?i)[-!#$%&'*+/=?^_`{}|~0-9a-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}|\[[0-9a-f:.]+\]|localhost)$"#,
        )
        .expect("static regex")
    });
    if email.chars().count() > 254 {
        return Err("Ensure this field has no more than 254 characters.".into());
    }
    if email.is_empty() || re.is_match(email) {
        Ok(())
    } else {
        Err("Enter a valid email address.".into())
    }
}

/// The message for a unique value that is taken, in authentik's words.
pub const UNIQUE_MESSAGE: &str = "This field must be unique.";

/// Rules that need no database: applied to fields that passed type coercion.
pub(super) fn check_fields(changes: &UserChanges, errors: &mut FieldErrors) {
    if let (Some(username), false) = (&changes.username, errors.has("username")) {
        if let Err(m) = check_username(username) {
            errors.add("username", m);
        }
    }
    if let (Some(email), false) = (&changes.email, errors.has("email")) {
        if let Err(m) = check_email(email) {
            errors.add("email", m);
        }
    }
    if let (Some(path), false) = (&changes.path, errors.has("path")) {
        if let Err(m) = check_path(path) {
            errors.add("path", m);
        }
    }
}

/// Rules that need the database, checked inside the transaction that writes.
pub(super) async fn check_references<R: crate::store::Reader>(
    db: &mut R,
    changes: &UserChanges,
    except: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<(Vec<i64>, Vec<i64>), DomainError> {
    if let (Some(username), false) = (&changes.username, errors.has("username")) {
        if store_users::username_taken(db, username, except).await? {
            errors.add_code("username", "unique", UNIQUE_MESSAGE);
        }
    }
    let mut group_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.groups, errors.has("groups")) {
        let found = groups::groups_by_uuid(db, uuids).await?;
        group_ids = resolve_uuids(&found, uuids, "groups", errors);
    }
    let mut role_ids = Vec::new();
    if let (Some(uuids), false) = (&changes.roles, errors.has("roles")) {
        let found = groups::roles_by_uuid(db, uuids).await?;
        role_ids = resolve_uuids(&found, uuids, "roles", errors);
    }
    Ok((group_ids, role_ids))
}

/// Maps referenced uuids to ids in request order; the first one that does not exist becomes
/// DRF's "Invalid pk" error on `field` (and an empty result).
pub(crate) fn resolve_uuids(
    found: &[crate::store::groups::IdUuid],
    uuids: &[String],
    field: &str,
    errors: &mut FieldErrors,
) -> Vec<i64> {
    let by_uuid: HashMap<&str, i64> = found.iter().map(|r| (r.uuid.as_str(), r.id)).collect();
    let mut ids = Vec::with_capacity(uuids.len());
    for uuid in uuids {
        match by_uuid.get(uuid.as_str()) {
            Some(id) => ids.push(*id),
            None => {
                errors.add_code(
                    field,
                    "does_not_exist",
                    format!("Invalid pk \"{uuid}\" - object does not exist."),
                );
                return Vec::new();
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rule() {
        assert!(check_username("alice.b+c@d-e_f").is_ok());
        assert!(check_username("Zoë").is_ok());
        assert!(check_username("john smith").is_err());
        assert!(check_username(&"a".repeat(151)).is_err());
    }

    #[test]
    fn path_rule() {
        assert_eq!(
            check_path("/bad/").unwrap_err(),
            "No leading or trailing slashes allowed."
        );
        assert_eq!(
            check_path("a//b").unwrap_err(),
            "No empty segments in user path allowed."
        );
        assert!(check_path("users/put").is_ok());
    }

    #[test]
    fn email_rule() {
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("").is_ok());
        assert!(check_email("nope").is_err());
        assert!(check_email("a@b").is_err());
    }
}
