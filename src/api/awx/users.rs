//! `/api/v2/users/`: AWX's user shape and rules over the same directory rows authentik's
//! dialect shows. `first_name`/`last_name` are columns of their own (and set `name`),
//! `is_superuser` is direct membership of the superuser group, `is_system_auditor` a built-in
//! role; permissions go through the one authorization function.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use super::caller::AwxCaller;
use super::{detail, forbidden, with_allow, AwxError, AwxPage};
use crate::api::authentik::query::{search_terms, Params};
use crate::api::body::JsonBody;
use crate::api::error::json_response;
use crate::api::extract::{Lookup, WriteMode};
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::routing::{Methods, Route};
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, Denied, Principal, Visibility};
use crate::domain::error::Kind;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::users::{self, User, UserChanges, UserField, UserFilter, UserRel, UserSort};
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The users list view's methods.
const LIST: Methods = Methods::LIST_CREATE;
/// The user detail view's methods.
const DETAIL: Methods = Methods::RETRIEVE_UPDATE_DESTROY;

/// The users routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v2/users/",
            Route::new()
                .get(list)
                .post(create)
                .options(list_options)
                .within(LIST),
        )
        .route(
            "/api/v2/users/{key}/",
            Route::new()
                .get(retrieve)
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(detail_options)
                .within(DETAIL),
        )
}

/// The user a URL segment names: a numeric id, or a username (AWX's named URL).
pub async fn resolve_user(state: &AppState, key: &str) -> Result<User, AwxError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(users::get(&state.store, id).await?);
    }
    let filter = Filter::Compare(UserField::Username, Cmp::Eq, Literal::Text(key.to_string()));
    users::list(&state.store, &filter, &[], 1, 0)
        .await?
        .pop()
        .ok_or(AwxError(DomainError::NotFound(Kind::User).into()))
}

/// Whether the caller may see a user in AWX's terms: every user with view permission
/// (superusers, system auditors), otherwise oneself and the superusers.
pub(crate) fn may_see(caller: &Principal, user: &User) -> bool {
    user.id == caller.user_id
        || user.is_superuser
        || crate::domain::authz::may_see(caller, "authentik_core.view_user", &user.id.to_string())
            .is_ok()
}

async fn superuser_count(state: &AppState) -> Result<i64, AwxError> {
    Ok(users::count(
        &state.store,
        &Filter::Rel(UserRel::EffectiveSuperuser(true)),
    )
    .await?)
}

fn remove_action(user: &User, superusers: i64) -> Action {
    Action::RemoveAccount {
        id: user.id,
        last_superuser: user.is_superuser && superusers <= 1,
    }
}

fn may_delete(caller: &Principal, user: &User, superusers: i64) -> bool {
    authorize(caller, remove_action(user, superusers)).is_ok()
}

fn may_edit(caller: &Principal, user: &User) -> bool {
    authorize(caller, Action::EditUserProfile(user.id)).is_ok()
}

fn render(user: &User, caller: &Principal, superusers: i64, detail_view: bool) -> Value {
    let base = format!("/api/v2/users/{}/", user.id);
    let mut related = Map::new();
    if detail_view {
        related.insert(
            "named_url".into(),
            json!(format!("/api/v2/users/{}/", user.username)),
        );
    }
    for name in [
        "teams",
        "organizations",
        "admin_of_organizations",
        "projects",
        "credentials",
        "roles",
        "activity_stream",
        "access_list",
        "tokens",
        "authorized_tokens",
        "personal_tokens",
    ] {
        related.insert(name.into(), json!(format!("{base}{name}/")));
    }
    json!({
        "id": user.id,
        "type": "user",
        "url": base,
        "related": related,
        "summary_fields": {
            "resource": {"ansible_id": user.uuid, "resource_type": "shared.user"},
            "user_capabilities": {"edit": may_edit(caller, user), "delete": may_delete(caller, user, superusers)}
        },
        "created": user.date_joined.to_drf(),
        "modified": user.last_login.map(Timestamp::to_drf),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_superuser": user.is_superuser,
        "is_system_auditor": user.is_system_auditor,
        "password": "$encrypted$",
        "ldap_dn": "",
        "last_login": user.last_login.map(Timestamp::to_drf),
        "external_account": null,
        "auth": []
    })
}

/// One user in AWX's shape (`detail_view` adds `related.named_url`).
pub async fn user_json(
    state: &AppState,
    caller: &Principal,
    user: &User,
    detail_view: bool,
) -> Result<Value, AwxError> {
    Ok(render(
        user,
        caller,
        superuser_count(state).await?,
        detail_view,
    ))
}

