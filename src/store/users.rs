//! Users: rows, the SQL shape of the user filter, and the statements that read and write them.

use super::filter::{self, Schema};
use super::search::{CandidateSource, SearchPlan};
use super::{Dialect, Reader, Sql, Store, StoreError, Tx};
use crate::query::filter::{Direction, Filter};
use crate::query::users::{UserField, UserFilter, UserRel, UserSort};

/// One row of `users`.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct UserRow {
    /// Integer primary key.
    pub id: i64,
    /// Stable UUID.
    pub uuid: String,
    /// Unique login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// AWX first name.
    pub first_name: String,
    /// AWX last name.
    pub last_name: String,
    /// E-mail address or "".
    pub email: String,
    /// Argon2id PHC string; NULL = unusable password.
    pub password_hash: Option<String>,
    /// Active flag.
    pub is_active: bool,
    /// User type (`internal`, …).
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub user_type: String,
    /// Directory path.
    pub path: String,
    /// JSON object text.
    pub attributes: String,
    /// Last login (µs) or NULL.
    pub last_login: Option<i64>,
    /// Creation time (µs).
    pub date_joined: i64,
    /// Last password change (µs).
    pub password_change_date: i64,
    /// Last modification (µs).
    pub last_updated: i64,
}

const COLUMNS: &str = "u.id, u.uuid, u.username, u.name, u.first_name, u.last_name, u.email, \
    u.password_hash, u.is_active, u.type, u.path, u.attributes, u.last_login, u.date_joined, \
    u.password_change_date, u.last_updated";

/// `COLUMNS` for a `RETURNING` clause, which SQLite lets name the table but not an alias.
const RETURNING_COLUMNS: &str = "users.id, users.uuid, users.username, users.name, \
    users.first_name, users.last_name, users.email, users.password_hash, users.is_active, \
    users.type, users.path, users.attributes, users.last_login, users.date_joined, \
    users.password_change_date, users.last_updated";

/// The groups reachable as superuser-granting: superuser groups and all their descendants.
const SUPERUSER_GROUPS: &str = "WITH RECURSIVE su_groups(id) AS (\
    SELECT id FROM groups WHERE is_superuser = TRUE \
    UNION SELECT gp.child_id FROM group_parents gp JOIN su_groups s ON gp.parent_id = s.id) ";

pub(crate) struct UserSchema;

impl Schema for UserSchema {
    type Field = UserField;
    type Rel = UserRel;
    type Context = SearchPlan;

