//! AWX's OAuth2-token endpoints, backed by real gatehouse API tokens (hashed, sealed, listed
//! and revocable through authentik's `/core/tokens/` too): `POST /api/v2/tokens/`,
//! `POST /api/v2/users/{id|username}/personal_tokens/`, lists, retrieve and `DELETE`.

use crate::api::awx::finish as awx_finish;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::caller::AwxCaller;
use super::users::{may_see, resolve_user};
use super::{forbidden, with_allow, AwxError, AwxPage};
use crate::api::body::JsonBody;
use crate::api::error::json_response;
use crate::api::extract::Lookup;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::Params;
use crate::api::routing::{Methods, Route};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal, Scope, TokenRef};
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::tokens::{
    self, Intent, Token, TokenChanges, TokenField, TokenFilter, TokenSettings, TokenSort,
};
use crate::domain::users::User;
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The token list views' methods (`/tokens/` and a user's `/tokens/`).
const LIST: Methods = Methods::LIST_CREATE;
/// The token detail view's methods (AWX's; gatehouse serves GET and DELETE of them).
const DETAIL: Methods = Methods::RETRIEVE_UPDATE_DESTROY;

/// The token routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v2/tokens/",
            Route::new()
                .get(list_all)
                .post(create_own)
                .options(tokens_options)
                .within(LIST, awx_finish),
        )
        .route(
            "/api/v2/tokens/{id}/",
            Route::new()
                .get(retrieve)
                .delete(destroy)
                .within(DETAIL, awx_finish),
        )
        .route(
            "/api/v2/users/{key}/tokens/",
            Route::new()
                .get(list_user)
                .post(create_personal)
                .within(LIST, awx_finish),
        )
        .route(
            "/api/v2/users/{key}/personal_tokens/",
            Route::new()
                .get(list_user)
                .post(create_personal)
                .within(LIST, awx_finish),
        )
}

/// AWX tokens live "forever" (1000 years), like AWX's default.
const AWX_TOKEN_DAYS: i64 = 1000 * 365;

fn render(token: &Token, key: Option<&str>) -> Value {
    json!({
        "id": token.id,
        "type": "o_auth2_access_token",
        "url": format!("/api/v2/tokens/{}/", token.id),
        "related": {
            "user": format!("/api/v2/users/{}/", token.user.id),
            "activity_stream": format!("/api/v2/tokens/{}/activity_stream/", token.id)
        },
        "summary_fields": {"user": {"id": token.user.id, "username": token.user.username, "first_name": token.user.first_name, "last_name": token.user.last_name}},
        "created": token.created.to_drf(),
        "modified": token.created.to_drf(),
        "description": token.description,
        "user": token.user.id,
        "token": key.unwrap_or("************"),
        "refresh_token": null,
        "application": null,
        "expires": if token.expiring { token.expires.map(Timestamp::to_drf) } else { Some(token.created.plus_seconds(AWX_TOKEN_DAYS * 86_400).to_drf()) },
        "scope": token.scope
    })
}

async fn create(
    state: &AppState,
    caller: &Principal,
    meta: &RequestMeta,
    owner_id: i64,
    body: JsonBody,
) -> Result<Response, AwxError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let description = input.string("description", Str::TEXT).unwrap_or_default();
    let scope = match input.string("scope", Str::TEXT) {
        None => Some(Scope::Write),
        Some(s) => Scope::parse(&s),
    };
    if scope.is_none() && !input.errors.has("scope") {
        input.errors.add(
            "scope",
            "Must be a simple space-separated string with allowed scopes ['read', 'write'].",
        );
    }
    if obj.get("application").is_some_and(|a| !a.is_null()) {
        input.errors.add(
            "application",
            "OAuth2 applications are not served by gatehouse; send null.",
        );
    }
    input.errors.into_result()?;
    let scope = scope.unwrap_or(Scope::Read);
    // A token for someone else, or wider than the caller's own credential, is refused (403)
    // rather than quietly made for the caller, as authentik's dialect would.
    authorize(
        caller,
        Action::GrantToken {
            owner: owner_id,
            scope,
        },
    )
    .map_err(|_| forbidden())?;
    let changes = TokenChanges {
        identifier: Some(format!("awx-token-{}", uuid::Uuid::new_v4().simple())),
        intent: Some(Intent::Api),
        user: Some(owner_id),
        description: Some(description),
        expiring: Some(false),
        scope: Some(scope),
        ..TokenChanges::default()
    };
    let settings = TokenSettings {
        default_duration_seconds: state.config.token_duration_seconds,
    };
    let (token, key) = tokens::create(
        &state.store,
        &state.sealer,
        caller,
        changes,
        FieldErrors::new(),
        settings,
        &meta.audit(Some(caller)),
    )
    .await?;
    let mut r = with_allow(
        json_response(StatusCode::CREATED, &render(&token, Some(&key))),
        LIST,
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2/tokens/{}/", token.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn create_own(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, AwxError> {
    let owner = caller.user_id;
    create(&state, &caller, &meta, owner, body).await
}

