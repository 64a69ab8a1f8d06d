//! `spiffe-agent run`: the daemon. Loads (or obtains by attestation) the agent's identity,
//! starts the manager's sync with the server, serves the Workload API on `socket_path`, keeps
//! the agent SVID renewed, and stops on SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use daemon_telemetry::{Health, HealthServer, HealthState, LogHandle, MetricsServer, Registry};
use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent};
use spiffe_attest::node::x509pop::X509PopAgent;
use spiffe_attest::node::NodeAttestorAgent;
use spiffe_attest::workload::docker::DockerAttestor;
use spiffe_attest::workload::systemd::SystemdAttestor;
use spiffe_attest::workload::unix::UnixAttestor;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{TrustDomain, X509Bundle};
use spiffe_workload::server::sds::SdsConfig;
use spiffe_workload::WorkloadApiServer;
use thiserror::Error;
use tokio::net::UnixListener;

use crate::clock::SystemClock;
use crate::config::{
    AgentConfig, KeyManagerConfig, NodeAttestorConfig, TrustBundleSource, WorkloadAttestorConfig,
};
use crate::manager::{AgentManager, ManagerConfig};
use crate::node::{
    attest, bootstrap_channel, connected_mtls_channel, mtls_channel, renew, AgentStore, AgentSvid,
    TrustBundle,
};
use crate::server::{GrpcServerClient, SharedChannel};
use crate::workload::{AgentIdentityProvider, ProviderConfig};

/// The metric name prefix without `telemetry { metric_prefix }` (SPIRE's service name).
const DEFAULT_METRIC_PREFIX: &str = "spire_agent";
/// How often the cache gauges are refreshed.
const METRICS_INTERVAL: Duration = Duration::from_secs(5);

/// How often exited Workload API callers are forgotten.
const FORGET_INTERVAL: Duration = Duration::from_secs(30);
/// The wait before retrying a failed renewal (doubling up to [`MAX_RETRY`]).
const RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(5 * 60);

