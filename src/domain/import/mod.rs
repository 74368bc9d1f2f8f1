//! Importing a whole directory (docs/compatibility.md#importing-a-directory): users with their
//! ids, uuids and password hashes as they are, groups with parents, memberships, roles with
//! their global grants and holders, and tokens whose keys keep working. Front doors (the
//! `import` command) offer a source as an [`ImportSource`]: everything but the users at once
//! (a [`Source`]), the users in batches, as many times as the import goes through them (a file
//! is read again rather than held; [`InMemory`] serves a source already read). [`run`] matches
//! it against what exists (by uuid, and ids for users), writes what differs and reports every
//! row it did not take.
//!
//! Matching: an object with the same uuid is updated (a user only if its id is the same too;
//! a user whose source has no id, `pk <= 0`, takes the id of the user with its uuid here or
//! the next free one, see `users`);
//! an object whose unique name or id is held by another one is skipped and reported, except
//! gatehouse's own bootstrap objects (user `akadmin`, group `authentik Admins`, token
//! `authentik-bootstrap-token`), which the imported objects of the same name replace. Links
//! (parents, memberships, grants, role holders) are added, never removed. Into a directory
//! without an install id the source's is adopted and bootstrap counts as done, so a first
//! start afterwards creates nothing; a source without one leaves bootstrap to the first start.
//!
//! Reading: the source is read through once (`ImportSource::read`; a file is checked whole
//! before anything is written), then its users again batch by batch ([`USERS_PER_STEP`]), each
//! batch matched against the rows holding its ids, uuids and usernames and written before the
//! next is read, so memory does not grow with the rows of the users (only with their ids, see
//! `users`). Users are compared with the directory as it stands when their batch is planned.
//!
//! Writes: users in multi-row statements, [`USERS_PER_TRANSACTION`] per transaction (or, for
//! many users into a nearly empty directory, all in one that rebuilds the search index at its
//! end, see `store::import::suspend_search_index`); then one
//! transaction for everything else, carrying the run's single audit event (action
//! `system_task_execution`, the counts in its context).

mod apply;
mod export;
mod links;
mod plan;
mod users;

use serde::Serialize;
use serde_json::Value;

pub use apply::{run, ImportFailure};
pub use export::{export, ExportCounts, ExportFailure, Exported, EXPORT_BATCH};

/// A source an import reads: everything but the users at once, the users in batches, as often
/// as the import goes through them.
pub trait ImportSource {
    /// Why reading failed.
    type Error: std::error::Error + 'static;
    /// Reads the whole source once: returns everything but the users (its `users` empty) and
    /// hands every user to `survey` on the way. A source that can be wrong (a file) fails here,
    /// before anything is written.
    fn read(&mut self, survey: &mut dyn FnMut(&ImportUser)) -> Result<Source, Self::Error>;
    /// Starts the users over from the first.
    fn rewind_users(&mut self) -> Result<(), Self::Error>;
    /// The next users, at most `max`; none once every user was handed out.
    fn next_users(&mut self, max: usize) -> Result<Vec<ImportUser>, Self::Error>;
}

/// A source already read into memory (an authentik database, an LDIF file).
#[derive(Debug)]
pub struct InMemory {
    source: Source,
    next: usize,
}

impl InMemory {
    /// Serves `source`.
    pub fn new(source: Source) -> InMemory {
        InMemory { source, next: 0 }
    }
}

impl ImportSource for InMemory {
    type Error = std::convert::Infallible;

    fn read(&mut self, survey: &mut dyn FnMut(&ImportUser)) -> Result<Source, Self::Error> {
        self.source.users.iter().for_each(&mut *survey);
        let users = std::mem::take(&mut self.source.users);
        let rest = self.source.clone();
        self.source.users = users;
        Ok(rest)
    }

    fn rewind_users(&mut self) -> Result<(), Self::Error> {
        self.next = 0;
        Ok(())
    }

    fn next_users(&mut self, max: usize) -> Result<Vec<ImportUser>, Self::Error> {
        let end = self.source.users.len().min(self.next.saturating_add(max));
        let batch = self
            .source
            .users
            .get(self.next..end)
            .unwrap_or_default()
            .to_vec();
        self.next = end;
        Ok(batch)
    }
}

/// Users written per transaction.
pub const USERS_PER_TRANSACTION: usize = 50_000;
/// Users per write statement batch (one progress step).
pub const USERS_PER_STEP: usize = 5_000;

/// A user as the source has it.
#[derive(Clone)]
pub struct ImportUser {
    /// The id to keep.
    pub pk: i64,
    /// UUID.
    pub uuid: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// First name (AWX).
    pub first_name: String,
    /// Last name (AWX).
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// The stored hash, verbatim; `None` = unusable.
    pub password_hash: Option<String>,
    /// Active flag.
    pub is_active: bool,
    /// `internal`, `external`, `service_account`, `internal_service_account`.
    pub user_type: String,
    /// Directory path.
    pub path: String,
    /// Attributes (a JSON object).
    pub attributes: Value,
    /// Last login (µs).
    pub last_login: Option<i64>,
    /// Creation time (µs).
    pub date_joined: i64,
    /// Last password change (µs).
    pub password_change_date: i64,
    /// Last modification (µs).
    pub last_updated: i64,
}

impl std::fmt::Debug for ImportUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportUser")
            .field("pk", &self.pk)
            .field("uuid", &self.uuid)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A group as the source has it.
#[derive(Debug, Clone)]
pub struct ImportGroup {
    /// UUID (the API's pk).
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Attributes (a JSON object).
    pub attributes: Value,
    /// Parent groups' uuids.
    pub parents: Vec<String>,
}

