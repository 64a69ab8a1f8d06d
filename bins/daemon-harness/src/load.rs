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

/// Latency figures of one operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpStats {
    /// Completed without error.
    pub count: u64,
    /// `count` per second of the load window.
    pub per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

/// One class of error (operation and gRPC code or kind): how often, and the first message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorClass {
    /// Occurrences.
    pub count: u64,
    /// The first occurrence's message.
    pub example: String,
}

/// Memory and CPU of one daemon process over the run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// `server-a`, `server-b`, `agent`.
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// The kernel's peak resident set (`VmHWM`), MiB, since the process started.
    pub peak_rss_mib: f64,
    /// The highest `VmRSS` sampled (every 250 ms) during the load window, MiB.
    pub peak_sampled_rss_mib: f64,
    /// CPU time (user + system) spent during the load window, seconds.
    pub cpu_seconds: f64,
}

/// The outcome of a load run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadReport {
    /// The topology's name.
    pub topology: String,
    /// The configuration, as text (for the JSON and the table's heading).
    pub config: Value,
    /// The measured load window, seconds (from the first request to the last task's end).
    pub window_seconds: f64,
    /// Timed operations by name.
    pub ops: BTreeMap<String, OpStats>,
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Errors by class (`<operation>: <code>`).
    pub errors: BTreeMap<String, ErrorClass>,
    /// The daemons.
    pub processes: Vec<ProcessStats>,
    /// CPU time of this process (the load generator) in the window, seconds.
    pub generator_cpu_seconds: f64,
    /// Conditions worth printing beside the figures.
    pub notes: Vec<String>,
}

impl LoadReport {
    /// All errors of all classes.
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    /// Completed operations named `name` (0 when none).
    pub fn count(&self, name: &str) -> u64 {
        self.ops.get(name).map_or(0, |o| o.count)
    }

    /// The report as a plain-text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== load: topology {} , window {:.1} s ==",
            self.topology, self.window_seconds
        );
        for note in &self.notes {
            let _ = writeln!(out, "   {note}");
        }
        let _ = writeln!(
            out,
            "{:<50} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "operation", "count", "per s", "p50 ms", "p99 ms", "max ms"
        );
        for (name, o) in &self.ops {
            let _ = writeln!(
                out,
                "{:<50} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2}",
                name, o.count, o.per_second, o.p50_ms, o.p99_ms, o.max_ms
            );
        }
        for (name, count) in &self.counters {
            let _ = writeln!(
                out,
                "{:<50} {:>9} {:>9.1}",
                name,
                count,
                *count as f64 / self.window_seconds.max(0.001)
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>8} {:>14} {:>16} {:>9}",
            "process", "pid", "peak RSS MiB", "sampled max MiB", "CPU s"
        );
        for p in &self.processes {
            let _ = writeln!(
                out,
                "{:<50} {:>8} {:>14.1} {:>16.1} {:>9.1}",
                p.name, p.pid, p.peak_rss_mib, p.peak_sampled_rss_mib, p.cpu_seconds
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>8} {:>14} {:>16} {:>9.1}",
            "load generator (this process)",
            std::process::id(),
            "-",
            "-",
            self.generator_cpu_seconds
        );
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: 0");
        } else {
            let _ = writeln!(
                out,
                "errors: {} in {} classes",
                self.error_count(),
                self.errors.len()
            );
            for (class, e) in &self.errors {
                let _ = writeln!(out, "  {class}: {} (first: {})", e.count, e.example);
            }
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "topology": self.topology,
            "config": self.config,
            "window_seconds": self.window_seconds,
            "ops": self.ops.iter().map(|(k, o)| (k.clone(), json!({
                "count": o.count,
                "per_second": o.per_second,
                "p50_ms": o.p50_ms,
                "p99_ms": o.p99_ms,
                "max_ms": o.max_ms,
            }))).collect::<serde_json::Map<_, _>>(),
            "counters": self.counters,
            "error_count": self.error_count(),
            "errors": self.errors.iter().map(|(k, e)| (k.clone(), json!({
                "count": e.count,
                "example": e.example,
            }))).collect::<serde_json::Map<_, _>>(),
            "processes": self.processes.iter().map(|p| json!({
                "name": p.name,
                "pid": p.pid,
                "peak_rss_mib": p.peak_rss_mib,
                "peak_sampled_rss_mib": p.peak_sampled_rss_mib,
                "cpu_seconds": p.cpu_seconds,
            })).collect::<Vec<_>>(),
            "generator_cpu_seconds": self.generator_cpu_seconds,
            "notes": self.notes,
        })
    }
}

