//! When login sessions end because of what happened to their user: a password change or reset
//! (any door), deactivation, or the loss of superuser status end every session of the user at
//! once, inside the transaction making the change; the rows are gone from the shared database,
//! so every instance refuses them on their next request. The session the user changed its
//! own password with stays valid, as Django's `update_session_auth_hash` keeps it.

use super::audit::AuditContext;
use super::DomainError;
use crate::store::{sessions, users as store_users, Tx};

/// Ends every session of `user_id`, except the acting session when the actor is that user.
pub async fn end_for(tx: &mut Tx, user_id: i64, audit: &AuditContext) -> Result<(), DomainError> {
    let keep = match &audit.actor {
        Some((actor, _)) if *actor == user_id => audit.actor_session.as_deref(),
        _ => None,
    };
    sessions::delete_for_user(tx, user_id, keep).await?;
    Ok(())
}

/// The superusers holding sessions now: taken before a change that may demote someone.
pub async fn superusers_with_sessions(tx: &mut Tx) -> Result<Vec<i64>, DomainError> {
    let holders = sessions::users_with_sessions(tx).await?;
    Ok(store_users::superusers(tx, &holders).await?)
}

/// Ends the sessions of those in `before` who are no longer superusers.
pub async fn end_for_demoted(
    tx: &mut Tx,
    before: &[i64],
    audit: &AuditContext,
) -> Result<(), DomainError> {
    if before.is_empty() {
        return Ok(());
    }
    let still = store_users::superusers(tx, before).await?;
    for id in before.iter().filter(|id| !still.contains(id)) {
        end_for(tx, *id, audit).await?;
    }
    Ok(())
}
