//! Datastore throughput, printed as figures (a bench binary: the setups are too large for
//! criterion's repetitions).
//!
//! ```sh
//! cargo bench -p spiffe-server --bench datastore              # SQLite; PostgreSQL too if
//! SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start) cargo bench -p spiffe-server --bench datastore
//! SPIFFE_BENCH_ENTRIES=100000 cargo bench -p spiffe-server --bench datastore   # a smaller store
//! SPIFFE_BENCH_DIR=/tmp/bench-200k SPIFFE_BENCH_ENTRIES=200000 cargo bench -p spiffe-server --bench datastore
//! ```
//!
//! With `SPIFFE_BENCH_DIR`, the large store is kept in that directory (created if missing)
//! instead of a temporary one; a later run with the same `SPIFFE_BENCH_ENTRIES` finds it
//! filled and goes straight to the load and the server start (no `batch_create`, fill or
//! `changes_since` figures), which is how to iterate on the start without refilling.
//!
//! Targets (issue 12):
//! - `BatchCreateEntry` on SQLite: >= 5,000 entries/s (batches of 100).
//! - Loading every entry of a 1,000,000-entry SQLite store (the server's start): well under
//!   10 s, since the server must also build its index.
//! - `changes_since` after one change: the same time with 1,000,000 entries as with 10,000.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::SpiffeId;
use spiffe_server::datastore::{ChangeFeed, DataStore, PageRequest, SqlDataStore, SqlSettings};
use spiffe_server::testing::process::{rss_mib, ServerConfigFile, ServerProcess};

const BATCH: usize = 100;
const PAGE: u32 = 10_000;

fn entry(i: usize) -> RegistrationEntry {
    let id = |p: String| SpiffeId::new(&format!("spiffe://example.org{p}")).expect("id");
    RegistrationEntry::builder(
        EntryId::new(&format!("entry-{i:08}")).expect("entry id"),
        id(format!("/ns/ns{}/sa/sa{i}", i % 50)),
        id(format!("/spire/agent/k8s_psat/cluster/node{}", i / 100)),
    )
    .selectors([
        Selector::new("k8s", &format!("ns:ns{}", i % 50)).expect("selector"),
        Selector::new("k8s", &format!("sa:sa{i}")).expect("selector"),
    ])
    .dns_name(format!("sa{i}.ns{}.svc", i % 50))
    .build()
    .expect("entry")
}

/// Creates entries `from..to` in batches; returns the time taken.
async fn fill(store: &dyn DataStore, from: usize, to: usize) -> Duration {
    let start = Instant::now();
    let mut i = from;
    while i < to {
        let end = (i + BATCH).min(to);
        let results = store
            .create_entries((i..end).map(entry).collect())
            .await
            .expect("batch");
        assert!(results.iter().all(Result::is_ok), "every create succeeds");
        i = end;
    }
    start.elapsed()
}

/// The CPU time this process has used (user + system), from `/proc/self/stat`: on a shared
/// machine it says what the work costs when wall-clock time says how busy the machine was.
fn cpu_time() -> Duration {
    process_cpu_time("self")
}

/// The CPU time (user + system) of process `pid` (`self` for this one), from `/proc`.
fn process_cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th
    // and 13th, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

/// Loads every entry page by page; returns (count, time).
async fn load_all(store: &dyn DataStore) -> (usize, Duration) {
    let start = Instant::now();
    let mut count = 0;
    let mut page = PageRequest::first(PAGE);
    loop {
        let got = store.load_entries(&page).await.expect("page");
        count += got.items.len();
        match got.next {
            Some(token) => page = PageRequest::after(PAGE, token),
            None => return (count, start.elapsed()),
        }
    }
}

/// The median time of `changes_since` for the last change.
async fn changes_since_latency(store: &dyn DataStore, next: usize) -> Duration {
    store
        .create_entries(vec![entry(next)])
        .await
        .expect("batch")
        .remove(0)
        .expect("create");
    let revision = store.current_revision().await.expect("revision");
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let start = Instant::now();
        let ChangeFeed::Changes(changes) = store
            .changes_since(revision - 1, 1000)
            .await
            .expect("changes")
        else {
            panic!("pruned")
        };
        times.push(start.elapsed());
        assert_eq!(changes.len(), 1);
    }
    times.sort_unstable();
    times[times.len() / 2]
}

fn rate(n: usize, time: Duration) -> f64 {
    n as f64 / time.as_secs_f64()
}

