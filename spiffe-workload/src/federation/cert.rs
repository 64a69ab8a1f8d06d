//! The bundle endpoint's own certificate: fixed (`https_web`, from files the operator
//! renews) or an X.509-SVID read from a source on every handshake (`https_spiffe`, FED-23),
//! so a rotated SVID is presented to the next client without a restart.

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use spiffe_core::{X509Svid, X509SvidSource};

use super::FederationError;

/// Where the endpoint's certificate comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum ServingCert {
    /// A fixed chain and key (`https_web`).
    Fixed(Arc<CertifiedKey>),
    /// The current X.509-SVID of a source (`https_spiffe`).
    Svid(Arc<dyn X509SvidSource + Send + Sync>),
}

impl std::fmt::Debug for ServingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(key) => write!(f, "ServingCert::Fixed({} certificates)", key.cert.len()),
            Self::Svid(_) => f.write_str("ServingCert::Svid"),
        }
    }
}

impl ServingCert {
    /// A fixed certificate chain (PEM, leaf first) and private key (PEM: PKCS#8, SEC1 or
    /// PKCS#1), e.g. SPIRE's `serving_cert_file`.
    pub fn from_pem(
        chain_pem: &[u8],
        key_pem: &[u8],
        provider: &CryptoProvider,
    ) -> Result<Self, FederationError> {
        let invalid = |reason: String| FederationError::ServingCert { reason };
        let chain = spiffe_core::x509::parse_certificates(chain_pem)
            .map_err(|e| invalid(format!("certificate file: {e}")))?;
        if chain.is_empty() {
            return Err(invalid("certificate file holds no certificate".into()));
        }
        let key = X509Svid::parse_key(key_pem).map_err(|e| invalid(format!("key file: {e}")))?;
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| invalid(format!("key file: {e}")))?;
        let certs = chain.iter().map(|c| c.der().clone()).collect();
        Ok(Self::Fixed(Arc::new(CertifiedKey::new(certs, signing))))
    }

    /// The resolver rustls asks on each handshake.
    pub(super) fn resolver(&self, provider: Arc<CryptoProvider>) -> Arc<dyn ResolvesServerCert> {
        match self {
            Self::Fixed(key) => Arc::new(FixedResolver(key.clone())),
            Self::Svid(source) => Arc::new(SvidResolver {
                source: source.clone(),
                provider,
                cached: Mutex::new(None),
            }),
        }
    }
}

#[derive(Debug)]
struct FixedResolver(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Loads the source's SVID into rustls' form once per SVID, not once per handshake.
struct SvidResolver {
    source: Arc<dyn X509SvidSource + Send + Sync>,
    provider: Arc<CryptoProvider>,
    cached: Mutex<Option<(Arc<X509Svid>, Arc<CertifiedKey>)>>,
}

impl std::fmt::Debug for SvidResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SvidResolver")
    }
}

impl ResolvesServerCert for SvidResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let svid = self.source.x509_svid()?;
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((held, key)) = cached.as_ref() {
            if Arc::ptr_eq(held, &svid) {
                return Some(key.clone());
            }
        }
        let signing = self
            .provider
            .key_provider
            .load_private_key(svid.private_key().clone_key())
            .ok()?;
        let certs = svid.chain().iter().map(|c| c.der().clone()).collect();
        let key = Arc::new(CertifiedKey::new(certs, signing));
        *cached = Some((svid, key.clone()));
        Some(key)
    }
}
