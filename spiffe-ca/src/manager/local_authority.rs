//! SPIRE's local-authority operations: prepare, activate, taint and revoke, for X.509
//! authorities and JWT keys, and the preparation of a new authority they share with rotation.

use std::sync::Arc;

use rustls_pki_types::UnixTime;

use crate::jwt::JwtSvidIssuer;
use crate::x509::X509SvidIssuer;

use super::ca_manager::{after, info, AuthorityInfo, CaManager, Change, Core};
use super::error::AuthorityKind;
use super::journal::{AuthorityStatus, JwtKeyRecord, X509AuthorityRecord};
use super::state::{self, Entry, JwtEntry, State, X509Entry};
use super::ManagerError;

// === impl CaManager ===

impl CaManager {
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

    /// Activates the prepared X.509 authority if it is `authority_id`, as SPIRE's
    /// `ActivateX509Authority` requires (the caller names what it prepared, so an authority
    /// prepared meanwhile by rotation or another operator is not activated by mistake).
    /// [`ManagerError::WrongStatus`] when `authority_id` is not the prepared authority.
    pub async fn activate_x509_authority(
        &self,
        authority_id: &str,
    ) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| activate_id(&mut state.x509, AuthorityKind::X509, authority_id))
            .await
    }

    /// Activates the prepared JWT key if it is `kid` (SPIRE's `ActivateJWTAuthority`).
    pub async fn activate_jwt_authority(&self, kid: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| activate_id(&mut state.jwt, AuthorityKind::Jwt, kid))
            .await
    }

    /// Taints the old self-signed X.509 authority `authority_id`: SVIDs it signed should be
    /// replaced. Only an old authority can be tainted (never the active or a prepared one).
    ///
    /// Refused with [`ManagerError::UpstreamConfigured`] under an upstream authority (as
    /// SPIRE's `TaintX509Authority`): taint the upstream root with
    /// [`taint_x509_upstream`](Self::taint_x509_upstream).
    pub async fn taint_x509(&self, authority_id: &str) -> Result<AuthorityInfo, ManagerError> {
        self.refuse_under_upstream("taint")?;
        self.manual(|state| taint(&mut state.x509, AuthorityKind::X509, authority_id))
            .await
    }

    /// Taints the old JWT key `kid`.
    pub async fn taint_jwt(&self, kid: &str) -> Result<AuthorityInfo, ManagerError> {
        self.manual(|state| taint(&mut state.jwt, AuthorityKind::Jwt, kid))
            .await
    }

    /// Revokes the tainted self-signed X.509 authority `authority_id`: it leaves the bundle
    /// (SVIDs it signed no longer verify against it) and its key is deleted. Only a tainted
    /// authority can be revoked.
    ///
    /// Refused with [`ManagerError::UpstreamConfigured`] under an upstream authority (as
    /// SPIRE's `RevokeX509Authority`): the bundle holds the upstream root, shared by every
    /// intermediate, so removing one intermediate would revoke nothing. Revoke the upstream
    /// root with [`revoke_x509_upstream`](Self::revoke_x509_upstream).
    pub async fn revoke_x509(&self, authority_id: &str) -> Result<AuthorityInfo, ManagerError> {
        self.refuse_under_upstream("revoke")?;
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

    fn refuse_under_upstream(&self, operation: &'static str) -> Result<(), ManagerError> {
        match self.core.config.upstream() {
            Some(_) => Err(ManagerError::UpstreamConfigured { operation }),
            None => Ok(()),
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
}

// === impl Core ===

impl Core {
    pub(super) async fn prepare_x509_in(
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
                X509SvidIssuer::intermediate(td, signer, upstream.as_ref(), config.x509_ttl(), now)
                    .await?
            }
            None => X509SvidIssuer::self_signed(td, signer, now, after(now, config.x509_ttl()))?,
        };
        let certificate = authority.certificate();
        let entry = X509Entry::new(
            X509AuthorityRecord {
                authority_id: authority.authority_id().to_owned(),
                key_id,
                chain: authority.chain().iter().map(|c| c.der().to_vec()).collect(),
                trust_anchor: authority.trust_anchor().der().to_vec(),
                not_before: certificate.not_before().as_secs(),
                not_after: certificate.not_after().as_secs(),
                status: AuthorityStatus::Prepared,
                tainted: false,
            },
            Arc::new(authority),
        );
        // Under an upstream authority: never chain to a root the operator tainted or revoked
        // (a revoked root would come back into the bundle, and with it every SVID revoked).
        if let Some(id) = entry.upstream_id.as_deref() {
            let state = &change.state;
            let distrust = if state.revoked_upstream.iter().any(|r| r == id) {
                Some("revoked")
            } else if state.tainted_upstream.iter().any(|t| t == id) {
                Some("tainted")
            } else {
                None
            };
            if let Some(state) = distrust {
                return Err(ManagerError::UpstreamRootDistrusted {
                    id: id.to_owned(),
                    state,
                });
            }
        }
        let info = info(&entry, AuthorityKind::X509);
        replace_prepared(&mut change.state.x509, entry, &mut change.retired);
        Ok(info)
    }

    pub(super) async fn prepare_jwt_in(
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
        let authority = JwtSvidIssuer::new(config.trust_domain(), signer, not_after)?
            .with_alg(config.jwt_alg())?;
        let entry = JwtEntry {
            record: JwtKeyRecord {
                kid: authority.kid().to_owned(),
                key_id,
                public_jwk: authority.jwt_authority().to_jwk(),
                alg: Some(authority.alg().name().to_owned()),
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

// --- the slot logic, shared by both kinds ---

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

fn activate_id<E: Entry>(
    entries: &mut [E],
    kind: AuthorityKind,
    id: &str,
) -> Result<(AuthorityInfo, Option<String>), ManagerError> {
    let status = entries[find(entries, kind, id)?].status();
    if status != AuthorityStatus::Prepared {
        return Err(ManagerError::WrongStatus {
            operation: "activate",
            kind,
            id: id.to_owned(),
            status,
            required: AuthorityStatus::Prepared,
        });
    }
    activate(entries, kind)
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
            required: AuthorityStatus::Old,
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

/// A fresh key id: `prefix` and 64 random bits in hex.
fn random_id(prefix: &str) -> Result<String, ManagerError> {
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| crate::keys::KeyError::Sign)?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{hex}"))
}