/// Why the agent could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The bootstrap bundle could not be loaded.
    #[error("failed to load the trust bundle: {0}")]
    Bundle(String),
    /// No way to attest (no join token for `join_token`, an unreadable x509pop file…).
    #[error("node attestor {plugin}: {reason}")]
    Attestor {
        /// The plugin.
        plugin: &'static str,
        /// Why.
        reason: String,
    },
    /// A workload attestor could not be set up.
    #[error("workload attestor {plugin}: {reason}")]
    WorkloadAttestor {
        /// The plugin.
        plugin: &'static str,
        /// Why.
        reason: String,
    },
    /// Attestation failed.
    #[error("failed to attest")]
    Attest(#[source] crate::node::AttestError),
    /// The agent's identity could not be stored.
    #[error("failed to store the agent identity")]
    Store(#[source] crate::node::StoreError),
    /// A channel to the server could not be set up.
    #[error("failed to set up the connection to the server")]
    Channel(#[source] crate::node::ChannelError),
    /// A listener could not be bound.
    #[error("unable to listen on {}", path.display())]
    Listen {
        /// The socket or address.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Workload API server failed.
    #[error("the Workload API server failed: {0}")]
    Serve(String),
    /// The server refuses this agent for good (banned, or evicted: no longer attested).
    #[error("the server refuses this agent: {0}")]
    Refused(String),
    /// The signal handlers could not be installed.
    #[error("unable to install signal handlers")]
    Signals(#[source] std::io::Error),
}

fn now() -> UnixTime {
    UnixTime::now()
}

fn node_attestor(config: &AgentConfig) -> Result<Arc<dyn NodeAttestorAgent>, DaemonError> {
    let plugin = config.node_attestor.name();
    let fail = |reason: String| DaemonError::Attestor { plugin, reason };
    match &config.node_attestor {
        NodeAttestorConfig::JoinToken => {
            let token = config.join_token.as_deref().ok_or_else(|| {
                fail("a join token is required (join_token or -joinToken)".into())
            })?;
            let token = JoinToken::new(token).map_err(|e| fail(e.to_string()))?;
            Ok(Arc::new(JoinTokenAgent::new(token)))
        }
        NodeAttestorConfig::X509Pop(settings) => {
            let read = |p: &Path| {
                std::fs::read(p).map_err(|e| fail(format!("unable to read {}: {e}", p.display())))
            };
            let mut chain = read(&settings.certificate_path)?;
            if let Some(path) = &settings.intermediates_path {
                chain.extend(read(path)?);
            }
            let key = read(&settings.private_key_path)?;
            let agent = X509PopAgent::from_pem(&chain, &key).map_err(|e| fail(e.to_string()))?;
            Ok(Arc::new(agent))
        }
        NodeAttestorConfig::Tpm { tcti } => tpm_attestor(tcti).map_err(fail),
        NodeAttestorConfig::K8sPsat {
            cluster,
            token_path,
        } => Ok(Arc::new(spiffe_attest::node::k8s_psat::PsatAgent::new(
            cluster.clone(),
            token_path.clone(),
        ))),
    }
}

/// The k8s workload attestor of `settings`: the kubelet CA read now, the token at each request.
fn k8s_attestor(
    settings: &crate::config::K8sWorkloadSettings,
) -> Result<Arc<dyn spiffe_attest::workload::WorkloadAttestor>, DaemonError> {
    use spiffe_attest::workload::k8s::{K8sAttestor, K8sConfig, KubeletPort};
    let fail = |reason: String| DaemonError::WorkloadAttestor {
        plugin: "k8s",
        reason,
    };
    let node_name = settings
        .node_name
        .clone()
        .or_else(|| std::env::var(&settings.node_name_env).ok())
        .filter(|n| !n.is_empty());
    let mut config = K8sConfig::new(node_name);
    config.port = match settings.read_only_port {
        Some(port) => KubeletPort::ReadOnly(port),
        None => KubeletPort::Secure {
            port: settings.secure_port,
            ca_pem: match &settings.kubelet_ca_path {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    fail(format!(
                        "cannot read kubelet_ca_path {}: {e}",
                        path.display()
                    ))
                })?),
                None => None,
            },
            token_path: settings.token_path.clone(),
        },
    };
    config.max_poll_attempts = settings.max_poll_attempts;
    config.poll_retry_interval = settings.poll_retry_interval;
    config.disable_container_selectors = settings.disable_container_selectors;
    let attestor = K8sAttestor::new(config).map_err(|e| fail(e.to_string()))?;
    Ok(Arc::new(attestor))
}

#[cfg(feature = "tpm")]
fn tpm_attestor(tcti: &str) -> Result<Arc<dyn NodeAttestorAgent>, String> {
    Ok(Arc::new(spiffe_attest::node::tpm::TpmAgent::new(tcti)))
}

#[cfg(not(feature = "tpm"))]
fn tpm_attestor(_tcti: &str) -> Result<Arc<dyn NodeAttestorAgent>, String> {
    Err("this spiffe-agent was built without TPM support (cargo feature `tpm`)".into())
}

/// The bootstrap bundle: the stored one (kept current by the sync) first, else the configured
/// file or URL (fetched only then); `None` only with `insecure_bootstrap`.
async fn bootstrap_bundle(
    config: &AgentConfig,
    store: &AgentStore,
) -> Result<Option<X509Bundle>, DaemonError> {
    let td = &config.trust_domain;
    if let Some(bundle) = store
        .load_bundle(td)
        .map_err(|e| DaemonError::Bundle(e.to_string()))?
    {
        return Ok(Some(bundle));
    }
    match &config.trust_bundle {
        TrustBundleSource::Insecure => Ok(None),
        TrustBundleSource::Url {
            source,
            spiffe_format,
        } => {
            tracing::info!(url = %source.url, "Fetching the bootstrap trust bundle");
            let facts = crate::bootstrap::AgentFacts {
                trust_domain: td,
                server_address: &config.server_address,
                server_port: config.server_port,
                start_time: now(),
                attempt: 1,
            };
            let bundle = source
                .fetch_bundle(&facts, *spiffe_format, crate::bootstrap::roots_from_env)
                .await
                .map_err(DaemonError::Bundle)?;
            Ok(Some(bundle))
        }
        TrustBundleSource::Path { path, .. } if path.as_os_str().is_empty() => {
            Err(DaemonError::Bundle(
                "no trust bundle: set trust_bundle_path (or -trustBundle), trust_bundle_url (or -trustBundleUrl), or insecure_bootstrap"
                    .into(),
            ))
        }
        TrustBundleSource::Path {
            path,
            spiffe_format,
        } => {
            let bytes = std::fs::read(path).map_err(|e| {
                DaemonError::Bundle(format!("unable to read {}: {e}", path.display()))
            })?;
            let bundle = if *spiffe_format {
                spiffe_core::SpiffeBundle::parse(td.clone(), &bytes)
                    .map(|b| b.into_parts().0)
                    .map_err(|e| DaemonError::Bundle(format!("{}: {e}", path.display())))?
            } else {
                X509Bundle::parse_pem(td.clone(), &bytes)
                    .map_err(|e| DaemonError::Bundle(format!("{}: {e}", path.display())))?
            };
            if bundle.is_empty() {
                return Err(DaemonError::Bundle(format!(
                    "{}: no certificates",
                    path.display()
                )));
            }
            Ok(Some(bundle))
        }
    }
}

fn key_dir(config: &AgentConfig) -> Option<PathBuf> {
    match &config.key_manager {
        KeyManagerConfig::Memory => None,
        KeyManagerConfig::Disk { directory } => {
            Some(directory.clone().unwrap_or_else(|| config.data_dir.clone()))
        }
    }
}

/// Attests over the bootstrap channel; with an insecure bootstrap, also fetches the bundle
/// over it (GetBundle is open to unauthenticated callers).
async fn attest_node(
    config: &AgentConfig,
    store: &AgentStore,
    bundle: Option<X509Bundle>,
) -> Result<(AgentSvid, X509Bundle), DaemonError> {
    let attestor = node_attestor(config)?;
    let trust = bundle.map(|b| Arc::new(TrustBundle::new(b)));
    let channel = bootstrap_channel(
        &config.server_authority(),
        &config.trust_domain,
        trust.clone(),
    )
    .map_err(DaemonError::Channel)?;
    let attested = attest(channel.clone(), attestor, &config.trust_domain)
        .await
        .map_err(DaemonError::Attest)?;
    tracing::info!(
        spiffe_id = %attested.svid.spiffe_id(),
        reattestable = attested.reattestable,
        "Node attestation was successful"
    );
    let bundle = match trust {
        Some(trust) => (*trust.get()).clone(),
        None => {
            let client =
                GrpcServerClient::new(SharedChannel::new(channel), config.trust_domain.clone());
            let server_bundle = crate::server::ServerClient::get_bundle(&client)
                .await
                .map_err(|e| DaemonError::Bundle(format!("GetBundle: {e}")))?;
            (**server_bundle.x509()).clone()
        }
    };
    store
        .save_svid(&attested.svid)
        .map_err(DaemonError::Store)?;
    store.save_bundle(&bundle).map_err(DaemonError::Store)?;
    Ok((AgentSvid::new(attested.svid), bundle))
}

/// The agent's identity at start: the stored SVID when usable, else a new attestation.
async fn identity(
    config: &AgentConfig,
    store: &AgentStore,
) -> Result<(AgentSvid, X509Bundle), DaemonError> {
    if matches!(config.trust_bundle, TrustBundleSource::Insecure) {
        tracing::warn!(
            "Agent is using insecure bootstrap: the server's identity is not verified before attestation. DO NOT USE IN PRODUCTION"
        );
    }
    let bundle = bootstrap_bundle(config, store).await?;
    match store.load_svid(&config.trust_domain, now()) {
        Ok(Some(svid)) => {
            if let Some(bundle) = bundle {
                tracing::info!(spiffe_id = %svid.spiffe_id(), "Using the stored agent SVID; not attesting again");
                return Ok((AgentSvid::new(svid), bundle));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "Stored agent SVID is unusable; attesting again"),
    }
    attest_node(config, store, bundle).await
}

/// Renews the agent SVID at half its lifetime, for ever.
async fn renew_loop(
    config: Arc<AgentConfig>,
    store: AgentStore,
    svid: Arc<AgentSvid>,
    trust: Arc<TrustBundle>,
    channel: SharedChannel,
) {
    let mut retry = RETRY;
    // Half of the life left when the SVID was obtained (or loaded): the server backdates
    // `notBefore` (clock skew), so half of notBefore..notAfter would come early, and for a
    // short TTL at once.
    let mut acquired = now().as_secs();
    loop {
        let end = svid.get().leaf().not_after().as_secs();
        let due = acquired + end.saturating_sub(acquired) / 2;
        let wait = due.saturating_sub(now().as_secs()).max(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let renewed = match renew(channel.get(), &config.trust_domain).await {
            Err(e) if e.must_reattest() => {
                tracing::info!("Server asks the agent to attest again");
                let bootstrap = bootstrap_channel(
                    &config.server_authority(),
                    &config.trust_domain,
                    Some(trust.clone()),
                );
                match (bootstrap, node_attestor(&config)) {
                    (Ok(ch), Ok(attestor)) => attest(ch, attestor, &config.trust_domain)
                        .await
                        .map(|a| a.svid)
                        .map_err(|e| e.to_string()),
                    (Err(e), _) => Err(e.to_string()),
                    (_, Err(e)) => Err(e.to_string()),
                }
            }
            Err(e) => {
                if e.timed_out() {
                    channel.timed_out();
                }
                Err(e.to_string())
            }
            Ok(svid) => Ok(svid),
        };
        match renewed {
            Ok(new) => {
                tracing::info!(
                    spiffe_id = %new.spiffe_id(),
                    expires_at = new.leaf().not_after().as_secs(),
                    "Successfully rotated agent SVID"
                );
                if let Err(e) = store.save_svid(&new) {
                    tracing::warn!(error = %e, "Unable to store the renewed agent SVID");
                }
                svid.set(new);
                // New connections, which present the new SVID; the first one is made before
                // the channel replaces the old one, which calls use meanwhile.
                match connected_mtls_channel(
                    &config.server_authority(),
                    &config.trust_domain,
                    svid.clone(),
                    trust.clone(),
                )
                .await
                {
                    Ok(new_channel) => channel.set(new_channel),
                    Err(e) => tracing::warn!(error = %e, "Unable to reconnect to the server"),
                }
                acquired = now().as_secs();
                retry = RETRY;
            }
            Err(e) => {
                let left = Duration::from_secs(end.saturating_sub(now().as_secs()));
                let wait = renewal_retry(retry, left);
                tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "Unable to renew the agent SVID");
                tokio::time::sleep(wait).await;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }
}

/// The wait before the next renewal attempt: the backoff, but never more than a quarter of the
/// life the SVID has left (at least a second), so that the attempts close in on the expiry
/// instead of sleeping past it when the server comes back shortly before.
fn renewal_retry(backoff: Duration, left: Duration) -> Duration {
    crate::manager::backoff::within_life(backoff, left)
}

fn bind_socket(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |source| DaemonError::Listen {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // A socket left by a previous run is replaced; anything else there is left alone (bind
    // then fails, naming the path).
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path).map_err(err)?;
        }
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    // Every local process may call the Workload API; the kernel tells who it is.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).map_err(err)?;
    Ok(listener)
}

/// Binds the admin socket: as the Workload API socket, but left with the process umask's
/// permissions (only delegates should reach it; SPIRE does not open it up either).
fn bind_admin_socket(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |source| DaemonError::Listen {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path).map_err(err)?;
        }
    }
    UnixListener::bind(path).map_err(err)
}

/// Whether a failed sync means the server refuses this agent for good: PERMISSION_DENIED
/// because it is banned, or no longer attested (evicted). SPIRE's agent then shuts down.
fn refusal(error: &crate::manager::SyncError) -> Option<String> {
    match error {
        crate::manager::SyncError::Server {
            source: crate::server::ServerError::Status { code, message },
            ..
        } if *code == crate::server::ServerError::PERMISSION_DENIED
            && (message.contains("is banned") || message.contains("is not attested")) =>
        {
            Some(message.clone())
        }
        _ => None,
    }
}

/// Resolves with the server's reason when it refuses this agent for good.
async fn refused(manager: AgentManager) -> String {
    let mut status = manager.watch_status();
    loop {
        let reason = status
            .borrow_and_update()
            .last_error
            .as_deref()
            .and_then(refusal);
        if let Some(reason) = reason {
            return reason;
        }
        if status.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The server kit's SDS settings from the agent's `sds { }` block.
fn sds_config(settings: &crate::config::SdsSettings) -> SdsConfig {
    let mut sds = SdsConfig::default();
    sds.default_svid_name = settings.default_svid_name.clone();
    sds.default_bundle_name = settings.default_bundle_name.clone();
    sds.default_all_bundles_name = settings.default_all_bundles_name.clone();
    sds.disable_spiffe_cert_validation = settings.disable_spiffe_cert_validation;
    sds
}

/// Runs the agent until SIGTERM or SIGINT; `log` (the process's logger) is what the admin
/// socket's Logger API reads and changes (without it, that service is not served).
pub async fn run(config: AgentConfig, log: Option<LogHandle>) -> Result<(), DaemonError> {
    let mut signals = daemon_telemetry::ShutdownSignal::new().map_err(DaemonError::Signals)?;
    let config = Arc::new(config);
    let store = AgentStore::new(&config.data_dir, key_dir(&config).as_deref());
    let (svid, bundle) = tokio::select! {
        identity = identity(&config, &store) => identity?,
        signal = signals.recv() => {
            tracing::info!(?signal, "Stopping agent before attestation completed");
            return Ok(());
        }
    };
    let agent_id = svid.get().spiffe_id().clone();
    let svid = Arc::new(svid);
    let trust = Arc::new(TrustBundle::new(bundle));
    let new_channel = {
        let (config, svid, trust) = (config.clone(), svid.clone(), trust.clone());
        move || {
            mtls_channel(
                &config.server_authority(),
                &config.trust_domain,
                svid.clone(),
                trust.clone(),
            )
        }
    };
    let channel = SharedChannel::new(new_channel().map_err(DaemonError::Channel)?).with_reconnect(
        move || {
            new_channel()
                .map_err(|e| tracing::warn!(error = %e, "Unable to make a new server channel"))
                .ok()
        },
    );
    let client = GrpcServerClient::new(channel.clone(), config.trust_domain.clone())
        .with_trust(trust.clone(), store.clone());

    let mut manager_config = ManagerConfig::new(config.trust_domain.clone(), agent_id.clone());
    manager_config.sync_interval = config.sync_interval;
    manager_config.x509_svid_cache_max_size = config.x509_svid_cache_max_size;
    manager_config.jwt_svid_cache_max_size = config.jwt_svid_cache_max_size;
    manager_config.workload_key_type = config.workload_key_type;
    let manager = AgentManager::new(manager_config, Arc::new(client), Arc::new(SystemClock));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let sync_task = tokio::spawn({
        let manager = manager.clone();
        let stop = stopped(stop_rx.clone());
        async move { manager.run(stop).await }
    });
    let renew_task = tokio::spawn(renew_loop(
        config.clone(),
        store.clone(),
        svid.clone(),
        trust.clone(),
        channel,
    ));

    let attestors: Vec<Arc<dyn spiffe_attest::workload::WorkloadAttestor>> = config
        .workload_attestors
        .iter()
        .map(|a| match a {
            WorkloadAttestorConfig::Unix {
                discover_workload_path,
                workload_size_limit,
            } => {
                let mut attestor = UnixAttestor::new();
                if *discover_workload_path {
                    attestor = attestor.with_workload_path(*workload_size_limit);
                }
                Ok(Arc::new(attestor) as Arc<dyn spiffe_attest::workload::WorkloadAttestor>)
            }
            WorkloadAttestorConfig::Docker {
                socket_path,
                api_version,
            } => {
                let mut attestor = DockerAttestor::new(socket_path);
                if let Some(v) = api_version {
                    attestor = attestor.with_api_version(v).map_err(|e| {
                        DaemonError::WorkloadAttestor {
                            plugin: "docker",
                            reason: e.to_string(),
                        }
                    })?;
                }
                Ok(Arc::new(attestor) as Arc<dyn spiffe_attest::workload::WorkloadAttestor>)
            }
            WorkloadAttestorConfig::Systemd => Ok(Arc::new(SystemdAttestor::default())
                as Arc<dyn spiffe_attest::workload::WorkloadAttestor>),
            WorkloadAttestorConfig::K8s(settings) => k8s_attestor(settings),
        })
        .collect::<Result<_, DaemonError>>()?;
    let provider = Arc::new(AgentIdentityProvider::new(
        manager.clone(),
        attestors,
        ProviderConfig::default(),
    ));
    let forget_task = tokio::spawn({
        let provider = provider.clone();
        async move {
            let mut tick = tokio::time::interval(FORGET_INTERVAL);
            loop {
                tick.tick().await;
                provider.forget_exited_callers();
            }
        }
    });

    let health = Arc::new(Health::new());
    {
        let manager = manager.clone();
        let _ = health.add_check("agent", move || HealthState {
            live: true,
            ready: manager.is_synced(),
            ..HealthState::default()
        });
    }
    let health_task = if config.health.listener_enabled {
        let server = HealthServer::bind(&config.health, health.clone())
            .await
            .map_err(|source| DaemonError::Listen {
                path: PathBuf::from(format!(
                    "{}:{}",
                    config.health.bind_address, config.health.bind_port
                )),
                source,
            })?;
        let stop = stopped(stop_rx.clone());
        Some(tokio::spawn(async move { server.serve(stop).await }))
    } else {
        None
    };

    let metrics_task = match &config.telemetry.prometheus {
        None => None,
        Some(prometheus) => {
            let registry = Arc::new(Registry::new());
            let prefix = config
                .telemetry
                .metric_prefix
                .clone()
                .unwrap_or_else(|| DEFAULT_METRIC_PREFIX.to_owned());
            let gauge = |name: &str, help: &str| {
                registry
                    .gauge(&format!("{prefix}_{name}"), help)
                    .map_err(|e| DaemonError::Serve(format!("metrics: {e}")))
            };
            let entries = gauge(
                "cache_entries",
                "Registration entries the agent is authorized for",
            )?;
            let svids = gauge("cache_x509_svids", "X.509-SVIDs the agent holds")?;
            let synced = gauge("synced", "1 once the agent has synced with the server")?;
            let server = MetricsServer::bind(prometheus, registry.clone())
                .await
                .map_err(|source| DaemonError::Listen {
                    path: PathBuf::from(format!("{}:{}", prometheus.host, prometheus.port)),
                    source,
                })?;
            let manager = manager.clone();
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move {
                let update = async {
                    let mut tick = tokio::time::interval(METRICS_INTERVAL);
                    loop {
                        tick.tick().await;
                        let stats = manager.cache_stats();
                        entries.set(stats.entries as f64);
                        svids.set(stats.x509_svids as f64);
                        synced.set(if manager.is_synced() { 1.0 } else { 0.0 });
                    }
                };
                tokio::select! {
                    served = server.serve(stop) => served,
                    () = update => Ok(()),
                }
            }))
        }
    };

    let admin_task = match &config.admin_socket_path {
        None => None,
        Some(path) => {
            let listener = bind_admin_socket(path)?;
            tracing::info!(
                address = %path.display(),
                network = "unix",
                delegates = config.authorized_delegates.len(),
                "Starting Delegated Identity, Debug and Logger APIs"
            );
            let agent_svid = svid.clone();
            let api = crate::admin::AdminApi::new(
                provider.clone(),
                config.authorized_delegates.iter().cloned(),
                Arc::new(move || agent_svid.get()),
            )
            .with_logger(log);
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move {
                if let Err(error) = api.serve(listener, stop).await {
                    tracing::error!(error = %error, "Admin API stopped");
                }
            }))
        }
    };

    let listener = bind_socket(&config.socket_path)?;
    tracing::info!(
        address = %config.socket_path.display(),
        network = "unix",
        "Starting Workload and SDS APIs"
    );
    let serve = WorkloadApiServer::new(provider.clone())
        .with_sds(sds_config(&config.sds))
        .serve_unix(listener, stopped(stop_rx.clone()));
    tokio::pin!(serve);
    let result = tokio::select! {
        signal = signals.recv() => {
            tracing::info!(?signal, "Stopping agent");
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut serve).await;
            Ok(())
        }
        served = &mut serve => served.map_err(|e| DaemonError::Serve(e.to_string())),
        reason = refused(manager.clone()) => {
            tracing::error!(reason = %reason, "Agent is banned or evicted: removing its SVID and shutting down");
            if let Err(e) = store.remove_svid() {
                tracing::warn!(error = %e, "Unable to remove the agent SVID");
            }
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut serve).await;
            Err(DaemonError::Refused(reason))
        }
    };
    let _ = stop_tx.send(true);
    renew_task.abort();
    forget_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), sync_task).await;
    if let Some(task) = metrics_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(task) = health_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(task) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let _ = std::fs::remove_file(&config.socket_path);
    if let Some(path) = &config.admin_socket_path {
        let _ = std::fs::remove_file(path);
    }
    if result.is_ok() {
        tracing::info!("Agent stopped gracefully");
    }
    result
}

