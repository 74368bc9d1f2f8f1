//! LDAP over TLS: LDAPS and StartTLS with a self-signed certificate made by the test (rcgen),
//! driven by a small client on `ldap3_proto`'s codec over `tokio-rustls` (so the client really
//! verifies the server's certificate), and by OpenLDAP's own `ldapsearch -ZZ` / `ldaps://`
//! when `GATEHOUSE_LDAP_UTILS` is set. Also: StartTLS refused without a certificate, a second
//! StartTLS, `ldap_require_tls`, and the start-up errors of unusable certificate files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapExtendedRequest, LdapFilter, LdapMsg,
    LdapOp, LdapSearchRequest, LdapSearchScope,
};
use ldap3_proto::LdapCodec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::common::{Backend, TestServer};
use crate::ldap::{seed, user_dn, BASE, PW, SVC};

const STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
const WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";

/// A test CA and a certificate it issued for `localhost` and 127.0.0.1, written to a scratch
/// directory.
pub struct Pki {
    dir: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA's certificate (PEM), what a client trusts.
    pub ca: PathBuf,
    ca_der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let dir =
            std::env::temp_dir().join(format!("gatehouse-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "gatehouse test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("server certificate");
        let paths = (
            dir.join("cert.pem"),
            dir.join("key.pem"),
            dir.join("ca.pem"),
        );
        std::fs::write(&paths.0, cert.pem()).expect("write cert");
        std::fs::write(&paths.1, key.serialize_pem()).expect("write key");
        std::fs::write(&paths.2, ca.pem()).expect("write CA");
        Pki {
            dir,
            cert: paths.0,
            key: paths.1,
            ca: paths.2,
            ca_der: ca.der().to_vec(),
        }
    }

    /// A client configuration trusting only this CA.
    fn client(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(self.ca_der.clone()))
            .expect("trust anchor");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            gatehouse::ldap::tls::ring_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with LDAPS on an ephemeral port and `pki`'s certificate (StartTLS on the plain port).
fn with_tls(c: &mut gatehouse::config::Config, pki: &Pki) {
    c.ldaps_listen = Some("127.0.0.1:0".parse().expect("addr"));
    c.tls_cert_file = Some(pki.cert.clone());
    c.tls_key_file = Some(pki.key.clone());
}

/// Runs `run` on a server configured by `adjust` (given a fresh certificate), on SQLite and
/// (when configured) PostgreSQL.
macro_rules! tls_test {
    ($name:ident, $adjust:expr, |$srv:ident, $pki:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($srv: &TestServer, $pki: &Pki) $body

            async fn on(backend: Backend) {
                let pki = Pki::new();
                let adjust: fn(&mut gatehouse::config::Config, &Pki) = $adjust;
                let srv = TestServer::start_with(backend, |c| adjust(c, &pki)).await;
                run(&srv, &pki).await;
                srv.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::common::postgres_url().is_none() {
                    eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: PostgreSQL variant not run");
                    return;
                }
                on(Backend::Postgres).await;
            }
        }
    };
}

/// A bare LDAP client: one request at a time, replies collected up to the final one.
struct Client<S> {
    wire: Framed<S, LdapCodec>,
    msgid: i32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    fn new(stream: S) -> Client<S> {
        Client {
            wire: Framed::new(stream, LdapCodec::default()),
            msgid: 0,
        }
    }

