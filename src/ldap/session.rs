//! One LDAP connection: reads messages (size-limited; malformed BER or an oversized message
//! closes only this connection), keeps the bound identity (reset by a failed bind, RFC 4513),
//! re-checks it before every operation so a deactivated user loses access at once, applies the
//! per-connection rate limit, answers each operation (one log line and one metric each, under a
//! fresh request id), and upgrades itself to TLS on StartTLS. Writes (add, modify, delete,
//! modify DN) answer 50 as authentik's outpost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode,
};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use super::bind::{simple_bind, BindOutcome};
use super::codec::{Codec, EntryMessage, Request};
use super::entry::{Entry, Tree};
use super::filter;
use super::listener::{handshake, Limits};
use super::rate::RateLimit;
use super::search::{Paging, Searcher, Selection, Sink};
use super::stream::Stream;
use super::{extended, root};
use crate::app::AppState;
use crate::auth::bearer;
use crate::domain::audit::AuditContext;
use crate::domain::authz::{Principal, Scope};
use crate::domain::DomainError;
use crate::metrics::ldap::LdapOpKind;

/// Notice of Disconnection (RFC 4511 §4.4.1).
const NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

type Writer = Framed<Stream, Codec>;

/// What every connection of the door shares.
pub struct Door {
    /// Application state.
    pub state: Arc<AppState>,
    /// The tree.
    pub tree: Arc<Tree>,
    /// Connection limits.
    pub limits: Limits,
    /// The TLS acceptor StartTLS upgrades with (`None`: TLS not configured).
    pub starttls: Option<TlsAcceptor>,
}

/// Who is bound on a connection.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The user's principal as of the last check.
    pub principal: Principal,
    /// The user's DN.
    pub dn: String,
    /// The credential's scope (kept when the principal is looked up again).
    pub scope: Scope,
}

/// A connection's state.
pub struct Connection {
    /// Application state.
    pub state: Arc<AppState>,
    /// The tree.
    pub tree: Arc<Tree>,
    /// The client's address.
    pub remote: SocketAddr,
    /// The bound user, if any.
    pub bound: Option<Bound>,
    /// Nonce binding paging cookies to this connection.
    pub nonce: u64,
    /// Whether the connection is encrypted (LDAPS, or after StartTLS).
    pub tls: bool,
    /// Whether StartTLS is available (TLS configured).
    pub starttls: bool,
    /// The operation rate limit, when set.
    pub rate: Option<RateLimit>,
}

impl Connection {
    /// The audit context of an operation on this connection.
    pub fn audit(&self, request_id: &str, operation: &str) -> AuditContext {
        let mut ctx = AuditContext {
            client_ip: Some(self.remote.ip().to_string()),
            request_id: Some(request_id.to_string()),
            path: "ldap".into(),
            method: operation.into(),
            user_agent: "ldap".into(),
            retention_seconds: self.state.config.event_retention_seconds,
            ..AuditContext::default()
        };
        if let Some(b) = &self.bound {
            ctx.actor = Some((b.principal.user_id, b.principal.username.clone()));
            ctx.actor_email = Some(b.principal.email.clone());
            ctx.actor_scope = b.scope;
        }
        ctx
    }

    /// Looks the bound user up again (exact under writes): a user deactivated or deleted since
    /// the bind is anonymous from now on.
    async fn refresh(&mut self) -> Result<(), DomainError> {
        let Some(b) = &self.bound else {
            return Ok(());
        };
        match bearer::principal_of_user(&self.state.directory, b.principal.user_id).await {
            Ok(mut principal) => {
                principal.scope = b.scope;
                if let Some(b) = &mut self.bound {
                    b.principal = principal;
                }
                Ok(())
            }
            Err(DomainError::InvalidCredentials) => {
                self.bound = None;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Sends search entries to the connection as they are found.
struct EntrySink<'w> {
    writer: &'w mut Writer,
    msgid: i32,
}

impl Sink for EntrySink<'_> {
    async fn entry(&mut self, entry: &Entry, selection: &Selection) -> std::io::Result<()> {
        self.writer
            .feed(EntryMessage {
                msgid: self.msgid,
                entry,
                selection,
            })
            .await
    }
}

/// An LDAPResult with a code and message.
pub fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_string(),
        referral: vec![],
    }
}

