//! ldapload: a small LDAP load generator for `bench/run` (the wrk of its LDAP scenarios).
//!
//! Runs one scenario against one server for a fixed time with N concurrent clients and prints
//! one JSON line: requests, req/s, latency percentiles, entries seen per request and errors.
//!
//! - `search-cn`: each client connects and binds once as the service account, then loops a
//!   subtree search `(cn=<next user>)` under `ou=users,<base>` (exactly one entry expected);
//! - `paged`: bound once, each request is a whole listing of `ou=users,<base>` with the RFC 2696
//!   paged-results control (`--page-size`, 100), counting the entries;
//! - `bind-search`: each request connects, binds as the next user with its secret, reads its own
//!   entry (base scope) and unbinds.
//!
//! Users come from `--users-file` (one `name` or `name<TAB>secret` a line) or from
//! `--pattern 'bench-user-{:07}' --first 1 --count N` (secret: `--user-password`). A user's DN is
//! `cn=<name>,ou=users,<base>`, the layout gatehouse and the reference slapd share.

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope};

const USAGE: &str = "usage: ldapload MODE [options]
  MODE                 search-cn | paged | bind-search
  --url URL            ldap://127.0.0.1:3389
  --base DN            dc=ldap,dc=goauthentik,dc=io
  --bind-dn DN         service account (search-cn, paged)
  --password PW        its password or app_password token
  --users-file PATH    one `name` or `name<TAB>secret` a line
  --pattern P          user names, e.g. 'bench-user-{:07}' (with --first, --count)
  --first N            first index for --pattern (1)
  --count N            how many users for --pattern
  --user-password PW   every user's secret with --pattern (bind-search)
  --concurrency N      concurrent clients (1)
  --duration SECONDS   run time (10)
  --page-size N        paged: entries a page (100)
  --threads N          client runtime threads (1, like wrk -t1)";

/// Attributes every search asks for (what an application's user lookup reads).
const ATTRIBUTES: [&str; 3] = ["cn", "mail", "memberOf"];

/// Why a run could not start or one request failed.
#[derive(Debug)]
enum Failure {
    /// The LDAP client reported an error (connection, protocol or a non-success result).
    Ldap(LdapError),
    /// The server answered, but not what the scenario expects.
    Unexpected(String),
    /// The command line is wrong.
    Usage(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Ldap(e) => write!(f, "{e}"),
            Failure::Unexpected(m) | Failure::Usage(m) => f.write_str(m),
        }
    }
}

impl From<LdapError> for Failure {
    fn from(e: LdapError) -> Self {
        Failure::Ldap(e)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SearchCn,
    Paged,
    BindSearch,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::SearchCn => "search-cn",
            Mode::Paged => "paged",
            Mode::BindSearch => "bind-search",
        }
    }
}

/// One user: name and secret (password or app_password token).
#[derive(Clone)]
struct Account {
    name: String,
    secret: String,
}

