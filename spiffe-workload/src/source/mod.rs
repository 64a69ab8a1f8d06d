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

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::client::{ClientError, Watch, WorkloadApiClient};
use crate::endpoint::EndpointAddress;

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

/// The client for `from_env` constructors: lazy, so the agent may come up later (WEP-8).
fn env_client() -> Result<WorkloadApiClient, ClientError> {
    WorkloadApiClient::connect_lazy(&EndpointAddress::from_env()?)
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
