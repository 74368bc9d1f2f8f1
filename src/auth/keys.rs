//! Token keys: 60 random alphanumerics, stored only as a sha256 lookup hash plus an
//! AES-256-GCM sealed copy (for `view_key`) under a key derived from the instance secret.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hkdf::Hkdf;
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// Length of generated keys, as authentik's default.
pub const KEY_LENGTH: usize = 60;

/// A fresh random key from the OS CSPRNG.
pub fn generate_key() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(KEY_LENGTH)
        .map(char::from)
        .collect()
}

/// The lookup hash stored for a key: lowercase hex sha256.
pub fn lookup_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Seals and unseals token keys with AES-256-GCM under a key derived (HKDF-SHA256) from the
/// instance secret. Debug output never shows the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// Sealing failures.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The sealed value is malformed or was sealed under another secret.
    #[error("sealed value cannot be opened")]
    Open,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
}

impl Sealer {
    /// Derives the sealing key from the instance secret.
    pub fn new(secret: &[u8]) -> Sealer {
        let hk = Hkdf::<Sha256>::new(Some(b"gatehouse token key sealing v1"), secret);
        let mut key = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        hk.expand(b"aes-256-gcm", &mut key).unwrap_or_default();
        Sealer {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `v1:` + base64(nonce ‖ ciphertext), authenticated with the lookup hash as associated data.
    pub fn seal(&self, key: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), key.as_bytes())
            .map_err(|_| SealError::Seal)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD.encode(blob)
        ))
    }

    /// Opens a value produced by `seal`.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let b64 = sealed.strip_prefix("v1:").ok_or(SealError::Open)?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SealError::Open)?;
        if blob.len() < 12 {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_60_alphanumerics_and_distinct() {
        let a = generate_key();
        assert_eq!(a.len(), 60);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_key());
    }

    #[test]
    fn seal_round_trips_and_rejects_other_secrets() {
        let sealer = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let sealed = sealer.seal("my-key").expect("seal");
        assert!(!sealed.contains("my-key"));
        assert_eq!(sealer.open(&sealed).expect("open"), "my-key");
        let other = Sealer::new(b"another secret of at least 32 bytes!!");
        assert!(other.open(&sealed).is_err());
        assert!(sealer.open("v1:!!!").is_err());
    }

    #[test]
    fn lookup_hash_is_sha256_hex() {
        assert_eq!(
            lookup_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
