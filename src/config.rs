//! Typed configuration, layered: defaults < `gatehouse.toml` < `GATEHOUSE_*` environment
//! (with `AUTHENTIK_*` aliases for the bootstrap values and `*_FILE` forms for secrets) < flags.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The server's configuration after every layer was applied. Debug output redacts secrets.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Instance secret (≥ 32 bytes); `None` on SQLite means "use or create `secret.key`".
    pub secret_key: Option<String>,
    /// Bootstrap token key.
    pub bootstrap_token: Option<String>,
    /// Bootstrap admin password.
    pub bootstrap_password: Option<String>,
    /// Bootstrap admin e-mail.
    pub bootstrap_email: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`info`, `gatehouse=debug`, …).
    pub log_level: String,
    /// Database pool size.
    pub max_connections: u32,
    /// Lifetime of new api tokens, seconds (authentik's `minutes=30` format in files and env).
    pub token_duration_seconds: i64,
    /// How long events are kept before they expire, seconds (authentik's `event_retention`).
    pub event_retention_seconds: i64,
    /// How often expired events are purged.
    pub event_purge_interval: std::time::Duration,
    /// Most client connections served at once; the next ones get a 503 and are closed.
    pub http_max_connections: usize,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    pub http_header_timeout: std::time::Duration,
    /// How long one request may take, body included, before it is answered 408 or 503.
    pub http_request_timeout: std::time::Duration,
    /// Largest total size of a request's header fields, bytes (431 beyond).
    pub http_max_header_bytes: usize,
    /// Whether requests are counted and `/metrics` is served (off: no instrumentation at all).
    pub metrics_enabled: bool,
    /// Whether SCIM may change the members of superuser or role-bearing groups (off: 403).
    pub scim_privileged_groups: bool,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<String>,
    /// Where the LDAP front door listens (`None`: LDAP off).
    pub ldap_listen: Option<SocketAddr>,
    /// The LDAP tree's base DN (authentik's default `DC=ldap,DC=goauthentik,DC=io`).
    pub ldap_base_dn: String,
    /// Most LDAP connections served at once; the next ones get a Notice of Disconnection.
    pub ldap_max_connections: usize,
    /// How long an LDAP connection may stay silent between operations.
    pub ldap_idle_timeout: std::time::Duration,
    /// Where LDAPS (TLS from the first byte) listens (`None`: off, the default).
    pub ldaps_listen: Option<SocketAddr>,
    /// PEM certificate chain for LDAPS and StartTLS (with `tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Refuse binds (other than anonymous) on connections without TLS (default off).
    pub ldap_require_tls: bool,
    /// Operations one LDAP connection may send a second (0: no limit, the default); beyond
    /// it an operation is answered `busy` (51).
    pub ldap_operations_per_second: u32,
    /// Most users the directory keeps in memory by id (and most lookups by query, e.g. LDAP
    /// `cn=`); a directory larger than this reads what did not fit from the database.
    pub cache_users: usize,
}

/// `cache_users`' default: a directory of up to 50,000 users is read from memory once warm.
/// Measured ≈ 1 KiB of resident memory a cached user with its lookup (`bench/notes.md`: users
/// as `seed-users` makes them; groups and attributes add their text), so ≈ 50 MiB when full;
/// nothing while empty (idle RSS is unchanged).
pub const DEFAULT_CACHE_USERS: usize = 50_000;

/// `cache_users`' smallest value.
pub const MIN_CACHE_USERS: usize = 256;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("secret_key", &redact(&self.secret_key))
            .field("bootstrap_token", &redact(&self.bootstrap_token))
            .field("bootstrap_password", &redact(&self.bootstrap_password))
            .field("bootstrap_email", &self.bootstrap_email)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("max_connections", &self.max_connections)
            .field("token_duration_seconds", &self.token_duration_seconds)
            .field("event_retention_seconds", &self.event_retention_seconds)
            .field("event_purge_interval", &self.event_purge_interval)
            .field("http_max_connections", &self.http_max_connections)
            .field("http_header_timeout", &self.http_header_timeout)
            .field("http_request_timeout", &self.http_request_timeout)
            .field("http_max_header_bytes", &self.http_max_header_bytes)
            .field("metrics_enabled", &self.metrics_enabled)
            .field("scim_privileged_groups", &self.scim_privileged_groups)
            .field("metrics_listen", &self.metrics_listen)
            .field("metrics_token", &redact(&self.metrics_token))
            .field("ldap_listen", &self.ldap_listen)
            .field("ldap_base_dn", &self.ldap_base_dn)
            .field("ldap_max_connections", &self.ldap_max_connections)
            .field("cache_users", &self.cache_users)
            .field("ldap_idle_timeout", &self.ldap_idle_timeout)
            .field("ldaps_listen", &self.ldaps_listen)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("ldap_require_tls", &self.ldap_require_tls)
            .field(
                "ldap_operations_per_second",
                &self.ldap_operations_per_second,
            )
            .finish()
    }
}