    /// Sends `op` and returns every reply to it (entries, then the result); `None` when the
    /// server closed the connection instead.
    async fn call(&mut self, op: LdapOp) -> Option<Vec<LdapOp>> {
        self.msgid += 1;
        self.wire
            .send(LdapMsg::new(self.msgid, op))
            .await
            .expect("request sent");
        let mut replies = Vec::new();
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(30), self.wire.next())
                .await
                .expect("an answer in time")?
                .ok()?;
            let last = !matches!(msg.op, LdapOp::SearchResultEntry(_));
            replies.push(msg.op);
            if last {
                return Some(replies);
            }
        }
    }

    /// The result code of a simple bind.
    async fn bind(&mut self, dn: &str, pw: &str) -> u8 {
        let op = LdapOp::BindRequest(LdapBindRequest {
            dn: dn.into(),
            cred: LdapBindCred::Simple(pw.into()),
        });
        match self.call(op).await.as_deref() {
            Some([LdapOp::BindResponse(r)]) => r.res.code.clone() as u8,
            other => panic!("a bind response: {other:?}"),
        }
    }

    /// DNs of users found for `cn=<cn>`, and the result code.
    async fn find(&mut self, cn: &str) -> (u8, Vec<String>) {
        let op = LdapOp::SearchRequest(LdapSearchRequest {
            base: format!("ou=users,{BASE}"),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Equality("cn".into(), cn.into()),
            attrs: vec!["cn".into()],
        });
        let replies = self.call(op).await.expect("search answered");
        let mut dns = Vec::new();
        for reply in replies {
            match reply {
                LdapOp::SearchResultEntry(e) => dns.push(e.dn),
                LdapOp::SearchResultDone(r) => return (r.code as u8, dns),
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("no SearchResultDone")
    }

    /// An extended operation's result code, name and value.
    async fn extended(&mut self, name: &str) -> (u8, Option<String>, Option<Vec<u8>>) {
        let op = LdapOp::ExtendedRequest(LdapExtendedRequest {
            name: name.into(),
            value: None,
        });
        match self.call(op).await {
            Some(mut replies) => match replies.pop() {
                Some(LdapOp::ExtendedResponse(r)) => (r.res.code as u8, r.name, r.value),
                other => panic!("an extended response: {other:?}"),
            },
            None => panic!("connection closed instead of answering {name}"),
        }
    }
}

fn addr(url: &str) -> String {
    url.split_once("://").expect("url").1.to_string()
}

async fn plain(srv: &TestServer) -> Client<TcpStream> {
    Client::new(TcpStream::connect(addr(&srv.ldap)).await.expect("connect"))
}

/// StartTLS on a plain connection, verified against `pki`.
async fn start_tls(
    srv: &TestServer,
    pki: &Pki,
) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut client = plain(srv).await;
    let (code, name, _) = client.extended(STARTTLS).await;
    assert_eq!(
        (code, name.as_deref()),
        (0, Some(STARTTLS)),
        "StartTLS accepted"
    );
    let tcp = client.wire.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = pki.client().connect(name, tcp).await.expect("handshake");
    Client::new(tls)
}

/// A connection to the LDAPS port, verified against `pki`.
async fn ldaps(srv: &TestServer, pki: &Pki) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr(&srv.ldaps)).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    Client::new(pki.client().connect(name, tcp).await.expect("handshake"))
}

tls_test!(ldap_tls_ldaps_and_starttls, with_tls, |srv, pki| {
    seed(srv).await;
    assert!(srv.ldaps.starts_with("ldaps://"), "LDAPS is on");
    // LDAPS: bind, search, whoami over TLS from the first byte.
    let mut secure = ldaps(srv, pki).await;
    assert_eq!(secure.bind(SVC, PW).await, 0);
    assert_eq!(secure.find("alice").await, (0, vec![user_dn("alice")]));
    let (code, _, value) = secure.extended(WHOAMI).await;
    assert_eq!((code, value), (0, Some(format!("dn:{SVC}").into_bytes())));
    // StartTLS on the LDAPS connection: TLS is already on (operationsError), and it stays usable.
    assert_eq!(secure.extended(STARTTLS).await.0, 1);
    assert_eq!(secure.find("bob").await, (0, vec![user_dn("bob")]));

    // StartTLS: the same connection continues over TLS; a bind before it survives it.
    let mut client = plain(srv).await;
    assert_eq!(client.bind(&user_dn("alice"), PW).await, 0);
    let (code, name, _) = client.extended(STARTTLS).await;
    assert_eq!((code, name.as_deref()), (0, Some(STARTTLS)));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tcp = client.wire.into_inner();
    let mut upgraded = Client::new(pki.client().connect(name, tcp).await.expect("handshake"));
    let (_, _, who) = upgraded.extended(WHOAMI).await;
    assert_eq!(who, Some(format!("dn:{}", user_dn("alice")).into_bytes()));
    assert_eq!(upgraded.bind(SVC, PW).await, 0);
    assert_eq!(upgraded.find("carol").await, (0, vec![user_dn("carol")]));
    assert_eq!(upgraded.extended(STARTTLS).await.0, 1, "a second StartTLS");
    assert_eq!(upgraded.bind(SVC, "wrong").await, 49);

    // The rootDSE advertises StartTLS.
    let mut anon = start_tls(srv, pki).await;
    let root = anon
        .call(LdapOp::SearchRequest(LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec!["supportedExtension".into()],
        }))
        .await
        .expect("rootDSE");
    let Some(LdapOp::SearchResultEntry(entry)) = root.first() else {
        panic!("the rootDSE: {root:?}")
    };
    let extensions: Vec<&[u8]> = entry
        .attributes
        .iter()
        .flat_map(|a| a.vals.iter().map(Vec::as_slice))
        .collect();
    assert!(extensions.contains(&STARTTLS.as_bytes()), "{extensions:?}");

    // A client that speaks no TLS on the LDAPS port gets nothing, and the server carries on.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(addr(&srv.ldaps)).await.expect("connect");
        let _ = tcp
            .write_all(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00])
            .await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tcp.read_to_end(&mut out),
        )
        .await;
        assert!(read.is_ok(), "a failed handshake closes the connection");
    }
    let metrics = srv.get("/metrics").await.text;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("gatehouse_ldap_tls_handshake_failures_total ") && !l.ends_with(" 0")
        ),
        "{metrics}"
    );
    assert_eq!(ldaps(srv, pki).await.bind(SVC, PW).await, 0);
});

