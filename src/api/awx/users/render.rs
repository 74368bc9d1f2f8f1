//! AWX's user shape: the JSON one user renders as, with the caller's capabilities on it.

use serde_json::{json, Map, Value};

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

pub(super) fn render(user: &User, caller: &Principal, superusers: i64, detail_view: bool) -> Value {
    let base = format!("/api/v2/users/{}/", user.id);
    let mut related = Map::new();
    if detail_view {
        related.insert(
            "named_url".into(),
            json!(format!("/api/v2/users/{}/", user.username)),
        );
    }
    for name in [
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
    ] {
        related.insert(name.into(), json!(format!("{base}{name}/")));
    }
    json!({
        "id": user.id,
        "type": "user",
        "url": base,
        "related": related,
        "summary_fields": {
            "resource": {"ansible_id": user.uuid, "resource_type": "shared.user"},
            "user_capabilities": {"edit": may_edit(caller, user), "delete": may_delete(caller, user, superusers)}
        },
        "created": user.date_joined.to_drf(),
        "modified": user.last_login.map(Timestamp::to_drf),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_superuser": user.is_superuser,
        "is_system_auditor": user.is_system_auditor,
        "password": "$encrypted$",
        "ldap_dn": "",
        "last_login": user.last_login.map(Timestamp::to_drf),
        "external_account": null,
        "auth": []
    })
}

/// One user in AWX's shape (`detail_view` adds `related.named_url`).
pub async fn user_json(
    state: &AppState,
    caller: &Principal,
    user: &User,
    detail_view: bool,
) -> Result<Value, AwxError> {
    Ok(render(
        user,
        caller,
        superuser_count(state).await?,
        detail_view,
    ))
}
