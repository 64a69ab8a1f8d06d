//! Workload API server benchmarks (`cargo bench -p spiffe-workload --bench workload_server`).
//!
//! The server runs in a child process (this binary re-executed with `--server-child SOCKET`) on
//! a Unix socket in a temp dir, serving a fixed X.509-SVID and minting JWT-SVIDs with a real
//! ES256 signer (spiffe-ca). The parent is the client: the generated tonic client with the
//! `workload.spiffe.io: true` header, over several HTTP/2 connections. Server memory is the
//! child's VmRSS (`/proc/<pid>/status`), so client costs are not in it.
//!
//! Measured: (a) FetchX509SVID first-response latency (request sent to first message received,
//! on a fresh stream) p50/p99 while 1, 100 and 1,000 other streams are open; (b) JWT-SVID fetch
//! rate; (c) time from the provider's change notification to the last of 10,000 open streams
//! receiving the new message; (d) server RSS per idle stream at 10,000 streams; (e) (a)'s p99
//! for a well-behaved client while another process of the same uid floods the server with idle
//! connections and slow-loris clients (`flood.rs`), against the same figure quiet.
//!
//! Without `--bench` (e.g. `cargo test --benches`) it runs a small smoke version.
#![allow(clippy::unwrap_used)]

mod flood;
mod provider;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use spiffe_core::pki_types::UnixTime;
use spiffe_workload::proto;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::WorkloadApiServer;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::transport::Channel;

type Client = SpiffeWorkloadApiClient<Channel>;

/// The server's descriptor limit in (e).
const FLOOD_SERVER_DESCRIPTORS: usize = 1024;

/// Streams per HTTP/2 connection (the server's default per-connection limit is 1024).
const STREAMS_PER_CONNECTION: usize = 1000;

struct Sizes {
    latency_streams: &'static [usize],
    latency_samples: usize,
    flood_connections: usize,
    rotation_streams: usize,
    rotation_rounds: usize,
    jwt_seconds: f64,
}

const FULL: Sizes = Sizes {
    latency_streams: &[1, 100, 1000],
    latency_samples: 5000,
    flood_connections: 2000,
    rotation_streams: 10_000,
    rotation_rounds: 10,
    jwt_seconds: 5.0,
};

const SMOKE: Sizes = Sizes {
    latency_streams: &[1, 10],
    latency_samples: 50,
    flood_connections: 100,
    rotation_streams: 50,
    rotation_rounds: 2,
    jwt_seconds: 0.2,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server-child") {
        server_child(Path::new(&args[i + 1]));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--flood-child") {
        flood::flood_child(Path::new(&args[i + 1]), args[i + 2].parse().unwrap());
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    // `WAPI_BENCH_ONLY=latency` runs (a) and (b) only.
    let sizes = if full { FULL } else { SMOKE };
    let results = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(parent(&sizes));
    println!("{}", serde_json::to_string_pretty(&results).unwrap());
    // Only a complete run replaces the figures `scripts/bench-report.py` reads.
    if full && std::env::var("WAPI_BENCH_ONLY").is_err() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/workload-server");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            out.join("results.json"),
            serde_json::to_string_pretty(&results).unwrap(),
        )
        .unwrap();
        eprintln!("written to {}", out.join("results.json").display());
    }
}

// === the server (child process) ===

/// Serves on `socket`; says `ready` on stdout; rotates on each `rotate` line of stdin; exits
/// when stdin closes.
fn server_child(socket: &Path) {
    let provider = provider::bench_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let _guard = runtime.enter();
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        runtime.spawn(
            // One client process opens all 10,000 streams: give it every stream slot rather
            // than the default caller share.
            WorkloadApiServer::new(provider.clone())
                .with_max_streams_per_caller(spiffe_workload::DEFAULT_MAX_STREAMS)
                .serve_unix(listener, async move {
                    let _ = stopped.await;
                }),
        )
    };
    println!("ready");
    std::io::stdout().flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        match line.unwrap().as_str() {
            "rotate" => provider.rotate(),
            other => panic!("unknown command {other:?}"),
        }
    }
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}

// === the client (parent process) ===

struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start() -> Self {
        Self::start_with_descriptors(None)
    }

    /// A server child, with its descriptor limit set to `descriptors` if given.
    fn start_with_descriptors(descriptors: Option<usize>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let exe = std::env::current_exe().unwrap();
        let mut command = match descriptors {
            None => Command::new(exe),
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!(r#"ulimit -n {limit} && exec "$0" "$@""#))
                    .arg(exe);
                sh
            }
        };
        let mut child = command
            .arg("--server-child")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Self {
            child,
            stdin,
            socket,
            _dir: dir,
        }
    }

    fn rotate(&mut self) {
        self.stdin.write_all(b"rotate\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The server's resident set, bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    fn stop(mut self) {
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        assert!(status.success());
    }
}

