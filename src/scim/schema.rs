//! The attributes gatehouse serves (RFC 7643 §4 core User and Group, §4.3 enterprise User):
//! one table that `/Schemas` renders, and that input is canonicalised against (attribute names
//! are case-insensitive; what is not declared here is dropped on input and never returned).

use serde_json::{json, Map, Value};

/// Core User schema URN.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Core Group schema URN.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// string
    Str,
    /// boolean
    Bool,
    /// complex
    Complex,
    /// reference
    Ref,
    /// binary
    Binary,
}

/// One attribute definition.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// Canonical name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Multi-valued.
    pub multi: bool,
    /// Required.
    pub required: bool,
    /// readOnly / readWrite / immutable / writeOnly.
    pub mutability: &'static str,
    /// Compared case-exactly.
    pub case_exact: bool,
    /// Sub-attributes of a complex attribute.
    pub subs: &'static [Attr],
    /// Description.
    pub description: &'static str,
}

const fn a(name: &'static str, kind: Kind, description: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        mutability: "readWrite",
        case_exact: false,
        subs: &[],
        description,
    }
}

const fn multi(name: &'static str, subs: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Complex,
        multi: true,
        required: false,
        mutability: "readWrite",
        case_exact: false,
        subs,
        description,
    }
}

const fn complex(name: &'static str, subs: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Complex,
        multi: false,
        required: false,
        mutability: "readWrite",
        case_exact: false,
        subs,
        description,
    }
}

const fn required(mut attr: Attr) -> Attr {
    attr.required = true;
    attr
}

const fn read_only(mut attr: Attr) -> Attr {
    attr.mutability = "readOnly";
    attr
}

const fn immutable(mut attr: Attr) -> Attr {
    attr.mutability = "immutable";
    attr
}

const fn exact(mut attr: Attr) -> Attr {
    attr.case_exact = true;
    attr
}

const TYPED_VALUE: [Attr; 4] = [
    a("value", Kind::Str, "The value."),
    a("display", Kind::Str, "A human-readable name."),
    a(
        "type",
        Kind::Str,
        "A label indicating the value's function.",
    ),
    a("primary", Kind::Bool, "Whether this is the primary value."),
];

const PHOTO: [Attr; 4] = [
    exact(a("value", Kind::Ref, "URL of a photo of the user.")),
    a("display", Kind::Str, "A human-readable name."),
    a(
        "type",
        Kind::Str,
        "A label indicating the value's function.",
    ),
    a("primary", Kind::Bool, "Whether this is the primary value."),
];

const CERTIFICATE: [Attr; 4] = [
    exact(a("value", Kind::Binary, "The certificate (base64 DER).")),
    a("display", Kind::Str, "A human-readable name."),
    a(
        "type",
        Kind::Str,
        "A label indicating the value's function.",
    ),
    a("primary", Kind::Bool, "Whether this is the primary value."),
];

const NAME: [Attr; 6] = [
    a("formatted", Kind::Str, "The full name."),
    a("familyName", Kind::Str, "The family name."),
    a("givenName", Kind::Str, "The given name."),
    a("middleName", Kind::Str, "The middle name."),
    a("honorificPrefix", Kind::Str, "The honorific prefix."),
    a("honorificSuffix", Kind::Str, "The honorific suffix."),
];

const ADDRESS: [Attr; 8] = [
    a("formatted", Kind::Str, "The full mailing address."),
    a("streetAddress", Kind::Str, "The street address."),
    a("locality", Kind::Str, "The city or locality."),
    a("region", Kind::Str, "The state or region."),
    a("postalCode", Kind::Str, "The zip or postal code."),
    a("country", Kind::Str, "The country."),
    a(
        "type",
        Kind::Str,
        "A label indicating the address' function.",
    ),
    a(
        "primary",
        Kind::Bool,
        "Whether this is the primary address.",
    ),
];

const USER_GROUP: [Attr; 4] = [
    read_only(a("value", Kind::Str, "The group's id.")),
    read_only(a("$ref", Kind::Ref, "The URI of the group.")),
    read_only(a("display", Kind::Str, "The group's displayName.")),
    read_only(a("type", Kind::Str, "direct or indirect.")),
];

/// Core User attributes.
pub const USER_ATTRS: &[Attr] = &[
    required(a(
        "userName",
        Kind::Str,
        "Unique identifier for the user, case-insensitive.",
    )),
    complex("name", &NAME, "The components of the user's name."),
    a(
        "displayName",
        Kind::Str,
        "The name of the user, suitable for display.",
    ),
    a("nickName", Kind::Str, "The casual way to address the user."),
    exact(a(
        "profileUrl",
        Kind::Ref,
        "A URI of the user's online profile.",
    )),
    a("title", Kind::Str, "The user's title."),
    a(
        "userType",
        Kind::Str,
        "The relationship between the organization and the user.",
    ),
    a(
        "preferredLanguage",
        Kind::Str,
        "The user's preferred written or spoken language.",
    ),
    a("locale", Kind::Str, "The user's default location."),
    a("timezone", Kind::Str, "The user's time zone."),
    a("active", Kind::Bool, "The user's administrative status."),
    multi("emails", &TYPED_VALUE, "E-mail addresses for the user."),
    multi("phoneNumbers", &TYPED_VALUE, "Phone numbers for the user."),
    multi(
        "ims",
        &TYPED_VALUE,
        "Instant messaging addresses for the user.",
    ),
    multi("photos", &PHOTO, "URLs of photos of the user."),
    multi(
        "addresses",
        &ADDRESS,
        "Physical mailing addresses for the user.",
    ),
    read_only(multi(
        "groups",
        &USER_GROUP,
        "Groups the user belongs to, directly or indirectly.",
    )),
    multi("entitlements", &TYPED_VALUE, "Entitlements of the user."),
    multi("roles", &TYPED_VALUE, "Roles of the user."),
    multi(
        "x509Certificates",
        &CERTIFICATE,
        "Certificates of the user.",
    ),
];

