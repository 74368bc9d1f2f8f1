//! The users list and detail handlers (list, create, retrieve, PUT/PATCH, delete) and the AWX
//! request body they read.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::filters::{list_filter, ordering};
use super::render::{
    is_last_superuser, remove_action, rendered, rendered_detail, user_json, RenderedAwxUsers,
};
use super::{
    may_see, not_found, resolve_user, sees_whatever_status, superuser_count, DETAIL, LIST,
};
use crate::api::awx::caller::AwxCaller;
use crate::api::awx::{detail, forbidden, with_allow, AwxError, AwxPage};
use crate::api::body::JsonBody;
use crate::api::error::json_response;
use crate::api::extract::{Lookup, WriteMode};
use crate::api::fields::{Input, Str};
use crate::api::meta::RequestMeta;
use crate::api::query::Params;
use crate::app::AppState;
use crate::domain::authz::{authorize, visibility, Action, Denied, Principal, Visibility};
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::users::{self, User, UserChanges, UserField, UserRel};
use crate::domain::{DomainError, FieldErrors};

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Extension(cache): Extension<Arc<RenderedAwxUsers>>,
    RawQuery(query): RawQuery,
) -> Result<Response, AwxError> {
    let params = Params::parse(query.as_deref());
    let pairs: Vec<(String, String)> = query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut filter = list_filter(&params, &pairs)?;
    let visible = match visibility(&caller, "authentik_core.view_user") {
        Visibility::All => Filter::All,
        Visibility::Only(ids) => Filter::Or(vec![
            Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(caller.user_id)),
            Filter::Rel(UserRel::EffectiveSuperuser(true)),
            Filter::In(
                UserField::Id,
                ids.iter()
                    .filter_map(|i| i.parse().ok())
                    .map(Literal::Int)
                    .collect(),
            ),
        ]),
        Visibility::Nothing => Filter::Or(vec![
            Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(caller.user_id)),
            Filter::Rel(UserRel::EffectiveSuperuser(true)),
        ]),
    };
    filter = Filter::and(vec![visible, filter]);
    let sort = ordering(&params)?;
    let count = state.directory.count_users(&filter).await?;
    let page = AwxPage::resolve(&params, count)?;
    // Read before the users: a write landing meanwhile makes what is rendered now stale.
    let epoch = cache.epoch(&state.directory);
    let rows = state
        .directory
        .list_users(&filter, &sort, page.limit, page.offset)
        .await?;
    // Counted only for a page with a superuser on it (AWX's last-superuser rule).
    let superusers = match rows.iter().any(|u| u.is_superuser) {
        true => superuser_count(&state).await?,
        false => i64::MAX,
    };
    let mut results: Vec<Arc<RawValue>> = Vec::with_capacity(rows.len());
    for user in &rows {
        let last_superuser = user.is_superuser && superusers <= 1;
        results.push(rendered(
            &state,
            &cache,
            &caller,
            user,
            false,
            epoch,
            last_superuser,
        )?);
    }
    let results: Vec<&RawValue> = results.iter().map(|r| r.as_ref()).collect();
    let body = page.envelope("/api/v2/users/", query.as_deref(), count, results);
    Ok(with_allow(json_response(StatusCode::OK, &body), LIST))
}

