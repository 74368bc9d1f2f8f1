//! What can go wrong in a console request, rendered in one place as an HTML page (or, for a
//! missing sign-in, a redirect to the sign-in form). Field errors are not here: handlers show
//! them next to their fields on the page that was sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, DOCTYPE};

use crate::domain::authz::Denied;
use crate::domain::error::ObjectKind;
use crate::domain::DomainError;

/// A console request's failure.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: sign in first, then come back to this path.
    #[error("sign-in required")]
    SignIn(String),
    /// The form's CSRF token is missing or not this session's.
    #[error("CSRF check failed")]
    Csrf,
    /// Signed in, but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// Nothing of this kind with that key (or not visible to the caller).
    #[error("not found")]
    NotFound(&'static str),
    /// The request itself is malformed (a bad id, an unreadable form).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Too many failed sign-ins; retry after this many seconds.
    #[error("throttled")]
    Throttled(i64),
    /// The domain refused or failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<Denied> for ConsoleError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Hidden => ConsoleError::NotFound("Object"),
            Denied::Forbidden | Denied::Protected => ConsoleError::Forbidden,
        }
    }
}

/// A plain page with a status, a title and one message (no navigation: it may be shown to
/// someone not signed in).
pub fn plain(status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (status.as_u16()) " · gatehouse" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(super::assets::stylesheet());
            }
            body {
                main.login {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p { (message) }
                    p { a href=(super::ADMIN) { "Back to the console" } }
                }
            }
        }
    };
    let mut r = (status, markup.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn(next) => {
                let target = format!(
                    "/if/login/?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                Redirect::to(&target).into_response()
            }
            ConsoleError::Csrf => plain(
                StatusCode::FORBIDDEN,
                "CSRF verification failed: reload the page and send the form again.",
            ),
            ConsoleError::Forbidden | ConsoleError::Domain(DomainError::Forbidden) => plain(
                StatusCode::FORBIDDEN,
                "You do not have permission to see or do this.",
            ),
            ConsoleError::NotFound(what) => {
                plain(StatusCode::NOT_FOUND, &format!("{what} not found."))
            }
            ConsoleError::Domain(DomainError::NotFound(kind)) => plain(
                StatusCode::NOT_FOUND,
                &format!("{} not found.", kind_name(kind)),
            ),
            ConsoleError::BadRequest(message) => plain(StatusCode::BAD_REQUEST, &message),
            ConsoleError::Domain(DomainError::Invalid(errors)) => {
                let text: Vec<String> = errors
                    .0
                    .iter()
                    .flat_map(|(field, list)| {
                        list.iter().map(move |e| format!("{field}: {}", e.message))
                    })
                    .collect();
                plain(StatusCode::BAD_REQUEST, &text.join(" "))
            }
            ConsoleError::Domain(DomainError::Conflict(_)) => plain(
                StatusCode::BAD_REQUEST,
                "That value is already taken; reload and try again.",
            ),
            ConsoleError::Throttled(seconds) => {
                let mut r = plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Too many failed sign-ins. Try again in {seconds} seconds."),
                );
                if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ConsoleError::Domain(
                DomainError::Unauthenticated | DomainError::InvalidCredentials,
            ) => ConsoleError::SignIn(super::ADMIN.to_string()).into_response(),
            ConsoleError::Domain(DomainError::Unavailable(e)) => {
                tracing::warn!(error = %e, "console: storage unavailable");
                plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database does not answer right now; try again shortly.",
                )
            }
            ConsoleError::Domain(DomainError::Internal(e)) => {
                tracing::error!(error = %e, "console: internal error");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; the server log has the details.",
                )
            }
        }
    }
}

fn kind_name(kind: ObjectKind) -> &'static str {
    kind.model_name()
}