    fn column(field: &UserField) -> &'static str {
        match field {
            UserField::Id => "u.id",
            UserField::Uuid => "u.uuid",
            UserField::Username => "u.username",
            UserField::Name => "u.name",
            UserField::FirstName => "u.first_name",
            UserField::LastName => "u.last_name",
            UserField::Email => "u.email",
            UserField::IsActive => "u.is_active",
            UserField::Type => "u.type",
            UserField::Path => "u.path",
            UserField::Attributes => "u.attributes",
            UserField::LastLogin => "u.last_login",
            UserField::DateJoined => "u.date_joined",
            UserField::PasswordChangeDate => "u.password_change_date",
            UserField::LastUpdated => "u.last_updated",
        }
    }

    fn relation(rel: &UserRel, dialect: Dialect, plan: &SearchPlan, out: &mut Sql) {
        match rel {
            UserRel::GroupNames(names) => {
                out.push("EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND g.name IN ");
                out.bind_list(names.iter()).push(")");
            }
            UserRel::GroupUuids(uuids) => {
                out.push("EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND g.uuid IN ");
                out.bind_list(uuids.iter()).push(")");
            }
            UserRel::RoleNames(names) => {
                out.push("EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name IN ");
                out.bind_list(names.iter()).push(")");
            }
            UserRel::RoleUuids(uuids) => {
                out.push("EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.uuid IN ");
                out.bind_list(uuids.iter()).push(")");
            }
            UserRel::SearchTerm(term) => {
                // On SQLite the trigram index (FTS5, `users_search`) or the word index
                // (`users_words`) finds the candidates the planner chose (`store::search`); PostgreSQL's
                // pg_trgm index serves the LIKE itself. The LIKE keeps the answer exact.
                let folded = search_fold(term);
                out.push("(");
                if dialect == super::Dialect::Sqlite {
                    match plan.lookup(&folded) {
                        CandidateSource::Trigrams(trigrams) => {
                            out.push(
                                "u.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ",
                            )
                            .bind(CandidateSource::match_query(trigrams))
                            .push(") AND ");
                        }
                        CandidateSource::WordStart(start) => {
                            out.push(
                                "u.id IN (SELECT rowid FROM users_words WHERE users_words MATCH ",
                            )
                            .bind(CandidateSource::prefix_query(start))
                            .push(") AND ");
                        }
                        CandidateSource::Scan => {}
                    }
                }
                out.push("u.search_text LIKE ")
                    .bind(format!("%{}%", filter::escape_like(&folded)))
                    .push(" ESCAPE '\\')");
            }
            UserRel::UsernameFolded(name) => {
                out.push("LOWER(u.username) = ")
                    .bind(name.to_ascii_lowercase());
            }
            UserRel::UsernamesFolded(names) => {
                out.push("LOWER(u.username) IN ")
                    .bind_list(names.iter().map(|n| n.to_ascii_lowercase()));
            }
            UserRel::UsernameFoldedPrefix(prefix) => {
                // Byte order on both backends (SQLite's BINARY, PostgreSQL's "C"): the folded
                // usernames starting with `low` sort from `low` up to `low` followed by the
                // highest code point, which no username holds (`\w` characters only).
                let low = prefix.to_ascii_lowercase();
                let high = format!("{low}\u{10FFFF}");
                out.push("(LOWER(u.username) >= ")
                    .bind(low)
                    .push(" AND LOWER(u.username) < ")
                    .bind(high)
                    .push(")");
            }
            UserRel::ScimExternalId { client, value } => {
                out.push(
                    "u.id IN (SELECT x.user_id FROM scim_user_external_ids x WHERE x.client_id = ",
                );
                out.bind(*client)
                    .push(" AND x.external_id = ")
                    .bind(value.clone())
                    .push(")");
            }
            UserRel::DirectSuperuser(wanted) => {
                out.push(if *wanted { "EXISTS" } else { "NOT EXISTS" });
                out.push(" (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND g.is_superuser = TRUE)");
            }
            UserRel::EffectiveSuperuser(wanted) => {
                // An id set rather than a per-row EXISTS: in an OR with other id conditions (the
                // users an AWX caller without view permission sees) the planner can fetch the
                // few rows by id instead of testing every user. PostgreSQL indexes `= ANY` of
                // an array (computed once), not `IN` of a subquery, inside an OR.
                let members = "SELECT m.user_id FROM group_members m WHERE m.group_id IN (SELECT id FROM su_groups)";
                match (wanted, dialect) {
                    (true, Dialect::Postgres) => {
                        out.push("u.id = ANY(ARRAY(").push(SUPERUSER_GROUPS);
                        out.push(members).push("))");
                    }
                    (true, Dialect::Sqlite) => {
                        out.push("u.id IN (").push(SUPERUSER_GROUPS);
                        out.push(members).push(")");
                    }
                    (false, _) => {
                        out.push("u.id NOT IN (").push(SUPERUSER_GROUPS);
                        out.push(members).push(")");
                    }
                }
            }
        }
    }
}

fn sort_expression(sort: &UserSort) -> String {
    match sort {
        UserSort::Field(field) => UserSchema::column(field).to_string(),
        UserSort::Groups => "(SELECT MIN(g.uuid) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id)".into(),
        UserSort::Roles => "(SELECT MIN(r.uuid) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id)".into(),
        // `su_groups` is computed once per query (see `page`).
        UserSort::IsSuperuser => "(CASE WHEN EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id \
            AND m.group_id IN (SELECT id FROM su_groups)) THEN 1 ELSE 0 END)"
            .into(),
    }
}

/// Appends ` WHERE …` for `filter`, with the search index lookups planned for its terms.
async fn where_clause(store: &Store, filter: &UserFilter, out: &mut Sql) -> Result<(), StoreError> {
    let mut terms = Vec::new();
    search_terms(filter, &mut terms);
    let folded: Vec<String> = terms.iter().map(|t| search_fold(t)).collect();
    let folded: Vec<&str> = folded.iter().map(String::as_str).collect();
    let plan = store.search_stats().plan(store, &folded).await?;
    out.push(" WHERE ");
    filter::compile::<UserSchema>(filter, store.dialect(), &plan, out);
    Ok(())
}