async fn create_personal(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    Lookup(key): Lookup,
    body: JsonBody,
) -> Result<Response, AwxError> {
    let user = visible_user(&state, &caller, &key).await?;
    create(&state, &caller, &meta, user.id, body).await
}

/// The user a `/users/{key}/…tokens/` route names, when the caller may see it: a user it may
/// not see answers 404 exactly as one that does not exist, so the route tells no usernames.
async fn visible_user(state: &AppState, caller: &Principal, key: &str) -> Result<User, AwxError> {
    let user = resolve_user(state, key).await?;
    if may_see(caller, &user) {
        Ok(user)
    } else {
        Err(AwxError(DomainError::NotFound(ObjectKind::User).into()))
    }
}

async fn page_of(
    state: &AppState,
    caller: &Principal,
    mut parts: Vec<TokenFilter>,
    path: &str,
    query: Option<String>,
) -> Result<Response, AwxError> {
    if authorize(caller, Action::ViewAllTokens).is_err() {
        parts.push(Filter::Compare(
            TokenField::UserId,
            Cmp::Eq,
            Literal::Int(caller.user_id),
        ));
    }
    let params = Params::parse(query.as_deref());
    if let Some(id) = params.last("id").and_then(|v| v.parse::<i64>().ok()) {
        parts.push(Filter::Compare(TokenField::Id, Cmp::Eq, Literal::Int(id)));
    }
    let filter = Filter::and(parts);
    let count = tokens::count(&state.store, &filter).await?;
    let page = AwxPage::resolve(&params, count)?;
    let rows = tokens::list(
        &state.store,
        &filter,
        &[(TokenSort::Field(TokenField::Id), Direction::Asc)],
        page.limit,
        page.offset,
    )
    .await?;
    let body = page.envelope(
        path,
        query.as_deref(),
        count,
        rows.iter().map(|t| render(t, None)).collect(),
    );
    Ok(with_allow(json_response(StatusCode::OK, &body), LIST))
}

async fn list_all(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, AwxError> {
    page_of(&state, &caller, Vec::new(), "/api/v2/tokens/", query).await
}

async fn list_user(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Lookup(key): Lookup,
    RawQuery(query): RawQuery,
    uri: axum::http::Uri,
) -> Result<Response, AwxError> {
    let user = visible_user(&state, &caller, &key).await?;
    let path = uri.path().to_string();
    page_of(
        &state,
        &caller,
        vec![Filter::Compare(
            TokenField::UserId,
            Cmp::Eq,
            Literal::Int(user.id),
        )],
        &path,
        query,
    )
    .await
}

async fn visible(state: &AppState, caller: &Principal, raw: &str) -> Result<Token, AwxError> {
    let id: i64 = raw
        .parse()
        .map_err(|_| AwxError(DomainError::NotFound(ObjectKind::Token).into()))?;
    let token = tokens::get_by_id(&state.store, id).await?;
    authorize(
        caller,
        Action::ViewToken(TokenRef {
            owner: token.user.id,
            uuid: token.uuid.clone(),
        }),
    )
    .map_err(|_| AwxError(DomainError::NotFound(ObjectKind::Token).into()))?;
    Ok(token)
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Lookup(id): Lookup,
) -> Result<Response, AwxError> {
    let token = visible(&state, &caller, &id).await?;
    Ok(with_allow(
        json_response(StatusCode::OK, &render(&token, None)),
        DETAIL,
    ))
}

async fn destroy(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    Lookup(id): Lookup,
) -> Result<Response, AwxError> {
    let token = visible(&state, &caller, &id).await?;
    authorize(
        &caller,
        Action::DeleteToken(TokenRef {
            owner: token.user.id,
            uuid: token.uuid.clone(),
        }),
    )
    .map_err(|_| forbidden())?;
    tokens::delete(&state.store, &token.identifier, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tokens_options(AwxCaller(_caller): AwxCaller) -> Response {
    let body = json!({
        "name": "OAuth2 Tokens",
        "description": "# List Access Tokens:",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": {
            "POST": {
                "description": {"type": "string", "required": false, "hidden": false, "label": "Description", "filterable": true, "default": ""},
                "application": {"type": "id", "required": false, "hidden": false, "label": "Application", "filterable": true},
                "scope": {"type": "string", "required": false, "hidden": false, "label": "Scope", "help_text": "Allowed scopes, further restricts user's permissions. Must be a simple space-separated string with allowed scopes ['read', 'write'].", "filterable": true, "default": "write"}
            }
        },
        "types": ["o_auth2_access_token"],
        "search_fields": ["description"],
        "related_search_fields": [],
        "max_page_size": 200
    });
    with_allow(json_response(StatusCode::OK, &body), LIST)
}
