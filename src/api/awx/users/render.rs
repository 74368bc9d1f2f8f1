//! AWX's user shape: the JSON one user renders as, with the caller's capabilities on it, and
//! the cache of those renderings (one per user, view and pair of capabilities).

use std::sync::{Arc, OnceLock};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use super::superuser_count;
use crate::api::awx::AwxError;
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal};
use crate::domain::directory::{RenderEpoch, Renderings};
use crate::domain::users::User;
use crate::domain::{DomainError, Timestamp};

/// AWX's delete of user `id`, which AWX refuses for the last superuser.
pub(super) fn remove_action(id: i64, last_superuser: bool) -> Action {
    Action::RemoveAccount { id, last_superuser }
}

/// Whether a user with this superuser status is the last superuser (the superusers are only
/// counted for a superuser).
pub(crate) async fn is_last_superuser(
    state: &AppState,
    is_superuser: bool,
) -> Result<bool, AwxError> {
    Ok(is_superuser && superuser_count(state).await? <= 1)
}

/// Whether the caller may edit the user's profile (AWX's `edit` capability).
pub(super) fn may_edit(caller: &Principal, user: &User) -> bool {
    authorize(caller, Action::EditUserProfile(user.id)).is_ok()
}

/// The caller's `user_capabilities` on user `id`.
pub(crate) fn capabilities(caller: &Principal, id: i64, last_superuser: bool) -> Capabilities {
    Capabilities {
        edit: authorize(caller, Action::EditUserProfile(id)).is_ok(),
        delete: authorize(caller, remove_action(id, last_superuser)).is_ok(),
    }
}

/// The links of `related`, written straight into the answer (no intermediate map).
struct Related {
    id: i64,
    /// `named_url` is only in the detail view.
    named_url: Option<String>,
}

impl Serialize for Related {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(RELATED.len() + 1))?;
        if let Some(named_url) = &self.named_url {
            map.serialize_entry("named_url", named_url)?;
        }
        // One buffer for every link: no formatting machinery, one escape pass per link.
        let base = format!("/api/v2/users/{}/", self.id);
        let mut link = String::with_capacity(base.len() + 32);
        for name in RELATED {
            link.clear();
            link.push_str(&base);
            link.push_str(name);
            link.push('/');
            map.serialize_entry(name, link.as_str())?;
        }
        map.end()
    }
}

/// The related collections every AWX user links to, in AWX's order.
const RELATED: [&str; 11] = [
    "teams",
    "organizations",
    "admin_of_organizations",
    "projects",
    "credentials",
    "roles",
    "activity_stream",
    "access_list",
    "tokens",
    "authorized_tokens",
    "personal_tokens",
];

#[derive(Serialize)]
struct Resource<'a> {
    ansible_id: &'a str,
    resource_type: &'static str,
}

/// What the caller may do to a user (`summary_fields.user_capabilities`): the only part of a
/// user's rendering that depends on who asks.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Capabilities {
    edit: bool,
    delete: bool,
}

impl Capabilities {
    /// Its slot among a rendering's four.
    fn index(self) -> usize {
        usize::from(self.edit) * 2 + usize::from(self.delete)
    }
}

#[derive(Serialize)]
struct SummaryFields<'a> {
    resource: Resource<'a>,
    user_capabilities: Capabilities,
}

/// One user in AWX's shape, borrowing from the domain's `User` (fields in AWX's order).
#[derive(Serialize)]
pub struct AwxUser<'a> {
    id: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    related: Related,
    summary_fields: SummaryFields<'a>,
    created: String,
    modified: Option<String>,
    username: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    is_superuser: bool,
    is_system_auditor: bool,
    password: &'static str,
    ldap_dn: &'static str,
    last_login: Option<String>,
    external_account: Option<()>,
    auth: [(); 0],
}

pub(super) fn render(user: &User, capabilities: Capabilities, detail_view: bool) -> AwxUser<'_> {
    let last_login = user.last_login.map(Timestamp::to_drf);
    AwxUser {
        id: user.id,
        kind: "user",
        url: format!("/api/v2/users/{}/", user.id),
        related: Related {
            id: user.id,
            named_url: detail_view.then(|| format!("/api/v2/users/{}/", user.username)),
        },
        summary_fields: SummaryFields {
            resource: Resource {
                ansible_id: &user.uuid,
                resource_type: "shared.user",
            },
            user_capabilities: capabilities,
        },
        created: user.date_joined.to_drf(),
        modified: last_login.clone(),
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
        is_superuser: user.is_superuser,
        is_system_auditor: user.is_system_auditor,
        password: "$encrypted$",
        ldap_dn: "",
        last_login,
        external_account: None,
        auth: [],
    }
}

/// One user in AWX's shape (`detail_view` adds `related.named_url`).
pub async fn user_json<'a>(
    state: &AppState,
    caller: &Principal,
    user: &'a User,
    detail_view: bool,
) -> Result<AwxUser<'a>, AwxError> {
    let last_superuser = is_last_superuser(state, user.is_superuser).await?;
    Ok(render(
        user,
        capabilities(caller, user.id, last_superuser),
        detail_view,
    ))
}

