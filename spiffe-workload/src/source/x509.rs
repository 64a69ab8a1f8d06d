//! [`X509Source`]: the workload's X.509-SVIDs and X.509 bundles, always the newest.

use std::fmt;
use std::sync::Arc;

use spiffe_core::{TrustDomain, X509Bundle, X509BundleSource, X509Svid, X509SvidSource};
use tokio::sync::watch;

use super::{Latest, SourceBuilder, SourceError};
use crate::client::WorkloadApiClient;
use crate::provider::{X509Context, X509SvidEntry};

/// Chooses the SVID a source hands out from the current list (an index into it).
type PickFn = dyn Fn(&[X509SvidEntry]) -> Option<usize> + Send + Sync;

/// The X.509 material of this workload from the Workload API's `FetchX509SVID` stream, kept
/// current by a background task: the default SVID for TLS (the first, WAPI-24, or one chosen
/// by hint or picker) and one bundle per trust domain (WAPI-11) for verifying peers.
///
/// It implements `spiffe-core`'s `X509SvidSource` and `X509BundleSource`, so `spiffe-tls`
/// configurations built on it present and verify with the newest material: a rotation needs no
/// new configuration and no restart. Clones share one stream. Use
/// [`subscribe`](Self::subscribe) to learn of rotations.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_core::X509SvidSource;
/// use spiffe_workload::X509Source;
///
/// // SPIFFE_ENDPOINT_SOCKET=unix:///run/spire/agent.sock
/// let source = X509Source::from_env().await?;
/// let svid = source.x509_svid().ok_or("identity redacted")?;
/// println!("I am {}", svid.spiffe_id());
/// let mut updates = source.subscribe();
/// while updates.changed().await.is_ok() {
///     println!("rotated: {} SVID(s)", updates.borrow().svids.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct X509Source {
    inner: Arc<Inner>,
}

struct Inner {
    latest: Latest<X509Context>,
    picker: Picker,
}

/// How an [`X509Source`] picks the SVID it hands out.
#[derive(Clone)]
pub(super) enum Picker {
    /// The first (WAPI-24).
    Default,
    /// The first with this hint (WAPI-15: the first of duplicates).
    Hint(String),
    /// The caller's choice.
    Custom(Arc<PickFn>),
}

// === impl X509Source ===

impl X509Source {
    /// A source on `client`, once the first update arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`](super::DEFAULT_INITIAL_TIMEOUT)).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8), once the first update
    /// arrived. Fails at once when the variable is unset or invalid, or names a Unix socket
    /// that does not exist.
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> SourceBuilder<Self> {
        SourceBuilder::new()
    }

    /// The newest complete X.509 context: every SVID with its hint, and the bundles. After
    /// a redaction (WAPI-16) it holds no SVIDs.
    pub fn context(&self) -> Arc<X509Context> {
        self.inner.latest.get()
    }

    /// The newest SVID carrying `hint` (the first of duplicates, WAPI-15).
    pub fn svid_by_hint(&self, hint: &str) -> Option<Arc<X509Svid>> {
        let context = self.inner.latest.borrow();
        let entry = context.svids.iter().find(|e| e.hint == hint)?;
        Some(entry.svid.clone())
    }

    /// A receiver that sees every new context; the one current when subscribing is marked
    /// seen. `changed()` fails once the source is closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<X509Context>> {
        self.inner.latest.subscribe()
    }

    /// Stops the background task; the material held stays as it was.
    pub fn close(&self) {
        self.inner.latest.close();
    }

    /// Whether the source stopped (closed, or ended by a final error).
    pub fn is_closed(&self) -> bool {
        self.inner.latest.is_closed()
    }
}

impl X509SvidSource for X509Source {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        let context = self.inner.latest.borrow();
        let index = match &self.inner.picker {
            // WAPI-24: the default identity is the first.
            Picker::Default => 0,
            Picker::Hint(hint) => context.svids.iter().position(|e| &e.hint == hint)?,
            Picker::Custom(pick) => pick(&context.svids)?,
        };
        context.svids.get(index).map(|e| e.svid.clone())
    }
}

/// The bundle of exactly the asked trust domain (WAPI-11), own or federated.
impl X509BundleSource for X509Source {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        let context = self.inner.latest.borrow();
        context
            .bundles
            .iter()
            .find(|b| b.trust_domain() == trust_domain)
            .cloned()
    }
}

impl fmt::Debug for X509Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let context = self.inner.latest.borrow();
        f.debug_struct("X509Source")
            .field("svids", &context.svids.len())
            .field("bundles", &context.bundles.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

// === impl SourceBuilder<X509Source> ===

impl SourceBuilder<X509Source> {
    /// Hands out the first SVID with `hint` instead of the first SVID; none while no SVID
    /// carries it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.picker = Picker::Hint(hint.into());
        self
    }

    /// Hands out the SVID at the index `pick` returns for each new list.
    pub fn with_picker(
        mut self,
        pick: impl Fn(&[X509SvidEntry]) -> Option<usize> + Send + Sync + 'static,
    ) -> Self {
        self.picker = Picker::Custom(Arc::new(pick));
        self
    }

    /// Opens the `FetchX509SVID` stream, waits for the first update, and starts the
    /// background task.
    pub async fn build(mut self) -> Result<X509Source, SourceError> {
        let start = self.start()?;
        let mut watch = start.client.watch_x509_context();
        let first = start.first_update(&mut watch).await?;
        Ok(X509Source {
            inner: Arc::new(Inner {
                latest: Latest::follow(first, watch),
                picker: self.picker,
            }),
        })
    }
}
