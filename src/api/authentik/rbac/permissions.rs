//! The permission catalogue: list with filters and ordering, retrieve one, model choices.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::authentik::caller::Caller;
use crate::api::authentik::empty_autocomplete;
use crate::api::authentik::pagination::Envelope;
use crate::api::authentik::Lookup;
use crate::api::error::{json_response, ApiError};
use crate::api::query::{search_terms, Params};
use crate::app::AppState;
use crate::domain::error::ObjectKind;
use crate::domain::existence;
use crate::domain::filter::Direction;
use crate::domain::permissions::{self, Permission};
use crate::domain::roles::{self};
use crate::domain::{DomainError, FieldErrors};

use super::render::{page_of, permission_out};

/// A sort key of the permission catalogue.
type PermissionKey = fn(&Permission) -> String;

pub(super) async fn list_permissions(
    State(state): State<Arc<AppState>>,
    Caller(_caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let mut list: Vec<&'static Permission> = permissions::CATALOGUE.iter().collect();
    for (param, get) in [
        (
            "codename",
            (|p: &Permission| p.codename) as fn(&Permission) -> &'static str,
        ),
        ("content_type__model", |p: &Permission| p.model),
        ("content_type__app_label", |p: &Permission| p.app_label),
    ] {
        if let Some(v) = params.last(param).filter(|v| !v.is_empty()) {
            list.retain(|p| get(p) == v);
        }
    }
    if let Some(raw) = params.last("role").filter(|v| !v.is_empty()) {
        let uuid = uuid::Uuid::parse_str(raw.trim()).map_err(|_| {
            ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                "role",
                format!("“{raw}” is not a valid UUID."),
            )))
        })?;
        let role = roles::get(&state.store, &uuid.to_string())
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => {
                    ApiError::Domain(DomainError::Invalid(FieldErrors::single(
                        "role",
                        "Select a valid choice. That choice is not one of the available choices.",
                    )))
                }
                other => other.into(),
            })?;
        let held: Vec<i64> = roles::model_grants(&state.store, &[role.id])
            .await?
            .into_iter()
            .map(|(_, _, p)| p.id)
            .collect();
        list.retain(|p| held.contains(&p.id));
    }
    if let Some(raw) = params.last("user").filter(|v| !v.is_empty()) {
        let invalid =
            |m: String| ApiError::Domain(DomainError::Invalid(FieldErrors::single("user", m)));
        let id: i64 = raw
            .trim()
            .parse()
            .map_err(|_| invalid(format!("“{raw}” value must be an integer.")))?;
        if existence::user_ids(&state.store, &[id]).await?.is_empty() {
            return Err(invalid(
                "Select a valid choice. That choice is not one of the available choices.".into(),
            ));
        }
        // Permissions are held by roles only, never by users directly.
        list.clear();
    }
    if let Some(search) = params.last("search") {
        for term in search_terms(search) {
            let t = term.to_lowercase();
            list.retain(|p| {
                [p.name, p.codename, p.model, p.app_label]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&t))
            });
        }
    }
    let orderable: [(&str, PermissionKey); 5] = [
        ("id", |p| format!("{:020}", p.id)),
        ("name", |p| p.name.to_string()),
        ("codename", |p| p.codename.to_string()),
        ("content_type__model", |p| p.model.to_string()),
        ("content_type__app_label", |p| p.app_label.to_string()),
    ];
    let keys = params.ordering(
        &orderable
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (*n, i))
            .collect::<Vec<_>>(),
        1,
    );
    list.sort_by(|a, b| {
        for (i, dir) in &keys {
            let ord = (orderable[*i].1)(a).cmp(&(orderable[*i].1)(b));
            let ord = if *dir == Direction::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
    let (pagination, results) = page_of(&params, list)?;
    let envelope = Envelope {
        pagination,
        results: results.into_iter().map(permission_out).collect(),
        autocomplete: empty_autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

pub(super) async fn retrieve_permission(
    Caller(_caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::BadLookup)?;
    let p = permissions::by_id(id).ok_or_else(not_found_permission)?;
    Ok(json_response(StatusCode::OK, &permission_out(p)))
}

fn not_found_permission() -> ApiError {
    ApiError::Domain(DomainError::NotFound(ObjectKind::Permission))
}

/// One of authentik's `ModelEnum` values, as the `model` parameter must be.
pub(super) fn valid_model(model: &str) -> bool {
    permissions::is_model_choice(model)
}