fn field(kind: &str, label: &str, extra: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("hidden".into(), json!(false));
    m.insert("label".into(), json!(label));
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// OPTIONS field metadata: `actions.POST`/`PUT` (`writable`) or `actions.GET`.
pub fn users_metadata_fields(writable: bool) -> Value {
    let username_help = "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.";
    let mut m = Map::new();
    if writable {
        m.insert("username".into(), json!({"type": "string", "required": true, "hidden": false, "label": "Username", "help_text": username_help, "max_length": 150, "filterable": true}));
        m.insert("first_name".into(), json!({"type": "string", "required": false, "hidden": false, "label": "First name", "max_length": 150, "filterable": true}));
        m.insert("last_name".into(), json!({"type": "string", "required": false, "hidden": false, "label": "Last name", "max_length": 150, "filterable": true}));
        m.insert("email".into(), json!({"type": "string", "required": false, "hidden": false, "label": "Email address", "max_length": 254, "filterable": true}));
        m.insert("is_superuser".into(), json!({"type": "boolean", "required": false, "hidden": false, "label": "Superuser status", "help_text": "Designates that this user has all permissions without explicitly assigning them.", "filterable": true, "default": false}));
        m.insert("is_system_auditor".into(), json!({"type": "boolean", "required": false, "hidden": false, "label": "Is system auditor", "filterable": false, "default": false}));
        m.insert("password".into(), json!({"type": "string", "required": false, "hidden": false, "label": "Password", "help_text": "Field used to change the password.", "filterable": false, "default": ""}));
        return Value::Object(m);
    }
    m.insert(
        "id".into(),
        field(
            "integer",
            "ID",
            json!({"help_text": "Database ID for this user.", "filterable": true}),
        ),
    );
    m.insert(
        "type".into(),
        field(
            "choice",
            "Type",
            json!({"help_text": "Data type for this user.", "choices": [["user", "User"]]}),
        ),
    );
    m.insert(
        "url".into(),
        field(
            "string",
            "Url",
            json!({"help_text": "URL for this user.", "filterable": false}),
        ),
    );
    m.insert("related".into(), field("object", "Related", json!({"help_text": "Data structure with URLs of related resources.", "filterable": false})));
    m.insert("summary_fields".into(), field("object", "Summary fields", json!({"help_text": "Data structure with name/description for related resources.  The output for some objects may be limited for performance reasons.", "filterable": false})));
    m.insert(
        "created".into(),
        field(
            "datetime",
            "Created",
            json!({"help_text": "Timestamp when this user was created.", "filterable": false}),
        ),
    );
    m.insert("modified".into(), field("datetime", "Modified", json!({"help_text": "Timestamp when this user was last modified.", "filterable": false})));
    m.insert(
        "username".into(),
        field(
            "string",
            "Username",
            json!({"help_text": username_help, "filterable": true}),
        ),
    );
    m.insert(
        "first_name".into(),
        field("string", "First name", json!({"filterable": true})),
    );
    m.insert(
        "last_name".into(),
        field("string", "Last name", json!({"filterable": true})),
    );
    m.insert(
        "email".into(),
        field("string", "Email address", json!({"filterable": true})),
    );
    m.insert("is_superuser".into(), field("boolean", "Superuser status", json!({"help_text": "Designates that this user has all permissions without explicitly assigning them.", "filterable": true})));
    m.insert(
        "is_system_auditor".into(),
        field("boolean", "Is system auditor", json!({"filterable": false})),
    );
    m.insert(
        "ldap_dn".into(),
        field("string", "Ldap dn", json!({"filterable": false})),
    );
    m.insert(
        "last_login".into(),
        field("datetime", "Last login", json!({"filterable": true})),
    );
    m.insert("external_account".into(), field("field", "External account", json!({"help_text": "Set if the account is managed by an external service", "filterable": false})));
    Value::Object(m)
}

async fn list_options(AwxCaller(caller): AwxCaller) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), users_metadata_fields(false));
    if authorize(&caller, Action::AddUser).is_ok() {
        actions.insert("POST".into(), users_metadata_fields(true));
    }
    let body = json!({
        "name": "User List",
        "description": "# List Users:\n\nMake a GET request to this resource to retrieve the list of users.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": actions,
        "types": ["user"],
        "search_fields": ["username", "first_name", "last_name", "email"],
        "related_search_fields": [],
        "max_page_size": 200
    });
    with_allow(json_response(StatusCode::OK, &body), LIST)
}

