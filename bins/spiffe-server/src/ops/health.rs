//! Readiness and liveness, as SPIRE's server reports them: ready when the datastore answers
//! and the CA has an active X.509 authority. The runtime probes both on an interval and keeps
//! the result here; the HTTP health listener (`health_checks { }`) and `grpc.health.v1` on the
//! admin socket (what `spiffe-server healthcheck` asks) report it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use daemon_telemetry::health::Details;
use daemon_telemetry::{Health, HealthState};

/// The latest probe results.
#[derive(Debug, Default)]
pub struct Readiness {
    datastore: AtomicBool,
    ca: AtomicBool,
}

impl Readiness {
    /// Nothing probed yet: not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records whether the datastore answered the last ping.
    pub fn set_datastore(&self, ok: bool) {
        self.datastore.store(ok, Ordering::Relaxed);
    }

    /// Records whether the CA has an active authority.
    pub fn set_ca(&self, ok: bool) {
        self.ca.store(ok, Ordering::Relaxed);
    }

    /// Ready: both probes pass.
    pub fn ready(&self) -> bool {
        self.datastore.load(Ordering::Relaxed) && self.ca.load(Ordering::Relaxed)
    }

    /// Registers the checks `catalog.datastore` and `server.ca` in `health`.
    pub fn register(self: &Arc<Self>, health: &Health) {
        let me = self.clone();
        let _ = health.add_check("catalog.datastore", move || {
            let ok = me.datastore.load(Ordering::Relaxed);
            state(ok, "datastore is not answering")
        });
        let me = self.clone();
        let _ = health.add_check("server.ca", move || {
            let ok = me.ca.load(Ordering::Relaxed);
            state(ok, "no active X.509 authority")
        });
    }
}

fn state(ok: bool, problem: &str) -> HealthState {
    let details = if ok {
        Details::new()
    } else {
        Details::new().with("message", problem)
    };
    HealthState {
        // The process is alive while it can recover without a restart.
        live: true,
        ready: ok,
        live_details: Details::new(),
        ready_details: details,
    }
}

/// The `grpc.health.v1` service name under which a nested server reports whether its upstream
/// server answers (`SERVING`) or not (`NOT_SERVING`); `healthcheck -verbose` asks it. The
/// overall status (`""`) does not depend on it: the server goes on serving from its CA.
pub const UPSTREAM_HEALTH_SERVICE: &str = "spire.server.upstream_authority";

/// Registers the check `server.upstream_authority` in `health`: always live and ready (the
/// server serves while the upstream is away), with the failure in the details.
pub fn register_upstream_health(health: &Health, upstream: Arc<crate::ca::UpstreamHealth>) {
    let _ = health.add_check("server.upstream_authority", move || {
        let details = match upstream.last_error() {
            Some(why) if upstream.unreachable() => Details::new()
                .with("message", "upstream server unreachable")
                .with("error", why.as_str()),
            _ => Details::new(),
        };
        HealthState {
            live: true,
            ready: true,
            live_details: Details::new(),
            ready_details: details,
        }
    });
}

/// Mirrors `upstream` into `grpc.health.v1` under [`UPSTREAM_HEALTH_SERVICE`] every second
/// until `stop`.
pub async fn report_upstream_health(
    upstream: Arc<crate::ca::UpstreamHealth>,
    reporter: tonic_health::server::HealthReporter,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let stopping = crate::endpoints::stopped(stop);
    tokio::pin!(stopping);
    let mut last = None;
    loop {
        let reachable = !upstream.unreachable();
        if last != Some(reachable) {
            let status = if reachable {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter
                .set_service_status(UPSTREAM_HEALTH_SERVICE, status)
                .await;
            last = Some(reachable);
        }
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