/// An on/off setting.
fn switch(name: &'static str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Value {
            name,
            message: format!("{text:?} (use on or off)"),
        }),
    }
}

/// `ldap_operations_per_second`: a whole number, 0 for no limit.
fn per_second(text: &str) -> Result<u32, ConfigError> {
    text.trim().parse().map_err(|_| ConfigError::Value {
        name: "ldap_operations_per_second",
        message: format!("{text:?} (a whole number; 0 for no limit)"),
    })
}

/// A database URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            let user = creds.split(':').next().unwrap_or("");
            let masked = if creds.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            return format!("{scheme}://{masked}@{host}");
        }
    }
    url.to_string()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            database_url: "sqlite://data/gatehouse.db".into(),
            secret_key: None,
            bootstrap_token: None,
            bootstrap_password: None,
            bootstrap_email: "root@example.com".into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            max_connections: 8,
            token_duration_seconds: 30 * 60,
            event_retention_seconds: crate::domain::audit::RETENTION_SECONDS,
            event_purge_interval: std::time::Duration::from_secs(5 * 60),
            http_max_connections: 512,
            http_header_timeout: std::time::Duration::from_secs(10),
            http_request_timeout: std::time::Duration::from_secs(30),
            http_max_header_bytes: 32 * 1024,
            metrics_enabled: true,
            scim_privileged_groups: false,
            metrics_listen: None,
            metrics_token: None,
            ldap_listen: Some(SocketAddr::from(([127, 0, 0, 1], 3389))),
            ldap_base_dn: "DC=ldap,DC=goauthentik,DC=io".into(),
            ldap_max_connections: 1024,
            ldap_idle_timeout: std::time::Duration::from_secs(300),
            ldaps_listen: None,
            tls_cert_file: None,
            tls_key_file: None,
            ldap_require_tls: false,
            ldap_operations_per_second: 0,
            cache_users: DEFAULT_CACHE_USERS,
        }
    }
}

/// Problems with the configuration, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file is malformed.
    #[error("invalid {path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A value is unusable.
    #[error("invalid value for {name}: {message}")]
    Value {
        /// Setting name.
        name: &'static str,
        /// Why.
        message: String,
    },
}

/// Settings as they may appear in `gatehouse.toml` (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    secret_key: Option<String>,
    bootstrap_token: Option<String>,
    bootstrap_password: Option<String>,
    bootstrap_email: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    max_connections: Option<u32>,
    token_duration: Option<String>,
    event_retention: Option<String>,
    event_purge_interval: Option<String>,
    http_max_connections: Option<usize>,
    http_header_timeout: Option<String>,
    http_request_timeout: Option<String>,
    http_max_header_bytes: Option<usize>,
    metrics_enabled: Option<bool>,
    scim_privileged_groups: Option<bool>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    ldap_listen: Option<String>,
    ldap_base_dn: Option<String>,
    ldap_max_connections: Option<usize>,
    ldap_idle_timeout: Option<String>,
    ldaps_listen: Option<String>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    ldap_require_tls: Option<bool>,
    ldap_operations_per_second: Option<u32>,
    cache_users: Option<usize>,
}

/// Values given as command-line flags (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--log-format`.
    pub log_format: Option<String>,
}

