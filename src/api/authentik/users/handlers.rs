//! The users handlers: list, create, retrieve, update, partial update, destroy, `me`, `paths`,
//! `set_password`, `service_account`, `used_by` — parse, authorize, call the domain, serialize.

use super::*;

// ---------------------------------------------------------------- handlers

pub(super) async fn list(
    state: Arc<AppState>,
    cache: Arc<RenderedUsers>,
    caller: Principal,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_USER)?;
    let params = Params::parse(query.as_deref());
    let filter = Filter::and(vec![
        visible_users(visible),
        list_filter(&state, &params).await?,
    ]);
    let sort = ordering(&params);
    let request = PageRequest::from_params(&params);
    let count = state.directory.count_users(&filter).await?;
    let pagination = request.resolve(count)?;
    // Read before the users: a write landing meanwhile makes what is rendered now stale.
    let epoch = cache.epoch(&state.directory);
    let rows = state
        .directory
        .list_users(&filter, &sort, pagination.limit, pagination.offset)
        .await?;
    let include = Include::from_params(&params);
    let mut results: Vec<Arc<RawValue>> = Vec::with_capacity(rows.len());
    for user in &rows {
        results.push(rendered(state.as_ref(), &cache, user, include, epoch)?);
    }
    let envelope = Envelope {
        pagination,
        results: results
            .iter()
            .map(|r| r.as_ref())
            .collect::<Vec<&RawValue>>(),
        autocomplete: autocomplete(),
    };
    Ok(json_response(StatusCode::OK, &envelope))
}

/// Reads the writable user fields of a request (docs/compatibility.md#users). `full` = POST/PUT:
/// `username` and `name` are required and omitted `groups`/`roles` reset to `[]`.
pub(crate) fn read_user_changes(
    body: JsonBody,
    full: bool,
) -> Result<(UserChanges, FieldErrors), ApiError> {
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let mut changes = UserChanges::default();
    if !full || input.require("username") {
        changes.username = input.string("username", Str::REQUIRED_TEXT.max(150));
    }
    if !full || input.require("name") {
        changes.name = input.string("name", Str::TEXT);
    }
    changes.is_active = input.boolean("is_active");
    changes.last_login = input.datetime_or_null("last_login");
    changes.groups = input.uuid_list("groups");
    changes.roles = input.uuid_list("roles");
    changes.email = input.string("email", Str::TEXT.max(254));
    changes.attributes = input.object(
        "attributes",
        "Value must be a dictionary, and not have any duplicate keys.",
    );
    changes.path = input.string("path", Str::REQUIRED_TEXT);
    changes.user_type = input.choice("type", UserType::parse);
    if full {
        if !input.present("groups") {
            changes.groups = Some(Vec::new());
        }
        if !input.present("roles") {
            changes.roles = Some(Vec::new());
        }
    }
    Ok((changes, input.errors))
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::AddUser).map_err(denied)?;
    let (changes, errors) = read_user_changes(body, true)?;
    let user = users::create(&state.store, changes, errors, &meta.audit(Some(&caller))).await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::CREATED,
        &user_out(&user, &state.install_id, include),
    ))
}

pub(super) async fn retrieve(
    state: Arc<AppState>,
    cache: Arc<RenderedUsers>,
    caller: Principal,
    id: String,
    query: Option<String>,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), ObjectKind::User)?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    // Rendered as the list renders it, so both share one cache of rendered users.
    let key = (id, include.groups, include.roles);
    if let Some(raw) = cache.get(&state.directory, &key) {
        return Ok(json_response(StatusCode::OK, &*raw));
    }
    let found = cache.user(&state.directory, id).await?;
    let raw = render(state.as_ref(), &found.user, include)?;
    if found.keep {
        cache.put(&state.directory, found.epoch, key, raw.clone());
    }
    Ok(json_response(StatusCode::OK, &*raw))
}

/// PUT and PATCH of one user.
pub(super) async fn write(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    mode: WriteMode,
    Lookup(id): Lookup,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), ObjectKind::User)?;
    authorize(&caller, Action::ChangeUser(id)).map_err(denied)?;
    let (changes, errors) = read_user_changes(body, mode.is_full())?;
    let user = users::update(
        &state.store,
        id,
        changes,
        errors,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let include = Include::from_params(&Params::parse(query.as_deref()));
    Ok(json_response(
        StatusCode::OK,
        &user_out(&user, &state.install_id, include),
    ))
}

