//! HTTPS from `serving_cert_file`: a certificate chain and key read from PEM files, checked
//! again every `file_sync_interval` and swapped in when the files changed (as SPIRE's disk
//! certificate manager). A change that does not load (a half-written pair, a key that does not
//! match) is logged and the previous certificate stays in service.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// Why the serving certificate could not be loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    /// A file could not be read.
    #[error("unable to read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No PEM certificate in the certificate file.
    #[error("no PEM certificate in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No usable PEM private key in the key file (the key itself is never logged).
    #[error("no usable PEM private key in {}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key does not match the certificate, or rustls refused it.
    #[error("the key in {} does not fit the certificate in {}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

/// The files and what was last loaded from them.
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

struct Loaded {
    raw: (Vec<u8>, Vec<u8>),
    key: Arc<CertifiedKey>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })
}

impl ReloadingCert {
    /// Loads the pair now; an error here stops the provider from starting.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Self>, CertError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let raw = (read(cert_path)?, read(key_path)?);
        let key = certified_key(&provider, cert_path, key_path, &raw)?;
        Ok(Arc::new(ReloadingCert {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current: RwLock::new(Loaded { raw, key }),
        }))
    }

    /// Reads the files again; returns `Ok(true)` when a new pair is in service.
    pub fn reload(&self) -> Result<bool, CertError> {
        let raw = (read(&self.cert_path)?, read(&self.key_path)?);
        if self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .raw
            == raw
        {
            return Ok(false);
        }
        let key = certified_key(&self.provider, &self.cert_path, &self.key_path, &raw)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Loaded { raw, key };
        Ok(true)
    }

    /// Reloads every `interval`, forever (the task is aborted at shutdown).
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            let this = self.clone();
            let result = tokio::task::spawn_blocking(move || this.reload()).await;
            match result {
                Ok(Ok(true)) => tracing::info!(
                    cert_file_path = %self.cert_path.display(),
                    "Loaded a new serving certificate"
                ),
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::error!(
                    error = %error,
                    "Failed to reload the serving certificate; keeping the previous one"
                ),
                Err(_) => {}
            }
        }
    }

    /// A rustls server config serving this certificate (HTTP/1.1).
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .key
                .clone(),
        )
    }
}

fn certified_key(
    provider: &CryptoProvider,
    cert_path: &Path,
    key_path: &Path,
    raw: &(Vec<u8>, Vec<u8>),
) -> Result<Arc<CertifiedKey>, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&raw.0)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertError::NoCertificate {
            path: cert_path.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&raw.1).map_err(|_| CertError::NoKey {
        path: key_path.to_owned(),
    })?;
    let mismatch = |source| CertError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        source,
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(mismatch)?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(mismatch)?;
    Ok(Arc::new(certified))
}
