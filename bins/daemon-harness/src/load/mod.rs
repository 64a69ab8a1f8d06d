//! A load run against real daemon processes on loopback, for sizing deployments: Workload API
//! clients on a `spiffe-agent` process's socket and simulated agents on the servers' gRPC API,
//! for a fixed time, with every error counted by class, per-operation throughput and latency
//! percentiles, and each daemon's peak memory and CPU time.
//!
//! Two topologies ([`Topology`]): one server on SQLite, or two servers sharing one PostgreSQL
//! database (the simulated agents split between them, the real agent on the first).
//!
//! - **Workload API clients** (`clients`): each holds one connection to the agent's socket and
//!   a `FetchX509SVID` stream, re-opened every `x509_stream_lifetime` (the first response of
//!   each stream is timed, later messages are counted as updates), and calls `FetchJWTSVID`
//!   every `jwt_interval` for an audience of its own. All clients run in this process, so they
//!   are one caller to the agent (one uid): `workload_entries` entries match it, the first by
//!   `unix:uid`, the next by `unix:gid`, then `unix:uid` again (distinct SPIFFE IDs), and every
//!   response must carry all of them.
//! - **Simulated agents** (`agents`): each is attested with a join token of its own
//!   (`AttestAgent` on a new TLS connection), has `entries_per_agent` entries, and then on its
//!   own schedule syncs (`SyncAuthorizedEntries`, holding revisions as an agent does, every
//!   `sync_interval`), has an SVID signed for each of its entries (`BatchNewX509SVID`, every
//!   `svid_interval`) and renews its own SVID (`RenewAgent`, every `renew_interval`, then
//!   reconnecting with the new one).
//!
//! Every server runs with `ratelimit { attestation = false  signing = false }`: all the load
//! comes from 127.0.0.1, and SPIRE's per-address limits (one attestation per second, 500
//! signatures per second) would measure the limiter instead of the server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use spiffe_core::{TrustDomain, X509Bundle, X509Svid};
use spiffe_server::testing::agent::{csr, mtls_channel, tls_channel, x509_bundle};
use spiffe_server::testing::process::{DataStoreKind, ServerConfigFile, ServerProcess};
use spiffe_workload::proto;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::{EndpointAddress, WorkloadApiClient, SECURITY_HEADER};
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::Step as ResponseStep;
use spire_api_proto::server::agent::v1::{
    AgentX509svidParams, AttestAgentRequest, CreateJoinTokenRequest, RenewAgentRequest,
};
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{BatchCreateEntryRequest, SyncAuthorizedEntriesRequest};
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::{BatchNewX509svidRequest, NewX509svidParams};
use spire_api_proto::types;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::domain::{current_uid, Domain};

mod agents;
mod report;
mod setup;
mod workloads;

use agents::*;
use report::*;
pub use report::{
    cpu_seconds, status_mib, ErrorClass, LoadReport, OpStats, ProcessStats, CALL_TIMEOUT,
};
use setup::*;
use workloads::*;

/// The trust domain of a load run.
pub const TRUST_DOMAIN: &str = "load.test";

/// The `server { }` lines every load server gets: SPIRE's per-address rate limits off.
pub const RATELIMIT_OFF: &str =
    "    ratelimit {\n        attestation = false\n        signing = false\n    }\n";

/// Operation names, as the report prints them.
pub mod op {
    /// `AttestAgent` (join token, new TLS connection) of a simulated agent.
    pub const ATTEST: &str = "AttestAgent";
    /// One `SyncAuthorizedEntries` exchange of a simulated agent.
    pub const SYNC: &str = "SyncAuthorizedEntries";
    /// One `BatchNewX509SVID` call of a simulated agent (all its entries).
    pub const BATCH_SVID: &str = "BatchNewX509SVID";
    /// `RenewAgent` of a simulated agent.
    pub const RENEW: &str = "RenewAgent";
    /// A `FetchX509SVID` stream opened until its first response.
    pub const FETCH_X509: &str = "FetchX509SVID (first response)";
    /// `FetchJWTSVID`.
    pub const FETCH_JWT: &str = "FetchJWTSVID";
}

/// Counters that are not timed operations.
pub mod counter {
    /// X.509-SVIDs minted by `BatchNewX509SVID`.
    pub const SVIDS_SIGNED: &str = "X509-SVIDs signed (BatchNewX509SVID results)";
    /// Messages after the first on open `FetchX509SVID` streams (rotations pushed).
    pub const X509_UPDATES: &str = "FetchX509SVID updates pushed";
    /// Entries received in full by `SyncAuthorizedEntries`.
    pub const ENTRIES_SYNCED: &str = "entries received in full (SyncAuthorizedEntries)";
}