/// The search terms anywhere in `filter`.
fn search_terms<'a>(filter: &'a UserFilter, out: &mut Vec<&'a str>) {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            for part in parts {
                search_terms(part, out);
            }
        }
        Filter::Not(inner) => search_terms(inner, out),
        Filter::Rel(UserRel::SearchTerm(term)) => out.push(term),
        _ => {}
    }
}

/// Number of users matching `filter`. A filter on path, active flag and type alone is summed
/// from `user_tallies` (kept by triggers: SQLite 0009, PostgreSQL 0011): its rows carry those three
/// columns under the same names, so the same condition selects the groups whose users match.
pub async fn count(store: &Store, filter: &UserFilter) -> Result<i64, StoreError> {
    let tallied = |field: &UserField| {
        matches!(
            field,
            UserField::Path | UserField::IsActive | UserField::Type
        )
    };
    if filter.only_fields(&tallied) {
        let mut sql =
            Sql::new("SELECT CAST(COALESCE(SUM(u.n), 0) AS BIGINT) FROM user_tallies u WHERE ");
        filter::compile::<UserSchema>(filter, store.dialect(), &SearchPlan::default(), &mut sql);
        return store.fetch_scalar_i64(&sql).await;
    }
    if matches!(filter, Filter::Rel(UserRel::EffectiveSuperuser(true))) {
        // Counted from the superuser groups' memberships (an index on `group_id`): the work
        // follows the number of superusers, not of users. AWX asks this on every answer.
        let mut sql = Sql::new(SUPERUSER_GROUPS);
        sql.push("SELECT COUNT(DISTINCT m.user_id) FROM group_members m WHERE m.group_id IN (SELECT id FROM su_groups)");
        return store.fetch_scalar_i64(&sql).await;
    }
    let mut sql = Sql::new("SELECT COUNT(*) FROM users u");
    where_clause(store, filter, &mut sql).await?;
    store.fetch_scalar_i64(&sql).await
}

/// One page of users matching `filter`, in `sort` order (ties by id).
pub async fn page(
    store: &Store,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let sql = page_statement(store, COLUMNS, filter, sort, limit, offset).await?;
    store.fetch_all(&sql).await
}

