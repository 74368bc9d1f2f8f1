//! AWX's user shape: the JSON one user renders as, with the caller's capabilities on it.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::superuser_count;
use crate::api::awx::AwxError;
use crate::app::AppState;
use crate::domain::authz::{authorize, Action, Principal};
use crate::domain::users::User;
use crate::domain::Timestamp;

pub(super) fn remove_action(user: &User, superusers: i64) -> Action {
    Action::RemoveAccount {
        id: user.id,
        last_superuser: user.is_superuser && superusers <= 1,
    }
}

fn may_delete(caller: &Principal, user: &User, superusers: i64) -> bool {
    authorize(caller, remove_action(user, superusers)).is_ok()
}

pub(super) fn may_edit(caller: &Principal, user: &User) -> bool {
    authorize(caller, Action::EditUserProfile(user.id)).is_ok()
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

#[derive(Serialize)]
struct Capabilities {
    edit: bool,
    delete: bool,
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

pub(super) fn render<'a>(
    user: &'a User,
    caller: &Principal,
    superusers: i64,
    detail_view: bool,
) -> AwxUser<'a> {
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
            user_capabilities: Capabilities {
                edit: may_edit(caller, user),
                delete: may_delete(caller, user, superusers),
            },
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
    Ok(render(
        user,
        caller,
        superuser_count(state).await?,
        detail_view,
    ))
}