const MANAGER: [Attr; 3] = [
    a("value", Kind::Str, "The id of the user's manager."),
    a("$ref", Kind::Ref, "The URI of the manager."),
    read_only(a("displayName", Kind::Str, "The manager's displayName.")),
];

/// Enterprise User extension attributes.
pub const ENTERPRISE_ATTRS: &[Attr] = &[
    a(
        "employeeNumber",
        Kind::Str,
        "Numeric or alphanumeric identifier assigned to the user.",
    ),
    a(
        "costCenter",
        Kind::Str,
        "Identifies the name of a cost center.",
    ),
    a(
        "organization",
        Kind::Str,
        "Identifies the name of an organization.",
    ),
    a("division", Kind::Str, "Identifies the name of a division."),
    a(
        "department",
        Kind::Str,
        "Identifies the name of a department.",
    ),
    complex("manager", &MANAGER, "The user's manager."),
];

const MEMBER: [Attr; 4] = [
    immutable(a("value", Kind::Str, "The id of the member (a user).")),
    immutable(a("$ref", Kind::Ref, "The URI of the member.")),
    read_only(a("display", Kind::Str, "The member's userName.")),
    immutable(a("type", Kind::Str, "User.")),
];

/// Core Group attributes.
pub const GROUP_ATTRS: &[Attr] = &[
    required(a(
        "displayName",
        Kind::Str,
        "A human-readable name for the group, unique.",
    )),
    multi(
        "members",
        &MEMBER,
        "The direct members of the group (users).",
    ),
];

/// The attribute named `name` (case-insensitively) among `attrs`.
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "string",
        Kind::Bool => "boolean",
        Kind::Complex => "complex",
        Kind::Ref => "reference",
        Kind::Binary => "binary",
    }
}

fn definition(attr: &Attr) -> Value {
    let mut def = json!({
        "name": attr.name,
        "type": kind_name(attr.kind),
        "multiValued": attr.multi,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability,
        "returned": "default",
        "uniqueness": if attr.name == "userName" { "server" } else { "none" },
    });
    if let Some(map) = def.as_object_mut() {
        if attr.kind == Kind::Complex {
            map.insert(
                "subAttributes".into(),
                Value::Array(attr.subs.iter().map(definition).collect()),
            );
        }
        if attr.kind == Kind::Ref {
            let types = match attr.name {
                "$ref" => json!(["User", "Group"]),
                _ => json!(["external"]),
            };
            map.insert("referenceTypes".into(), types);
        }
        if attr.name == "type" && attr.mutability == "immutable" {
            map.insert("canonicalValues".into(), json!(["User"]));
        }
    }
    def
}

/// A `/Schemas` entry.
pub fn schema_document(base: &str, id: &str) -> Option<Value> {
    let (name, description, attrs) = match id {
        USER => ("User", "User Account", USER_ATTRS),
        ENTERPRISE => ("EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRS),
        GROUP => ("Group", "Group", GROUP_ATTRS),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(definition).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    }))
}

/// The schema URNs `/Schemas` lists, in order.
pub const SCHEMA_IDS: [&str; 3] = [USER, ENTERPRISE, GROUP];

/// Keeps what `attrs` declares of `input` (an object), under canonical names, recursively for
/// complex values; `null` values are unassigned and dropped.
pub fn canonical(attrs: &[Attr], input: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in input {
        let Some(attr) = find(attrs, key) else {
            continue;
        };
        if let Some(v) = canonical_value(attr, value) {
            out.insert(attr.name.to_string(), v);
        }
    }
    out
}

/// One attribute's value under canonical names (`None` when unassigned).
pub fn canonical_value(attr: &Attr, value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(_) if attr.multi => canonical_value(attr, &Value::Array(vec![value.clone()])),
        Value::Object(map) if attr.kind == Kind::Complex => {
            let inner = canonical(attr.subs, map);
            Some(Value::Object(inner))
        }
        // Entra sends a single-valued complex attribute (`manager`) as a one-element array.
        Value::Array(items) if !attr.multi && attr.kind == Kind::Complex => items
            .iter()
            .find(|i| i.is_object())
            .and_then(|i| canonical_value(attr, i)),
        Value::Array(items) if attr.multi => Some(Value::Array(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(map) if attr.kind == Kind::Complex => {
                        Some(Value::Object(canonical(attr.subs, map)))
                    }
                    Value::Null => None,
                    other => Some(other.clone()),
                })
                .collect(),
        )),
        other => Some(coerce(attr, other)),
    }
}

/// Entra sends booleans as `"True"` / `"False"`: coerced where the attribute is boolean.
fn coerce(attr: &Attr, value: &Value) -> Value {
    match (attr.kind, value) {
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Kind::Bool, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => value.clone(),
    }
}
