//! The user as the dialects see it: `User`, its `UserType`, the group and role summaries it
//! carries, and `UserChanges`, what a write asks for.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::Timestamp;

/// The kinds of account authentik distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserType {
    /// A person managed here.
    Internal,
    /// A person from an external source.
    External,
    /// A machine account created by an operator.
    ServiceAccount,
    /// A machine account managed by the system itself.
    InternalServiceAccount,
}

impl UserType {
    /// Every type, in authentik's order.
    pub const ALL: [UserType; 4] = [
        UserType::Internal,
        UserType::External,
        UserType::ServiceAccount,
        UserType::InternalServiceAccount,
    ];

    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Internal => "internal",
            UserType::External => "external",
            UserType::ServiceAccount => "service_account",
            UserType::InternalServiceAccount => "internal_service_account",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<UserType> {
        UserType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a user's `groups_obj` shows of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    /// Group uuid.
    pub uuid: String,
    /// Group name.
    pub name: String,
    /// Superuser flag of the group itself.
    pub is_superuser: bool,
    /// Group attributes.
    pub attributes: Value,
}

impl GroupSummary {
    /// authentik's `num_pk`: the first five decimal digits of the UUID's 128-bit value.
    pub fn num_pk(&self) -> i64 {
        num_pk(&self.uuid)
    }
}

/// authentik's `num_pk` of a group uuid.
pub fn num_pk(uuid: &str) -> i64 {
    let digits = uuid::Uuid::parse_str(uuid)
        .map(|u| u.as_u128().to_string())
        .unwrap_or_default();
    digits
        .get(..5.min(digits.len()))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// What a user's `roles_obj` shows of a role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSummary {
    /// Role uuid.
    pub uuid: String,
    /// Role name.
    pub name: String,
}

/// A user with everything derived that the dialects show.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Integer id (`pk` / `id`).
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// AWX first name.
    pub first_name: String,
    /// AWX last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Whether a usable password is set.
    pub has_password: bool,
    /// Active flag.
    pub is_active: bool,
    /// Account type.
    pub user_type: UserType,
    /// Directory path.
    pub path: String,
    /// Free-form JSON object.
    pub attributes: Value,
    /// Last login.
    pub last_login: Option<Timestamp>,
    /// Creation time.
    pub date_joined: Timestamp,
    /// Last password change.
    pub password_change_date: Timestamp,
    /// Last modification.
    pub last_updated: Timestamp,
    /// Superuser through a group or its ancestors.
    pub is_superuser: bool,
    /// Holds the built-in system auditor role (AWX's `is_system_auditor`).
    pub is_system_auditor: bool,
    /// Direct groups, by name.
    pub groups: Vec<GroupSummary>,
    /// Direct roles, by name.
    pub roles: Vec<RoleSummary>,
    /// The initials avatar data URI, rendered the first time it is asked for (`avatar`).
    pub avatar_uri: AvatarUri,
}

/// A user's initials avatar as a data URI, made from its name and username the first time a
/// door shows it and then kept with the user. LDAP never shows it: making it with every loaded
/// user was ~10k instructions (an SVG, base64) of an uncached LDAP lookup's ~195k, and ~0.6 KiB
/// of every cached user.
#[derive(Debug, Clone, Default)]
pub struct AvatarUri(std::sync::OnceLock<String>);

/// Made from fields compared beside it: equal users have equal avatars, made or not yet.
impl PartialEq for AvatarUri {
    fn eq(&self, _: &AvatarUri) -> bool {
        true
    }
}

/// authentik's `uid` of a user id: hex sha256 of `"<id>-<install id>"`.
pub fn uid_of(id: i64, install_id: &str) -> String {
    hex::encode(Sha256::digest(format!("{id}-{install_id}").as_bytes()))
}

impl User {
    /// authentik's `uid` of this user.
    pub fn uid(&self, install_id: &str) -> String {
        uid_of(self.id, install_id)
    }

    /// The initials avatar data URI.
    pub fn avatar(&self) -> &str {
        self.avatar_uri
            .0
            .get_or_init(|| crate::domain::avatar::initials_data_uri(&self.name, &self.username))
    }
}

// What a user query can name lives below the domain, where the store can see it.
pub use crate::query::users::{UserField, UserFilter, UserRel, UserSort};

/// Requested changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChanges {
    /// Username (already trimmed).
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// AWX first name.
    pub first_name: Option<String>,
    /// AWX last name.
    pub last_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Active flag.
    pub is_active: Option<bool>,
    /// Last login (inner `None` clears it).
    pub last_login: Option<Option<Timestamp>>,
    /// Direct groups by uuid (replaces the set).
    pub groups: Option<Vec<String>>,
    /// Direct roles by uuid (replaces the set).
    pub roles: Option<Vec<String>>,
    /// Attributes object (replaces it).
    pub attributes: Option<Map<String, Value>>,
    /// Path.
    pub path: Option<String>,
    /// Account type.
    pub user_type: Option<UserType>,
    /// New plain-text password (inner `None` makes it unusable).
    pub password: Option<Option<String>>,
    /// AWX's `is_superuser`: direct membership of the superuser group.
    pub superuser: Option<bool>,
    /// AWX's `is_system_auditor`: the built-in auditor role.
    pub system_auditor: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_pk_matches_samples() {
        assert_eq!(num_pk("7f193d74-aedd-4850-865d-14793f8ddc14"), 16894);
        assert_eq!(num_pk("9bca0260-b528-4474-89cf-43402ab1e7dc"), 20707);
    }
}
