//! The CA's bundle in the datastore, and the trust bundles TLS callers are verified against.
//!
//! Every server appends its CA's authorities to its trust domain's one stored bundle
//! ([`publish`], SPIRE's `AppendBundle`): appending only adds what is missing, so servers
//! sharing a database never remove each other's authorities, and a publish lost to a race is
//! repaired by the next one (every rotation tick, 10 s). Expired authorities are pruned by
//! [`prune_expired`], which re-reads the bundle right before writing it back.
//!
//! [`TrustBundles`] answers the TLS listener's client verifier: the stored bundles (this trust
//! domain's, with every server's authorities, and federated ones), refreshed from the
//! datastore by the runtime, plus this server's own authorities at all times.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use spiffe_ca::manager::CaManager;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{Certificate, TrustDomain, X509Bundle, X509BundleSource};
use spire_api_proto::convert::{jwt_authority_to_proto, JwtAuthorityState};

use crate::datastore::{
    Bundle, BundleMask, DataStore, DataStoreError, JwtAuthority, PageRequest, X509Authority,
};

/// The CA's current bundle in the datastore's shape: its X.509 authorities and JWT keys (each
/// key expiring with its authority).
pub fn to_datastore_bundle(ca: &CaManager) -> Bundle {
    let spiffe = ca.bundle();
    let mut bundle = Bundle::new(spiffe.trust_domain().clone());
    for authority in spiffe.x509_authorities().authorities() {
        bundle
            .x509_authorities
            .push(X509Authority::new(authority.der().to_vec()));
    }
    let expiries: HashMap<String, UnixTime> = ca
        .jwt_authorities()
        .into_iter()
        .map(|info| (info.id, info.not_after))
        .collect();
    for key in spiffe.jwt_authorities().authorities() {
        let state = JwtAuthorityState {
            expires_at: expiries.get(key.kid()).copied(),
            tainted: false,
        };
        // A key the CA made always has a PKIX form; one that had not would be skipped.
        if let Ok(proto) = jwt_authority_to_proto(key, state) {
            bundle.jwt_authorities.push(JwtAuthority::new(
                proto.key_id,
                proto.public_key,
                state.expires_at,
            ));
        }
    }
    bundle
}

/// Appends the CA's authorities to the stored bundle of its trust domain (creating it).
pub async fn publish(ca: &CaManager, datastore: &dyn DataStore) -> Result<Bundle, DataStoreError> {
    datastore.append_bundle(to_datastore_bundle(ca)).await
}

/// Removes authorities that expired before `now` from the stored bundle of `trust_domain`;
/// returns whether anything was removed.
pub async fn prune_expired(
    datastore: &dyn DataStore,
    trust_domain: &TrustDomain,
    now: UnixTime,
) -> Result<bool, DataStoreError> {
    let Some(mut bundle) = datastore.get_bundle(trust_domain).await? else {
        return Ok(false);
    };
    let before = (bundle.x509_authorities.len(), bundle.jwt_authorities.len());
    bundle.x509_authorities.retain(|a| {
        Certificate::from_der(CertificateDer::from(a.der.clone()))
            .map(|c| c.not_after().as_secs() > now.as_secs())
            .unwrap_or(true)
    });
    bundle
        .jwt_authorities
        .retain(|k| k.expires_at.is_none_or(|t| t.as_secs() > now.as_secs()));
    // Never empty a bundle: an authority kept past expiry is harmless, none at all is not.
    if bundle.x509_authorities.is_empty()
        || before == (bundle.x509_authorities.len(), bundle.jwt_authorities.len())
    {
        return Ok(false);
    }
    bundle.sequence_number += 1;
    let mask = BundleMask {
        x509_authorities: true,
        jwt_authorities: true,
        sequence_number: true,
        ..BundleMask::default()
    };
    datastore.update_bundle(bundle, mask).await?;
    Ok(true)
}

/// The X.509 trust bundles client certificates are verified against.
pub struct TrustBundles {
    ca: Arc<CaManager>,
    stored: RwLock<HashMap<TrustDomain, Arc<X509Bundle>>>,
}

impl std::fmt::Debug for TrustBundles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stored = self.stored.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("TrustBundles")
            .field("trust_domains", &stored.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Bundles read per datastore call when refreshing.
const PAGE: u32 = 100;

// === impl TrustBundles ===

impl TrustBundles {
    /// Bundles holding only `ca`'s authorities until the first [`refresh`](Self::refresh).
    pub fn new(ca: Arc<CaManager>) -> Self {
        Self {
            ca,
            stored: RwLock::new(HashMap::new()),
        }
    }

    /// Re-reads every stored bundle.
    pub async fn refresh(&self, datastore: &dyn DataStore) -> Result<(), DataStoreError> {
        let mut all = HashMap::new();
        let mut page = PageRequest::first(PAGE);
        loop {
            let loaded = datastore.list_bundles(&page).await?;
            for bundle in loaded.items {
                let ders = bundle
                    .x509_authorities
                    .iter()
                    .map(|a| CertificateDer::from(a.der.clone()));
                match X509Bundle::from_der_authorities(bundle.trust_domain.clone(), ders) {
                    Ok(x509) => {
                        all.insert(bundle.trust_domain.clone(), Arc::new(x509));
                    }
                    Err(e) => tracing::warn!(
                        trust_domain = %bundle.trust_domain,
                        error = %e,
                        "Stored bundle has an unreadable X.509 authority; it is not trusted"
                    ),
                }
            }
            match loaded.next {
                Some(next) => page = PageRequest::after(PAGE, next),
                None => break,
            }
        }
        *self.stored.write().unwrap_or_else(|p| p.into_inner()) = all;
        Ok(())
    }
}

impl X509BundleSource for TrustBundles {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        let stored = self
            .stored
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(trust_domain)
            .cloned();
        if trust_domain != self.ca.config().trust_domain() {
            return stored;
        }
        // This server's own authorities are trusted even before they are read back.
        let own = self.ca.bundle();
        let mut merged =
            stored.map_or_else(|| X509Bundle::new(trust_domain.clone()), |b| (*b).clone());
        for authority in own.x509_authorities().authorities() {
            merged.add_authority(authority.clone());
        }
        Some(Arc::new(merged))
    }
}

/// How long a trust bundle refresh may wait for the datastore before the next try.
pub(crate) const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