/// The detail OPTIONS: `Allow` whatever the object (the CLI probes id 1 for every resource).
async fn detail_options(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Lookup(key): Lookup,
) -> Response {
    let mut actions = Map::new();
    actions.insert("GET".into(), users_metadata_fields(false));
    if let Ok(user) = resolve_user(&state, &key).await {
        if may_edit(&caller, &user) {
            actions.insert("PUT".into(), users_metadata_fields(true));
        }
    }
    let body = json!({
        "name": "User Detail",
        "description": "# Retrieve a User:\n\nMake GET request to this resource to retrieve a single user.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": actions,
        "types": ["user"]
    });
    with_allow(json_response(StatusCode::OK, &body), DETAIL)
}

// ---------------------------------------------------------------- filters

const RESERVED: [&str; 12] = [
    "page",
    "page_size",
    "format",
    "order",
    "order_by",
    "search",
    "type",
    "host_filter",
    "count_disabled",
    "no_truncate",
    "limit",
    "validate",
];

fn no_field(name: &str) -> AwxError {
    detail(
        StatusCode::BAD_REQUEST,
        &format!("User has no field named '{name}'"),
    )
}

/// The column a field name means (`created` is `date_joined`).
fn column(name: &str) -> Option<UserField> {
    Some(match name {
        "id" => UserField::Id,
        "username" => UserField::Username,
        "first_name" => UserField::FirstName,
        "last_name" => UserField::LastName,
        "email" => UserField::Email,
        "is_active" => UserField::IsActive,
        "last_login" => UserField::LastLogin,
        "date_joined" | "created" => UserField::DateJoined,
        _ => return None,
    })
}

fn literal(field: UserField, name: &str, raw: &str) -> Result<Literal, AwxError> {
    match field {
        UserField::Id => raw.trim().parse::<i64>().map(Literal::Int).map_err(|_| detail(StatusCode::BAD_REQUEST, &format!("Field '{name}' expected a number but got '{raw}'."))),
        UserField::IsActive => to_bool(raw).map(Literal::Bool).ok_or_else(|| detail(StatusCode::BAD_REQUEST, &format!("'{raw}' value must be either True or False."))),
        UserField::LastLogin | UserField::DateJoined => Timestamp::parse(raw)
            .map(Literal::Time)
            .ok_or_else(|| detail(StatusCode::BAD_REQUEST, &format!("'{raw}' value has an invalid format. It must be in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format."))),
        _ => Ok(Literal::Text(raw.to_string())),
    }
}

fn to_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "y" | "on" => Some(true),
        "false" | "0" | "f" | "no" | "n" | "off" | "" => Some(false),
        _ => None,
    }
}

