//! The server's own X.509-SVID (`spiffe://<trust domain>/spire/server`), minted by its CA for
//! the TLS listener, and re-minted at half its lifetime.
//!
//! The TLS listener's certificate resolver reads it through [`X509SvidSource`] on every
//! handshake, so a new SVID is presented to new connections while open ones carry on: no
//! connection is dropped by a rotation.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::manager::{CaManager, ManagerError};
use spiffe_ca::x509::X509SvidRequest;
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::{Certificate, SpiffeId, X509Svid, X509SvidSource};
use thiserror::Error;

/// Why the server SVID could not be minted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerSvidError {
    /// Generating its key failed.
    #[error("unable to generate the server SVID key")]
    Key(#[source] spiffe_ca::keys::KeyError),
    /// The CA refused to mint it.
    #[error("unable to mint the server SVID")]
    Mint(#[source] ManagerError),
    /// What the CA minted is not a valid SVID (a bug in the CA).
    #[error("the minted server SVID is invalid")]
    Invalid(#[source] spiffe_core::x509::X509Error),
}

/// The server's X.509-SVID, rotated by [`rotate_if_due`](Self::rotate_if_due).
pub struct ServerSvid {
    ca: Arc<CaManager>,
    id: SpiffeId,
    ttl: Duration,
    current: RwLock<Arc<X509Svid>>,
}

impl std::fmt::Debug for ServerSvid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("ServerSvid")
            .field("id", &self.id)
            .field("not_after", &current.leaf().not_after().as_secs())
            .finish_non_exhaustive()
    }
}

// === impl ServerSvid ===

impl ServerSvid {
    /// Mints the first SVID for `id`, living `ttl` (capped by the CA).
    pub fn new(ca: Arc<CaManager>, id: SpiffeId, ttl: Duration) -> Result<Self, ServerSvidError> {
        let first = mint(&ca, &id, ttl)?;
        Ok(Self {
            ca,
            id,
            ttl,
            current: RwLock::new(Arc::new(first)),
        })
    }

    /// The SVID presented now.
    pub fn current(&self) -> Arc<X509Svid> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-mints the SVID when half its lifetime has passed at `now`, or when the CA no longer
    /// trusts its issuer (a revoked or pruned authority); returns whether it did.
    pub fn rotate_if_due(&self, now: UnixTime) -> Result<bool, ServerSvidError> {
        let current = self.current();
        let leaf = current.leaf();
        let (start, end) = (leaf.not_before().as_secs(), leaf.not_after().as_secs());
        let half_life = start + end.saturating_sub(start) / 2;
        let issuer_trusted = self.issuer_in_bundle(&current);
        if now.as_secs() < half_life && issuer_trusted {
            return Ok(false);
        }
        let next = mint(&self.ca, &self.id, self.ttl)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(true)
    }

    /// Whether the CA's bundle still holds the root the SVID chains to.
    fn issuer_in_bundle(&self, svid: &X509Svid) -> bool {
        let bundle = self.ca.bundle();
        let top: &Certificate = svid.chain().last().unwrap_or(svid.leaf());
        bundle
            .x509_authorities()
            .authorities()
            .iter()
            .any(|root| root.subject_der() == top.issuer_der())
    }
}

impl X509SvidSource for ServerSvid {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        Some(self.current())
    }
}

fn mint(ca: &CaManager, id: &SpiffeId, ttl: Duration) -> Result<X509Svid, ServerSvidError> {
    let signer =
        SoftwareSigner::generate("server-svid", KeyType::EcP256).map_err(ServerSvidError::Key)?;
    let request = X509SvidRequest::new(id.clone(), signer.public_key(), ttl);
    let minted = ca.mint_x509_svid(&request).map_err(ServerSvidError::Mint)?;
    let chain = minted
        .into_chain()
        .into_iter()
        .map(Certificate::from_der)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServerSvidError::Invalid)?;
    let pkcs8 = signer.to_pkcs8().map_err(ServerSvidError::Key)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8));
    X509Svid::from_parts(chain, key).map_err(ServerSvidError::Invalid)
}