struct Options {
    mode: Mode,
    url: String,
    base: String,
    bind_dn: String,
    password: String,
    users: Vec<Account>,
    concurrency: usize,
    duration: Duration,
    page_size: i32,
    threads: usize,
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    error_samples: Vec<String>,
    entries_min: Option<usize>,
    entries_max: usize,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<usize, Failure>) {
        match outcome {
            Ok(entries) => {
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latencies_us.push(us);
                self.entries_min = Some(self.entries_min.map_or(entries, |m| m.min(entries)));
                self.entries_max = self.entries_max.max(entries);
            }
            Err(e) => {
                self.errors += 1;
                if self.error_samples.len() < 3 {
                    self.error_samples.push(e.to_string());
                }
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < 3 {
                self.error_samples.push(sample);
            }
        }
        self.entries_min = match (self.entries_min, other.entries_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.entries_max = self.entries_max.max(other.entries_max);
    }
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ldapload: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ldapload: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ldapload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<Options, Failure> {
    let mut args = args.into_iter();
    let mode = match args.next().as_deref() {
        Some("search-cn") => Mode::SearchCn,
        Some("paged") => Mode::Paged,
        Some("bind-search") => Mode::BindSearch,
        Some("-h" | "--help") | None => return Err(Failure::Usage("a mode is required".into())),
        Some(other) => return Err(Failure::Usage(format!("unknown mode {other:?}"))),
    };
    let mut options = Options {
        mode,
        url: "ldap://127.0.0.1:3389".into(),
        base: "dc=ldap,dc=goauthentik,dc=io".into(),
        bind_dn: String::new(),
        password: String::new(),
        users: Vec::new(),
        concurrency: 1,
        duration: Duration::from_secs(10),
        page_size: 100,
        threads: 1,
    };
    let (mut users_file, mut pattern) = (None, None);
    let (mut first, mut count, mut user_password) = (1u64, None, String::new());
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| Failure::Usage(format!("{flag}: not a number: {v:?}")))
        };
        match flag.as_str() {
            "--url" => options.url = value,
            "--base" => options.base = value,
            "--bind-dn" => options.bind_dn = value,
            "--password" => options.password = value,
            "--users-file" => users_file = Some(value),
            "--pattern" => pattern = Some(value),
            "--first" => first = number(&value)?,
            "--count" => count = Some(number(&value)?),
            "--user-password" => user_password = value,
            "--concurrency" => options.concurrency = number(&value)?.clamp(1, 10_000) as usize,
            "--duration" => options.duration = Duration::from_secs_f64(number(&value)? as f64),
            "--page-size" => {
                options.page_size = i32::try_from(number(&value)?.clamp(1, 100_000)).unwrap_or(100)
            }
            "--threads" => options.threads = number(&value)?.clamp(1, 64) as usize,
            other => return Err(Failure::Usage(format!("unknown option {other}"))),
        }
    }
    options.users = match (users_file, pattern) {
        (Some(path), None) => std::fs::read_to_string(&path)
            .map_err(|e| Failure::Usage(format!("{path}: {e}")))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (name, secret) = l.split_once('\t').unwrap_or((l, ""));
                Account {
                    name: name.trim().to_string(),
                    secret: secret.trim().to_string(),
                }
            })
            .collect(),
        (None, Some(p)) => {
            let count = count.ok_or_else(|| Failure::Usage("--pattern needs --count".into()))?;
            (first..first.saturating_add(count))
                .map(|i| {
                    Ok(Account {
                        name: expand(&p, i)?,
                        secret: user_password.clone(),
                    })
                })
                .collect::<Result<_, Failure>>()?
        }
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "--users-file and --pattern exclude each other".into(),
            ))
        }
        (None, None) if mode == Mode::Paged => Vec::new(),
        (None, None) => return Err(Failure::Usage("--users-file or --pattern".into())),
    };
    if mode != Mode::Paged && options.users.is_empty() {
        return Err(Failure::Usage("no users".into()));
    }
    if mode != Mode::BindSearch && options.bind_dn.is_empty() {
        return Err(Failure::Usage(format!("{} needs --bind-dn", mode.name())));
    }
    Ok(options)
}

/// `bench-user-{:07}` with 42 → `bench-user-0000042`; `{}` is the plain number.
fn expand(pattern: &str, index: u64) -> Result<String, Failure> {
    let open = pattern
        .find('{')
        .ok_or_else(|| Failure::Usage("--pattern needs a {} or {:0N} placeholder".into()))?;
    let close = pattern[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| Failure::Usage("--pattern: unclosed {".into()))?;
    let spec = &pattern[open + 1..close];
    let width = match spec.strip_prefix(":0") {
        Some(w) => w
            .parse::<usize>()
            .map_err(|_| Failure::Usage(format!("--pattern: bad width {spec:?}")))?,
        None if spec.is_empty() => 0,
        None => {
            return Err(Failure::Usage(format!(
                "--pattern: bad placeholder {spec:?}"
            )))
        }
    };
    Ok(format!(
        "{}{index:0width$}{}",
        &pattern[..open],
        &pattern[close + 1..]
    ))
}

