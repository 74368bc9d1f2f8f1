//! `/api/v3/core/tokens/`: list, create, retrieve, update, partial update, destroy by
//! `identifier`, `view_key`, `set_key`, `used_by`.

use crate::api::authentik::error::finish as authentik_finish;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::caller::Caller;
use super::denied;
use super::empty_autocomplete;
use super::openapi::schemas::{object_of, string, used_by_schema};
use super::openapi::{requests, Answer, QueryType, Spec};
use super::options;
use super::pagination::{Envelope, PageRequest};
use super::users::{user_json, Include};
use super::Lookup;
use crate::api::body::JsonBody;
use crate::api::error::{json_response, ApiError};
use crate::api::extract::WriteMode;
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::{choice_error, search_terms, Params};
use crate::api::routing::{Route, Routes};
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal, TokenRef};
use crate::domain::error::ObjectKind;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::tokens::{
    self, Intent, Token, TokenChanges, TokenField, TokenFilter, TokenSettings, TokenSort,
};
use crate::domain::{DomainError, FieldErrors, Timestamp};

/// The tokens routes.
pub fn routes() -> Routes<Arc<AppState>> {
    Routes::new(authentik_finish)
        .route(
            "/core/tokens/",
            Route::new().get(list).post(create).options(options),
        )
        .route(
            "/core/tokens/{identifier}/",
            Route::new()
                .get(retrieve)
                .put(write)
                .patch(write)
                .delete(destroy)
                .options(options),
        )
        .route(
            "/core/tokens/{identifier}/view_key/",
            Route::new().get(view_key).options(options),
        )
        .route(
            "/core/tokens/{identifier}/set_key/",
            Route::new().post(set_key).options(options),
        )
        .route(
            "/core/tokens/{identifier}/used_by/",
            Route::new().get(used_by).options(options),
        )
}

fn settings(state: &AppState) -> TokenSettings {
    TokenSettings {
        default_duration_seconds: state.config.token_duration_seconds,
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Token)]
struct TokenOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    managed: Option<&'a str>,
    identifier: &'a str,
    #[schema(pattern = "^(verification|api|recovery|app_password)$")]
    intent: &'a str,
    user: i64,
    #[schema(value_type = crate::api::authentik::users::UserOut<'static>)]
    user_obj: Value,
    description: &'a str,
    #[schema(format = DateTime)]
    expires: Option<String>,
    expiring: bool,
}

fn token_out<'a>(token: &'a Token, install_id: &str, include: Include) -> TokenOut<'a> {
    TokenOut {
        pk: &token.uuid,
        managed: token.managed.as_deref(),
        identifier: &token.identifier,
        intent: &token.intent,
        user: token.user.id,
        user_obj: user_json(&token.user, install_id, include),
        description: &token.description,
        expires: token.expires.map(Timestamp::to_drf),
        expiring: token.expiring,
    }
}

const ORDERABLE: [(&str, TokenSort); 8] = [
    ("pk", TokenSort::Field(TokenField::Uuid)),
    ("managed", TokenSort::Field(TokenField::Managed)),
    ("identifier", TokenSort::Field(TokenField::Identifier)),
    ("intent", TokenSort::Field(TokenField::Intent)),
    ("user", TokenSort::Field(TokenField::UserId)),
    ("description", TokenSort::Field(TokenField::Description)),
    ("expires", TokenSort::Field(TokenField::Expires)),
    ("expiring", TokenSort::Field(TokenField::Expiring)),
];

