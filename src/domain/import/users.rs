//! The users of an import, batch by batch: each batch of [`super::USERS_PER_STEP`] source users is
//! matched against the rows that hold its ids, uuids or usernames (one statement), planned as
//! the module documentation says, and written before the next is read. What stays in memory
//! is what the later steps need of every user: the ids seen and taken, a 128-bit hash of every
//! username seen (to report a username the source holds twice), and the ids given to users
//! without one of their own.
//!
//! Users without an id of their own (`pk <= 0`, an LDIF source) take the id of the user with
//! their uuid here, keeping the dates stored here (and the password change date unless the hash
//! changes, so the same import again finds them unchanged), or the next free one after every id
//! here and in the source. Their stand-in ids are replaced everywhere the source names them
//! (memberships, user roles, token owners, see [`UserPhase::real_id`]).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde_json::Value;

use super::{hash_scheme, ImportUser, Report, Skip};
use crate::domain::bootstrap::ADMIN_USERNAME;
use crate::domain::users::UserType;
use crate::store::import::{self as store_import, ImportedUser};
use crate::store::users::{search_text, UserRow};
use crate::store::{Reader, StoreError};

/// What a first read through the source's users tells before anything is planned.
#[derive(Debug, Default)]
pub(super) struct Survey {
    /// Users in the source.
    pub count: u64,
    /// The largest id the source gives a user.
    pub max_pk: i64,
    /// A source user named `akadmin` has another uuid than this directory's akadmin.
    pub replaces_admin: bool,
    /// The source holds this directory's akadmin (by uuid).
    pub keeps_admin: bool,
    admin_uuid: Option<String>,
}

impl Survey {
    /// A survey against this directory's akadmin (its uuid), if it has one.
    pub fn new(admin_uuid: Option<String>) -> Survey {
        Survey {
            admin_uuid,
            ..Survey::default()
        }
    }

    /// Takes one source user into account.
    pub fn see(&mut self, user: &ImportUser) {
        self.count += 1;
        self.max_pk = self.max_pk.max(user.pk);
        if let Some(admin) = &self.admin_uuid {
            if user.username == ADMIN_USERNAME && &user.uuid != admin {
                self.replaces_admin = true;
            }
            if &user.uuid == admin {
                self.keeps_admin = true;
            }
        }
    }
}

/// The users' part of an import in progress.
pub(super) struct UserPhase {
    /// This directory's akadmin, when the import replaces it (deleted before the first write).
    pub deleted: Option<i64>,
    seen_ids: HashSet<i64>,
    seen_names: HashSet<u128>,
    /// Ids of the users taken from the source (present afterwards).
    pub taken: HashSet<i64>,
    /// Stand-in id → the id given.
    stand_ins: HashMap<i64, i64>,
    next_id: i64,
}

/// One planned batch: the rows to write.
pub(super) struct Batch {
    pub writes: Vec<ImportedUser>,
}

impl UserPhase {
    /// A phase for a source surveyed as `survey`, into a directory whose largest user id is
    /// `max_id` and whose akadmin has id `admin_id`.
    pub fn new(survey: &Survey, admin_id: Option<i64>, max_id: i64, report: &mut Report) -> Self {
        let deleted = admin_id.filter(|_| survey.replaces_admin && !survey.keeps_admin);
        if deleted.is_some() {
            report.replaced.push(format!("user {ADMIN_USERNAME}"));
        }
        UserPhase {
            deleted,
            seen_ids: HashSet::new(),
            seen_names: HashSet::new(),
            taken: HashSet::new(),
            stand_ins: HashMap::new(),
            next_id: max_id.max(survey.max_pk).max(0) + 1,
        }
    }

    /// The id a user of the source ends up with (its stand-in replaced).
    pub fn real_id(&self, pk: i64) -> i64 {
        if pk <= 0 {
            self.stand_ins.get(&pk).copied().unwrap_or(pk)
        } else {
            pk
        }
    }

    /// Plans one batch of source users (at most [`super::USERS_PER_STEP`]) against the rows `db`
    /// holds for them.
    pub async fn plan<R: Reader>(
        &mut self,
        db: &mut R,
        mut users: Vec<ImportUser>,
        report: &mut Report,
        skipped: &mut Vec<Skip>,
    ) -> Result<Batch, StoreError> {
        let ids: Vec<i64> = users.iter().map(|u| u.pk).filter(|pk| *pk > 0).collect();
        let uuids: Vec<&str> = users.iter().map(|u| u.uuid.as_str()).collect();
        let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
        // At most USERS_PER_STEP users a batch: 4 × 5,000 parameters, under both backends' limits.
        let here = store_import::users_matching(db, &ids, &uuids, &names).await?;
        let deleted = self.deleted;
        let live = |u: &&UserRow| Some(u.id) != deleted;
        let by_uuid: HashMap<&str, &UserRow> = here.iter().map(|u| (u.uuid.as_str(), u)).collect();
        let by_id: HashMap<i64, &UserRow> = here.iter().filter(live).map(|u| (u.id, u)).collect();
        // By username under ASCII case folding: `Bob` here takes the name `bob` in the source.
        let by_name: HashMap<String, &UserRow> = here
            .iter()
            .filter(live)
            .map(|u| (u.username.to_ascii_lowercase(), u))
            .collect();

        for user in users.iter_mut().filter(|u| u.pk <= 0) {
            let id = match by_uuid.get(user.uuid.as_str()) {
                Some(current) => {
                    user.date_joined = current.date_joined;
                    user.last_login = current.last_login;
                    user.last_updated = current.last_updated;
                    if current.password_hash == user.password_hash {
                        user.password_change_date = current.password_change_date;
                    }
                    current.id
                }
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    id
                }
            };
            // The first user with a stand-in keeps it; a repeated stand-in is the source's
            // mistake and is reported below as a repeated id.
            self.stand_ins.entry(user.pk).or_insert(id);
            user.pk = id;
        }