/// `SELECT <columns> FROM users u` for one page of users matching `filter`, in `sort` order
/// (ties by id), with the superuser groups' CTE when the sort needs it.
async fn page_statement(
    store: &Store,
    columns: &str,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Sql, StoreError> {
    let by_superuser = sort.iter().any(|(s, _)| *s == UserSort::IsSuperuser);
    let mut sql = Sql::new(if by_superuser { SUPERUSER_GROUPS } else { "" });
    sql.push("SELECT ").push(columns).push(" FROM users u");
    where_clause(store, filter, &mut sql).await?;
    let keys: Vec<(String, Direction)> =
        sort.iter().map(|(s, d)| (sort_expression(s), *d)).collect();
    filter::order_by(&mut sql, &keys, "u.id ASC");
    sql.push(" LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    Ok(sql)
}

/// The ids of one page of users matching `filter`, in `sort` order (ties by id).
pub async fn page_ids(
    store: &Store,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let sql = page_statement(store, "u.id", filter, sort, limit, offset).await?;
    Ok(store
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// The users with these ids (any order).
pub async fn by_ids(store: &Store, ids: &[i64]) -> Result<Vec<UserRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u WHERE u.id IN ")
        .bind_list(ids.iter().copied());
    store.fetch_all(&sql).await
}

/// The users of one page matching `filter` with their relations (as `relations` gives them,
/// superuser marks from `superuser_groups`), in one statement: each row carries its direct
/// groups and roles as JSON arrays, put in `relations`' order here. For lookups (a user by name, as
/// LDAP's `cn=` asks): on PostgreSQL one round trip instead of three (ids, rows, relations),
/// and on SQLite a point read on a lookup connection (`store::lookup`), not a hand-off to the
/// read pool's worker thread.
pub async fn lookup_with_relations(
    store: &Store,
    filter: &UserFilter,
    sort: &[(UserSort, Direction)],
    limit: i64,
    offset: i64,
    superuser_groups: &[i64],
) -> Result<(Vec<UserRow>, Vec<RelationRow>), StoreError> {
    let sql = page_statement(store, &relation_columns(store), filter, sort, limit, offset).await?;
    read_with_relations(&mut &*store, &sql, superuser_groups).await
}

/// The users matching `filter` with their relations, in no particular order and without a
/// limit: for a filter that names its users by unique keys (a lookup of a few at once), whose
/// statement then has no sort or limit for the executor to set up on every call.
pub async fn by_keys_with_relations<R: Reader>(
    db: &mut R,
    store: &Store,
    filter: &UserFilter,
    superuser_groups: &[i64],
) -> Result<(Vec<UserRow>, Vec<RelationRow>), StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(&relation_columns(store)).push(" FROM users u");
    where_clause(store, filter, &mut sql).await?;
    read_with_relations(db, &sql, superuser_groups).await
}

/// The user columns with each user's direct groups and roles as JSON arrays (see
/// `UserRowWithRelations`).
fn relation_columns(store: &Store) -> String {
    let (groups, roles) = match store.dialect() {
        Dialect::Sqlite => (
            "json_group_array(json_array(g.id, g.uuid, g.name, \
             CASE WHEN g.is_superuser THEN 1 ELSE 0 END, g.attributes))",
            "json_group_array(json_array(r.uuid, r.name, r.managed))",
        ),
        Dialect::Postgres => (
            "CAST(COALESCE(json_agg(json_build_array(g.id, g.uuid, g.name, \
             CASE WHEN g.is_superuser THEN 1 ELSE 0 END, g.attributes)), '[]') AS TEXT)",
            "CAST(COALESCE(json_agg(json_build_array(r.uuid, r.name, r.managed)), '[]') AS TEXT)",
        ),
    };
    format!(
        "{COLUMNS}, (SELECT {groups} FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = u.id) AS group_list, (SELECT {roles} FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id) AS role_list"
    )
}

/// Runs a statement selecting `relation_columns` and splits its rows into users and relations.
async fn read_with_relations<R: Reader>(
    db: &mut R,
    sql: &Sql,
    superuser_groups: &[i64],
) -> Result<(Vec<UserRow>, Vec<RelationRow>), StoreError> {
    let found: Vec<UserRowWithRelations> = db.fetch_all(sql).await?;
    let mut rows = Vec::with_capacity(found.len());
    let mut relations = Vec::new();
    let mut superusers = Vec::new();
    for row in found {
        let user_id = row.id;
        let mut groups: Vec<(i64, String, String, i64, String)> =
            serde_json::from_str(&row.group_list).map_err(decode_error)?;
        let mut roles: Vec<(String, String, Option<String>)> =
            serde_json::from_str(&row.role_list).map_err(decode_error)?;
        // By name then uuid, as `relations` orders them: byte order, these columns' collation
        // on both backends (an ORDER BY inside the aggregates cost SQLite a sorter each).
        groups.sort_by(|a, b| (&a.2, &a.1).cmp(&(&b.2, &b.1)));
        roles.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        for (group_id, uuid, name, is_superuser, attributes) in groups {
            if superuser_groups.contains(&group_id) && !superusers.contains(&user_id) {
                superusers.push(user_id);
            }
            relations.push(RelationRow {
                kind: RELATION_GROUP,
                user_id,
                group_id,
                uuid,
                name,
                is_superuser: is_superuser != 0,
                attributes,
                managed: None,
            });
        }
        relations.extend(roles.into_iter().map(|(uuid, name, managed)| RelationRow {
            kind: RELATION_ROLE,
            user_id,
            group_id: 0,
            uuid,
            name,
            is_superuser: false,
            attributes: String::new(),
            managed,
        }));
        rows.push(row.into_user_row());
    }
    relations.extend(superusers.into_iter().map(|user_id| RelationRow {
        kind: RELATION_SUPERUSER,
        user_id,
        group_id: 0,
        uuid: String::new(),
        name: String::new(),
        is_superuser: false,
        attributes: String::new(),
        managed: None,
    }));
    Ok((rows, relations))
}

/// A relations column `lookup_with_relations` could not read (the SQL above builds it).
fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Other(format!("user relations: {e}"))
}

/// One row of `users` with its direct groups and roles as JSON arrays
/// (`lookup_with_relations`): `[[id, uuid, name, is_superuser, attributes], …]` and
/// `[[uuid, name, managed], …]`. (Not a flattened `UserRow`: SQLite's row decoder gives
/// booleans as integers, which serde's flattening cannot turn back.)
#[derive(sqlx::FromRow, serde::Deserialize)]
struct UserRowWithRelations {
    id: i64,
    uuid: String,
    username: String,
    name: String,
    first_name: String,
    last_name: String,
    email: String,
    password_hash: Option<String>,
    is_active: bool,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    user_type: String,
    path: String,
    attributes: String,
    last_login: Option<i64>,
    date_joined: i64,
    password_change_date: i64,
    last_updated: i64,
    group_list: String,
    role_list: String,
}

impl UserRowWithRelations {
    fn into_user_row(self) -> UserRow {
        UserRow {
            id: self.id,
            uuid: self.uuid,
            username: self.username,
            name: self.name,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            password_hash: self.password_hash,
            is_active: self.is_active,
            user_type: self.user_type,
            path: self.path,
            attributes: self.attributes,
            last_login: self.last_login,
            date_joined: self.date_joined,
            password_change_date: self.password_change_date,
            last_updated: self.last_updated,
        }
    }
}

/// Distinct paths of the users matching `filter`, sorted.
pub async fn distinct_paths(store: &Store, filter: &UserFilter) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct PathRow {
        path: String,
    }
    let mut sql = Sql::new("SELECT DISTINCT u.path AS path FROM users u");
    where_clause(store, filter, &mut sql).await?;
    sql.push(" ORDER BY path");
    Ok(store
        .fetch_all::<PathRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.path)
        .collect())
}

