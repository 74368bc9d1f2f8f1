//! gatehouse's JSON-lines directory format (docs/export-format.md): a `header` line, then one
//! object per user, group, membership, role, group role, user role and token, each naming its
//! `kind`. Written by `gatehouse export`, read by `gatehouse import FILE.jsonl`.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::import::{
    Exported, ImportGroup, ImportRole, ImportSource, ImportToken, ImportUser, Skip, Source,
};
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

/// A line as written: its `kind` first, then the fields (borrowed from the exported piece).
#[derive(Serialize)]
struct Out<'a, T: Serialize> {
    kind: &'a str,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct UserOut<'a> {
    pk: i64,
    uuid: &'a str,
    username: &'a str,
    name: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    password_hash: Option<&'a str>,
    is_active: bool,
    #[serde(rename = "type")]
    user_type: &'a str,
    path: &'a str,
    attributes: &'a Value,
    last_login: Option<String>,
    date_joined: Option<String>,
    password_change_date: Option<String>,
    last_updated: Option<String>,
}

#[derive(Serialize)]
struct GroupOut<'a> {
    uuid: &'a str,
    name: &'a str,
    is_superuser: bool,
    attributes: &'a Value,
    parents: &'a [String],
}

#[derive(Serialize)]
struct RoleOut<'a> {
    uuid: &'a str,
    name: &'a str,
    managed: Option<&'a str>,
    permissions: &'a [String],
}

#[derive(Serialize)]
struct TokenOut<'a> {
    id: Option<i64>,
    uuid: &'a str,
    identifier: &'a str,
    intent: &'a str,
    user: i64,
    description: &'a str,
    expires: Option<String>,
    expiring: bool,
    managed: Option<&'a str>,
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

fn emit<T: Serialize>(out: &mut impl Write, kind: &str, body: T) -> Result<(), JsonlError> {
    serde_json::to_writer(&mut *out, &Out { kind, body }).map_err(|e| {
        if e.is_io() {
            JsonlError::Io(e.into())
        } else {
            JsonlError::Line {
                line: 0,
                message: e.to_string(),
            }
        }
    })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes one exported piece as one line.
pub fn write_line(out: &mut impl Write, piece: Exported<'_>) -> Result<(), JsonlError> {
    match piece {
        Exported::Header(install_id) => emit(
            out,
            "header",
            Header {
                format: FORMAT.into(),
                version: VERSION,
                install_id: install_id.map(str::to_string),
                exported_at: Some(Timestamp::now().to_drf()),
            },
        ),
        Exported::User(u) => emit(
            out,
            "user",
            UserOut {
                pk: u.pk,
                uuid: &u.uuid,
                username: &u.username,
                name: &u.name,
                first_name: &u.first_name,
                last_name: &u.last_name,
                email: &u.email,
                password_hash: u.password_hash.as_deref(),
                is_active: u.is_active,
                user_type: &u.user_type,
                path: &u.path,
                attributes: &u.attributes,
                last_login: time_text(u.last_login),
                date_joined: time_text(Some(u.date_joined)),
                password_change_date: time_text(Some(u.password_change_date)),
                last_updated: time_text(Some(u.last_updated)),
            },
        ),
        Exported::Group(g) => emit(
            out,
            "group",
            GroupOut {
                uuid: &g.uuid,
                name: &g.name,
                is_superuser: g.is_superuser,
                attributes: &g.attributes,
                parents: &g.parents,
            },
        ),
        Exported::Membership(user, group) => emit(out, "membership", MembershipOut { user, group }),
        Exported::Role(r) => emit(
            out,
            "role",
            RoleOut {
                uuid: &r.uuid,
                name: &r.name,
                managed: r.managed.as_deref(),
                permissions: &r.permissions,
            },
        ),
        Exported::GroupRole(group, role) => emit(out, "group_role", GroupRoleOut { group, role }),
        Exported::UserRole(user, role) => emit(out, "user_role", UserRoleOut { user, role }),
        Exported::Token(t) => emit(
            out,
            "token",
            TokenOut {
                id: t.id,
                uuid: &t.uuid,
                identifier: &t.identifier,
                intent: &t.intent,
                user: t.user_pk,
                description: &t.description,
                expires: time_text(t.expires),
                expiring: t.expiring,
                managed: t.managed.as_deref(),
                created: time_text(t.created),
                key: Some(t.key.as_str()).filter(|k| !k.is_empty()),
            },
        ),
    }
}

#[derive(Serialize)]
struct MembershipOut<'a> {
    user: i64,
    group: &'a str,
}