/// Where the servers keep their data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Topology {
    /// One server on SQLite.
    Sqlite,
    /// Two servers on one new database in the PostgreSQL cluster at this URL (an admin URL
    /// such as `SPIFFE_TEST_POSTGRES_URL`, allowed to `CREATE DATABASE`).
    Postgres(String),
}

impl Topology {
    /// `sqlite` or `2x-postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) => "2x-postgres",
        }
    }
}

/// What a load run does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadConfig {
    /// How long the load runs (after setup).
    pub duration: Duration,
    /// Workload API clients on the agent's socket.
    pub clients: usize,
    /// Simulated agents on the servers' gRPC API.
    pub agents: usize,
    /// The servers' datastore.
    pub topology: Topology,
    /// Entries parented to each simulated agent (signed at each `svid_interval`).
    pub entries_per_agent: usize,
    /// Entries matching the Workload API clients (each response carries them all).
    pub workload_entries: usize,
    /// `-x509SVIDTTL` of the workload entries, seconds (the agent rotates at half of it and
    /// pushes the new SVIDs to every open stream).
    pub workload_x509_ttl: u32,
    /// `-jwtSVIDTTL` of the workload entries, seconds.
    pub workload_jwt_ttl: u32,
    /// How often each simulated agent syncs.
    pub sync_interval: Duration,
    /// How often each simulated agent has its entries' SVIDs signed.
    pub svid_interval: Duration,
    /// How often each simulated agent renews its own SVID.
    pub renew_interval: Duration,
    /// How often each Workload API client calls `FetchJWTSVID`.
    pub jwt_interval: Duration,
    /// How long each `FetchX509SVID` stream stays open before the client re-opens it.
    pub x509_stream_lifetime: Duration,
    /// The servers' `experimental { cache_reload_interval }`.
    pub cache_reload_interval: String,
}

impl LoadConfig {
    /// The sizing run: 60 s, 1,000 clients, 100 agents, SQLite.
    pub fn full() -> Self {
        Self {
            duration: Duration::from_secs(60),
            clients: 1000,
            agents: 100,
            topology: Topology::Sqlite,
            entries_per_agent: 5,
            workload_entries: 2,
            workload_x509_ttl: 30,
            workload_jwt_ttl: 30,
            sync_interval: Duration::from_secs(1),
            svid_interval: Duration::from_secs(2),
            renew_interval: Duration::from_secs(10),
            jwt_interval: Duration::from_secs(5),
            x509_stream_lifetime: Duration::from_secs(10),
            cache_reload_interval: "1s".into(),
        }
    }

    /// The CI run: 10 s, 100 clients, 10 agents, SQLite, schedules short enough that every
    /// operation happens several times.
    pub fn short() -> Self {
        Self {
            duration: Duration::from_secs(10),
            clients: 100,
            agents: 10,
            renew_interval: Duration::from_secs(3),
            jwt_interval: Duration::from_secs(2),
            x509_stream_lifetime: Duration::from_secs(3),
            svid_interval: Duration::from_secs(1),
            ..Self::full()
        }
    }
}

/// Runs `load` against daemons started in `dir` (which must exist and stay until the return),
/// on a runtime of its own (two worker threads). Setup failures (a daemon that does not
/// start, entries not created) are errors; failures under load are counted in the report.
pub fn run(dir: &Path, load: &LoadConfig) -> io::Result<LoadReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (mut daemons, workload_ids) = start_daemons(dir, load, &rt)?;
    let result = rt.block_on(drive(&daemons, load, workload_ids));
    let _ = daemons.domain.agent.terminate();
    let _ = daemons.domain.server.terminate();
    if let Some(second) = daemons.second.as_mut() {
        let _ = second.terminate();
    }
    if let Some((admin_url, name)) = &daemons.database {
        rt.block_on(drop_database(admin_url, name));
    }
    result
}