// --- recording ---------------------------------------------------------------------------

#[derive(Default)]
struct Recorder {
    latencies: Mutex<HashMap<&'static str, Vec<u32>>>,
    counters: Mutex<BTreeMap<&'static str, u64>>,
    errors: Mutex<BTreeMap<String, ErrorClass>>,
}

impl Recorder {
    fn ok(&self, op: &'static str, started: Instant) {
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        lock(&self.latencies).entry(op).or_default().push(micros);
    }

    fn add(&self, counter: &'static str, n: u64) {
        *lock(&self.counters).entry(counter).or_default() += n;
    }

    /// One error of class `<op>: <kind>`.
    fn error(&self, op: &str, kind: &str, message: impl std::fmt::Display) {
        let mut errors = lock(&self.errors);
        let class = errors.entry(format!("{op}: {kind}")).or_insert(ErrorClass {
            count: 0,
            example: String::new(),
        });
        class.count += 1;
        if class.example.is_empty() {
            let mut text = message.to_string().replace('\n', " ");
            text.truncate(300);
            class.example = text;
        }
    }

    fn status(&self, op: &str, status: &tonic::Status) {
        self.error(op, &format!("{:?}", status.code()), status.message());
    }
}

/// How long one call (or one stream's first answer) may take before it counts as an error.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// `call`, or DEADLINE_EXCEEDED after [`CALL_TIMEOUT`].
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(format!(
                "no answer in {CALL_TIMEOUT:?}"
            )))
        })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

// --- process figures -----------------------------------------------------------------------

/// A `/proc/<pid>/status` field in MiB (`VmRSS`, `VmHWM`); 0 when unreadable.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU time (user + system) of a process from `/proc/<pid>/stat`, at 100 ticks a second.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

// --- setup ---------------------------------------------------------------------------------

/// A server the simulated agents talk to.
#[derive(Clone)]
struct Target {
    addr: std::net::SocketAddr,
    bundle: Arc<X509Bundle>,
    admin: Channel,
}

struct Daemons {
    domain: Domain,
    second: Option<ServerProcess>,
    database: Option<(String, String)>,
}

/// Creates database `name` in the cluster at `admin_url`; the URL of the new database.
async fn create_database(admin_url: &str, name: &str) -> io::Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|e| io::Error::other(format!("connect to PostgreSQL at the admin URL: {e}")))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| io::Error::other(format!("CREATE DATABASE {name}: {e}")))?;
    let (base, _) = admin_url
        .split('?')
        .next()
        .unwrap_or(admin_url)
        .rsplit_once('/')
        .ok_or_else(|| io::Error::other("the PostgreSQL URL names no database"))?;
    Ok(format!("{base}/{name}"))
}

async fn drop_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await;
    }
}

async fn join_token(admin: &Channel) -> Result<String, tonic::Status> {
    Ok(AgentClient::new(admin.clone())
        .create_join_token(CreateJoinTokenRequest {
            ttl: 3600,
            ..Default::default()
        })
        .await?
        .into_inner()
        .value)
}

fn spiffeid(path: &str) -> types::Spiffeid {
    types::Spiffeid {
        trust_domain: TRUST_DOMAIN.into(),
        path: path.into(),
    }
}