/// The user with this id.
pub async fn by_id<R: Reader>(db: &mut R, id: i64) -> Result<Option<UserRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u WHERE u.id = ")
        .bind(id);
    db.fetch_optional(&sql).await
}

/// The user with this username (exact).
pub async fn by_username<R: Reader>(
    db: &mut R,
    username: &str,
) -> Result<Option<UserRow>, StoreError> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM users u WHERE u.username = ")
        .bind(username);
    db.fetch_optional(&sql).await
}

/// Whether another user (not `except`) already has this username under ASCII case folding.
pub async fn username_taken<R: Reader>(
    db: &mut R,
    username: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    // Usernames are unique under ASCII case folding (the `users__username_folded__key` index).
    let mut sql = Sql::new("SELECT COUNT(*) FROM users WHERE LOWER(username) = ");
    sql.bind(username.to_ascii_lowercase());
    if let Some(id) = except {
        sql.push(" AND id <> ").bind(id);
    }
    Ok(db.fetch_scalar_i64(&sql).await? > 0)
}

/// What a user's relations contribute to its rendering: a direct group (with what `groups_obj`
/// shows of it), a direct role, or the mark of superuser status (through any group or its
/// ancestors). One row per relation; `kind` says which.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct RelationRow {
    /// `RELATION_GROUP`, `RELATION_ROLE` or `RELATION_SUPERUSER`.
    pub kind: i64,
    /// The user.
    pub user_id: i64,
    /// The group's id (0 for a role or the superuser mark).
    pub group_id: i64,
    /// Group or role uuid (empty for the superuser mark).
    pub uuid: String,
    /// Group or role name (empty for the superuser mark).
    pub name: String,
    /// Group superuser flag (false otherwise).
    pub is_superuser: bool,
    /// Group attributes as JSON text (empty otherwise).
    pub attributes: String,
    /// Role managed marker.
    pub managed: Option<String>,
}

/// A role held by a user.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct UserRoleRow {
    /// The holder.
    pub user_id: i64,
    /// Role uuid.
    pub uuid: String,
    /// Role name.
    pub name: String,
    /// Managed marker of the role.
    pub managed: Option<String>,
}

