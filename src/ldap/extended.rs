//! Extended operations: Who am I? (RFC 4532) and Password Modify (RFC 3062: one's own password
//! with the old one; another user's with the right to reset it), through the domain's
//! `set_password` so the change carries its audit events and ends the user's sessions.
//! StartTLS is the session's (it changes the connection); anything else answers
//! protocolError (2).

use ldap3_proto::proto::{
    LdapExtendedRequest, LdapExtendedResponse, LdapPasswordModifyRequest, LdapResultCode,
};

use super::bind::user_of_dn;
use super::root::{PASSWORD_MODIFY, WHOAMI};
use super::session::{result, Connection};
use crate::auth::session;
use crate::domain::authz::{authorize, Action};
use crate::domain::{users, DomainError};

fn response(code: LdapResultCode, message: &str) -> LdapExtendedResponse {
    LdapExtendedResponse {
        res: result(code, message),
        name: None,
        value: None,
    }
}

/// Answers an extended request.
pub async fn answer(
    conn: &Connection,
    req: &LdapExtendedRequest,
    request_id: &str,
) -> LdapExtendedResponse {
    match req.name.as_str() {
        WHOAMI => LdapExtendedResponse {
            value: Some(
                conn.bound
                    .as_ref()
                    .map(|b| format!("dn:{}", b.dn))
                    .unwrap_or_default()
                    .into_bytes(),
            ),
            ..response(LdapResultCode::Success, "")
        },
        PASSWORD_MODIFY => match LdapPasswordModifyRequest::try_from(req) {
            Ok(pm) => match password_modify(conn, &pm, request_id).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(%request_id, error = %e, "LDAP password modify failed");
                    response(LdapResultCode::OperationsError, "internal error")
                }
            },
            Err(_) => response(
                LdapResultCode::ProtocolError,
                "malformed password modify request",
            ),
        },
        other => response(
            LdapResultCode::ProtocolError,
            &format!("unsupported extended operation {other}"),
        ),
    }
}

async fn password_modify(
    conn: &Connection,
    req: &LdapPasswordModifyRequest,
    request_id: &str,
) -> Result<LdapExtendedResponse, DomainError> {
    let Some(bound) = &conn.bound else {
        return Ok(response(
            LdapResultCode::UnwillingToPerform,
            "only bound users may change passwords",
        ));
    };
    let Some(new_password) = req.new_password.clone().filter(|p| !p.is_empty()) else {
        return Ok(response(
            LdapResultCode::UnwillingToPerform,
            "a new password is required (none is generated)",
        ));
    };
    let me = &bound.principal;
    let target = match req.user_identity.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(identity) => {
            let dn = identity.strip_prefix("dn:").unwrap_or(identity);
            match user_of_dn(&conn.state, &conn.tree, dn).await? {
                Some(u) if u.id == me.user_id => None,
                Some(u) => Some(u),
                None => return Ok(response(LdapResultCode::NoSuchObject, "no such user")),
            }
        }
    };
    let audit = conn.audit(request_id, "PASSWORD_MODIFY");
    let id = match target {
        None => {
            if authorize(me, Action::EditUserProfile(me.user_id)).is_err() {
                return Ok(response(
                    LdapResultCode::InsufficentAccessRights,
                    "not allowed",
                ));
            }
            let Some(old) = req.old_password.as_deref().filter(|p| !p.is_empty()) else {
                return Ok(response(
                    LdapResultCode::UnwillingToPerform,
                    "the old password is required to change one's own",
                ));
            };
            let keys = crate::auth::throttle::keys(&me.username, Some(conn.remote.ip()));
            let Ok(attempt) = conn.state.logins.reserve(keys).await else {
                return Ok(response(
                    LdapResultCode::UnwillingToPerform,
                    "too many failed logins",
                ));
            };
            match session::verify_password(&conn.state.directory, &me.username, old).await {
                Ok(_) => attempt.release(),
                Err(DomainError::InvalidCredentials) => {
                    return Ok(response(
                        LdapResultCode::InvalidCredentials,
                        "the old password is wrong",
                    ))
                }
                Err(e) => return Err(e),
            }
            me.user_id
        }
        Some(user) => {
            if authorize(me, Action::ResetUserPassword(user.id)).is_err() {
                return Ok(response(
                    LdapResultCode::InsufficentAccessRights,
                    "not allowed",
                ));
            }
            user.id
        }
    };
    match users::set_password(&conn.state.store, id, new_password, &audit).await {
        Ok(()) => Ok(response(LdapResultCode::Success, "")),
        Err(DomainError::Invalid(_)) => Ok(response(
            LdapResultCode::ConstraintViolation,
            "the new password is not acceptable",
        )),
        Err(DomainError::NotFound(_)) => Ok(response(LdapResultCode::NoSuchObject, "no such user")),
        Err(e) => Err(e),
    }
}
