//! The fault suite's network and database faults, with real daemon processes:
//!
//! - a flaky connection between an agent and its server (a [`FlakyProxy`] the agent dials:
//!   delayed bytes, resets, refused and stalled connections, cuts mid-stream) while SVIDs
//!   live 30 s: the workloads never see a failure or an expired SVID, SVIDs keep rotating,
//!   and an entry created meanwhile reaches the agent; and an outage timed on the agent's own
//!   renewal, which the agent must retry before its SVID expires; and a connection that goes
//!   silent, which the agent must replace after one timed-out call ([`silent`]);
//! - PostgreSQL stopped and started again under two servers sharing it while both take
//!   entry writes: writes during the outage fail with UNAVAILABLE in bounded time, both
//!   servers recover without a restart, and every acknowledged write is there exactly once,
//!   read through either server.
//!
//! Needs `cargo build -p spiffe-server -p spiffe-agent` first; the PostgreSQL test also needs
//! PostgreSQL (see its comment).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daemon_harness::{
    agent_cli, current_uid, DataStoreKind, Domain, Fault, FlakyProxy, PgCluster, ServerConfigFile,
    ServerProcess, Step,
};
use spiffe_core::X509Svid;
use spiffe_workload::proto::X509svidRequest;
use spiffe_workload::{response, EndpointAddress, WorkloadApiClient, X509Context, SECURITY_HEADER};
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{BatchCreateEntryRequest, ListEntriesRequest};
use spire_api_proto::types;
use tokio::sync::watch;
use tonic::transport::Channel;

mod silent;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

// === a flaky connection between agent and server ===

const TD: &str = "faults.test";
const WORKLOAD: &str = "spiffe://faults.test/workload";
const LATE: &str = "spiffe://faults.test/created-while-flaky";
/// The servers' `default_x509_svid_ttl`: agent and workload SVIDs alike; the agent renews
/// them at half-life (15 s ± 10%), so several rotations fall in the flaky period.
const SVID_TTL_SECS: u64 = 30;

/// A trust domain whose agent dials its server through a [`FlakyProxy`] (healthy for now),
/// `extra_server` added to the server's config, and the agent already serving [`WORKLOAD`] to
/// this uid; with the proxy and the workload's selector.
fn domain_behind_proxy(dir: &Path, extra_server: String) -> (Domain, FlakyProxy, String) {
    let mut proxy = None;
    let domain = Domain::start(dir, TD, |server, agent| {
        server.extra_server = extra_server;
        let p = FlakyProxy::start(server.tcp_addr()).expect("start the proxy");
        agent.server_port = p.port();
        proxy = Some(p);
    })
    .unwrap();
    let proxy = proxy.expect("the proxy was started");
    let selector = format!("unix:uid:{}", current_uid());
    domain.create_entry(WORKLOAD, &[&selector], &[]).unwrap();
    domain.wait_for_svid(WORKLOAD).unwrap();
    (domain, proxy, selector)
}

/// One SVID a workload was handed.
#[derive(Debug, Clone)]
struct Seen {
    /// When it was received (Unix seconds).
    at: u64,
    spiffe_id: String,
    serial: String,
    not_before: u64,
    not_after: u64,
}

/// What the workloads saw; every failure is a test failure.
#[derive(Debug, Default)]
struct Observed {
    failures: Vec<String>,
    seen: Vec<Seen>,
    stream_updates: u64,
    fetches: u64,
    cli_fetches: u64,
}

impl Observed {
    fn svid(&mut self, by: &str, svid: &X509Svid) {
        let now = unix_now();
        let leaf = svid.leaf();
        let not_after = leaf.not_after().as_secs();
        // The SVID served must be valid now: never an expired one from the cache.
        if not_after <= now {
            self.failures.push(format!(
                "{by}: expired SVID {} (serial {}, not after {not_after}, now {now})",
                svid.spiffe_id(),
                leaf.serial_hex()
            ));
        }
        self.seen.push(Seen {
            at: now,
            spiffe_id: svid.spiffe_id().to_string(),
            serial: leaf.serial_hex(),
            not_before: leaf.not_before().as_secs(),
            not_after,
        });
    }

