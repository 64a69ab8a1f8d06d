//! Full mTLS handshakes in memory (`ClientConnection`/`ServerConnection` over buffers), TLS 1.3,
//! aws-lc-rs provider, P-256 SVIDs minted by one spiffe-ca authority, session resumption off on
//! both sides so every iteration is a full handshake with both chains verified.
//!
//! Group `mtls_handshake`:
//! - `plain_rustls`: rustls' own `WebPkiServerVerifier`/`WebPkiClientVerifier` with the CA as
//!   the only root; the server leaf also carries the DNS SAN the client connects to.
//! - `ours`: `mtls_client_config`/`mtls_server_config` (SPIFFE verifiers, exact-ID
//!   authorizers, SVID cert resolvers).
//!
//! Target: `ours` ≥ 0.95 of `plain_rustls` throughput. `spiffe-rustls` (crates.io) is not in
//! the group: its builders accept only a live `spiffe::X509Source` (a Workload API gRPC client;
//! its verifiers are private), so measuring it needs tonic/hyper/prost and a fake Workload API
//! server, and its current release needs Rust 1.88 (our MSRV is 1.85).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509Authority, X509SvidRequest};
use spiffe_core::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime,
};
use spiffe_core::{BundleSet, Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer};

const CLIENT_ID: &str = "spiffe://bench.test/client";
const SERVER_ID: &str = "spiffe://bench.test/server";
const SERVER_DNS: &str = "server.bench.test";

/// One authority, a client SVID and a server SVID (with a DNS SAN), shared by every bench.
struct Fixtures {
    provider: Arc<CryptoProvider>,
    ca: X509Authority,
    client: Arc<X509Svid>,
    server: Arc<X509Svid>,
}

impl Fixtures {
    fn new() -> Self {
        let td = TrustDomain::new("bench.test").unwrap();
        let now = UnixTime::now().as_secs();
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let ca = X509Authority::self_signed(
            &td,
            key,
            UnixTime::since_unix_epoch(Duration::from_secs(now - 3600)),
            UnixTime::since_unix_epoch(Duration::from_secs(now + 86_400)),
        )
        .unwrap();
        let client = mint(&ca, CLIENT_ID, &[]);
        let server = mint(&ca, SERVER_ID, &[SERVER_DNS]);
        Self {
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            ca,
            client,
            server,
        }
    }

    fn bundles(&self) -> Arc<BundleSet> {
        let mut set = BundleSet::new();
        set.insert_x509(Arc::new(X509Bundle::from_authorities(
            self.ca.trust_domain().clone(),
            vec![self.ca.trust_anchor().clone()],
        )));
        Arc::new(set)
    }

    fn ours(&self) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        let client = mtls_client_config(
            self.provider.clone(),
            self.client.clone(),
            self.bundles(),
            Authorizer::exact(SpiffeId::new(SERVER_ID).unwrap()),
        )
        .unwrap();
        let server = mtls_server_config(
            self.provider.clone(),
            self.server.clone(),
            self.bundles(),
            Authorizer::exact(SpiffeId::new(CLIENT_ID).unwrap()),
        )
        .unwrap();
        (Arc::new(client), Arc::new(server))
    }

    fn plain_rustls(&self) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.trust_anchor().der().clone()).unwrap();
        let roots = Arc::new(roots);

        let server_verifier =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), self.provider.clone())
                .build()
                .unwrap();
        let mut client = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(server_verifier)
            .with_client_auth_cert(chain(&self.client), key(&self.client))
            .unwrap();
        client.resumption = Resumption::disabled();

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots, self.provider.clone())
                .build()
                .unwrap();
        let mut server = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain(&self.server), key(&self.server))
            .unwrap();
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
        (Arc::new(client), Arc::new(server))
    }
}

fn mint(ca: &X509Authority, spiffe_id: &str, dns: &[&str]) -> Arc<X509Svid> {
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let request = X509SvidRequest::new(
        SpiffeId::new(spiffe_id).unwrap(),
        key.public_key(),
        Duration::from_secs(3600),
    )
    .with_dns_names(dns.iter().copied());
    let minted = ca.mint(&request, UnixTime::now()).unwrap();
    let chain = minted
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.clone()).unwrap())
        .collect();
    let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
    Arc::new(X509Svid::from_parts(chain, pkcs8).unwrap())
}

fn chain(svid: &X509Svid) -> Vec<CertificateDer<'static>> {
    svid.chain().iter().map(|c| c.der().clone()).collect()
}

fn key(svid: &X509Svid) -> PrivateKeyDer<'static> {
    svid.private_key().clone_key()
}

/// Runs one full handshake over in-memory buffers; panics if it fails.
fn handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) {
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

fn mtls_handshake(c: &mut Criterion) {
    let fixtures = Fixtures::new();
    let mut group = c.benchmark_group("mtls_handshake");

    let (client, server) = fixtures.plain_rustls();
    handshake(&client, &server);
    group.bench_function("plain_rustls", |b| b.iter(|| handshake(&client, &server)));

    let (client, server) = fixtures.ours();
    handshake(&client, &server);
    group.bench_function("ours", |b| b.iter(|| handshake(&client, &server)));

    group.finish();
}

criterion_group!(benches, mtls_handshake);
criterion_main!(benches);