/// Creates `per_agent` entries under each of `tokens`' agents, 500 per call.
async fn create_agent_entries(
    admin: &Channel,
    tokens: &[String],
    per_agent: usize,
) -> io::Result<()> {
    let mut entries = Vec::new();
    for (a, token) in tokens.iter().enumerate() {
        for n in 0..per_agent {
            entries.push(types::Entry {
                spiffe_id: Some(spiffeid(&format!("/load/agent{a}/w{n}"))),
                parent_id: Some(spiffeid(&format!("/spire/agent/join_token/{token}"))),
                selectors: vec![types::Selector {
                    r#type: "unix".into(),
                    value: format!("uid:{}", 10_000 + n),
                }],
                ..Default::default()
            });
        }
    }
    for chunk in entries.chunks(500) {
        let response = EntryClient::new(admin.clone())
            .batch_create_entry(BatchCreateEntryRequest {
                entries: chunk.to_vec(),
                output_mask: None,
            })
            .await
            .map_err(|s| io::Error::other(format!("BatchCreateEntry: {s}")))?
            .into_inner();
        for result in response.results {
            let status = result.status.unwrap_or_default();
            if status.code != 0 {
                return Err(io::Error::other(format!(
                    "BatchCreateEntry: code {}: {}",
                    status.code, status.message
                )));
            }
        }
    }
    Ok(())
}

fn server_config(config: &mut ServerConfigFile, load: &LoadConfig, datastore: &DataStoreKind) {
    config.trust_domain = TRUST_DOMAIN.into();
    config.datastore = datastore.clone();
    config.cache_reload_interval = Some(load.cache_reload_interval.clone());
    config.extra_server = RATELIMIT_OFF.into();
}

/// Starts the daemons: the domain (server A and the real agent), server B on PostgreSQL, and
/// the workload entries, waiting until the agent serves them.
fn start_daemons(
    dir: &Path,
    load: &LoadConfig,
    rt: &tokio::runtime::Runtime,
) -> io::Result<(Daemons, Vec<String>)> {
    let (datastore, database) = match &load.topology {
        Topology::Sqlite => (DataStoreKind::Sqlite, None),
        Topology::Postgres(admin_url) => {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let name = format!(
                "load_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let url = rt.block_on(create_database(admin_url, &name))?;
            (
                DataStoreKind::Postgres(url),
                Some((admin_url.clone(), name)),
            )
        }
    };
    let domain = Domain::start(dir, TRUST_DOMAIN, |server, agent| {
        server_config(server, load, &datastore);
        // DEBUG lines for every workload call would cost the agent (and this process, which
        // keeps the output) more than the calls.
        agent.log_level = "INFO".into();
    })?;
    let second = match &load.topology {
        Topology::Sqlite => None,
        Topology::Postgres(_) => {
            let mut config = ServerConfigFile::new(&dir.join("server-b"));
            server_config(&mut config, load, &datastore);
            Some(ServerProcess::start(&ServerProcess::binary(), &config)?)
        }
    };
    let daemons = Daemons {
        domain,
        second,
        database,
    };

    let uid = current_uid();
    let gid = std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.gid()
    });
    let ttls = [
        "-x509SVIDTTL".to_owned(),
        load.workload_x509_ttl.to_string(),
        "-jwtSVIDTTL".to_owned(),
        load.workload_jwt_ttl.to_string(),
    ];
    let ttls: Vec<&str> = ttls.iter().map(String::as_str).collect();
    let mut ids = Vec::new();
    for n in 0..load.workload_entries.max(1) {
        let id = format!("spiffe://{TRUST_DOMAIN}/load/workload/{n}");
        let selector = if n % 2 == 1 {
            format!("unix:gid:{gid}")
        } else {
            format!("unix:uid:{uid}")
        };
        daemons.domain.create_entry(&id, &[&selector], &ttls)?;
        ids.push(id);
    }
    // Every workload entry has reached the agent once the last one is served.
    if let Some(last) = ids.last() {
        daemons.domain.wait_for_svid(last)?;
    }
    Ok((daemons, ids))
}

// --- the load ------------------------------------------------------------------------------

fn workload_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        SECURITY_HEADER,
        tonic::metadata::MetadataValue::from_static("true"),
    );
    request
}

