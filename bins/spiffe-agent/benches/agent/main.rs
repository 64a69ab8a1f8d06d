//! spiffe-agent benchmarks (`cargo bench -p spiffe-agent --bench agent`), against the in-process
//! fake server; each agent runs in a child process (this binary re-executed), the parent is the
//! workload side, using the generated Workload API client.
//!
//! Figures and their targets (issue 13):
//! - (a) FetchX509SVID first-response latency through the agent's provider and the server kit
//!   on a Unix socket, 100 other streams open: p99 < 1 ms.
//! - (b) one rotation (the caller's SVID re-signed with a new key) pushed to 10,000 open
//!   streams: all delivered < 1 s.
//! - (c) agent RSS serving 1,000 workloads with distinct entries (1,000 TCP connections, each
//!   attested as its own uid, one stream each): < 32 MB.
//! - (d) agent start to first SVID served, 1,000 entries, the workload already waiting: < 100 ms.
//!
//! Without `--bench` (e.g. `cargo test --benches`) it runs a small smoke version.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod child;
mod client;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value};
use spiffe_workload::proto;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use client::{connect_tcp, connect_unix, percentile, request, watch, Watchers};

struct Sizes {
    entries: usize,
    background_streams: usize,
    latency_samples: usize,
    rotation_streams: usize,
    rotation_rounds: usize,
    workloads: usize,
}

const FULL: Sizes = Sizes {
    entries: 1000,
    background_streams: 100,
    latency_samples: 5000,
    rotation_streams: 10_000,
    rotation_rounds: 10,
    workloads: 1000,
};

const SMOKE: Sizes = Sizes {
    entries: 20,
    background_streams: 5,
    latency_samples: 50,
    rotation_streams: 50,
    rotation_rounds: 2,
    workloads: 20,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    if let Some(socket) = arg("--unix-child") {
        let fillers = arg("--fillers").unwrap().parse().unwrap();
        return child::unix_child(Path::new(&socket), fillers);
    }
    if let Some(workloads) = arg("--tcp-child") {
        let bare = args.iter().any(|a| a == "--bare");
        return child::tcp_child(workloads.parse().unwrap(), bare);
    }
    if let Some(entries) = arg("--startup-child") {
        let first = arg("--position").as_deref() == Some("first");
        return child::startup_child(entries.parse().unwrap(), first);
    }
    let full = args.iter().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let results = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(parent(&sizes));
    println!("{}", serde_json::to_string_pretty(&results).unwrap());
    // Only a complete run replaces the recorded figures.
    if full && std::env::var("AGENT_BENCH_ONLY").is_err() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/spiffe-agent-bench");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            out.join("results.json"),
            serde_json::to_string_pretty(&results).unwrap(),
        )
        .unwrap();
        eprintln!("written to {}", out.join("results.json").display());
    }
}