/// Answers a connection over the cap with a Notice of Disconnection and closes it.
pub async fn refuse(stream: Stream) {
    let mut writer = Framed::new(stream, Codec::new(0));
    let _ = writer
        .send(notice(LdapResultCode::Busy, "too many connections"))
        .await;
}

fn notice(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg {
        msgid: 0,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: Some(NOTICE_OF_DISCONNECTION.to_string()),
            value: None,
        }),
        ctrl: vec![],
    }
}

/// What the connection does after an operation.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Read the next message.
    Continue,
    /// Close (unbind, or a confused peer).
    Close,
    /// StartTLS was accepted: the TLS handshake comes next.
    StartTls,
}

/// Serves one connection until the client leaves, idles out, sends garbage, or the server stops.
pub async fn serve(
    stream: Stream,
    remote: SocketAddr,
    door: Door,
    mut stopping: watch::Receiver<()>,
) {
    let limits = door.limits;
    let mut conn = Connection {
        state: door.state,
        tree: door.tree,
        remote,
        bound: None,
        nonce: rand::random(),
        tls: stream.is_tls(),
        starttls: door.starttls.is_some(),
        rate: RateLimit::new(limits.operations_per_second),
    };
    let mut wire = Framed::new(stream, Codec::new(limits.max_message_bytes));
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(limits.idle_timeout, wire.next()) => next,
            _ = stopping.changed() => {
                let _ = wire.send(notice(LdapResultCode::Unavailable, "the server is shutting down")).await;
                return;
            }
        };
        let msg = match next {
            Err(_) => {
                let _ = wire
                    .send(notice(LdapResultCode::Other, "idle timeout"))
                    .await;
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                tracing::debug!(%remote, error = %e, "malformed LDAP message; closing the connection");
                let _ = wire
                    .send(notice(
                        LdapResultCode::ProtocolError,
                        "malformed or oversized message",
                    ))
                    .await;
                return;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        let next = match handle(&mut conn, &mut wire, msg).await {
            Ok(next) => next,
            Err(e) => {
                tracing::debug!(%remote, error = %e, "LDAP connection ended");
                return;
            }
        };
        if SinkExt::<LdapMsg>::flush(&mut wire).await.is_err() || next == Next::Close {
            return;
        }
        if next == Next::StartTls {
            // `handle` checked that nothing followed the request and TLS is configured.
            let parts = wire.into_parts();
            let (Stream::Plain(tcp), true) = (parts.io, parts.read_buf.is_empty()) else {
                return;
            };
            let Some(tls) = handshake(&conn.state, door.starttls.as_ref(), tcp, limits).await
            else {
                return;
            };
            conn.tls = true;
            wire = Framed::new(tls, Codec::new(limits.max_message_bytes));
        }
    }
}

/// Paged results, the one control this server implements (on searches).
const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";

/// A critical control this server does not implement, if any (RFC 4511 §4.1.11).
fn unsupported_critical(critical: &[String], search: bool) -> Option<&String> {
    critical
        .iter()
        .find(|oid| !(search && *oid == PAGED_RESULTS))
}

/// The kind of a request (`None` for unbind and abandon, which get no answer).
fn kind(op: &LdapOp) -> Option<LdapOpKind> {
    Some(match op {
        LdapOp::BindRequest(_) => LdapOpKind::Bind,
        LdapOp::SearchRequest(_) => LdapOpKind::Search,
        LdapOp::CompareRequest(_) => LdapOpKind::Compare,
        LdapOp::ExtendedRequest(_) => LdapOpKind::Extended,
        LdapOp::ModifyRequest(_) => LdapOpKind::Modify,
        LdapOp::AddRequest(_) => LdapOpKind::Add,
        LdapOp::DelRequest(_) => LdapOpKind::Delete,
        LdapOp::ModifyDNRequest(_) => LdapOpKind::ModRdn,
        _ => return None,
    })
}

