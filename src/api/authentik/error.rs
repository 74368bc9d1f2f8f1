//! authentik's error answers: DRF's stock shapes (`api::error::stock_response`) with authentik's
//! own wording where it has one (a bad token, a unique value taken). Every `/api/v3/` route
//! renders its errors here, and nothing else does.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::error::{detail, json_response, render_pending, stock_response, ApiError};
use crate::domain::DomainError;

/// authentik's answer to an error.
pub fn render(error: ApiError) -> Response {
    match error {
        ApiError::Domain(DomainError::InvalidCredentials) => {
            detail(StatusCode::FORBIDDEN, "Token invalid/expired")
        }
        ApiError::Domain(DomainError::Conflict(target)) => {
            let (field, message) = conflict_message(&target);
            json_response(StatusCode::BAD_REQUEST, &json!({ field: [message] }))
        }
        other => stock_response(other),
    }
}

/// Finishes an `/api/v3/` answer (in the one layer of every authentik route): renders its
/// pending error.
pub fn finish(response: Response) -> Response {
    render_pending(response, render)
}

/// The field and authentik's message for a unique value another request took first.
pub fn conflict_message(target: &str) -> (&str, &'static str) {
    let field = target.rsplit('.').next().unwrap_or(target);
    let message = match target {
        "groups.name" => "Group with this name already exists.",
        "tokens.identifier" => "Token with this identifier already exists.",
        "tokens.managed" => "Token with this Managed by authentik already exists.",
        "tokens.key_hash" => return ("key", "This key is already used by another token."),
        "roles.name" => "Role with this name already exists.",
        _ => crate::domain::users::UNIQUE_MESSAGE,
    };
    (field, message)
}
