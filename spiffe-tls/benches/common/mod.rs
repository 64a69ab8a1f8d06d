//! Fixtures of the handshake bench: one spiffe-ca authority, a client and a server SVID, and
//! the three pairs of configurations compared (plain rustls, ours, spiffe-rustls fed by a live
//! Workload API), all with session resumption off.
#![allow(unreachable_pub)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime,
};
use spiffe_core::{BundleSet, Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer};
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, WorkloadApiServer,
    X509Context, X509SvidEntry,
};
use tokio::sync::watch;

pub const TRUST_DOMAIN: &str = "bench.test";
pub const CLIENT_ID: &str = "spiffe://bench.test/client";
pub const SERVER_ID: &str = "spiffe://bench.test/server";
pub const SERVER_DNS: &str = "server.bench.test";

/// A client and a server configuration.
pub type Configs = (Arc<ClientConfig>, Arc<ServerConfig>);

/// One authority, a client SVID and a server SVID (with a DNS SAN), shared by every bench.
pub struct Fixtures {
    pub provider: Arc<CryptoProvider>,
    pub ca: X509SvidIssuer,
    pub client: Arc<X509Svid>,
    pub server: Arc<X509Svid>,
}

impl Fixtures {
    pub fn new() -> Self {
        let td = TrustDomain::new(TRUST_DOMAIN).unwrap();
        let now = UnixTime::now().as_secs();
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let ca = X509SvidIssuer::self_signed(
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

    fn bundle(&self) -> Arc<X509Bundle> {
        Arc::new(X509Bundle::from_authorities(
            self.ca.trust_domain().clone(),
            vec![self.ca.trust_anchor().clone()],
        ))
    }

    fn bundles(&self) -> Arc<BundleSet> {
        let mut set = BundleSet::new();
        set.insert_x509(self.bundle());
        Arc::new(set)
    }

    /// `mtls_client_config` / `mtls_server_config` with exact-ID authorizers.
    pub fn ours(&self) -> Configs {
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

    /// rustls' WebPKI verifiers with the CA as the only root.
    pub fn plain_rustls(&self) -> Configs {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.trust_anchor().der().clone()).unwrap();
        let roots = Arc::new(roots);

        let server_verifier =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), self.provider.clone())
                .build()
                .unwrap();
        let client = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(server_verifier)
            .with_client_auth_cert(chain(&self.client), key(&self.client))
            .unwrap();

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots, self.provider.clone())
                .build()
                .unwrap();
        let server = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain(&self.server), key(&self.server))
            .unwrap();
        no_resumption(client, server)
    }

    /// spiffe-rustls' `mtls_client` / `mtls_server` with exact-ID authorizers and the
    /// `LocalOnly` trust domain policy, each fed by a `spiffe::X509Source` connected to one of
    /// our Workload API servers (one per SVID) on a Unix socket in `dir`. The runtime keeps the
    /// servers and the sources' watch streams running.
    pub fn spiffe_rustls(&self, runtime: &tokio::runtime::Runtime, dir: &Path) -> Configs {
        let client_source =
            runtime.block_on(self.x509_source(&dir.join("client.sock"), &self.client));
        let server_source =
            runtime.block_on(self.x509_source(&dir.join("server.sock"), &self.server));
        let td: spiffe::TrustDomain = TRUST_DOMAIN.try_into().unwrap();
        let client = spiffe_rustls::mtls_client(client_source)
            .authorize(spiffe_rustls::authorizer::exact([SERVER_ID]).unwrap())
            .trust_domain_policy(spiffe_rustls::LocalOnly(td.clone()))
            .build()
            .unwrap();
        let server = spiffe_rustls::mtls_server(server_source)
            .authorize(spiffe_rustls::authorizer::exact([CLIENT_ID]).unwrap())
            .trust_domain_policy(spiffe_rustls::LocalOnly(td))
            .build()
            .unwrap();
        no_resumption(client, server)
    }

    /// Serves `svid` and the bundle on a Unix socket and returns a source connected to it.
    async fn x509_source(&self, socket: &Path, svid: &Arc<X509Svid>) -> spiffe::X509Source {
        let provider = Arc::new(Fixed {
            context: X509Context {
                svids: vec![X509SvidEntry::new(svid.clone())],
                bundles: vec![self.bundle()],
            },
            changes: watch::channel(()).0,
        });
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        tokio::spawn(WorkloadApiServer::new(provider).serve_unix(listener, std::future::pending()));
        spiffe::X509Source::builder()
            .endpoint(format!("unix://{}", socket.display()))
            .build()
            .await
            .unwrap()
    }
}

/// Runs one full handshake over in-memory buffers; panics if it fails.
pub fn handshake_in_memory((client, server): &Configs) {
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
pub fn tcp_server(server: &Arc<rustls::ServerConfig>) -> SocketAddr {
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
pub fn handshake_tcp(client: &Arc<rustls::ClientConfig>, addr: SocketAddr) {
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

/// Session resumption off on both sides, so every handshake is a full one.
fn no_resumption(mut client: ClientConfig, mut server: ServerConfig) -> Configs {
    client.resumption = Resumption::disabled();
    server.session_storage = Arc::new(NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    (Arc::new(client), Arc::new(server))
}

/// A Workload API identity provider serving one fixed X.509 context to every caller.
struct Fixed {
    context: X509Context,
    changes: watch::Sender<()>,
}

impl IdentityProvider for Fixed {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        Ok(self.context.clone())
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        _audience: &[String],
        _spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

fn mint(ca: &X509SvidIssuer, spiffe_id: &str, dns: &[&str]) -> Arc<X509Svid> {
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