/// The trust domain's server ID (re-exported for the CLI and tests).
pub fn server_id(trust_domain: &TrustDomain) -> spiffe_core::SpiffeId {
    crate::node::server_id(trust_domain)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
    use spiffe_ca::x509::X509SvidIssuer;

    use super::*;
    use crate::config::RunFlags;

    #[test]
    fn a_renewal_retry_never_sleeps_past_a_quarter_of_the_life_left() {
        let s = Duration::from_secs;
        // Plenty of life: the backoff.
        assert_eq!(renewal_retry(s(5), s(1800)), s(5));
        assert_eq!(renewal_retry(MAX_RETRY, s(1800)), MAX_RETRY);
        // 10 s left after a failed retry: 2.5 s, not the backoff's 10 s (past the expiry).
        assert_eq!(renewal_retry(s(10), s(10)), Duration::from_millis(2500));
        // Close to or past the expiry: every second.
        assert_eq!(renewal_retry(s(20), s(1)), s(1));
        assert_eq!(renewal_retry(s(20), Duration::ZERO), s(1));
    }

    fn config(dir: &Path, bundle: &str) -> AgentConfig {
        let text = format!(
            "agent {{\n trust_domain = \"example.org\"\n server_address = \"127.0.0.1\"\n data_dir = \"{}\"\n{bundle}}}\nplugins {{\n NodeAttestor \"join_token\" {{ plugin_data {{}} }}\n KeyManager \"memory\" {{ plugin_data {{}} }}\n WorkloadAttestor \"unix\" {{ plugin_data {{}} }}\n}}\n",
            dir.join("data").display()
        );
        AgentConfig::from_text(&text, &RunFlags::default()).unwrap()
    }

    fn root() -> X509Bundle {
        let td = TrustDomain::new("example.org").unwrap();
        let key: Arc<dyn Signer> =
            Arc::new(SoftwareSigner::generate("root", KeyType::EcP256).unwrap());
        let now = UnixTime::now();
        let until = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 3600));
        let ca = X509SvidIssuer::self_signed(&td, key, now, until).unwrap();
        X509Bundle::from_authorities(td, vec![ca.certificate().clone()])
    }

    #[tokio::test]
    async fn bootstrap_bundle_from_pem_spiffe_stored_or_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let bundle = root();

        // PEM.
        let pem_path = dir.join("root.pem");
        std::fs::write(&pem_path, bundle.to_pem()).unwrap();
        let c = config(
            dir,
            &format!(" trust_bundle_path = \"{}\"\n", pem_path.display()),
        );
        let store = AgentStore::new(&c.data_dir, None);
        let got = bootstrap_bundle(&c, &store).await.unwrap().unwrap();
        assert_eq!(got.authorities(), bundle.authorities());

        // A SPIFFE bundle document.
        let doc = spiffe_core::SpiffeBundle::from_parts(
            bundle.clone(),
            spiffe_core::JwtBundle::new(bundle.trust_domain().clone()),
        )
        .unwrap();
        let json_path = dir.join("root.json");
        std::fs::write(&json_path, doc.to_json()).unwrap();
        let c = config(
            dir,
            &format!(
                " trust_bundle_path = \"{}\"\n trust_bundle_format = \"spiffe\"\n",
                json_path.display()
            ),
        );
        let got = bootstrap_bundle(&c, &store).await.unwrap().unwrap();
        assert_eq!(got.authorities(), bundle.authorities());

        // PEM text given as a SPIFFE document: refused, naming the file.
        let c = config(
            dir,
            &format!(
                " trust_bundle_path = \"{}\"\n trust_bundle_format = \"spiffe\"\n",
                pem_path.display()
            ),
        );
        let err = bootstrap_bundle(&c, &store).await.unwrap_err().to_string();
        assert!(err.contains("root.pem"), "{err}");

        // Neither a file nor insecure_bootstrap: refused.
        let c = config(dir, "");
        let err = bootstrap_bundle(&c, &store).await.unwrap_err().to_string();
        assert!(err.contains("no trust bundle"), "{err}");

        // insecure_bootstrap: none.
        let c = config(dir, " insecure_bootstrap = true\n");
        assert!(bootstrap_bundle(&c, &store).await.unwrap().is_none());

        // A stored bundle wins over the configured file.
        let other = root();
        store.save_bundle(&other).unwrap();
        let c = config(
            dir,
            &format!(" trust_bundle_path = \"{}\"\n", pem_path.display()),
        );
        let got = bootstrap_bundle(&c, &store).await.unwrap().unwrap();
        assert_eq!(got.authorities(), other.authorities());
    }

    /// A helper on a Unix socket answering one GET with `body`; the request line it read.
    fn bundle_helper(socket: &Path, body: String) -> tokio::task::JoinHandle<String> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        tokio::spawn(async move {
            let (io, _) = listener.accept().await.unwrap();
            let mut reader = tokio::io::BufReader::new(io);
            let mut request = String::new();
            reader.read_line(&mut request).await.unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).await.unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            let mut io = reader.into_inner();
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            io.write_all(answer.as_bytes()).await.unwrap();
            io.shutdown().await.unwrap();
            request
        })
    }

    #[tokio::test]
    async fn bootstrap_bundle_from_a_url_only_without_a_stored_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let bundle = root();
        let socket = dir.join("helper.sock");
        let helper = bundle_helper(&socket, bundle.to_pem());
        let c = config(
            dir,
            &format!(
                " trust_bundle_url = \"http://helper/bundle\"\n trust_bundle_unix_socket = \"{}\"\n",
                socket.display()
            ),
        );
        let store = AgentStore::new(&c.data_dir, None);
        let got = bootstrap_bundle(&c, &store).await.unwrap().unwrap();
        assert_eq!(got.authorities(), bundle.authorities());
        let request = tokio::time::timeout(Duration::from_secs(10), helper)
            .await
            .unwrap()
            .unwrap();
        assert!(
            request.contains("spire-server-address=127.0.0.1"),
            "{request}"
        );
        assert!(request.contains("spire-server-port=8081"), "{request}");
        // With a stored bundle the URL is not asked (the helper is gone: it would fail).
        let stored = root();
        store.save_bundle(&stored).unwrap();
        let got = bootstrap_bundle(&c, &store).await.unwrap().unwrap();
        assert_eq!(got.authorities(), stored.authorities());
        // Without one, the helper gone: the start fails, naming the URL.
        std::fs::remove_file(c.data_dir.join(crate::node::BUNDLE_FILE)).unwrap();
        let err = bootstrap_bundle(&c, &store).await.unwrap_err().to_string();
        assert!(err.contains("http://helper/bundle"), "{err}");
    }
}
