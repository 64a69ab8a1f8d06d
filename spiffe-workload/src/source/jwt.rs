//! [`JwtSource`]: JWT-SVIDs on demand (cached) and the JWT bundles, always the newest.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{
    BundleSet, JwtBundle, JwtBundleSource, SpiffeId, TrustDomain, UnverifiedJwtSvid,
};
use tokio::sync::watch;

use super::jwt_cache::JwtSvidCache;
use super::{Latest, SourceBuilder, SourceError};
use crate::client::{ClientError, MalformedResponse, WorkloadApiClient};
use crate::provider::JwtSvidEntry;

/// JWT-SVIDs for this workload and the JWT bundles it trusts.
///
/// Tokens are fetched per audience set (`FetchJWTSVID`) and reused until half their remaining
/// life is gone; bundles follow the `FetchJWTBundles` stream in a background task and verify
/// tokens of exactly their trust domain (JWT-20, WAPI-23). Clones share the cache and stream.
///
/// One source serves both ends: the caller sends [`fetch_jwt_svid`](Self::fetch_jwt_svid)'s
/// token, and the receiver checks it with
/// [`JwtSvid::validate_now`](spiffe_core::JwtSvid::validate_now) against its own source.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_core::JwtSvid;
/// use spiffe_workload::JwtSource;
///
/// let source = JwtSource::from_env().await?;
/// // The caller: a token for the payments service.
/// let svid = source.fetch_jwt_svid(&["payments"]).await?;
/// let header = format!("Bearer {}", svid.token());
///
/// // The payments service: who sent it?
/// let token = header.strip_prefix("Bearer ").ok_or("not a bearer token")?;
/// let caller = JwtSvid::validate_now(token, &source, &["payments"])?;
/// println!("request from {}", caller.spiffe_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JwtSource {
    inner: Arc<Inner>,
}

struct Inner {
    client: WorkloadApiClient,
    latest: Latest<BundleSet>,
    cache: Mutex<JwtSvidCache>,
}

// === impl JwtSource ===

impl JwtSource {
    /// A source on `client`, once the first JWT bundles arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`](super::DEFAULT_INITIAL_TIMEOUT)).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8), once the first JWT
    /// bundles arrived. Fails at once when the variable is unset or invalid, or names a Unix
    /// socket that does not exist.
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> SourceBuilder<Self> {
        SourceBuilder::new()
    }

    /// The default identity's JWT-SVID for `audience`: the first one returned (WAPI-19), read
    /// but not verified (it comes from the agent; its receiver validates it).
    pub async fn fetch_jwt_svid(
        &self,
        audience: &[&str],
    ) -> Result<UnverifiedJwtSvid, ClientError> {
        let svids = self.fetch_jwt_svids(audience, None).await?;
        // Non-empty: the client refuses an answer without SVIDs (WAPI-19).
        let Some(first) = svids.first() else {
            return Err(MalformedResponse::NoSvids.into());
        };
        // The client parsed the token already (WAPI-19); this cannot fail for its answers.
        UnverifiedJwtSvid::parse_insecure(&first.token)
            .map_err(|source| MalformedResponse::JwtSvid { index: 0, source }.into())
    }

    /// JWT-SVIDs for `audience`, of `spiffe_id` or of every identity held (WAPI-19), each with
    /// its hint, from the cache while fresh, else fetched and cached.
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
        self.inner.latest.get()
    }

    /// A receiver that sees every new set of JWT bundles; `changed()` fails once the source is
    /// closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<BundleSet>> {
        self.inner.latest.subscribe()
    }

    /// Stops the background task; the bundles held stay as they were.
    pub fn close(&self) {
        self.inner.latest.close();
    }

    /// Whether the source stopped (closed, or ended by a final error).
    pub fn is_closed(&self) -> bool {
        self.inner.latest.is_closed()
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
        self.inner.latest.borrow().jwt_bundle_for(trust_domain)
    }
}

impl fmt::Debug for JwtSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSource")
            .field("bundles", &self.inner.latest.borrow().len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// === impl SourceBuilder<JwtSource> ===

impl SourceBuilder<JwtSource> {
    /// Opens the `FetchJWTBundles` stream, waits for the first update, and starts the
    /// background task.
    pub async fn build(mut self) -> Result<JwtSource, SourceError> {
        let start = self.start()?;
        let mut watch = start.client.watch_jwt_bundles();
        let first = start.first_update(&mut watch).await?;
        Ok(JwtSource {
            inner: Arc::new(Inner {
                latest: Latest::follow(first, watch),
                client: start.client,
                cache: Mutex::new(JwtSvidCache::new()),
            }),
        })
    }
}
