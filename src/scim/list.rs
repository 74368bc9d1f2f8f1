//! Queries (RFC 7644 §3.4.2, §3.4.3): `GET /Users`, `GET /Groups`, `POST …/.search` and the
//! root `POST /.search`. Filters compile to the shared query words and run as the REST lists
//! do (indexed, counted once, paged in SQL by the stable internal id); `startIndex` is 1-based,
//! `count` is clamped to `filter.maxResults`. No match is a 200 with `totalResults: 0`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::ScimCaller;
use super::error::{scim_bytes, scim_json, ScimError};
use super::projection::Projection;
use super::schema::{ENTERPRISE, GROUP, USER};
use super::{compile, filter, group, user, Base, DEFAULT_COUNT, MAX_RESULTS};
use crate::api::body::JsonBody;
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::groups::{self, Group, GroupField, GroupFilter, GroupSort};
use crate::domain::scim::{self as domain_scim, ScimKind};
use crate::domain::users::{User, UserField, UserFilter, UserSort, UserType};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The parameters of a query.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// The filter text.
    pub filter: Option<String>,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// Results wanted.
    pub count: i64,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded: Option<String>,
}

fn number(name: &str, text: &str) -> Result<i64, ScimError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::value(format!("{name} must be an integer.")))
}

impl ListParams {
    fn new(
        filter: Option<String>,
        start: Option<i64>,
        count: Option<i64>,
        attributes: Option<String>,
        excluded: Option<String>,
    ) -> ListParams {
        ListParams {
            filter: filter.filter(|f| !f.trim().is_empty()),
            start_index: start.unwrap_or(1).max(1),
            count: count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_RESULTS),
            attributes,
            excluded,
        }
    }

    /// From a query string (names case-insensitive, `+` decoded as a space).
    pub fn from_query(query: Option<&str>) -> Result<ListParams, ScimError> {
        let pairs: Vec<(String, String)> = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.replace('\0', ""))
        };
        Ok(ListParams::new(
            get("filter"),
            get("startIndex")
                .map(|v| number("startIndex", &v))
                .transpose()?,
            get("count").map(|v| number("count", &v)).transpose()?,
            get("attributes"),
            get("excludedAttributes"),
        ))
    }

    /// From a SearchRequest body.
    pub fn from_body(body: &Value) -> Result<ListParams, ScimError> {
        let Value::Object(map) = body else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "A SearchRequest is an object.",
            ));
        };
        if let Some(schemas) = map.get("schemas").and_then(Value::as_array) {
            if !schemas.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST)) {
                return Err(ScimError::bad("invalidSyntax", "Not a SearchRequest."));
            }
        }
        let get = |name: &str| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Option<String> {
            match get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Array(items) => Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::value(format!("{name} must be an integer."))),
                Some(Value::String(s)) => number(name, s).map(Some),
                Some(_) => Err(ScimError::value(format!("{name} must be an integer."))),
            }
        };
        Ok(ListParams::new(
            text("filter"),
            int("startIndex")?,
            int("count")?,
            text("attributes"),
            text("excludedAttributes"),
        ))
    }
}

/// Users SCIM shows: all but internal service accounts (authentik's outposts and the like).
pub fn visible_users() -> UserFilter {
    Filter::Not(Box::new(Filter::Compare(
        UserField::Type,
        Cmp::Eq,
        Literal::Text(UserType::InternalServiceAccount.as_str().to_string()),
    )))
}

/// The user filter of `params` (visibility included).
pub fn user_filter(params: &ListParams, client: i64) -> Result<UserFilter, ScimError> {
    let mut parts = vec![visible_users()];
    if let Some(text) = &params.filter {
        parts.push(compile::users(&filter::parse(text)?, client)?);
    }
    Ok(Filter::and(parts))
}

/// The group filter of `params`.
pub fn group_filter(params: &ListParams, client: i64) -> Result<GroupFilter, ScimError> {
    match &params.filter {
        Some(text) => compile::groups(&filter::parse(text)?, client),
        None => Ok(Filter::All),
    }
}

/// Renders users for `client`, reading their SCIM rows and groups in two queries.
pub async fn render_users(
    state: &AppState,
    client: i64,
    base: &str,
    users: &[User],
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let extras = domain_scim::extras(&state.store, ScimKind::User, client, &ids).await?;
    let groups = domain_scim::user_groups(&state.store, &ids).await?;
    Ok(users
        .iter()
        .map(|u| {
            user::render(
                u,
                &extras.get(&u.id).cloned().unwrap_or_default(),
                groups.get(&u.id).map(Vec::as_slice).unwrap_or(&[]),
                base,
            )
        })
        .collect())
}

