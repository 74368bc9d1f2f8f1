//! What a role query can name: the fields and relations a role filter tests and the keys
//! a list of roles sorts by.

use super::filter::Filter;

/// Filterable role fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleField {
    /// Internal id.
    Id,
    /// UUID.
    Uuid,
    /// Name.
    Name,
    /// Managed marker.
    Managed,
}

/// Relations a role filter can test.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleRel {
    /// Held by the user directly (or, `inherited`, through its groups and their ancestors).
    HeldByUser {
        /// The user.
        user_id: i64,
        /// Include roles of the user's groups and ancestors.
        inherited: bool,
    },
    /// Held by the group (or, `inherited`, by it or an ancestor).
    HeldByGroup {
        /// The group's uuid.
        group_uuid: String,
        /// Include ancestors' roles.
        inherited: bool,
    },
    /// One of these roles.
    Uuids(Vec<String>),
}

/// A filter over roles.
pub type RoleFilter = Filter<RoleField, RoleRel>;

/// Sort keys for roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSort {
    /// A column.
    Field(RoleField),
}
