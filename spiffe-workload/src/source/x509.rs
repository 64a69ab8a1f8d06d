//! [`X509Source`]: the workload's X.509-SVIDs and X.509 bundles, always the newest.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::{TrustDomain, X509Bundle, X509BundleSource, X509Svid, X509SvidSource};
use tokio::sync::watch;

use super::{client_or_env, first_update, follow, SourceError, TaskGuard, DEFAULT_INITIAL_TIMEOUT};
use crate::client::WorkloadApiClient;
use crate::provider::{X509Context, X509SvidEntry};

/// Chooses the SVID a source hands out from the current list (an index into it).
type PickFn = dyn Fn(&[X509SvidEntry]) -> Option<usize> + Send + Sync;

/// The X.509 material of this workload from the Workload API's `FetchX509SVID` stream, kept
/// current by a background task: the default SVID for TLS (the first, WAPI-24, or one chosen
/// by hint or picker) and one bundle per trust domain (WAPI-11) for verifying peers.
///
/// Clones share one stream. Use [`subscribe`](Self::subscribe) to learn of rotations, e.g. to
/// rebuild a TLS configuration.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_core::X509SvidSource;
/// use spiffe_workload::source::X509Source;
///
/// // SPIFFE_ENDPOINT_SOCKET=unix:///run/spire/agent.sock
/// let source = X509Source::from_env().await?;
/// let svid = source.x509_svid().expect("an SVID after the first update");
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
    updates: watch::Receiver<Arc<X509Context>>,
    picker: Picker,
    task: TaskGuard,
}

/// How an [`X509Source`] picks the SVID it hands out.
#[derive(Clone)]
enum Picker {
    /// The first (WAPI-24).
    Default,
    /// The first with this hint (WAPI-15: the first of duplicates).
    Hint(String),
    /// The caller's choice.
    Custom(Arc<PickFn>),
}

/// Options for an [`X509Source`]: the client, which SVID to use, how long to wait.
#[must_use]
pub struct X509SourceBuilder {
    client: Option<WorkloadApiClient>,
    picker: Picker,
    timeout: Option<Duration>,
}

// === impl X509Source ===

impl X509Source {
    /// A source on `client`, once the first update arrived (at most
    /// [`DEFAULT_INITIAL_TIMEOUT`]).
    pub async fn new(client: WorkloadApiClient) -> Result<Self, SourceError> {
        Self::builder().with_client(client).build().await
    }

    /// A source on the endpoint in `SPIFFE_ENDPOINT_SOCKET` (WEP-8).
    pub async fn from_env() -> Result<Self, SourceError> {
        Self::builder().build().await
    }

    /// Options for a source.
    pub fn builder() -> X509SourceBuilder {
        X509SourceBuilder {
            client: None,
            picker: Picker::Default,
            timeout: Some(DEFAULT_INITIAL_TIMEOUT),
        }
    }

    /// The newest complete X.509 context: every SVID with its hint, and the bundles. After
    /// a redaction (WAPI-16) it holds no SVIDs.
    pub fn context(&self) -> Arc<X509Context> {
        self.inner.updates.borrow().clone()
    }

    /// The newest SVID carrying `hint` (the first of duplicates, WAPI-15).
    pub fn svid_by_hint(&self, hint: &str) -> Option<Arc<X509Svid>> {
        let context = self.inner.updates.borrow();
        let entry = context.svids.iter().find(|e| e.hint == hint)?;
        Some(entry.svid.clone())
    }

    /// A receiver that sees every new context; the one current when subscribing is marked
    /// seen. `changed()` fails once the source is closed.
    pub fn subscribe(&self) -> watch::Receiver<Arc<X509Context>> {
        let mut receiver = self.inner.updates.clone();
        receiver.mark_unchanged();
        receiver
    }

    /// Stops the background task; the material held stays as it was.
    pub fn close(&self) {
        self.inner.task.close();
    }

    /// Whether the source stopped (closed, or ended by a final error).
    pub fn is_closed(&self) -> bool {
        self.inner.task.is_closed()
    }
}

impl X509SvidSource for X509Source {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        let context = self.inner.updates.borrow();
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
        let context = self.inner.updates.borrow();
        context
            .bundles
            .iter()
            .find(|b| b.trust_domain() == trust_domain)
            .cloned()
    }
}

impl fmt::Debug for X509Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let context = self.inner.updates.borrow();
        f.debug_struct("X509Source")
            .field("svids", &context.svids.len())
            .field("bundles", &context.bundles.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

// === impl X509SourceBuilder ===

impl X509SourceBuilder {
    /// Uses `client` (default: a lazy client on `SPIFFE_ENDPOINT_SOCKET`).
    pub fn with_client(mut self, client: WorkloadApiClient) -> Self {
        self.client = Some(client);
        self
    }

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

    /// How long to wait for the first update; `None` waits as long as it takes.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Opens the stream, waits for the first update, and starts the background task.
    pub async fn build(self) -> Result<X509Source, SourceError> {
        let client = client_or_env(self.client)?;
        let mut watch = client.watch_x509_context();
        let first = first_update(&mut watch, self.timeout).await?;
        let (sender, updates) = watch::channel(Arc::new(first));
        let task = follow(watch, sender);
        Ok(X509Source {
            inner: Arc::new(Inner {
                updates,
                picker: self.picker,
                task,
            }),
        })
    }
}

impl fmt::Debug for X509SourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509SourceBuilder")
            .field("client", &self.client)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
