//! Reads an authentik 2025.12 PostgreSQL database into an import [`Source`]: one read-only,
//! repeatable-read transaction, so the rows are one consistent snapshot even while authentik
//! runs. This is the source, not our store: plain sqlx queries on authentik's tables.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;

use crate::domain::import::{ImportGroup, ImportRole, ImportToken, ImportUser, Skip, Source};

/// Why the authentik database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The URL is unusable or the server did not answer.
    #[error("cannot connect to the authentik database: {0}")]
    Connect(String),
    /// A table or column is missing: not an authentik 2025.12 database.
    #[error("this does not look like an authentik 2025.12 database ({0})")]
    Schema(String),
    /// A query failed.
    #[error("reading the authentik database failed: {0}")]
    Query(String),
}

fn query_error(e: sqlx::Error) -> ReadError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
            ReadError::Schema(db.message().to_string())
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42703") => {
            ReadError::Schema(db.message().to_string())
        }
        _ => ReadError::Query(e.to_string()),
    }
}

/// authentik's placeholder user for anonymous access (django-guardian); never a login.
pub const ANONYMOUS_USER: &str = "AnonymousUser";

/// Microseconds since the epoch of a `timestamptz` column.
fn micros(column: &str) -> String {
    format!("(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint")
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    uuid: String,
    username: String,
    name: String,
    first_name: String,
    last_name: String,
    email: String,
    password: String,
    is_active: bool,
    user_type: String,
    path: String,
    attributes: String,
    last_login: Option<i64>,
    date_joined: i64,
    password_change_date: i64,
    last_updated: i64,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    uuid: String,
    name: String,
    is_superuser: bool,
    attributes: String,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    uuid: String,
    identifier: String,
    key: String,
    intent: String,
    user_id: i64,
    description: String,
    expires: Option<i64>,
    expiring: bool,
    managed: Option<String>,
}

/// Reads everything an import takes from the authentik database at `url`.
pub async fn read(url: &str) -> Result<Source, ReadError> {
    // Reading a whole table is slow by design; sqlx's slow-statement warnings would only be noise.
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| ReadError::Connect(e.to_string()))?
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| ReadError::Connect(e.to_string()))?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| ReadError::Connect(e.to_string()))?;
    let result = read_snapshot(&mut conn).await;
    drop(conn);
    pool.close().await;
    result
}

