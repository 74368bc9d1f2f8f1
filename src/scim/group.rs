//! Groups as SCIM shows and writes them (scim.md §9.3): `displayName` ↔ name, `members` = the
//! direct member users (always present, `[]` when empty; child groups are not members here).
//! Parents, roles, the superuser flag and attributes are not SCIM's to see or change.

use serde_json::{json, Map, Value};

use super::error::ScimError;
use super::schema::{self, GROUP};
use crate::domain::groups::Group;
use crate::domain::scim::{GroupWrite, ScimExtras};

/// The SCIM representation of `group` for the client whose `extras` these are.
pub fn render(group: &Group, extras: &ScimExtras, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), json!(group.uuid));
    if let Some(external) = &extras.external_id {
        out.insert("externalId".into(), json!(external));
    }
    out.insert("displayName".into(), json!(group.name));
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|m| {
            json!({
                "value": m.uuid,
                "$ref": format!("{base}/Users/{}", m.uuid),
                "type": "User",
            })
        })
        .collect();
    out.insert("members".into(), Value::Array(members));
    let created = extras.created.map_or(0, |t| t.0);
    let modified = extras.last_modified.map_or(created, |t| t.0);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": super::time(created),
            "lastModified": super::time(modified),
            "location": format!("{base}/Groups/{}", group.uuid),
        }),
    );
    Value::Object(out)
}

/// The canonical form of a Group document: declared attributes and `externalId`.
pub fn canonical(input: &Map<String, Value>) -> Map<String, Value> {
    let mut out = schema::canonical(schema::GROUP_ATTRS, input);
    for (key, value) in input {
        if key.eq_ignore_ascii_case("externalId") && !value.is_null() {
            out.insert("externalId".into(), value.clone());
        }
    }
    out
}

/// The member uuids of a `members` value (`value` of each item).
pub fn member_values(members: &Value) -> Result<Vec<String>, ScimError> {
    let Value::Array(items) = members else {
        return Err(ScimError::value("members must be a list."));
    };
    items
        .iter()
        .map(|item| {
            item.get("value")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ScimError::value("Every member needs a string value."))
        })
        .collect()
}

/// What a canonical Group document writes.
pub fn to_write(doc: Map<String, Value>) -> Result<GroupWrite, ScimError> {
    let name = match doc.get("displayName") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => return Err(ScimError::value("displayName is required.")),
        Some(_) => return Err(ScimError::value("displayName must be a string.")),
    };
    let members = doc.get("members").map(member_values).transpose()?;
    let external_id = match doc.get("externalId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::value("externalId must be a string.")),
    };
    let mut kept = doc;
    kept.retain(|k, _| !matches!(k.as_str(), "displayName" | "members" | "externalId"));
    Ok(GroupWrite {
        name,
        members,
        doc: kept,
        external_id,
    })
}
