//! The [`CaManager`]: current and next authorities, rotation, local-authority operations.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::{Map, Value};
use spiffe_core::{Certificate, SpiffeBundle, SpiffeId};

use crate::jwt::JwtSigningAuthority;
use crate::keys::{KeyManager, Signer};
use crate::x509::{MintedX509Svid, X509Authority, X509SvidRequest};
use crate::{CaError, Clock};

use super::error::AuthorityKind;
use super::journal::{AuthorityStatus, Journal, JournalState, JwtKeyRecord, X509AuthorityRecord};
use super::state::{self, Entry, JwtEntry, State, X509Entry};
use super::threshold::{max_svid_ttl, should_activate, should_prepare};
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
///   are SPIRE's local-authority operations.
/// - Every change is saved to the [`Journal`] before callers can observe it; a manager built on
///   the same journal and key manager resumes the same authorities.
///
/// Readers ([`bundle`](Self::bundle), the active authorities, minting) never wait for a
/// rotation: they read an immutable snapshot that each change replaces.
pub struct CaManager {
    core: Core,
    /// Serializes changes (which await key generation and journal writes).
    changes: tokio::sync::Mutex<()>,
    current: RwLock<Arc<Snapshot>>,
}

/// What changes are made with.
struct Core {
    config: CaManagerConfig,
    key_manager: Arc<dyn KeyManager>,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
}

/// One consistent view, replaced as a whole on every change.
struct Snapshot {
    state: State,
    active_x509: Arc<X509Authority>,
    active_jwt: Arc<JwtSigningAuthority>,
    bundle: Arc<SpiffeBundle>,
}

/// A change in progress: the new state, keys created for it (deleted if it fails) and keys
/// it retires (deleted once it is journaled).
struct Change {
    state: State,
    created: Vec<String>,
    retired: Vec<String>,
}

// === impl CaManager ===

impl CaManager {
    /// Resumes the CA from `journal` (keys fetched by id from `key_manager`), or creates the
    /// first X.509 and JWT authorities when the journal is empty, then rotates once (an
    /// authority that expired while the CA was down is replaced at once).
    ///
    /// Errors: a journal that cannot be read or is inconsistent, of another trust domain, or
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
        let loaded = journal.load().await?;
        let previous = match &loaded {
            Some(saved) => resume(&config, key_manager.as_ref(), saved).await?,
            None => State {
                bundle_sequence: 0,
                x509: Vec::new(),
                jwt: Vec::new(),
                revoked_x509: Vec::new(),
                revoked_jwt: Vec::new(),
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

    /// Rotates what is due at the clock's current time: prunes expired old authorities,
    /// prepares the next authority at 1/2 of the current lifetime and activates it at 5/6.
    /// Returns whether anything changed. Call it periodically (SPIRE checks every 10 s).
    pub async fn rotate(&self) -> Result<bool, ManagerError> {
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let result = self.core.advance(&mut change).await;
        self.finish(change, result).await
    }

    /// Prepares a new X.509 authority now, replacing any prepared one. It is published in the
    /// bundle at once and signs nothing until activated.
    pub async fn prepare_x509(&self) -> Result<AuthorityInfo, ManagerError> {
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let now = self.core.clock.now();
        let result = self.core.prepare_x509_in(&mut change, now).await;
        self.finish(change, result).await
    }

    /// Prepares a new JWT key now, replacing any prepared one.
    pub async fn prepare_jwt(&self) -> Result<AuthorityInfo, ManagerError> {
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let now = self.core.clock.now();
        let result = self.core.prepare_jwt_in(&mut change, now).await;
        self.finish(change, result).await
    }

    /// Activates the prepared X.509 authority; the active one becomes old.
    pub async fn activate_x509(&self) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| activate(&mut state.x509, AuthorityKind::X509))
            .await
    }