impl Config {
    /// Loads from the process environment and the file it or the flags name.
    pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::load_from(flags, &env)
    }

    /// Loads with an explicit environment (tests).
    pub fn load_from(flags: &Flags, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let mut raw = FileConfig::default();
        let explicit = flags
            .config
            .clone()
            .or_else(|| env.get("GATEHOUSE_CONFIG").map(PathBuf::from));
        let path = explicit
            .clone()
            .unwrap_or_else(|| PathBuf::from("gatehouse.toml"));
        if explicit.is_some() || path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            raw = toml::from_str(&text).map_err(|e| ConfigError::Toml {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }

        let lookup = |names: &[&str]| -> Result<Option<String>, ConfigError> {
            for name in names {
                if let Some(v) = env.get(*name) {
                    return Ok(Some(v.clone()));
                }
                if let Some(file) = env.get(&format!("{name}_FILE")) {
                    let text =
                        std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                            path: PathBuf::from(file),
                            source,
                        })?;
                    return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
                }
            }
            Ok(None)
        };

        let mut c = Config::default();
        let listen = flags
            .listen
            .clone()
            .or(lookup(&["GATEHOUSE_LISTEN"])?)
            .or(raw.listen);
        if let Some(l) = listen {
            c.listen = l.parse().map_err(|e| ConfigError::Value {
                name: "listen",
                message: format!("{l:?}: {e}"),
            })?;
        }
        if let Some(u) = flags
            .database_url
            .clone()
            .or(lookup(&["GATEHOUSE_DATABASE_URL"])?)
            .or(raw.database_url)
        {
            c.database_url = u;
        }
        c.secret_key = lookup(&["GATEHOUSE_SECRET_KEY"])?
            .or(raw.secret_key)
            .filter(|s| !s.is_empty());
        if let Some(s) = &c.secret_key {
            if s.len() < 32 {
                return Err(ConfigError::Value {
                    name: "secret_key",
                    message: "must be at least 32 bytes".into(),
                });
            }
        }
        c.bootstrap_token = lookup(&["GATEHOUSE_BOOTSTRAP_TOKEN", "AUTHENTIK_BOOTSTRAP_TOKEN"])?
            .or(raw.bootstrap_token)
            .filter(|s| !s.is_empty());
        c.bootstrap_password = lookup(&[
            "GATEHOUSE_BOOTSTRAP_PASSWORD",
            "AUTHENTIK_BOOTSTRAP_PASSWORD",
        ])?
        .or(raw.bootstrap_password)
        .filter(|s| !s.is_empty());
        if let Some(e) = lookup(&["GATEHOUSE_BOOTSTRAP_EMAIL", "AUTHENTIK_BOOTSTRAP_EMAIL"])?
            .or(raw.bootstrap_email)
        {
            c.bootstrap_email = e;
        }
        if let Some(f) = flags
            .log_format
            .clone()
            .or(lookup(&["GATEHOUSE_LOG_FORMAT"])?)
            .or(raw.log_format)
        {
            c.log_format = match f.to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::Value {
                        name: "log_format",
                        message: format!("{other:?} (use text or json)"),
                    })
                }
            };
        }
        if let Some(l) = lookup(&["GATEHOUSE_LOG_LEVEL"])?.or(raw.log_level) {
            c.log_level = l;
        }
        if let Some(n) = lookup(&["GATEHOUSE_MAX_CONNECTIONS"])? {
            c.max_connections = n.parse().map_err(|_| ConfigError::Value {
                name: "max_connections",
                message: n.clone(),
            })?;
        } else if let Some(n) = raw.max_connections {
            c.max_connections = n;
        }
        if let Some(d) = lookup(&["GATEHOUSE_TOKEN_DURATION"])?.or(raw.token_duration) {
            c.token_duration_seconds = parse_duration(&d).ok_or(ConfigError::Value {
                name: "token_duration",
                message: format!("{d:?} (use e.g. minutes=30;hours=1)"),
            })?;
        }
        if let Some(d) = lookup(&["GATEHOUSE_EVENT_RETENTION"])?.or(raw.event_retention) {
            c.event_retention_seconds = parse_duration(&d).ok_or(ConfigError::Value {
                name: "event_retention",
                message: format!("{d:?} (use e.g. days=365)"),
            })?;
        }
        if let Some(d) = lookup(&["GATEHOUSE_EVENT_PURGE_INTERVAL"])?.or(raw.event_purge_interval) {
            let seconds = parse_duration(&d)
                .filter(|s| *s >= 1)
                .ok_or(ConfigError::Value {
                    name: "event_purge_interval",
                    message: format!("{d:?} (at least one second, e.g. minutes=5)"),
                })?;
            c.event_purge_interval = std::time::Duration::from_secs(seconds.unsigned_abs());
        }
        let count = |name: &'static str, text: &str, min: usize| {
            text.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or(ConfigError::Value {
                    name,
                    message: format!("{text:?} (a whole number, at least {min})"),
                })
        };
        let seconds = |name: &'static str, text: &str| {
            parse_duration(text)
                .filter(|s| *s >= 1)
                .map(|s| std::time::Duration::from_secs(s.unsigned_abs()))
                .ok_or(ConfigError::Value {
                    name,
                    message: format!("{text:?} (at least one second, e.g. seconds=30)"),
                })
        };
        if let Some(n) = lookup(&["GATEHOUSE_HTTP_MAX_CONNECTIONS"])? {
            c.http_max_connections = count("http_max_connections", &n, 1)?;
        } else if let Some(n) = raw.http_max_connections {
            c.http_max_connections = count("http_max_connections", &n.to_string(), 1)?;
        }
        if let Some(n) = lookup(&["GATEHOUSE_CACHE_USERS"])? {
            c.cache_users = count("cache_users", &n, MIN_CACHE_USERS)?;
        } else if let Some(n) = raw.cache_users {
            c.cache_users = count("cache_users", &n.to_string(), MIN_CACHE_USERS)?;
        }
        if let Some(n) = lookup(&["GATEHOUSE_HTTP_MAX_HEADER_BYTES"])? {
            c.http_max_header_bytes = count("http_max_header_bytes", &n, 1024)?;
        } else if let Some(n) = raw.http_max_header_bytes {
            c.http_max_header_bytes = count("http_max_header_bytes", &n.to_string(), 1024)?;
        }
        if let Some(d) = lookup(&["GATEHOUSE_HTTP_HEADER_TIMEOUT"])?.or(raw.http_header_timeout) {
            c.http_header_timeout = seconds("http_header_timeout", &d)?;
        }
        if let Some(d) = lookup(&["GATEHOUSE_HTTP_REQUEST_TIMEOUT"])?.or(raw.http_request_timeout) {
            c.http_request_timeout = seconds("http_request_timeout", &d)?;
        }
        if let Some(v) = lookup(&["GATEHOUSE_METRICS_ENABLED", "GATEHOUSE_METRICS"])? {
            c.metrics_enabled = switch("metrics_enabled", &v)?;
        } else if let Some(on) = raw.metrics_enabled {
            c.metrics_enabled = on;
        }
        if let Some(v) = lookup(&["GATEHOUSE_SCIM_PRIVILEGED_GROUPS"])? {
            c.scim_privileged_groups = switch("scim_privileged_groups", &v)?;
        } else if let Some(on) = raw.scim_privileged_groups {
            c.scim_privileged_groups = on;
        }
        if let Some(l) = lookup(&["GATEHOUSE_METRICS_LISTEN"])?
            .or(raw.metrics_listen)
            .filter(|l| !l.is_empty())
        {
            c.metrics_listen = Some(l.parse().map_err(|e| ConfigError::Value {
                name: "metrics_listen",
                message: format!("{l:?}: {e}"),
            })?);
        }
        c.metrics_token = lookup(&["GATEHOUSE_METRICS_TOKEN"])?
            .or(raw.metrics_token)
            .filter(|s| !s.is_empty());
        if let Some(l) = lookup(&["GATEHOUSE_LDAP_LISTEN"])?.or(raw.ldap_listen) {
            c.ldap_listen = if l.trim().is_empty() {
                None
            } else {
                Some(l.trim().parse().map_err(|e| ConfigError::Value {
                    name: "ldap_listen",
                    message: format!(
                        "{l:?}: {e} (an address like 127.0.0.1:3389, or empty to turn LDAP off)"
                    ),
                })?)
            };
        }
        if let Some(b) = lookup(&["GATEHOUSE_LDAP_BASE_DN"])?.or(raw.ldap_base_dn) {
            let b = b.trim().to_string();
            match crate::ldap::dn::Dn::parse(&b) {
                Ok(dn) if !dn.rdns.is_empty() => c.ldap_base_dn = b,
                _ => {
                    return Err(ConfigError::Value {
                        name: "ldap_base_dn",
                        message: format!("{b:?} is not a DN (e.g. DC=ldap,DC=goauthentik,DC=io)"),
                    })
                }
            }
        }
        if let Some(n) = lookup(&["GATEHOUSE_LDAP_MAX_CONNECTIONS"])? {
            c.ldap_max_connections = count("ldap_max_connections", &n, 1)?;
        } else if let Some(n) = raw.ldap_max_connections {
            c.ldap_max_connections = count("ldap_max_connections", &n.to_string(), 1)?;
        }
        if let Some(d) = lookup(&["GATEHOUSE_LDAP_IDLE_TIMEOUT"])?.or(raw.ldap_idle_timeout) {
            c.ldap_idle_timeout = seconds("ldap_idle_timeout", &d)?;
        }
        if let Some(l) = lookup(&["GATEHOUSE_LDAPS_LISTEN"])?.or(raw.ldaps_listen) {
            c.ldaps_listen = if l.trim().is_empty() {
                None
            } else {
                Some(l.trim().parse().map_err(|e| ConfigError::Value {
                    name: "ldaps_listen",
                    message: format!("{l:?}: {e} (an address like 127.0.0.1:6636, or empty)"),
                })?)
            };
        }
        let path = |p: String| Some(PathBuf::from(p)).filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = lookup(&["GATEHOUSE_TLS_CERT_FILE"])? {
            c.tls_cert_file = path(p);
        } else if let Some(p) = raw.tls_cert_file {
            c.tls_cert_file = Some(p);
        }
        if let Some(p) = lookup(&["GATEHOUSE_TLS_KEY_FILE"])? {
            c.tls_key_file = path(p);
        } else if let Some(p) = raw.tls_key_file {
            c.tls_key_file = Some(p);
        }
        if let Some(v) = lookup(&["GATEHOUSE_LDAP_REQUIRE_TLS"])? {
            c.ldap_require_tls = switch("ldap_require_tls", &v)?;
        } else if let Some(on) = raw.ldap_require_tls {
            c.ldap_require_tls = on;
        }
        if let Some(n) = lookup(&["GATEHOUSE_LDAP_OPERATIONS_PER_SECOND"])? {
            c.ldap_operations_per_second = per_second(&n)?;
        } else if let Some(n) = raw.ldap_operations_per_second {
            c.ldap_operations_per_second = n;
        }
        let tls = c.tls_cert_file.is_some() && c.tls_key_file.is_some();
        if c.tls_cert_file.is_some() != c.tls_key_file.is_some() {
            return Err(ConfigError::Value {
                name: "tls_cert_file",
                message: "tls_cert_file and tls_key_file must be given together".into(),
            });
        }
        if c.ldaps_listen.is_some() && !tls {
            return Err(ConfigError::Value {
                name: "ldaps_listen",
                message: "LDAPS needs tls_cert_file and tls_key_file".into(),
            });
        }
        if c.ldap_require_tls && !tls {
            return Err(ConfigError::Value {
                name: "ldap_require_tls",
                message: "requiring TLS needs tls_cert_file and tls_key_file".into(),
            });
        }
        Ok(c)
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }

    /// Where `secret.key` lives for a SQLite database: beside the database file.
    pub fn sqlite_secret_path(&self) -> Option<PathBuf> {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let file = path.split('?').next().unwrap_or(path);
        let parent = Path::new(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Some(parent.join("secret.key"))
    }
}

