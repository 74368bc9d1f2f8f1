//! What a group query can name: the fields and relations a group filter tests and the keys
//! a list of groups sorts by.

use super::filter::Filter;

/// Filterable group fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    /// Internal id.
    Id,
    /// UUID.
    Uuid,
    /// Name.
    Name,
    /// Superuser flag.
    IsSuperuser,
    /// Attributes (JSON).
    Attributes,
}

/// Relations a group filter can test.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRel {
    /// Has a direct member with one of these ids.
    MemberIds(Vec<i64>),
    /// Has a direct member with one of these usernames.
    MemberUsernames(Vec<String>),
    /// Is one of these groups.
    Ids(Vec<i64>),
    /// Has a direct member with one of these uuids.
    MemberUuids(Vec<String>),
    /// Holds this externalId for this SCIM client (its user id).
    ScimExternalId {
        /// The SCIM client's user id.
        client: i64,
        /// The externalId (case-exact).
        value: String,
    },
}

/// A filter over groups.
pub type GroupFilter = Filter<GroupField, GroupRel>;

/// Sort keys for groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSort {
    /// A column.
    Field(GroupField),
    /// Smallest parent uuid.
    Parents,
    /// Smallest child uuid.
    Children,
    /// Smallest member id.
    Users,
    /// Smallest role uuid.
    Roles,
}
