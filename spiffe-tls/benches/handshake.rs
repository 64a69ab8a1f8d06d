//! Full mTLS handshakes, TLS 1.3, aws-lc-rs provider, P-256 SVIDs minted by one spiffe-ca
//! authority, session resumption off on both sides so every iteration is a full handshake
//! with both chains verified. Three implementations, in the same run:
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

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use common::{Configs, Fixtures, SERVER_DNS};
use criterion::{criterion_group, criterion_main, Criterion};
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use spiffe_core::pki_types::ServerName;

/// Runs one full handshake over in-memory buffers; panics if it fails.
fn handshake_in_memory((client, server): &Configs) {
    let name = ServerName::try_from(SERVER_DNS).unwrap();
    let mut c = ClientConnection::new(client.clone(), name).unwrap();
    let mut s = ServerConnection::new(server.clone()).unwrap();
    let mut buf = Vec::with_capacity(4096);
    while c.is_handshaking() || s.is_handshaking() || c.wants_write() || s.wants_write() {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
        }
        s.process_new_packets().unwrap();
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
        }
        c.process_new_packets().unwrap();
    }
    black_box((c, s));
}

/// A loopback server thread for `server`: handshake, one byte, close (the server closes first,
/// so the client's ports do not pile up in TIME_WAIT). Runs until the process ends.
fn tcp_server(server: &Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = server.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            tcp.set_nodelay(true).unwrap();
            let conn = ServerConnection::new(config.clone()).unwrap();
            let mut stream = StreamOwned::new(conn, tcp);
            if stream.conn.complete_io(&mut stream.sock).is_err() {
                continue;
            }
            let _ = stream.write_all(b"k").and_then(|()| stream.flush());
        }
    });
    addr
}

/// Runs one full handshake with the server at `addr`; panics if it fails.
fn handshake_tcp(client: &Arc<rustls::ClientConfig>, addr: SocketAddr) {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = ServerName::try_from(SERVER_DNS).unwrap();
    let conn = ClientConnection::new(client.clone(), name).unwrap();
    let mut stream = StreamOwned::new(conn, tcp);
    let mut byte = [0; 1];
    stream.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"k");
    // Wait for the server's close.
    let mut rest = [0; 64];
    while matches!(stream.sock.read(&mut rest), Ok(n) if n > 0) {}
    black_box(stream);
}

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
