//! The request bodies of the authentik dialect, as the document describes them. The handlers
//! read bodies field by field (`api::fields::Input`, which coerces like DRF), so these shapes are
//! descriptions, never parsed into: each names the fields its handler reads, with the limits
//! the handler checks. The drift guard (tests/api/openapi.rs) and schemathesis against this
//! document hold them to what the handlers accept.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /core/users/`, `PUT /core/users/{id}/` (PATCH: every field optional).
#[derive(ToSchema)]
#[schema(as = UserRequest)]
pub struct UserRequest {
    #[schema(min_length = 1, max_length = 150, pattern = r"^[\w.@+-]+$")]
    username: String,
    #[schema(max_length = 4096)]
    name: String,
    is_active: Option<bool>,
    #[schema(format = DateTime)]
    last_login: Option<String>,
    #[schema(format = Uuid)]
    groups: Option<Vec<String>>,
    #[schema(format = Uuid)]
    roles: Option<Vec<String>>,
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(value_type = Object)]
    attributes: Option<Value>,
    #[schema(min_length = 1, pattern = r"\S")]
    path: Option<String>,
    #[schema(rename = "type", value_type = Option<String>, pattern = "^(internal|external|service_account|internal_service_account)$")]
    user_type: Option<String>,
}

/// `POST /core/users/{id}/set_password/`.
#[derive(ToSchema)]
#[schema(as = UserPasswordSetRequest)]
pub struct UserPasswordSetRequest {
    #[schema(min_length = 1)]
    password: String,
}

/// `POST /core/users/service_account/`.
#[derive(ToSchema)]
#[schema(as = UserServiceAccountRequest)]
pub struct UserServiceAccountRequest {
    #[schema(min_length = 1, max_length = 150, pattern = r"\S")]
    name: String,
    create_group: Option<bool>,
    expiring: Option<bool>,
    #[schema(format = DateTime)]
    expires: Option<String>,
}

/// `POST /core/users/{id}/recovery_email/` (answered as a fresh authentik does: no stage).
#[derive(ToSchema)]
#[schema(as = UserRecoveryEmailRequest)]
pub struct UserRecoveryEmailRequest {
    #[schema(format = Uuid)]
    email_stage: String,
    token_duration: Option<String>,
}

/// `POST /core/users/{id}/recovery/`.
#[derive(ToSchema)]
#[schema(as = UserRecoveryLinkRequest)]
pub struct UserRecoveryLinkRequest {
    token_duration: Option<String>,
}

/// `POST /core/groups/`, `PUT /core/groups/{group_uuid}/`.
#[derive(ToSchema)]
#[schema(as = GroupRequest)]
pub struct GroupRequest {
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    name: String,
    is_superuser: Option<bool>,
    #[schema(format = Uuid)]
    parents: Option<Vec<String>>,
    users: Option<Vec<i64>>,
    #[schema(value_type = Object)]
    attributes: Option<Value>,
    #[schema(format = Uuid)]
    roles: Option<Vec<String>>,
}

/// `POST /core/groups/{group_uuid}/add_user/`, `remove_user/`, and the roles' twins.
#[derive(ToSchema)]
#[schema(as = UserAccountRequest)]
pub struct UserAccountRequest {
    pk: i64,
}

/// `POST /core/tokens/`, `PUT /core/tokens/{identifier}/`.
#[derive(ToSchema)]
#[schema(as = TokenRequest)]
pub struct TokenRequest {
    managed: Option<String>,
    #[schema(min_length = 1, max_length = 255, pattern = r"^[-a-zA-Z0-9_]+$")]
    identifier: String,
    #[schema(value_type = Option<String>, pattern = "^(verification|api|recovery|app_password)$")]
    intent: Option<String>,
    user: Option<i64>,
    description: Option<String>,
    #[schema(format = DateTime)]
    expires: Option<String>,
    expiring: Option<bool>,
}

/// `POST /core/tokens/{identifier}/set_key/`.
#[derive(ToSchema)]
#[schema(as = TokenSetKeyRequest)]
pub struct TokenSetKeyRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    key: String,
}

/// `POST /rbac/roles/`, `PUT /rbac/roles/{uuid}/`.
#[derive(ToSchema)]
#[schema(as = RoleRequest)]
pub struct RoleRequest {
    #[schema(min_length = 1, max_length = 150, pattern = r"\S")]
    name: String,
}

/// `POST /rbac/permissions/assigned_by_roles/{uuid}/assign/` (and `unassign/`, PATCH).
#[derive(ToSchema)]
#[schema(as = PermissionAssignRequest)]
pub struct PermissionAssignRequest {
    permissions: Vec<String>,
    model: Option<String>,
    object_pk: Option<String>,
}