async fn batch_create(name: &str, settings: &SqlSettings, n: usize) {
    let store = SqlDataStore::open(settings).await.expect("open");
    let cpu_before = cpu_time();
    let time = fill(&store, 0, n).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    println!(
        "batch_create/{name}: {n} entries in batches of {BATCH}: {:.2} s, {:.0} entries/s, \
         CPU time {:.2} s",
        time.as_secs_f64(),
        rate(n, time),
        cpu.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let entries: usize = std::env::var("SPIFFE_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let kept = std::env::var_os("SPIFFE_BENCH_DIR").map(PathBuf::from);
    let dir = match &kept {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("SPIFFE_BENCH_DIR");
            dir.clone()
        }
        None => temp.path().to_owned(),
    };
    let server_config = ServerConfigFile::new(&dir.join("server"));
    let settings = SqlSettings::sqlite(server_config.sqlite_path());
    // `fill` writes `entries`, `changes_since_latency` two more.
    let filled = kept.is_some() && server_config.sqlite_path().exists() && {
        let store = SqlDataStore::open(&settings)
            .await
            .expect("open kept store");
        let count = store
            .count_entries(&Default::default())
            .await
            .expect("count");
        store.close().await;
        count == entries as u64 + 2
    };
    if filled {
        println!("(kept store in {} reused: no fill)", dir.display());
    } else {
        // A kept store of another size (or half filled): start over.
        let path = server_config.sqlite_path();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        fill_store(&dir, &settings, entries).await;
    }
    // A fresh process's view: reopen, then load everything.
    let store = SqlDataStore::open(&settings).await.expect("reopen");
    let cpu_before = cpu_time();
    let (count, load_time) = load_all(&store).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    println!(
        "load_entries/sqlite: {count} entries in pages of {PAGE}: {:.2} s ({:.0} entries/s), \
         CPU time {:.2} s",
        load_time.as_secs_f64(),
        rate(count, load_time),
        cpu.as_secs_f64()
    );
    drop(store);

    // `spiffe-server run` on that store (the binary beside this bench: build it with
    // `cargo build --release -p spiffe-server`): time until it serves, and its memory then.
    let start = Instant::now();
    match ServerProcess::start(&ServerProcess::binary(), &server_config) {
        Ok(mut server) => {
            let serving = start.elapsed();
            let pid = server.pid().to_string();
            println!(
                "server start/sqlite with {count} entries: serving after {:.2} s (target < 10 s at 1M), \
                 server CPU time {:.2} s; RSS {:.1} MiB",
                serving.as_secs_f64(),
                process_cpu_time(&pid).as_secs_f64(),
                rss_mib(server.pid())
            );
            let _ = server.terminate();
        }
        Err(e) => println!("server start/sqlite: skipped ({e})"),
    }
}

/// `batch_create` figures, then the large store at `settings` filled with `entries` entries
/// (plus two), with the `changes_since` figures at 10,000 entries and at `entries`.
async fn fill_store(dir: &std::path::Path, settings: &SqlSettings, entries: usize) {
    // BatchCreateEntry throughput, on a store of its own (new each time).
    let create = dir.join("create.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", create.display()));
    }
    batch_create("sqlite", &SqlSettings::sqlite(create), 20_000).await;
    match std::env::var("SPIFFE_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let url = postgres_database(&admin).await;
            batch_create("postgres", &SqlSettings::postgres(url), 20_000).await;
        }
        Err(_) => println!("batch_create/postgres: skipped (SPIFFE_TEST_POSTGRES_URL not set)"),
    }

    // A large SQLite store: changes_since at 10,000 entries, then fill, load, changes_since;
    // it is written where a server config in `dir/server` finds it, for the start below.
    let store = SqlDataStore::open(settings).await.expect("open");
    let small = 10_000.min(entries);
    fill(&store, 0, small).await;
    let at_small = changes_since_latency(&store, entries + 1).await;
    let fill_time = fill(&store, small, entries).await;
    println!(
        "fill/sqlite: {} entries in {:.1} s ({:.0} entries/s)",
        entries - small,
        fill_time.as_secs_f64(),
        rate(entries - small, fill_time)
    );
    let at_large = changes_since_latency(&store, entries + 2).await;
    println!(
        "changes_since/sqlite after one change: {:.1} µs with {small} entries, {:.1} µs with {} entries",
        at_small.as_secs_f64() * 1e6,
        at_large.as_secs_f64() * 1e6,
        entries + 2
    );
    store.close().await;
}

/// A new database in the cluster at `admin`; returns its URL.
async fn postgres_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create");
    let (base, _) = admin.rsplit_once('/').expect("URL with a database");
    format!("{base}/{name}")
}