#[derive(Serialize)]
struct GroupRoleOut<'a> {
    group: &'a str,
    role: &'a str,
}

#[derive(Serialize)]
struct UserRoleOut<'a> {
    user: i64,
    role: &'a str,
}

/// Writes a whole in-memory source as JSON lines (header first); returns the number of lines.
pub fn write(source: &Source, out: &mut impl Write) -> Result<u64, JsonlError> {
    let mut lines = 1u64;
    write_line(out, Exported::Header(source.install_id.as_deref()))?;
    let pieces = source
        .users
        .iter()
        .map(Exported::User)
        .chain(source.groups.iter().map(Exported::Group))
        .chain(
            source
                .memberships
                .iter()
                .map(|(u, g)| Exported::Membership(*u, g)),
        )
        .chain(source.roles.iter().map(Exported::Role))
        .chain(
            source
                .group_roles
                .iter()
                .map(|(g, r)| Exported::GroupRole(g, r)),
        )
        .chain(
            source
                .user_roles
                .iter()
                .map(|(u, r)| Exported::UserRole(*u, r)),
        )
        .chain(source.tokens.iter().map(Exported::Token));
    for piece in pieces {
        write_line(out, piece)?;
        lines += 1;
    }
    Ok(lines)
}

fn parse_time(line: usize, field: &str, text: Option<&str>) -> Result<Option<i64>, JsonlError> {
    match text {
        None => Ok(None),
        // What `export` writes is RFC 3339, read directly; anything else the general parser
        // takes (a regular expression: a tenth of an import's time when every date took it).
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.timestamp_micros())
            .or_else(|| Timestamp::parse(t).map(|ts| ts.0))
            .map(Some)
            .ok_or_else(|| JsonlError::Line {
                line,
                message: format!("{field} {t:?} is not a date-time"),
            }),
    }
}

/// One line, read.
enum Parsed {
    Header(Option<String>),
    User(ImportUser),
    Group(ImportGroup),
    Membership(i64, String),
    Role(ImportRole),
    GroupRole(String, String),
    UserRole(i64, String),
    Token(ImportToken),
    Unknown(String),
}

/// Just the `kind` of a line (the other fields are passed over without being kept).
#[derive(Deserialize)]
struct KindOnly<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
}

fn fields<'a, T: Deserialize<'a>>(line: usize, text: &'a str) -> Result<T, JsonlError> {
    serde_json::from_str(text).map_err(|e| JsonlError::Line {
        line,
        message: e.to_string(),
    })
}

/// Why a line that is not an object with a string `kind` is wrong, worded as before.
fn not_a_line(line: usize, text: &str) -> JsonlError {
    match serde_json::from_str::<Value>(text) {
        Err(e) => JsonlError::Line {
            line,
            message: format!("not JSON: {e}"),
        },
        Ok(_) => JsonlError::Line {
            line,
            message: "not an object with a \"kind\"".into(),
        },
    }
}

/// Reads one line (`None` for a blank one). Only a user line is decoded when `users_only`.
fn parse_line(
    line: usize,
    text: &str,
    now: i64,
    users_only: bool,
) -> Result<Option<Parsed>, JsonlError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let kind = match serde_json::from_str::<KindOnly>(text) {
        Ok(k) if text.trim_start().starts_with('{') => k.kind,
        _ => return Err(not_a_line(line, text)),
    };
    if users_only && kind != "user" {
        return Ok(None);
    }
    Ok(Some(match kind.as_ref() {
        "header" => {
            let header: Header = fields(line, text)?;
            if header.format != FORMAT || header.version != VERSION {
                return Err(JsonlError::Line {
                    line,
                    message: format!(
                        "format {} version {} (this build reads {FORMAT} version {VERSION})",
                        header.format, header.version
                    ),
                });
            }
            Parsed::Header(header.install_id)
        }
        "user" => {
            let u: UserLine = fields(line, text)?;
            let date_joined = parse_time(line, "date_joined", u.date_joined.as_deref())?;
            let date_joined = date_joined.unwrap_or(now);
            Parsed::User(ImportUser {
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
            })
        }
        "group" => {
            let g: GroupLine = fields(line, text)?;
            Parsed::Group(ImportGroup {
                uuid: g.uuid.unwrap_or_else(|| derived_uuid("group", &g.name)),
                name: g.name,
                is_superuser: g.is_superuser,
                attributes: g.attributes,
                parents: g.parents,
            })
        }
        "membership" => {
            let m: MembershipLine = fields(line, text)?;
            Parsed::Membership(m.user, m.group)
        }
        "role" => {
            let r: RoleLine = fields(line, text)?;
            Parsed::Role(ImportRole {
                uuid: r.uuid.unwrap_or_else(|| derived_uuid("role", &r.name)),
                name: r.name,
                managed: r.managed,
                permissions: r.permissions,
            })
        }
        "group_role" => {
            let gr: GroupRoleLine = fields(line, text)?;
            Parsed::GroupRole(gr.group, gr.role)
        }
        "user_role" => {
            let ur: UserRoleLine = fields(line, text)?;
            Parsed::UserRole(ur.user, ur.role)
        }
        "token" => {
            let t: TokenLine = fields(line, text)?;
            Parsed::Token(ImportToken {
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
            })
        }
        other => Parsed::Unknown(other.to_string()),
    }))
}