/// `RelationRow::kind` of a direct group membership.
pub const RELATION_GROUP: i64 = 0;
/// `RelationRow::kind` of a direct role.
pub const RELATION_ROLE: i64 = 1;
/// `RelationRow::kind` marking a superuser.
pub const RELATION_SUPERUSER: i64 = 2;

/// Which groups make their members superusers, for `relations`: already known (the ids of
/// `superuser_group_ids`, which a reader outside a transaction may keep for a write epoch), or
/// to be read with the relations.
#[derive(Debug, Clone, Copy)]
pub enum SuperuserGroups<'a> {
    /// These group ids.
    Known(&'a [i64]),
    /// Read them (one more statement, only when some of the users are in a group).
    Read,
}

/// Direct groups, direct roles and superuser status of the given users: groups by name, then
/// roles by name, then the superuser marks. With `SuperuserGroups::Known` this is one
/// statement; otherwise the marks (a recursive walk down from every superuser group) are read
/// by a second one, only when some of the users are in a group.
pub async fn relations<R: Reader>(
    db: &mut R,
    user_ids: &[i64],
    superuser_groups: SuperuserGroups<'_>,
) -> Result<Vec<RelationRow>, StoreError> {
    use SuperuserGroups::{Known, Read};
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = || user_ids.iter().copied();
    let mut sql = Sql::new(
        "SELECT CAST(0 AS BIGINT) AS kind, m.user_id, g.id AS group_id, g.uuid, g.name, \
         g.is_superuser, g.attributes, CAST(NULL AS TEXT) AS managed \
         FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id IN ",
    );
    sql.bind_list(ids())
        .push(
            " UNION ALL SELECT CAST(1 AS BIGINT), ur.user_id, CAST(0 AS BIGINT), r.uuid, r.name, \
             FALSE, '', r.managed \
             FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id IN ",
        )
        .bind_list(ids())
        .push(" ORDER BY kind, name, uuid");
    let mut rows: Vec<RelationRow> = db.fetch_all(&sql).await?;
    let mark = |user_id| RelationRow {
        kind: RELATION_SUPERUSER,
        user_id,
        group_id: 0,
        uuid: String::new(),
        name: String::new(),
        is_superuser: false,
        attributes: String::new(),
        managed: None,
    };
    let mut members: Vec<i64> = match superuser_groups {
        Known(granting) => rows
            .iter()
            .filter(|r| r.kind == RELATION_GROUP && granting.contains(&r.group_id))
            .map(|r| r.user_id)
            .collect(),
        Read => rows
            .iter()
            .filter(|r| r.kind == RELATION_GROUP)
            .map(|r| r.user_id)
            .collect(),
    };
    if members.is_empty() {
        return Ok(rows);
    }
    members.sort_unstable();
    members.dedup();
    let superusers = match superuser_groups {
        Known(_) => members,
        Read => superusers(db, &members).await?,
    };
    rows.extend(superusers.into_iter().map(mark));
    Ok(rows)
}

/// The ids of the groups whose members are superusers: superuser groups and all their
/// descendants.
pub async fn superuser_group_ids<R: Reader>(db: &mut R) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        id: i64,
    }
    let mut sql = Sql::new(SUPERUSER_GROUPS);
    sql.push("SELECT id FROM su_groups ORDER BY id");
    Ok(db
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Which of the given users are superusers (through any group or its ancestors).
pub async fn superusers<R: Reader>(db: &mut R, user_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    #[derive(sqlx::FromRow, serde::Deserialize)]
    struct IdRow {
        user_id: i64,
    }
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SUPERUSER_GROUPS);
    sql.push("SELECT DISTINCT m.user_id FROM group_members m WHERE m.group_id IN (SELECT id FROM su_groups) AND m.user_id IN ");
    sql.bind_list(user_ids.iter().copied());
    Ok(db
        .fetch_all::<IdRow>(&sql)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect())
}

/// Case folding used for search: Unicode lowercase, separator characters removed.
pub fn search_fold(text: &str) -> String {
    text.to_lowercase().replace(SEARCH_SEPARATOR, "")
}

const SEARCH_SEPARATOR: char = '\u{1f}';

