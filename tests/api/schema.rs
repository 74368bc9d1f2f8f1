//! Both backends' migrations must end in the same logical schema: the same tables with the same
//! columns.

use std::collections::BTreeMap;

use gatehouse::store::Store;
use sqlx::Row;

type Schema = BTreeMap<String, Vec<String>>;

async fn sqlite_schema() -> Schema {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-schema-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let store = Store::connect(&format!("sqlite://{}/s.db", dir.display()), 1)
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    let gatehouse::store::Pools::Sqlite { read, .. } = store.pools() else {
        panic!("sqlite store")
    };
    // users_search*, users_words*: FTS5's trigram and word index tables (PostgreSQL's trigram
    // index is an index).
    let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'users_search%' AND name NOT LIKE 'users_words%'")
        .fetch_all(read)
        .await
        .expect("tables");
    let mut schema = Schema::new();
    for t in tables {
        let name: String = t.get("name");
        let cols = sqlx::query(&format!(
            "SELECT name FROM pragma_table_info('{name}') ORDER BY cid"
        ))
        .fetch_all(read)
        .await
        .expect("columns");
        schema.insert(
            name,
            cols.iter().map(|c| c.get::<String, _>("name")).collect(),
        );
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
    schema
}

async fn postgres_schema(admin_url: &str) -> Schema {
    let schema_name = format!("s_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .expect("postgres reachable");
    sqlx::query(&format!("CREATE SCHEMA {schema_name}"))
        .execute(&admin)
        .await
        .expect("schema");
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let store = Store::connect(
        &format!("{admin_url}{sep}options=-c%20search_path%3D{schema_name}"),
        2,
    )
    .await
    .expect("open pg");
    store.migrate().await.expect("migrate pg");
    store.close().await;
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name, ordinal_position",
    )
    .bind(&schema_name)
    .fetch_all(&admin)
    .await
    .expect("columns");
    let mut schema = Schema::new();
    for r in rows {
        schema
            .entry(r.get::<String, _>("t"))
            .or_default()
            .push(r.get::<String, _>("c"));
    }
    sqlx::query(&format!("DROP SCHEMA {schema_name} CASCADE"))
        .execute(&admin)
        .await
        .expect("drop");
    admin.close().await;
    schema
}

#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = sqlite_schema().await;
    for table in [
        "users",
        "groups",
        "group_parents",
        "group_members",
        "roles",
        "user_roles",
        "group_roles",
        "tokens",
        "install",
        "user_tallies",
    ] {
        assert!(sqlite.contains_key(table), "sqlite lacks {table}");
    }
    if let Some(url) = crate::common::postgres_url() {
        let postgres = postgres_schema(&url).await;
        assert_eq!(sqlite, postgres);
    }
}