/// Parses authentik's `key=value;key=value` durations (weeks … microseconds) into seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut any = false;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=')?;
        let value: f64 = value.trim().parse().ok()?;
        let unit = match key.trim() {
            "weeks" => 604_800.0,
            "days" => 86_400.0,
            "hours" => 3_600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            "milliseconds" => 0.001,
            "microseconds" => 0.000_001,
            _ => return None,
        };
        total += value * unit;
        any = true;
    }
    if any && (0.0..1e12).contains(&total) {
        Some(total as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_env_then_flags() {
        let flags = Flags {
            config: Some(PathBuf::from("/nonexistent/none.toml")),
            ..Flags::default()
        };
        assert!(
            Config::load_from(&flags, &env(&[])).is_err(),
            "an explicit missing file is an error"
        );
        let c = Config::load_from(
            &Flags::default(),
            &env(&[("GATEHOUSE_LISTEN", "127.0.0.1:7000")]),
        )
        .expect("config");
        assert_eq!(c.listen.port(), 7000);
        let flags = Flags {
            listen: Some("127.0.0.1:7001".into()),
            ..Flags::default()
        };
        let c = Config::load_from(&flags, &env(&[("GATEHOUSE_LISTEN", "127.0.0.1:7000")]))
            .expect("config");
        assert_eq!(c.listen.port(), 7001);
    }

    #[test]
    fn gatehouse_beats_authentik_alias() {
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("AUTHENTIK_BOOTSTRAP_TOKEN", "a"),
                ("GATEHOUSE_BOOTSTRAP_TOKEN", "g"),
            ]),
        )
        .expect("config");
        assert_eq!(c.bootstrap_token.as_deref(), Some("g"));
        let c = Config::load_from(
            &Flags::default(),
            &env(&[("AUTHENTIK_BOOTSTRAP_TOKEN", "a")]),
        )
        .expect("config");
        assert_eq!(c.bootstrap_token.as_deref(), Some("a"));
    }

    #[test]
    fn short_secret_is_rejected_and_debug_redacts() {
        assert!(Config::load_from(
            &Flags::default(),
            &env(&[("GATEHOUSE_SECRET_KEY", "short")])
        )
        .is_err());
        let c = Config::load_from(
            &Flags::default(),
            &env(&[("GATEHOUSE_BOOTSTRAP_PASSWORD", "hunter2hunter2")]),
        )
        .expect("config");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("minutes=30"), Some(1800));
        assert_eq!(parse_duration("days=1;hours=2"), Some(93_600));
        assert_eq!(parse_duration("fortnights=1"), None);
    }

    #[test]
    fn http_limits() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert_eq!(c.http_max_connections, 512);
        assert_eq!(c.http_header_timeout.as_secs(), 10);
        assert_eq!(c.http_request_timeout.as_secs(), 30);
        assert_eq!(c.http_max_header_bytes, 32 * 1024);
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("GATEHOUSE_HTTP_MAX_CONNECTIONS", "64"),
                ("GATEHOUSE_HTTP_HEADER_TIMEOUT", "seconds=5"),
                ("GATEHOUSE_HTTP_REQUEST_TIMEOUT", "minutes=2"),
                ("GATEHOUSE_HTTP_MAX_HEADER_BYTES", "65536"),
            ]),
        )
        .expect("config");
        assert_eq!(c.http_max_connections, 64);
        assert_eq!(c.http_header_timeout.as_secs(), 5);
        assert_eq!(c.http_request_timeout.as_secs(), 120);
        assert_eq!(c.http_max_header_bytes, 65_536);
        for bad in [
            ("GATEHOUSE_HTTP_MAX_CONNECTIONS", "0"),
            ("GATEHOUSE_HTTP_MAX_CONNECTIONS", "many"),
            ("GATEHOUSE_HTTP_HEADER_TIMEOUT", "seconds=0"),
            ("GATEHOUSE_HTTP_REQUEST_TIMEOUT", "30"),
            ("GATEHOUSE_HTTP_MAX_HEADER_BYTES", "100"),
        ] {
            assert!(
                Config::load_from(&Flags::default(), &env(&[bad])).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn user_cache_capacity() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert_eq!(c.cache_users, DEFAULT_CACHE_USERS);
        let c = Config::load_from(
            &Flags::default(),
            &env(&[("GATEHOUSE_CACHE_USERS", "250000")]),
        )
        .expect("config");
        assert_eq!(c.cache_users, 250_000);
        for bad in ["0", "255", "lots", "-1"] {
            assert!(
                Config::load_from(&Flags::default(), &env(&[("GATEHOUSE_CACHE_USERS", bad)]))
                    .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn metrics_settings() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert!(c.metrics_enabled);
        assert_eq!((c.metrics_listen, c.metrics_token.as_deref()), (None, None));
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("GATEHOUSE_METRICS", "off"),
                ("GATEHOUSE_METRICS_LISTEN", "127.0.0.1:9100"),
                ("GATEHOUSE_METRICS_TOKEN", "scrape-secret"),
            ]),
        )
        .expect("config");
        assert!(!c.metrics_enabled);
        assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9100));
        assert_eq!(c.metrics_token.as_deref(), Some("scrape-secret"));
        assert!(!format!("{c:?}").contains("scrape-secret"));
        for bad in [
            ("GATEHOUSE_METRICS", "sometimes"),
            ("GATEHOUSE_METRICS_LISTEN", "nowhere"),
        ] {
            assert!(Config::load_from(&Flags::default(), &env(&[bad])).is_err());
        }
    }

    #[test]
    fn ldap_tls_and_rate_settings() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert_eq!((c.ldaps_listen, c.tls_cert_file.as_ref()), (None, None));
        assert!(!c.ldap_require_tls);
        assert_eq!(c.ldap_operations_per_second, 0, "no limit by default");
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("GATEHOUSE_LDAPS_LISTEN", "127.0.0.1:6636"),
                ("GATEHOUSE_TLS_CERT_FILE", "/etc/gatehouse/cert.pem"),
                ("GATEHOUSE_TLS_KEY_FILE", "/etc/gatehouse/key.pem"),
                ("GATEHOUSE_LDAP_REQUIRE_TLS", "on"),
                ("GATEHOUSE_LDAP_OPERATIONS_PER_SECOND", "200"),
            ]),
        )
        .expect("config");
        assert_eq!(c.ldaps_listen.map(|a| a.port()), Some(6636));
        assert_eq!(
            c.tls_key_file.as_deref(),
            Some(Path::new("/etc/gatehouse/key.pem"))
        );
        assert!(c.ldap_require_tls);
        assert_eq!(c.ldap_operations_per_second, 200);
        for bad in [
            &[("GATEHOUSE_LDAPS_LISTEN", "127.0.0.1:6636")][..],
            &[("GATEHOUSE_TLS_CERT_FILE", "/c.pem")][..],
            &[("GATEHOUSE_LDAP_REQUIRE_TLS", "on")][..],
            &[("GATEHOUSE_LDAP_REQUIRE_TLS", "perhaps")][..],
            &[("GATEHOUSE_LDAP_OPERATIONS_PER_SECOND", "-1")][..],
        ] {
            assert!(
                Config::load_from(&Flags::default(), &env(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ldap_settings() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert_eq!(c.ldap_listen, Some("127.0.0.1:3389".parse().expect("addr")));
        assert_eq!(c.ldap_base_dn, "DC=ldap,DC=goauthentik,DC=io");
        assert_eq!(c.ldap_max_connections, 1024);
        assert_eq!(c.ldap_idle_timeout.as_secs(), 300);
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("GATEHOUSE_LDAP_LISTEN", "0.0.0.0:389"),
                ("GATEHOUSE_LDAP_BASE_DN", "dc=example,dc=com"),
                ("GATEHOUSE_LDAP_MAX_CONNECTIONS", "16"),
                ("GATEHOUSE_LDAP_IDLE_TIMEOUT", "seconds=30"),
            ]),
        )
        .expect("config");
        assert_eq!(c.ldap_listen, Some("0.0.0.0:389".parse().expect("addr")));
        assert_eq!(c.ldap_base_dn, "dc=example,dc=com");
        assert_eq!(c.ldap_max_connections, 16);
        assert_eq!(c.ldap_idle_timeout.as_secs(), 30);
        let off = Config::load_from(&Flags::default(), &env(&[("GATEHOUSE_LDAP_LISTEN", "")]))
            .expect("config");
        assert_eq!(off.ldap_listen, None, "empty turns LDAP off");
        for bad in [
            ("GATEHOUSE_LDAP_LISTEN", "nowhere"),
            ("GATEHOUSE_LDAP_BASE_DN", "not a dn"),
            ("GATEHOUSE_LDAP_BASE_DN", ""),
            ("GATEHOUSE_LDAP_MAX_CONNECTIONS", "0"),
            ("GATEHOUSE_LDAP_IDLE_TIMEOUT", "seconds=0"),
        ] {
            assert!(
                Config::load_from(&Flags::default(), &env(&[bad])).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn event_retention_and_purge_interval() {
        let c = Config::load_from(&Flags::default(), &env(&[])).expect("config");
        assert_eq!(c.event_retention_seconds, 365 * 86_400);
        assert_eq!(c.event_purge_interval.as_secs(), 300);
        let c = Config::load_from(
            &Flags::default(),
            &env(&[
                ("GATEHOUSE_EVENT_RETENTION", "days=30"),
                ("GATEHOUSE_EVENT_PURGE_INTERVAL", "hours=1"),
            ]),
        )
        .expect("config");
        assert_eq!(c.event_retention_seconds, 30 * 86_400);
        assert_eq!(c.event_purge_interval.as_secs(), 3_600);
        for bad in [
            ("GATEHOUSE_EVENT_RETENTION", "forever"),
            ("GATEHOUSE_EVENT_PURGE_INTERVAL", "seconds=0"),
        ] {
            assert!(Config::load_from(&Flags::default(), &env(&[bad])).is_err());
        }
    }
}
