//! [`JwtSource`]: JWT-SVIDs on demand (cached) and the JWT bundles, always the newest.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{BundleSet, JwtBundle, JwtBundleSource, SpiffeId, TrustDomain};
use tokio::sync::watch;

use super::jwt_cache::JwtSvidCache;
use super::{client_or_env, first_update, follow, SourceError, TaskGuard, DEFAULT_INITIAL_TIMEOUT};
use crate::client::{ClientError, WorkloadApiClient};
use crate::provider::JwtSvidEntry;

/// JWT-SVIDs for this workload and the JWT bundles it trusts.
///
/// Tokens are fetched per audience set (`FetchJWTSVID`) and reused until half their remaining
/// life is gone; bundles follow the `FetchJWTBundles` stream in a background task and verify
/// tokens of exactly their trust domain (JWT-20, WAPI-23). Clones share the cache and stream.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_workload::source::JwtSource;
///
/// let source = JwtSource::from_env().await?;
/// let token = source.fetch_jwt_svid(&["payments"]).await?;
/// println!("Authorization: Bearer <token for {}>", token.spiffe_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JwtSource {
    inner: Arc<Inner>,
}

struct Inner {
    client: WorkloadApiClient,
    bundles: watch::Receiver<Arc<BundleSet>>,
    cache: Mutex<JwtSvidCache>,
    task: TaskGuard,
}

/// Options for a [`JwtSource`].
#[derive(Debug)]
#[must_use]
pub struct JwtSourceBuilder {
    client: Option<WorkloadApiClient>,
    timeout: Option<Duration>,
}

// === impl JwtSource ===

impl JwtSource {
    /// A source on `client`, once the first JWT bundles arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`]).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8).
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> JwtSourceBuilder {
        JwtSourceBuilder {
            client: None,
            timeout: Some(DEFAULT_INITIAL_TIMEOUT),
        }
    }

    /// The default identity's JWT-SVID for `audience`: the first one returned (WAPI-19).
    pub async fn fetch_jwt_svid(&self, audience: &[&str]) -> Result<JwtSvidEntry, ClientError> {
        let mut svids = self.fetch_jwt_svids(audience, None).await?;
        // Non-empty: the client refuses an answer without SVIDs (WAPI-19).
        Ok(svids.swap_remove(0))
    }

    /// JWT-SVIDs for `audience`, of `spiffe_id` or of every identity held (WAPI-19), from the
    /// cache while fresh, else fetched and cached.
    pub async fn fetch_jwt_svids(
        &self,
        audience: &[&str],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ClientError> {
        if let Some(svids) = self.cache().get(audience, spiffe_id, UnixTime::now()) {
            return Ok(svids);
        }
        let result = self.inner.client.fetch_jwt_svids(audience, spiffe_id).await;
        match &result {
            Ok(svids) => self
                .cache()
                .insert(audience, spiffe_id, svids, UnixTime::now()),
            // WAPI-20: tokens of an identity no longer held are not handed out again.
            Err(error) if error.is_permission_denied() => self.cache().clear(),
            Err(_) => {}
        }
        result
    }

    /// The newest JWT bundles, by trust domain.
    pub fn bundles(&self) -> Arc<BundleSet> {
        self.inner.bundles.borrow().clone()
    }

    /// A receiver that sees every new set of JWT bundles; `changed()` fails once the source is
    /// closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<BundleSet>> {
        let mut receiver = self.inner.bundles.clone();
        receiver.mark_unchanged();
        receiver
    }

    /// Stops the background task; the bundles held stay as they were.
    pub fn close(&self) {
        self.inner.task.close();
    }

    /// Whether the source stopped (closed, or ended by a final error).
    pub fn is_closed(&self) -> bool {
        self.inner.task.is_closed()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, JwtSvidCache> {
        // The cache holds no invariant a panic could break half-way.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The bundle of exactly the asked trust domain (JWT-20, WAPI-23).
impl JwtBundleSource for JwtSource {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        self.inner.bundles.borrow().jwt_bundle_for(trust_domain)
    }
}

impl fmt::Debug for JwtSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSource")
            .field("bundles", &self.inner.bundles.borrow().len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// === impl JwtSourceBuilder ===

impl JwtSourceBuilder {
    /// Uses `client` (default: a lazy client on `SPIFFE_ENDPOINT_SOCKET`).
    pub fn with_client(mut self, client: WorkloadApiClient) -> Self {
        self.client = Some(client);
        self
    }

    /// How long to wait for the first bundles; `None` waits as long as it takes.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Opens the bundle stream, waits for the first update, and starts the background task.
    pub async fn build(self) -> Result<JwtSource, SourceError> {
        let client = client_or_env(self.client)?;
        let mut watch = client.watch_jwt_bundles();
        let first = first_update(&mut watch, self.timeout).await?;
        let (sender, bundles) = watch::channel(Arc::new(first));
        let task = follow(watch, sender);
        Ok(JwtSource {
            inner: Arc::new(Inner {
                client,
                bundles,
                cache: Mutex::new(JwtSvidCache::new()),
                task,
            }),
        })
    }
}
