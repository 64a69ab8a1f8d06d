//! The runtime: from a [`ServerConfig`] to a running server, and back to a clean stop.
//!
//! [`start`] opens the datastore (creating `data_dir`), starts or resumes the CA and publishes
//! its bundle, loads the entry cache, builds the node attestors, mints the server's SVID,
//! binds the listeners and the optional health and metrics listeners, and starts the
//! background loops ([`loops`]). [`run`] is `spiffe-server run`: start, wait for SIGTERM or
//! SIGINT, then stop — calls in flight finish first — and return.

mod attestors;
mod loops;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use daemon_telemetry::{Health, HealthServer, LogHandle, MetricsServer, Registry};
use spiffe_ca::{Clock, SystemClock};
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ca::{self, CaSetupError, ServerSvid, ServerSvidError, TrustBundles};
use crate::cache::EntryCache;
use crate::config::ServerConfig;
use crate::context::ServerContext;
use crate::datastore::{DataStore, DataStoreError, DatabaseType, SqlDataStore};
use crate::endpoints::{self, BindError, Endpoints};
use crate::ops::{Readiness, ServerMetrics, DEFAULT_PREFIX};

/// Why the server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// `data_dir` (or the SQLite file's directory) could not be created.
    #[error("unable to create directory {}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The datastore could not be opened, migrated or read.
    #[error("unable to open the datastore")]
    Datastore(#[source] DataStoreError),
    /// The CA could not be started.
    #[error(transparent)]
    Ca(#[from] CaSetupError),
    /// The CA's bundle could not be stored.
    #[error("unable to publish the CA bundle")]
    Publish(#[source] DataStoreError),
    /// The server's SVID could not be minted.
    #[error(transparent)]
    ServerSvid(#[from] ServerSvidError),
    /// A node attestor's settings could not be used.
    #[error("unable to configure NodeAttestor \"{plugin}\": {reason}")]
    Attestor {
        /// The plugin.
        plugin: &'static str,
        /// Why.
        reason: String,
    },
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The bundle endpoint could not be started, or its client's roots read.
    #[error("unable to start federation: {0}")]
    Federation(String),
    /// The health or metrics listener could not be bound.
    #[error("unable to start the {what} listener")]
    Listener {
        /// `health` or `metrics`.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Why a running server stopped on its own.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The gRPC listeners failed.
    #[error("server APIs stopped prematurely")]
    Serve(#[source] tonic::transport::Error),
    /// The gRPC listeners stopped without being told to.
    #[error("server APIs stopped prematurely")]
    Stopped,
    /// Waiting for signals failed.
    #[error("unable to wait for signals")]
    Signals(#[source] std::io::Error),
    /// A background task panicked.
    #[error("a server task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// A started server.
pub struct RunningServer {
    ctx: Arc<ServerContext>,
    tcp_addr: SocketAddr,
    socket_path: PathBuf,
    health_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    bundle_endpoint_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    serving: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("tcp_addr", &self.tcp_addr)
            .field("socket_path", &self.socket_path)
            .finish_non_exhaustive()
    }
}

// === impl RunningServer ===

impl RunningServer {
    /// The shared state the services use.
    pub fn context(&self) -> &Arc<ServerContext> {
        &self.ctx
    }

    /// The TCP listener's address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The admin socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The health listener's address, when enabled.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }

    /// The Prometheus listener's address, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The bundle endpoint's address, when `federation { bundle_endpoint }` is configured.
    pub fn bundle_endpoint_addr(&self) -> Option<SocketAddr> {
        self.bundle_endpoint_addr
    }

    /// Resolves when the listeners stop by themselves (an error: they only stop when told).
    pub async fn failed(&mut self) -> RunError {
        match (&mut self.serving).await {
            Ok(Ok(())) => RunError::Stopped,
            Ok(Err(e)) => RunError::Serve(e),
            Err(e) => RunError::Task(e),
        }
    }

    /// Stops: the listeners stop accepting, calls in flight finish (at most 10 s), the
    /// background loops end.
    pub async fn stop(mut self) -> Result<(), RunError> {
        let _ = self.stop.send(true);
        let served = (&mut self.serving).await;
        while self.tasks.join_next().await.is_some() {}
        let _ = std::fs::remove_file(&self.socket_path);
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(RunError::Serve(e)),
            Err(e) => Err(RunError::Task(e)),
        }
    }
}

/// Creates `dir` (and its parents) if missing.
fn create_dir(dir: &Path) -> Result<(), StartError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| StartError::Directory {
        path: dir.to_owned(),
        source,
    })
}

/// Starts a server. `log` is the logger's handle for the Logger API (without one, Logger is
/// not served).
pub async fn start(
    config: ServerConfig,
    log: Option<LogHandle>,
) -> Result<RunningServer, StartError> {
    tracing::info!(
        trust_domain = %config.settings.trust_domain,
        data_dir = %config.settings.data_dir.display(),
        "Starting server"
    );
    create_dir(&config.settings.data_dir)?;
    if config.datastore.database_type == DatabaseType::Sqlite3 {
        let file = config
            .datastore
            .connection_string
            .trim_start_matches("file:")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Some(parent) = Path::new(&file).parent() {
            create_dir(parent)?;
        }
    }
    let store = SqlDataStore::open(&config.datastore)
        .await
        .map_err(StartError::Datastore)?;
    let datastore: Arc<dyn DataStore> = Arc::new(store);
    tracing::info!(database_type = %config.datastore.database_type, "Opened datastore");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let (ca, spire_upstream) = ca::build(&config, datastore.clone(), clock.clone()).await?;
    tracing::info!(
        x509_authority = %ca.x509_svid_issuer().authority_id(),
        jwt_key = %ca.jwt_svid_issuer().kid(),
        "CA active"
    );
    ca::publish(&ca, datastore.as_ref())
        .await
        .map_err(StartError::Publish)?;

    let cache = EntryCache::load(datastore.clone(), config.settings.trust_domain.clone())
        .await
        .map_err(StartError::Datastore)?;
    let node_attestors = attestors::build(
        &config.node_attestors,
        &config.settings.trust_domain,
        datastore.clone(),
    )?;
    let registry = Arc::new(Registry::new());
    let prefix = config
        .telemetry
        .metric_prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    let metrics = Arc::new(ServerMetrics::new(registry.clone(), &prefix));
    metrics.set_counts(cache.entry_count(), cache.node_count());

    let ctx = Arc::new(ServerContext {
        settings: Arc::new(config.settings.clone()),
        datastore: datastore.clone(),
        ca: ca.clone(),
        cache: Arc::new(cache),
        node_attestors,
        clock: clock.clone(),
        started: Instant::now(),
        metrics,
        server_svid: std::sync::OnceLock::new(),
        federation: std::sync::OnceLock::new(),
    });

    let svid = Arc::new(ServerSvid::new(
        ca.clone(),
        config.settings.server_id.clone(),
        config.settings.default_x509_svid_ttl,
    )?);
    // The context was built before the SVID (the CA comes first); `Debug.GetInfo` reads it.
    let _ = ctx.server_svid.set(svid.clone());
    let bundles = Arc::new(TrustBundles::new(ca.clone()));
    if let Err(e) = bundles.refresh(datastore.as_ref()).await {
        tracing::warn!(error = %crate::api::status::chain(&e), "Unable to read trust bundles");
    }

    let readiness = Arc::new(Readiness::new());
    readiness.set_datastore(true);
    readiness.set_ca(true);
    let health = Arc::new(Health::new());
    readiness.register(&health);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    if let Some(upstream) = &spire_upstream {
        // Nested: the bundle holds every upstream root before agents are served.
        match ca::upstream_bundle::sync_once(&ctx, upstream).await {
            Ok(_) => upstream.health().succeeded(),
            Err(e) => {
                let why = crate::api::status::chain(&e);
                tracing::warn!(error = %why, "Unable to read the upstream server's bundle");
                upstream.health().failed(&why);
            }
        }
        crate::ops::register_upstream_health(&health, upstream.health().clone());
        health_reporter
            .set_service_status(
                crate::ops::UPSTREAM_HEALTH_SERVICE,
                tonic_health::ServingStatus::Serving,
            )
            .await;
    }

    let endpoints = Endpoints::bind(
        &config.bind_address,
        config.bind_port,
        &config.socket_path,
        svid.clone(),
        bundles.clone(),
    )
    .await?;
    let tcp_addr = endpoints.tcp_addr();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();

    let health_addr = if config.health.listener_enabled {
        let server = HealthServer::bind(&config.health, health.clone())
            .await
            .map_err(|source| StartError::Listener {
                what: "health",
                source,
            })?;
        let addr = server.local_addr().ok();
        let stop = endpoints::stopped(stop_rx.clone());
        tasks.spawn(async move {
            let _ = server.serve(stop).await;
        });
        addr
    } else {
        None
    };
    let metrics_addr = match &config.telemetry.prometheus {
        Some(prometheus) => {
            let server = MetricsServer::bind(prometheus, registry.clone())
                .await
                .map_err(|source| StartError::Listener {
                    what: "metrics",
                    source,
                })?;
            let addr = server.local_addr().ok();
            let stop = endpoints::stopped(stop_rx.clone());
            tasks.spawn(async move {
                let _ = server.serve(stop).await;
            });
            addr
        }
        None => None,
    };

    if let Some(upstream) = spire_upstream {
        let (ctx, stop, reporter) = (ctx.clone(), stop_rx.clone(), health_reporter.clone());
        let health = upstream.health().clone();
        tasks.spawn(ca::upstream_bundle::follow(ctx, upstream, stop.clone()));
        tasks.spawn(crate::ops::report_upstream_health(health, reporter, stop));
    }

    let federation = config.federation.clone().unwrap_or_default();
    let bundle_endpoint_addr = match &federation.bundle_endpoint {
        Some(endpoint) => Some(
            crate::federation::endpoint::start(
                endpoint,
                ctx.clone(),
                svid.clone(),
                &mut tasks,
                stop_rx.clone(),
            )
            .await
            .map_err(|e| StartError::Federation(e.to_string()))?,
        ),
        None => None,
    };
    let web_roots = crate::federation::FederationManager::web_roots_from_env()
        .map_err(StartError::Federation)?;
    let manager_clock = clock.clone();
    let manager = Arc::new(crate::federation::FederationManager::new(
        datastore.clone(),
        ctx.metrics.clone(),
        &federation.federates_with,
        web_roots,
        Box::new(move || manager_clock.now()),
    ));
    let _ = ctx.federation.set(manager.clone());
    tasks.spawn(manager.run(stop_rx.clone()));

    loops::spawn(
        &mut tasks,
        loops::Loops {
            ctx: ctx.clone(),
            svid,
            bundles,
            readiness,
            health: health_reporter,
            cache_reload_interval: config.cache_reload_interval,
        },
        stop_rx.clone(),
    );

    let serve_ctx = ctx.clone();
    let serving = tokio::spawn(endpoints.serve(
        serve_ctx,
        move |routes| {
            let routes = routes.add_service(health_service);
            match log {
                Some(handle) => routes
                    .add_service(daemon_telemetry::LoggerService::new(handle).server_service()),
                None => routes,
            }
        },
        stop_rx,
    ));

    Ok(RunningServer {
        ctx,
        tcp_addr,
        socket_path: config.socket_path.clone(),
        health_addr,
        metrics_addr,
        bundle_endpoint_addr,
        stop: stop_tx,
        serving,
        tasks,
    })
}

/// `spiffe-server run`: starts the server and serves until SIGTERM or SIGINT, then stops
/// cleanly.
pub async fn run(config: ServerConfig, log: Option<LogHandle>) -> Result<(), RunError> {
    // Installed before starting, so a signal during start-up is not lost.
    let mut signals = daemon_telemetry::ShutdownSignal::new().map_err(RunError::Signals)?;
    let mut server = start(config, log).await?;
    tokio::select! {
        signal = signals.recv() => {
            tracing::info!(?signal, "Stopping server");
            server.stop().await?;
            tracing::info!("Server stopped gracefully");
            Ok(())
        }
        err = server.failed() => Err(err),
    }
}
