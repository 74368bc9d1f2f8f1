//! Extractors both dialects share: the lookup segment of a detail URL, and whether a write
//! replaces an object (PUT) or changes part of it (PATCH). They know nothing of either
//! dialect's shapes; their rejections are neutral `ApiError`s each dialect renders.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::Method;

use super::error::ApiError;

/// The lookup segment of a detail URL (`{id}`, `{uuid}`, `{identifier}`, `{key}`). A segment
/// that is not valid UTF-8, or holds a NUL character (which no stored key can hold, and
/// PostgreSQL refuses in text), cannot name anything: a JSON 404 like any other unknown lookup.
pub struct Lookup(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Lookup {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .filter(|Path(s)| !s.contains('\0'))
            .map(|Path(s)| Lookup(s))
            .ok_or(ApiError::BadLookup)
    }
}

/// How a write handler treats the fields a body leaves out, read from the request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// PUT: the body is the whole object; required fields must be there.
    Full,
    /// PATCH: the body names only what changes.
    Partial,
}

impl WriteMode {
    /// Whether the body must carry every required field (PUT).
    pub fn is_full(self) -> bool {
        self == WriteMode::Full
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WriteMode {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(if parts.method == Method::PATCH {
            WriteMode::Partial
        } else {
            WriteMode::Full
        })
    }
}