async fn drive(
    daemons: &Daemons,
    load: &LoadConfig,
    workload_ids: Vec<String>,
) -> io::Result<LoadReport> {
    let td = TrustDomain::new(TRUST_DOMAIN).map_err(|e| io::Error::other(e.to_string()))?;
    let mut targets = Vec::new();
    for server in std::iter::once(&daemons.domain.server).chain(daemons.second.as_ref()) {
        let admin = server.admin_channel().await;
        targets.push(Target {
            addr: server.tcp_addr(),
            bundle: x509_bundle(&admin, &td).await,
            admin,
        });
    }

    let setup = Instant::now();
    let phase = |what: &str| {
        eprintln!(
            "load: setup {:>6.1} s: {what}",
            setup.elapsed().as_secs_f64()
        )
    };
    phase("daemons up, workload entries served; join tokens next");
    // Tokens (each on the server its agent attests to) and the agents' entries.
    let mut tokens = Vec::with_capacity(load.agents);
    for a in 0..load.agents {
        let target = &targets[a % targets.len()];
        let token = join_token(&target.admin)
            .await
            .map_err(|s| io::Error::other(format!("CreateJoinToken: {s}")))?;
        tokens.push(token);
    }
    phase("join tokens made; the agents' entries next");
    create_agent_entries(&targets[0].admin, &tokens, load.entries_per_agent).await?;
    phase("entries made; Workload API connections next");
    // The entries reach every server's cache within a few reload intervals.
    let reload = parse_go_duration(&load.cache_reload_interval).unwrap_or(Duration::from_secs(1));
    tokio::time::sleep(reload * 3).await;

    // Workload API connections, one per client, made before the clock starts.
    let address = EndpointAddress::Unix(daemons.domain.agent_config.socket_path.clone());
    let mut clients = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        let client = WorkloadApiClient::connect(&address)
            .await
            .map_err(|e| io::Error::other(format!("connect to the Workload API: {e}")))?;
        clients.push(client.grpc_without_header());
    }

    phase("clients connected; the load starts");
    let mut pids = vec![("server-a".to_owned(), daemons.domain.server.pid())];
    if let Some(second) = &daemons.second {
        pids.push(("server-b".to_owned(), second.pid()));
    }
    pids.push(("agent".to_owned(), daemons.domain.agent.pid()));
    let cpu_before: Vec<f64> = pids.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
    let own_cpu_before = cpu_seconds(std::process::id());
    let stop_sampling = Arc::new(tokio::sync::Notify::new());
    let sampler = tokio::spawn(sample_rss(
        pids.iter().map(|(_, p)| *p).collect(),
        stop_sampling.clone(),
    ));

    let rec = Arc::new(Recorder::default());
    let expected = Arc::new(workload_ids);
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut tasks = JoinSet::new();
    let schedule = AgentSchedule {
        expected_entries: load.entries_per_agent,
        sync: load.sync_interval,
        svid: load.svid_interval,
        renew: load.renew_interval,
    };
    // Start times spread over the first second (agents) and the first JWT interval (clients),
    // so the schedules do not beat in step.
    let spread = |i: usize, n: usize, over: Duration| over.mul_f64(i as f64 / n.max(1) as f64);
    for (a, token) in tokens.into_iter().enumerate() {
        let target = targets[a % targets.len()].clone();
        tasks.spawn(simulated_agent(
            target,
            token,
            schedule,
            start + spread(a, load.agents, Duration::from_secs(1)),
            deadline,
            rec.clone(),
        ));
    }
    for (i, client) in clients.into_iter().enumerate() {
        tasks.spawn(x509_streams(
            client.clone(),
            expected.clone(),
            load.x509_stream_lifetime,
            deadline,
            rec.clone(),
        ));
        tasks.spawn(jwt_calls(
            client,
            format!("load/{i}"),
            expected.clone(),
            load.jwt_interval,
            start + spread(i, load.clients, load.jwt_interval),
            deadline,
            rec.clone(),
        ));
    }
    // Every call is bounded, so the tasks end soon after the deadline; any still running a
    // call's length later is stuck, counted and stopped.
    let give_up = deadline + CALL_TIMEOUT + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(give_up, tasks.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => rec.error("load task", "panicked", e),
            Err(_) => {
                rec.error(
                    "load task",
                    "did not finish",
                    format!("{} tasks still running after the deadline", tasks.len()),
                );
                tasks.abort_all();
                break;
            }
        }
    }
    let window = start.elapsed().as_secs_f64();
    let own_cpu = cpu_seconds(std::process::id()) - own_cpu_before;
    stop_sampling.notify_one();
    let sampled = sampler.await.unwrap_or_default();

    let processes = pids
        .iter()
        .zip(cpu_before)
        .map(|((name, pid), before)| ProcessStats {
            name: name.clone(),
            pid: *pid,
            peak_rss_mib: status_mib(*pid, "VmHWM"),
            peak_sampled_rss_mib: sampled.get(pid).copied().unwrap_or(0.0),
            cpu_seconds: cpu_seconds(*pid) - before,
        })
        .collect();
    let mut ops = BTreeMap::new();
    for (name, mut samples) in std::mem::take(&mut *lock(&rec.latencies)) {
        samples.sort_unstable();
        ops.insert(
            name.to_owned(),
            OpStats {
                count: samples.len() as u64,
                per_second: samples.len() as f64 / window,
                p50_ms: percentile_ms(&samples, 0.5),
                p99_ms: percentile_ms(&samples, 0.99),
                max_ms: percentile_ms(&samples, 1.0),
            },
        );
    }
    let counters = lock(&rec.counters)
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    let errors = std::mem::take(&mut *lock(&rec.errors));
    let servers = targets.len();
    let notes = vec![
        format!(
            "{} Workload API clients (one connection and one FetchX509SVID stream each, re-opened every {:?}; FetchJWTSVID every {:?}) on one agent; {} workload entries (unix:uid / unix:gid of this process), X.509 TTL {} s, JWT TTL {} s",
            load.clients, load.x509_stream_lifetime, load.jwt_interval, load.workload_entries, load.workload_x509_ttl, load.workload_jwt_ttl
        ),
        format!(
            "{} simulated agents over {servers} server(s) ({}): join_token AttestAgent once, SyncAuthorizedEntries every {:?}, BatchNewX509SVID of {} entries every {:?}, RenewAgent every {:?}",
            load.agents, load.topology.name(), load.sync_interval, load.entries_per_agent, load.svid_interval, load.renew_interval
        ),
        "rate limits: every server runs with ratelimit { attestation = false  signing = false } (all load comes from 127.0.0.1; SPIRE's per-address limits would throttle it)".to_owned(),
    ];
    Ok(LoadReport {
        topology: load.topology.name().to_owned(),
        config: json!({
            "duration_seconds": load.duration.as_secs_f64(),
            "clients": load.clients,
            "agents": load.agents,
            "servers": servers,
            "entries_per_agent": load.entries_per_agent,
            "workload_entries": load.workload_entries,
            "workload_x509_ttl_seconds": load.workload_x509_ttl,
            "workload_jwt_ttl_seconds": load.workload_jwt_ttl,
            "sync_interval_seconds": load.sync_interval.as_secs_f64(),
            "svid_interval_seconds": load.svid_interval.as_secs_f64(),
            "renew_interval_seconds": load.renew_interval.as_secs_f64(),
            "jwt_interval_seconds": load.jwt_interval.as_secs_f64(),
            "x509_stream_lifetime_seconds": load.x509_stream_lifetime.as_secs_f64(),
            "cache_reload_interval": load.cache_reload_interval,
            "ratelimit": {"attestation": false, "signing": false},
        }),
        window_seconds: window,
        ops,
        counters,
        errors,
        processes,
        generator_cpu_seconds: own_cpu,
        notes,
    })
}