async fn connect(socket: &Path) -> Client {
    let socket = socket.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    SpiffeWorkloadApiClient::new(channel)
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "workload.spiffe.io",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    request
}

/// Open streams, each reporting the arrival time of every message it receives.
struct Watchers {
    tasks: JoinSet<()>,
    arrivals: mpsc::UnboundedReceiver<Instant>,
    sender: mpsc::UnboundedSender<Instant>,
    clients: Vec<Client>,
    count: usize,
    socket: PathBuf,
}

impl Watchers {
    fn new(socket: &Path) -> Self {
        let (sender, arrivals) = mpsc::unbounded_channel();
        Self {
            tasks: JoinSet::new(),
            arrivals,
            sender,
            clients: Vec::new(),
            count: 0,
            socket: socket.to_path_buf(),
        }
    }

    /// Opens streams until `n` are open and each has had its first message.
    async fn grow_to(&mut self, n: usize) {
        let added = n.saturating_sub(self.count);
        for i in self.count..n {
            let connection = i / STREAMS_PER_CONNECTION;
            while self.clients.len() <= connection {
                self.clients.push(connect(&self.socket).await);
            }
            let mut client = self.clients[connection].clone();
            let sender = self.sender.clone();
            self.tasks.spawn(async move {
                let mut stream = client
                    .fetch_x509svid(request(proto::X509svidRequest {}))
                    .await
                    .unwrap()
                    .into_inner();
                while let Ok(Some(message)) = stream.message().await {
                    assert_eq!(message.svids.len(), 1);
                    if sender.send(Instant::now()).is_err() {
                        return;
                    }
                }
            });
        }
        self.count = n;
        self.wait(added).await;
    }