/// The `search_text` of a user: the searchable fields folded, joined by a separator no search
/// term can contain, so a term matches inside one field only.
pub fn search_text(username: &str, name: &str, email: &str, uuid: &str) -> String {
    [username, name, email, uuid]
        .iter()
        .map(|s| search_fold(s))
        .collect::<Vec<_>>()
        .join(&SEARCH_SEPARATOR.to_string())
}

/// Values of a new user row.
#[derive(Debug, Clone)]
pub struct NewUser {
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
    /// Password hash or NULL.
    pub password_hash: Option<String>,
    /// Active flag.
    pub is_active: bool,
    /// Type.
    pub user_type: String,
    /// Path.
    pub path: String,
    /// JSON object text.
    pub attributes: String,
    /// Last login.
    pub last_login: Option<i64>,
    /// Creation time; also the first password change and last update.
    pub now: i64,
}

/// Inserts a user, returning its id.
pub async fn insert(tx: &mut Tx, user: &NewUser) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        "INSERT INTO users (uuid, username, name, first_name, last_name, email, password_hash, is_active, \
         type, path, attributes, last_login, date_joined, password_change_date, last_updated, search_text) VALUES (",
    );
    sql.bind(&user.uuid)
        .push(", ")
        .bind(&user.username)
        .push(", ")
        .bind(&user.name)
        .push(", ");
    sql.bind(&user.first_name)
        .push(", ")
        .bind(&user.last_name)
        .push(", ")
        .bind(&user.email)
        .push(", ");
    sql.bind(user.password_hash.clone())
        .push(", ")
        .bind(user.is_active)
        .push(", ")
        .bind(&user.user_type)
        .push(", ");
    sql.bind(&user.path)
        .push(", ")
        .bind(&user.attributes)
        .push(", ")
        .bind(user.last_login)
        .push(", ");
    sql.bind(user.now)
        .push(", ")
        .bind(user.now)
        .push(", ")
        .bind(user.now)
        .push(", ")
        .bind(search_text(
            &user.username,
            &user.name,
            &user.email,
            &user.uuid,
        ))
        .push(") RETURNING id");
    tx.fetch_scalar_i64(&sql).await
}

/// Column changes of an update; `None` leaves a column alone.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New username.
    pub username: Option<String>,
    /// New display name.
    pub name: Option<String>,
    /// New first name.
    pub first_name: Option<String>,
    /// New last name.
    pub last_name: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New password hash (inner `None` = unusable).
    pub password_hash: Option<Option<String>>,
    /// New active flag.
    pub is_active: Option<bool>,
    /// New type.
    pub user_type: Option<String>,
    /// New path.
    pub path: Option<String>,
    /// New attributes (JSON text).
    pub attributes: Option<String>,
    /// New last login.
    pub last_login: Option<Option<i64>>,
    /// New password change time.
    pub password_change_date: Option<i64>,
    /// New search text (set whenever username, name or email change).
    pub search_text: Option<String>,
}

/// Applies `changes` to user `id` and stamps `last_updated`; the row as it now stands, or
/// `None` when there is no such user.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    changes: &UserUpdate,
    now: i64,
) -> Result<Option<UserRow>, StoreError> {
    let mut sql = Sql::new("UPDATE users SET last_updated = ");
    sql.bind(now);
    let mut set = |column: &str, value: super::Arg| {
        sql.push(", ").push(column).push(" = ").bind(value);
    };
    if let Some(v) = &changes.username {
        set("username", v.into());
    }
    if let Some(v) = &changes.name {
        set("name", v.into());
    }
    if let Some(v) = &changes.first_name {
        set("first_name", v.into());
    }
    if let Some(v) = &changes.last_name {
        set("last_name", v.into());
    }
    if let Some(v) = &changes.email {
        set("email", v.into());
    }
    if let Some(v) = &changes.password_hash {
        set("password_hash", v.clone().into());
    }
    if let Some(v) = changes.is_active {
        set("is_active", v.into());
    }
    if let Some(v) = &changes.user_type {
        set("type", v.into());
    }
    if let Some(v) = &changes.path {
        set("path", v.into());
    }
    if let Some(v) = &changes.attributes {
        set("attributes", v.into());
    }
    if let Some(v) = changes.last_login {
        set("last_login", v.into());
    }
    if let Some(v) = changes.password_change_date {
        set("password_change_date", v.into());
    }
    if let Some(v) = &changes.search_text {
        set("search_text", v.into());
    }
    sql.push(" WHERE id = ")
        .bind(id)
        .push(" RETURNING ")
        .push(RETURNING_COLUMNS);
    tx.fetch_optional(&sql).await
}