    fn context(&mut self, by: &str, context: &X509Context) {
        if context.svids.is_empty() {
            self.failures.push(format!("{by}: no SVID"));
        }
        for entry in &context.svids {
            self.svid(by, &entry.svid);
        }
    }

    /// The distinct serials of `spiffe_id` first received in `from..=to` (Unix seconds).
    fn new_serials(&self, spiffe_id: &str, from: u64, to: u64) -> BTreeSet<String> {
        let before: BTreeSet<&str> = self
            .seen
            .iter()
            .filter(|s| s.spiffe_id == spiffe_id && s.at < from)
            .map(|s| s.serial.as_str())
            .collect();
        self.seen
            .iter()
            .filter(|s| s.spiffe_id == spiffe_id && (from..=to).contains(&s.at))
            .filter(|s| !before.contains(s.serial.as_str()))
            .map(|s| s.serial.clone())
            .collect()
    }
}

/// A workload holding one `FetchX509SVID` stream open for the whole test: every message is
/// checked; an error or the end of the stream is a failure (the agent must keep it open).
async fn hold_stream(
    client: WorkloadApiClient,
    observed: Arc<Mutex<Observed>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut request = tonic::Request::new(X509svidRequest {});
    request
        .metadata_mut()
        .insert(SECURITY_HEADER, "true".parse().expect("an ASCII value"));
    let mut stream = match client.grpc_without_header().fetch_x509svid(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            observed
                .lock()
                .unwrap()
                .failures
                .push(format!("stream: not opened: {status}"));
            return;
        }
    };
    loop {
        let message = tokio::select! {
            message = stream.message() => message,
            _ = stop.wait_for(|s| *s) => return,
        };
        let mut observed = observed.lock().unwrap();
        match message {
            Ok(Some(message)) => match response::x509_context(message) {
                Ok(context) => {
                    observed.stream_updates += 1;
                    observed.context("stream", &context);
                }
                Err(e) => observed.failures.push(format!("stream: malformed: {e}")),
            },
            Ok(None) => {
                observed.failures.push("stream: ended by the agent".into());
                return;
            }
            Err(status) => {
                observed.failures.push(format!("stream: {status}"));
                return;
            }
        }
    }
}