fn list_filter(caller: &Principal, params: &Params) -> Result<TokenFilter, ApiError> {
    let mut parts: Vec<TokenFilter> = Vec::new();
    let mut errors = FieldErrors::new();
    // Visibility: everything with view_token, else one's own tokens.
    if authorize(caller, Action::ViewAllTokens).is_err() {
        parts.push(Filter::Compare(
            TokenField::UserId,
            Cmp::Eq,
            Literal::Int(caller.user_id),
        ));
    }
    for (param, field) in [
        ("identifier", TokenField::Identifier),
        ("user__username", TokenField::Username),
        ("description", TokenField::Description),
        ("managed", TokenField::Managed),
    ] {
        if let Some(v) = params.last(param).filter(|v| !v.is_empty()) {
            parts.push(Filter::Compare(
                field,
                Cmp::Eq,
                Literal::Text(v.to_string()),
            ));
        }
    }
    if let Some(v) = params.last("intent").filter(|v| !v.is_empty()) {
        match Intent::parse(v) {
            Some(i) => parts.push(Filter::Compare(
                TokenField::Intent,
                Cmp::Eq,
                Literal::Text(i.as_str().to_string()),
            )),
            None => errors.add("intent", choice_error(v)),
        }
    }
    if let Some(b) = params.boolean("expiring") {
        parts.push(Filter::Compare(
            TokenField::Expiring,
            Cmp::Eq,
            Literal::Bool(b),
        ));
    }
    if let Some(v) = params.last("expires").filter(|v| !v.is_empty()) {
        match Timestamp::parse(v) {
            Some(t) => parts.push(Filter::Compare(
                TokenField::Expires,
                Cmp::Eq,
                Literal::Time(t),
            )),
            None => errors.add("expires", "Enter a valid date/time."),
        }
    }
    errors.into_result()?;
    if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            parts.push(Filter::Or(
                [
                    TokenField::Identifier,
                    TokenField::Intent,
                    TokenField::Username,
                    TokenField::Description,
                ]
                .into_iter()
                .map(|f| Filter::IContains(f, term.clone()))
                .collect(),
            ));
        }
    }
    Ok(Filter::and(parts))
}

async fn list(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let filter = list_filter(&caller, &params)?;
    let mut sort = params.ordering(&ORDERABLE, TokenSort::Field(TokenField::Identifier));
    if sort.len() == 1 && params.last("ordering").is_none() {
        sort.push((
            TokenSort::Field(TokenField::Expires),
            crate::domain::filter::Direction::Asc,
        ));
    }
    let pagination =
        PageRequest::from_params(&params).resolve(tokens::count(&state.store, &filter).await?)?;
    let rows = tokens::list(
        &state.store,
        &filter,
        &sort,
        pagination.limit,
        pagination.offset,
    )
    .await?;
    let include = Include::from_params(&params);
    let envelope = Envelope {
        pagination,
        results: rows
            .iter()
            .map(|t| token_out(t, &state.install_id, include))
            .collect(),
        autocomplete: empty_autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

/// DRF's SlugField rule for identifiers.
fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads the writable token fields (docs/compatibility.md#tokens). `full` = POST/PUT:
/// `identifier` is required.
pub(crate) fn read_token_changes(
    body: JsonBody,
    full: bool,
) -> Result<(TokenChanges, FieldErrors), ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut changes = TokenChanges::default();
    if input.present("managed") {
        changes.managed = input.nullable_string("managed", Str::TEXT.max(512));
    }
    if !full || input.require("identifier") {
        changes.identifier = input.string("identifier", Str::REQUIRED_TEXT.max(255));
        if let Some(id) = &changes.identifier {
            if !valid_slug(id) {
                input.errors.add("identifier", "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens.");
                changes.identifier = None;
            }
        }
    }
    changes.intent = input.choice("intent", Intent::parse);
    changes.user = input.int("user");
    changes.description = input.string("description", Str::TEXT);
    changes.expires = input.datetime_or_null("expires");
    changes.expiring = input.boolean("expiring");
    Ok((changes, input.errors))
}

async fn create(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::AddToken).map_err(denied)?;
    let (changes, errors) = read_token_changes(body, true)?;
    let (token, _key) = tokens::create(
        &state.store,
        &state.sealer,
        &caller,
        changes,
        errors,
        settings(&state),
        &meta.audit(Some(&caller)),
    )
    .await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::CREATED,
        &token_out(&token, &state.install_id, include),
    ))
}

fn token_ref(token: &Token) -> TokenRef {
    TokenRef {
        owner: token.user.id,
        uuid: token.uuid.clone(),
    }
}

/// A token the caller may see; an invisible one reads as absent.
async fn visible_token(
    state: &AppState,
    caller: &Principal,
    identifier: &str,
) -> Result<Token, ApiError> {
    let token = state.directory.token(identifier).await?;
    authorize(caller, Action::ViewToken(token_ref(&token)))
        .map_err(|_| ApiError::Domain(DomainError::NotFound(ObjectKind::Token)))?;
    Ok(token)
}

