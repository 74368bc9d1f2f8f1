//! Stored password hashes gatehouse recognises, and checking a password against one.
//!
//! Besides its own argon2id PHC strings, gatehouse verifies the hashes other directories hold,
//! as they are, so an imported account keeps its password (docs/compatibility.md, "Password
//! hashes"):
//!
//! - Django: `pbkdf2_sha256$…` / `pbkdf2_sha1$…` (authentik, AWX), `argon2$argon2id$…` /
//!   `argon2$argon2i$…`, `bcrypt_sha256$$2b$…` and `bcrypt$$2b$…`;
//! - LDAP `userPassword`: `{SSHA}`, `{SSHA256}`, `{SSHA512}`, `{SHA}`, `{SHA256}`, `{SHA512}`,
//!   `{CRYPT}` with bcrypt (`$2y$`, `$2b$`, `$2a$`) or sha-crypt (`$6$`, `$5$`), `{ARGON2}`;
//!   the scheme name is case-insensitive, as in OpenLDAP;
//! - bare PHC / modular-crypt strings: `$argon2id$…` (gatehouse's own), `$argon2i$…`, `$2b$…`,
//!   `$6$…`, `$5$…`.
//!
//! Anything else — an unknown scheme, a malformed string, or a cost beyond the limits below
//! (which would let one stored string occupy a CPU for minutes) — is not recognised and never
//! matches. Digests are compared in constant time.

use argon2::password_hash::PasswordHash;
use argon2::Params;
use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Most PBKDF2 iterations accepted (Django 5.2 uses 1,000,000).
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Highest bcrypt cost accepted (Django's default is 12; each step doubles the work).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Most sha-crypt rounds accepted (the default is 5,000).
pub const MAX_SHA_CRYPT_ROUNDS: usize = 2_000_000;
/// Most argon2 memory accepted, KiB (256 MiB; Django's default is 100 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
/// Most argon2 passes accepted.
pub const MAX_ARGON2_PASSES: u32 = 64;

/// The digest under a Django PBKDF2 or an LDAP `{SHA…}` hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sha {
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl Sha {
    fn len(self) -> usize {
        match self {
            Sha::Sha1 => 20,
            Sha::Sha256 => 32,
            Sha::Sha512 => 64,
        }
    }

    /// The digest of `parts`, concatenated.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Sha::Sha1 => run::<Sha1>(parts),
            Sha::Sha256 => run::<Sha256>(parts),
            Sha::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// A recognised stored hash, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored<'a> {
    /// An argon2 PHC string (`phc`), bare (`plain`) or behind Django's `argon2` / LDAP's
    /// `{ARGON2}` prefix.
    Argon2 {
        /// The PHC string itself.
        phc: &'a str,
        /// Whether it was stored bare, as gatehouse stores its own.
        plain: bool,
    },
    /// Django's `pbkdf2_<digest>$<iterations>$<salt>$<base64 hash>`.
    Pbkdf2 {
        /// HMAC digest.
        sha: Sha,
        /// Iterations.
        iterations: u32,
        /// Salt (its UTF-8 bytes are the salt).
        salt: &'a str,
        /// Expected derived key.
        hash: Vec<u8>,
    },
    /// A bcrypt modular-crypt string; with `sha256_hex` the password is first replaced by the
    /// hex of its SHA-256 (Django's `bcrypt_sha256`).
    Bcrypt {
        /// `$2b$12$…`.
        mcf: &'a str,
        /// Django's `bcrypt_sha256` pre-hash.
        sha256_hex: bool,
    },
    /// LDAP `{SHA…}` / `{SSHA…}`: `digest(password + salt)` followed by the salt (empty for the
    /// unsalted schemes).
    LdapDigest {
        /// Digest.
        sha: Sha,
        /// Expected digest.
        digest: Vec<u8>,
        /// Salt.
        salt: Vec<u8>,
    },
    /// sha-crypt (`$6$…` sha512, `$5$…` sha256).
    ShaCrypt {
        /// The modular-crypt string.
        mcf: &'a str,
        /// `$6$` rather than `$5$`.
        sha512: bool,
    },
}

/// Parses a stored hash; `None` when it is not a recognised, well-formed format within the
/// cost limits.
pub fn parse(stored: &str) -> Option<Stored<'_>> {
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        return pbkdf2(Sha::Sha256, rest);
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha1$") {
        return pbkdf2(Sha::Sha1, rest);
    }
    if let Some(phc) = stored.strip_prefix("argon2") {
        // Django stores `argon2` + argon2-cffi's `$argon2id$…`.
        return phc
            .starts_with("$argon2")
            .then(|| argon2(phc, false))
            .flatten();
    }
    if let Some(mcf) = stored.strip_prefix("bcrypt_sha256$") {
        return bcrypt(mcf, true);
    }
    if let Some(mcf) = stored.strip_prefix("bcrypt$") {
        return bcrypt(mcf, false);
    }
    if stored.starts_with('{') {
        return ldap(stored);
    }
    if stored.starts_with("$argon2") {
        return argon2(stored, true);
    }
    if stored.starts_with("$2") {
        return bcrypt(stored, false);
    }
    sha_crypt(stored)
}