/// One `field[__lookup]=value` term.
fn term(name: &str, raw: &str) -> Result<UserFilter, AwxError> {
    const LOOKUPS: [&str; 17] = [
        "exact",
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "regex",
        "iregex",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "isnull",
        "search",
    ];
    let (field_name, lookup) = match name.rsplit_once("__") {
        Some((f, l)) if LOOKUPS.contains(&l) => (f, l),
        _ => (name, "exact"),
    };
    if field_name == "password" || field_name.starts_with("password__") {
        return Err(detail(
            StatusCode::FORBIDDEN,
            "Filtering on password is not allowed.",
        ));
    }
    if field_name == "is_superuser" {
        let wanted = match lookup {
            "exact" => to_bool(raw),
            "isnull" => {
                return Ok(if to_bool(raw) == Some(true) {
                    Filter::Nothing
                } else {
                    Filter::All
                })
            }
            _ => None,
        }
        .ok_or_else(|| {
            detail(
                StatusCode::BAD_REQUEST,
                &format!("'{raw}' value must be either True or False."),
            )
        })?;
        return Ok(Filter::Rel(UserRel::DirectSuperuser(wanted)));
    }
    if !field_name.is_ascii() {
        return Err(detail(
            StatusCode::BAD_REQUEST,
            &format!("{field_name} is not an allowed field name. Must be ascii encodable."),
        ));
    }
    let field = column(field_name).ok_or_else(|| no_field(field_name))?;
    let text_field = matches!(
        field,
        UserField::Username | UserField::FirstName | UserField::LastName | UserField::Email
    );
    // Stored text never holds NUL (PostgreSQL refuses it), so a text value with one matches
    // nothing; in an `__in` list such a value is left out.
    if text_field && raw.contains('\0') && !matches!(lookup, "isnull" | "in") {
        return Ok(Filter::Nothing);
    }
    Ok(match lookup {
        "exact" => Filter::Compare(field, Cmp::Eq, literal(field, field_name, raw)?),
        "gt" => Filter::Compare(field, Cmp::Gt, literal(field, field_name, raw)?),
        "gte" => Filter::Compare(field, Cmp::Ge, literal(field, field_name, raw)?),
        "lt" => Filter::Compare(field, Cmp::Lt, literal(field, field_name, raw)?),
        "lte" => Filter::Compare(field, Cmp::Le, literal(field, field_name, raw)?),
        "isnull" => {
            let f = Filter::IsNull(field);
            if to_bool(raw).unwrap_or(false) {
                f
            } else {
                Filter::Not(Box::new(f))
            }
        }
        "in" => {
            if raw.is_empty() {
                return Err(detail(
                    StatusCode::BAD_REQUEST,
                    "in lookups need at least one value",
                ));
            }
            let values: Result<Vec<Literal>, AwxError> = raw
                .split(',')
                .filter(|v| !(text_field && v.contains('\0')))
                .map(|v| literal(field, field_name, v))
                .collect();
            Filter::In(field, values?)
        }
        _ if !text_field => {
            return Err(detail(StatusCode::BAD_REQUEST, &format!("{field_name} is not a text field and cannot be filtered by case-insensitive search")));
        }
        "iexact" => Filter::IExact(field, raw.to_string()),
        "contains" | "icontains" | "search" => Filter::IContains(field, raw.to_string()),
        "startswith" => Filter::StartsWith(field, raw.to_string()),
        "istartswith" => Filter::IStartsWith(field, raw.to_string()),
        "endswith" => Filter::EndsWith(field, raw.to_string()),
        "iendswith" => Filter::IEndsWith(field, raw.to_string()),
        _ => {
            return Err(detail(
                StatusCode::BAD_REQUEST,
                &format!("Lookup '{lookup}' is not supported on users."),
            ))
        }
    })
}

/// Most field lookups one query may filter by.
pub const MAX_FILTER_TERMS: usize = 200;
/// Most values (of `__in` lists and single lookups together) one query may filter by.
pub const MAX_FILTER_VALUES: usize = 10_000;

/// AWX's field-lookup filters: `field[__lookup]=v`, `or__…` (one OR group), `not__…`, `chain__…`,
/// plus `search` over username, first and last name and e-mail.
///
/// At most `MAX_FILTER_TERMS` lookups and `MAX_FILTER_VALUES` values in all: SQLite refuses
/// expressions nested deeper than 1,000 and statements with more than 32,766 parameters, so a
/// query string of thousands of lookups would otherwise fail in the database.
pub(crate) fn list_filter(
    params: &Params,
    pairs: &[(String, String)],
) -> Result<UserFilter, AwxError> {
    let mut and_parts = Vec::new();
    let mut or_parts = Vec::new();
    let (mut terms, mut values) = (0usize, 0usize);
    for (key, value) in pairs {
        if RESERVED.contains(&key.as_str()) {
            continue;
        }
        terms += 1;
        values += if key.ends_with("__in") {
            1 + value.matches(',').count()
        } else {
            1
        };
        if terms > MAX_FILTER_TERMS || values > MAX_FILTER_VALUES {
            return Err(detail(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Too many filters: at most {MAX_FILTER_TERMS} lookups with {MAX_FILTER_VALUES} values in all."
                ),
            ));
        }
        let mut name = key.as_str();
        let mut in_or = false;
        let mut negate = false;
        loop {
            if let Some(rest) = name.strip_prefix("or__") {
                in_or = true;
                name = rest;
            } else if let Some(rest) = name.strip_prefix("not__") {
                negate = !negate;
                name = rest;
            } else if let Some(rest) = name.strip_prefix("chain__") {
                name = rest;
            } else {
                break;
            }
        }
        let mut f = term(name, value)?;
        if negate {
            f = Filter::Not(Box::new(f));
        }
        if in_or {
            or_parts.push(f);
        } else {
            and_parts.push(f);
        }
    }
    if !or_parts.is_empty() {
        and_parts.push(Filter::Or(or_parts));
    }
    if let Some(search) = params.last("search") {
        for t in search_terms(search) {
            and_parts.push(Filter::Or(
                [
                    UserField::Username,
                    UserField::FirstName,
                    UserField::LastName,
                    UserField::Email,
                ]
                .into_iter()
                .map(|f| Filter::IContains(f, t.clone()))
                .collect(),
            ));
        }
    }
    Ok(Filter::and(and_parts))
}