    /// The latest of the next `n` arrivals.
    async fn wait(&mut self, n: usize) -> Option<Instant> {
        let mut last = None;
        for _ in 0..n {
            let at = tokio::time::timeout(Duration::from_secs(60), self.arrivals.recv())
                .await
                .expect("a message within 60 s")
                .unwrap();
            last = Some(last.map_or(at, |l: Instant| l.max(at)));
        }
        last
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

/// (a) Request to first message on fresh streams of a separate connection, sequentially.
async fn first_response_latency(socket: &Path, samples: usize) -> Value {
    let mut client = connect(socket).await;
    let mut times = Vec::with_capacity(samples);
    let mut message_bytes = 0;
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
        message_bytes = prost::Message::encoded_len(&message);
        // The first tenth warms up.
        if i >= samples / 10 {
            times.push(elapsed);
        }
    }
    times.sort();
    json!({
        "samples": times.len(),
        "message_bytes": message_bytes,
        "p50_us": percentile(&times, 0.50),
        "p90_us": percentile(&times, 0.90),
        "p99_us": percentile(&times, 0.99),
        "over_1ms": times.iter().filter(|t| **t > Duration::from_millis(1)).count(),
        "max_us": percentile(&times, 1.0),
    })
}

/// (b) JWT-SVID fetches per second: `tasks` concurrent callers over 4 connections.
async fn jwt_rate(socket: &Path, seconds: f64, tasks: usize) -> Value {
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(connect(socket).await);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut set = JoinSet::new();
    for t in 0..tasks {
        let mut client = clients[t % clients.len()].clone();
        set.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let response = client
                    .fetch_jwtsvid(request(proto::JwtsvidRequest {
                        audience: vec!["bench".into()],
                        spiffe_id: String::new(),
                    }))
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(response.svids.len(), 1);
                done += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = set.join_next().await {
        total += done.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    json!({
        "concurrent_callers": tasks,
        "requests": total,
        "per_second": total as f64 / elapsed,
        "signer": "ES256 (spiffe-ca SoftwareSigner, P-256), one signature per request",
    })
}

/// The bare mint rate of the same signer, one thread, for reference.
fn mint_rate(seconds: f64) -> f64 {
    let provider = provider::bench_provider();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        provider
            .jwt
            .mint(
                &provider.jwt_id,
                &["bench"],
                Duration::from_secs(300),
                &spiffe_core::json::JsonObject::new(),
                UnixTime::now(),
            )
            .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn parent(sizes: &Sizes) -> Value {
    let mut results = Map::new();
    results.insert(
        "machine".into(),
        json!({ "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) }),
    );

    let only = std::env::var("WAPI_BENCH_ONLY").ok();
    if only.is_none() {
        rotation_and_memory(sizes, &mut results).await;
    }
    if only.as_deref() != Some("flood") {
        latency_and_jwt(sizes, &mut results).await;
    }
    if only.as_deref() != Some("latency") {
        under_flood(sizes, &mut results).await;
    }
    Value::Object(results)
}

/// (e) (a)'s figures on a fresh server, quiet and then under a flood.
async fn under_flood(sizes: &Sizes, results: &mut Map<String, Value>) {
    // 1024: the usual soft limit of a service; the flood holds more connections than that.
    let server = ServerProcess::start_with_descriptors(Some(FLOOD_SERVER_DESCRIPTORS));
    let quiet = first_response_latency(&server.socket, sizes.latency_samples).await;
    let flood = flood::Flood::start(&server.socket, sizes.flood_connections);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flooded = first_response_latency(&server.socket, sizes.latency_samples).await;
    flood.stop();
    let ratio = flooded["p99_us"].as_f64().unwrap() / quiet["p99_us"].as_f64().unwrap();
    results.insert(
        "x509_first_response_under_flood".into(),
        json!({
            "flood_connections": sizes.flood_connections,
            "server_descriptor_limit": FLOOD_SERVER_DESCRIPTORS,
            "slow_loris": 5,
            "quiet": quiet,
            "flooded": flooded,
            "p99_ratio": ratio,
        }),
    );
    server.stop();
}

/// (c) and (d) on a fresh server: memory before and after opening the streams, then rotations.
async fn rotation_and_memory(sizes: &Sizes, results: &mut Map<String, Value>) {
    let mut server = ServerProcess::start();
    {
        // Warm up every path once so lazy state is not counted per stream.
        let mut warm = Watchers::new(&server.socket);
        warm.grow_to(1).await;
        let _ = first_response_latency(&server.socket, 10).await;
        let _ = jwt_rate(&server.socket, 0.05, 1).await;
        warm.tasks.shutdown().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rss_before = server.rss();
    let n = sizes.rotation_streams;
    let mut watchers = Watchers::new(&server.socket);
    let opened = Instant::now();
    watchers.grow_to(n).await;
    let open_time = opened.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss();
    let mut rounds = Vec::new();
    for _ in 0..sizes.rotation_rounds {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        server.rotate();
        let last = watchers.wait(n).await.unwrap();
        rounds.push(last.duration_since(start));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_rotated = server.rss();
    rounds.sort();
    let per_stream = |rss: u64| (rss.saturating_sub(rss_before)) as f64 / n as f64;
    results.insert(
        "rotation".into(),
        json!({
            "streams": n,
            "connections": n.div_ceil(STREAMS_PER_CONNECTION),
            "rounds": rounds.len(),
            "median_ms": rounds[rounds.len() / 2].as_secs_f64() * 1e3,
            "max_ms": rounds[rounds.len() - 1].as_secs_f64() * 1e3,
            "min_ms": rounds[0].as_secs_f64() * 1e3,
            "open_all_ms": open_time.as_secs_f64() * 1e3,
        }),
    );
    results.insert(
        "memory".into(),
        json!({
            "streams": n,
            "server_rss_before_bytes": rss_before,
            "server_rss_idle_bytes": rss_idle,
            "server_rss_after_rotations_bytes": rss_rotated,
            "per_idle_stream_bytes": per_stream(rss_idle),
            "per_stream_after_rotations_bytes": per_stream(rss_rotated),
        }),
    );
    watchers.tasks.shutdown().await;
    drop(watchers);
    server.stop();
}

/// (a) and (b) on a fresh server.
async fn latency_and_jwt(sizes: &Sizes, results: &mut Map<String, Value>) {
    let server = ServerProcess::start();
    let mut latency = Map::new();
    let mut background = Watchers::new(&server.socket);
    for &open in sizes.latency_streams {
        background.grow_to(open).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let figures = first_response_latency(&server.socket, sizes.latency_samples).await;
        latency.insert(open.to_string(), figures);
    }
    background.tasks.shutdown().await;
    drop(background);
    results.insert("x509_first_response".into(), Value::Object(latency));
    results.insert(
        "jwt_fetch".into(),
        jwt_rate(&server.socket, sizes.jwt_seconds, 16).await,
    );
    results.insert(
        "jwt_mint_one_thread_per_second".into(),
        json!(mint_rate(sizes.jwt_seconds.min(1.0))),
    );
    server.stop();
}