/// One user rendered as its JSON object (the bytes `RenderedAwxUsers` keeps).
fn to_raw(
    user: &User,
    capabilities: Capabilities,
    detail_view: bool,
) -> Result<Arc<RawValue>, AwxError> {
    Ok(
        serde_json::value::to_raw_value(&render(user, capabilities, detail_view))
            .map_err(|e| DomainError::Internal(e.to_string()))?
            .into(),
    )
}

/// AWX's renderings of users by (id, detail view), valid in one write epoch; kept by the AWX
/// routes (the users list and detail, and `me`), not in the shared state.
pub type RenderedAwxUsers = Renderings<(i64, bool), Arc<AwxRendering>>;

/// How many users' AWX renderings the AWX routes keep.
pub const RENDERED_AWX_USERS_CAPACITY: usize = 20_000;

/// One user's AWX renderings in one write epoch: what decides who may see it, and its object
/// for each pair of capabilities, each rendered the first time a caller with that pair asks.
pub struct AwxRendering {
    /// The epoch the user was read at: only a user read at it may fill a slot.
    epoch: RenderEpoch,
    /// Whether the user is a superuser (every caller sees superusers; the last one cannot be
    /// deleted).
    is_superuser: bool,
    /// The rendered object by `Capabilities::index`.
    by_capabilities: [OnceLock<Arc<RawValue>>; 4],
}

impl AwxRendering {
    fn new(epoch: RenderEpoch, user: &User) -> Self {
        AwxRendering {
            epoch,
            is_superuser: user.is_superuser,
            by_capabilities: Default::default(),
        }
    }

    /// The object rendered for `capabilities`, if a caller with them asked in this epoch.
    fn cached(&self, capabilities: Capabilities) -> Option<Arc<RawValue>> {
        self.by_capabilities[capabilities.index()].get().cloned()
    }

    /// Keeps the object rendered for `capabilities` from a user read at `epoch` (only when
    /// that is this rendering's epoch: a user read earlier may be older than it).
    fn keep(&self, epoch: RenderEpoch, capabilities: Capabilities, raw: Arc<RawValue>) {
        if epoch == self.epoch {
            // Another request may have filled the slot meanwhile, with the same bytes.
            let _ = self.by_capabilities[capabilities.index()].set(raw);
        }
    }
}

/// A user as AWX renders it for `caller`, from `cache` when rendered in this epoch; `epoch`
/// was read before the user was loaded. For a list's rows and `me`.
pub(crate) fn rendered(
    state: &AppState,
    cache: &RenderedAwxUsers,
    caller: &Principal,
    user: &User,
    detail_view: bool,
    epoch: RenderEpoch,
    last_superuser: bool,
) -> Result<Arc<RawValue>, AwxError> {
    let capabilities = capabilities(caller, user.id, last_superuser);
    let entry = cache.get_or_render(&state.directory, epoch, (user.id, detail_view), || {
        Ok::<_, AwxError>(Arc::new(AwxRendering::new(epoch, user)))
    })?;
    if let Some(raw) = entry.cached(capabilities) {
        return Ok(raw);
    }
    let raw = to_raw(user, capabilities, detail_view)?;
    entry.keep(epoch, capabilities, raw.clone());
    Ok(raw)
}

/// User `id` as AWX's detail view renders it for `caller`, from `cache` when rendered in this
/// epoch for a caller with the same capabilities (no user read then); 404 when the caller may
/// not see it.
pub(crate) async fn rendered_detail(
    state: &AppState,
    cache: &RenderedAwxUsers,
    caller: &Principal,
    id: i64,
) -> Result<Arc<RawValue>, AwxError> {
    let key = (id, true);
    let entry = cache.get(&state.directory, &key);
    if let Some(entry) = &entry {
        if !super::may_see_user(caller, id, entry.is_superuser) {
            return Err(super::not_found());
        }
        let last_superuser = is_last_superuser(state, entry.is_superuser).await?;
        if let Some(raw) = entry.cached(capabilities(caller, id, last_superuser)) {
            return Ok(raw);
        }
    }
    let found = cache.user(&state.directory, id).await?;
    if !super::may_see(caller, &found.user) {
        return Err(super::not_found());
    }
    let last_superuser = is_last_superuser(state, found.user.is_superuser).await?;
    let capabilities = capabilities(caller, id, last_superuser);
    let raw = to_raw(&found.user, capabilities, true)?;
    match entry {
        Some(entry) => entry.keep(found.epoch, capabilities, raw.clone()),
        None if found.keep => {
            let entry = AwxRendering::new(found.epoch, &found.user);
            entry.keep(found.epoch, capabilities, raw.clone());
            cache.put(&state.directory, found.epoch, key, Arc::new(entry));
        }
        None => {}
    }
    Ok(raw)
}