/// Adds a line that is not a user to `source`.
fn keep(source: &mut Source, line: usize, parsed: Parsed) {
    match parsed {
        Parsed::Header(install_id) => source.install_id = install_id,
        Parsed::User(user) => source.users.push(user),
        Parsed::Group(group) => source.groups.push(group),
        Parsed::Membership(user, group) => source.memberships.push((user, group)),
        Parsed::Role(role) => source.roles.push(role),
        Parsed::GroupRole(group, role) => source.group_roles.push((group, role)),
        Parsed::UserRole(user, role) => source.user_roles.push((user, role)),
        Parsed::Token(token) => source.tokens.push(token),
        Parsed::Unknown(kind) => source.skipped.push(Skip::new(
            "line",
            format!("line {line}"),
            format!("unknown kind {kind:?}"),
        )),
    }
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
        if let Some(parsed) = parse_line(line, &text, now, false)? {
            keep(&mut source, line, parsed);
        }
    }
    Ok(source)
}

/// A JSON-lines file as an import source: read through once whole (every line checked,
/// everything but the users kept), then again for the users, batch by batch, so the users are
/// never all in memory.
pub struct JsonlFile {
    path: std::path::PathBuf,
    origin: String,
    /// "Now" for lines without a date, the same on every pass.
    now: i64,
    /// The open file and the number of the last line read, while users are handed out.
    users: Option<(std::io::BufReader<std::fs::File>, usize)>,
    text: String,
}

impl JsonlFile {
    /// A source reading `path` (opened when read).
    pub fn new(path: &std::path::Path, origin: &str) -> JsonlFile {
        JsonlFile {
            path: path.to_path_buf(),
            origin: origin.to_string(),
            now: Timestamp::now().0,
            users: None,
            text: String::new(),
        }
    }

    fn open(&self) -> Result<std::io::BufReader<std::fs::File>, JsonlError> {
        Ok(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(&self.path)?,
        ))
    }
}

impl ImportSource for JsonlFile {
    type Error = JsonlError;

    fn read(&mut self, survey: &mut dyn FnMut(&ImportUser)) -> Result<Source, JsonlError> {
        let mut source = Source {
            origin: self.origin.clone(),
            ..Source::default()
        };
        let mut input = self.open()?;
        let mut line = 0;
        loop {
            self.text.clear();
            if input.read_line(&mut self.text)? == 0 {
                break;
            }
            line += 1;
            match parse_line(line, &self.text, self.now, false)? {
                Some(Parsed::User(user)) => survey(&user),
                Some(parsed) => keep(&mut source, line, parsed),
                None => {}
            }
        }
        Ok(source)
    }

    fn rewind_users(&mut self) -> Result<(), JsonlError> {
        self.users = Some((self.open()?, 0));
        Ok(())
    }

    fn next_users(&mut self, max: usize) -> Result<Vec<ImportUser>, JsonlError> {
        let Some((input, line)) = self.users.as_mut() else {
            return Ok(Vec::new());
        };
        let mut batch = Vec::with_capacity(max.min(1 << 16));
        while batch.len() < max {
            self.text.clear();
            if input.read_line(&mut self.text)? == 0 {
                break;
            }
            *line += 1;
            if let Some(Parsed::User(user)) = parse_line(*line, &self.text, self.now, true)? {
                batch.push(user);
            }
        }
        Ok(batch)
    }
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
    fn exported_times_read_as_the_general_parser_reads_them() {
        for text in [
            "2026-12-05T08:55:35.202807Z",
            "2026-12-05T08:55:35Z",
            "2026-12-05T10:55:35.2+02:00",
            "1969-12-31T23:59:59.5Z",
        ] {
            assert_eq!(
                parse_time(1, "t", Some(text)).expect("parses"),
                Timestamp::parse(text).map(|t| t.0),
                "{text}"
            );
        }
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