async fn run(options: Options) -> Result<String, Failure> {
    let options = std::sync::Arc::new(options);
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut clients = Vec::with_capacity(options.concurrency);
    for client in 0..options.concurrency {
        let options = options.clone();
        clients.push(tokio::spawn(async move {
            drive(&options, client, deadline).await
        }));
    }
    let mut total = Tally::default();
    for client in clients {
        match client.await {
            Ok(Ok(tally)) => total.merge(tally),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Failure::Unexpected(format!("client task: {e}"))),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(report(&options, &mut total, seconds))
}

/// One client's loop until the deadline.
async fn drive(options: &Options, client: usize, deadline: Instant) -> Result<Tally, Failure> {
    let users_base = format!("ou=users,{}", options.base);
    let mut tally = Tally::default();
    // Clients start at evenly spread users so they do not ask for the same one in lockstep.
    let spread = options.users.len() / options.concurrency.max(1);
    let mut next = client * spread;
    let mut session = match options.mode {
        Mode::BindSearch => None,
        Mode::SearchCn | Mode::Paged => {
            let mut ldap = connect(&options.url).await?;
            ldap.simple_bind(&options.bind_dn, &options.password)
                .await?
                .success()?;
            Some(ldap)
        }
    };
    while Instant::now() < deadline {
        let started = Instant::now();
        let account = options.users.get(next % options.users.len().max(1));
        next = next.wrapping_add(1);
        let outcome = match (options.mode, &mut session, account) {
            (Mode::SearchCn, Some(ldap), Some(account)) => {
                search_cn(ldap, &users_base, &account.name).await
            }
            (Mode::Paged, Some(ldap), _) => paged(ldap, &users_base, options.page_size).await,
            (Mode::BindSearch, _, Some(account)) => {
                bind_search(&options.url, &user_dn(&users_base, &account.name), account).await
            }
            _ => Err(Failure::Unexpected("no session or no user".into())),
        };
        let failed = outcome.is_err();
        tally.record(started, outcome);
        if failed && options.mode != Mode::BindSearch {
            // A broken connection would fail every later request at once: reconnect.
            session = match connect(&options.url).await {
                Ok(mut ldap) => match ldap.simple_bind(&options.bind_dn, &options.password).await {
                    Ok(_) => Some(ldap),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            if session.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if let Some(mut ldap) = session {
        let _ = ldap.unbind().await;
    }
    Ok(tally)
}

async fn connect(url: &str) -> Result<Ldap, Failure> {
    let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

async fn search_cn(ldap: &mut Ldap, users_base: &str, name: &str) -> Result<usize, Failure> {
    let filter = format!("(cn={})", ldap3::ldap_escape(name));
    let (entries, _) = ldap
        .search(users_base, Scope::Subtree, &filter, ATTRIBUTES.to_vec())
        .await?
        .success()?;
    if entries.len() != 1 {
        return Err(Failure::Unexpected(format!(
            "{filter}: {} entries, not 1",
            entries.len()
        )));
    }
    Ok(1)
}

async fn paged(ldap: &mut Ldap, users_base: &str, page_size: i32) -> Result<usize, Failure> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(page_size)),
    ];
    let mut stream = ldap
        .streaming_search_with(
            adapters,
            users_base,
            Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            ATTRIBUTES.to_vec(),
        )
        .await?;
    let mut entries = 0;
    while stream.next().await?.is_some() {
        entries += 1;
    }
    stream.finish().await.success()?;
    Ok(entries)
}

async fn bind_search(url: &str, dn: &str, account: &Account) -> Result<usize, Failure> {
    let mut ldap = connect(url).await?;
    ldap.simple_bind(dn, &account.secret).await?.success()?;
    let (entries, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", ATTRIBUTES.to_vec())
        .await?
        .success()?;
    ldap.unbind().await?;
    if entries.len() != 1 {
        return Err(Failure::Unexpected(format!(
            "{dn}: {} entries, not 1",
            entries.len()
        )));
    }
    Ok(1)
}

/// `cn=<name>,ou=users,<base>`, the name escaped per RFC 4514.
fn user_dn(users_base: &str, name: &str) -> String {
    format!("cn={},{users_base}", ldap3::dn_escape(name))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn report(options: &Options, tally: &mut Tally, seconds: f64) -> String {
    tally.latencies_us.sort_unstable();
    let lat = &tally.latencies_us;
    let requests = lat.len();
    let samples: Vec<String> = tally
        .error_samples
        .iter()
        .map(|s| format!("\"{}\"", json_escape(s)))
        .collect();
    format!(
        "{{\"mode\":\"{}\",\"concurrency\":{},\"seconds\":{:.3},\"requests\":{},\"rps\":{:.2},\
         \"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"errors\":{},\
         \"entries_min\":{},\"entries_max\":{},\"error_samples\":[{}]}}",
        options.mode.name(),
        options.concurrency,
        seconds,
        requests,
        if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        percentile(lat, 50.0),
        percentile(lat, 90.0),
        percentile(lat, 99.0),
        percentile(lat, 100.0),
        tally.errors,
        tally.entries_min.unwrap_or(0),
        tally.entries_max,
        samples.join(",")
    )
}

fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_expands_with_width() {
        assert_eq!(
            expand("bench-user-{:07}", 42).ok().as_deref(),
            Some("bench-user-0000042")
        );
        assert_eq!(expand("u{}", 7).ok().as_deref(), Some("u7"));
        assert!(expand("nothing", 1).is_err());
    }

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
    }
}
