//! Datastore throughput, printed as figures (a bench binary: the setups are too large for
//! criterion's repetitions).
//!
//! ```sh
//! cargo bench -p spiffe-server --bench datastore              # SQLite; PostgreSQL too if
//! SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start) cargo bench -p spiffe-server --bench datastore
//! SPIFFE_BENCH_ENTRIES=100000 cargo bench -p spiffe-server --bench datastore   # a smaller store
//! ```
//!
//! Targets (issue 12):
//! - `BatchCreateEntry` on SQLite: >= 5,000 entries/s (batches of 100).
//! - Loading every entry of a 1,000,000-entry SQLite store (the server's start): well under
//!   10 s, since the server must also build its index.
//! - `changes_since` after one change: the same time with 1,000,000 entries as with 10,000.

use std::sync::Arc;
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
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
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
    let dir = tempfile::tempdir().expect("temp dir");

    // BatchCreateEntry throughput.
    batch_create(
        "sqlite",
        &SqlSettings::sqlite(dir.path().join("create.sqlite3")),
        20_000,
    )
    .await;
    match std::env::var("SPIFFE_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let url = postgres_database(&admin).await;
            batch_create("postgres", &SqlSettings::postgres(url), 20_000).await;
        }
        Err(_) => println!("batch_create/postgres: skipped (SPIFFE_TEST_POSTGRES_URL not set)"),
    }

    // A large SQLite store: changes_since at 10,000 entries, then fill, load, changes_since;
    // it is written where a server config in `dir/server` finds it, for the start below.
    let server_config = ServerConfigFile::new(&dir.path().join("server"));
    let settings = SqlSettings::sqlite(server_config.sqlite_path());
    let store: Arc<dyn DataStore> = Arc::new(SqlDataStore::open(&settings).await.expect("open"));
    let small = 10_000.min(entries);
    fill(store.as_ref(), 0, small).await;
    let at_small = changes_since_latency(store.as_ref(), entries + 1).await;
    let fill_time = fill(store.as_ref(), small, entries).await;
    println!(
        "fill/sqlite: {} entries in {:.1} s ({:.0} entries/s)",
        entries - small,
        fill_time.as_secs_f64(),
        rate(entries - small, fill_time)
    );
    let at_large = changes_since_latency(store.as_ref(), entries + 2).await;
    drop(store);
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
    println!(
        "changes_since/sqlite after one change: {:.1} µs with {small} entries, {:.1} µs with {} entries",
        at_small.as_secs_f64() * 1e6,
        at_large.as_secs_f64() * 1e6,
        count
    );
    drop(store);

    // `spiffe-server run` on that store (the binary beside this bench: build it with
    // `cargo build --release -p spiffe-server`): time until it serves, and its memory then.
    let start = Instant::now();
    match ServerProcess::start(&ServerProcess::binary(), &server_config) {
        Ok(mut server) => {
            println!(
                "server start/sqlite with {count} entries: serving after {:.2} s (target < 10 s at 1M); RSS {:.1} MiB",
                start.elapsed().as_secs_f64(),
                rss_mib(server.pid())
            );
            let _ = server.terminate();
        }
        Err(e) => println!("server start/sqlite: skipped ({e})"),
    }
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