/// A workload fetching (a new `FetchX509SVID` call, first message) every 500 ms.
async fn fetch_repeatedly(
    client: WorkloadApiClient,
    observed: Arc<Mutex<Observed>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let fetched =
            tokio::time::timeout(Duration::from_secs(5), client.fetch_x509_context()).await;
        {
            let mut observed = observed.lock().unwrap();
            observed.fetches += 1;
            match fetched {
                Ok(Ok(context)) => observed.context("fetch", &context),
                Ok(Err(e)) => observed.failures.push(format!("fetch: {e}")),
                Err(_) => observed.failures.push("fetch: no answer in 5 s".into()),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// `spiffe-agent api fetch x509 -write <dir>` until `stop`, each SVID written read back and
/// checked.
fn fetch_with_cli(
    socket: &str,
    dir: &Path,
    observed: &Mutex<Observed>,
    stop: &watch::Receiver<bool>,
) {
    std::fs::create_dir_all(dir).unwrap();
    let dir_arg = dir.display().to_string();
    while !*stop.borrow() {
        let out = agent_cli(&[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket,
            "-write",
            &dir_arg,
        ]);
        let svid = out.status.success().then(|| {
            X509Svid::parse_pem(
                &std::fs::read(dir.join("svid.0.pem")).unwrap_or_default(),
                &std::fs::read(dir.join("svid.0.key")).unwrap_or_default(),
            )
        });
        let mut observed = observed.lock().unwrap();
        observed.cli_fetches += 1;
        match svid {
            Some(Ok(svid)) => observed.svid("cli", &svid),
            Some(Err(e)) => observed.failures.push(format!("cli: unreadable SVID: {e}")),
            None => observed.failures.push(format!(
                "cli: {} {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
        drop(observed);
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The agent reaches its server through a proxy that, for 28 s, delays bytes, resets every
/// connection and refuses new ones, cuts connections after a few kilobytes, stalls them, and
/// goes down again; SVIDs live 30 s. A workload holding a stream, one fetching every 500 ms
/// and the CLI fetching every 2 s never see a failure or an expired SVID; SVIDs rotate during
/// the flakiness and again once the network is healthy; an entry created while the network
/// was down reaches the workload.
#[test]
fn a_flaky_connection_to_the_server_never_fails_a_workload() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (mut domain, proxy, selector) = domain_behind_proxy(
        dir.path(),
        format!("    default_x509_svid_ttl = \"{SVID_TTL_SECS}s\"\n"),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let observed = Arc::new(Mutex::new(Observed::default()));
    let (stop_tx, stop) = watch::channel(false);
    let socket = domain.agent_config.socket_arg();
    let address = EndpointAddress::parse(&format!("unix://{socket}")).unwrap();
    let client = runtime
        .block_on(WorkloadApiClient::connect(&address))
        .unwrap();
    let stream = runtime.spawn(hold_stream(client.clone(), observed.clone(), stop.clone()));
    let fetcher = runtime.spawn(fetch_repeatedly(client, observed.clone(), stop.clone()));
    let cli = {
        let (socket, observed, stop) = (socket.clone(), observed.clone(), stop.clone());
        let out = dir.path().join("cli");
        std::thread::spawn(move || fetch_with_cli(&socket, &out, &observed, &stop))
    };
    std::thread::sleep(Duration::from_secs(2));

    // The flaky period. The longest stretch without a working connection (down, then cut
    // after a few kilobytes) stays under the half-life left at a renewal.
    let flaky_from = unix_now();
    let schedule = proxy.play(vec![
        Step::new(
            Fault::Delay(Duration::from_millis(300)),
            Duration::from_secs(6),
        ),
        Step::new(Fault::Down, Duration::from_secs(5)),
        Step::new(
            Fault::CutAfter {
                min_bytes: 1_500,
                max_bytes: 12_000,
            },
            Duration::from_secs(5),
        ),
        Step::new(Fault::Stall, Duration::from_secs(2)),
        // Slow but working: long enough for a sync round (a few calls, each delayed both
        // ways) between the stalls and the last outage.
        Step::new(
            Fault::Delay(Duration::from_millis(300)),
            Duration::from_secs(6),
        ),
        Step::new(Fault::Down, Duration::from_secs(4)),
    ]);
    // While the server is unreachable, an entry for the workload is created.
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(proxy.fault(), Fault::Down);
    domain.create_entry(LATE, &[&selector], &[]).unwrap();
    schedule.join().expect("the schedule ran");
    let flaky_to = unix_now();
    let stats = proxy.stats();

    // Healthy again: the late entry arrives and the workload's SVID rotates again (a serial
    // first seen after the flaky period, valid longer than any seen before).
    let deadline = Instant::now() + Duration::from_secs(45);
    let (late_seen, rotated_after) = loop {
        let (late_seen, rotated_after) = {
            let o = observed.lock().unwrap();
            let latest_before = o
                .seen
                .iter()
                .filter(|s| s.spiffe_id == WORKLOAD && s.at <= flaky_to)
                .map(|s| s.not_after)
                .max()
                .unwrap_or(0);
            let late_seen = o.seen.iter().any(|s| s.spiffe_id == LATE);
            let rotated_after =
                o.seen.iter().any(|s| {
                    s.spiffe_id == WORKLOAD && s.at > flaky_to && s.not_after > latest_before
                }) && !o.new_serials(WORKLOAD, flaky_to + 1, u64::MAX).is_empty();
            (late_seen, rotated_after)
        };
        if (late_seen && rotated_after) || Instant::now() >= deadline {
            break (late_seen, rotated_after);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    stop_tx.send_replace(true);
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), stream).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), fetcher).await;
    });
    cli.join().expect("the CLI fetcher ran");

    let agent_alive = domain.agent.try_wait().unwrap().is_none();
    let agent_log = domain.agent.output();
    let observed = observed.lock().unwrap();
    let rotations_while_flaky = observed.new_serials(WORKLOAD, flaky_from, flaky_to);
    let context = || {
        format!(
            "proxy: {stats:?}\nfailures: {:#?}\nseen: {:#?}\n--- agent ---\n{agent_log}",
            observed.failures, observed.seen
        )
    };
    assert!(agent_alive, "the agent exited\n{}", context());
    assert!(
        observed.failures.is_empty(),
        "workloads saw failures\n{}",
        context()
    );
    // The faults happened: connections were cut, the agent reconnected, and it noticed.
    assert!(stats.cut >= 2 && stats.accepted >= 3, "{}", context());
    assert!(
        agent_log.contains("sync with the server failed"),
        "the agent never noticed the faults\n{}",
        context()
    );
    assert!(
        !rotations_while_flaky.is_empty(),
        "no rotation during the flaky period\n{}",
        context()
    );
    assert!(
        late_seen,
        "the entry created while flaky never arrived\n{}",
        context()
    );
    assert!(rotated_after, "no rotation once healthy\n{}", context());
    assert!(
        observed.stream_updates >= 3 && observed.fetches >= 40 && observed.cli_fetches >= 10,
        "the workloads did not fetch enough to prove anything\n{}",
        context()
    );
    // The agent's own SVID (same 30 s TTL) was renewed through the flaky network too.
    let agent_renewals = agent_log.matches("Successfully rotated agent SVID").count();
    assert!(
        agent_renewals >= 1,
        "the agent never renewed its SVID\n{}",
        context()
    );
    // Nothing served was issued before it was valid either (clock sanity of the chain).
    assert!(observed.seen.iter().all(|s| s.not_before < s.not_after));
    eprintln!(
        "flaky: {} s, {} workload rotations while flaky, {agent_renewals} agent SVID renewals, \
         {} sync failures logged, {} stream updates, {} fetches, {} CLI fetches, proxy \
         {stats:?}; whole test {:.1} s",
        flaky_to - flaky_from,
        rotations_while_flaky.len(),
        agent_log.matches("sync with the server failed").count(),
        observed.stream_updates,
        observed.fetches,
        observed.cli_fetches,
        started.elapsed().as_secs_f64()
    );
}

/// The agent's SVID as stored in its `data_dir`: (not_after, when it was written); `None`
/// while the files are being rewritten.
fn stored_agent_svid(domain: &Domain) -> Option<(u64, u64)> {
    let data = &domain.agent_config.data_dir;
    let pem = data.join("agent_svid.pem");
    let svid = X509Svid::parse_pem(
        &std::fs::read(&pem).ok()?,
        &std::fs::read(data.join("agent_svid.key")).ok()?,
    )
    .ok()?;
    let written = std::fs::metadata(&pem)
        .ok()?
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some((svid.leaf().not_after().as_secs(), written))
}

/// Waits (at most a minute) for a stored agent SVID other than one expiring at `not_after`.
fn next_agent_svid(domain: &Domain, not_after: u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match stored_agent_svid(domain) {
            Some(svid) if svid.0 != not_after => return svid,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the agent SVID was not renewed\n{}",
            domain.agent.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The server is unreachable for 8 s from just before the agent's renewal is due (half its
/// 30 s SVID's life left): the renewal fails, and the agent must retry in the 7 s that remain
/// once the network is back, not after its SVID expired. Its workload keeps a valid SVID and
/// an entry created afterwards reaches it.
#[test]
fn an_outage_at_the_agent_renewal_is_ridden_out() {
    let dir = tempfile::tempdir().unwrap();
    let (domain, proxy, selector) = domain_behind_proxy(
        dir.path(),
        format!("    default_x509_svid_ttl = \"{SVID_TTL_SECS}s\"\n"),
    );

    // The agent renews at half the life left when it got the SVID; if the set-up took too
    // long for this one (a loaded machine), the next one.
    let (mut first_not_after, mut written) = next_agent_svid(&domain, 0);
    let due = loop {
        let due = written + first_not_after.saturating_sub(written) / 2;
        if unix_now() + 2 <= due {
            break due;
        }
        (first_not_after, written) = next_agent_svid(&domain, first_not_after);
    };
    while unix_now() + 1 < due {
        std::thread::sleep(Duration::from_millis(100));
    }
    proxy.set(Fault::Down);
    std::thread::sleep(Duration::from_secs(8));
    proxy.set(Fault::Healthy);
    let healthy_at = unix_now();
    assert!(
        healthy_at + 4 < first_not_after,
        "the outage ended too late to prove anything ({healthy_at}, expiry {first_not_after})"
    );

    // Renewed before the old SVID expired.
    let deadline =
        Instant::now() + Duration::from_secs(first_not_after.saturating_sub(unix_now()) + 5);
    loop {
        let (not_after, written) = stored_agent_svid(&domain).unwrap_or_default();
        if not_after > first_not_after {
            assert!(
                written <= first_not_after,
                "renewed only after the agent SVID expired (at {written}, expiry {first_not_after})\n{}",
                domain.agent.output()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent SVID was not renewed after the outage (expired at {first_not_after})\n{}",
            domain.agent.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And the agent keeps syncing: a new entry arrives.
    domain.create_entry(LATE, &[&selector], &[]).unwrap();
    domain.wait_for_svid(LATE).unwrap();
}

// === PostgreSQL restarted under two servers ===

/// One write's outcome.
#[derive(Debug, Clone)]
struct Write {
    id: String,
    /// When it was sent, from the start of the writes.
    sent: Duration,
    took: Duration,
    /// `Ok` when acknowledged; else the gRPC code and message (the RPC's or the entry's).
    result: Result<(), (tonic::Code, String)>,
}

fn entry(id: &str, path: &str) -> types::Entry {
    types::Entry {
        id: id.into(),
        spiffe_id: Some(types::Spiffeid {
            trust_domain: "example.org".into(),
            path: path.into(),
        }),
        parent_id: Some(types::Spiffeid {
            trust_domain: "example.org".into(),
            path: "/spire/agent/pg-restart".into(),
        }),
        selectors: vec![types::Selector {
            r#type: "unix".into(),
            value: "uid:1000".into(),
        }],
        ..Default::default()
    }
}

/// How long a server waits for a PostgreSQL connection before answering UNAVAILABLE
/// (`PG_ACQUIRE_TIMEOUT` in the server's datastore).
const DB_WAIT: Duration = Duration::from_secs(5);
/// How long PostgreSQL stays down: long enough that each writer, blocked `DB_WAIT` at a time,
/// sends a write that cannot be served before PostgreSQL is back (`DB_WAIT` + 1 s before the
/// end), which must fail.
const OUTAGE: Duration = Duration::from_secs(13);
/// How long the test waits for a write's answer before recording it as hanging.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Creates entries one at a time through `admin` until `stop`, recording each outcome.
async fn write_entries(
    admin: Channel,
    name: String,
    origin: Instant,
    writes: Arc<Mutex<Vec<Write>>>,
    mut stop: watch::Receiver<bool>,
) {
    for i in 0.. {
        if *stop.borrow() {
            return;
        }
        let id = format!("{name}-{i:04}");
        let request = BatchCreateEntryRequest {
            entries: vec![entry(&id, &format!("/pg/{name}/{i}"))],
            output_mask: None,
        };
        let sent = Instant::now();
        let answer = tokio::time::timeout(
            WRITE_TIMEOUT,
            EntryClient::new(admin.clone()).batch_create_entry(request),
        )
        .await;
        let result = match answer {
            Err(_) => Err((tonic::Code::DeadlineExceeded, "no answer (hangs)".into())),
            Ok(Err(status)) => Err((status.code(), status.message().to_owned())),
            Ok(Ok(response)) => match response.into_inner().results.first() {
                None => Err((tonic::Code::Internal, "no result".into())),
                Some(r) => match &r.status {
                    Some(s) if s.code != 0 => {
                        Err((tonic::Code::from_i32(s.code), s.message.clone()))
                    }
                    _ => Ok(()),
                },
            },
        };
        writes.lock().unwrap().push(Write {
            id,
            sent: sent - origin,
            took: sent.elapsed(),
            result,
        });
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Every entry through `admin`: id → SPIFFE ID path, page by page; an id listed twice fails.
async fn entries(admin: &Channel) -> Result<BTreeMap<String, String>, tonic::Status> {
    let mut all = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = EntryClient::new(admin.clone())
            .list_entries(ListEntriesRequest {
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for e in page.entries {
            let path = e.spiffe_id.map(|s| s.path).unwrap_or_default();
            assert!(
                all.insert(e.id.clone(), path).is_none(),
                "{} listed twice",
                e.id
            );
        }
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}

/// Whether process `pid` runs (exists and is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, after_name) = stat.rsplit_once(')')?;
            after_name
                .split_whitespace()
                .next()
                .map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// `healthcheck` through the server's admin socket: whether it passed.
fn healthy(config: &ServerConfigFile) -> bool {
    let socket = config.socket_path.display().to_string();
    let out = std::process::Command::new(ServerProcess::binary())
        .args(["healthcheck", "-socketPath", &socket])
        .output()
        .unwrap();
    out.status.success()
}

/// Two servers share one PostgreSQL database; four writers (two per server) create entries
/// every 50 ms while PostgreSQL is stopped (`pg_ctl stop -m fast`) for 13 s and started again.
/// Writes during the outage fail with UNAVAILABLE naming the datastore within the server's
/// 5 s wait for a connection (those sent in its last 5 s may wait and succeed); both
/// servers' health checks fail during the outage and pass again after, without a restart;
/// new writes succeed on both; every acknowledged entry is listed exactly once by either
/// server, and both list the same entries.
///
/// PostgreSQL tests run when `SPIFFE_TEST_POSTGRES_URL` is set (scripts/test.sh sets it). This
/// test stops PostgreSQL, so it does not use that shared cluster (other tests run on it at the
/// same time): it makes a private one with the same `scripts/postgres.sh`, removed at the end
/// (also on failure).
#[test]
fn postgres_restarted_under_two_servers_loses_no_acknowledged_write() {
    std::env::var("SPIFFE_TEST_POSTGRES_URL").expect(
        "SPIFFE_TEST_POSTGRES_URL is not set: PostgreSQL tests need PostgreSQL installed and \
         `export SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)` (scripts/test.sh does); \
         this test starts a private cluster of its own with that script",
    );
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let pg = PgCluster::start(&tmp.path().join("pg")).expect("a private PostgreSQL cluster");
    let configs: Vec<ServerConfigFile> = ["a", "b"]
        .iter()
        .map(|name| {
            let mut config = ServerConfigFile::new(&tmp.path().join(name));
            config.datastore = DataStoreKind::Postgres(pg.url().to_owned());
            config.cache_reload_interval = Some("200ms".into());
            config
        })
        .collect();
    // One after the other: the first migrates the schema.
    let mut a = ServerProcess::start(&ServerProcess::binary(), &configs[0]).expect("start A");
    let mut b = ServerProcess::start(&ServerProcess::binary(), &configs[1]).expect("start B");
    assert!(healthy(&configs[0]) && healthy(&configs[1]));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (admin_a, admin_b) =
        runtime.block_on(async { (a.admin_channel().await, b.admin_channel().await) });
    let writes = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop) = watch::channel(false);
    let origin = Instant::now();
    let writers: Vec<_> = [
        ("a1", &admin_a),
        ("a2", &admin_a),
        ("b1", &admin_b),
        ("b2", &admin_b),
    ]
    .into_iter()
    .map(|(name, admin)| {
        runtime.spawn(write_entries(
            admin.clone(),
            name.to_owned(),
            origin,
            writes.clone(),
            stop.clone(),
        ))
    })
    .collect();
    std::thread::sleep(Duration::from_secs(3));

    // The outage.
    let stopping = origin.elapsed();
    pg.stop().expect("stop PostgreSQL");
    let stopped = origin.elapsed();
    let outage_end = Instant::now() + OUTAGE;
    let (mut a_unhealthy, mut b_unhealthy) = (false, false);
    while Instant::now() < outage_end {
        a_unhealthy |= !healthy(&configs[0]);
        b_unhealthy |= !healthy(&configs[1]);
        std::thread::sleep(Duration::from_millis(300));
    }
    pg.resume().expect("start PostgreSQL again");
    let resumed = origin.elapsed();

    // Recovery, without restarting either server: healthy again, and writes acknowledged by
    // both after the restart.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let recovered = healthy(&configs[0]) && healthy(&configs[1]) && {
            let w = writes.lock().unwrap();
            ["a", "b"].iter().all(|server| {
                w.iter()
                    .any(|w| w.id.starts_with(server) && w.sent > resumed && w.result.is_ok())
            })
        };
        if recovered {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the servers did not recover\nwrites: {:#?}\n--- A ---\n{}\n--- B ---\n{}",
            writes.lock().unwrap(),
            a.output(),
            b.output()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(1));
    stop_tx.send_replace(true);
    runtime.block_on(async {
        for writer in writers {
            tokio::time::timeout(WRITE_TIMEOUT + Duration::from_secs(5), writer)
                .await
                .expect("a writer stopped")
                .unwrap();
        }
    });
    let writes = writes.lock().unwrap().clone();
    let (listed_a, listed_b) = runtime.block_on(async {
        (
            entries(&admin_a).await.expect("list through A"),
            entries(&admin_b).await.expect("list through B"),
        )
    });
    let alive = running(a.pid()) && running(b.pid());

    let acknowledged: Vec<&Write> = writes.iter().filter(|w| w.result.is_ok()).collect();
    let failed: Vec<&Write> = writes.iter().filter(|w| w.result.is_err()).collect();
    let context = || {
        format!(
            "PostgreSQL stopping at {stopping:?}, stopped at {stopped:?}, resumed at {resumed:?}\n\
             failed writes: {failed:#?}\n--- A ---\n{}\n--- B ---\n{}",
            a.output(),
            b.output()
        )
    };
    assert!(alive, "a server exited\n{}", context());
    // Every acknowledged write is there, through either server; both list the same entries,
    // each once (`entries` fails on an id listed twice), and no SPIFFE ID twice.
    for w in &acknowledged {
        assert!(
            listed_a.contains_key(&w.id),
            "{} acknowledged, not listed by A\n{}",
            w.id,
            context()
        );
        assert!(
            listed_b.contains_key(&w.id),
            "{} acknowledged, not listed by B\n{}",
            w.id,
            context()
        );
    }
    assert_eq!(listed_a, listed_b, "A and B list different entries");
    let paths: BTreeSet<&String> = listed_a.values().collect();
    assert_eq!(paths.len(), listed_a.len(), "an entry was stored twice");
    // Nothing listed that was not written (an unacknowledged write may or may not be there).
    assert!(listed_a.keys().all(|id| writes.iter().any(|w| &w.id == id)));

    // The outage was seen, and said what it was: UNAVAILABLE naming the datastore, in bounded
    // time (the server waits DB_WAIT for a connection), never a hang. A write sent once
    // PostgreSQL was down, too early to be served when it came back, failed.
    let doomed: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent >= stopped && w.sent + DB_WAIT + Duration::from_secs(1) < resumed)
        .collect();
    assert!(
        !doomed.is_empty(),
        "no write was sent during the outage: it proved nothing\n{}",
        context()
    );
    for w in &doomed {
        assert!(
            w.result.is_err(),
            "{w:?} was sent while PostgreSQL was down and waited for it\n{}",
            context()
        );
    }
    for w in &failed {
        let (code, message) = w.result.as_ref().unwrap_err();
        assert_eq!(*code, tonic::Code::Unavailable, "{w:?}\n{}", context());
        assert!(message.contains("datastore unavailable"), "{w:?}");
        assert!(w.took < DB_WAIT + Duration::from_secs(4), "{w:?}");
        // Failures only around the outage.
        assert!(
            w.sent + w.took >= stopping && w.sent <= resumed + Duration::from_secs(5),
            "{w:?} failed outside the outage\n{}",
            context()
        );
    }
    assert!(
        a_unhealthy && b_unhealthy,
        "healthcheck passed during the outage (A {a_unhealthy}, B {b_unhealthy})"
    );
    for server in ["a", "b"] {
        assert!(acknowledged
            .iter()
            .any(|w| w.id.starts_with(server) && w.sent < stopping));
        assert!(acknowledged
            .iter()
            .any(|w| w.id.starts_with(server) && w.sent > resumed));
    }
    let slowest = failed.iter().map(|w| w.took).max().unwrap_or_default();
    let while_down: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent >= stopped && w.sent < resumed)
        .collect();
    eprintln!(
        "{} writes, {} acknowledged, {} failed (slowest failure {slowest:?}); PostgreSQL down \
         {:?}..{resumed:?}; sent while down: {} failed, {} acknowledged (longest {:?}); \
         {} entries listed; whole test {:.1} s",
        writes.len(),
        acknowledged.len(),
        failed.len(),
        stopping,
        while_down.iter().filter(|w| w.result.is_err()).count(),
        while_down.iter().filter(|w| w.result.is_ok()).count(),
        while_down.iter().map(|w| w.took).max().unwrap_or_default(),
        listed_a.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(a.terminate().unwrap().success());
    assert!(b.terminate().unwrap().success());
    drop(pg);
}
