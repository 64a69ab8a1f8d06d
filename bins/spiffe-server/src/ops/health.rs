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