/// What an AWX body asks to change; `creating` requires `username` and `password`.
pub(crate) fn read_changes(
    body: JsonBody,
    creating: bool,
    full: bool,
) -> Result<(UserChanges, FieldErrors), AwxError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut c = UserChanges::default();
    if !(creating || full) || input.require("username") {
        c.username = input.string("username", Str::REQUIRED_TEXT.max(150));
    }
    for (name, slot) in [
        ("first_name", &mut c.first_name),
        ("last_name", &mut c.last_name),
    ] {
        *slot = match obj.get(name) {
            Some(Value::Null) => Some(String::new()),
            _ => input.string(name, Str::TEXT.max(150)),
        };
    }
    c.email = match obj.get("email") {
        Some(Value::Null) => Some(String::new()),
        _ => input.string("email", Str::TEXT.max(254)),
    };
    c.superuser = match obj.get("is_superuser") {
        Some(Value::Null) => Some(false),
        Some(Value::String(s)) if s.is_empty() => Some(false),
        _ => input.boolean("is_superuser"),
    };
    c.system_auditor = input.boolean("is_system_auditor");
    let password = match obj.get("password") {
        None | Some(Value::Null) => None,
        Some(_) => input.string(
            "password",
            Str {
                allow_blank: true,
                max_len: None,
                trim: false,
            },
        ),
    };
    match password.as_deref() {
        None | Some("") | Some("$encrypted$") => {
            if creating {
                input
                    .errors
                    .add("password", "Password required for new User.");
            }
        }
        Some(p) if p.chars().count() > 128 => {
            input.errors.add("password", "Password max length is 128")
        }
        Some(p) => c.password = Some(Some(p.to_string())),
    }
    Ok((c, input.errors))
}

/// `name` = "first last" whenever AWX sets either part; `current` holds the first and last
/// names before the change.
fn sync_name(c: &mut UserChanges, current: Option<(&str, &str)>) {
    if c.first_name.is_none() && c.last_name.is_none() {
        return;
    }
    let first = c
        .first_name
        .clone()
        .or_else(|| current.map(|(first, _)| first.to_string()))
        .unwrap_or_default();
    let last = c
        .last_name
        .clone()
        .or_else(|| current.map(|(_, last)| last.to_string()))
        .unwrap_or_default();
    c.name = Some(format!("{first} {last}").trim().to_string());
}