pub(crate) fn ordering(params: &Params) -> Result<Vec<(UserSort, Direction)>, AwxError> {
    let mut keys = Vec::new();
    if let Some(raw) = params.last("order_by").or_else(|| params.last("order")) {
        for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (name, dir) = match t.strip_prefix('-') {
                Some(n) => (n, Direction::Desc),
                None => (t, Direction::Asc),
            };
            if name == "type" {
                continue;
            }
            let sort = if name == "is_superuser" {
                UserSort::IsSuperuser
            } else {
                UserSort::Field(column(name).ok_or_else(|| no_field(name))?)
            };
            if !keys.iter().any(|(s, _)| *s == sort) && keys.len() < 16 {
                keys.push((sort, dir));
            }
        }
    }
    keys.push((UserSort::Field(UserField::Username), Direction::Asc));
    Ok(keys)
}

// ---------------------------------------------------------------- handlers

async fn list(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, AwxError> {
    let params = Params::parse(query.as_deref());
    let pairs: Vec<(String, String)> = query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut filter = list_filter(&params, &pairs)?;
    let visible = match visibility(&caller, "authentik_core.view_user") {
        Visibility::All => Filter::All,
        Visibility::Only(ids) => Filter::Or(vec![
            Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(caller.user_id)),
            Filter::Rel(UserRel::EffectiveSuperuser(true)),
            Filter::In(
                UserField::Id,
                ids.iter()
                    .filter_map(|i| i.parse().ok())
                    .map(Literal::Int)
                    .collect(),
            ),
        ]),
        Visibility::Nothing => Filter::Or(vec![
            Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(caller.user_id)),
            Filter::Rel(UserRel::EffectiveSuperuser(true)),
        ]),
    };
    filter = Filter::and(vec![visible, filter]);
    let sort = ordering(&params)?;
    let count = users::count_cached(&state.store, &state.user_counts, &filter).await?;
    let page = AwxPage::resolve(&params, count)?;
    let rows = users::list_cached(
        &state.store,
        &state.users,
        &filter,
        &sort,
        page.limit,
        page.offset,
    )
    .await?;
    let superusers = superuser_count(&state).await?;
    let results = rows
        .iter()
        .map(|u| render(u, &caller, superusers, false))
        .collect();
    let body = page.envelope("/api/v2/users/", query.as_deref(), count, results);
    Ok(with_allow(json_response(StatusCode::OK, &body), LIST))
}

/// What an AWX body asks to change; `creating` requires `username` and `password`.
pub(crate) fn read_changes(
    body: JsonBody,
    creating: bool,
    full: bool,
) -> Result<(UserChanges, FieldErrors), AwxError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut c = UserChanges::default();
    if !(creating || full) || input.require("username") {
        c.username = input.string("username", Str::REQUIRED_TEXT.max(150));
    }
    for (name, slot) in [
        ("first_name", &mut c.first_name),
        ("last_name", &mut c.last_name),
    ] {
        *slot = match obj.get(name) {
            Some(Value::Null) => Some(String::new()),
            _ => input.string(name, Str::TEXT.max(150)),
        };
    }
    c.email = match obj.get("email") {
        Some(Value::Null) => Some(String::new()),
        _ => input.string("email", Str::TEXT.max(254)),
    };
    c.superuser = match obj.get("is_superuser") {
        Some(Value::Null) => Some(false),
        Some(Value::String(s)) if s.is_empty() => Some(false),
        _ => input.boolean("is_superuser"),
    };
    c.system_auditor = input.boolean("is_system_auditor");
    let password = match obj.get("password") {
        None | Some(Value::Null) => None,
        Some(_) => input.string(
            "password",
            Str {
                allow_blank: true,
                max_len: None,
                trim: false,
            },
        ),
    };
    match password.as_deref() {
        None | Some("") | Some("$encrypted$") => {
            if creating {
                input
                    .errors
                    .add("password", "Password required for new User.");
            }
        }
        Some(p) if p.chars().count() > 128 => {
            input.errors.add("password", "Password max length is 128")
        }
        Some(p) => c.password = Some(Some(p.to_string())),
    }
    Ok((c, input.errors))
}

