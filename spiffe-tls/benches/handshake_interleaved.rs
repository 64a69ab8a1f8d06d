//! The same handshakes as `handshake.rs`, measured interleaved: rounds of 200 handshakes per
//! implementation in turn, so that load from other processes hits all three alike; prints each
//! implementation's median round (µs per handshake) and the ratios of rates the targets use.
//! On a shared machine these ratios are steadier than those of criterion's sequential groups.
//!
//! `cargo bench -p spiffe-tls --bench handshake_interleaved` (under `cargo test --benches`, one
//! short round).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::Instant;

use common::{handshake_in_memory, handshake_tcp, tcp_server, Configs, Fixtures};

const NAMES: [&str; 3] = ["plain_rustls", "ours", "spiffe_rustls"];

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if bench { (30, 200) } else { (1, 2) };

    let fixtures = Fixtures::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _runtime = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let configs: [Configs; 3] = [
        fixtures.plain_rustls(),
        fixtures.ours(),
        fixtures.spiffe_rustls(&runtime, dir.path()),
    ];
    let servers: Vec<_> = configs.iter().map(|pair| tcp_server(&pair.1)).collect();

    let mut memory = [const { Vec::new() }; 3];
    let mut tcp = [const { Vec::new() }; 3];
    for _ in 0..rounds {
        for (i, pair) in configs.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..per_round {
                handshake_in_memory(pair);
            }
            memory[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
            let start = Instant::now();
            for _ in 0..per_round {
                handshake_tcp(&pair.0, servers[i]);
            }
            tcp[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
        }
    }
    report("mtls_handshake (in memory)", &mut memory);
    report("mtls_handshake_tcp (loopback)", &mut tcp);
}

fn report(group: &str, samples: &mut [Vec<f64>; 3]) {
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    for (name, median) in NAMES.iter().zip(&medians) {
        println!("{group}: {name}: {median:.1} µs/handshake (median round)");
    }
    println!(
        "{group}: ours vs plain_rustls {:.2}, ours vs spiffe_rustls {:.2} (ratios of rates)",
        medians[0] / medians[1],
        medians[2] / medians[1]
    );
}
