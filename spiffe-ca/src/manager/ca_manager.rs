//! The [`CaManager`]: its types, construction and the read side (active authorities, bundle,
//! authority listings). Changes are in [`super::snapshot`] (journal and publish), rotation in
//! [`super::schedule`], the local-authority operations in [`super::local_authority`], minting in
//! [`super::minting`] and resuming from a journal in [`super::resume`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_core::SpiffeBundle;

use crate::jwt::JwtSvidIssuer;
use crate::keys::KeyManager;
use crate::x509::X509SvidIssuer;
use crate::Clock;

use super::error::AuthorityKind;
use super::journal::{AuthorityStatus, Journal};
use super::resume::resume;
use super::snapshot::{publishable, Snapshot};
use super::state::{Entry, State};
use super::{CaManagerConfig, ManagerError};

/// An authority as listed by [`CaManager::x509_authorities`] and
/// [`CaManager::jwt_authorities`], and as returned by the manual operations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorityInfo {
    /// X.509 or JWT.
    pub kind: AuthorityKind,
    /// The authority id (X.509: SKI in hex) or `kid` (JWT).
    pub id: String,
    /// Where it is in its life.
    pub status: AuthorityStatus,
    /// Whether it was tainted.
    pub tainted: bool,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity.
    pub not_after: UnixTime,
    /// For an X.509 authority under an upstream authority: the id of the upstream root it
    /// chains to (its subject key identifier in hex, SPIRE's
    /// `upstream_authority_subject_key_id`), which is what the bundle holds for it. `None`
    /// for self-signed X.509 authorities and JWT keys.
    pub upstream_authority_id: Option<String>,
}

/// The CA of one trust domain: current and next X.509 and JWT authorities, rotated as time
/// passes (SPIRE's CA manager, `spec/SPIRE-REFERENCE.md` §2.3).
///
/// - [`rotate`](Self::rotate), called periodically, prepares the next authority at 1/2 of the
///   current one's lifetime (at most 30 days before it expires) and activates it at 5/6 (at
///   most 7 days before), separately for X.509 and JWT. The replaced authority becomes old and
///   stays in the bundle until it expires.
/// - [`prepare_x509`](Self::prepare_x509), [`activate_x509`](Self::activate_x509),
///   [`taint_x509`](Self::taint_x509), [`revoke_x509`](Self::revoke_x509) and their JWT twins
///   are SPIRE's local-authority operations. Under an upstream authority the bundle holds the
///   upstream root, not the intermediates, so X.509 taint and revoke act on upstream roots:
///   [`taint_x509_upstream`](Self::taint_x509_upstream) and
///   [`revoke_x509_upstream`](Self::revoke_x509_upstream) (SPIRE's
///   `TaintX509UpstreamAuthority` and `RevokeX509UpstreamAuthority`).
/// - Every change is saved to the [`Journal`] before callers can observe it; a manager built on
///   the same journal and key manager resumes the same authorities.
///
/// Readers ([`bundle`](Self::bundle), the active authorities, minting) never wait for a
/// rotation: they read an immutable snapshot that each change replaces.
pub struct CaManager {
    pub(super) core: Core,
    /// Serializes changes (which await key generation and journal writes).
    pub(super) changes: tokio::sync::Mutex<()>,
    pub(super) current: RwLock<Arc<Snapshot>>,
}

/// What changes are made with.
pub(super) struct Core {
    pub(super) config: CaManagerConfig,
    pub(super) key_manager: Arc<dyn KeyManager>,
    pub(super) journal: Arc<dyn Journal>,
    pub(super) clock: Arc<dyn Clock>,
}

/// A change in progress: the new state, keys created for it (deleted if it fails) and keys
/// it retires (deleted once it is journaled).
pub(super) struct Change {
    pub(super) state: State,
    pub(super) created: Vec<String>,
    pub(super) retired: Vec<String>,
}

// === impl CaManager ===