fn created_response(value: &impl Serialize, id: i64, status: StatusCode) -> Response {
    let mut r = with_allow(json_response(status, value), LIST);
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("/api/v2/users/{id}/")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
    r
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, AwxError> {
    authorize(&caller, Action::AddUser).map_err(|_| forbidden())?;
    let (mut changes, errors) = read_changes(body, true, true)?;
    if (changes.superuser == Some(true) || changes.system_auditor == Some(true))
        && !caller.is_superuser
    {
        return Err(forbidden());
    }
    sync_name(&mut changes, None);
    if changes.name.is_none() {
        changes.name = Some(String::new());
    }
    let user = users::create(&state.store, changes, errors, &meta.audit(Some(&caller))).await?;
    let value = user_json(&state, &caller, &user, true).await?;
    Ok(created_response(&value, user.id, StatusCode::CREATED))
}

pub(super) async fn retrieve(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    Extension(cache): Extension<Arc<RenderedAwxUsers>>,
    Lookup(key): Lookup,
) -> Result<Response, AwxError> {
    let raw = match key.parse::<i64>() {
        Ok(id) => rendered_detail(&state, &cache, &caller, id).await?,
        // A named URL (the username).
        Err(_) => {
            let epoch = cache.epoch(&state.directory);
            let user = resolve_user(&state, &key).await?;
            if !may_see(&caller, &user) {
                return Err(not_found());
            }
            let last_superuser = is_last_superuser(&state, user.is_superuser).await?;
            rendered(&state, &cache, &caller, &user, true, epoch, last_superuser)?
        }
    };
    Ok(with_allow(json_response(StatusCode::OK, &*raw), DETAIL))
}

/// PUT and PATCH of one user. The user is read before the write only when a rule needs more
/// than its names (visibility through superuser status, a change of superuser or auditor
/// status); otherwise the checks run on the row the update reads in its own transaction.
pub(super) async fn write(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(key): Lookup,
    body: JsonBody,
) -> Result<Response, AwxError> {
    let (id, mut current) = match key.parse::<i64>() {
        Ok(id) if sees_whatever_status(&caller, id) => (id, None),
        _ => {
            let user = resolve_user(&state, &key).await?;
            if !may_see(&caller, &user) {
                return Err(not_found());
            }
            (user.id, Some(user))
        }
    };
    let (mut changes, errors) = match read_changes(body, false, mode.is_full()) {
        Ok(read) => read,
        // An unknown user is a 404 whatever the body.
        Err(e) if current.is_none() => {
            state.directory.user(id).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // AWX's rules, decided by the one authorization function: anyone may edit their own
    // profile; renaming needs change_user; superuser and auditor status are for superusers, but
    // users may drop their own auditor status.
    if authorize(&caller, Action::EditUserProfile(id)).is_err() {
        if current.is_none() {
            state.directory.user(id).await?;
        }
        return Err(forbidden());
    }
    if current.is_none() && (changes.superuser.is_some() || changes.system_auditor.is_some()) {
        current = Some(state.directory.user(id).await?);
    }
    if let Some(user) = &current {
        if changes
            .username
            .as_ref()
            .is_some_and(|u| *u != user.username)
        {
            authorize_rename(&caller, id)?;
        }
        check_privileges(&state, &caller, user, &mut changes).await?;
    }
    let updated = users::update_checked(
        &state.store,
        id,
        changes,
        errors,
        &meta.audit(Some(&caller)),
        |names, changes| {
            if changes
                .username
                .as_ref()
                .is_some_and(|u| u != names.username)
            {
                authorize_rename(&caller, id)?;
            }
            sync_name(changes, Some((names.first_name, names.last_name)));
            Ok::<(), AwxError>(())
        },
    )
    .await?;
    let value = user_json(&state, &caller, &updated, true).await?;
    Ok(with_allow(json_response(StatusCode::OK, &value), DETAIL))
}

/// AWX's rule for renaming user `id`.
fn authorize_rename(caller: &Principal, id: i64) -> Result<(), AwxError> {
    authorize(caller, Action::RenameUser(id)).map_err(|d| match d {
        Denied::Protected => detail(StatusCode::FORBIDDEN, "Cannot change username."),
        _ => forbidden(),
    })
}

/// AWX's rules for superuser and auditor status: changing either is for superusers (users may
/// drop their own auditor status), the last superuser stays one; an unchanged status is left
/// out of `changes`.
async fn check_privileges(
    state: &AppState,
    caller: &Principal,
    user: &User,
    changes: &mut UserChanges,
) -> Result<(), AwxError> {
    let flips_superuser = changes.superuser.is_some_and(|s| s != user.is_superuser);
    let flips_auditor = changes
        .system_auditor
        .is_some_and(|a| a != user.is_system_auditor);
    if flips_superuser || flips_auditor {
        let action = if !flips_superuser && changes.system_auditor == Some(false) {
            Action::DropOwnAuditor(user.id)
        } else {
            Action::ChangePrivileges(user.id)
        };
        authorize(caller, action).map_err(|_| forbidden())?;
    }
    if !flips_superuser {
        changes.superuser = None;
    }
    if !flips_auditor {
        changes.system_auditor = None;
    }
    if changes.superuser == Some(false) && is_last_superuser(state, user.is_superuser).await? {
        return Err(AwxError(
            DomainError::Invalid(FieldErrors::single(
                "is_superuser",
                "Cannot remove the last superuser.",
            ))
            .into(),
        ));
    }
    Ok(())
}

pub(super) async fn destroy(
    State(state): State<Arc<AppState>>,
    AwxCaller(caller): AwxCaller,
    meta: RequestMeta,
    Lookup(key): Lookup,
) -> Result<Response, AwxError> {
    let user = resolve_user(&state, &key).await?;
    if !may_see(&caller, &user) {
        return Err(not_found());
    }
    let last_superuser = is_last_superuser(&state, user.is_superuser).await?;
    authorize(&caller, remove_action(user.id, last_superuser)).map_err(|d| match d {
        Denied::Protected => detail(StatusCode::FORBIDDEN, "Cannot delete user."),
        _ => forbidden(),
    })?;
    users::delete(&state.store, user.id, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
