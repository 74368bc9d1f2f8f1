//! The per-user actions without a backing feature in gatehouse (`recovery`, `recovery_email`,
//! `impersonate`, `impersonate_end`, `export`): the same checks as authentik, then the answer a
//! fresh authentik gives (docs/compatibility.md#user-actions).

use super::*;

/// gatehouse has no flows, so no brand has a recovery flow (docs/compatibility.md#user-actions).
pub(super) const NO_RECOVERY_FLOW: &str = "No recovery flow set.";

/// The recovery actions' checks before their body: the target (404/403), then
/// `reset_user_password` on it (403); returns the user and the body object.
pub(super) async fn recovery_request(
    state: &AppState,
    caller: &Principal,
    raw: &str,
    body: JsonBody,
) -> Result<(User, serde_json::Map<String, Value>), ApiError> {
    let user = action_target(state, caller, raw).await?;
    authorize(caller, Action::ResetUserPassword(user.id)).map_err(denied)?;
    Ok((user, body.into_object()?))
}

/// `POST /core/users/{id}/recovery/`: the target (404/403), `reset_user_password` (403), the
/// body, then authentik's answer without a recovery flow (400, bare string).
pub(super) async fn recovery(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (_, obj) = recovery_request(&state, &caller, &id, body).await?;
    let mut input = Input::new(&obj);
    input.string("token_duration", Str::REQUIRED_TEXT);
    input.errors.into_result()?;
    Err(view_error(NO_RECOVERY_FLOW))
}

/// `POST /core/users/{id}/recovery_email/`: as `recovery`, with a required `email_stage` uuid
/// and authentik's check that the user has an address before the missing flow.
pub(super) async fn recovery_email(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (user, obj) = recovery_request(&state, &caller, &id, body).await?;
    let mut input = Input::new(&obj);
    input.string("token_duration", Str::REQUIRED_TEXT);
    if input.require("email_stage") {
        if let Some(stage) = input.string("email_stage", Str::REQUIRED_TEXT) {
            if uuid::Uuid::parse_str(&stage).is_err() {
                input.errors.add("email_stage", "Must be a valid UUID.");
            }
        }
    }
    input
        .errors
        .sort_by_order(&["token_duration", "email_stage"]);
    input.errors.into_result()?;
    if user.email.is_empty() {
        return Err(view_error("User does not have an email address set."));
    }
    Err(view_error(NO_RECOVERY_FLOW))
}

/// `POST /core/users/{id}/impersonate/`: the target (404/403), `impersonate` (403), then 401
/// with an empty body — authentik's answer when impersonation is disabled, which it always is
/// here (impersonation lives in browser sessions gatehouse does not have).
pub(super) async fn impersonate(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let user = action_target(&state, &caller, &id).await?;
    authorize(&caller, Action::Impersonate(user.id)).map_err(denied)?;
    Ok(StatusCode::UNAUTHORIZED.into_response())
}

/// `GET /core/users/impersonate_end/`: 204 always (docs/compatibility.md#user-actions).
pub(super) async fn impersonate_end(Caller(_caller): Caller) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /core/users/export/`: `add_dataexport` (403), then what an authentik without an
/// enterprise licence answers (400): data exports are an enterprise feature.
pub(super) async fn export(Caller(caller): Caller) -> Result<Response, ApiError> {
    authorize(&caller, Action::ExportUsers).map_err(denied)?;
    Err(ApiError::Json(
        StatusCode::BAD_REQUEST,
        json!({ "non_field_errors": ["Enterprise is required to create/update this object."] }),
    ))
}
