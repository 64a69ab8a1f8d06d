//! The load tool's short run (`daemon_harness::load`, the engine `benches/load.rs` runs for
//! 60 s): 100 Workload API clients on a real agent and 10 simulated agents on the server's
//! gRPC API for 10 s, on SQLite and on two servers sharing one PostgreSQL database. No error
//! of any class, and every operation done several times.
//!
//! The PostgreSQL test needs `SPIFFE_TEST_POSTGRES_URL` (as the server's PostgreSQL tests;
//! scripts/test.sh sets it); skip it with `-E 'not test(postgres)'`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use daemon_harness::load::{self, counter, op, LoadConfig, Topology};

fn run(topology: Topology) {
    let mut config = LoadConfig::short();
    config.topology = topology;
    let dir = tempfile::tempdir().unwrap();
    let report = load::run(dir.path(), &config).unwrap();
    println!("{}", report.table());
    assert_eq!(report.error_count(), 0, "{}", report.table());

    // Every operation, several times: each client's stream is re-opened every 3 s and it asks
    // for JWT-SVIDs every 2 s; each agent attests once, syncs every second, has its SVIDs
    // signed every second and renews every 3 s (at least once even when its attestation took
    // seconds on a loaded machine).
    let (clients, agents) = (config.clients as u64, config.agents as u64);
    let at_least = [
        (op::ATTEST, agents),
        (op::SYNC, agents * 5),
        (op::BATCH_SVID, agents * 5),
        (op::RENEW, agents),
        (op::FETCH_X509, clients * 2),
        (op::FETCH_JWT, clients * 3),
    ];
    for (name, least) in at_least {
        assert!(
            report.count(name) >= least,
            "{name}: {} done, expected at least {least}\n{}",
            report.count(name),
            report.table()
        );
    }
    let signed = report
        .counters
        .get(counter::SVIDS_SIGNED)
        .copied()
        .unwrap_or(0);
    assert!(
        signed >= report.count(op::BATCH_SVID) * config.entries_per_agent as u64,
        "{signed} SVIDs signed\n{}",
        report.table()
    );
    // Every daemon was measured.
    let servers = match config.topology {
        Topology::Sqlite => 1,
        _ => 2,
    };
    assert_eq!(report.processes.len(), servers + 1);
    for process in &report.processes {
        assert!(process.peak_rss_mib > 1.0, "{process:?}");
        assert!(process.peak_sampled_rss_mib > 1.0, "{process:?}");
    }
    let json = report.to_json();
    assert_eq!(json["error_count"], 0);
    assert_eq!(json["ops"][op::ATTEST]["count"], report.count(op::ATTEST));
}

#[test]
fn load_short_sqlite_has_no_errors() {
    run(Topology::Sqlite);
}

#[test]
fn load_short_postgres_two_servers_have_no_errors() {
    const VAR: &str = "SPIFFE_TEST_POSTGRES_URL";
    let url = std::env::var(VAR).unwrap_or_else(|_| {
        panic!(
            "{VAR} is not set: the PostgreSQL tests need a running cluster. Start one with \
             `export {VAR}=$(scripts/postgres.sh start)` (scripts/test.sh does this), or run \
             the SQLite tests only with `-E 'not test(postgres)'`"
        )
    });
    run(Topology::Postgres(url));
}
