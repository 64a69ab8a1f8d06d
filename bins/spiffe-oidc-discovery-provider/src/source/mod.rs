//! Where the keys come from: the server's Bundle API, the agent's Workload API, or a bundle
//! file, each polled at its `poll_interval` into [`SharedKeys`] (so rotations show up within
//! one interval). A failed poll is logged and leaves the last keys in service, as SPIRE does.

mod file;
mod server_api;
mod workload_api;

use std::future::Future;
use std::time::Duration;

use spiffe_core::JwtBundle;

use crate::config::SourceSettings;
use crate::jwks::{KeySet, SharedKeys};

pub use file::FileSource;
pub use server_api::ServerApiSource;
pub use workload_api::WorkloadApiSource;

/// Why one poll failed; `Display` is the log line's error.
pub type PollError = Box<dyn std::error::Error + Send + Sync>;

/// One way to fetch the trust domain's JWT authorities.
pub trait KeySource: Send + 'static {
    /// What the log calls this source.
    fn name(&self) -> &'static str;
    /// Fetches the current JWT authorities once.
    fn fetch(&mut self) -> impl Future<Output = Result<JwtBundle, PollError>> + Send;
}

/// Polls `source` every `interval` into `keys` until `shutdown` completes.
pub async fn poll<S: KeySource>(
    mut source: S,
    interval: Duration,
    keys: SharedKeys,
    shutdown: impl Future<Output = ()>,
) {
    tracing::debug!(interval = ?interval, source = source.name(), "Polling started");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A source that hangs (a stuck server) must not hold up the shutdown.
        let fetched = tokio::select! {
            () = &mut shutdown => break,
            fetched = source.fetch() => fetched,
        };
        match fetched {
            Ok(bundle) => {
                let set = KeySet::from_bundle(&bundle);
                let count = set.len();
                if keys.update(set) {
                    tracing::info!(keys = count, source = source.name(), "Keys updated");
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, source = source.name(), "Failed to fetch keys");
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    tracing::debug!(source = source.name(), "Polling done");
}

/// Starts polling the configured source into `keys` until `shutdown`.
pub async fn run(
    settings: &SourceSettings,
    keys: SharedKeys,
    shutdown: impl Future<Output = ()>,
) -> Result<(), PollError> {
    let interval = settings.poll_interval();
    match settings {
        SourceSettings::ServerApi { socket_path, .. } => {
            let source = ServerApiSource::new(socket_path)?;
            poll(source, interval, keys, shutdown).await;
        }
        SourceSettings::WorkloadApi {
            socket_path,
            trust_domain,
            ..
        } => {
            let source = WorkloadApiSource::new(socket_path, trust_domain.clone())?;
            poll(source, interval, keys, shutdown).await;
        }
        SourceSettings::File { path, .. } => {
            poll(FileSource::new(path), interval, keys, shutdown).await;
        }
    }
    Ok(())
}
