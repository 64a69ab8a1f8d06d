//! Rotating sources: [`X509Source`], [`JwtSource`] and [`BundleSource`] hold the newest
//! material from the Workload API, implement `spiffe-core`'s source traits, and publish each
//! update on a `tokio::sync::watch` channel.
//!
//! Each source waits for its first update when built, then keeps its stream open in a
//! background task that re-opens it with backoff after failures and agent restarts (WAPI-5).
//! When the agent redacts the caller's identity (PERMISSION_DENIED, WAPI-16) the source drops
//! what it held. Closing the source or dropping its last clone stops the task.

mod bundle;
mod jwt;
mod jwt_cache;
mod x509;

use std::sync::Arc;
use std::time::Duration;

use spiffe_core::BundleSet;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{ClientError, Watch, WorkloadApiClient};
use crate::endpoint::EndpointAddress;
use crate::provider::X509Context;

pub use bundle::{BundleSource, BundleSourceBuilder};
pub use jwt::{JwtSource, JwtSourceBuilder};
pub use jwt_cache::JwtSvidCache;
pub use x509::{X509Source, X509SourceBuilder};

/// How long a source waits for its first update unless told otherwise.
pub const DEFAULT_INITIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a source could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A final error: a bad endpoint address, INVALID_ARGUMENT or UNIMPLEMENTED.
    #[error("Workload API source failed")]
    Client(#[from] ClientError),
    /// No first update arrived in time; `last_error` is the latest retried failure, if any.
    #[error("no update from the Workload API within {timeout:?}")]
    Timeout {
        /// How long the source waited.
        timeout: Duration,
        /// The last error seen while retrying.
        #[source]
        last_error: Option<ClientError>,
    },
}

/// The client a builder was given, or for `from_env` constructors a lazy client on
/// `SPIFFE_ENDPOINT_SOCKET`, so the agent may come up later (WEP-8).
fn client_or_env(client: Option<WorkloadApiClient>) -> Result<WorkloadApiClient, ClientError> {
    match client {
        Some(client) => Ok(client),
        None => WorkloadApiClient::connect_lazy(&EndpointAddress::from_env()?),
    }
}

/// Material the agent takes away by answering PERMISSION_DENIED: redacted SVIDs must no longer
/// be used (WAPI-16), and bundles go with them (WAPI-18, WAPI-21).
trait Redact {
    /// Nothing held.
    fn redacted() -> Self;
    /// Whether nothing is held.
    fn is_redacted(&self) -> bool;
}

impl Redact for X509Context {
    fn redacted() -> Self {
        Self::default()
    }

    fn is_redacted(&self) -> bool {
        self.svids.is_empty() && self.bundles.is_empty()
    }
}

impl Redact for BundleSet {
    fn redacted() -> Self {
        Self::new()
    }

    fn is_redacted(&self) -> bool {
        self.is_empty()
    }
}

/// What one stream item does to the material held.
enum Step<T> {
    /// An update replaces it.
    Replace(T),
    /// PERMISSION_DENIED: the agent took it away.
    Redact,
    /// Another error, retried by the watch: what is held stays valid.
    Keep,
}

impl<T> From<Result<T, ClientError>> for Step<T> {
    fn from(item: Result<T, ClientError>) -> Self {
        match item {
            Ok(update) => Self::Replace(update),
            Err(error) if error.is_permission_denied() => Self::Redact,
            Err(_) => Self::Keep,
        }
    }
}

/// Takes one stream item into `held`; whether `held` changed.
fn apply<T: Redact>(held: &mut T, item: Result<T, ClientError>) -> bool {
    match Step::from(item) {
        Step::Replace(update) => *held = update,
        Step::Redact if !held.is_redacted() => *held = T::redacted(),
        Step::Redact | Step::Keep => return false,
    }
    true
}

/// Follows `watch` in a background task, publishing every change on `sender`.
fn follow<T>(mut watch: Watch<T>, sender: watch::Sender<Arc<T>>) -> TaskGuard
where
    T: Redact + Send + Sync + 'static,
{
    TaskGuard(tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            sender.send_if_modified(|held| {
                match Step::from(item) {
                    Step::Replace(update) => *held = Arc::new(update),
                    Step::Redact if !held.is_redacted() => *held = Arc::new(T::redacted()),
                    Step::Redact | Step::Keep => return false,
                }
                true
            });
        }
    }))
}

/// Waits for the first good update of `watch`, retrying what the watch retries, up to
/// `timeout` (none: wait as long as it takes).
async fn first_update<T>(
    watch: &mut Watch<T>,
    timeout: Option<Duration>,
) -> Result<T, SourceError> {
    let mut last_error = None;
    let wait = async {
        loop {
            match watch.next().await {
                Some(Ok(update)) => return Ok(update),
                Some(Err(error)) if error.is_retryable() => last_error = Some(error),
                Some(Err(error)) => return Err(SourceError::Client(error)),
                None => return Err(SourceError::Client(ClientError::Closed)),
            }
        }
    };
    let Some(limit) = timeout else {
        return wait.await;
    };
    let outcome = tokio::time::timeout(limit, wait).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(SourceError::Timeout {
            timeout: limit,
            last_error,
        }),
    }
}

/// Aborts the background task when the source's last clone goes.
#[derive(Debug)]
struct TaskGuard(JoinHandle<()>);

impl TaskGuard {
    fn close(&self) {
        self.0.abort();
    }

    fn is_closed(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
