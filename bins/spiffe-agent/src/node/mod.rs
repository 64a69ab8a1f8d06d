//! The agent's own identity: node attestation with the server (`Agent.AttestAgent`), the agent
//! X.509-SVID and its key kept in `data_dir`, renewal (`Agent.RenewAgent`) at half-life, and
//! the TLS configurations the agent talks to the server with.
//!
//! ```text
//!   start ──▶ stored SVID + key in data_dir, unexpired, of this trust domain?
//!               yes ─▶ use them (no attestation: a join token is single-use)
//!               no  ─▶ AttestAgent over TLS (server authenticated by the bootstrap bundle,
//!                      or by nothing with insecure_bootstrap) ─▶ store SVID, key, bundle
//!   running ──▶ at half the SVID's life: RenewAgent over mTLS (or AttestAgent again when the
//!               server answers that the agent must re-attest) ─▶ store, swap
//! ```
//!
//! Files in `data_dir`: `agent_svid.pem` (the chain), `bundle.pem` (the trust domain's X.509
//! authorities, kept current by the sync), and with `KeyManager "disk"` `agent_svid.key`
//! (PKCS#8 PEM, mode 0600, written atomically by `spiffe_ca::secret_file`). With
//! `KeyManager "memory"` the key is never written, so every start attests again.

mod attest;
pub(crate) mod store;
mod tls;

use std::sync::{Arc, RwLock};

use spiffe_core::{SpiffeId, TrustDomain, X509Bundle, X509BundleSource, X509Svid, X509SvidSource};

pub use attest::{attest, renew, AttestError, Attested};
pub use store::{AgentStore, StoreError, BUNDLE_FILE, KEY_FILE, SVID_FILE};
pub use tls::{bootstrap_channel, connected_mtls_channel, mtls_channel, ChannelError};

/// The server's SPIFFE ID in `trust_domain` (`spiffe://<td>/spire/server`), which the agent
/// requires of the server it talks to.
pub fn server_id(trust_domain: &TrustDomain) -> SpiffeId {
    SpiffeId::from_path(trust_domain, "/spire/server").expect("a valid fixed path")
}

/// The agent's current SVID, swapped on renewal; the mTLS connections present it.
#[derive(Debug)]
pub struct AgentSvid(RwLock<Arc<X509Svid>>);

impl AgentSvid {
    /// Holds `svid`.
    pub fn new(svid: X509Svid) -> Self {
        Self(RwLock::new(Arc::new(svid)))
    }

    /// The current SVID.
    pub fn get(&self) -> Arc<X509Svid> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the SVID.
    pub fn set(&self, svid: X509Svid) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(svid);
    }
}

impl X509SvidSource for AgentSvid {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        Some(self.get())
    }
}

/// The trust domain's X.509 authorities the agent trusts the server with, updated by the sync
/// (CA rotation).
#[derive(Debug)]
pub struct TrustBundle(RwLock<Arc<X509Bundle>>);

impl TrustBundle {
    /// Holds `bundle`.
    pub fn new(bundle: X509Bundle) -> Self {
        Self(RwLock::new(Arc::new(bundle)))
    }

    /// The current bundle.
    pub fn get(&self) -> Arc<X509Bundle> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the bundle; `true` when it changed.
    pub fn set(&self, bundle: Arc<X509Bundle>) -> bool {
        let mut held = self.0.write().unwrap_or_else(|e| e.into_inner());
        if held.authorities() == bundle.authorities() {
            return false;
        }
        *held = bundle;
        true
    }
}

impl X509BundleSource for TrustBundle {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        let bundle = self.get();
        (bundle.trust_domain() == trust_domain).then_some(bundle)
    }
}
