//! PATCH (RFC 7644 §3.5.2) applied to a resource's canonical document, with the quirks real
//! clients need (scim.md §6): `op` in any case, no top-level `schemas`, no-path values whose
//! keys are paths (`name.givenName`, URN-qualified) or carry `id`/`schemas`/`meta`, `remove` of
//! `members` with a value list removing only those, `replace` of `emails[type eq "work"].value`
//! creating the address when none matches. The result is written like a PUT, in one
//! transaction, so a failing operation leaves nothing applied.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, Expr, PatchPath};
use super::schema::{canonical_value, find, Attr, Kind};

/// The PatchOp message schema.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The schemas of one resource type: the core URN and attributes, and its extension if any.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSchema {
    /// Core schema URN.
    pub urn: &'static str,
    /// Core attributes.
    pub attrs: &'static [Attr],
    /// Extension URN and attributes.
    pub extension: Option<(&'static str, &'static [Attr])>,
}

const EXTERNAL_ID: Attr = Attr {
    name: "externalId",
    kind: Kind::Str,
    multi: false,
    required: false,
    mutability: "readWrite",
    case_exact: true,
    subs: &[],
    description: "",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Add,
    Remove,
    Replace,
}

/// Where a path points.
enum Target {
    Attr {
        ext: Option<&'static str>,
        attr: &'static Attr,
        sub: Option<&'static Attr>,
    },
    Extension(&'static str),
}

/// Applies a PatchOp request body to `doc` (the resource's canonical document) of resource
/// `id`.
pub fn apply(
    schema: &ResourceSchema,
    id: &str,
    doc: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), ScimError> {
    let operations = body
        .as_object()
        .and_then(|b| {
            b.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "A PatchOp needs an Operations list."))?;
    for operation in operations {
        let get = |name: &str| {
            operation.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        };
        let op = match get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Operation::Add,
            Some("remove") => Operation::Remove,
            Some("replace") => Operation::Replace,
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    "Every operation needs op add, remove or replace.",
                ))
            }
        };
        let value = get("value").cloned().unwrap_or(Value::Null);
        match get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) => {
                let path = filter::parse_path(path)?;
                apply_path(schema, doc, op, &path, &value)?;
            }
            None => apply_no_path(schema, id, doc, op, &value)?,
        }
    }
    Ok(())
}

fn resolve(schema: &ResourceSchema, path: &AttrPath) -> Result<Option<Target>, ScimError> {
    let unknown = || {
        ScimError::path(format!(
            "Unknown attribute \"{}\".",
            path.urn
                .as_ref()
                .map(|u| format!("{u}:{}", path.attr))
                .unwrap_or_else(|| path.attr.clone())
        ))
    };
    let (ext, attrs): (Option<&'static str>, &'static [Attr]) = match &path.urn {
        None => (None, schema.attrs),
        Some(u) if u.eq_ignore_ascii_case(schema.urn) => (None, schema.attrs),
        Some(u) => match schema.extension {
            Some((urn, attrs)) if u.eq_ignore_ascii_case(urn) => (Some(urn), attrs),
            Some((urn, _))
                if format!("{u}:{}", path.attr).eq_ignore_ascii_case(urn) && path.sub.is_none() =>
            {
                return Ok(Some(Target::Extension(urn)))
            }
            _ => return Err(unknown()),
        },
    };
    if ext.is_none() && path.attr.eq_ignore_ascii_case("externalId") && path.sub.is_none() {
        return Ok(Some(Target::Attr {
            ext: None,
            attr: &EXTERNAL_ID,
            sub: None,
        }));
    }
    if ext.is_none()
        && ["id", "meta", "schemas"]
            .iter()
            .any(|k| path.attr.eq_ignore_ascii_case(k))
    {
        return Ok(None);
    }
    // A bare name the core schema lacks may be the extension's (Entra's `manager`).
    let (ext, attrs) = match (ext, path.urn.is_none(), schema.extension) {
        (None, true, Some((urn, ext_attrs)))
            if find(attrs, &path.attr).is_none() && find(ext_attrs, &path.attr).is_some() =>
        {
            (Some(urn), ext_attrs)
        }
        _ => (ext, attrs),
    };
    let attr = find(attrs, &path.attr).ok_or_else(unknown)?;
    let sub = match &path.sub {
        Some(s) => Some(find(attr.subs, s).ok_or_else(unknown)?),
        None => None,
    };
    Ok(Some(Target::Attr { ext, attr, sub }))
}