async fn retrieve(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(identifier): Lookup,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let token = visible_token(&state, &caller, &identifier).await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &token_out(&token, &state.install_id, include),
    ))
}

/// PUT and PATCH of one token.
async fn write(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(identifier): Lookup,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let current = visible_token(&state, &caller, &identifier).await?;
    authorize(&caller, Action::ChangeToken(token_ref(&current))).map_err(denied)?;
    let (changes, errors) = read_token_changes(body, mode.is_full())?;
    let token = tokens::update(
        &state.store,
        &caller,
        current,
        changes,
        errors,
        settings(&state),
        &meta.audit(Some(&caller)),
    )
    .await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &token_out(&token, &state.install_id, include),
    ))
}

async fn destroy(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(identifier): Lookup,
) -> Result<Response, ApiError> {
    let token = visible_token(&state, &caller, &identifier).await?;
    authorize(&caller, Action::DeleteToken(token_ref(&token))).map_err(denied)?;
    tokens::delete(&state.store, &token.identifier, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn view_key(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(identifier): Lookup,
) -> Result<Response, ApiError> {
    let token = visible_token(&state, &caller, &identifier).await?;
    authorize(&caller, Action::ViewTokenKey(token_ref(&token))).map_err(denied)?;
    let key = tokens::view_key(
        &state.store,
        &state.sealer,
        &token.identifier,
        &meta.audit(Some(&caller)),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &json!({ "key": key })))
}

async fn set_key(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(identifier): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let token = visible_token(&state, &caller, &identifier).await?;
    authorize(&caller, Action::SetTokenKey(token_ref(&token))).map_err(denied)?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let key = if input.require("key") {
        input.string("key", Str::REQUIRED_TEXT)
    } else {
        None
    };
    input.errors.into_result()?;
    let Some(key) = key else {
        return Err(ApiError::EmptyBadRequest);
    };
    tokens::set_key(
        &state.store,
        &state.sealer,
        &token.identifier,
        &key,
        &meta.audit(Some(&caller)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Nothing in gatehouse references a token, so this is always empty.
async fn used_by(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(identifier): Lookup,
) -> Result<Response, ApiError> {
    visible_token(&state, &caller, &identifier).await?;
    Ok(json_response(StatusCode::OK, &Vec::<Value>::new()))
}

/// The tokens routes' operations, for the OpenAPI document (`api::authentik::openapi`).
pub(crate) fn operations(spec: &mut Spec) {
    let token = spec.schema::<TokenOut>();
    let body = spec.schema::<requests::TokenRequest>();
    let patched = spec.patched::<requests::TokenRequest>();
    spec.get(
        "/core/tokens/",
        Answer::Page(token.clone()),
        TOKENS_QUERY,
        "Tokens",
    );
    spec.post(
        "/core/tokens/",
        Some(body.clone()),
        201,
        Answer::One(token.clone()),
        "Create a token",
    );
    spec.get(
        "/core/tokens/{identifier}/",
        Answer::One(token.clone()),
        &[],
        "A token",
    );
    spec.put_patch(
        "/core/tokens/{identifier}/",
        body,
        patched,
        token,
        "Change a token",
    );
    spec.delete("/core/tokens/{identifier}/", "Delete a token");
    spec.get(
        "/core/tokens/{identifier}/view_key/",
        Answer::One(object_of(&[("key", string())])),
        &[],
        "A token's key",
    );
    let key = spec.schema::<requests::TokenSetKeyRequest>();
    spec.post(
        "/core/tokens/{identifier}/set_key/",
        Some(key),
        204,
        Answer::Empty,
        "Set a token's key",
    );
    let used_by = used_by_schema(spec);
    spec.get(
        "/core/tokens/{identifier}/used_by/",
        Answer::List(used_by),
        &[],
        "What would be deleted with the token",
    );
}

/// The tokens list's query parameters.
const TOKENS_QUERY: &[(&str, QueryType)] = &[
    ("page", QueryType::Str),
    ("page_size", QueryType::Str),
    ("ordering", QueryType::Str),
    ("search", QueryType::Str),
    ("identifier", QueryType::Str),
    ("description", QueryType::Str),
    ("managed", QueryType::Str),
];
