//! Health: named checks reporting liveness and readiness, and the HTTP listener of
//! `health_checks { }` answering them as SPIRE's does (`pkg/common/health`): `200` when every
//! check passes, `500` otherwise, with a JSON object of each check's details, on the live and
//! ready paths only.
//!
//! Checks run on each request, on the server's task: they must be quick and must not block
//! (report a state the daemon keeps up to date, as SPIRE's cached checks do).

use crate::config::HealthConfig;
use crate::gofmt::json_string;
use crate::listener::{self, not_found, respond, Server};
use ::http::StatusCode;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use thiserror::Error;

/// Details a check attaches to its state, served as a JSON object of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details(BTreeMap<String, String>);

impl Details {
    /// No details (`{}`).
    pub fn new() -> Self {
        Details::default()
    }

    /// Adds a detail, e.g. `("message", "datastore unreachable")`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    fn json(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(k, out);
            out.push(':');
            json_string(v, out);
        }
        out.push('}');
    }
}

/// What one check reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthState {
    /// Alive (or able to recover without a restart).
    pub live: bool,
    /// Ready to do its job.
    pub ready: bool,
    /// Details served on the live path.
    pub live_details: Details,
    /// Details served on the ready path.
    pub ready_details: Details,
}

impl HealthState {
    /// Live and ready, no details.
    pub fn healthy() -> Self {
        HealthState {
            live: true,
            ready: true,
            ..HealthState::default()
        }
    }
}

/// A subsystem's health check.
pub trait HealthCheck: Send + Sync + 'static {
    /// The current state; quick and non-blocking.
    fn check(&self) -> HealthState;
}

impl<F: Fn() -> HealthState + Send + Sync + 'static> HealthCheck for F {
    fn check(&self) -> HealthState {
        self()
    }
}

/// A check name used twice.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("health check \"{0}\" is already registered")]
pub struct DuplicateCheck(pub String);

/// The overall answer for one path: whether all checks pass, and the body to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// All checks pass (no checks counts as passing, as in SPIRE).
    pub ok: bool,
    /// `{"<check>":{<details>},…}` and a newline, as Go's JSON encoder writes it.
    pub body: String,
}

/// The registered checks.
#[derive(Default)]
pub struct Health {
    checks: RwLock<BTreeMap<String, Arc<dyn HealthCheck>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.read().keys().cloned().collect();
        f.debug_struct("Health").field("checks", &names).finish()
    }
}

impl Health {
    /// No checks yet.
    pub fn new() -> Self {
        Health::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<dyn HealthCheck>>> {
        self.checks.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a check under a subsystem name (e.g. `server.ca`, `catalog.datastore`).
    pub fn add_check(
        &self,
        name: impl Into<String>,
        check: impl HealthCheck,
    ) -> Result<(), DuplicateCheck> {
        let name = name.into();
        let mut checks = self.checks.write().unwrap_or_else(|p| p.into_inner());
        if checks.contains_key(&name) {
            return Err(DuplicateCheck(name));
        }
        checks.insert(name, Arc::new(check));
        Ok(())
    }

    fn report(&self, pick: impl Fn(&HealthState) -> (bool, &Details)) -> HealthReport {
        let checks: Vec<(String, Arc<dyn HealthCheck>)> = self
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut ok = true;
        let mut body = String::from("{");
        for (i, (name, check)) in checks.iter().enumerate() {
            let state = check.check();
            let (passing, details) = pick(&state);
            ok &= passing;
            if i > 0 {
                body.push(',');
            }
            json_string(name, &mut body);
            body.push(':');
            details.json(&mut body);
        }
        body.push_str("}\n");
        HealthReport { ok, body }
    }

    /// Liveness over all checks.
    pub fn live(&self) -> HealthReport {
        self.report(|s| (s.live, &s.live_details))
    }

    /// Readiness over all checks.
    pub fn ready(&self) -> HealthReport {
        self.report(|s| (s.ready, &s.ready_details))
    }
}

/// The `health_checks` HTTP listener.
pub struct HealthServer {
    server: Server,
}

impl std::fmt::Debug for HealthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthServer")
            .field("addr", &self.server.local_addr().ok())
            .finish()
    }
}

impl HealthServer {
    /// Binds `bind_address:bind_port` (whatever `listener_enabled` says: the caller decides
    /// whether to start it).
    pub async fn bind(config: &HealthConfig, health: Arc<Health>) -> io::Result<Self> {
        let listener = listener::bind(&config.bind_address, config.bind_port).await?;
        let (live, ready) = (config.live_path.clone(), config.ready_path.clone());
        let handler: listener::Handler = Arc::new(move |parts| {
            let path = parts.uri.path();
            let report = if path == live {
                health.live()
            } else if path == ready {
                health.ready()
            } else {
                return not_found();
            };
            let status = if report.ok {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            respond(status, "application/json", report.body)
        });
        Ok(HealthServer {
            server: Server { listener, handler },
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tracing::info!(address = %self.local_addr()?, "Serving health checks");
        self.server.serve(shutdown).await
    }
}
