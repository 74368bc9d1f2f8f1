//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes an answer
//! carries. `id`, `schemas` and `meta` are always returned; names may be sub-attributes
//! (`name.givenName`) or URN-qualified.

use serde_json::{Map, Value};

use super::filter::AttrPath;

/// One named attribute: where it lives (top level or an extension object), its name and the
/// sub-attribute, all as written (compared case-insensitively).
#[derive(Debug, Clone)]
struct Named {
    ext: Option<String>,
    attr: String,
    sub: Option<String>,
}

/// A parsed projection.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    only: Vec<Named>,
    excluded: Vec<Named>,
}

const ALWAYS: [&str; 3] = ["id", "schemas", "meta"];

fn parse_list(text: Option<&str>, core_urn: &str, extension: Option<&str>) -> Vec<Named> {
    let Some(text) = text else {
        return Vec::new();
    };
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter_map(|t| {
            if extension.is_some_and(|e| t.eq_ignore_ascii_case(e)) {
                return Some(Named {
                    ext: None,
                    attr: t.to_string(),
                    sub: None,
                });
            }
            let path = AttrPath::parse(t).ok()?;
            let ext = match path.urn {
                None => None,
                Some(u) if u.eq_ignore_ascii_case(core_urn) => None,
                Some(u) => Some(u),
            };
            Some(Named {
                ext,
                attr: path.attr,
                sub: path.sub,
            })
        })
        .collect()
}

impl Projection {
    /// Parses the two parameters for a resource type with `core_urn` and `extension`.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        core_urn: &str,
        extension: Option<&str>,
    ) -> Projection {
        Projection {
            only: parse_list(attributes, core_urn, extension),
            excluded: parse_list(excluded, core_urn, extension),
        }
    }

    /// Whether the projection keeps every attribute (neither parameter named any).
    pub fn is_identity(&self) -> bool {
        self.only.is_empty() && self.excluded.is_empty()
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut map) = resource else {
            return resource;
        };
        if !self.only.is_empty() {
            map = keep(map, &self.only, None);
        }
        for named in &self.excluded {
            remove(&mut map, named);
        }
        Value::Object(map)
    }
}

fn keep(map: Map<String, Value>, only: &[Named], ext: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        if ext.is_none() && ALWAYS.contains(&key.as_str()) {
            out.insert(key, value);
            continue;
        }
        if ext.is_none() && key.starts_with("urn:") {
            // An extension object: whole when named, else the named attributes within.
            if only
                .iter()
                .any(|n| n.ext.is_none() && n.attr.eq_ignore_ascii_case(&key))
            {
                out.insert(key, value);
            } else if let Value::Object(inner) = value {
                let inside: Vec<Named> = only
                    .iter()
                    .filter(|n| {
                        n.ext
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(&key))
                    })
                    .cloned()
                    .collect();
                if !inside.is_empty() {
                    out.insert(key.clone(), Value::Object(keep(inner, &inside, Some(&key))));
                }
            }
            continue;
        }
        let named: Vec<&Named> = only
            .iter()
            .filter(|n| n.attr.eq_ignore_ascii_case(&key))
            .filter(|n| match (ext, &n.ext) {
                (None, None) => true,
                (Some(e), Some(x)) => e.eq_ignore_ascii_case(x),
                _ => false,
            })
            .collect();
        if named.is_empty() {
            continue;
        }
        if named.iter().any(|n| n.sub.is_none()) {
            out.insert(key, value);
            continue;
        }
        let subs: Vec<&str> = named.iter().filter_map(|n| n.sub.as_deref()).collect();
        let pick = |v: &Value| -> Value {
            match v {
                Value::Object(obj) => Value::Object(
                    obj.iter()
                        .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                other => other.clone(),
            }
        };
        let picked = match &value {
            Value::Array(items) => Value::Array(items.iter().map(pick).collect()),
            other => pick(other),
        };
        out.insert(key, picked);
    }
    out
}

fn remove(map: &mut Map<String, Value>, named: &Named) {
    let target = match &named.ext {
        None => Some(map),
        Some(e) => map
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(e))
            .and_then(|(_, v)| v.as_object_mut()),
    };
    let Some(target) = target else {
        return;
    };
    let Some(key) = target
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&named.attr))
        .cloned()
    else {
        return;
    };
    if named.ext.is_none() && ALWAYS.contains(&key.as_str()) {
        return;
    }
    match &named.sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => {
            let strip = |v: &mut Value| {
                if let Value::Object(obj) = v {
                    obj.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            };
            match target.get_mut(&key) {
                Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                Some(v) => strip(v),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn attributes_and_exclusions() {
        let user = json!({"schemas": [], "id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "x", "type": "work"}], EXT: {"department": "d", "division": "v"}, "meta": {}});
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        let p = Projection::parse(Some("userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None, core, Some(EXT));
        assert_eq!(
            p.apply(user.clone()),
            json!({"schemas": [], "id": "1", "userName": "a", "name": {"givenName": "A"},
            EXT: {"department": "d"}, "meta": {}})
        );
        let p = Projection::parse(None, Some("emails.type,ID,Name"), core, Some(EXT));
        let out = p.apply(user);
        assert_eq!(out["emails"], json!([{"value": "x"}]));
        assert!(out.get("name").is_none());
        assert_eq!(out["id"], json!("1"));
    }
}