/// Checks that `got` names exactly the `expected` SPIFFE IDs.
fn same_ids<'a>(got: impl Iterator<Item = &'a str>, expected: &[String]) -> Result<(), String> {
    let mut got: Vec<&str> = got.collect();
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    if got == want {
        Ok(())
    } else {
        Err(format!("got SVIDs for {got:?}, expected {want:?}"))
    }
}

/// One Workload API client: its `FetchX509SVID` streams until `deadline`.
async fn x509_streams(
    client: SpiffeWorkloadApiClient<Channel>,
    expected: Arc<Vec<String>>,
    lifetime: Duration,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut stream = match bounded(
            client
                .clone()
                .fetch_x509svid(workload_request(proto::X509svidRequest {})),
        )
        .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => {
                rec.status(op::FETCH_X509, &s);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut first = true;
        let close_at = (started + lifetime).min(deadline);
        loop {
            let message = match tokio::time::timeout_at(close_at, stream.message()).await {
                Err(_) => break, // the stream's time is up: close it, open the next
                Ok(Ok(Some(m))) => m,
                Ok(Ok(None)) => {
                    rec.error(op::FETCH_X509, "stream ended", "the agent ended the stream");
                    break;
                }
                Ok(Err(s)) => {
                    rec.status(op::FETCH_X509, &s);
                    break;
                }
            };
            match same_ids(
                message.svids.iter().map(|s| s.spiffe_id.as_str()),
                &expected,
            ) {
                Ok(()) if first => rec.ok(op::FETCH_X509, started),
                Ok(()) => rec.add(counter::X509_UPDATES, 1),
                Err(e) => rec.error(op::FETCH_X509, "wrong SVIDs", e),
            }
            first = false;
        }
    }
}

/// One Workload API client: `FetchJWTSVID` every `interval` until `deadline`.
async fn jwt_calls(
    client: SpiffeWorkloadApiClient<Channel>,
    audience: String,
    expected: Arc<Vec<String>>,
    interval: Duration,
    first_at: Instant,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    let mut at = first_at;
    while at < deadline {
        tokio::time::sleep_until(at).await;
        // A slow answer makes the missed slots lapse: no catching up after the deadline.
        at = (at + interval).max(Instant::now());
        if Instant::now() >= deadline {
            return;
        }
        let started = Instant::now();
        let request = workload_request(proto::JwtsvidRequest {
            audience: vec![audience.clone()],
            spiffe_id: String::new(),
        });
        match bounded(client.clone().fetch_jwtsvid(request)).await {
            Ok(r) => {
                let svids = r.into_inner().svids;
                if svids.iter().any(|s| s.svid.split('.').count() != 3) {
                    rec.error(op::FETCH_JWT, "malformed token", "a JWT-SVID is not a JWS");
                } else {
                    match same_ids(svids.iter().map(|s| s.spiffe_id.as_str()), &expected) {
                        Ok(()) => rec.ok(op::FETCH_JWT, started),
                        Err(e) => rec.error(op::FETCH_JWT, "wrong SVIDs", e),
                    }
                }
            }
            Err(s) => rec.status(op::FETCH_JWT, &s),
        }
    }
}

/// One `SyncAuthorizedEntries` exchange as an agent holding `known` (id → revision) runs it;
/// `known` is updated with what came in full. Returns the entries received in full.
async fn sync(channel: &Channel, known: &mut HashMap<String, i64>) -> Result<usize, tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let _ = tx.send(SyncAuthorizedEntriesRequest::default()).await;
    let mut stream = EntryClient::new(channel.clone())
        .sync_authorized_entries(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut full = 0;
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    let mut take = |message: spire_api_proto::server::entry::v1::SyncAuthorizedEntriesResponse,
                    known: &mut HashMap<String, i64>,
                    seen: &mut HashSet<String>,
                    wanted: &mut Vec<String>| {
        for entry in message.entries {
            full += 1;
            seen.insert(entry.id.clone());
            known.insert(entry.id, entry.revision_number);
        }
        for revision in message.entry_revisions {
            seen.insert(revision.id.clone());
            if known.get(&revision.id) != Some(&revision.revision_number) {
                wanted.push(revision.id);
            }
        }
        message.more
    };
    loop {
        let Some(message) = stream.message().await? else {
            return Err(tonic::Status::unknown("the server ended the sync early"));
        };
        if !take(message, known, &mut seen, &mut wanted) {
            break;
        }
    }
    if !wanted.is_empty() {
        let ids = std::mem::take(&mut wanted);
        let _ = tx
            .send(SyncAuthorizedEntriesRequest {
                ids,
                ..Default::default()
            })
            .await;
        loop {
            let Some(message) = stream.message().await? else {
                return Err(tonic::Status::unknown("the server ended the sync early"));
            };
            if !take(message, known, &mut seen, &mut wanted) {
                break;
            }
        }
    }
    drop(tx);
    // Entries no longer authorized are forgotten, as an agent does.
    known.retain(|id, _| seen.contains(id));
    Ok(full)
}

