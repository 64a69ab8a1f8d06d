//! The load tool: Workload API clients on a real `spiffe-agent` and simulated agents on real
//! `spiffe-server` processes, for a fixed time, printed as a table and written as JSON (see
//! `daemon_harness::load` for what each client and agent does, and `docs/operations.md`).
//!
//! ```sh
//! cargo build --release -p spiffe-server -p spiffe-agent
//! export SPIFFE_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start | tail -1)   # for postgres
//! cargo bench -p daemon-harness --bench load                       # 60 s, 1000 clients, 100 agents, both
//! cargo bench -p daemon-harness --bench load -- --duration 30 --clients 500 --agents 50 --topology sqlite
//! ```
//!
//! Flags (or environment variables): `--duration SECONDS` (`SPIFFE_LOAD_DURATION`, 60),
//! `--clients N` (`SPIFFE_LOAD_CLIENTS`, 1000), `--agents N` (`SPIFFE_LOAD_AGENTS`, 100),
//! `--topology sqlite|postgres|both` (`SPIFFE_LOAD_TOPOLOGY`, `both`), `--entries-per-agent N`
//! (5), `--out PATH` (`SPIFFE_LOAD_OUT`, `target/load/results.json`). The postgres topology
//! creates (and drops) a database in the cluster at `SPIFFE_TEST_POSTGRES_URL`; `both` without
//! it runs SQLite only and says so; `postgres` without it is an error.
//!
//! Without `--bench` (as `cargo test --benches` runs it) it does nothing.
//!
//! The daemons are `SPIFFE_SERVER_BIN` / `SPIFFE_AGENT_BIN`, or the ones beside this bench
//! (`target/release/`: build them first, as above). Exit status 1 when any error was counted.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::time::Duration;

use daemon_harness::load::{self, LoadConfig, Topology};

const POSTGRES_VAR: &str = "SPIFFE_TEST_POSTGRES_URL";

fn usage() -> ! {
    eprintln!(
        "usage: load [--duration SECONDS] [--clients N] [--agents N] [--entries-per-agent N] \
         [--topology sqlite|postgres|both] [--out PATH]"
    );
    std::process::exit(2);
}

fn main() {
    // `cargo test --benches` runs bench binaries without `--bench`: the short variant is
    // tests/load_short.rs, so nothing runs here then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load: run with `cargo bench -p daemon-harness --bench load`");
        return;
    }
    let mut config = LoadConfig::full();
    let env = |name: &str| std::env::var(name).ok();
    let mut duration = env("SPIFFE_LOAD_DURATION");
    let mut clients = env("SPIFFE_LOAD_CLIENTS");
    let mut agents = env("SPIFFE_LOAD_AGENTS");
    let mut entries = None;
    let mut topology = env("SPIFFE_LOAD_TOPOLOGY").unwrap_or_else(|| "both".into());
    let mut out = env("SPIFFE_LOAD_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| load::target_dir().join("load").join("results.json"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            // What `cargo bench` passes to a bench binary.
            "--bench" => {}
            "--duration" => duration = Some(value()),
            "--clients" => clients = Some(value()),
            "--agents" => agents = Some(value()),
            "--entries-per-agent" => entries = Some(value()),
            "--topology" => topology = value(),
            "--out" => out = value().into(),
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other:?}");
                usage()
            }
        }
    }
    let number = |what: &str, v: Option<String>| -> Option<u64> {
        v.map(|v| {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{what}: not a whole number: {v:?}");
                usage()
            })
        })
    };
    if let Some(s) = number("duration", duration) {
        config.duration = Duration::from_secs(s);
    }
    if let Some(n) = number("clients", clients) {
        config.clients = n as usize;
    }
    if let Some(n) = number("agents", agents) {
        config.agents = n as usize;
    }
    if let Some(n) = number("entries-per-agent", entries) {
        config.entries_per_agent = n as usize;
    }

    let postgres = std::env::var(POSTGRES_VAR).ok();
    let topologies = match (topology.as_str(), postgres) {
        ("sqlite", _) => vec![Topology::Sqlite],
        ("postgres", Some(url)) => vec![Topology::Postgres(url)],
        ("both", Some(url)) => vec![Topology::Sqlite, Topology::Postgres(url)],
        ("postgres", None) => {
            eprintln!(
                "the postgres topology needs {POSTGRES_VAR}: \
                 export {POSTGRES_VAR}=$(bash scripts/postgres.sh start | tail -1)"
            );
            std::process::exit(2);
        }
        ("both", None) => {
            println!("{POSTGRES_VAR} is not set: running the sqlite topology only");
            vec![Topology::Sqlite]
        }
        _ => usage(),
    };

    let mut results = Vec::new();
    let mut errors = 0;
    for topology in topologies {
        config.topology = topology;
        println!(
            "load: {} for {} s, {} Workload API clients, {} simulated agents (server {}, agent {})",
            config.topology.name(),
            config.duration.as_secs(),
            config.clients,
            config.agents,
            daemon_harness::ServerProcess::binary().display(),
            daemon_harness::agent::agent_binary().display(),
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        match load::run(dir.path(), &config) {
            Ok(report) => {
                println!("{}", report.table());
                errors += report.error_count();
                results.push(report.to_json());
            }
            Err(e) => {
                eprintln!("load: {} could not run: {e}", config.topology.name());
                std::process::exit(1);
            }
        }
    }
    let uptime = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let document = serde_json::json!({
        "loadavg_after": uptime.trim(),
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "runs": results,
    });
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(
        &out,
        serde_json::to_string_pretty(&document).unwrap_or_default(),
    ) {
        Ok(()) => println!("results: {}", out.display()),
        Err(e) => eprintln!("could not write {}: {e}", out.display()),
    }
    if errors > 0 {
        eprintln!("load: {errors} errors");
        std::process::exit(1);
    }
}
