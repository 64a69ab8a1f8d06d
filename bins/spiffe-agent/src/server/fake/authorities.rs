//! The fake server's authorities: X.509 CAs (self-signed, or intermediates under one upstream
//! root) and JWT signing keys, with SPIRE's rotation steps (prepare, activate, taint, revoke).

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::{DiskUpstreamAuthority, X509SvidIssuer};
use spiffe_ca::CaError;
use spiffe_core::{JwtBundle, TrustDomain, X509Bundle};

use crate::server::ServerBundle;

/// How long each CA and JWT key of the fake lives.
pub(super) const AUTHORITY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

struct X509Slot {
    authority: X509SvidIssuer,
    tainted: bool,
}

struct JwtSlot {
    authority: JwtSvidIssuer,
    tainted: bool,
}

/// Every authority in the bundle; one X.509 CA and one JWT key are active (they mint).
pub(super) struct Authorities {
    trust_domain: TrustDomain,
    upstream: Option<DiskUpstreamAuthority>,
    x509: Vec<X509Slot>,
    active_x509: usize,
    jwt: Vec<JwtSlot>,
    active_jwt: usize,
}

// === impl Authorities ===

impl Authorities {
    /// A self-signed CA and a JWT key, both active.
    pub(super) fn self_signed(trust_domain: TrustDomain, now: UnixTime) -> Result<Self, CaError> {
        let x509 = self_signed_ca(&trust_domain, now)?;
        let jwt = jwt_authority(&trust_domain, now)?;
        Ok(Self {
            trust_domain,
            upstream: None,
            x509: vec![X509Slot {
                authority: x509,
                tainted: false,
            }],
            active_x509: 0,
            jwt: vec![JwtSlot {
                authority: jwt,
                tainted: false,
            }],
            active_jwt: 0,
        })
    }

    /// An intermediate CA under a self-signed upstream root (the root is what the bundle
    /// holds; minted chains carry the intermediate), and a JWT key.
    pub(super) async fn with_upstream(
        trust_domain: TrustDomain,
        now: UnixTime,
    ) -> Result<Self, CaError> {
        let root_key = Arc::new(
            SoftwareSigner::generate("upstream", KeyType::EcP256).map_err(CaError::Signer)?,
        );
        let root =
            X509SvidIssuer::self_signed(&trust_domain, root_key.clone(), now, not_after(now))?;
        let upstream =
            DiskUpstreamAuthority::from_parts(root_key, vec![root.certificate().clone()])?;
        let mut authorities = Self::self_signed(trust_domain, now)?;
        let first = intermediate_ca(&authorities.trust_domain, &upstream, now).await?;
        authorities.x509 = vec![X509Slot {
            authority: first,
            tainted: false,
        }];
        authorities.upstream = Some(upstream);
        Ok(authorities)
    }

    /// The CA that mints now.
    pub(super) fn active_x509(&self) -> &X509SvidIssuer {
        &self.x509[self.active_x509].authority
    }

    /// The JWT key that mints now.
    pub(super) fn active_jwt(&self) -> &JwtSvidIssuer {
        &self.jwt[self.active_jwt].authority
    }

    /// The ids (subject key ids, hex) of the X.509 authorities, in bundle order.
    pub(super) fn x509_ids(&self) -> Vec<String> {
        self.x509
            .iter()
            .map(|s| s.authority.authority_id().to_owned())
            .collect()
    }

    /// Adds a new self-signed CA to the bundle without activating it (SPIRE's "prepare");
    /// returns its id. `None` under an upstream root, where the fake does not rotate.
    pub(super) fn prepare_x509(&mut self, now: UnixTime) -> Result<Option<String>, CaError> {
        if self.upstream.is_some() {
            return Ok(None);
        }
        let authority = self_signed_ca(&self.trust_domain, now)?;
        let id = authority.authority_id().to_owned();
        self.x509.push(X509Slot {
            authority,
            tainted: false,
        });
        Ok(Some(id))
    }