/// Deletes user `id` (memberships and tokens cascade); returns rows touched.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<u64, StoreError> {
    let mut sql = Sql::new("DELETE FROM users WHERE id = ");
    sql.bind(id);
    tx.execute(&sql).await
}

/// Makes `group_ids` exactly the user's direct groups.
pub async fn replace_groups(
    tx: &mut Tx,
    user_id: i64,
    group_ids: &[i64],
) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM group_members WHERE user_id = ");
    sql.bind(user_id);
    tx.execute(&sql).await?;
    for group_id in group_ids {
        let mut sql = Sql::new("INSERT INTO group_members (user_id, group_id) VALUES (");
        sql.bind(user_id)
            .push(", ")
            .bind(*group_id)
            .push(") ON CONFLICT DO NOTHING");
        tx.execute(&sql).await?;
    }
    Ok(())
}

/// Makes `role_ids` exactly the user's direct roles.
pub async fn replace_roles(tx: &mut Tx, user_id: i64, role_ids: &[i64]) -> Result<(), StoreError> {
    let mut sql = Sql::new("DELETE FROM user_roles WHERE user_id = ");
    sql.bind(user_id);
    tx.execute(&sql).await?;
    for role_id in role_ids {
        let mut sql = Sql::new("INSERT INTO user_roles (user_id, role_id) VALUES (");
        sql.bind(user_id)
            .push(", ")
            .bind(*role_id)
            .push(") ON CONFLICT DO NOTHING");
        tx.execute(&sql).await?;
    }
    Ok(())
}

/// A group reached from a user through membership and parents.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct AncestorGroupRow {
    /// Group uuid.
    pub uuid: String,
    /// Group name.
    pub name: String,
    /// Group attributes (JSON text).
    pub attributes: String,
}

const USER_ANCESTRY: &str = "WITH RECURSIVE anc(id) AS (\
    SELECT group_id FROM group_members WHERE user_id = $1 \
    UNION SELECT gp.parent_id FROM group_parents gp JOIN anc a ON gp.child_id = a.id) ";

/// Every group of the user, directly or through ancestors, by name.
pub async fn ancestor_groups(
    store: &Store,
    user_id: i64,
) -> Result<Vec<AncestorGroupRow>, StoreError> {
    let sql = Sql::raw(
        &format!("{USER_ANCESTRY}SELECT g.uuid, g.name, g.attributes FROM groups g WHERE g.id IN (SELECT id FROM anc) ORDER BY g.name, g.uuid"),
        vec![user_id.into()],
    );
    store.fetch_all(&sql).await
}

/// The user's effective roles: direct ones and those of every group and ancestor, by name.
pub async fn effective_roles(store: &Store, user_id: i64) -> Result<Vec<UserRoleRow>, StoreError> {
    let text = format!(
        "{USER_ANCESTRY}SELECT DISTINCT $1 AS user_id, r.uuid, r.name, r.managed FROM roles r WHERE r.id IN (\
         SELECT role_id FROM user_roles WHERE user_id = $1 \
         UNION SELECT role_id FROM group_roles WHERE group_id IN (SELECT id FROM anc)) ORDER BY r.name, r.uuid"
    );
    store
        .fetch_all(&Sql::raw(&text, vec![user_id.into()]))
        .await
}

/// Records a successful interactive login, if the user is still active with this password
/// hash (whether a row matched).
pub async fn record_login(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("UPDATE users SET last_login = ");
    sql.bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND password_hash = ")
        .bind(password_hash)
        .push(" AND is_active = TRUE");
    Ok(tx.execute(&sql).await? == 1)
}

/// Replaces a user's password hash by `new` if it is still `old` (whether a row matched);
/// nothing else changes, `last_updated` included.
pub async fn replace_password_hash(
    tx: &mut Tx,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new("UPDATE users SET password_hash = ");
    sql.bind(new)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND password_hash = ")
        .bind(old);
    Ok(tx.execute(&sql).await? == 1)
}
