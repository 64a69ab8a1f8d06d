//! Full mTLS handshakes, TLS 1.3, aws-lc-rs provider, P-256 SVIDs minted by one spiffe-ca
//! authority, session resumption off on both sides so every iteration is a full handshake
//! (both sides present and check a chain). `ours` verifies each chain once and then takes it
//! from its verifiers' cache of verified chains (same bytes, same bundle object, validity and
//! authorizer checked every time), which is what repeat peers get; the others verify every
//! chain every time. Three implementations, in the same run:
//!
//! - `plain_rustls`: rustls' own `WebPkiServerVerifier`/`WebPkiClientVerifier` with the CA as
//!   the only root; the server leaf also carries the DNS SAN the client connects to.
//! - `ours`: `mtls_client_config`/`mtls_server_config` (SPIFFE verifiers, exact-ID
//!   authorizers, SVID cert resolvers).
//! - `spiffe_rustls`: the `spiffe-rustls` crate (crates.io; exact-ID authorizers, `LocalOnly`
//!   trust domain policy), its builders fed by `spiffe::X509Source`s connected to our
//!   `spiffe_workload::WorkloadApiServer` on Unix sockets — the only input it accepts.
//!
//! Groups:
//! - `mtls_handshake`: in memory (`ClientConnection`/`ServerConnection` over buffers).
//! - `mtls_handshake_tcp`: over loopback TCP; a server thread accepts, completes the
//!   handshake, writes one byte and closes; the client connects, reads that byte (so the
//!   server's verdict on the client chain is included) and waits for the close.
//!
//! Targets: `ours` ≥ 0.95 of `plain_rustls` throughput, and ahead of `spiffe_rustls`.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{handshake_in_memory, handshake_tcp, tcp_server, Fixtures};
use criterion::{criterion_group, criterion_main, Criterion};

fn mtls_handshake(c: &mut Criterion) {
    let fixtures = Fixtures::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // spiffe-rustls' builders spawn their refresh tasks on the current runtime.
    let _runtime = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        ("plain_rustls", fixtures.plain_rustls()),
        ("ours", fixtures.ours()),
        (
            "spiffe_rustls",
            fixtures.spiffe_rustls(&runtime, dir.path()),
        ),
    ];

    let mut group = c.benchmark_group("mtls_handshake");
    for (name, pair) in &configs {
        handshake_in_memory(pair);
        group.bench_function(*name, |b| b.iter(|| handshake_in_memory(pair)));
    }
    group.finish();

    let mut group = c.benchmark_group("mtls_handshake_tcp");
    for (name, pair) in &configs {
        let addr = tcp_server(&pair.1);
        handshake_tcp(&pair.0, addr);
        group.bench_function(*name, |b| b.iter(|| handshake_tcp(&pair.0, addr)));
    }
    group.finish();
}

criterion_group!(benches, mtls_handshake);
criterion_main!(benches);