/// `name` = "first last" whenever AWX sets either part.
fn sync_name(c: &mut UserChanges, current: Option<&User>) {
    if c.first_name.is_none() && c.last_name.is_none() {
        return;
    }
    let first = c
        .first_name
        .clone()
        .or_else(|| current.map(|u| u.first_name.clone()))
        .unwrap_or_default();
    let last = c
        .last_name
        .clone()
        .or_else(|| current.map(|u| u.last_name.clone()))
        .unwrap_or_default();
    c.name = Some(format!("{first} {last}").trim().to_string());
}

fn created_response(value: Value, id: i64, status: StatusCode) -> Response {
    let mut r = with_allow(json_response(status, &value), LIST);
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("/api/v2/users/{id}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
    r
}

async fn create(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, AwxError> {
    authorize(&caller, Action::AddUser).map_err(|_| forbidden())?;
    let (mut changes, errors) = read_changes(body, true, true)?;
    if (changes.superuser == Some(true) || changes.system_auditor == Some(true))
        && !caller.is_superuser
    {
        return Err(forbidden());
    }
    sync_name(&mut changes, None);
    if changes.name.is_none() {
        changes.name = Some(String::new());
    }
    let user = users::create(&state.store, changes, errors, &meta.audit(Some(&caller))).await?;
    let value = user_json(&state, &caller, &user, true).await?;
    Ok(created_response(value, user.id, StatusCode::CREATED))
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Lookup(key): Lookup,
) -> Result<Response, AwxError> {
    let user = resolve_user(&state, &key).await?;
    if !may_see(&caller, &user) {
        return Err(AwxError(DomainError::NotFound(Kind::User).into()));
    }
    let value = user_json(&state, &caller, &user, true).await?;
    Ok(with_allow(json_response(StatusCode::OK, &value), DETAIL))
}

/// PUT and PATCH of one user.
async fn write(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(key): Lookup,
    body: JsonBody,
) -> Result<Response, AwxError> {
    let user = resolve_user(&state, &key).await?;
    if !may_see(&caller, &user) {
        return Err(AwxError(DomainError::NotFound(Kind::User).into()));
    }
    let (mut changes, errors) = read_changes(body, false, mode.is_full())?;
    // AWX's rules, decided by the one authorization function: anyone may edit their own
    // profile; renaming needs change_user; superuser and auditor status are for superusers, but
    // users may drop their own auditor status.
    authorize(&caller, Action::EditUserProfile(user.id)).map_err(|_| forbidden())?;
    if changes
        .username
        .as_ref()
        .is_some_and(|u| *u != user.username)
    {
        authorize(&caller, Action::RenameUser(user.id)).map_err(|d| match d {
            Denied::Protected => detail(StatusCode::FORBIDDEN, "Cannot change username."),
            _ => forbidden(),
        })?;
    }
    let flips_superuser = changes.superuser.is_some_and(|s| s != user.is_superuser);
    let flips_auditor = changes
        .system_auditor
        .is_some_and(|a| a != user.is_system_auditor);
    if flips_superuser || flips_auditor {
        let action = if !flips_superuser && changes.system_auditor == Some(false) {
            Action::DropOwnAuditor(user.id)
        } else {
            Action::ChangePrivileges(user.id)
        };
        authorize(&caller, action).map_err(|_| forbidden())?;
    }
    if !flips_superuser {
        changes.superuser = None;
    }
    if !flips_auditor {
        changes.system_auditor = None;
    }
    if changes.superuser == Some(false) && user.is_superuser && superuser_count(&state).await? <= 1
    {
        return Err(AwxError(
            DomainError::Invalid(FieldErrors::single(
                "is_superuser",
                "Cannot remove the last superuser.",
            ))
            .into(),
        ));
    }
    sync_name(&mut changes, Some(&user));
    let updated = users::update(
        &state.store,
        user.id,
        changes,
        errors,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let value = user_json(&state, &caller, &updated, true).await?;
    Ok(with_allow(json_response(StatusCode::OK, &value), DETAIL))
}

async fn destroy(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    Lookup(key): Lookup,
) -> Result<Response, AwxError> {
    let user = resolve_user(&state, &key).await?;
    if !may_see(&caller, &user) {
        return Err(AwxError(DomainError::NotFound(Kind::User).into()));
    }
    let superusers = superuser_count(&state).await?;
    authorize(&caller, remove_action(&user, superusers)).map_err(|d| match d {
        Denied::Protected => detail(StatusCode::FORBIDDEN, "Cannot delete user."),
        _ => forbidden(),
    })?;
    users::delete(&state.store, user.id, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