/// Answers one message under a fresh request id: one log line (never a secret: binds log
/// their DN, searches their base, extended operations their OID) and one count per operation.
async fn handle(
    conn: &mut Connection,
    writer: &mut Writer,
    request: Request,
) -> std::io::Result<Next> {
    let started = Instant::now();
    // From the thread's generator, as HTTP's request ids.
    let request_id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .simple()
        .to_string();
    let kind = kind(&request.msg.op);
    let target = match &request.msg.op {
        LdapOp::BindRequest(r) => r.dn.clone(),
        LdapOp::SearchRequest(r) => r.base.clone(),
        LdapOp::CompareRequest(r) => r.dn.clone(),
        LdapOp::ExtendedRequest(r) => r.name.clone(),
        _ => String::new(),
    };
    let msgid = request.msg.msgid;
    let (next, code) = answer(conn, writer, request, &request_id).await?;
    if let (Some(kind), Some(code)) = (kind, code) {
        if conn.state.config.metrics_enabled {
            conn.state.ldap_metrics.operation(kind, code);
        }
        let op = crate::metrics::ldap::OPS[kind as usize];
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            %request_id,
            client = %conn.remote,
            msgid,
            op,
            target = %target,
            code,
            result = crate::metrics::ldap::result_name(code),
            elapsed_ms,
            "ldap operation finished"
        );
    }
    Ok(next)
}

