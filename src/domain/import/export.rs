//! Reading the whole directory out as a [`Source`] (what `gatehouse export` writes), so that
//! importing it elsewhere reproduces it: ids, uuids, hashes, links, grants and — only when asked
//! for, and then recorded in the audit log — token keys.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{ImportGroup, ImportRole, ImportToken, ImportUser, Source};
use crate::auth::keys::Sealer;
use crate::domain::audit::{self, AuditContext};
use crate::domain::{permissions, DomainError};
use crate::store::import::{self as store_import, Link};
use crate::store::{install, Store};

/// The directory as a source; token keys are left empty unless `include_keys`.
pub async fn export(
    store: &Store,
    sealer: &Sealer,
    include_keys: bool,
) -> Result<Source, DomainError> {
    let mut db = store;
    let users = store_import::all_users(store).await?;
    let groups = store_import::all_groups(store).await?;
    let roles = store_import::all_roles(store).await?;
    let tokens = store_import::all_tokens(store).await?;
    let parents = store_import::all_links(store, Link::GroupParents).await?;
    let members = store_import::all_links(store, Link::GroupMembers).await?;
    let group_roles = store_import::all_links(store, Link::GroupRoles).await?;
    let user_roles = store_import::all_links(store, Link::UserRoles).await?;
    let grants = store_import::all_links(store, Link::RolePermissions).await?;

    let group_uuid: HashMap<i64, &str> = groups.iter().map(|g| (g.id, g.uuid.as_str())).collect();
    let role_uuid: HashMap<i64, &str> = roles.iter().map(|r| (r.id, r.uuid.as_str())).collect();
    let mut source = Source {
        origin: "gatehouse export".into(),
        install_id: install::install_id(&mut db).await?,
        ..Source::default()
    };
    for u in users {
        source.users.push(ImportUser {
            pk: u.id,
            attributes: serde_json::from_str(&u.attributes).unwrap_or_else(|_| json!({})),
            uuid: u.uuid,
            username: u.username,
            name: u.name,
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email,
            password_hash: u.password_hash,
            is_active: u.is_active,
            user_type: u.user_type,
            path: u.path,
            last_login: u.last_login,
            date_joined: u.date_joined,
            password_change_date: u.password_change_date,
            last_updated: u.last_updated,
        });
    }
    for g in &groups {
        let parents = parents
            .iter()
            .filter(|e| e.a == g.id)
            .filter_map(|e| group_uuid.get(&e.b).map(|u| u.to_string()))
            .collect();
        source.groups.push(ImportGroup {
            uuid: g.uuid.clone(),
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            attributes: serde_json::from_str(&g.attributes).unwrap_or_else(|_| json!({})),
            parents,
        });
    }
    source.memberships = members
        .iter()
        .filter_map(|e| Some((e.a, group_uuid.get(&e.b)?.to_string())))
        .collect();
    source.group_roles = group_roles
        .iter()
        .filter_map(|e| {
            Some((
                group_uuid.get(&e.a)?.to_string(),
                role_uuid.get(&e.b)?.to_string(),
            ))
        })
        .collect();
    source.user_roles = user_roles
        .iter()
        .filter_map(|e| Some((e.a, role_uuid.get(&e.b)?.to_string())))
        .collect();
    for r in &roles {
        let permissions = grants
            .iter()
            .filter(|e| e.a == r.id)
            .filter_map(|e| permissions::by_id(e.b).map(|p| p.dotted()))
            .collect();
        source.roles.push(ImportRole {
            uuid: r.uuid.clone(),
            name: r.name.clone(),
            managed: r.managed.clone(),
            permissions,
        });
    }
    for t in tokens {
        let key = if include_keys {
            sealer
                .open(&t.key_sealed)
                .map_err(|e| DomainError::Internal(format!("token {}: {e}", t.identifier)))?
        } else {
            String::new()
        };
        source.tokens.push(ImportToken {
            id: Some(t.id),
            uuid: t.uuid,
            identifier: t.identifier,
            key,
            intent: t.intent,
            user_pk: t.user_id,
            description: t.description,
            expires: t.expires,
            expiring: t.expiring,
            managed: t.managed,
            created: Some(t.created),
        });
    }
    if include_keys && !source.tokens.is_empty() {
        let mut context = Map::new();
        context.insert("name".into(), Value::from("gatehouse export"));
        context.insert("token_keys".into(), Value::from(source.tokens.len()));
        let ctx = AuditContext {
            path: "gatehouse export".into(),
            method: "CLI".into(),
            system_actor: Some(audit::COMMAND_LINE_ACTOR.into()),
            ..AuditContext::default()
        };
        audit::record_alone(store, &ctx, "secret_view", "model", None, context).await?;
    }
    Ok(source)
}
