//! The users views' OPTIONS metadata: field descriptions and the list and detail OPTIONS handlers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::render::may_edit;
use super::{resolve_user, DETAIL, LIST};
use crate::api::awx::caller::AwxCaller;
use crate::api::awx::with_allow;
use crate::api::error::json_response;
use crate::api::extract::Lookup;
use crate::app::AppState;
use crate::domain::authz::{authorize, Action};

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

pub(super) async fn list_options(AwxCaller(caller): AwxCaller) -> Response {
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
pub(super) async fn detail_options(
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