/// `{SCHEME}value` with the scheme case-insensitive.
fn ldap(stored: &str) -> Option<Stored<'_>> {
    let end = stored.find('}')?;
    let scheme = stored.get(1..end)?.to_ascii_uppercase();
    let value = stored.get(end + 1..)?;
    let digest = |sha: Sha, salted: bool| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let ok = if salted {
            raw.len() > sha.len()
        } else {
            raw.len() == sha.len()
        };
        ok.then(|| {
            let (digest, salt) = raw.split_at(sha.len());
            Stored::LdapDigest {
                sha,
                digest: digest.to_vec(),
                salt: salt.to_vec(),
            }
        })
    };
    match scheme.as_str() {
        "SHA" => digest(Sha::Sha1, false),
        "SSHA" => digest(Sha::Sha1, true),
        "SHA256" => digest(Sha::Sha256, false),
        "SSHA256" => digest(Sha::Sha256, true),
        "SHA512" => digest(Sha::Sha512, false),
        "SSHA512" => digest(Sha::Sha512, true),
        "CRYPT" if value.starts_with("$2") => bcrypt(value, false),
        "CRYPT" => sha_crypt(value),
        "ARGON2" => argon2(value, false),
        _ => None,
    }
}

fn pbkdf2(sha: Sha, rest: &str) -> Option<Stored<'_>> {
    let mut parts = rest.split('$');
    let iterations: u32 = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let hash = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    let fits = parts.next().is_none()
        && (1..=MAX_PBKDF2_ITERATIONS).contains(&iterations)
        && !salt.is_empty()
        && hash.len() == sha.len();
    fits.then_some(Stored::Pbkdf2 {
        sha,
        iterations,
        salt,
        hash,
    })
}

fn argon2(phc: &str, plain: bool) -> Option<Stored<'_>> {
    let parsed = PasswordHash::new(phc).ok()?;
    let known = matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    );
    let params = Params::try_from(&parsed).ok()?;
    let fits = known
        && parsed.hash.is_some()
        && params.m_cost() <= MAX_ARGON2_MEMORY_KIB
        && params.t_cost() <= MAX_ARGON2_PASSES;
    fits.then_some(Stored::Argon2 { phc, plain })
}

fn bcrypt(mcf: &str, sha256_hex: bool) -> Option<Stored<'_>> {
    // `$2b$12$` + 22 characters of salt + 31 of hash.
    let mut parts = mcf.split('$');
    let version = (parts.next()?, parts.next()?);
    let cost: u32 = parts.next()?.parse().ok()?;
    let body = parts.next()?;
    let fits = matches!(version, ("", "2a" | "2b" | "2y"))
        && (4..=MAX_BCRYPT_COST).contains(&cost)
        && body.len() == 53
        && parts.next().is_none();
    fits.then_some(Stored::Bcrypt { mcf, sha256_hex })
}

fn sha_crypt(mcf: &str) -> Option<Stored<'_>> {
    let sha512 = if mcf.starts_with("$6$") {
        true
    } else if mcf.starts_with("$5$") {
        false
    } else {
        return None;
    };
    let parts: Vec<&str> = mcf.split('$').collect();
    // ["", "6", ("rounds=N",) salt, hash]
    let (rounds, hash) = match parts.as_slice() {
        [_, _, _salt, hash] => (5_000, *hash),
        [_, _, rounds, _salt, hash] => (rounds.strip_prefix("rounds=")?.parse().ok()?, *hash),
        _ => return None,
    };
    let hash_len = if sha512 { 86 } else { 43 };
    let fits = (1_000..=MAX_SHA_CRYPT_ROUNDS).contains(&rounds) && hash.len() == hash_len;
    fits.then_some(Stored::ShaCrypt { mcf, sha512 })
}

/// Whether `password` matches the parsed hash (blocking: this is the costly part).
pub fn matches(stored: &Stored<'_>, password: &str) -> bool {
    match stored {
        Stored::Argon2 { phc, .. } => PasswordHash::new(phc)
            .map(|parsed| super::argon2_matches(&parsed, password))
            .unwrap_or(false),
        Stored::Pbkdf2 {
            sha,
            iterations,
            salt,
            hash,
        } => {
            let mut out = vec![0u8; hash.len()];
            let (pw, salt, rounds) = (password.as_bytes(), salt.as_bytes(), *iterations);
            match sha {
                Sha::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(pw, salt, rounds, &mut out),
                Sha::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt, rounds, &mut out),
                Sha::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(pw, salt, rounds, &mut out),
            }
            out.ct_eq(hash).into()
        }
        Stored::Bcrypt { mcf, sha256_hex } => {
            let result = if *sha256_hex {
                bcrypt::verify(hex::encode(Sha256::digest(password.as_bytes())), mcf)
            } else {
                bcrypt::verify(password, mcf)
            };
            result.unwrap_or(false)
        }
        Stored::LdapDigest { sha, digest, salt } => sha
            .digest(&[password.as_bytes(), salt])
            .ct_eq(digest)
            .into(),
        Stored::ShaCrypt { mcf, sha512 } => {
            if *sha512 {
                sha_crypt::sha512_check(password, mcf).is_ok()
            } else {
                sha_crypt::sha256_check(password, mcf).is_ok()
            }
        }
    }
}

/// Whether a hash should be replaced by a fresh argon2id one after a successful login: every
/// format but a bare argon2id PHC string (version 19) at least as costly as `current`.
pub fn needs_rehash(stored: &Stored<'_>, current: &Params) -> bool {
    let Stored::Argon2 { phc, plain: true } = stored else {
        return true;
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(0x13)
        || params.m_cost() < current.m_cost()
        || params.t_cost() < current.t_cost()
        || params.p_cost() < current.p_cost()
}
