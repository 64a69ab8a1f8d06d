//! Presenting this workload's newest X.509-SVID in every handshake.

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::client::ResolvesClientCert;
use rustls::crypto::{CryptoProvider, KeyProvider};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use spiffe_core::{X509Svid, X509SvidSource};

/// A rustls certificate resolver, for clients and servers, that presents the newest
/// X.509-SVID of an [`X509SvidSource`] in every handshake: when the source rotates, the next
/// handshake presents the new SVID, with no config rebuilt and no restart.
///
/// The rustls signing key is loaded once per SVID and cached until the source hands out a
/// different one.
pub struct SvidCertResolver {
    source: Arc<dyn X509SvidSource + Send + Sync>,
    key_provider: &'static dyn KeyProvider,
    cached: RwLock<Option<Cached>>,
}

struct Cached {
    svid: Arc<X509Svid>,
    key: Arc<CertifiedKey>,
}

// === impl SvidCertResolver ===

impl SvidCertResolver {
    /// A resolver reading SVIDs from `source` and loading their keys with `provider`'s key
    /// provider. A fixed `Arc<X509Svid>` is a source too.
    pub fn new(
        source: impl X509SvidSource + Send + Sync + 'static,
        provider: &CryptoProvider,
    ) -> Self {
        Self {
            source: Arc::new(source),
            key_provider: provider.key_provider,
            cached: RwLock::new(None),
        }
    }

    /// The certificate and signing key of the source's current SVID, or `None` when the source
    /// holds none or its key cannot be loaded by the crypto provider (the handshake then fails
    /// for want of a certificate).
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        let svid = self.source.x509_svid()?;
        if let Some(hit) = self.cached_for(&svid) {
            return Some(hit);
        }
        let key = self
            .key_provider
            .load_private_key(svid.private_key().clone_key())
            .ok()?;
        let chain = svid.chain().iter().map(|c| c.der().clone()).collect();
        let certified = Arc::new(CertifiedKey::new(chain, key));
        // A poisoned lock only means another handshake panicked mid-update; the cache is
        // replaced wholesale, so its content is still consistent.
        let mut slot = self.cached.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(Cached {
            svid,
            key: certified.clone(),
        });
        Some(certified)
    }

    fn cached_for(&self, svid: &Arc<X509Svid>) -> Option<Arc<CertifiedKey>> {
        let slot = self.cached.read().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|c| Arc::ptr_eq(&c.svid, svid))
            .map(|c| c.key.clone())
    }
}

impl ResolvesClientCert for SvidCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl ResolvesServerCert for SvidCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

impl fmt::Debug for SvidCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvidCertResolver").finish_non_exhaustive()
    }
}
