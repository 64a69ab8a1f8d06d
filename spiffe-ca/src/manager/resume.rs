//! Resuming: rebuilding the manager's state from a journal, with each key fetched from the
//! key manager and checked against what was journaled.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use spiffe_core::jwt::JwtAlg;
use spiffe_core::Certificate;

use crate::jwt::JwtSvidIssuer;
use crate::keys::{KeyManager, Signer};
use crate::x509::X509SvidIssuer;
use crate::CaError;

use super::ca_manager::secs;
use super::error::AuthorityKind;
use super::journal::{AuthorityStatus, JournalState};
use super::state::{JwtEntry, State, X509Entry};
use super::{CaManagerConfig, ManagerError};

/// Rebuilds the state a journal describes, fetching each key from the key manager.
pub(super) async fn resume(
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
            X509SvidIssuer::from_parts(td.clone(), signer, chain, anchor).map_err(|e| match e {
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
        x509.push(X509Entry::new(record.clone(), Arc::new(authority)));
    }

    let mut jwt = Vec::with_capacity(saved.jwt.len());
    for record in &saved.jwt {
        let signer = fetch(key_manager, AuthorityKind::Jwt, &record.key_id).await?;
        let mut authority =
            JwtSvidIssuer::new(td, signer, secs(record.not_after))?.with_kid(record.kid.clone())?;
        // Without a journaled algorithm the key keeps its type's default (what `new` chose).
        if let Some(name) = &record.alg {
            let alg = JwtAlg::from_name(name).ok_or(ManagerError::InconsistentJournal {
                reason: "a journaled JWT key has an unknown algorithm",
            })?;
            authority = authority.with_alg(alg).map_err(|e| match e {
                CaError::AlgorithmMismatch { .. } => ManagerError::InconsistentJournal {
                    reason: "a journaled JWT algorithm does not suit its key",
                },
                other => other.into(),
            })?;
        }
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
        tainted_upstream: saved.tainted_upstream_x509.clone(),
        revoked_upstream: saved.revoked_upstream_x509.clone(),
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