/// The object holding the attribute: the document, or its extension object (created empty).
fn container<'d>(
    doc: &'d mut Map<String, Value>,
    ext: Option<&str>,
) -> Option<&'d mut Map<String, Value>> {
    let Some(urn) = ext else {
        return Some(doc);
    };
    let slot = doc
        .entry(urn.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

fn same_item(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_path(
    schema: &ResourceSchema,
    doc: &mut Map<String, Value>,
    op: Operation,
    path: &PatchPath,
    value: &Value,
) -> Result<(), ScimError> {
    let Some(target) = resolve(schema, &path.attr)? else {
        return Err(ScimError::mutability(format!(
            "\"{}\" cannot be changed.",
            path.attr.attr
        )));
    };
    let (ext, attr, sub) = match target {
        Target::Extension(urn) => {
            let Some((_, attrs)) = schema.extension else {
                return Err(ScimError::path("Unknown extension."));
            };
            match op {
                Operation::Remove => {
                    doc.remove(urn);
                }
                _ => {
                    let Value::Object(map) = value else {
                        return Err(ScimError::value("An extension's value is an object."));
                    };
                    let incoming = super::schema::canonical(attrs, map);
                    if let Some(slot) = container(doc, Some(urn)) {
                        for (k, v) in incoming {
                            slot.insert(k, v);
                        }
                    }
                }
            }
            return Ok(());
        }
        Target::Attr { ext, attr, sub } => (ext, attr, sub),
    };
    if attr.mutability == "readOnly" || sub.is_some_and(|s| s.mutability == "readOnly") {
        return Err(ScimError::mutability(format!(
            "{} is read-only.",
            attr.name
        )));
    }
    let Some(map) = container(doc, ext) else {
        return Ok(());
    };
    if let Some(expr) = &path.filter {
        if !attr.multi {
            return Err(ScimError::path(format!(
                "{} is not multi-valued.",
                attr.name
            )));
        }
        return apply_filtered(map, op, attr, sub, expr, value);
    }
    match (op, sub) {
        (Operation::Remove, None) => {
            if attr.required {
                return Err(ScimError::mutability(format!("{} is required.", attr.name)));
            }
            match (attr.multi, value) {
                // authentik and Entra: `remove` of `members` with a value list removes those.
                (true, Value::Array(gone)) if !gone.is_empty() => {
                    if let Some(Value::Array(items)) = map.get_mut(attr.name) {
                        items.retain(|item| !gone.iter().any(|g| same_item(item, g)));
                    }
                }
                _ => {
                    map.remove(attr.name);
                }
            }
        }
        (Operation::Remove, Some(sub)) => match map.get_mut(attr.name) {
            Some(Value::Object(obj)) => {
                obj.remove(sub.name);
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.remove(sub.name);
                }
            }
            _ => {}
        },
        (_, Some(sub)) => {
            if attr.multi {
                return Err(ScimError::path(format!(
                    "Select the {} value with a filter: {}[…].{}.",
                    attr.name, attr.name, sub.name
                )));
            }
            let slot = map
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let (Value::Object(obj), Some(v)) = (slot, canonical_value(sub, value)) {
                obj.insert(sub.name.to_string(), v);
            }
        }
        (_, None) => set_attr(map, op, attr, value),
    }
    Ok(())
}

/// `add` / `replace` of a whole attribute.
fn set_attr(map: &mut Map<String, Value>, op: Operation, attr: &Attr, value: &Value) {
    let Some(incoming) = canonical_value(attr, value) else {
        if op == Operation::Replace {
            map.remove(attr.name);
        }
        return;
    };
    match (op, attr.multi, attr.kind, incoming) {
        (Operation::Add, true, _, Value::Array(new)) => {
            let slot = map
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                for item in new {
                    if !items.iter().any(|i| same_item(i, &item)) {
                        items.push(item);
                    }
                }
            }
        }
        // A complex single-valued attribute: the given sub-attributes replace theirs, the
        // others are left as they are (for add and replace alike).
        (_, false, Kind::Complex, Value::Object(new)) => {
            let slot = map
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(obj) = slot {
                for (k, v) in new {
                    obj.insert(k, v);
                }
            }
        }
        (_, _, _, incoming) => {
            map.insert(attr.name.to_string(), incoming);
        }
    }
}

