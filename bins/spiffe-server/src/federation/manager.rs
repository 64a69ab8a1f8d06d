//! The relationships this server fetches bundles for: one polling task per trust domain,
//! reconciled with the configuration and the datastore every 10 s (SPIRE's interval) and at
//! once when the TrustDomain API changes them.
//!
//! Each task fetches, stores the bundle when its keys changed, and sleeps a quarter of the
//! bundle's refresh hint, bounded (FED-4, FED-30: a failed poll is retried at the next normal
//! interval, never in a tight loop). A failed fetch changes nothing stored: the last good
//! bundle stays in force (FED-5), and the failure is logged and kept as the relationship's
//! status (`RefreshBundle`, metrics).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;
use spiffe_workload::federation::{
    next_refresh, BundleEndpointClient, ClientProfile, EndpointUrl, FederationError,
    MIN_REFRESH_HINT,
};
use thiserror::Error;
use tokio::sync::{watch, Notify};

use super::convert;
use crate::api::status::chain;
use crate::config::FederatesWith;
use crate::datastore::{
    BundleEndpointProfile, DataStore, DataStoreError, FederationRelationship, PageRequest,
};
use crate::ops::ServerMetrics;

/// How often relationships are re-read (SPIRE's `configRefreshInterval`).
const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);
/// Relationships read per datastore call.
const PAGE: u32 = 100;

/// Why a refresh on request failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// No relationship with the trust domain, in the configuration or the datastore.
    #[error("no relationship with trust domain \"{0}\"")]
    NotFound(TrustDomain),
    /// The datastore failed.
    #[error("datastore: {}", chain(.0))]
    Datastore(#[from] DataStoreError),
    /// The fetch failed (the stored bundle is unchanged).
    #[error("{}", chain(.0))]
    Fetch(#[from] FederationError),
    /// The fetched bundle could not be converted for the store.
    #[error("the fetched bundle cannot be stored: {0}")]
    Convert(String),
}

/// The last outcome of a relationship's polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshStatus {
    /// When the last fetch was tried.
    pub last_attempt: Option<u64>,
    /// When a fetch last succeeded (Unix seconds).
    pub last_success: Option<u64>,
    /// The last fetch's error, `None` when it succeeded.
    pub last_error: Option<String>,
}

/// One relationship as the poller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Relationship {
    url: String,
    profile: BundleEndpointProfile,
}

struct Running {
    relationship: Relationship,
    trigger: Arc<Notify>,
    task: tokio::task::AbortHandle,
}

/// The federated trust domains this server polls.
pub struct FederationManager {
    datastore: Arc<dyn DataStore>,
    metrics: Arc<ServerMetrics>,
    configured: HashMap<TrustDomain, Relationship>,
    web_roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    running: Mutex<HashMap<TrustDomain, Running>>,
    status: Mutex<HashMap<TrustDomain, RefreshStatus>>,
    now: Box<dyn Fn() -> UnixTime + Send + Sync>,
    wake: Notify,
}

