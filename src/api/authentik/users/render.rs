//! authentik's JSON shapes of a user (full, nested, self view) and the list's cache of rendered users.

use super::*;

// ---------------------------------------------------------------- serialization

#[derive(Serialize, ToSchema)]
#[schema(as = PartialGroup)]
pub(super) struct PartialGroupOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    num_pk: i64,
    name: &'a str,
    is_superuser: bool,
    #[schema(value_type = Object)]
    attributes: &'a Value,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
pub(super) struct RoleOut<'a> {
    #[schema(format = Uuid)]
    pk: &'a str,
    name: &'a str,
}

/// authentik's `User` representation.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserOut<'a> {
    pk: i64,
    username: &'a str,
    name: &'a str,
    is_active: bool,
    #[schema(format = DateTime)]
    last_login: Option<String>,
    #[schema(format = DateTime)]
    date_joined: String,
    is_superuser: bool,
    #[schema(format = Uuid)]
    groups: Vec<&'a str>,
    groups_obj: Option<Vec<PartialGroupOut<'a>>>,
    #[schema(format = Uuid)]
    roles: Vec<&'a str>,
    roles_obj: Option<Vec<RoleOut<'a>>>,
    email: &'a str,
    avatar: &'a str,
    #[schema(value_type = Object)]
    attributes: &'a Value,
    uid: String,
    path: &'a str,
    #[serde(rename = "type")]
    #[schema(pattern = "^(internal|external|service_account|internal_service_account)$")]
    user_type: &'static str,
    #[schema(format = Uuid)]
    uuid: &'a str,
    #[schema(format = DateTime)]
    password_change_date: String,
    #[schema(format = DateTime)]
    last_updated: String,
}

/// Which nested objects a users response includes (`include_groups`, `include_roles`).
#[derive(Debug, Clone, Copy)]
pub struct Include {
    pub(super) groups: bool,
    pub(super) roles: bool,
}

impl Include {
    /// Reads the flags (default: both true).
    pub fn from_params(params: &Params) -> Include {
        Include {
            groups: params.flag("include_groups", true),
            roles: params.flag("include_roles", true),
        }
    }
}

pub(super) fn user_out<'a>(user: &'a User, install_id: &str, include: Include) -> UserOut<'a> {
    UserOut {
        pk: user.id,
        username: &user.username,
        name: &user.name,
        is_active: user.is_active,
        last_login: user.last_login.map(Timestamp::to_drf),
        date_joined: user.date_joined.to_drf(),
        is_superuser: user.is_superuser,
        groups: user.groups.iter().map(|g| g.uuid.as_str()).collect(),
        groups_obj: include.groups.then(|| {
            user.groups
                .iter()
                .map(|g| PartialGroupOut {
                    pk: &g.uuid,
                    num_pk: g.num_pk(),
                    name: &g.name,
                    is_superuser: g.is_superuser,
                    attributes: &g.attributes,
                })
                .collect()
        }),
        roles: user.roles.iter().map(|r| r.uuid.as_str()).collect(),
        roles_obj: include.roles.then(|| {
            user.roles
                .iter()
                .map(|r| RoleOut {
                    pk: &r.uuid,
                    name: &r.name,
                })
                .collect()
        }),
        email: &user.email,
        avatar: user.avatar(),
        attributes: &user.attributes,
        uid: user.uid(install_id),
        path: &user.path,
        user_type: user.user_type.as_str(),
        uuid: &user.uuid,
        password_change_date: user.password_change_date.to_drf(),
        last_updated: user.last_updated.to_drf(),
    }
}

/// A user as authentik renders it, for other resources that nest users (`user_obj`).
pub fn user_json(user: &User, install_id: &str, include: Include) -> Value {
    serde_json::to_value(user_out(user, install_id, include)).unwrap_or(Value::Null)
}

pub(super) fn autocomplete() -> &'static Value {
    static AUTOCOMPLETE: OnceLock<Value> = OnceLock::new();
    AUTOCOMPLETE.get_or_init(|| {
        let s = |nullable: bool| json!({"type": "str", "nullable": nullable, "options": null});
        json!({
            "current_model": "authentik_core.user",
            "models": {
                "authentik_core.user": {
                    "username": s(false),
                    "name": s(false),
                    "email": s(false),
                    "path": s(false),
                    "is_active": {"type": "bool", "nullable": true, "options": null},
                    "type": {"type": "str", "nullable": false, "options": UserType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()},
                    "attributes": {"type": "relation", "nullable": false, "options": null, "relation": "authentik_core.user_attributes"}
                }
            }
        })
    })
}

/// Rendered users by (id, include_groups, include_roles), valid in one write epoch.
/// Kept by the users routes (captured by their list and retrieve handlers), not in the shared
/// state.
pub type RenderedUsers = Renderings<(i64, bool, bool), Arc<RawValue>>;

/// How many rendered users the users routes keep.
pub(super) const RENDERED_USERS_CAPACITY: usize = 20_000;

/// A user as the list renders it, from `cache` when nothing was written since `epoch` (read
/// before the user was loaded); rendering 100 users is most of a list's work.
pub(super) fn rendered(
    state: &AppState,
    cache: &RenderedUsers,
    user: &User,
    include: Include,
    epoch: RenderEpoch,
) -> Result<Arc<RawValue>, ApiError> {
    let key = (user.id, include.groups, include.roles);
    cache.get_or_render(&state.directory, epoch, key, || {
        render(state, user, include)
    })
}

/// A user rendered as its JSON object (the bytes `rendered` caches).
pub(super) fn render(
    state: &AppState,
    user: &User,
    include: Include,
) -> Result<Arc<RawValue>, ApiError> {
    Ok(
        serde_json::value::to_raw_value(&user_out(user, &state.install_id, include))
            .map_err(|e| ApiError::Domain(DomainError::Internal(e.to_string())))?
            .into(),
    )
}

#[derive(Serialize, ToSchema)]
#[schema(as = UserSelf)]
pub(super) struct UserSelfOut<'a> {
    pub(super) pk: i64,
    pub(super) username: &'a str,
    pub(super) name: &'a str,
    pub(super) is_active: bool,
    pub(super) is_superuser: bool,
    pub(super) is_current: bool,
    pub(super) groups: Vec<NamePk<'a>>,
    pub(super) roles: Vec<NamePk<'a>>,
    pub(super) email: &'a str,
    pub(super) avatar: &'a str,
    pub(super) uid: String,
    #[schema(value_type = Object)]
    pub(super) settings: &'a Value,
    #[serde(rename = "type")]
    pub(super) user_type: &'static str,
    pub(super) system_permissions: &'a [String],
}

#[derive(Serialize, ToSchema)]
#[schema(as = UserSelfGroup)]
pub(super) struct NamePk<'a> {
    pub(super) name: &'a str,
    pub(super) pk: &'a str,
}
