//! Entry points for the fuzz targets in `fuzz/` and the property tests: the request parsers
//! that run before any database (DjangoQL search, list query strings of both dialects, write
//! bodies), driven end to end with arbitrary input, and the SQL the filters compile to. Not
//! part of gatehouse's interface; nothing here is reached by a request.
//!
//! Each function panics only on a bug: a parser panicking, or compiled SQL whose text is
//! malformed (user text must only ever be bound, never spliced into the SQL text).

use serde_json::Value;

use crate::api::authentik::pagination::PageRequest;
use crate::api::authentik::{groups, ql, rbac, tokens, users};
use crate::api::awx::AwxPage;
use crate::api::body::JsonBody;
use crate::api::query::parse_python_int;
use crate::api::query::{attributes_filter, search_terms, Params};
use crate::domain::filter::Filter;
use crate::domain::groups::GroupField;
use crate::domain::users::UserField;
use crate::store::filter::{compile, Schema};
use crate::store::groups::GroupSchema;
use crate::store::users::UserSchema;
use crate::store::{Dialect, Sql};

/// authentik's `?search=` for users and groups: DjangoQL first, plain search terms otherwise,
/// as the list handlers do. Returns whether it parsed as DjangoQL for users and for groups.
pub fn search(text: &str) -> (bool, bool) {
    let text = text.replace('\0', "");
    let user = ql::parse_user_query(&text);
    let group = ql::parse_group_query(&text);
    if let Some(filter) = &user {
        sql::<UserSchema>(filter);
    }
    if let Some(filter) = &group {
        sql::<GroupSchema>(filter);
    }
    for term in search_terms(&text) {
        assert!(!term.is_empty(), "empty search term from {text:?}");
    }
    (user.is_some(), group.is_some())
}

/// A raw list query string as both dialects read it: authentik's parameters, ordering, page,
/// `attributes` and `search`; AWX's field lookups, ordering and page. Every filter that parses
/// is compiled to SQL for both backends.
pub fn list_query(raw: &str) {
    let params = Params::parse(Some(raw));
    let orderable = [("username", 0), ("name", 1), ("pk", 2)];
    let keys = params.ordering(&orderable, 0);
    assert!(!keys.is_empty() && keys.len() <= orderable.len());
    let _ = params.flag("include_users", true);
    let _ = params.boolean("is_active");
    for count in [0, 1, 20, 101, i64::MAX / 2] {
        if let Ok(page) = PageRequest::from_params(&params).resolve(count) {
            assert!(page.offset >= 0 && page.limit > 0, "{page:?} for {raw:?}");
            assert!(page.start_index <= page.end_index, "{page:?} for {raw:?}");
        }
        if let Ok(page) = AwxPage::resolve(&params, count) {
            assert!(page.offset >= 0 && page.limit > 0, "for {raw:?}");
        }
    }
    for value in params.all("page") {
        let _ = parse_python_int(value);
    }
    if let Some(attributes) = params.last("attributes") {
        if let Ok(filter) =
            attributes_filter::<_, crate::domain::users::UserRel>(attributes, UserField::Attributes)
        {
            sql::<UserSchema>(&filter);
        }
        if let Ok(filter) = attributes_filter::<_, crate::domain::groups::GroupRel>(
            attributes,
            GroupField::Attributes,
        ) {
            sql::<GroupSchema>(&filter);
        }
    }
    if let Some(text) = params.last("search") {
        search(text);
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    if let Ok(filter) = crate::api::awx::users::list_filter(&params, &pairs) {
        sql::<UserSchema>(&filter);
    }
    if let Ok(sort) = crate::api::awx::users::ordering(&params) {
        assert!(!sort.is_empty() && sort.len() <= 17, "{sort:?} for {raw:?}");
    }
}

/// A request body (any bytes) as every write endpoint reads it, for create, replace and
/// partial update. Returns whether the bytes were JSON.
pub fn json_body(bytes: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let body = || JsonBody(value.clone());
    for full in [true, false] {
        let _ = users::read_user_changes(body(), full);
        let _ = groups::read_group_changes(body(), full);
        let _ = tokens::read_token_changes(body(), full);
        let _ = rbac::read_role_name(body(), full);
        let _ = crate::api::awx::users::read_changes(body(), full, full);
        let _ = crate::api::awx::users::read_changes(body(), false, full);
    }
    let _ = rbac::read_grant_body(body());
    true
}

/// Compiles `filter` for both backends and checks the SQL text's shape.
fn sql<S: Schema>(filter: &Filter<S::Field, S::Rel>)
where
    S::Context: Default,
{
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let mut out = Sql::new("SELECT 1 WHERE ");
        compile::<S>(filter, dialect, &S::Context::default(), &mut out);
        let text = out.text();
        let mut depth = 0i64;
        let mut quoted = false;
        for c in text.chars() {
            match c {
                '\'' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "unbalanced SQL: {text}");
        }
        assert!(depth == 0 && !quoted, "unbalanced SQL: {text}");
        assert!(!text.contains('\0'), "NUL in SQL text: {text}");
    }
}
