//! What can go wrong in the directory, named by outcome. Each dialect renders these in its own
//! error shape in exactly one place (`api::error`).

use crate::store::StoreError;

/// One validation failure: DRF's error code (`required`, `blank`, `unique`, `invalid`, …) and
/// its message. Dialects may reword by code (AWX's uniqueness message differs).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// DRF's error code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

/// Field name → failures, in the order the fields were checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(pub Vec<(String, Vec<FieldError>)>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    /// Adds a failure with code `invalid`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.add_code(field, "invalid", message);
    }

    /// Adds a failure with an explicit DRF code.
    pub fn add_code(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        let error = FieldError {
            code,
            message: message.into(),
        };
        if let Some((_, errors)) = self.0.iter_mut().find(|(f, _)| f == field) {
            errors.push(error);
        } else {
            self.0.push((field.to_string(), vec![error]));
        }
    }

    /// Whether a field already has an error (later checks of it are skipped, as in DRF).
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Puts fields in declaration order (unknown names last, in their current order).
    pub fn sort_by_order(&mut self, order: &[&str]) {
        self.0
            .sort_by_key(|(f, _)| order.iter().position(|o| o == f).unwrap_or(order.len()));
    }

    /// `Ok(())` when empty, else the errors as a `DomainError`.
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self))
        }
    }

    /// A single-field error.
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }
}

/// The kinds of object the directory holds, for "not found" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// A token.
    Token,
    /// A role.
    Role,
    /// A permission.
    Permission,
    /// An audit event.
    Event,
}

impl ObjectKind {
    /// Django's model name.
    pub fn model_name(self) -> &'static str {
        match self {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
            ObjectKind::Token => "Token",
            ObjectKind::Role => "Role",
            ObjectKind::Permission => "Permission",
            ObjectKind::Event => "Event",
        }
    }
}

/// Outcomes other than success.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The request carried no usable credentials.
    #[error("authentication credentials were not provided")]
    Unauthenticated,
    /// The credentials were presented but are unknown, expired or belong to an inactive user.
    #[error("invalid or expired credentials")]
    InvalidCredentials,
    /// The caller is known but may not do this.
    #[error("permission denied")]
    Forbidden,
    /// The addressed object does not exist (or is invisible to the caller).
    #[error("{} not found", .0.model_name())]
    NotFound(ObjectKind),
    /// The input broke validation rules.
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// A value that must be unique is taken (a race the checks could not see); holds
    /// `table.column`.
    #[error("{0} already taken")]
    Conflict(String),
    /// The database cannot be reached right now.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or a broken invariant; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unique(target) => DomainError::Conflict(target),
            StoreError::Unavailable(msg) => DomainError::Unavailable(msg),
            StoreError::Config(msg) | StoreError::Other(msg) => DomainError::Internal(msg),
        }
    }
}