/// `join_token` attestation on a new TLS connection, as `spiffe_server::testing::agent`'s
/// `attest_join_token` does it, with the attestor's state dropped before the first await so
/// that the future can run on any worker thread.
async fn attest_join_token(
    target: &Target,
    token: &str,
    csr: Vec<u8>,
    key_pkcs8: &[u8],
) -> Result<X509Svid, tonic::Status> {
    use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent};
    use spiffe_attest::node::NodeAttestorAgent;
    let (name, payload) = {
        let token = JoinToken::new(token)
            .map_err(|e| tonic::Status::invalid_argument(format!("join token: {e}")))?;
        let agent = JoinTokenAgent::new(token);
        let payload = agent
            .begin()
            .and_then(|mut attempt| attempt.payload())
            .map_err(|e| tonic::Status::internal(format!("join token payload: {e}")))?;
        (agent.name(), payload)
    };
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let _ = tx
        .send(AttestAgentRequest {
            step: Some(RequestStep::Params(Params {
                data: Some(types::AttestationData {
                    r#type: name.into(),
                    payload,
                }),
                params: Some(AgentX509svidParams { csr }),
            })),
        })
        .await;
    let mut responses = AgentClient::new(tls_channel(target.addr, target.bundle.clone()))
        .attest_agent(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let step = responses.message().await?.and_then(|m| m.step);
    drop(tx);
    let Some(ResponseStep::Result(result)) = step else {
        return Err(tonic::Status::internal("the server answered no result"));
    };
    let chain: Vec<u8> = result
        .svid
        .ok_or_else(|| tonic::Status::internal("no SVID in the result"))?
        .cert_chain
        .concat();
    X509Svid::parse_der(&chain, key_pkcs8).map_err(|e| tonic::Status::internal(e.to_string()))
}

/// The schedule of one simulated agent.
#[derive(Clone, Copy)]
struct AgentSchedule {
    expected_entries: usize,
    sync: Duration,
    svid: Duration,
    renew: Duration,
}

