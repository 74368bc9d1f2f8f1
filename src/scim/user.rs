//! Users as SCIM shows and writes them (scim.md §9.2): `userName` ↔ username, `displayName` ↔
//! name, `name.givenName` / `familyName` ↔ AWX's first and last name, the primary e-mail ↔
//! email, `active` ↔ is_active; everything else declared in `/Schemas` round-trips verbatim
//! through the shadow document. Computed values win over the document on the way out, so a
//! change made through another door shows here at once.

use serde_json::{json, Map, Value};

use super::error::ScimError;
use super::schema::{self, ENTERPRISE, USER};
use crate::domain::scim::{ScimExtras, UserGroup, UserWrite};
use crate::domain::users::{User, UserChanges};

/// Attributes the shadow document never keeps: server-computed, mapped-only or secret.
/// `displayName` and `active` stay in the document although columns hold their values: their
/// presence says whether the client assigned them (a PATCH `remove` takes them away).
const NOT_IN_DOC: [&str; 7] = [
    "id",
    "meta",
    "schemas",
    "externalId",
    "userName",
    "groups",
    "password",
];

/// The SCIM representation of `user` for the client whose `extras` these are.
pub fn render(user: &User, extras: &ScimExtras, groups: &[UserGroup], base: &str) -> Value {
    let doc = &extras.doc;
    // Only users SCIM wrote have a document; the others show what their columns hold.
    let written = extras.last_modified.is_some();
    let location = format!("{base}/Users/{}", user.uuid);
    let mut out = Map::new();
    let mut schemas = vec![json!(USER)];
    if doc.contains_key(ENTERPRISE) {
        schemas.push(json!(ENTERPRISE));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(user.uuid));
    if let Some(external) = &extras.external_id {
        out.insert("externalId".into(), json!(external));
    }
    out.insert("userName".into(), json!(user.username));
    if let Some(name) = render_name(user, doc.get("name"), written) {
        out.insert("name".into(), name);
    }
    if doc.contains_key("displayName") || (!written && !user.name.is_empty()) {
        out.insert("displayName".into(), json!(user.name));
    }
    for attr in schema::USER_ATTRS {
        let key = attr.name;
        if matches!(
            key,
            "userName" | "name" | "displayName" | "emails" | "groups" | "active"
        ) {
            continue;
        }
        if let Some(v) = doc.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if doc.contains_key("active") || !written {
        out.insert("active".into(), json!(user.is_active));
    }
    if let Some(emails) = render_emails(&user.email, doc.get("emails")) {
        out.insert("emails".into(), emails);
    }
    if !groups.is_empty() {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.uuid,
                    "$ref": format!("{base}/Groups/{}", g.uuid),
                    "display": g.name,
                    "type": if g.direct { "direct" } else { "indirect" },
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    if let Some(enterprise) = doc.get(ENTERPRISE) {
        out.insert(ENTERPRISE.into(), enterprise.clone());
    }
    let modified = extras
        .last_modified
        .map_or(user.last_updated.0, |t| t.0.max(user.last_updated.0));
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": super::time(user.date_joined.0),
            "lastModified": super::time(modified),
            "location": location,
        }),
    );
    Value::Object(out)
}

/// `name`: the stored object with given and family name from the columns, or one built from
/// the columns for a user SCIM never wrote.
fn render_name(user: &User, stored: Option<&Value>, written: bool) -> Option<Value> {
    let mut name = match stored {
        Some(Value::Object(map)) => map.clone(),
        _ if written => Map::new(),
        _ => {
            let mut map = Map::new();
            if !user.name.is_empty() {
                map.insert("formatted".into(), json!(user.name));
            }
            map
        }
    };
    for (key, column) in [
        ("givenName", &user.first_name),
        ("familyName", &user.last_name),
    ] {
        if !column.is_empty() || name.contains_key(key) {
            name.insert(key.into(), json!(column));
        }
    }
    (!name.is_empty()).then_some(Value::Object(name))
}

/// `emails`: the stored list with the primary item's value from the column, or one work
/// address built from the column.
fn render_emails(email: &str, stored: Option<&Value>) -> Option<Value> {
    match stored {
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut items = items.clone();
            if let Some(i) = primary_index(&items) {
                let current = items[i].get("value").and_then(Value::as_str).unwrap_or("");
                if current != email && !email.is_empty() {
                    if let Some(map) = items[i].as_object_mut() {
                        map.insert("value".into(), json!(email));
                    }
                }
            }
            Some(Value::Array(items))
        }
        stored if email.is_empty() => stored.cloned(),
        _ => Some(json!([{"value": email, "type": "work", "primary": true}])),
    }
}

/// The e-mail gatehouse keeps: the `primary` item, else the first `work` one, else the first.
fn primary_index(items: &[Value]) -> Option<usize> {
    items
        .iter()
        .position(|i| i.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            items
                .iter()
                .position(|i| i.get("type").and_then(Value::as_str) == Some("work"))
        })
        .or(if items.is_empty() { None } else { Some(0) })
}

/// The canonical form of a User document: declared core attributes, the enterprise object,
/// `externalId`; everything else dropped.
pub fn canonical(input: &Map<String, Value>) -> Map<String, Value> {
    let mut out = schema::canonical(schema::USER_ATTRS, input);
    for (key, value) in input {
        if key.eq_ignore_ascii_case(ENTERPRISE) {
            if let Value::Object(map) = value {
                out.insert(
                    ENTERPRISE.into(),
                    Value::Object(schema::canonical(schema::ENTERPRISE_ATTRS, map)),
                );
            }
        } else if key.eq_ignore_ascii_case("externalId") && !value.is_null() {
            out.insert("externalId".into(), value.clone());
        }
    }
    out
}

fn string_of(doc: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::value(format!("{key} must be a string."))),
    }
}

/// What a canonical User document writes. `create`: absent `active` means true (on replace it
/// is left as it is).
pub fn to_write(doc: Map<String, Value>, create: bool) -> Result<UserWrite, ScimError> {
    let username = string_of(&doc, "userName")?
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ScimError::value("userName is required."))?;
    let name_obj = doc.get("name").and_then(Value::as_object);
    let part = |key: &str| {
        name_obj
            .and_then(|n| n.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (given, family, formatted) = (part("givenName"), part("familyName"), part("formatted"));
    let display = string_of(&doc, "displayName")?;
    let name = match display {
        Some(d) => d,
        None if !formatted.is_empty() => formatted,
        None => [given.trim(), family.trim()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let email = match doc.get("emails") {
        Some(Value::Array(items)) => primary_index(items)
            .and_then(|i| items[i].get("value"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    let active = match doc.get("active") {
        None => create.then_some(true),
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ScimError::value("active must be a boolean.")),
    };
    let external_id = string_of(&doc, "externalId")?;
    let changes = UserChanges {
        username: Some(username),
        name: Some(name),
        first_name: Some(given),
        last_name: Some(family),
        email: Some(email),
        is_active: active,
        ..UserChanges::default()
    };
    let mut kept = doc;
    kept.retain(|k, _| !NOT_IN_DOC.contains(&k.as_str()));
    Ok(UserWrite {
        changes,
        doc: kept,
        external_id,
    })
}
