//! The administration commands (`gatehouse users|tokens|groups …`): a front door like the HTTP
//! dialects, on the same binary and configuration. Each command parses its arguments, calls one
//! domain operation (the same validation, the same audit event in the same transaction) and
//! prints the answer as text or, with `--json`, as JSON on stdout.
//!
//! Who acts: the operator who can run this command can read the database and the secret key,
//! so no permission check applies (as with Django's `manage.py`). Changes are recorded as the
//! system actor [`crate::domain::audit::COMMAND_LINE_ACTOR`] with the operating-system account in the event's
//! user agent; tokens are made under their owner's own token rules (as if the owner made
//! them).
//!
//! Exit codes scripts can rely on: [`EXIT_OK`], [`EXIT_FAILURE`], [`EXIT_USAGE`],
//! [`EXIT_NOT_FOUND`], [`EXIT_INVALID`], [`EXIT_CONFLICT`].

pub mod groups;
pub mod password;
pub mod render;
pub mod tokens;
pub mod users;

use std::process::ExitCode;

use serde_json::{json, Map, Value};

use crate::app;
use crate::config::Config;
use crate::domain::audit::AuditContext;
use crate::domain::error::ObjectKind;
use crate::domain::{Directory, DomainError, FieldErrors};

/// Done.
pub const EXIT_OK: u8 = 0;
/// Anything else: the database cannot be opened or answered, an internal error.
pub const EXIT_FAILURE: u8 = 1;
/// The command line is wrong (clap's own code for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// The named user, group or token does not exist.
pub const EXIT_NOT_FOUND: u8 = 3;
/// The input breaks a rule (an invalid username, a blank password, …).
pub const EXIT_INVALID: u8 = 4;
/// A value that must be unique is taken (a username, a token identifier).
pub const EXIT_CONFLICT: u8 = 5;

/// Why a command failed, by outcome (each with its exit code).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The command line cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input broke validation rules: field → messages.
    #[error("{}", fields_text(.0))]
    Invalid(Vec<(String, Vec<String>)>),
    /// A unique value is taken: field → messages.
    #[error("{}", fields_text(.0))]
    Conflict(Vec<(String, Vec<String>)>),
    /// The database could not be opened or answered, or a bug.
    #[error("{0}")]
    Failed(String),
}

fn fields_text(fields: &[(String, Vec<String>)]) -> String {
    fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AdminError {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::Usage(_) => EXIT_USAGE,
            AdminError::NotFound(_) => EXIT_NOT_FOUND,
            AdminError::Invalid(_) => EXIT_INVALID,
            AdminError::Conflict(_) => EXIT_CONFLICT,
            AdminError::Failed(_) => EXIT_FAILURE,
        }
    }

    /// The short name scripts read in `--json` errors.
    pub fn kind(&self) -> &'static str {
        match self {
            AdminError::Usage(_) => "usage",
            AdminError::NotFound(_) => "not_found",
            AdminError::Invalid(_) => "invalid",
            AdminError::Conflict(_) => "conflict",
            AdminError::Failed(_) => "failed",
        }
    }

    /// A single-field validation failure.
    pub fn invalid(field: &str, message: impl Into<String>) -> AdminError {
        AdminError::Invalid(vec![(field.to_string(), vec![message.into()])])
    }

    fn as_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("error".into(), json!(self.kind()));
        error.insert("message".into(), json!(self.to_string()));
        if let AdminError::Invalid(fields) | AdminError::Conflict(fields) = self {
            let fields: Map<String, Value> =
                fields.iter().map(|(f, m)| (f.clone(), json!(m))).collect();
            error.insert("fields".into(), Value::Object(fields));
        }
        Value::Object(error)
    }
}

fn not_found(kind: ObjectKind) -> String {
    match kind {
        ObjectKind::User => "no such user".into(),
        ObjectKind::Group => "no such group".into(),
        ObjectKind::Token => "no such token".into(),
        other => format!("no such {}", other.model_name().to_lowercase()),
    }
}

impl From<DomainError> for AdminError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(kind) => AdminError::NotFound(not_found(kind)),
            DomainError::Invalid(errors) => field_errors(errors),
            DomainError::Conflict(target) => {
                let field = target.rsplit('.').next().unwrap_or(&target).to_string();
                AdminError::Conflict(vec![(field, vec!["This value is already taken.".into()])])
            }
            DomainError::Forbidden => AdminError::invalid(
                "non_field_errors",
                "The directory's rules do not allow this.",
            ),
            DomainError::Unauthenticated | DomainError::InvalidCredentials => {
                AdminError::Failed("not authenticated".into())
            }
            DomainError::Unavailable(m) => AdminError::Failed(format!("database unavailable: {m}")),
            DomainError::Internal(m) => AdminError::Failed(format!("internal error: {m}")),
        }
    }
}