    /// Makes the CA `id` the one that mints.
    pub(super) fn activate_x509(&mut self, id: &str) -> bool {
        match self.position(id) {
            Some(at) => {
                self.active_x509 = at;
                true
            }
            None => false,
        }
    }

    /// Marks the CA `id` tainted: still trusted, but agents replace what it issued.
    pub(super) fn taint_x509(&mut self, id: &str) -> bool {
        match self.position(id) {
            Some(at) if at != self.active_x509 => {
                self.x509[at].tainted = true;
                true
            }
            _ => false,
        }
    }

    /// Removes the CA `id` from the bundle (never the active one).
    pub(super) fn revoke_x509(&mut self, id: &str) -> bool {
        match self.position(id) {
            Some(at) if at != self.active_x509 => {
                self.x509.remove(at);
                if at < self.active_x509 {
                    self.active_x509 -= 1;
                }
                true
            }
            _ => false,
        }
    }

    /// Adds and activates a new JWT key; returns its `kid`.
    pub(super) fn rotate_jwt(&mut self, now: UnixTime) -> Result<String, CaError> {
        let authority = jwt_authority(&self.trust_domain, now)?;
        let kid = authority.kid().to_owned();
        self.jwt.push(JwtSlot {
            authority,
            tainted: false,
        });
        self.active_jwt = self.jwt.len() - 1;
        Ok(kid)
    }

    /// Marks the JWT key `kid` tainted (never the active one).
    pub(super) fn taint_jwt(&mut self, kid: &str) -> bool {
        let active = self.active_jwt;
        match self.jwt.iter().position(|s| s.authority.kid() == kid) {
            Some(at) if at != active => {
                self.jwt[at].tainted = true;
                true
            }
            _ => false,
        }
    }

    /// The bundle the server publishes: every CA's trust anchor and every JWT key, with their
    /// taint flags.
    pub(super) fn bundle(&self, sequence_number: u64) -> ServerBundle {
        let mut x509 = X509Bundle::new(self.trust_domain.clone());
        for slot in &self.x509 {
            x509.add_authority(slot.authority.trust_anchor().clone());
        }
        let mut jwt = JwtBundle::new(self.trust_domain.clone());
        for slot in &self.jwt {
            jwt.insert(slot.authority.jwt_authority());
        }
        let mut bundle = ServerBundle::new(x509, jwt).with_sequence_number(sequence_number);
        for slot in self.x509.iter().filter(|s| s.tainted) {
            bundle = bundle.with_tainted_x509(slot.authority.trust_anchor().clone());
        }
        for slot in self.jwt.iter().filter(|s| s.tainted) {
            bundle = bundle.with_tainted_jwt(slot.authority.kid());
        }
        bundle
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.x509
            .iter()
            .position(|s| s.authority.authority_id() == id)
    }
}

fn not_after(now: UnixTime) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs()) + AUTHORITY_TTL)
}

fn self_signed_ca(trust_domain: &TrustDomain, now: UnixTime) -> Result<X509SvidIssuer, CaError> {
    let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).map_err(CaError::Signer)?);
    X509SvidIssuer::self_signed(trust_domain, key, now, not_after(now))
}

async fn intermediate_ca(
    trust_domain: &TrustDomain,
    upstream: &DiskUpstreamAuthority,
    now: UnixTime,
) -> Result<X509SvidIssuer, CaError> {
    let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).map_err(CaError::Signer)?);
    X509SvidIssuer::intermediate(trust_domain, key, upstream, AUTHORITY_TTL, now).await
}

fn jwt_authority(trust_domain: &TrustDomain, now: UnixTime) -> Result<JwtSvidIssuer, CaError> {
    let key = Arc::new(SoftwareSigner::generate("jwt", KeyType::EcP256).map_err(CaError::Signer)?);
    JwtSvidIssuer::new(trust_domain, key, not_after(now))
}