crate::backend_test!(ldap_starttls_refused_without_a_certificate, |srv| {
    seed(srv).await;
    let mut client = plain(srv).await;
    let (code, _, _) = client.extended(STARTTLS).await;
    assert_eq!(code, 52, "unavailable: TLS is not configured");
    // The connection stays plain and usable.
    assert_eq!(client.bind(SVC, PW).await, 0);
    assert_eq!(client.find("alice").await, (0, vec![user_dn("alice")]));
    // Asking again gets the same answer; the rootDSE does not advertise StartTLS.
    assert_eq!(client.extended(STARTTLS).await.0, 52);
    let root = client
        .call(LdapOp::SearchRequest(LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec!["supportedExtension".into()],
        }))
        .await
        .expect("rootDSE");
    let Some(LdapOp::SearchResultEntry(entry)) = root.first() else {
        panic!("the rootDSE: {root:?}")
    };
    let extensions: Vec<&[u8]> = entry
        .attributes
        .iter()
        .flat_map(|a| a.vals.iter().map(Vec::as_slice))
        .collect();
    assert!(!extensions.is_empty(), "whoami and password modify");
    assert!(!extensions.contains(&STARTTLS.as_bytes()), "{extensions:?}");
});

tls_test!(
    ldap_require_tls_refuses_plain_binds,
    |c, pki| {
        with_tls(c, pki);
        c.ldap_require_tls = true;
    },
    |srv, pki| {
        seed(srv).await;
        let mut client = plain(srv).await;
        assert_eq!(client.bind(SVC, PW).await, 13, "confidentialityRequired");
        assert_eq!(client.bind("", "").await, 0, "anonymous binds stay allowed");
        let mut secure = start_tls(srv, pki).await;
        assert_eq!(secure.bind(SVC, PW).await, 0);
        assert_eq!(secure.find("alice").await, (0, vec![user_dn("alice")]));
        assert_eq!(ldaps(srv, pki).await.bind(SVC, PW).await, 0);
    }
);

tls_test!(
    ldap_starttls_with_pipelined_requests_is_refused,
    with_tls,
    |srv, _pki| {
        // StartTLS and a bind in one write: the bind is outstanding, so StartTLS answers
        // operationsError and both are answered in the clear.
        let mut client = plain(srv).await;
        let starttls = LdapMsg::new(
            1,
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: STARTTLS.into(),
                value: None,
            }),
        );
        let bind = LdapMsg::new(
            2,
            LdapOp::BindRequest(LdapBindRequest {
                dn: String::new(),
                cred: LdapBindCred::Simple(String::new()),
            }),
        );
        client.wire.feed(starttls).await.expect("sent");
        client.wire.feed(bind).await.expect("sent");
        client.wire.flush().await.expect("flushed");
        let first = client.wire.next().await.expect("answer").expect("decoded");
        match first.op {
            LdapOp::ExtendedResponse(r) => assert_eq!(r.res.code as u8, 1),
            other => panic!("{other:?}"),
        }
        let second = client.wire.next().await.expect("answer").expect("decoded");
        match second.op {
            LdapOp::BindResponse(r) => assert_eq!(r.res.code as u8, 0),
            other => panic!("{other:?}"),
        }
    }
);

/// Unusable certificate files stop the server at start-up with a message naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_tls_start_up_errors() {
    use gatehouse::ldap::tls::server_config;
    let (a, b) = (Pki::new(), Pki::new());
    assert!(server_config(&a.cert, &a.key).is_ok());
    let missing = a.dir.join("missing.pem");
    let message = server_config(&missing, &a.key)
        .expect_err("missing file")
        .to_string();
    assert!(message.contains("missing.pem"), "{message}");
    let garbage = a.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").expect("write");
    let message = server_config(&a.cert, &garbage)
        .expect_err("no key in the file")
        .to_string();
    assert!(message.contains("garbage.pem"), "{message}");
    let message = server_config(&a.key, &a.key)
        .expect_err("a key is no certificate")
        .to_string();
    assert!(message.contains("key.pem"), "{message}");
    let message = server_config(&a.cert, &b.key)
        .expect_err("a key of another certificate")
        .to_string();
    assert!(message.contains("cert.pem"), "{message}");

    // Through the server's start-up.
    let db = crate::common::FreshDatabase::new(Backend::Sqlite).await;
    let config = gatehouse::config::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: db.url.clone(),
        secret_key: Some(crate::common::TEST_SECRET.into()),
        bootstrap_token: Some("test-tls-start-up-token-0123456789".into()),
        ldap_listen: Some("127.0.0.1:0".parse().expect("addr")),
        ldaps_listen: Some("127.0.0.1:0".parse().expect("addr")),
        tls_cert_file: Some(a.cert.clone()),
        tls_key_file: Some(b.key.clone()),
        ..gatehouse::config::Config::default()
    };
    let Err(e) = gatehouse::app::RunningServer::start(config).await else {
        panic!("a mismatched pair must not start")
    };
    assert!(e.to_string().starts_with("TLS: "), "{e}");
    db.remove().await;
}

