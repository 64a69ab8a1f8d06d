//! Publishing this server's CA to the trust domain's stored bundle, which agents and other
//! servers read.
//!
//! The stored bundle holds every server's authorities (HA servers share it), so publishing
//! merges rather than replaces: authorities of this CA the bundle lacks are added, those the CA
//! tainted are marked tainted, and a revoked one is removed. The sequence number increases when
//! anything changed. Two servers publishing at once may race (a read-modify-write of one row);
//! the loser's change is made again at its next publish.

use std::collections::{HashMap, HashSet};

use spiffe_core::pki_types::UnixTime;
use spire_api_proto::convert::{jwt_authority_to_proto, JwtAuthorityState};

use crate::context::ServerContext;
use crate::datastore::{Bundle, BundleMask, DataStoreError, JwtAuthority, X509Authority};

/// An authority to remove from the stored bundle.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Revoked<'a> {
    /// An X.509 authority, by authority id (its subject key identifier, hex).
    X509(&'a str),
    /// A JWT key, by key id.
    Jwt(&'a str),
}

/// Brings the stored bundle of the server's trust domain in line with the CA (see the module
/// documentation); returns the stored bundle.
pub(crate) async fn publish_ca_bundle(
    ctx: &ServerContext,
    revoked: Option<Revoked<'_>>,
) -> Result<Bundle, DataStoreError> {
    let published = ca_bundle(ctx);
    // A second round only when a concurrent writer created the bundle first.
    for _ in 0..2 {
        let Some(mut stored) = ctx.datastore.get_bundle(&published.trust_domain).await? else {
            match ctx.datastore.create_bundle(published.clone()).await {
                Err(DataStoreError::AlreadyExists { .. }) => continue,
                other => return other,
            }
        };
        if !merge(&mut stored, &published, revoked) {
            return Ok(stored);
        }
        stored.sequence_number += 1;
        let mask = BundleMask {
            x509_authorities: true,
            jwt_authorities: true,
            sequence_number: true,
            ..BundleMask::default()
        };
        return ctx.datastore.update_bundle(stored, mask).await;
    }
    Err(DataStoreError::Conflict(
        crate::datastore::ConflictReason::Concurrent,
    ))
}

/// The CA's bundle with its taint marks, as the store keeps bundles.
fn ca_bundle(ctx: &ServerContext) -> Bundle {
    let ca = &ctx.ca;
    let bundle = ca.bundle();
    let tainted_x509: HashSet<String> = ca
        .x509_authorities()
        .into_iter()
        .filter(|a| a.tainted)
        .map(|a| a.id)
        .collect();
    let jwt_states: HashMap<String, (UnixTime, bool)> = ca
        .jwt_authorities()
        .into_iter()
        .map(|a| (a.id, (a.not_after, a.tainted)))
        .collect();
    let mut stored = Bundle::new(ctx.settings.trust_domain.clone());
    for certificate in bundle.x509_authorities().authorities() {
        let mut authority = X509Authority::new(certificate.der().to_vec());
        authority.tainted = certificate
            .subject_key_id()
            .is_some_and(|ski| tainted_x509.contains(&hex(ski)));
        stored.x509_authorities.push(authority);
    }
    for key in bundle.jwt_authorities().authorities() {
        let (expires_at, tainted) = jwt_states
            .get(key.kid())
            .map_or((None, false), |(at, tainted)| (Some(*at), *tainted));
        let state = JwtAuthorityState {
            expires_at,
            tainted,
        };
        // A key of the CA's own making always has an SPKI form.
        let Ok(message) = jwt_authority_to_proto(key, state) else {
            tracing::error!(
                kid = key.kid(),
                "JWT authority has no SPKI form; not published"
            );
            continue;
        };
        let mut authority = JwtAuthority::new(message.key_id, message.public_key, expires_at);
        authority.tainted = tainted;
        stored.jwt_authorities.push(authority);
    }
    stored.sequence_number = bundle.sequence().unwrap_or(0);
    stored
}

/// Merges `published` into `stored`; whether `stored` changed.
fn merge(stored: &mut Bundle, published: &Bundle, revoked: Option<Revoked<'_>>) -> bool {
    let mut changed = false;
    for authority in &published.x509_authorities {
        match stored
            .x509_authorities
            .iter_mut()
            .find(|a| a.der == authority.der)
        {
            Some(existing) if authority.tainted && !existing.tainted => {
                existing.tainted = true;
                changed = true;
            }
            Some(_) => {}
            None => {
                stored.x509_authorities.push(authority.clone());
                changed = true;
            }
        }
    }
    for key in &published.jwt_authorities {
        match stored
            .jwt_authorities
            .iter_mut()
            .find(|k| k.key_id == key.key_id)
        {
            Some(existing) if key.tainted && !existing.tainted => {
                existing.tainted = true;
                changed = true;
            }
            Some(_) => {}
            None => {
                stored.jwt_authorities.push(key.clone());
                changed = true;
            }
        }
    }
    let before = (stored.x509_authorities.len(), stored.jwt_authorities.len());
    match revoked {
        Some(Revoked::X509(id)) => stored.x509_authorities.retain(|a| {
            let certificate = spiffe_core::Certificate::from_der(a.der.clone().into());
            !certificate.is_ok_and(|c| c.subject_key_id().is_some_and(|ski| hex(ski) == id))
        }),
        Some(Revoked::Jwt(kid)) => stored.jwt_authorities.retain(|k| k.key_id != kid),
        None => {}
    }
    changed || before != (stored.x509_authorities.len(), stored.jwt_authorities.len())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
