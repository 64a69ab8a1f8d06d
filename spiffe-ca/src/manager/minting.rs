//! Minting SVIDs with the active authorities, their lifetimes clamped so that an SVID expires
//! before its authority leaves the bundle.

use std::time::Duration;

use spiffe_core::json::JsonObject;
use spiffe_core::SpiffeId;

use crate::x509::{MintedX509Svid, X509SvidRequest};

use super::ca_manager::CaManager;
use super::threshold::max_svid_ttl;
use super::ManagerError;

// === impl CaManager ===

impl CaManager {
    /// The longest X.509-SVID lifetime: `min(x509_ttl / 6, 7 d)`, so that an SVID signed just
    /// before a rotation expires before its CA leaves the bundle.
    pub fn max_svid_ttl(&self) -> Duration {
        max_svid_ttl(self.core.config.x509_ttl())
    }

    /// The longest JWT-SVID lifetime: `min(jwt_ttl / 6, 7 d)`.
    pub fn max_jwt_svid_ttl(&self) -> Duration {
        max_svid_ttl(self.core.config.jwt_ttl())
    }

    /// Mints an X.509-SVID with the active authority at the clock's time, its TTL clamped to
    /// [`max_svid_ttl`](Self::max_svid_ttl).
    pub fn mint_x509_svid(
        &self,
        request: &X509SvidRequest,
    ) -> Result<MintedX509Svid, ManagerError> {
        let max = self.max_svid_ttl();
        let authority = self.x509_svid_issuer();
        let now = self.core.clock.now();
        let minted = if request.ttl() > max {
            let mut clamped = X509SvidRequest::from_spki_der(
                request.spiffe_id().clone(),
                request.spki_der().to_vec(),
                max,
            )
            .with_dns_names(request.dns_names().iter().cloned());
            if let Some(subject) = request.subject() {
                clamped = clamped.with_subject(subject.clone());
            }
            authority.mint(&clamped, now)
        } else {
            authority.mint(request, now)
        };
        Ok(minted?)
    }

    /// Mints a JWT-SVID with the active JWT authority at the clock's time, its TTL clamped to
    /// [`max_jwt_svid_ttl`](Self::max_jwt_svid_ttl).
    pub fn mint_jwt_svid(
        &self,
        spiffe_id: &SpiffeId,
        audiences: &[&str],
        ttl: Duration,
        extra_claims: &JsonObject,
    ) -> Result<String, ManagerError> {
        let ttl = ttl.min(self.max_jwt_svid_ttl());
        let authority = self.jwt_svid_issuer();
        Ok(authority.mint(
            spiffe_id,
            audiences,
            ttl,
            extra_claims,
            self.core.clock.now(),
        )?)
    }
}