        let mut writes = Vec::new();
        for user in &users {
            let mut skip = |reason: String| {
                skipped.push(Skip::new("user", &user.username, reason));
                report.users.skipped += 1;
            };
            if let Some(reason) = invalid_user(user) {
                skip(reason);
                continue;
            }
            if !self.seen_ids.insert(user.pk)
                || !self
                    .seen_names
                    .insert(name_hash(&user.username.to_ascii_lowercase()))
            {
                skip("the source holds this id or username twice".into());
                continue;
            }
            let wanted = row_of(user);
            let same_uuid: Option<&UserRow> = by_uuid
                .get(user.uuid.as_str())
                .copied()
                .filter(|u| Some(u.id) != deleted);
            if let Some(current) = same_uuid {
                if current.id != user.pk {
                    skip(format!(
                        "its uuid belongs to user id {} here, not {}",
                        current.id, user.pk
                    ));
                    continue;
                }
            } else if let Some(other) = by_id.get(&user.pk) {
                skip(format!(
                    "id {} is taken by another user ({})",
                    user.pk, other.username
                ));
                continue;
            }
            if let Some(other) = by_name.get(&user.username.to_ascii_lowercase()) {
                if other.id != user.pk {
                    skip(format!("username is taken by user id {}", other.id));
                    continue;
                }
            }
            *report
                .hash_schemes
                .entry(hash_scheme(wanted.row.password_hash.as_deref()))
                .or_default() += 1;
            self.taken.insert(user.pk);
            match same_uuid {
                Some(current) if same_user(current, &wanted.row) => report.users.unchanged += 1,
                Some(_) => {
                    report.users.updated += 1;
                    writes.push(wanted);
                }
                None => {
                    report.users.created += 1;
                    writes.push(wanted);
                }
            }
        }
        Ok(Batch { writes })
    }
}

/// A 128-bit hash of a username (two SipHash runs with different prefixes): a set of these
/// finds a username seen before in 16 bytes instead of the name, with a collision chance far
/// below any other failure.
fn name_hash(name: &str) -> u128 {
    let mut a = DefaultHasher::new();
    0u8.hash(&mut a);
    name.hash(&mut a);
    let mut b = DefaultHasher::new();
    1u8.hash(&mut b);
    name.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Why an imported user cannot be taken as it is, if it cannot.
fn invalid_user(user: &ImportUser) -> Option<String> {
    if user.username.is_empty() || user.username.len() > 150 {
        return Some("username is empty or longer than 150 characters".into());
    }
    if uuid::Uuid::parse_str(&user.uuid).is_err() {
        return Some(format!("uuid {:?} is not a UUID", user.uuid));
    }
    if UserType::parse(&user.user_type).is_none() {
        return Some(format!("unknown user type {:?}", user.user_type));
    }
    if !user.attributes.is_object() {
        return Some("attributes are not a JSON object".into());
    }
    if user.pk <= 0 {
        return Some(format!("id {} is not positive", user.pk));
    }
    None
}

fn row_of(user: &ImportUser) -> ImportedUser {
    let row = UserRow {
        id: user.pk,
        uuid: user.uuid.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email: user.email.clone(),
        password_hash: user.password_hash.clone().filter(|h| !h.is_empty()),
        is_active: user.is_active,
        user_type: user.user_type.clone(),
        path: user.path.clone(),
        attributes: serde_json::to_string(&user.attributes).unwrap_or_else(|_| "{}".into()),
        last_login: user.last_login,
        date_joined: user.date_joined,
        password_change_date: user.password_change_date,
        last_updated: user.last_updated,
    };
    let search_text = search_text(&row.username, &row.name, &row.email, &row.uuid);
    ImportedUser { row, search_text }
}

fn same_user(a: &UserRow, b: &UserRow) -> bool {
    a.uuid == b.uuid
        && a.username == b.username
        && a.name == b.name
        && a.first_name == b.first_name
        && a.last_name == b.last_name
        && a.email == b.email
        && a.password_hash == b.password_hash
        && a.is_active == b.is_active
        && a.user_type == b.user_type
        && a.path == b.path
        && (a.attributes == b.attributes
            || serde_json::from_str::<Value>(&b.attributes)
                .is_ok_and(|v| serde_json::from_str::<Value>(&a.attributes).is_ok_and(|w| w == v)))
        && a.last_login == b.last_login
        && a.date_joined == b.date_joined
        && a.password_change_date == b.password_change_date
        && a.last_updated == b.last_updated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_hashes_differ_and_repeat() {
        assert_eq!(name_hash("ann"), name_hash("ann"));
        assert_ne!(name_hash("ann"), name_hash("Ann"));
        assert_ne!(name_hash(""), name_hash("a"));
    }

    #[test]
    fn the_survey_finds_an_admin_to_replace() {
        let mut survey = Survey::new(Some("mine".into()));
        let mut user = ImportUser {
            pk: 9,
            uuid: "theirs".into(),
            username: ADMIN_USERNAME.into(),
            name: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            password_hash: None,
            is_active: true,
            user_type: "internal".into(),
            path: "users".into(),
            attributes: serde_json::json!({}),
            last_login: None,
            date_joined: 1,
            password_change_date: 1,
            last_updated: 1,
        };
        survey.see(&user);
        assert!(survey.replaces_admin && !survey.keeps_admin);
        user.uuid = "mine".into();
        user.username = "someone".into();
        user.pk = -3;
        survey.see(&user);
        assert!(survey.keeps_admin);
        assert_eq!((survey.count, survey.max_pk), (2, 9));
    }
}
