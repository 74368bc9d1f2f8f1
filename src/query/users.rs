//! What a user query can name: the fields and relations a user filter tests and the keys
//! a list of users sorts by.

use super::filter::Filter;

/// Filterable user fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// Integer id.
    Id,
    /// UUID.
    Uuid,
    /// Username.
    Username,
    /// Display name.
    Name,
    /// AWX first name.
    FirstName,
    /// AWX last name.
    LastName,
    /// E-mail.
    Email,
    /// Active flag.
    IsActive,
    /// Account type.
    Type,
    /// Path.
    Path,
    /// Attributes (JSON).
    Attributes,
    /// Last login.
    LastLogin,
    /// Creation time.
    DateJoined,
    /// Last password change.
    PasswordChangeDate,
    /// Last modification.
    LastUpdated,
}

/// Relations a user filter can test.
#[derive(Debug, Clone, PartialEq)]
pub enum UserRel {
    /// Direct member of a group with one of these names.
    GroupNames(Vec<String>),
    /// Direct member of a group with one of these uuids.
    GroupUuids(Vec<String>),
    /// Holds a role with one of these names.
    RoleNames(Vec<String>),
    /// Holds a role with one of these uuids.
    RoleUuids(Vec<String>),
    /// Case-insensitive (Unicode) substring of username, name, email or uuid.
    SearchTerm(String),
    /// Direct member of a superuser group (authentik's `is_superuser` filter).
    DirectSuperuser(bool),
    /// Superuser through any group or ancestor.
    EffectiveSuperuser(bool),
    /// Username equal under ASCII case folding (SCIM's `userName eq`), through the unique
    /// `LOWER(username)` index.
    UsernameFolded(String),
    /// Username equal to one of these under ASCII case folding (lookups read together): one
    /// scan of the same index.
    UsernamesFolded(Vec<String>),
    /// Username starting with this text under ASCII case folding (SCIM's `userName sw`): a range
    /// of the same index.
    UsernameFoldedPrefix(String),
    /// Holds this externalId for this SCIM client (its user id).
    ScimExternalId {
        /// The SCIM client's user id.
        client: i64,
        /// The externalId (case-exact).
        value: String,
    },
}

/// A filter over users.
pub type UserFilter = Filter<UserField, UserRel>;

/// Sort keys for users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// A column.
    Field(UserField),
    /// The smallest direct group uuid.
    Groups,
    /// The smallest direct role uuid.
    Roles,
    /// Effective superuser status.
    IsSuperuser,
}
