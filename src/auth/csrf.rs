//! CSRF tokens of the AWX dialect's cookie logins, as Django makes them and a little stricter.
//!
//! A token is a 32-byte secret, masked afresh for every response (a random 32-byte pad, then
//! the secret XOR the pad, in hex: 128 characters), so the value in a page or cookie never
//! repeats. Before login the secret is a random nonce with a MAC under the instance secret
//! (so a value the client made up is refused); from login on it is derived from the session
//! key (a PRF under the instance secret), so it is rotated at every login, dies with the
//! session, and a `csrftoken` cookie chosen by someone else never matches. Comparisons run in
//! constant time.

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

use super::keys::constant_time_eq;

/// Bytes of a secret (and of its mask).
const SECRET_BYTES: usize = 32;
/// Bytes of the random part of a pre-login secret; the rest is its MAC.
const NONCE_BYTES: usize = 16;

/// Derives and checks CSRF secrets under a key derived from the instance secret.
#[derive(Clone)]
pub struct CsrfKey {
    prk: Hkdf<Sha256>,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(…)")
    }
}

impl CsrfKey {
    /// The CSRF key of an instance secret (the same on every instance sharing it).
    pub fn new(secret: &[u8]) -> CsrfKey {
        CsrfKey {
            prk: Hkdf::<Sha256>::new(Some(b"gatehouse csrf v1"), secret),
        }
    }

    fn prf(&self, label: &[u8], data: &[u8]) -> [u8; SECRET_BYTES] {
        let mut out = [0u8; SECRET_BYTES];
        let info = [label, b"\0", data].concat();
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        if self.prk.expand(&info, &mut out).is_err() {
            out = [0u8; SECRET_BYTES];
        }
        out
    }

    /// A fresh pre-login token (masked).
    pub fn anonymous_token(&self) -> String {
        let mut secret = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut secret[..NONCE_BYTES]);
        let tag = self.prf(b"anonymous", &secret[..NONCE_BYTES]);
        secret[NONCE_BYTES..].copy_from_slice(&tag[..SECRET_BYTES - NONCE_BYTES]);
        mask(&secret)
    }

    /// The token of a session (by its key's lookup hash), masked afresh.
    pub fn session_token(&self, session_hash: &str) -> String {
        mask(&self.session_secret(session_hash))
    }

    fn session_secret(&self, session_hash: &str) -> [u8; SECRET_BYTES] {
        self.prf(b"session", session_hash.as_bytes())
    }

    /// Whether a pre-login `sent` token matches the `cookie` one and was made by this server.
    pub fn check_anonymous(&self, cookie: &str, sent: &str) -> bool {
        let (Some(cookie), Some(sent)) = (unmask(cookie), unmask(sent)) else {
            return false;
        };
        let tag = self.prf(b"anonymous", &sent[..NONCE_BYTES]);
        constant_time_eq(&cookie, &sent)
            && constant_time_eq(&sent[NONCE_BYTES..], &tag[..SECRET_BYTES - NONCE_BYTES])
    }

    /// Whether `sent` is a token of this session.
    pub fn check_session(&self, session_hash: &str, sent: &str) -> bool {
        unmask(sent).is_some_and(|s| constant_time_eq(&s, &self.session_secret(session_hash)))
    }
}

/// Whether a cookie value has the shape of a token (else the client gets a fresh one).
pub fn well_formed(token: &str) -> bool {
    unmask(token).is_some()
}

fn mask(secret: &[u8; SECRET_BYTES]) -> String {
    let mut pad = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut pad);
    let masked: Vec<u8> = secret.iter().zip(pad).map(|(s, p)| s ^ p).collect();
    format!("{}{}", hex::encode(pad), hex::encode(masked))
}

fn unmask(token: &str) -> Option<[u8; SECRET_BYTES]> {
    let bytes = hex::decode(token).ok()?;
    if bytes.len() != 2 * SECRET_BYTES {
        return None;
    }
    let (pad, masked) = bytes.split_at(SECRET_BYTES);
    let mut secret = [0u8; SECRET_BYTES];
    for (i, out) in secret.iter_mut().enumerate() {
        *out = pad[i] ^ masked[i];
    }
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_afresh_and_tied_to_their_session() {
        let key = CsrfKey::new(b"0123456789abcdef0123456789abcdef");
        let a = key.session_token("s1");
        let b = key.session_token("s1");
        assert_ne!(a, b, "masked afresh");
        assert!(key.check_session("s1", &a) && key.check_session("s1", &b));
        assert!(!key.check_session("s2", &a), "another session's token");
        assert!(!key.check_session("s1", "abc"), "made up");
        let other = CsrfKey::new(b"another secret of at least 32 bytes");
        assert!(!other.check_session("s1", &a), "another instance secret");
    }

    #[test]
    fn anonymous_tokens_must_come_from_the_server() {
        let key = CsrfKey::new(b"0123456789abcdef0123456789abcdef");
        let t = key.anonymous_token();
        let remasked = mask(&unmask(&t).expect("well formed"));
        assert!(key.check_anonymous(&t, &remasked));
        let forged = mask(&[7u8; SECRET_BYTES]);
        assert!(!key.check_anonymous(&forged, &forged), "self-chosen");
        assert!(
            !key.check_anonymous(&t, &key.anonymous_token()),
            "two tokens"
        );
        assert!(!key.check_anonymous("x", "x"));
    }
}