    /// Activates the prepared JWT key; the active one becomes old.
    pub async fn activate_jwt(&self) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| activate(&mut state.jwt, AuthorityKind::Jwt))
            .await
    }

    /// Taints the old X.509 authority `authority_id`: SVIDs it signed should be replaced. Only
    /// an old authority can be tainted (never the active or a prepared one).
    pub async fn taint_x509(&self, authority_id: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| taint(&mut state.x509, AuthorityKind::X509, authority_id))
            .await
    }

    /// Taints the old JWT key `kid`.
    pub async fn taint_jwt(&self, kid: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| taint(&mut state.jwt, AuthorityKind::Jwt, kid))
            .await
    }

    /// Revokes the tainted X.509 authority `authority_id`: it leaves the bundle and its key is
    /// deleted. Only a tainted authority can be revoked.
    pub async fn revoke_x509(&self, authority_id: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| {
            let info = revoke(&mut state.x509, AuthorityKind::X509, authority_id)?;
            state.revoked_x509.push(info.0.id.clone());
            Ok(info)
        })
        .await
    }

    /// Revokes the tainted JWT key `kid`: it leaves the bundle and its key is deleted.
    pub async fn revoke_jwt(&self, kid: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| {
            let info = revoke(&mut state.jwt, AuthorityKind::Jwt, kid)?;
            state.revoked_jwt.push(info.0.id.clone());
            Ok(info)
        })
        .await
    }

    /// The active X.509 authority (signs new X.509-SVIDs).
    pub fn x509_authority(&self) -> Arc<X509Authority> {
        self.snapshot().active_x509.clone()
    }

    /// The active JWT authority (signs new JWT-SVIDs).
    pub fn jwt_authority(&self) -> Arc<JwtSigningAuthority> {
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
        let authority = self.x509_authority();
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
        extra_claims: &Map<String, Value>,
    ) -> Result<String, ManagerError> {
        let ttl = ttl.min(self.max_jwt_svid_ttl());
        let authority = self.jwt_authority();
        Ok(authority.mint(
            spiffe_id,
            audiences,
            ttl,
            extra_claims,
            self.core.clock.now(),
        )?)
    }

    // --- changes ---

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn begin(&self) -> Change {
        Change {
            state: self.snapshot().state.clone(),
            created: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// A change that needs no new key: `op` edits the state and names the affected authority.
    async fn manual<F>(&self, op: F) -> Result<AuthorityInfo, ManagerError>
    where
        F: FnOnce(&mut State) -> Result<(AuthorityInfo, Option<String>), ManagerError>,
    {
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let result = op(&mut change.state).map(|(info, retired)| {
            change.retired.extend(retired);
            info
        });
        self.finish(change, result).await
    }

    /// Journals and publishes `change` if `result` is a success and the state moved;
    /// otherwise deletes the keys it created.
    async fn finish<T>(
        &self,
        mut change: Change,
        result: Result<T, ManagerError>,
    ) -> Result<T, ManagerError> {
        let value = match result {
            Ok(value) => value,
            Err(e) => {
                self.core.discard(&change.created).await;
                return Err(e);
            }
        };
        let retired = std::mem::take(&mut change.retired);
        if let Some(snapshot) = self.core.commit(&self.snapshot().state, change).await? {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
            // The journal no longer names these keys; a failure only leaves an unused key.
            self.core.discard(&retired).await;
        }
        Ok(value)
    }
}

// === impl Core ===

impl Core {
    /// Journals `change` (moving the bundle sequence if the bundle changed) and returns the
    /// snapshot to publish, or `None` when the state did not move. On failure the keys the
    /// change created are deleted.
    async fn commit(
        &self,
        previous: &State,
        mut change: Change,
    ) -> Result<Option<Snapshot>, ManagerError> {
        let td = self.config.trust_domain();
        change.state.bundle_sequence = previous.bundle_sequence;
        if change.state.bundle(td) != previous.bundle(td) {
            change.state.bundle_sequence += 1;
        }
        let next = change.state.to_journal(td);
        if next == previous.to_journal(td) {
            return Ok(None);
        }
        let saved = match publishable(change.state, td) {
            Ok(snapshot) => self.journal.save(&next).await.map(|()| snapshot),
            Err(e) => {
                self.discard(&change.created).await;
                return Err(e);
            }
        };
        match saved {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(e) => {
                self.discard(&change.created).await;
                Err(e.into())
            }
        }
    }

    async fn discard(&self, key_ids: &[String]) {
        for id in key_ids {
            let _ = self.key_manager.delete_key(id).await;
        }
    }

    /// Everything due at the clock's time, for both kinds.
    async fn advance(&self, change: &mut Change) -> Result<bool, ManagerError> {
        let now = self.clock.now();
        let mut changed = false;

        let (prepare, activate) = plan(&change.state.x509, now);
        if prepare {
            self.prepare_x509_in(change, now).await?;
        }
        if activate {
            state::activate_prepared(&mut change.state.x509);
        }
        // After activation, so an active authority that just expired is pruned at once.
        let pruned = state::prune_expired(&mut change.state.x509, now);
        changed |= !pruned.is_empty();
        change.retired.extend(pruned);
        changed |= prepare || activate;

        let (prepare, activate) = plan(&change.state.jwt, now);
        if prepare {
            self.prepare_jwt_in(change, now).await?;
        }
        if activate {
            state::activate_prepared(&mut change.state.jwt);
        }
        // After activation, so an active authority that just expired is pruned at once.
        let pruned = state::prune_expired(&mut change.state.jwt, now);
        changed |= !pruned.is_empty();
        change.retired.extend(pruned);
        Ok(changed || prepare || activate)
    }

    async fn prepare_x509_in(
        &self,
        change: &mut Change,
        now: UnixTime,
    ) -> Result<AuthorityInfo, ManagerError> {
        let config = &self.config;
        let td = config.trust_domain();
        let key_id = random_id("x509-ca")?;
        let signer = self
            .key_manager
            .generate_key(&key_id, config.x509_key_type())
            .await?;
        change.created.push(key_id.clone());
        let authority = match config.upstream() {
            Some(upstream) => {
                X509Authority::intermediate(td, signer, upstream.as_ref(), config.x509_ttl(), now)
                    .await?
            }
            None => X509Authority::self_signed(td, signer, now, after(now, config.x509_ttl()))?,
        };
        let certificate = authority.certificate();
        let entry = X509Entry {
            record: X509AuthorityRecord {
                authority_id: authority.authority_id().to_owned(),
                key_id,
                chain: authority.chain().iter().map(|c| c.der().to_vec()).collect(),
                trust_anchor: authority.trust_anchor().der().to_vec(),
                not_before: certificate.not_before().as_secs(),
                not_after: certificate.not_after().as_secs(),
                status: AuthorityStatus::Prepared,
                tainted: false,
            },
            authority: Arc::new(authority),
        };
        let info = info(&entry, AuthorityKind::X509);
        replace_prepared(&mut change.state.x509, entry, &mut change.retired);
        Ok(info)
    }

    async fn prepare_jwt_in(
        &self,
        change: &mut Change,
        now: UnixTime,
    ) -> Result<AuthorityInfo, ManagerError> {
        let config = &self.config;
        let key_id = random_id("jwt")?;
        let signer = self
            .key_manager
            .generate_key(&key_id, config.jwt_key_type())
            .await?;
        change.created.push(key_id.clone());
        let not_after = after(now, config.jwt_ttl());
        let authority = JwtSigningAuthority::new(config.trust_domain(), signer, not_after)?;
        let entry = JwtEntry {
            record: JwtKeyRecord {
                kid: authority.kid().to_owned(),
                key_id,
                public_jwk: authority.jwt_authority().to_jwk(),
                not_before: now.as_secs(),
                not_after: not_after.as_secs(),
                status: AuthorityStatus::Prepared,
                tainted: false,
            },
            authority: Arc::new(authority),
        };
        let info = info(&entry, AuthorityKind::Jwt);
        replace_prepared(&mut change.state.jwt, entry, &mut change.retired);
        Ok(info)
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

// --- the slot logic, shared by both kinds ---

/// What is due at `now`: (prepare a new authority, activate the prepared one).
fn plan<E: Entry>(entries: &[E], now: UnixTime) -> (bool, bool) {
    let has_prepared = state::position(entries, AuthorityStatus::Prepared).is_some();
    let secs = now.as_secs();
    let due = match state::position(entries, AuthorityStatus::Active) {
        // Nothing active, or the active one expired while nobody rotated: replace it now.
        None => true,
        Some(i) if secs >= entries[i].not_after() => true,
        Some(i) => {
            let active = &entries[i];
            if should_activate(active.not_before(), active.not_after(), secs) {
                true
            } else {
                let prepare =
                    !has_prepared && should_prepare(active.not_before(), active.not_after(), secs);
                return (prepare, false);
            }
        }
    };
    (due && !has_prepared, due)
}

/// Adds `entry` as the prepared authority, retiring any prepared before it.
fn replace_prepared<E: Entry>(entries: &mut Vec<E>, entry: E, retired: &mut Vec<String>) {
    if let Some(i) = state::position(entries, AuthorityStatus::Prepared) {
        retired.push(entries.remove(i).key_id().to_owned());
    }
    entries.push(entry);
}

fn activate<E: Entry>(
    entries: &mut [E],
    kind: AuthorityKind,
) -> Result<(AuthorityInfo, Option<String>), ManagerError> {
    let next = state::position(entries, AuthorityStatus::Prepared)
        .ok_or(ManagerError::NothingPrepared { kind })?;
    state::activate_prepared(entries);
    Ok((info(&entries[next], kind), None))
}

fn find<E: Entry>(entries: &[E], kind: AuthorityKind, id: &str) -> Result<usize, ManagerError> {
    entries
        .iter()
        .position(|e| e.id() == id)
        .ok_or_else(|| ManagerError::UnknownAuthority {
            kind,
            id: id.to_owned(),
        })
}

fn taint<E: Entry>(
    entries: &mut [E],
    kind: AuthorityKind,
    id: &str,
) -> Result<(AuthorityInfo, Option<String>), ManagerError> {
    let entry = &mut entries[find(entries, kind, id)?];
    if entry.status() != AuthorityStatus::Old {
        return Err(ManagerError::WrongStatus {
            operation: "taint",
            kind,
            id: id.to_owned(),
            status: entry.status(),
        });
    }
    if entry.tainted() {
        return Err(ManagerError::AlreadyTainted {
            kind,
            id: id.to_owned(),
        });
    }
    entry.set_tainted();
    Ok((info(entry, kind), None))
}

fn revoke<E: Entry>(
    entries: &mut Vec<E>,
    kind: AuthorityKind,
    id: &str,
) -> Result<(AuthorityInfo, Option<String>), ManagerError> {
    let index = find(entries, kind, id)?;
    // Only an old authority can be tainted, so a tainted one is never active.
    if !entries[index].tainted() {
        return Err(ManagerError::NotTainted {
            kind,
            id: id.to_owned(),
        });
    }
    let entry = entries.remove(index);
    Ok((info(&entry, kind), Some(entry.key_id().to_owned())))
}

fn info<E: Entry>(entry: &E, kind: AuthorityKind) -> AuthorityInfo {
    AuthorityInfo {
        kind,
        id: entry.id().to_owned(),
        status: entry.status(),
        tainted: entry.tainted(),
        not_before: secs(entry.not_before()),
        not_after: secs(entry.not_after()),
    }
}

// --- snapshots, resuming ---

/// The snapshot of `state`, which must have an active authority of each kind.
fn publishable(
    state: State,
    trust_domain: &spiffe_core::TrustDomain,
) -> Result<Snapshot, ManagerError> {
    let no_active = ManagerError::InconsistentJournal {
        reason: "no active authority",
    };
    let active_x509 = state::position(&state.x509, AuthorityStatus::Active)
        .map(|i| state.x509[i].authority.clone())
        .ok_or(no_active)?;
    let active_jwt = state::position(&state.jwt, AuthorityStatus::Active)
        .map(|i| state.jwt[i].authority.clone())
        .ok_or(ManagerError::InconsistentJournal {
            reason: "no active authority",
        })?;
    let bundle = Arc::new(state.bundle(trust_domain));
    Ok(Snapshot {
        state,
        active_x509,
        active_jwt,
        bundle,
    })
}

/// Rebuilds the state a journal describes, fetching each key from the key manager.
async fn resume(
    config: &CaManagerConfig,
    key_manager: &dyn KeyManager,
    saved: &JournalState,
) -> Result<State, ManagerError> {
    let td = config.trust_domain();
    if saved.trust_domain != td.as_str() {
        return Err(ManagerError::TrustDomainMismatch {
            journal: saved.trust_domain.clone(),
            configured: td.clone(),
        });
    }
    check_slots(saved.x509.iter().map(|r| r.status))?;
    check_slots(saved.jwt.iter().map(|r| r.status))?;

    let mut x509 = Vec::with_capacity(saved.x509.len());
    for record in &saved.x509 {
        let signer = fetch(key_manager, AuthorityKind::X509, &record.key_id).await?;
        let chain = record
            .chain
            .iter()
            .map(|der| parse_certificate(der))
            .collect::<Result<Vec<_>, _>>()?;
        let anchor = parse_certificate(&record.trust_anchor)?;
        let authority =
            X509Authority::from_parts(td.clone(), signer, chain, anchor).map_err(|e| match e {
                CaError::SignerMismatch => ManagerError::KeyMismatch {
                    kind: AuthorityKind::X509,
                    key_id: record.key_id.clone(),
                },
                other => other.into(),
            })?;
        if authority.authority_id() != record.authority_id {
            return Err(ManagerError::InconsistentJournal {
                reason: "an X.509 authority id does not match its certificate",
            });
        }
        x509.push(X509Entry {
            record: record.clone(),
            authority: Arc::new(authority),
        });
    }

    let mut jwt = Vec::with_capacity(saved.jwt.len());
    for record in &saved.jwt {
        let signer = fetch(key_manager, AuthorityKind::Jwt, &record.key_id).await?;
        let authority = JwtSigningAuthority::new(td, signer, secs(record.not_after))?
            .with_kid(record.kid.clone())?;
        if authority.jwt_authority().to_jwk() != record.public_jwk {
            return Err(ManagerError::KeyMismatch {
                kind: AuthorityKind::Jwt,
                key_id: record.key_id.clone(),
            });
        }
        jwt.push(JwtEntry {
            record: record.clone(),
            authority: Arc::new(authority),
        });
    }

    Ok(State {
        bundle_sequence: saved.bundle_sequence,
        x509,
        jwt,
        revoked_x509: saved.revoked_x509.clone(),
        revoked_jwt: saved.revoked_jwt.clone(),
    })
}

/// At most one active and one prepared authority per kind (SPIRE's two slots).
fn check_slots(statuses: impl Iterator<Item = AuthorityStatus>) -> Result<(), ManagerError> {
    let (mut active, mut prepared) = (0, 0);
    for status in statuses {
        match status {
            AuthorityStatus::Active => active += 1,
            AuthorityStatus::Prepared => prepared += 1,
            AuthorityStatus::Old => {}
        }
    }
    if active > 1 || prepared > 1 {
        return Err(ManagerError::InconsistentJournal {
            reason: "more than one active or prepared authority of a kind",
        });
    }
    Ok(())
}

async fn fetch(
    key_manager: &dyn KeyManager,
    kind: AuthorityKind,
    key_id: &str,
) -> Result<Arc<dyn Signer>, ManagerError> {
    key_manager
        .get_key(key_id)
        .await?
        .ok_or_else(|| ManagerError::MissingKey {
            kind,
            key_id: key_id.to_owned(),
        })
}

fn parse_certificate(der: &[u8]) -> Result<Certificate, ManagerError> {
    Certificate::from_der(CertificateDer::from(der.to_vec())).map_err(|_| {
        ManagerError::InconsistentJournal {
            reason: "a journaled certificate does not parse",
        }
    })
}

/// A fresh key id: `prefix` and 64 random bits in hex.
fn random_id(prefix: &str) -> Result<String, ManagerError> {
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| crate::keys::KeyError::Sign)?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{hex}"))
}

fn after(now: UnixTime, ttl: Duration) -> UnixTime {
    secs(now.as_secs().saturating_add(ttl.as_secs()))
}

fn secs(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}