/// A role as the source has it.
#[derive(Debug, Clone)]
pub struct ImportRole {
    /// UUID.
    pub uuid: String,
    /// Unique name.
    pub name: String,
    /// Managed marker.
    pub managed: Option<String>,
    /// Global permissions, `app_label.codename`.
    pub permissions: Vec<String>,
}

/// A token as the source has it (the key in clear: it is sealed before it is stored).
#[derive(Clone)]
pub struct ImportToken {
    /// The integer id to keep (AWX's `/api/v2/tokens/{id}/`), when the source has one and it is
    /// free here; authentik's tokens have none.
    pub id: Option<i64>,
    /// UUID.
    pub uuid: String,
    /// Unique slug.
    pub identifier: String,
    /// The key.
    pub key: String,
    /// Intent (`api`, `app_password`).
    pub intent: String,
    /// Owner's id (pk).
    pub user_pk: i64,
    /// Description.
    pub description: String,
    /// Expiry (µs).
    pub expires: Option<i64>,
    /// Whether the expiry applies.
    pub expiring: bool,
    /// Managed marker.
    pub managed: Option<String>,
    /// Creation time (µs), when the source knows it (new tokens get it; else now).
    pub created: Option<i64>,
}

impl std::fmt::Debug for ImportToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportToken")
            .field("uuid", &self.uuid)
            .field("identifier", &self.identifier)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Everything a source holds, plus what its reader already left out.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// Users.
    pub users: Vec<ImportUser>,
    /// Groups.
    pub groups: Vec<ImportGroup>,
    /// (user pk, group uuid).
    pub memberships: Vec<(i64, String)>,
    /// Roles.
    pub roles: Vec<ImportRole>,
    /// (group uuid, role uuid).
    pub group_roles: Vec<(String, String)>,
    /// (user pk, role uuid).
    pub user_roles: Vec<(i64, String)>,
    /// Tokens.
    pub tokens: Vec<ImportToken>,
    /// The source's install id (users' `uid` derive from it).
    pub install_id: Option<String>,
    /// Rows the reader did not take, and why.
    pub skipped: Vec<Skip>,
    /// Where it came from (for the audit event), e.g. `authentik database`.
    pub origin: String,
}

/// A row left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// `user`, `group`, `membership`, `permission`, …
    pub kind: String,
    /// Which one (username, name, identifier, …).
    pub name: String,
    /// Why.
    pub reason: String,
}

impl Skip {
    /// A skip record.
    pub fn new(kind: &str, name: impl Into<String>, reason: impl Into<String>) -> Skip {
        Skip {
            kind: kind.to_string(),
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// What happened to the rows of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// New rows.
    pub created: u64,
    /// Existing rows changed.
    pub updated: u64,
    /// Existing rows already as the source has them.
    pub unchanged: u64,
    /// Rows not taken (see `Report::skipped`).
    pub skipped: u64,
}

/// What the install id became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallId {
    /// The directory had none; the source's was recorded.
    Adopted(String),
    /// The directory had this one already (users' `uid` stay gatehouse's).
    Kept(String),
    /// Neither the directory nor the source has one (an LDIF file, JSON lines without a
    /// header): the first start creates it and gatehouse's bootstrap objects as usual.
    Pending,
}

/// The outcome of an import (or what it would be, for a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Nothing was written.
    pub dry_run: bool,
    /// Users.
    pub users: Tally,
    /// Groups.
    pub groups: Tally,
    /// Group → parent links.
    pub parents: Tally,
    /// User → group links.
    pub memberships: Tally,
    /// Roles.
    pub roles: Tally,
    /// Global grants of roles.
    pub permissions: Tally,
    /// Group → role links.
    pub group_roles: Tally,
    /// User → role links.
    pub user_roles: Tally,
    /// Tokens.
    pub tokens: Tally,
    /// Gatehouse's bootstrap objects the imported ones replaced (`user akadmin`, …).
    pub replaced: Vec<String>,
    /// Password hashes by scheme (`pbkdf2_sha256`, `argon2`, `unusable`, …).
    pub hash_schemes: std::collections::BTreeMap<String, u64>,
    /// The install id.
    pub install_id: InstallId,
    /// Every row not taken, and why (the reader's and the import's).
    pub skipped: Vec<Skip>,
}

/// Where a long import is (for a progress display).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Rows written so far (users, then the rest).
    pub done: u64,
    /// Rows to write.
    pub total: u64,
}

/// The scheme of a stored password hash as the report counts it: Django's `algorithm$…`
/// prefix, a PHC `$id$`, an LDAP `{SCHEME}`, or `unusable`.
pub fn hash_scheme(hash: Option<&str>) -> String {
    let Some(hash) = hash.filter(|h| !h.is_empty()) else {
        return "unusable".into();
    };
    if let Some(rest) = hash.strip_prefix('$') {
        return rest.split('$').next().unwrap_or("").to_string();
    }
    if let Some(rest) = hash.strip_prefix('{') {
        if let Some((scheme, _)) = rest.split_once('}') {
            return format!("{{{scheme}}}");
        }
    }
    match hash.split_once('$') {
        Some((scheme, _)) => scheme.to_string(),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_schemes_are_named_by_prefix() {
        assert_eq!(
            hash_scheme(Some("pbkdf2_sha256$1000000$s$h")),
            "pbkdf2_sha256"
        );
        assert_eq!(hash_scheme(Some("$argon2id$v=19$m=1$x$y")), "argon2id");
        assert_eq!(hash_scheme(Some("{SSHA}abc")), "{SSHA}");
        assert_eq!(hash_scheme(None), "unusable");
        assert_eq!(hash_scheme(Some("plain")), "unknown");
    }
}
