//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`. They
//! advertise only what is served: PATCH and filtering yes; bulk, sort, ETags, password changes
//! no (bulk still names `maxOperations`, which authentik needs to parse the document at all).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::ScimCaller;
use super::error::{scim_json, ScimError};
use super::schema::{schema_document, ENTERPRISE, GROUP, SCHEMA_IDS, USER};
use super::{Base, MAX_RESULTS};
use crate::app::AppState;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse of `items`, all of them on one page.
fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(
    State(_): State<Arc<AppState>>,
    _caller: ScimCaller,
    base: Base,
) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 1000, "maxPayloadSize": 1048576},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A gatehouse API token sent as an RFC 6750 bearer token",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", base.0),
            },
        }),
    )
}

fn resource_type(base: &str, id: &str) -> Option<Value> {
    let (endpoint, schema, extensions) = match id {
        "User" => (
            "/Users",
            USER,
            json!([{"schema": ENTERPRISE, "required": false}]),
        ),
        "Group" => ("/Groups", GROUP, json!([])),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": if id == "User" { "User Account" } else { "Group" },
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
    }))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(_caller: ScimCaller, base: Base) -> Response {
    let items = ["User", "Group"]
        .iter()
        .filter_map(|id| resource_type(&base.0, id))
        .collect();
    scim_json(StatusCode::OK, &list(items))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type_by_id(
    _caller: ScimCaller,
    base: Base,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    resource_type(&base.0, &id)
        .map(|v| scim_json(StatusCode::OK, &v))
        .ok_or_else(|| ScimError::status(StatusCode::NOT_FOUND, "Unknown resource type."))
}

/// `GET /Schemas`.
pub async fn schemas(_caller: ScimCaller, base: Base) -> Response {
    let items = SCHEMA_IDS
        .iter()
        .filter_map(|id| schema_document(&base.0, id))
        .collect();
    scim_json(StatusCode::OK, &list(items))
}

/// `GET /Schemas/{urn}`.
pub async fn schema_by_id(
    _caller: ScimCaller,
    base: Base,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    schema_document(&base.0, &id)
        .map(|v| scim_json(StatusCode::OK, &v))
        .ok_or_else(|| ScimError::status(StatusCode::NOT_FOUND, "Unknown schema."))
}