pub(super) async fn destroy(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), ObjectKind::User)?;
    authorize(&caller, Action::DeleteUser(id)).map_err(denied)?;
    users::delete(&state.store, id, &meta.audit(Some(&caller))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn set_password(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    Lookup(id): Lookup,
    body: JsonBody,
) -> Result<Response, ApiError> {
    require_visibility(&caller, VIEW_USER)?;
    let id = parse_id(&id)?;
    require_sight(&caller, VIEW_USER, &id.to_string(), ObjectKind::User)?;
    authorize(&caller, Action::ResetUserPassword(id)).map_err(denied)?;
    // The target must exist (and be visible) before the body is looked at.
    state.directory.user(id).await?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let password = if input.require("password") {
        input.string(
            "password",
            Str {
                allow_blank: false,
                max_len: None,
                trim: false,
            },
        )
    } else {
        None
    };
    if let Some(p) = &password {
        if p.trim().is_empty() {
            input
                .errors
                .add_code("password", "blank", "This field may not be blank.");
        }
    }
    input.errors.into_result()?;
    let Some(password) = password else {
        return Err(ApiError::EmptyBadRequest);
    };
    match users::set_password(&state.store, id, password, &meta.audit(Some(&caller))).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(DomainError::NotFound(ObjectKind::User)) => {
            Err(ApiError::Domain(DomainError::NotFound(ObjectKind::User)))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn me(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::ViewSelf).map_err(denied)?;
    let view = users::self_view(&state.store, caller.user_id).await?;
    let user = &view.user;
    let out = UserSelfOut {
        pk: user.id,
        username: &user.username,
        name: &user.name,
        is_active: user.is_active,
        is_superuser: user.is_superuser,
        is_current: true,
        groups: view
            .all_groups
            .iter()
            .map(|(pk, name)| NamePk { name, pk })
            .collect(),
        roles: view
            .effective_roles
            .iter()
            .map(|(pk, name)| NamePk { name, pk })
            .collect(),
        email: &user.email,
        avatar: user.avatar(),
        uid: user.uid(&state.install_id),
        settings: &view.settings,
        user_type: user.user_type.as_str(),
        system_permissions: &view.system_permissions,
    };
    let body = json!({ "user": &out, "users": [&out] });
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) async fn paths(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let visible = require_visibility(&caller, VIEW_USER)?;
    let params = Params::parse(query.as_deref());
    let filter = Filter::and(vec![
        visible_users(visible),
        list_filter(&state, &params).await?,
    ]);
    let paths = users::paths(&state.store, &filter).await?;
    Ok(json_response(StatusCode::OK, &json!({ "paths": paths })))
}

/// `POST /core/users/service_account/` (docs/compatibility.md#user-actions): answers 200, not 201.
pub(super) async fn service_account(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    meta: RequestMeta,
    body: JsonBody,
) -> Result<Response, ApiError> {
    authorize(&caller, Action::CreateServiceAccount).map_err(denied)?;
    let obj = body.into_object()?;
    let mut input = Input::new(&obj);
    let name = if input.require("name") {
        input.string("name", Str::REQUIRED_TEXT.max(150))
    } else {
        None
    };
    if let Some(n) = &name {
        if let Err(message) = users::check_username(n) {
            input.errors.add("name", message);
        }
    }
    let create_group = input.boolean("create_group").unwrap_or(false);
    let expiring = input.boolean("expiring").unwrap_or(true);
    let expires = match input.datetime_or_null("expires") {
        Some(Some(t)) => t,
        Some(None) if !input.errors.has("expires") => {
            input
                .errors
                .add_code("expires", "null", "This field may not be null.");
            Timestamp::now()
        }
        _ => Timestamp::now().plus_seconds(360 * 86_400),
    };
    input.errors.into_result()?;
    let Some(name) = name else {
        return Err(ApiError::EmptyBadRequest);
    };
    let request = ServiceAccountRequest {
        name,
        create_group,
        expiring,
        expires,
    };
    let may_create_group = authorize(&caller, Action::AddGroup).is_ok();
    let created = service_accounts::create(
        &state.store,
        &state.sealer,
        request,
        may_create_group,
        &meta.audit(Some(&caller)),
    )
    .await?;
    let uid = users::uid_of(created.user_id, &state.install_id);
    let mut body = json!({
        "username": created.username,
        "user_uid": uid,
        "user_pk": created.user_id,
        "token": created.token,
    });
    if let (Some(group), Some(map)) = (created.group_uuid, body.as_object_mut()) {
        map.insert("group_pk".into(), Value::String(group));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /core/users/{id}/used_by/`: what references the user and goes with it when it is
/// deleted — its direct groups and roles (memberships, `cascade_many`) and its tokens
/// (`cascade`), each only when the caller may view it.
pub(super) async fn used_by(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Lookup(id): Lookup,
) -> Result<Response, ApiError> {
    let user = action_target(&state, &caller, &id).await?;
    let mut body: Vec<Value> = Vec::new();
    for group in &user.groups {
        if may_see(&caller, "authentik_core.view_group", &group.uuid).is_ok() {
            body.push(json!({
                "app": "authentik_core", "model_name": "group", "pk": group.uuid,
                "name": format!("Group {}", group.name), "action": "cascade_many",
            }));
        }
    }
    for role in &user.roles {
        if may_see(&caller, "authentik_rbac.view_role", &role.uuid).is_ok() {
            body.push(json!({
                "app": "authentik_rbac", "model_name": "role", "pk": role.uuid,
                "name": format!("Role {}", role.name), "action": "cascade_many",
            }));
        }
    }
    let owned = Filter::Compare(TokenField::UserId, Cmp::Eq, Literal::Int(user.id));
    let sort = [(TokenSort::Field(TokenField::Identifier), Direction::Asc)];
    for token in tokens::list(&state.store, &owned, &sort, i64::MAX, 0).await? {
        let visible = TokenRef {
            owner: user.id,
            uuid: token.uuid.clone(),
        };
        if authorize(&caller, Action::ViewToken(visible)).is_err() {
            continue;
        }
        // authentik's `str(token)`: the identifier, plus the expiry when it applies.
        let name = match (token.expiring, token.expires) {
            (true, Some(expires)) => {
                format!("{} (expires={})", token.identifier, expires.to_python_str())
            }
            (true, None) => format!("{} (expires=None)", token.identifier),
            (false, _) => token.identifier.clone(),
        };
        body.push(json!({
            "app": "authentik_core", "model_name": "token", "pk": token.uuid,
            "name": name, "action": "cascade",
        }));
    }
    Ok(json_response(StatusCode::OK, &body))
}