/// Answers one message: what comes next and the result code sent (`None`: nothing sent).
async fn answer(
    conn: &mut Connection,
    writer: &mut Writer,
    request: Request,
    request_id: &str,
) -> std::io::Result<(Next, Option<u16>)> {
    let Request { msg, critical } = request;
    let msgid = msg.msgid;
    let reply = |op: LdapOp| LdapMsg {
        msgid,
        op,
        ctrl: vec![],
    };
    let silent = matches!(msg.op, LdapOp::UnbindRequest | LdapOp::AbandonRequest(_));
    if !silent {
        if let Some(rate) = &mut conn.rate {
            if !rate.allow() {
                let res = result(
                    LdapResultCode::Busy,
                    "too many operations on this connection; slow down",
                );
                writer.feed(reply(error_response(&msg.op, res))).await?;
                return Ok((Next::Continue, Some(51)));
            }
        }
    }
    if let Err(e) = conn.refresh().await {
        tracing::error!(%request_id, error = %e, "LDAP: looking up the bound user failed");
        let res = result(LdapResultCode::OperationsError, "internal error");
        writer.feed(reply(error_response(&msg.op, res))).await?;
        return Ok((Next::Continue, Some(1)));
    }
    let search = matches!(msg.op, LdapOp::SearchRequest(_));
    if let Some(oid) = unsupported_critical(&critical, search) {
        let res = result(
            LdapResultCode::UnavailableCriticalExtension,
            &format!("critical control {oid} is not supported"),
        );
        if silent {
            return Ok((Next::Continue, None));
        }
        writer.feed(reply(error_response(&msg.op, res))).await?;
        return Ok((Next::Continue, Some(12)));
    }
    let res = match msg.op {
        LdapOp::BindRequest(req) => {
            let res = match req.cred {
                LdapBindCred::Simple(secret) => do_bind(conn, &req.dn, &secret, request_id).await,
                _ => {
                    conn.bound = None;
                    result(
                        LdapResultCode::AuthMethodNotSupported,
                        "SASL is not supported; use a simple bind",
                    )
                }
            };
            let code = res.code.clone() as u16;
            writer
                .feed(reply(LdapOp::BindResponse(
                    ldap3_proto::proto::LdapBindResponse {
                        res,
                        saslcreds: None,
                    },
                )))
                .await?;
            code
        }
        LdapOp::UnbindRequest => return Ok((Next::Close, None)),
        LdapOp::AbandonRequest(_) => return Ok((Next::Continue, None)),
        LdapOp::SearchRequest(req) => {
            let paging = msg.ctrl.iter().find_map(|c| match c {
                LdapControl::SimplePagedResults { size, cookie } => Some(Paging {
                    size: usize::try_from(*size).unwrap_or(0),
                    cookie: cookie.clone(),
                }),
                _ => None,
            });
            let paged = paging.is_some();
            let principal = conn.bound.as_ref().map(|b| b.principal.clone());
            let searcher = Searcher {
                state: &conn.state,
                tree: &conn.tree,
                principal: principal.as_ref(),
                nonce: conn.nonce,
            };
            let mut sink = EntrySink { writer, msgid };
            let done = match searcher.search(&req, paging, &mut sink).await {
                Ok(done) => done,
                Err(super::search::SearchError::Io(e)) => return Err(e),
                Err(super::search::SearchError::Domain(e)) => {
                    tracing::error!(%request_id, error = %e, "LDAP search failed");
                    super::search::Done {
                        code: LdapResultCode::OperationsError,
                        matched: String::new(),
                        message: "internal error".into(),
                        cookie: paged.then(Vec::new),
                    }
                }
            };
            let code = done.code.clone() as u16;
            let ctrl = match done.cookie {
                Some(cookie) => vec![LdapControl::SimplePagedResults { size: 0, cookie }],
                None => vec![],
            };
            writer
                .feed(LdapMsg {
                    msgid,
                    op: LdapOp::SearchResultDone(LdapResult {
                        code: done.code,
                        matcheddn: done.matched,
                        message: done.message,
                        referral: vec![],
                    }),
                    ctrl,
                })
                .await?;
            code
        }
        LdapOp::CompareRequest(req) => {
            let res = compare(conn, &req.dn, &req.atype, &req.val).await;
            let code = res.code.clone() as u16;
            writer.feed(reply(LdapOp::CompareResult(res))).await?;
            code
        }
        LdapOp::ExtendedRequest(req) if req.name == root::STARTTLS => {
            let response = start_tls(conn, writer);
            let code = response.res.code.clone() as u16;
            writer
                .feed(reply(LdapOp::ExtendedResponse(response)))
                .await?;
            let next = if code == 0 {
                Next::StartTls
            } else {
                Next::Continue
            };
            return Ok((next, Some(code)));
        }
        LdapOp::ExtendedRequest(req) => {
            let response = extended::answer(conn, &req, request_id).await;
            let code = response.res.code.clone() as u16;
            writer
                .feed(reply(LdapOp::ExtendedResponse(response)))
                .await?;
            code
        }
        op @ (LdapOp::AddRequest(_)
        | LdapOp::ModifyRequest(_)
        | LdapOp::DelRequest(_)
        | LdapOp::ModifyDNRequest(_)) => {
            let res = result(
                LdapResultCode::InsufficentAccessRights,
                "the directory is read-only over LDAP; change it through the API",
            );
            writer.feed(reply(error_response(&op, res))).await?;
            50
        }
        _ => {
            // A response or an operation a client never sends: the peer is confused.
            writer
                .send(notice(
                    LdapResultCode::ProtocolError,
                    "unexpected protocol operation",
                ))
                .await?;
            return Ok((Next::Close, None));
        }
    };
    Ok((Next::Continue, Some(res)))
}

/// Decides a StartTLS request (RFC 4511 §4.14, RFC 4513 §3.1.1): `unavailable` (52) when no
/// certificate is configured, `operationsError` (1) when TLS is already on or more requests
/// follow it unanswered (operations are answered one at a time, so pipelined ones are the only
/// outstanding ones), else success — the caller then hands the connection to the handshake.
fn start_tls(conn: &Connection, wire: &Writer) -> LdapExtendedResponse {
    let (code, message) = if !conn.starttls {
        (
            LdapResultCode::Unavailable,
            "TLS is not configured on this server",
        )
    } else if conn.tls {
        (
            LdapResultCode::OperationsError,
            "TLS is already established",
        )
    } else if !wire.read_buffer().is_empty() {
        (
            LdapResultCode::OperationsError,
            "operations are outstanding; send StartTLS alone",
        )
    } else {
        (LdapResultCode::Success, "")
    };
    LdapExtendedResponse {
        res: result(code, message),
        name: Some(root::STARTTLS.to_string()),
        value: None,
    }
}

