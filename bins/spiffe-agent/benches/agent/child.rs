//! The agent side of the benches, each in a child process (this binary re-executed) so its
//! memory is its own: the in-process fake server, the manager and its sync loop, the provider,
//! and `spiffe-workload`'s server kit. Protocol with the parent: lines on stdout (`ready …`,
//! JSON), commands on stdin; the child exits when stdin closes.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use spiffe_agent::clock::{Clock, SystemClock};
use spiffe_agent::manager::{AgentManager, ManagerConfig};
use spiffe_agent::server::fake::FakeServer;
use spiffe_agent::workload::{AgentIdentityProvider, ProviderConfig};
use spiffe_attest::workload::unix::{process_start_time, UnixAttestor};
use spiffe_attest::workload::WorkloadAttestor;
use spiffe_attest::{AttestError, Selector};
use spiffe_core::BoxFuture;
use spiffe_core::{SpiffeId, TrustDomain};
use spiffe_workload::proto;
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, WorkloadApiServer,
    X509Context,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{connect_unix, request};

/// The uid of the first simulated workload over TCP.
pub(crate) const TCP_UID_BASE: u32 = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// This process's resident set, bytes.
pub(crate) fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// A fake server with `fillers` entries for other users (`unix:uid:<TCP_UID_BASE + k>`), and
/// a manager for its agent.
fn agent(fillers: usize, sync_interval: Duration) -> (Arc<FakeServer>, AgentManager) {
    let td = TrustDomain::new("example.org").unwrap();
    let agent_id = SpiffeId::new("spiffe://example.org/spire/agent/join_token/bench").unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = Arc::new(FakeServer::new(td.clone(), agent_id.clone(), clock.clone()).unwrap());
    for k in 0..fillers {
        server
            .put_workload_entry(
                &format!("f{k:06}"),
                &format!("/workload/{k}"),
                &[&format!("unix:uid:{}", TCP_UID_BASE + k as u32)],
            )
            .unwrap();
    }
    let mut config = ManagerConfig::new(td, agent_id);
    config.sync_interval = sync_interval;
    config.x509_svid_cache_max_size = fillers + 16;
    let manager = AgentManager::new(config, server.clone(), clock);
    (server, manager)
}

fn spawn_loop(manager: &AgentManager) {
    let manager = manager.clone();
    tokio::spawn(async move { manager.run(std::future::pending()).await });
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// Unix socket mode: an entry `bench` for this user plus `fillers` others; says `ready` once
/// every SVID is signed. On `rotate` the user's entry changes DNS name, which makes the agent
/// re-sign its SVID with a new key at once (the same path as a rotation at half-life).
pub(crate) fn unix_child(socket: &Path, fillers: usize) {
    let rt = runtime();
    let (server, manager) = agent(fillers, Duration::from_secs(5));
    server
        .put_workload_entry("bench", "/bench", &[&format!("unix:uid:{}", own_uid())])
        .unwrap();
    let _guard = rt.enter();
    rt.block_on(manager.sync()).unwrap();
    spawn_loop(&manager);
    let provider = Arc::new(AgentIdentityProvider::new(
        manager.clone(),
        vec![Arc::new(UnixAttestor::new())],
        ProviderConfig::default(),
    ));
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = rt.spawn(
        WorkloadApiServer::new(provider)
            // (b) opens 10,000 streams as one workload: more than the default per-caller
            // share of the stream bound (a quarter of 16,384).
            .with_max_streams_per_caller(spiffe_workload::DEFAULT_MAX_STREAMS)
            .serve_unix(listener, async move {
                let _ = stopped.await;
            }),
    );
    say("ready");
    for (round, line) in std::io::stdin().lock().lines().enumerate() {
        match line.unwrap().as_str() {
            "rotate" => {
                let entry = server.entry("bench").unwrap();
                let changed = entry
                    .to_builder()
                    .dns_names([format!("r{round}.bench.example.org")])
                    .build()
                    .unwrap();
                server.put_entry(changed);
                manager.sync_now();
            }
            other => panic!("unknown command {other:?}"),
        }
    }
    let _ = stop.send(());
    rt.block_on(served).unwrap().unwrap();
}

/// Selectors from the uid alone (the TCP bench's callers are not processes of their own).
struct UidAttestor;

impl WorkloadAttestor for UidAttestor {
    fn name(&self) -> &'static str {
        "unix"
    }

    fn attest<'a>(
        &'a self,
        peer: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        let uid = peer.uid;
        Box::pin(async move { Ok(vec![Selector::new("unix", &format!("uid:{uid}")).unwrap()]) })
    }
}

