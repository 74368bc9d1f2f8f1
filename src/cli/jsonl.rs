//! gatehouse's JSON-lines directory format (docs/export-format.md): a `header` line, then one
//! object per user, group, membership, role, group role, user role and token, each naming its
//! `kind`. Written by `gatehouse export`, read by `gatehouse import FILE.jsonl`.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::import::{ImportGroup, ImportRole, ImportToken, ImportUser, Skip, Source};
use crate::domain::Timestamp;

/// The `format` of the header line.
pub const FORMAT: &str = "gatehouse-directory";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A line is not what the format says.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u64,
    #[serde(default)]
    install_id: Option<String>,
    #[serde(default)]
    exported_at: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_type() -> String {
    "internal".into()
}
fn default_path() -> String {
    "users".into()
}
fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[derive(Serialize, Deserialize)]
struct UserLine {
    pk: i64,
    #[serde(default)]
    uuid: Option<String>,
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default = "default_true")]
    is_active: bool,
    #[serde(rename = "type", default = "default_type")]
    user_type: String,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default = "empty_object")]
    attributes: Value,
    #[serde(default)]
    last_login: Option<String>,
    #[serde(default)]
    date_joined: Option<String>,
    #[serde(default)]
    password_change_date: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct GroupLine {
    #[serde(default)]
    uuid: Option<String>,
    name: String,
    #[serde(default)]
    is_superuser: bool,
    #[serde(default = "empty_object")]
    attributes: Value,
    #[serde(default)]
    parents: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct MembershipLine {
    user: i64,
    group: String,
}

#[derive(Serialize, Deserialize)]
struct RoleLine {
    #[serde(default)]
    uuid: Option<String>,
    name: String,
    #[serde(default)]
    managed: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct GroupRoleLine {
    group: String,
    role: String,
}

#[derive(Serialize, Deserialize)]
struct UserRoleLine {
    user: i64,
    role: String,
}

#[derive(Serialize, Deserialize)]
struct TokenLine {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uuid: Option<String>,
    identifier: String,
    #[serde(default = "default_intent")]
    intent: String,
    user: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default = "default_true")]
    expiring: bool,
    #[serde(default)]
    managed: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn default_intent() -> String {
    "api".into()
}

/// A stable UUID for an object given without one (derived from its kind and name), so a
/// re-import of the same file matches the same object.
pub(crate) fn derived_uuid(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("gatehouse-import:{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn time_text(micros: Option<i64>) -> Option<String> {
    micros.map(|m| Timestamp(m).to_drf())
}

fn line_of<T: Serialize>(kind: &str, value: &T) -> Result<String, JsonlError> {
    let mut object = match serde_json::to_value(value) {
        Ok(Value::Object(o)) => o,
        _ => Default::default(),
    };
    let mut out = serde_json::Map::new();
    out.insert("kind".into(), Value::from(kind));
    out.append(&mut object);
    serde_json::to_string(&Value::Object(out)).map_err(|e| JsonlError::Line {
        line: 0,
        message: e.to_string(),
    })
}

/// Writes `source` as JSON lines; returns the number of lines.
pub fn write(source: &Source, out: &mut impl Write) -> Result<u64, JsonlError> {
    let mut lines = 0u64;
    let mut emit = |text: String| -> Result<(), JsonlError> {
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        lines += 1;
        Ok(())
    };
    emit(line_of(
        "header",
        &Header {
            format: FORMAT.into(),
            version: VERSION,
            install_id: source.install_id.clone(),
            exported_at: Some(Timestamp::now().to_drf()),
        },
    )?)?;
    for u in &source.users {
        emit(line_of(
            "user",
            &UserLine {
                pk: u.pk,
                uuid: Some(u.uuid.clone()),
                username: u.username.clone(),
                name: u.name.clone(),
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                email: u.email.clone(),
                password_hash: u.password_hash.clone(),
                is_active: u.is_active,
                user_type: u.user_type.clone(),
                path: u.path.clone(),
                attributes: u.attributes.clone(),
                last_login: time_text(u.last_login),
                date_joined: time_text(Some(u.date_joined)),
                password_change_date: time_text(Some(u.password_change_date)),
                last_updated: time_text(Some(u.last_updated)),
            },
        )?)?;
    }
    for g in &source.groups {
        emit(line_of(
            "group",
            &GroupLine {
                uuid: Some(g.uuid.clone()),
                name: g.name.clone(),
                is_superuser: g.is_superuser,
                attributes: g.attributes.clone(),
                parents: g.parents.clone(),
            },
        )?)?;
    }
    for (user, group) in &source.memberships {
        emit(line_of(
            "membership",
            &MembershipLine {
                user: *user,
                group: group.clone(),
            },
        )?)?;
    }
    for r in &source.roles {
        emit(line_of(
            "role",
            &RoleLine {
                uuid: Some(r.uuid.clone()),
                name: r.name.clone(),
                managed: r.managed.clone(),
                permissions: r.permissions.clone(),
            },
        )?)?;
    }
    for (group, role) in &source.group_roles {
        emit(line_of(
            "group_role",
            &GroupRoleLine {
                group: group.clone(),
                role: role.clone(),
            },
        )?)?;
    }
    for (user, role) in &source.user_roles {
        emit(line_of(
            "user_role",
            &UserRoleLine {
                user: *user,
                role: role.clone(),
            },
        )?)?;
    }
    for t in &source.tokens {
        emit(line_of(
            "token",
            &TokenLine {
                id: t.id,
                uuid: Some(t.uuid.clone()),
                identifier: t.identifier.clone(),
                intent: t.intent.clone(),
                user: t.user_pk,
                description: t.description.clone(),
                expires: time_text(t.expires),
                expiring: t.expiring,
                managed: t.managed.clone(),
                created: time_text(t.created),
                key: Some(t.key.clone()).filter(|k| !k.is_empty()),
            },
        )?)?;
    }
    Ok(lines)
}

fn parse_time(line: usize, field: &str, text: Option<&str>) -> Result<Option<i64>, JsonlError> {
    match text {
        None => Ok(None),
        Some(t) => Timestamp::parse(t)
            .map(|ts| Some(ts.0))
            .ok_or_else(|| JsonlError::Line {
                line,
                message: format!("{field} {t:?} is not a date-time"),
            }),
    }
}

fn field<T: serde::de::DeserializeOwned>(line: usize, value: Value) -> Result<T, JsonlError> {
    serde_json::from_value(value).map_err(|e| JsonlError::Line {
        line,
        message: e.to_string(),
    })
}

/// Reads a JSON-lines file into a source. Blank lines are ignored; a line of an unknown
/// `kind` is skipped (and reported); anything else malformed is an error naming the line.
pub fn read(input: impl BufRead, origin: &str) -> Result<Source, JsonlError> {
    let mut source = Source {
        origin: origin.to_string(),
        ..Source::default()
    };
    let now = Timestamp::now().0;
    for (index, text) in input.lines().enumerate() {
        let line = index + 1;
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        let mut value: Value = serde_json::from_str(&text).map_err(|e| JsonlError::Line {
            line,
            message: format!("not JSON: {e}"),
        })?;
        let kind = match value.as_object_mut().and_then(|o| o.remove("kind")) {
            Some(Value::String(kind)) => kind,
            _ => {
                return Err(JsonlError::Line {
                    line,
                    message: "not an object with a \"kind\"".into(),
                })
            }
        };
        match kind.as_str() {
            "header" => {
                let header: Header = field(line, value)?;
                if header.format != FORMAT || header.version != VERSION {
                    return Err(JsonlError::Line {
                        line,
                        message: format!(
                            "format {} version {} (this build reads {FORMAT} version {VERSION})",
                            header.format, header.version
                        ),
                    });
                }
                source.install_id = header.install_id;
            }
            "user" => {
                let u: UserLine = field(line, value)?;
                let date_joined = parse_time(line, "date_joined", u.date_joined.as_deref())?;
                let date_joined = date_joined.unwrap_or(now);
                source.users.push(ImportUser {
                    pk: u.pk,
                    uuid: u.uuid.unwrap_or_else(|| derived_uuid("user", &u.username)),
                    name: u.name,
                    first_name: u.first_name,
                    last_name: u.last_name,
                    email: u.email,
                    password_hash: u.password_hash.filter(|h| !h.is_empty()),
                    is_active: u.is_active,
                    user_type: u.user_type,
                    path: u.path,
                    attributes: u.attributes,
                    last_login: parse_time(line, "last_login", u.last_login.as_deref())?,
                    date_joined,
                    password_change_date: parse_time(
                        line,
                        "password_change_date",
                        u.password_change_date.as_deref(),
                    )?
                    .unwrap_or(date_joined),
                    last_updated: parse_time(line, "last_updated", u.last_updated.as_deref())?
                        .unwrap_or(date_joined),
                    username: u.username,
                });
            }
            "group" => {
                let g: GroupLine = field(line, value)?;
                source.groups.push(ImportGroup {
                    uuid: g.uuid.unwrap_or_else(|| derived_uuid("group", &g.name)),
                    name: g.name,
                    is_superuser: g.is_superuser,
                    attributes: g.attributes,
                    parents: g.parents,
                });
            }
            "membership" => {
                let m: MembershipLine = field(line, value)?;
                source.memberships.push((m.user, m.group));
            }
            "role" => {
                let r: RoleLine = field(line, value)?;
                source.roles.push(ImportRole {
                    uuid: r.uuid.unwrap_or_else(|| derived_uuid("role", &r.name)),
                    name: r.name,
                    managed: r.managed,
                    permissions: r.permissions,
                });
            }
            "group_role" => {
                let gr: GroupRoleLine = field(line, value)?;
                source.group_roles.push((gr.group, gr.role));
            }
            "user_role" => {
                let ur: UserRoleLine = field(line, value)?;
                source.user_roles.push((ur.user, ur.role));
            }
            "token" => {
                let t: TokenLine = field(line, value)?;
                source.tokens.push(ImportToken {
                    id: t.id,
                    uuid: t
                        .uuid
                        .unwrap_or_else(|| derived_uuid("token", &t.identifier)),
                    expires: parse_time(line, "expires", t.expires.as_deref())?,
                    created: parse_time(line, "created", t.created.as_deref())?,
                    identifier: t.identifier,
                    key: t.key.unwrap_or_default(),
                    intent: t.intent,
                    user_pk: t.user,
                    description: t.description,
                    expiring: t.expiring,
                    managed: t.managed,
                });
            }
            other => source.skipped.push(Skip::new(
                "line",
                format!("line {line}"),
                format!("unknown kind {other:?}"),
            )),
        }
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_lines_read_with_defaults_and_stable_uuids() {
        let text = "{\"kind\":\"user\",\"pk\":7,\"username\":\"ann\"}\n\n\
                    {\"kind\":\"group\",\"name\":\"ops\"}\n\
                    {\"kind\":\"membership\",\"user\":7,\"group\":\"x\"}\n\
                    {\"kind\":\"widget\"}\n";
        let a = read(text.as_bytes(), "test").expect("reads");
        let b = read(text.as_bytes(), "test").expect("reads");
        assert_eq!(a.users.len(), 1);
        assert_eq!(a.users[0].uuid, b.users[0].uuid);
        assert!(uuid::Uuid::parse_str(&a.users[0].uuid).is_ok());
        assert_eq!(a.users[0].path, "users");
        assert!(a.users[0].is_active);
        assert_eq!(a.groups[0].uuid, b.groups[0].uuid);
        assert_eq!(a.memberships, vec![(7, "x".to_string())]);
        assert_eq!(a.skipped.len(), 1);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        let err = read("{\"kind\":\"user\"}\n".as_bytes(), "test").expect_err("fails");
        assert!(err.to_string().starts_with("line 1:"), "{err}");
        let err = read("\n[1]\n".as_bytes(), "test").expect_err("fails");
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        let err = read(
            "{\"kind\":\"header\",\"format\":\"other\",\"version\":1}".as_bytes(),
            "test",
        )
        .expect_err("fails");
        assert!(err.to_string().contains("format other"), "{err}");
    }

    #[test]
    fn written_sources_read_back() {
        let mut source = Source {
            install_id: Some("i".into()),
            ..Source::default()
        };
        source.users.push(ImportUser {
            pk: 3,
            uuid: derived_uuid("user", "a"),
            username: "a".into(),
            name: "A".into(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            password_hash: Some("$argon2id$x".into()),
            is_active: false,
            user_type: "service_account".into(),
            path: "p".into(),
            attributes: serde_json::json!({"k": [1]}),
            last_login: Some(1_700_000_000_123_456),
            date_joined: 1_600_000_000_000_000,
            password_change_date: 1_600_000_000_000_001,
            last_updated: 1_600_000_000_000_002,
        });
        let mut out = Vec::new();
        assert_eq!(write(&source, &mut out).expect("writes"), 2);
        let back = read(out.as_slice(), "test").expect("reads");
        assert_eq!(back.install_id.as_deref(), Some("i"));
        let (a, b) = (&source.users[0], &back.users[0]);
        assert_eq!(
            (a.pk, &a.uuid, &a.password_hash, a.is_active, &a.attributes),
            (b.pk, &b.uuid, &b.password_hash, b.is_active, &b.attributes)
        );
        assert_eq!(
            (
                a.last_login,
                a.date_joined,
                a.password_change_date,
                a.last_updated
            ),
            (
                b.last_login,
                b.date_joined,
                b.password_change_date,
                b.last_updated
            )
        );
    }
}
