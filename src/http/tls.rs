//! Serving HTTPS itself: the rustls configuration over a certificate and key
//! (PEM files) that are read again when either file changes, so that a
//! renewal (certbot's, say) needs no restart. A file that cannot be read or
//! does not fit keeps the pair served before, with an error in the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// The certificate chain and key files.
#[derive(Debug)]
struct Files {
    certificate: PathBuf,
    private_key: PathBuf,
}

/// The pair served, and the files' modification times it was read at.
#[derive(Debug)]
struct Served {
    stamps: (Option<SystemTime>, Option<SystemTime>),
    key: Arc<CertifiedKey>,
}

/// The certificate for every handshake, read again when a file changes.
#[derive(Debug)]
struct Reloading {
    files: Files,
    served: Mutex<Served>,
}

/// The server configuration over `certificate` and `private_key`; an
/// error names the file that cannot be used.
pub(crate) fn config(certificate: &Path, private_key: &Path) -> Result<ServerConfig, String> {
    let files = Files {
        certificate: certificate.to_path_buf(),
        private_key: private_key.to_path_buf(),
    };
    let stamps = files.stamps();
    let key = files.load()?;
    let resolver = Reloading {
        files,
        served: Mutex::new(Served { stamps, key }),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Files {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (stamp(&self.certificate), stamp(&self.private_key))
    }

    /// The chain and key, checked to belong together.
    fn load(&self) -> Result<Arc<CertifiedKey>, String> {
        let cert_err = |e: &dyn std::fmt::Display| {
            format!("tls.certificate {}: {e}", self.certificate.display())
        };
        let key_err = |e: &dyn std::fmt::Display| {
            format!("tls.private_key {}: {e}", self.private_key.display())
        };
        let chain = CertificateDer::pem_file_iter(&self.certificate)
            .map_err(|e| cert_err(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_err(&e))?;
        if chain.is_empty() {
            return Err(cert_err(&"no certificate in the file"));
        }
        let der = PrivateKeyDer::from_pem_file(&self.private_key).map_err(|e| key_err(&e))?;
        let signing = any_supported_type(&der).map_err(|e| key_err(&e))?;
        let key = CertifiedKey::new(chain, signing);
        key.keys_match().map_err(|e| key_err(&e))?;
        Ok(Arc::new(key))
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        let stamps = self.files.stamps();
        if stamps != served.stamps {
            // Tried once per change: a half-written pair is tried again when
            // its second file lands.
            served.stamps = stamps;
            match self.files.load() {
                Ok(key) => {
                    log::info!("TLS: serving the certificate read again from its changed files");
                    served.key = key;
                }
                Err(e) => log::error!("TLS: keeping the certificate served: {e}"),
            }
        }
        Some(Arc::clone(&served.key))
    }
}