impl CaManager {
    /// Resumes the CA from `journal` (keys fetched by id from `key_manager`), or creates the
    /// first X.509 and JWT authorities when the journal is empty, then rotates once (an
    /// authority that expired while the CA was down is replaced at once).
    ///
    /// Errors: a configured JWT algorithm that does not suit the JWT key type
    /// ([`CaError::AlgorithmMismatch`](crate::CaError::AlgorithmMismatch)); a journal that cannot be read or is inconsistent, of another trust domain, or
    /// naming a key the key manager does not hold; a key or authority that cannot be created.
    pub async fn load_or_init(
        config: CaManagerConfig,
        key_manager: Arc<dyn KeyManager>,
        journal: Arc<dyn Journal>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ManagerError> {
        if config.x509_ttl().as_secs() == 0 {
            return Err(ManagerError::ZeroTtl {
                kind: AuthorityKind::X509,
            });
        }
        if config.jwt_ttl().as_secs() == 0 {
            return Err(ManagerError::ZeroTtl {
                kind: AuthorityKind::Jwt,
            });
        }
        config.check_jwt_alg()?;
        let loaded = journal.load().await?;
        let previous = match &loaded {
            Some(saved) => resume(&config, key_manager.as_ref(), saved).await?,
            None => State {
                bundle_sequence: 0,
                x509: Vec::new(),
                jwt: Vec::new(),
                revoked_x509: Vec::new(),
                revoked_jwt: Vec::new(),
                tainted_upstream: Vec::new(),
                revoked_upstream: Vec::new(),
            },
        };
        let core = Core {
            config,
            key_manager,
            journal,
            clock,
        };
        let mut change = Change {
            state: previous.clone(),
            created: Vec::new(),
            retired: Vec::new(),
        };
        if let Err(e) = core.advance(&mut change).await {
            core.discard(&change.created).await;
            return Err(e);
        }
        let retired = std::mem::take(&mut change.retired);
        let snapshot = match core.commit(&previous, change).await? {
            Some(snapshot) => {
                core.discard(&retired).await;
                snapshot
            }
            // A resumed state with nothing due: published as it was journaled.
            None => publishable(previous, core.config.trust_domain())?,
        };
        Ok(Self {
            core,
            changes: tokio::sync::Mutex::new(()),
            current: RwLock::new(Arc::new(snapshot)),
        })
    }

    /// The issuer of the active X.509 authority (signs new X.509-SVIDs).
    pub fn x509_svid_issuer(&self) -> Arc<X509SvidIssuer> {
        self.snapshot().active_x509.clone()
    }

    /// The issuer of the active JWT authority (signs new JWT-SVIDs).
    pub fn jwt_svid_issuer(&self) -> Arc<JwtSvidIssuer> {
        self.snapshot().active_jwt.clone()
    }

    /// The trust bundle: every prepared, active and old authority that is neither revoked nor
    /// pruned after expiry (X.509 trust anchors and JWT keys), with a `spiffe_sequence` that
    /// increases on every change of its content.
    pub fn bundle(&self) -> Arc<SpiffeBundle> {
        self.snapshot().bundle.clone()
    }

    /// The X.509 authorities held, oldest first.
    pub fn x509_authorities(&self) -> Vec<AuthorityInfo> {
        let snapshot = self.snapshot();
        let entries = &snapshot.state.x509;
        entries
            .iter()
            .map(|e| info(e, AuthorityKind::X509))
            .collect()
    }

    /// The JWT keys held, oldest first.
    pub fn jwt_authorities(&self) -> Vec<AuthorityInfo> {
        let snapshot = self.snapshot();
        let entries = &snapshot.state.jwt;
        entries
            .iter()
            .map(|e| info(e, AuthorityKind::Jwt))
            .collect()
    }

    /// The configuration.
    pub fn config(&self) -> &CaManagerConfig {
        &self.core.config
    }

    pub(super) fn begin(&self) -> Change {
        Change {
            state: self.snapshot().state.clone(),
            created: Vec::new(),
            retired: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("CaManager")
            .field("config", &self.core.config)
            .field("active_x509", &snapshot.active_x509.authority_id())
            .field("active_jwt", &snapshot.active_jwt.kid())
            .field("bundle_sequence", &snapshot.state.bundle_sequence)
            .finish_non_exhaustive()
    }
}

// === helpers ===

pub(super) fn info<E: Entry>(entry: &E, kind: AuthorityKind) -> AuthorityInfo {
    AuthorityInfo {
        kind,
        id: entry.id().to_owned(),
        status: entry.status(),
        tainted: entry.tainted(),
        not_before: secs(entry.not_before()),
        not_after: secs(entry.not_after()),
        upstream_authority_id: entry.upstream_id().map(str::to_owned),
    }
}

pub(super) fn after(now: UnixTime, ttl: Duration) -> UnixTime {
    secs(now.as_secs().saturating_add(ttl.as_secs()))
}

pub(super) fn secs(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}