/// The response operation that answers `op` with `res`.
fn error_response(op: &LdapOp, res: LdapResult) -> LdapOp {
    match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(ldap3_proto::proto::LdapBindResponse {
            res,
            saslcreds: None,
        }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        _ => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
    }
}

async fn do_bind(conn: &mut Connection, dn: &str, secret: &str, request_id: &str) -> LdapResult {
    // Whatever happens below, a failed bind leaves the connection anonymous (RFC 4513 §4).
    conn.bound = None;
    if dn.is_empty() && secret.is_empty() {
        return result(LdapResultCode::Success, "");
    }
    if secret.is_empty() {
        return result(
            LdapResultCode::InvalidCredentials,
            "unauthenticated binds (a DN without a password) are refused",
        );
    }
    if conn.state.config.ldap_require_tls && !conn.tls {
        return result(
            LdapResultCode::ConfidentialityRequired,
            "binds need TLS here: use StartTLS or LDAPS",
        );
    }
    let audit = conn.audit(request_id, "BIND");
    match simple_bind(
        &conn.state,
        &conn.tree,
        dn,
        secret,
        Some(conn.remote.ip()),
        &audit,
    )
    .await
    {
        Ok(BindOutcome::Bound { principal, dn }) => {
            conn.bound = Some(Bound {
                scope: principal.scope,
                principal,
                dn,
            });
            result(LdapResultCode::Success, "")
        }
        Ok(BindOutcome::Invalid) => result(LdapResultCode::InvalidCredentials, ""),
        Ok(BindOutcome::Throttled(wait)) => result(
            LdapResultCode::UnwillingToPerform,
            &format!("too many failed logins; try again in {wait} s"),
        ),
        Err(e) => {
            tracing::error!(%request_id, error = %e, "LDAP bind failed");
            result(LdapResultCode::OperationsError, "internal error")
        }
    }
}

async fn compare(conn: &Connection, dn: &str, attribute: &str, value: &[u8]) -> LdapResult {
    let principal = conn.bound.as_ref().map(|b| b.principal.clone());
    if principal.is_none() && !dn.is_empty() && !dn.eq_ignore_ascii_case("cn=subschema") {
        return result(LdapResultCode::InsufficentAccessRights, "bind first");
    }
    let searcher = Searcher {
        state: &conn.state,
        tree: &conn.tree,
        principal: principal.as_ref(),
        nonce: conn.nonce,
    };
    let entry = if dn.eq_ignore_ascii_case("cn=subschema") {
        Ok(root::subschema())
    } else {
        match searcher.lookup(dn).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "LDAP compare failed");
                return result(LdapResultCode::OperationsError, "internal error");
            }
        }
    };
    let entry = match entry {
        Ok(entry) => entry,
        Err(matched) => {
            return LdapResult {
                matcheddn: matched,
                ..result(LdapResultCode::NoSuchObject, "no such object")
            }
        }
    };
    if entry.get(attribute).is_none() {
        return result(LdapResultCode::NoSuchAttribute, "no such attribute");
    }
    let Ok(value) = std::str::from_utf8(value) else {
        return result(LdapResultCode::CompareFalse, "");
    };
    let assertion =
        ldap3_proto::proto::LdapFilter::Equality(attribute.to_string(), value.to_string());
    match filter::eval(&assertion, &entry, &filter::InChain::default()) {
        filter::Truth::True => result(LdapResultCode::CompareTrue, ""),
        _ => result(LdapResultCode::CompareFalse, ""),
    }
}