/// `"500ms"`, `"1s"`, `"2m"` (the forms the load's own settings use).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The directory Cargo builds into (`target/`), from the running binary's path
/// (`target/<profile>/deps/<name>`); for the results file.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_owned()))
        .unwrap_or_else(|| PathBuf::from("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_of_the_load_settings_parse() {
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_go_duration("1h"), None);
        assert_eq!(parse_go_duration("s"), None);
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 0.5), 51.0);
        assert_eq!(percentile_ms(&samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&samples, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn errors_are_counted_by_class_with_the_first_message() {
        let rec = Recorder::default();
        rec.error("FetchJWTSVID", "Unavailable", "first");
        rec.error("FetchJWTSVID", "Unavailable", "second");
        rec.error("AttestAgent", "PermissionDenied", "x");
        let errors = lock(&rec.errors);
        assert_eq!(errors.len(), 2);
        let class = &errors["FetchJWTSVID: Unavailable"];
        assert_eq!((class.count, class.example.as_str()), (2, "first"));
    }

    #[test]
    fn ids_must_match_as_a_set() {
        let want = vec!["spiffe://a/1".to_owned(), "spiffe://a/2".to_owned()];
        assert!(same_ids(["spiffe://a/2", "spiffe://a/1"].into_iter(), &want).is_ok());
        assert!(same_ids(["spiffe://a/1"].into_iter(), &want).is_err());
    }
}