fn tools() -> Option<String> {
    std::env::var("GATEHOUSE_LDAP_UTILS")
        .ok()
        .filter(|p| !p.is_empty())
}

/// `ldapsearch` verifying the server's certificate against `ca` (no `LDAPNOINIT`: it would
/// make libldap ignore the `LDAPTLS_*` variables too; `LDAPCONF` keeps the system file out).
async fn ldapsearch(dir: &str, ca: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(format!("{dir}/ldapsearch"))
        .args(args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .env("LDAPCONF", "/dev/null")
        .env("LDAPRC", "gatehouse-test-no-ldaprc")
        .kill_on_drop(true)
        .output()
        .await
        .expect("ldapsearch runs")
}

tls_test!(ldap_tls_with_openldap_clients, with_tls, |srv, pki| {
    let Some(dir) = tools() else {
        eprintln!("GATEHOUSE_LDAP_UTILS unset: ldapsearch -ZZ / ldaps:// not run");
        return;
    };
    seed(srv).await;
    for uri_and_flag in [(srv.ldap.as_str(), "-ZZ"), (srv.ldaps.as_str(), "")] {
        let (uri, flag) = uri_and_flag;
        let mut args = vec!["-x", "-LLL", "-H", uri, "-D", SVC, "-w", PW, "-b", BASE];
        if !flag.is_empty() {
            args.push(flag);
        }
        args.extend(["(cn=alice)", "mail"]);
        let out = ldapsearch(&dir, &pki.ca, &args).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{uri} {flag}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("mail: alice@example.com"), "{text}");
    }
    // A certificate the client does not trust fails the handshake (the check is real).
    let other = Pki::new();
    let out = ldapsearch(
        &dir,
        &other.ca,
        &["-x", "-H", &srv.ldaps, "-b", "", "-s", "base"],
    )
    .await;
    assert!(!out.status.success(), "an untrusted certificate is refused");
});

tls_test!(
    ldap_starttls_refused_by_openldap_without_tls,
    |_, _| {},
    |srv, pki| {
        let Some(dir) = tools() else {
            eprintln!("GATEHOUSE_LDAP_UTILS unset: ldapsearch -ZZ not run");
            return;
        };
        let out = ldapsearch(
            &dir,
            &pki.ca,
            &["-x", "-ZZ", "-H", &srv.ldap, "-b", "", "-s", "base"],
        )
        .await;
        assert!(!out.status.success(), "-ZZ requires StartTLS to succeed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Server is unavailable") || err.contains("(52)"),
            "{err}"
        );
    }
);

tls_test!(
    ldap_tls_stalled_and_garbled_handshakes_close_only_their_connection,
    |c, pki| {
        with_tls(c, pki);
        c.ldap_idle_timeout = std::time::Duration::from_secs(1);
    },
    |srv, pki| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        seed(srv).await;
        let closed = |mut tcp: TcpStream| async move {
            let mut out = Vec::new();
            tokio::time::timeout(
                std::time::Duration::from_secs(20),
                tcp.read_to_end(&mut out),
            )
            .await
            .is_ok()
        };
        // A client that connects to LDAPS and never starts the handshake is dropped after the
        // idle timeout.
        let stalled = TcpStream::connect(addr(&srv.ldaps)).await.expect("connect");
        // A client that asks for StartTLS, then sends no TLS at all.
        let mut client = plain(srv).await;
        assert_eq!(client.extended(STARTTLS).await.0, 0);
        let mut garbled = client.wire.into_inner();
        garbled
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("sent");
        assert!(closed(garbled).await, "a garbled handshake is closed");
        assert!(closed(stalled).await, "a stalled handshake is closed");
        let metrics = srv.get("/metrics").await.text;
        assert!(
            metrics.lines().any(|l| l
                .strip_prefix("gatehouse_ldap_tls_handshake_failures_total ")
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|n| n >= 2.0)),
            "{metrics}"
        );
        // The server carries on over both doors.
        assert_eq!(ldaps(srv, pki).await.bind(SVC, PW).await, 0);
        assert_eq!(start_tls(srv, pki).await.bind(SVC, PW).await, 0);
    }
);
