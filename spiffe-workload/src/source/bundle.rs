//! [`BundleSource`]: the X.509 and JWT bundles a workload trusts, always the newest.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::X509BundleSource;
use spiffe_core::{BundleSet, JwtBundle, JwtBundleSource, TrustDomain, X509Bundle};
use tokio::sync::watch;

use super::{apply, client_or_env, first_update, SourceError, TaskGuard, DEFAULT_INITIAL_TIMEOUT};
use crate::client::WorkloadApiClient;

/// The trust bundles of every trust domain the workload trusts, from the `FetchX509Bundles`
/// and `FetchJWTBundles` streams: for verifiers that hold no SVID of their own.
///
/// X.509 and JWT authorities stay apart (WAPI-17, WAPI-21): an X.509 bundle never verifies a
/// JWT-SVID or the reverse. Clones share the streams.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_core::{TrustDomain, X509BundleSource};
/// use spiffe_workload::source::BundleSource;
///
/// let source = BundleSource::from_env().await?;
/// let td = TrustDomain::new("example.org")?;
/// println!("{} X.509 authorities", source.x509_bundle_for(&td).map_or(0, |b| b.len()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BundleSource {
    inner: Arc<Inner>,
}

struct Inner {
    bundles: watch::Receiver<Arc<BundleSet>>,
    task: TaskGuard,
}

/// Options for a [`BundleSource`].
#[derive(Debug)]
#[must_use]
pub struct BundleSourceBuilder {
    client: Option<WorkloadApiClient>,
    timeout: Option<Duration>,
}

// === impl BundleSource ===

impl BundleSource {
    /// A source on `client`, once the first X.509 and JWT bundles arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`]).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8).
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> BundleSourceBuilder {
        BundleSourceBuilder {
            client: None,
            timeout: Some(DEFAULT_INITIAL_TIMEOUT),
        }
    }

    /// The newest bundles, X.509 and JWT, by trust domain.
    pub fn bundles(&self) -> Arc<BundleSet> {
        self.inner.bundles.borrow().clone()
    }

    /// A receiver that sees every new bundle set; `changed()` fails once the source is closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<BundleSet>> {
        let mut receiver = self.inner.bundles.clone();
        receiver.mark_unchanged();
        receiver
    }

    /// Stops the background task; the bundles held stay as they were.
    pub fn close(&self) {
        self.inner.task.close();
    }

    /// Whether the source stopped (closed, or ended by a final error on both streams).
    pub fn is_closed(&self) -> bool {
        self.inner.task.is_closed()
    }
}

/// The X.509 bundle of exactly the asked trust domain (WAPI-11).
impl X509BundleSource for BundleSource {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        self.inner.bundles.borrow().x509_bundle_for(trust_domain)
    }
}

/// The JWT bundle of exactly the asked trust domain (JWT-20).
impl JwtBundleSource for BundleSource {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        self.inner.bundles.borrow().jwt_bundle_for(trust_domain)
    }
}

impl fmt::Debug for BundleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleSource")
            .field("trust_domains", &self.inner.bundles.borrow().len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// === impl BundleSourceBuilder ===

impl BundleSourceBuilder {
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

    /// Opens both streams, waits for the first update of each, and starts the background
    /// task.
    pub async fn build(self) -> Result<BundleSource, SourceError> {
        let client = client_or_env(self.client)?;
        let started = tokio::time::Instant::now();
        let mut x509_watch = client.watch_x509_bundles();
        let mut jwt_watch = client.watch_jwt_bundles();
        let mut x509 = first_update(&mut x509_watch, self.timeout).await?;
        let left = self.timeout.map(|t| {
            t.saturating_sub(started.elapsed())
                .max(Duration::from_millis(1))
        });
        let mut jwt = first_update(&mut jwt_watch, left).await?;
        let (sender, bundles) = watch::channel(Arc::new(merge(&x509, &jwt)));
        let task = tokio::spawn(async move {
            let (mut x509_open, mut jwt_open) = (true, true);
            while x509_open || jwt_open {
                tokio::select! {
                    item = x509_watch.next(), if x509_open => match item {
                        None => x509_open = false,
                        Some(item) => {
                            if !apply(&mut x509, item) {
                                continue;
                            }
                        }
                    },
                    item = jwt_watch.next(), if jwt_open => match item {
                        None => jwt_open = false,
                        Some(item) => {
                            if !apply(&mut jwt, item) {
                                continue;
                            }
                        }
                    },
                }
                sender.send_replace(Arc::new(merge(&x509, &jwt)));
            }
        });
        Ok(BundleSource {
            inner: Arc::new(Inner {
                bundles,
                task: TaskGuard(task),
            }),
        })
    }
}

/// One set with each trust domain's X.509 bundle from `x509` and JWT bundle from `jwt`.
fn merge(x509: &BundleSet, jwt: &BundleSet) -> BundleSet {
    let mut set = BundleSet::new();
    for (_, entry) in x509 {
        if let Some(bundle) = entry.x509() {
            set.insert_x509(bundle.clone());
        }
    }
    for (_, entry) in jwt {
        if let Some(bundle) = entry.jwt() {
            set.insert_jwt(bundle.clone());
        }
    }
    set
}
