//! [`BundleSource`]: the X.509 and JWT bundles a workload trusts, always the newest.

use std::fmt;
use std::sync::Arc;

use spiffe_core::X509BundleSource;
use spiffe_core::{BundleSet, JwtBundle, JwtBundleSource, TrustDomain, X509Bundle};
use tokio::sync::watch;

use super::latest::apply;
use super::{Latest, SourceBuilder, SourceError};
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
/// use spiffe_workload::BundleSource;
///
/// let source = BundleSource::from_env().await?;
/// let td = TrustDomain::new("example.org")?;
/// println!("{} X.509 authorities", source.x509_bundle_for(&td).map_or(0, |b| b.len()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BundleSource {
    latest: Arc<Latest<BundleSet>>,
}

// === impl BundleSource ===

impl BundleSource {
    /// A source on `client`, once the first X.509 and JWT bundles arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`](super::DEFAULT_INITIAL_TIMEOUT)).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8), once the first bundles
    /// arrived. Fails at once when the variable is unset or invalid, or names a Unix socket
    /// that does not exist.
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> SourceBuilder<Self> {
        SourceBuilder::new()
    }

    /// The newest bundles, X.509 and JWT, by trust domain.
    pub fn bundles(&self) -> Arc<BundleSet> {
        self.latest.get()
    }

    /// A receiver that sees every new bundle set; `changed()` fails once the source is closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<BundleSet>> {
        self.latest.subscribe()
    }

    /// Stops the background task; the bundles held stay as they were.
    pub fn close(&self) {
        self.latest.close();
    }

    /// Whether the source stopped (closed, or ended by a final error on both streams).
    pub fn is_closed(&self) -> bool {
        self.latest.is_closed()
    }
}

/// The X.509 bundle of exactly the asked trust domain (WAPI-11).
impl X509BundleSource for BundleSource {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        self.latest.borrow().x509_bundle_for(trust_domain)
    }
}

/// The JWT bundle of exactly the asked trust domain (JWT-20).
impl JwtBundleSource for BundleSource {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        self.latest.borrow().jwt_bundle_for(trust_domain)
    }
}

impl fmt::Debug for BundleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleSource")
            .field("trust_domains", &self.latest.borrow().len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// === impl SourceBuilder<BundleSource> ===

impl SourceBuilder<BundleSource> {
    /// Opens both streams, waits for the first update of each (within one timeout), and
    /// starts the background task.
    pub async fn build(mut self) -> Result<BundleSource, SourceError> {
        let start = self.start()?;
        let mut x509_watch = start.client.watch_x509_bundles();
        let mut jwt_watch = start.client.watch_jwt_bundles();
        let mut x509 = start.first_update(&mut x509_watch).await?;
        let mut jwt = start.first_update(&mut jwt_watch).await?;
        let latest = Latest::spawn(merge(&x509, &jwt), |sender| async move {
            let (mut x509_open, mut jwt_open) = (true, true);
            while x509_open || jwt_open {
                let changed = tokio::select! {
                    item = x509_watch.next(), if x509_open => match item {
                        None => {
                            x509_open = false;
                            false
                        }
                        Some(item) => apply(&mut x509, item),
                    },
                    item = jwt_watch.next(), if jwt_open => match item {
                        None => {
                            jwt_open = false;
                            false
                        }
                        Some(item) => apply(&mut jwt, item),
                    },
                };
                if changed {
                    sender.send_replace(Arc::new(merge(&x509, &jwt)));
                }
            }
        });
        Ok(BundleSource {
            latest: Arc::new(latest),
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
