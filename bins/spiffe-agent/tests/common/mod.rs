//! Shared fixtures: an agent (manager) against the in-process fake server, and waits on
//! events with a deadline.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use spiffe_agent::clock::{Clock, TokioClock};
use spiffe_agent::manager::{AgentManager, ManagerConfig, SyncStatus};
use spiffe_agent::server::fake::FakeServer;
use spiffe_core::{SpiffeId, TrustDomain};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

pub fn agent_id() -> SpiffeId {
    SpiffeId::new("spiffe://example.org/spire/agent/join_token/test").unwrap()
}

/// A manager and the fake server it talks to, sharing one clock that follows tokio's.
pub struct Agent {
    pub server: Arc<FakeServer>,
    pub manager: AgentManager,
    pub clock: Arc<dyn Clock>,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Agent {
    /// An agent with SPIRE's defaults changed by `configure`; not running yet.
    pub fn new(configure: impl FnOnce(&mut ManagerConfig)) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
        let server = Arc::new(FakeServer::new(td(), agent_id(), clock.clone()).unwrap());
        Self::with_server(server, clock, configure)
    }

    pub fn with_server(
        server: Arc<FakeServer>,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ManagerConfig),
    ) -> Self {
        let mut config = ManagerConfig::new(td(), agent_id());
        configure(&mut config);
        let manager = AgentManager::new(config, server.clone(), clock.clone());
        Self {
            server,
            manager,
            clock,
            running: None,
        }
    }

    /// Starts the sync loop.
    pub fn start(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        let manager = self.manager.clone();
        let task = tokio::spawn(async move {
            manager
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        self.running = Some((stop, task));
    }

    /// Stops the sync loop and waits for it.
    pub async fn stop(mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            task.await.unwrap();
        }
    }

    /// Creates `count` entries `w0..`, each for its own uid (`unix:uid:<1000 + i>`).
    pub fn put_entries(&self, count: usize) {
        for i in 0..count {
            self.server
                .put_workload_entry(
                    &format!("w{i:05}"),
                    &format!("/w{i}"),
                    &[&format!("unix:uid:{}", 1000 + i)],
                )
                .unwrap();
        }
    }

    /// Waits until the sync status satisfies `pred`.
    pub async fn status_until(
        &self,
        what: &str,
        pred: impl FnMut(&SyncStatus) -> bool,
    ) -> SyncStatus {
        let mut status = self.manager.watch_status();
        let found = within(what, status.wait_for(pred)).await.unwrap().clone();
        found
    }

    /// Waits for `n` more rounds (successful or not) than `after`.
    pub async fn rounds_after(&self, after: u64, n: u64) -> SyncStatus {
        self.status_until("sync rounds", |s| s.rounds >= after + n)
            .await
    }
}

/// The deadline on any wait in these tests; on tokio's paused clock it is virtual time, so it
/// only has to exceed the longest timer chain a test waits through.
pub const DEADLINE: Duration = Duration::from_secs(3 * 3600);

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Waits for the next change notification.
pub async fn next_change(changes: &mut watch::Receiver<()>) {
    within("a change notification", changes.changed())
        .await
        .unwrap();
}