async fn read_snapshot(conn: &mut PgConnection) -> Result<Source, ReadError> {
    let mut tx = conn.begin().await.map_err(query_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(query_error)?;
    let mut source = Source {
        origin: "authentik database".into(),
        ..Source::default()
    };
    read_users(&mut tx, &mut source).await?;
    read_groups(&mut tx, &mut source).await?;
    read_roles(&mut tx, &mut source).await?;
    read_tokens(&mut tx, &mut source).await?;
    source.install_id =
        sqlx::query_scalar::<_, String>("SELECT id::text FROM authentik_install_id LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_error)?;
    tx.rollback().await.map_err(query_error)?;
    Ok(source)
}

async fn read_users(conn: &mut PgConnection, source: &mut Source) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT id::bigint AS id, uuid::text AS uuid, username, name, first_name, last_name, \
         email, password, is_active, type AS user_type, path, attributes::text AS attributes, \
         {} AS last_login, {} AS date_joined, {} AS password_change_date, {} AS last_updated \
         FROM authentik_core_user ORDER BY id",
        micros("last_login"),
        micros("date_joined"),
        micros("password_change_date"),
        micros("last_updated"),
    );
    let rows: Vec<UserRow> = sqlx::query_as(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(query_error)?;
    for r in rows {
        if r.username == ANONYMOUS_USER {
            source.skipped.push(Skip::new(
                "user",
                r.username,
                "authentik's AnonymousUser is a placeholder, not a login",
            ));
            continue;
        }
        let attributes = match serde_json::from_str(&r.attributes) {
            Ok(v) => v,
            Err(_) => {
                source
                    .skipped
                    .push(Skip::new("user", r.username, "attributes are not JSON"));
                continue;
            }
        };
        // Django marks an unusable password with a leading `!`.
        let password_hash = Some(r.password).filter(|p| !p.is_empty() && !p.starts_with('!'));
        source.users.push(ImportUser {
            pk: r.id,
            uuid: r.uuid,
            username: r.username,
            name: r.name,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            password_hash,
            is_active: r.is_active,
            user_type: r.user_type,
            path: r.path,
            attributes,
            last_login: r.last_login,
            date_joined: r.date_joined,
            password_change_date: r.password_change_date,
            last_updated: r.last_updated,
        });
    }
    let memberships: Vec<(i64, String)> = sqlx::query_as(
        "SELECT m.user_id::bigint, m.group_id::text FROM authentik_core_user_ak_groups m \
         JOIN authentik_core_user u ON u.id = m.user_id WHERE u.username <> $1 ORDER BY m.id",
    )
    .bind(ANONYMOUS_USER)
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    source.memberships = memberships;
    Ok(())
}

async fn read_groups(conn: &mut PgConnection, source: &mut Source) -> Result<(), ReadError> {
    let rows: Vec<GroupRow> = sqlx::query_as(
        "SELECT group_uuid::text AS uuid, name, is_superuser, attributes::text AS attributes \
         FROM authentik_core_group ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    let parents: Vec<(String, String)> = sqlx::query_as(
        "SELECT child_id::text, parent_id::text FROM authentik_core_groupparentage \
         ORDER BY child_id, parent_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    for r in rows {
        let Ok(attributes) = serde_json::from_str(&r.attributes) else {
            source
                .skipped
                .push(Skip::new("group", r.name, "attributes are not JSON"));
            continue;
        };
        let parents = parents
            .iter()
            .filter(|(child, _)| *child == r.uuid)
            .map(|(_, parent)| parent.clone())
            .collect();
        source.groups.push(ImportGroup {
            uuid: r.uuid,
            name: r.name,
            is_superuser: r.is_superuser,
            attributes,
            parents,
        });
    }
    Ok(())
}

async fn read_roles(conn: &mut PgConnection, source: &mut Source) -> Result<(), ReadError> {
    let roles: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT uuid::text, name, managed FROM authentik_rbac_role ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .map_err(query_error)?;
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT g.role_id::text, ct.app_label || '.' || p.codename \
         FROM guardian_rolemodelpermission g \
         JOIN auth_permission p ON p.id = g.permission_id \
         JOIN django_content_type ct ON ct.id = p.content_type_id ORDER BY g.id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    for (uuid, name, managed) in roles {
        let permissions = grants
            .iter()
            .filter(|(role, _)| *role == uuid)
            .map(|(_, dotted)| dotted.clone())
            .collect();
        source.roles.push(ImportRole {
            uuid,
            name,
            managed,
            permissions,
        });
    }
    let object_grants: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT r.name, ct.app_label || '.' || p.codename, o.object_pk \
         FROM guardian_roleobjectpermission o JOIN authentik_rbac_role r ON r.uuid = o.role_id \
         JOIN auth_permission p ON p.id = o.permission_id \
         JOIN django_content_type ct ON ct.id = p.content_type_id ORDER BY o.id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    for (role, dotted, object) in object_grants {
        source.skipped.push(Skip::new(
            "object permission",
            format!("{role}: {dotted} on {object}"),
            "object permissions are not imported",
        ));
    }
    source.group_roles = sqlx::query_as(
        "SELECT group_id::text, role_id::text FROM authentik_core_group_roles ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    source.user_roles = sqlx::query_as(
        "SELECT r.user_id::bigint, r.role_id::text FROM authentik_core_user_roles r \
         JOIN authentik_core_user u ON u.id = r.user_id WHERE u.username <> $1 ORDER BY r.id",
    )
    .bind(ANONYMOUS_USER)
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error)?;
    Ok(())
}

async fn read_tokens(conn: &mut PgConnection, source: &mut Source) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT token_uuid::text AS uuid, identifier, key, intent, user_id::bigint AS user_id, \
         description, {} AS expires, expiring, managed FROM authentik_core_token ORDER BY identifier",
        micros("expires")
    );
    let rows: Vec<TokenRow> = sqlx::query_as(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(query_error)?;
    for r in rows {
        source.tokens.push(ImportToken {
            id: None,
            uuid: r.uuid,
            identifier: r.identifier,
            key: r.key,
            intent: r.intent,
            user_pk: r.user_id,
            description: r.description,
            expires: r.expires,
            expiring: r.expiring,
            managed: r.managed,
            created: None,
        });
    }
    Ok(())
}
