//! TLS for the LDAP door: loads `tls_cert_file` / `tls_key_file` (PEM) into a rustls server
//! configuration (the `ring` provider) once at start-up, so a missing file, a bad key or a key
//! that does not belong to the certificate stops the server with a message naming the file.
//! LDAPS connections and StartTLS upgrades use the same configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// One of the two files is given without the other.
    #[error("tls_cert_file and tls_key_file must be given together")]
    Incomplete,
    /// A file cannot be read or holds no PEM block of the expected kind.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the certificate chain and key (a key not matching the certificate, an
    /// unsupported key type).
    #[error("{cert} with {key}: {message}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        message: String,
    },
}

fn file_error(path: &Path, e: pem::Error) -> TlsError {
    let message = match e {
        pem::Error::Io(io) => format!("cannot read: {io}"),
        pem::Error::NoItemsFound => "no PEM block of the expected kind".into(),
        other => format!("not valid PEM: {other:?}"),
    };
    TlsError::File {
        path: path.to_path_buf(),
        message,
    }
}

/// rustls's `ring` provider. rustls 0.23.48 deprecates it because ring has no post-quantum key
/// exchange; aws-lc-rs has, but needs cmake and several times ring's build time on CI's two
/// cores. Classical X25519/P-256 key exchange is what LDAP clients (OpenLDAP, ldap3, go-ldap,
/// JNDI) negotiate today; switching is one line here and one feature in Cargo.toml.
#[allow(deprecated)]
pub fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The server configuration for a PEM certificate chain and its PEM private key (PKCS#8,
/// PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::File {
            path: cert.to_path_buf(),
            message: "no CERTIFICATE block".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    let provider = Arc::new(ring_provider());
    let pair = |e: rustls::Error| TlsError::Pair {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        message: e.to_string(),
    };
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(pair)?;
    Ok(Arc::new(config))
}

/// The TLS configuration the settings ask for: `None` when neither file is set.
pub fn from_settings(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => server_config(cert, key).map(Some),
        _ => Err(TlsError::Incomplete),
    }
}