/// Renders groups for `client`.
pub async fn render_groups(
    state: &AppState,
    client: i64,
    base: &str,
    groups: &[Group],
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let extras = domain_scim::extras(&state.store, ScimKind::Group, client, &ids).await?;
    Ok(groups
        .iter()
        .map(|g| group::render(g, &extras.get(&g.id).cloned().unwrap_or_default(), base))
        .collect())
}

/// One page of users: the total and the rendered page from `offset`.
async fn user_page(
    state: &AppState,
    client: i64,
    base: &str,
    filter: &UserFilter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), ApiError> {
    let total = state.directory.count_users(filter).await?;
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let sort = [(UserSort::Field(UserField::Id), Direction::Asc)];
    let users = state
        .directory
        .list_users(filter, &sort, limit, offset)
        .await?;
    Ok((total, render_users(state, client, base, &users).await?))
}

/// One page of groups.
async fn group_page(
    state: &AppState,
    client: i64,
    base: &str,
    filter: &GroupFilter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Value>), ApiError> {
    let total = groups::count(&state.store, filter).await?;
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let sort = [(GroupSort::Field(GroupField::Id), Direction::Asc)];
    let page = groups::list(&state.store, filter, &sort, limit, offset).await?;
    Ok((total, render_groups(state, client, base, &page).await?))
}

/// A ListResponse holding one already rendered resource, spliced in as it is (no re-parse):
/// the same members in the same order as `list_response`'s.
pub fn single_response(resource: &[u8]) -> Response {
    let head = format!(
        r#"{{"schemas":["{LIST_RESPONSE}"],"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":["#
    );
    let mut body = Vec::with_capacity(head.len() + resource.len() + 2);
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(resource);
    body.extend_from_slice(b"]}");
    scim_bytes(StatusCode::OK, bytes::Bytes::from(body))
}

/// A ListResponse.
pub fn list_response(total: i64, start: i64, resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// Answers a user query.
pub async fn users(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    params: ListParams,
) -> Result<Response, ApiError> {
    let client = caller.0.user_id;
    let filter = user_filter(&params, client)?;
    let (total, page) = user_page(
        state,
        client,
        &base.0,
        &filter,
        params.start_index - 1,
        params.count,
    )
    .await?;
    let projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        USER,
        Some(ENTERPRISE),
    );
    let page = page.into_iter().map(|r| projection.apply(r)).collect();
    Ok(list_response(total, params.start_index, page))
}

/// Answers a group query.
pub async fn groups(
    state: &AppState,
    caller: &ScimCaller,
    base: &Base,
    params: ListParams,
) -> Result<Response, ApiError> {
    let client = caller.0.user_id;
    let filter = group_filter(&params, client)?;
    let (total, page) = group_page(
        state,
        client,
        &base.0,
        &filter,
        params.start_index - 1,
        params.count,
    )
    .await?;
    let projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        GROUP,
        None,
    );
    let page = page.into_iter().map(|r| projection.apply(r)).collect();
    Ok(list_response(total, params.start_index, page))
}

/// `POST /.search`: users, then groups, paged as one list. A filter that names what only one
/// type has matches nothing of the other.
pub async fn root_search(
    State(state): State<Arc<AppState>>,
    caller: ScimCaller,
    base: Base,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let params = ListParams::from_body(&body)?;
    let client = caller.0.user_id;
    let (user_filter, group_filter) =
        match (user_filter(&params, client), group_filter(&params, client)) {
            (Err(e), Err(_)) => return Err(e.into()),
            (u, g) => (u.unwrap_or(Filter::Nothing), g.unwrap_or(Filter::Nothing)),
        };
    let offset = params.start_index - 1;
    let (user_total, mut page) =
        user_page(&state, client, &base.0, &user_filter, offset, params.count).await?;
    let group_offset = (offset - user_total).max(0);
    let room = params.count - page.len() as i64;
    let (group_total, groups) =
        group_page(&state, client, &base.0, &group_filter, group_offset, room).await?;
    let user_projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        USER,
        Some(ENTERPRISE),
    );
    let group_projection = Projection::parse(
        params.attributes.as_deref(),
        params.excluded.as_deref(),
        GROUP,
        None,
    );
    page = page.into_iter().map(|r| user_projection.apply(r)).collect();
    page.extend(groups.into_iter().map(|r| group_projection.apply(r)));
    Ok(list_response(
        user_total + group_total,
        params.start_index,
        page,
    ))
}