/// One simulated agent from attestation until `deadline`.
async fn simulated_agent(
    target: Target,
    token: String,
    schedule: AgentSchedule,
    start_at: Instant,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    // Keys made before the clock starts: one for the agent, one per entry (reused each round,
    // the server does not care), and the next agent key.
    let (agent_csr, agent_key) = csr();
    let entry_csrs: Vec<Vec<u8>> = (0..schedule.expected_entries).map(|_| csr().0).collect();
    let mut next_key = csr();
    tokio::time::sleep_until(start_at).await;

    let started = Instant::now();
    let svid = match bounded(attest_join_token(&target, &token, agent_csr, &agent_key)).await {
        Ok(svid) => {
            rec.ok(op::ATTEST, started);
            svid
        }
        Err(s) => {
            rec.status(op::ATTEST, &s);
            return;
        }
    };
    let mut channel = mtls_channel(target.addr, target.bundle.clone(), &svid);
    let mut known: HashMap<String, i64> = HashMap::new();
    let now = Instant::now();
    let (mut next_sync, mut next_svid, mut next_renew) =
        (now, now + schedule.svid / 2, now + schedule.renew);
    loop {
        let at = next_sync.min(next_svid).min(next_renew);
        if at >= deadline || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(at).await;
        // Slow answers make missed slots lapse instead of queueing calls past the deadline.
        let now = Instant::now();
        if now >= next_sync {
            next_sync = (next_sync + schedule.sync).max(now);
            let started = Instant::now();
            match bounded(sync(&channel, &mut known)).await {
                Ok(full) => {
                    rec.ok(op::SYNC, started);
                    rec.add(counter::ENTRIES_SYNCED, full as u64);
                    if known.len() != schedule.expected_entries {
                        rec.error(
                            op::SYNC,
                            "wrong entry count",
                            format!(
                                "{} authorized entries, expected {}",
                                known.len(),
                                schedule.expected_entries
                            ),
                        );
                    }
                }
                Err(s) => rec.status(op::SYNC, &s),
            }
        }
        if now >= next_svid && !known.is_empty() {
            next_svid = (next_svid + schedule.svid).max(now);
            let params = known
                .keys()
                .zip(entry_csrs.iter().cycle())
                .map(|(id, csr)| NewX509svidParams {
                    entry_id: id.clone(),
                    csr: csr.clone(),
                })
                .collect::<Vec<_>>();
            let wanted = params.len();
            let started = Instant::now();
            match bounded(
                SvidClient::new(channel.clone())
                    .batch_new_x509svid(BatchNewX509svidRequest { params }),
            )
            .await
            {
                Ok(r) => {
                    let results = r.into_inner().results;
                    let minted = results.iter().filter(|r| r.svid.is_some()).count();
                    if minted == wanted {
                        rec.ok(op::BATCH_SVID, started);
                    }
                    rec.add(counter::SVIDS_SIGNED, minted as u64);
                    for result in results.iter().filter(|r| r.svid.is_none()) {
                        let status = result.status.clone().unwrap_or_default();
                        rec.error(
                            op::BATCH_SVID,
                            &format!("result code {}", status.code),
                            status.message,
                        );
                    }
                    if results.len() != wanted {
                        rec.error(
                            op::BATCH_SVID,
                            "wrong result count",
                            format!("{} results for {wanted} params", results.len()),
                        );
                    }
                }
                Err(s) => rec.status(op::BATCH_SVID, &s),
            }
        } else if now >= next_svid {
            next_svid = (next_svid + schedule.svid).max(now);
        }
        if now >= next_renew {
            next_renew = (next_renew + schedule.renew).max(now);
            let (csr_der, key) = std::mem::replace(&mut next_key, csr());
            let started = Instant::now();
            let renewed = bounded(AgentClient::new(channel.clone()).renew_agent(
                RenewAgentRequest {
                    params: Some(AgentX509svidParams { csr: csr_der }),
                },
            ))
            .await;
            match renewed {
                Ok(r) => {
                    let chain: Vec<u8> = r
                        .into_inner()
                        .svid
                        .map(|s| s.cert_chain.concat())
                        .unwrap_or_default();
                    match X509Svid::parse_der(&chain, &key) {
                        Ok(svid) => {
                            rec.ok(op::RENEW, started);
                            // As an agent: the next calls go over a connection with the new SVID.
                            channel = mtls_channel(target.addr, target.bundle.clone(), &svid);
                        }
                        Err(e) => rec.error(op::RENEW, "bad SVID", e),
                    }
                }
                Err(s) => rec.status(op::RENEW, &s),
            }
        }
    }
}

/// Samples each daemon's `VmRSS` every 250 ms until `stop`; the highest per pid.
async fn sample_rss(pids: Vec<u32>, stop: Arc<tokio::sync::Notify>) -> HashMap<u32, f64> {
    let mut peaks: HashMap<u32, f64> = pids.iter().map(|p| (*p, 0.0)).collect();
    loop {
        for (pid, peak) in peaks.iter_mut() {
            *peak = peak.max(status_mib(*pid, "VmRSS"));
        }
        tokio::select! {
            () = stop.notified() => return peaks,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
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