/// A child process running one agent.
struct AgentProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl AgentProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn rss(&self) -> u64 {
        child::rss_of(self.child.id())
    }

    fn stop(mut self) {
        drop(self.stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

async fn parent(sizes: &Sizes) -> Value {
    let mut results = Map::new();
    results.insert(
        "machine".into(),
        json!({ "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) }),
    );
    // `AGENT_BENCH_ONLY=startup|memory|latency` runs one part.
    let only = std::env::var("AGENT_BENCH_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if runs("startup") {
        results.insert("startup".into(), startup(sizes));
    }
    if runs("memory") {
        results.insert(
            "workloads_memory".into(),
            workloads_memory(sizes, false).await,
        );
        results.insert(
            "kit_only_memory".into(),
            workloads_memory(sizes, true).await,
        );
    }
    if runs("latency") {
        latency_and_rotation(sizes, &mut results).await;
    }
    Value::Object(results)
}

/// (d) Start to first SVID, the workload's entry sorting first and last of 1,000.
fn startup(sizes: &Sizes) -> Value {
    let entries = sizes.entries.to_string();
    let mut out = Map::new();
    for position in ["first", "last"] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let mut child =
                AgentProcess::start(&["--startup-child", &entries, "--position", position]);
            let figures: Value = serde_json::from_str(&child.line()).unwrap();
            child.stop();
            runs.push(figures);
        }
        out.insert(position.into(), Value::Array(runs));
    }
    Value::Object(out)
}

/// (c) RSS of an agent serving `workloads` distinct workloads, one TCP connection and one
/// FetchX509SVID stream each; with `bare`, of the server kit serving the same connections one
/// fixed answer (what the transport costs).
async fn workloads_memory(sizes: &Sizes, bare: bool) -> Value {
    let workloads = sizes.workloads.to_string();
    let mut args = vec!["--tcp-child", workloads.as_str()];
    if bare {
        args.push("--bare");
    }
    let mut child = AgentProcess::start(&args);
    let ready: Value = serde_json::from_str(&child.line()).unwrap();
    let port = u16::try_from(ready["port"].as_u64().unwrap()).unwrap();
    let (sender, mut arrivals) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut ids = HashSet::new();
    let opened = Instant::now();
    for _ in 0..sizes.workloads {
        // One connection per workload, opened and served in turn so each is attested as the
        // next uid.
        let client = connect_tcp(port).await;
        watch(&mut tasks, client, sender.clone());
        let arrival = client::next_arrival(&mut arrivals).await;
        ids.insert(arrival.spiffe_id);
    }
    let open_all = opened.elapsed();
    // The agent gives every workload its own SVID; the bare kit the same one to all.
    let expected = if bare { 1 } else { sizes.workloads };
    assert_eq!(ids.len(), expected, "SVIDs served");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_serving = child.rss();
    tasks.shutdown().await;
    child.stop();
    json!({
        "provider": if bare { "one fixed answer (server kit alone)" } else { "spiffe-agent" },
        "workloads": sizes.workloads,
        "distinct_svids_served": ids.len(),
        "connections": sizes.workloads,
        "open_all_ms": open_all.as_secs_f64() * 1e3,
        "rss_before_agent_bytes": ready["rss_before_agent_bytes"],
        "rss_synced_bytes": ready["rss_synced_bytes"],
        "rss_serving_bytes": rss_serving,
    })
}

/// (a) then (b) on one agent with `entries` entries, this user's among them.
async fn latency_and_rotation(sizes: &Sizes, results: &mut Map<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let fillers = (sizes.entries - 1).to_string();
    let mut child = AgentProcess::start(&[
        "--unix-child",
        socket.to_str().unwrap(),
        "--fillers",
        &fillers,
    ]);
    assert_eq!(child.line(), "ready");

    let mut watchers = Watchers::new(&socket);
    watchers.grow_to(sizes.background_streams).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    results.insert(
        "x509_first_response".into(),
        first_response_latency(&socket, sizes.latency_samples, sizes.background_streams).await,
    );

    let rss_before = child.rss();
    let n = sizes.rotation_streams;
    let opened = Instant::now();
    watchers.grow_to(n).await;
    let open_all = opened.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = child.rss();
    let mut rounds = Vec::new();
    for _ in 0..sizes.rotation_rounds {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = Instant::now();
        child.send("rotate");
        let arrivals = watchers.wait(n).await;
        let first = &arrivals[0].svid_der;
        assert!(
            arrivals.iter().all(|a| &a.svid_der == first),
            "one new SVID"
        );
        let last = arrivals.iter().map(|a| a.at).max().unwrap();
        rounds.push(last.duration_since(start));
    }
    rounds.sort();
    results.insert(
        "rotation".into(),
        json!({
            "streams": n,
            "connections": n.div_ceil(client::STREAMS_PER_CONNECTION),
            "rounds": rounds.len(),
            "median_ms": rounds[rounds.len() / 2].as_secs_f64() * 1e3,
            "max_ms": rounds[rounds.len() - 1].as_secs_f64() * 1e3,
            "min_ms": rounds[0].as_secs_f64() * 1e3,
            "open_all_ms": open_all.as_secs_f64() * 1e3,
            "rss_before_bytes": rss_before,
            "rss_streams_idle_bytes": rss_idle,
            "rss_after_rotations_bytes": child.rss(),
        }),
    );
    watchers.tasks.shutdown().await;
    drop(watchers);
    child.stop();
}

/// Request to first message on fresh streams of a separate connection, sequentially, while
/// `background` other streams are open.
async fn first_response_latency(socket: &Path, samples: usize, background: usize) -> Value {
    let mut client = connect_unix(socket).await;
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + samples / 10 {
        let start = Instant::now();
        let mut stream = client
            .fetch_x509svid(request(proto::X509svidRequest {}))
            .await
            .unwrap()
            .into_inner();
        let message = stream.message().await.unwrap().unwrap();
        let elapsed = start.elapsed();
        assert_eq!(message.svids.len(), 1);
        // The first tenth warms up.
        if i >= samples / 10 {
            times.push(elapsed);
        }
    }
    times.sort();
    json!({
        "open_streams": background,
        "samples": times.len(),
        "p50_us": percentile(&times, 0.50),
        "p90_us": percentile(&times, 0.90),
        "p99_us": percentile(&times, 0.99),
        "over_1ms": times.iter().filter(|t| **t > Duration::from_millis(1)).count(),
        "max_us": percentile(&times, 1.0),
    })
}