/// Validation failures; a conflict when every failure is a taken unique value.
fn field_errors(errors: FieldErrors) -> AdminError {
    let all_unique = !errors.0.is_empty()
        && errors
            .0
            .iter()
            .all(|(_, list)| list.iter().all(|e| e.code == "unique"));
    let fields = errors
        .0
        .into_iter()
        .map(|(field, list)| (field, list.into_iter().map(|e| e.message).collect()))
        .collect();
    if all_unique {
        AdminError::Conflict(fields)
    } else {
        AdminError::Invalid(fields)
    }
}

/// The flags every administration command takes.
#[derive(clap::Args, Clone, Debug)]
pub struct AdminFlags {
    #[command(flatten)]
    /// Configuration, database, …
    pub common: crate::cli::flags::Common,
    /// Print the answer (and any error, on stderr) as JSON.
    #[arg(long)]
    pub json: bool,
}

impl AdminFlags {
    /// Loads the configuration and opens the directory for `command`.
    pub async fn open(&self, command: &str) -> Result<Admin, AdminError> {
        let config =
            Config::load(&self.common.flags()).map_err(|e| AdminError::Failed(e.to_string()))?;
        Admin::open(config, command, self.json).await
    }
}

/// An opened directory and how to record and print what a command does.
pub struct Admin {
    /// The directory's reads (and its store, for writes).
    pub directory: Directory,
    /// The database, opened and migrated, and the sealer of token keys.
    pub opened: app::Opened,
    /// The configuration it runs with.
    pub config: Config,
    /// Print JSON instead of text.
    pub json: bool,
    command: String,
}

impl Admin {
    /// Opens the configured directory for `command` (e.g. `gatehouse users create`).
    pub async fn open(config: Config, command: &str, json: bool) -> Result<Admin, AdminError> {
        let opened = app::open(&config)
            .await
            .map_err(|e| AdminError::Failed(e.to_string()))?;
        Ok(Admin {
            directory: Directory::new(opened.store.clone(), config.cache_users),
            opened,
            config,
            json,
            command: command.to_string(),
        })
    }

    /// The audit context of this command's changes.
    pub fn audit(&self) -> AuditContext {
        let mut ctx = AuditContext::command_line(&self.command, &operator());
        ctx.retention_seconds = self.config.event_retention_seconds;
        ctx
    }

    /// Closes the database.
    pub async fn close(self) {
        self.opened.store.close().await;
    }
}

/// Who runs this command, as the operating system says (for the audit event).
pub fn operator() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|n| !n.is_empty());
    let uid = process_uid();
    match (name, uid) {
        (Some(name), Some(uid)) => format!("os user {name}, uid {uid}"),
        (Some(name), None) => format!("os user {name}"),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "os user unknown".into(),
    }
}

#[cfg(unix)]
fn process_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn process_uid() -> Option<u32> {
    None
}

/// Runs a command's future and turns its outcome into the exit code, printing the error on
/// stderr (as JSON with `json`).
pub async fn finish<F>(json: bool, command: &str, run: F) -> ExitCode
where
    F: std::future::Future<Output = Result<(), AdminError>>,
{
    match run.await {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            if json {
                eprintln!("{}", e.as_json());
            } else {
                eprintln!("{command}: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints a JSON value on stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::FieldError;

    #[test]
    fn taken_values_are_conflicts_and_other_failures_invalid() {
        let mut unique = FieldErrors::new();
        unique.add_code("username", "unique", "This field must be unique.");
        let e = AdminError::from(DomainError::Invalid(unique));
        assert_eq!(e.exit_code(), EXIT_CONFLICT);
        let mut mixed = FieldErrors::new();
        mixed.add_code("username", "unique", "taken");
        mixed.0.push((
            "email".into(),
            vec![FieldError {
                code: "invalid",
                message: "Enter a valid email address.".into(),
            }],
        ));
        let e = AdminError::from(DomainError::Invalid(mixed));
        assert_eq!(e.exit_code(), EXIT_INVALID);
        assert!(e.to_string().contains("email: Enter a valid"), "{e}");
        let e = AdminError::from(DomainError::NotFound(ObjectKind::Token));
        assert_eq!(
            (e.exit_code(), e.to_string()),
            (EXIT_NOT_FOUND, "no such token".into())
        );
        assert_eq!(
            AdminError::from(DomainError::Unavailable("x".into())).exit_code(),
            EXIT_FAILURE
        );
    }

    #[test]
    fn json_errors_name_their_kind_and_fields() {
        let e = AdminError::invalid("password", "This field may not be blank.");
        let v = e.as_json();
        assert_eq!(v["error"], "invalid");
        assert_eq!(v["fields"]["password"][0], "This field may not be blank.");
    }
}