/// The server kit alone, for comparison: one fixed answer for every caller.
struct FixedProvider {
    context: X509Context,
    changes: watch::Sender<()>,
}

impl IdentityProvider for FixedProvider {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        Ok(self.context.clone())
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        _audience: &[String],
        _spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

/// TCP mode: `workloads` entries, one per simulated workload; the k-th distinct client port is
/// attested as uid `TCP_UID_BASE + k` (so each connection is a distinct workload with its own
/// entry). Prints a JSON line with the port and its RSS before the manager started and after
/// every SVID is signed. With `bare`, the server kit serves one fixed answer (the first
/// workload's) to every connection instead: the transport's share of the memory.
pub(crate) fn tcp_child(workloads: usize, bare: bool) {
    let rt = runtime();
    let (_server, manager) = agent(workloads, Duration::from_secs(5));
    let _guard = rt.enter();
    let me = std::process::id();
    let rss_before_agent = rss_of(me);
    rt.block_on(manager.sync()).unwrap();
    spawn_loop(&manager);
    let rss_synced = rss_of(me);
    let agent_provider = AgentIdentityProvider::new(
        manager.clone(),
        vec![Arc::new(UidAttestor)],
        ProviderConfig::default(),
    );
    let pid = me as i32;
    let start_time = process_start_time(pid).unwrap();
    let ports: Mutex<HashMap<u16, u32>> = Mutex::new(HashMap::new());
    let attest = move |peer: SocketAddr| {
        let mut ports = ports.lock().unwrap();
        let next = TCP_UID_BASE + ports.len() as u32;
        let uid = *ports.entry(peer.port()).or_insert(next);
        Some(CallerInfo::new(Some(pid), uid, uid).with_start_time(start_time))
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let served = if bare {
        let first =
            CallerInfo::new(Some(pid), TCP_UID_BASE, TCP_UID_BASE).with_start_time(start_time);
        let context = rt.block_on(agent_provider.x509_context(&first)).unwrap();
        drop(agent_provider);
        let provider = Arc::new(FixedProvider {
            context,
            changes: watch::channel(()).0,
        });
        rt.spawn(WorkloadApiServer::new(provider).serve_tcp(listener, attest, shutdown))
    } else {
        let provider = Arc::new(agent_provider);
        rt.spawn(WorkloadApiServer::new(provider).serve_tcp(listener, attest, shutdown))
    };
    say(&json!({
        "port": port,
        "rss_before_agent_bytes": rss_before_agent,
        "rss_synced_bytes": rss_synced,
        "svids": manager.cache_stats().x509_svids,
    })
    .to_string());
    for line in std::io::stdin().lock().lines() {
        let _ = line;
    }
    let _ = stop.send(());
    rt.block_on(served).unwrap().unwrap();
}

/// Startup mode: `entries` entries, this user's sorting `first` or last; a workload's stream is
/// open on the socket before the agent starts; prints (JSON) the time from starting the
/// manager to the workload's first message, and to the end of the first sync.
pub(crate) fn startup_child(entries: usize, first: bool) {
    let rt = runtime();
    let (server, manager) = agent(entries - 1, Duration::from_secs(5));
    let id = if first { "a-bench" } else { "z-bench" };
    server
        .put_workload_entry(id, "/bench", &[&format!("unix:uid:{}", own_uid())])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let _guard = rt.enter();
    let provider = Arc::new(AgentIdentityProvider::new(
        manager.clone(),
        vec![Arc::new(UnixAttestor::new())],
        ProviderConfig::default(),
    ));
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    rt.spawn(WorkloadApiServer::new(provider).serve_unix(listener, std::future::pending()));
    let figures = rt.block_on(async move {
        let mut client = connect_unix(&socket).await;
        let mut stream = client
            .fetch_x509svid(request(proto::X509svidRequest {}))
            .await
            .unwrap()
            .into_inner();
        let mut changes = manager.changes();
        let started = Instant::now();
        spawn_loop(&manager);
        let message = stream.message().await.unwrap().unwrap();
        let first_svid = started.elapsed();
        assert_eq!(message.svids[0].spiffe_id, "spiffe://example.org/bench");
        while manager.cache_stats().x509_svids < entries {
            changes.changed().await.unwrap();
        }
        let all = started.elapsed();
        let stats = server.stats();
        json!({
            "entries": entries,
            "workload_entry_sorts": if first { "first" } else { "last" },
            "first_svid_ms": first_svid.as_secs_f64() * 1e3,
            "all_signed_ms": all.as_secs_f64() * 1e3,
            "batches": stats.batch_calls,
            "signed": stats.x509_svids_signed,
        })
    });
    say(&figures.to_string());
}