/// The attribute values a filter's `eq` conditions name (`type eq "work"` → `{"type":"work"}`),
/// for creating the element a filtered add or replace found missing.
fn seed(expr: &Expr, attr: &Attr, out: &mut Map<String, Value>) {
    match expr {
        Expr::And(a, b) => {
            seed(a, attr, out);
            seed(b, attr, out);
        }
        Expr::Compare(path, filter::Op::Eq, v) if path.sub.is_none() => {
            if let Some(sub) = find(attr.subs, &path.attr) {
                if let Some(v) = canonical_value(sub, v) {
                    out.insert(sub.name.to_string(), v);
                }
            }
        }
        _ => {}
    }
}

fn apply_filtered(
    map: &mut Map<String, Value>,
    op: Operation,
    attr: &Attr,
    sub: Option<&Attr>,
    expr: &Expr,
    value: &Value,
) -> Result<(), ScimError> {
    let slot = map
        .entry(attr.name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(items) = slot else {
        return Ok(());
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| filter::matches(item, expr))
        .map(|(i, _)| i)
        .collect();
    match (op, sub) {
        (Operation::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !hits.contains(&i);
                i += 1;
                keep
            });
        }
        (Operation::Remove, Some(sub)) => {
            for &i in &hits {
                if let Some(obj) = items[i].as_object_mut() {
                    obj.remove(sub.name);
                }
            }
        }
        (_, Some(sub)) => {
            let Some(v) = canonical_value(sub, value) else {
                return Ok(());
            };
            if hits.is_empty() {
                // Entra replaces `emails[type eq "work"].value` on users without a work
                // address: the element is created (RFC 7644 would answer noTarget).
                let mut element = Map::new();
                seed(expr, attr, &mut element);
                element.insert(sub.name.to_string(), v);
                items.push(Value::Object(element));
            } else {
                for &i in &hits {
                    if let Some(obj) = items[i].as_object_mut() {
                        obj.insert(sub.name.to_string(), v.clone());
                    }
                }
            }
        }
        (_, None) => {
            let Some(Value::Object(new)) = canonical_value(
                &Attr {
                    multi: false,
                    ..*attr
                },
                value,
            ) else {
                return Err(ScimError::value(format!(
                    "A filtered {} value is an object.",
                    attr.name
                )));
            };
            if hits.is_empty() {
                if op == Operation::Replace {
                    return Err(ScimError::no_target(format!(
                        "No {} value matches the filter.",
                        attr.name
                    )));
                }
                items.push(Value::Object(new));
            } else {
                for &i in &hits {
                    if op == Operation::Replace {
                        items[i] = Value::Object(new.clone());
                    } else if let Some(obj) = items[i].as_object_mut() {
                        for (k, v) in &new {
                            obj.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn apply_no_path(
    schema: &ResourceSchema,
    id: &str,
    doc: &mut Map<String, Value>,
    op: Operation,
    value: &Value,
) -> Result<(), ScimError> {
    if op == Operation::Remove {
        return Err(ScimError::no_target("remove needs a path."));
    }
    let Value::Object(values) = value else {
        return Err(ScimError::value("Without a path the value is an object."));
    };
    for (key, v) in values {
        if key.eq_ignore_ascii_case("id") {
            if v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)) {
                continue;
            }
            return Err(ScimError::mutability("id cannot be changed."));
        }
        let Ok(path) = filter::parse_path(key) else {
            continue;
        };
        // Unknown keys (Entra's extras), `schemas`, `meta` and read-only attributes are
        // ignored here, as in a PUT.
        let Ok(Some(target)) = resolve(schema, &path.attr) else {
            continue;
        };
        if let Target::Attr { attr, sub, .. } = target {
            if attr.mutability == "readOnly" || sub.is_some_and(|s| s.mutability == "readOnly") {
                continue;
            }
        }
        apply_path(schema, doc, op, &path, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE, ENTERPRISE_ATTRS, GROUP, GROUP_ATTRS, USER, USER_ATTRS};
    use serde_json::json;

    const USERS: ResourceSchema = ResourceSchema {
        urn: USER,
        attrs: USER_ATTRS,
        extension: Some((ENTERPRISE, ENTERPRISE_ATTRS)),
    };
    const GROUPS: ResourceSchema = ResourceSchema {
        urn: GROUP,
        attrs: GROUP_ATTRS,
        extension: None,
    };

    fn patch(schema: &ResourceSchema, doc: Value, ops: Value) -> Result<Value, ScimError> {
        let Value::Object(mut map) = doc else {
            panic!()
        };
        apply(schema, "id-1", &mut map, &json!({ "Operations": ops }))?;
        Ok(Value::Object(map))
    }

    #[test]
    fn entra_quirks() {
        let doc = json!({"userName": "a", "emails": [{"value": "old@x.io", "type": "home"}], "active": true});
        let out = patch(&USERS, doc, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x.io"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "value": {"name.givenName": "Ann",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7",
                "department": "ignored", "id": "id-1"}},
        ])).unwrap();
        assert_eq!(out["emails"][1], json!({"type": "work", "value": "w@x.io"}));
        assert_eq!(out["active"], json!(false));
        assert_eq!(out["name"]["givenName"], json!("Ann"));
        assert_eq!(out[ENTERPRISE]["employeeNumber"], json!("7"));
        assert!(out.get("department").is_none());
        let err = patch(
            &USERS,
            json!({"userName": "a"}),
            json!([{"op": "replace", "value": {"id": "other"}}]),
        )
        .unwrap_err();
        assert_eq!(err.scim_type, Some("mutability"));
    }

    #[test]
    fn member_removal_forms() {
        let doc = json!({"displayName": "g", "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]});
        let out = patch(&GROUPS, doc.clone(), json!([
            {"op": "remove", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u4", "display": "d"}]},
        ])).unwrap();
        assert_eq!(
            out["members"],
            json!([{"value": "u2"}, {"value": "u4", "display": "d"}])
        );
        let out = patch(&GROUPS, doc, json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(out.get("members").is_none());
        let err = patch(
            &GROUPS,
            json!({"displayName": "g"}),
            json!([{"op": "remove", "path": "displayName"}]),
        )
        .unwrap_err();
        assert_eq!(err.scim_type, Some("mutability"));
        let err = patch(
            &GROUPS,
            json!({"displayName": "g"}),
            json!([{"op": "replace", "path": "members[value eq \"x\"]", "value": {"value": "y"}}]),
        )
        .unwrap_err();
        assert_eq!(err.scim_type, Some("noTarget"));
        let err = patch(
            &GROUPS,
            json!({"displayName": "g"}),
            json!([{"op": "remove"}]),
        )
        .unwrap_err();
        assert_eq!(err.scim_type, Some("noTarget"));
    }

    #[test]
    fn complex_replace_keeps_other_sub_attributes() {
        let doc = json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}});
        let out = patch(
            &USERS,
            doc,
            json!([{"op": "replace", "path": "name", "value": {"familyName": "C"}}]),
        )
        .unwrap();
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "C"}));
    }
}