impl std::fmt::Debug for FederationManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationManager")
            .field("configured", &self.configured.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

// === impl FederationManager ===

impl FederationManager {
    /// A manager for the configured relationships `federates_with` (plus those in the
    /// datastore), verifying `https_web` endpoints with `web_roots`.
    pub fn new(
        datastore: Arc<dyn DataStore>,
        metrics: Arc<ServerMetrics>,
        federates_with: &[FederatesWith],
        web_roots: Arc<RootCertStore>,
        now: Box<dyn Fn() -> UnixTime + Send + Sync>,
    ) -> Self {
        let configured = federates_with
            .iter()
            .map(|f| {
                let profile = match &f.endpoint_spiffe_id {
                    Some(id) => BundleEndpointProfile::HttpsSpiffe {
                        endpoint_spiffe_id: id.clone(),
                    },
                    None => BundleEndpointProfile::HttpsWeb,
                };
                let relationship = Relationship {
                    url: f.url.clone(),
                    profile,
                };
                (f.trust_domain.clone(), relationship)
            })
            .collect();
        Self {
            datastore,
            metrics,
            configured,
            web_roots,
            provider: spiffe_workload::federation::default_crypto_provider(),
            running: Mutex::new(HashMap::new()),
            status: Mutex::new(HashMap::new()),
            now,
            wake: Notify::new(),
        }
    }

    /// The roots `https_web` endpoints are verified with: the PEM file named by
    /// `SSL_CERT_FILE` when set (as Go's system pool, which SPIRE uses, reads it), otherwise
    /// the Mozilla root program's CAs.
    pub fn web_roots_from_env() -> Result<Arc<RootCertStore>, String> {
        match std::env::var_os("SSL_CERT_FILE") {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| {
                    format!(
                        "unable to read SSL_CERT_FILE {}: {e}",
                        path.to_string_lossy()
                    )
                })?;
                match ClientProfile::https_web_from_pem(&pem) {
                    Ok(ClientProfile::HttpsWeb { roots }) => Ok(roots),
                    Ok(_) => Err("unexpected profile".into()),
                    Err(e) => Err(format!("SSL_CERT_FILE {}: {e}", path.to_string_lossy())),
                }
            }
            None => match ClientProfile::https_web_webpki_roots() {
                ClientProfile::HttpsWeb { roots } => Ok(roots),
                _ => Err("unexpected profile".into()),
            },
        }
    }

    /// The last outcome for `trust_domain`'s polls.
    pub fn status(&self, trust_domain: &TrustDomain) -> Option<RefreshStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(trust_domain)
            .cloned()
    }

    /// Re-reads the relationships now (after the TrustDomain API changed them).
    pub fn reconcile_soon(&self) {
        self.wake.notify_one();
    }

    /// Runs until `stop`: reconciles every 10 s, or at once after
    /// [`reconcile_soon`](Self::reconcile_soon).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::error!(error = %chain(&e), "Failed to reload federation relationships");
            }
            tokio::select! {
                _ = stop.changed() => break,
                () = tokio::time::sleep(RECONCILE_INTERVAL) => {}
                () = self.wake.notified() => {}
            }
        }
        for (_, running) in self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            running.task.abort();
        }
    }

    /// Every relationship: the datastore's, then the configuration's over them.
    async fn relationships(&self) -> Result<HashMap<TrustDomain, Relationship>, DataStoreError> {
        let mut all = HashMap::new();
        let mut page = PageRequest::first(PAGE);
        loop {
            let loaded = self.datastore.list_federation_relationships(&page).await?;
            for r in loaded.items {
                all.insert(r.trust_domain.clone(), from_stored(&r));
            }
            match loaded.next {
                Some(next) => page = PageRequest::after(PAGE, next),
                None => break,
            }
        }
        // SPIRE merges its configuration source over the datastore's.
        all.extend(self.configured.clone());
        Ok(all)
    }

    /// Starts, restarts and stops pollers to match the relationships.
    async fn reconcile(self: &Arc<Self>) -> Result<(), DataStoreError> {
        let wanted = self.relationships().await?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|td, r| {
            let keep = wanted.get(td) == Some(&r.relationship);
            if !keep {
                r.task.abort();
                if !wanted.contains_key(td) {
                    // FED-31: the relationship ended, polling stops.
                    tracing::info!(trust_domain = %td, "Trust domain no longer managed");
                }
            }
            keep
        });
        for (td, relationship) in wanted {
            if running.contains_key(&td) {
                continue;
            }
            tracing::info!(
                trust_domain = %td,
                bundle_endpoint_url = %relationship.url,
                bundle_endpoint_profile = profile_name(&relationship.profile),
                "Polling bundle endpoint of federated trust domain"
            );
            let trigger = Arc::new(Notify::new());
            let task = tokio::spawn(self.clone().poll(
                td.clone(),
                relationship.clone(),
                trigger.clone(),
            ))
            .abort_handle();
            running.insert(
                td,
                Running {
                    relationship,
                    trigger,
                    task,
                },
            );
        }
        Ok(())
    }

    async fn poll(
        self: Arc<Self>,
        td: TrustDomain,
        relationship: Relationship,
        trigger: Arc<Notify>,
    ) {
        loop {
            let _ = self.refresh(&td, &relationship).await;
            let hint = match self.datastore.get_bundle(&td).await {
                Ok(Some(stored)) => stored.refresh_hint,
                _ => None,
            };
            let wait = next_refresh(hint, MIN_REFRESH_HINT);
            tracing::debug!(trust_domain = %td, in_secs = wait.as_secs(), "Scheduling next bundle refresh");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = trigger.notified() => {}
            }
        }
    }

    /// Fetches `trust_domain`'s bundle now (TrustDomain `RefreshBundle`); returns whether the
    /// stored bundle changed.
    pub async fn refresh_now(&self, trust_domain: &TrustDomain) -> Result<bool, RefreshError> {
        let relationship = match self.configured.get(trust_domain) {
            Some(r) => r.clone(),
            None => match self
                .datastore
                .get_federation_relationship(trust_domain)
                .await?
            {
                Some(r) => from_stored(&r),
                None => return Err(RefreshError::NotFound(trust_domain.clone())),
            },
        };
        self.refresh(trust_domain, &relationship).await
    }

    /// One fetch, recorded in the status, the metrics and the log.
    async fn refresh(
        &self,
        td: &TrustDomain,
        relationship: &Relationship,
    ) -> Result<bool, RefreshError> {
        let now = (self.now)().as_secs();
        let outcome = self.fetch_and_store(td, relationship).await;
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let entry = status.entry(td.clone()).or_default();
        entry.last_attempt = Some(now);
        match &outcome {
            Ok(changed) => {
                entry.last_success = Some(now);
                entry.last_error = None;
                self.metrics
                    .federation_refreshed(td.as_str(), now, *changed);
            }
            Err(e) => {
                // FED-5: nothing was stored; the last good bundle stays in force.
                tracing::error!(
                    trust_domain = %td,
                    bundle_endpoint_url = %relationship.url,
                    error = %e,
                    "Error updating bundle; keeping the current one"
                );
                entry.last_error = Some(e.to_string());
                let kind = match e {
                    RefreshError::Fetch(f) => f.kind(),
                    RefreshError::Datastore(_) => "datastore",
                    RefreshError::Convert(_) => "convert",
                    RefreshError::NotFound(_) => "not_found",
                };
                self.metrics.federation_failed(td.as_str(), now, kind);
            }
        }
        outcome
    }

    async fn fetch_and_store(
        &self,
        td: &TrustDomain,
        relationship: &Relationship,
    ) -> Result<bool, RefreshError> {
        let url = EndpointUrl::parse(&relationship.url)?;
        let (profile, endpoint_bundle) = match &relationship.profile {
            BundleEndpointProfile::HttpsWeb => (
                ClientProfile::HttpsWeb {
                    roots: self.web_roots.clone(),
                },
                None,
            ),
            BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id } => {
                // FED-26/27: the latest stored bundle of the endpoint's trust domain (the
                // operator's bootstrap bundle until the first fetch).
                let endpoint_td = endpoint_spiffe_id.trust_domain();
                let bundle = match self.datastore.get_bundle(&endpoint_td).await? {
                    Some(stored) => Some(Arc::new(
                        convert::to_x509(&stored)
                            .map_err(|e| RefreshError::Convert(e.to_string()))?,
                    )),
                    None => None,
                };
                (
                    ClientProfile::HttpsSpiffe {
                        endpoint_id: endpoint_spiffe_id.clone(),
                    },
                    bundle,
                )
            }
        };
        let client = BundleEndpointClient::new(td.clone(), url, profile, self.provider.clone());
        let fetched = client.fetch(endpoint_bundle).await?;
        let next = convert::from_spiffe(&fetched.bundle)
            .map_err(|e| RefreshError::Convert(e.to_string()))?;
        let current = self.datastore.get_bundle(td).await?;
        // FED-33: every fetch is logged.
        if current
            .as_ref()
            .is_some_and(|c| convert::same_keys(c, &next))
        {
            tracing::debug!(trust_domain = %td, size = fetched.size, "Bundle unchanged");
            return Ok(false);
        }
        self.datastore.set_bundle(next).await?;
        tracing::info!(
            trust_domain = %td,
            sequence = fetched.bundle.sequence().unwrap_or(0),
            x509_authorities = fetched.bundle.x509_authorities().authorities().len(),
            jwt_authorities = fetched.bundle.jwt_authorities().authorities().len(),
            "Bundle refreshed"
        );
        Ok(true)
    }

    /// Wakes the poller of `trust_domain` (e.g. after its bootstrap bundle was set).
    pub fn poke(&self, trust_domain: &TrustDomain) {
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(trust_domain)
        {
            r.trigger.notify_one();
        }
    }
}

fn from_stored(r: &FederationRelationship) -> Relationship {
    Relationship {
        url: r.bundle_endpoint_url.clone(),
        profile: r.profile.clone(),
    }
}

fn profile_name(profile: &BundleEndpointProfile) -> &'static str {
    match profile {
        BundleEndpointProfile::HttpsWeb => "https_web",
        BundleEndpointProfile::HttpsSpiffe { .. } => "https_spiffe",
    }
}
