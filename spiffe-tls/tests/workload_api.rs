//! spiffe-tls fed by the Workload API: `spiffe_workload::X509Source` (which implements
//! spiffe-core's source traits) connected to our Workload API server on a Unix socket, with
//! this crate's builders; an mTLS handshake over loopback with the peer IDs, then a rotation
//! pushed by the server that the next handshake presents without a new configuration.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rustls::pki_types::ServerName;
use spiffe_core::{SpiffeId, X509Svid, X509SvidSource};
use spiffe_tls::tokio::{mtls_acceptor, mtls_connector, PeerSpiffeId};
use spiffe_tls::Authorizer;
use spiffe_workload::{
    CallerInfo, EndpointAddress, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError,
    WorkloadApiClient, WorkloadApiServer, X509Context, X509Source, X509SvidEntry,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

/// Serves one X.509 context to every caller; `set` replaces it and notifies the streams.
struct Provider {
    context: Mutex<X509Context>,
    changes: watch::Sender<()>,
}

impl Provider {
    fn new(ca: &Ca, svid: Arc<X509Svid>) -> Arc<Self> {
        Arc::new(Self {
            context: Mutex::new(X509Context {
                svids: vec![X509SvidEntry::new(svid)],
                bundles: vec![ca.bundle()],
            }),
            changes: watch::channel(()).0,
        })
    }

    fn rotate(&self, svid: Arc<X509Svid>) {
        self.context.lock().unwrap().svids = vec![X509SvidEntry::new(svid)];
        self.changes.send_replace(());
    }
}

impl IdentityProvider for Provider {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        Ok(self.context.lock().unwrap().clone())
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

/// Serves `provider` on `socket` and returns an `X509Source` connected to it.
async fn source(provider: Arc<Provider>, socket: &Path) -> X509Source {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tokio::spawn(WorkloadApiServer::new(provider).serve_unix(listener, std::future::pending()));
    let address = EndpointAddress::parse(&format!("unix://{}", socket.display())).unwrap();
    X509Source::new(WorkloadApiClient::connect_lazy(&address).unwrap())
        .await
        .unwrap()
}

/// One mTLS connection; returns the server leaf the client saw and both peer IDs.
async fn connect(
    acceptor: &tokio_rustls::TlsAcceptor,
    connector: &tokio_rustls::TlsConnector,
) -> (Vec<u8>, Option<SpiffeId>, Option<SpiffeId>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = acceptor.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.unwrap().peer_spiffe_id()
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("ignored.invalid").unwrap();
    let stream = connector.connect(name, tcp).await.unwrap();
    let leaf = stream.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (leaf, stream.peer_spiffe_id(), server.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_take_x509_sources_and_follow_their_rotation() {
    let ca = Ca::new("a.test");
    let dir = tempfile::tempdir().unwrap();
    let server_provider = Provider::new(&ca, ca.svid(SERVER));
    let server_source = source(server_provider.clone(), &dir.path().join("server.sock")).await;
    let client_source = source(
        Provider::new(&ca, ca.svid(CLIENT)),
        &dir.path().join("client.sock"),
    )
    .await;

    let mut updates = server_source.subscribe();
    let server_source = Arc::new(server_source);
    let acceptor = mtls_acceptor(
        provider(),
        server_source.clone(),
        server_source.clone(),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let client_source = Arc::new(client_source);
    let connector = mtls_connector(
        provider(),
        client_source.clone(),
        client_source,
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();

    let (leaf, server_id, client_id) = connect(&acceptor, &connector).await;
    assert_eq!(server_id, Some(id(SERVER)));
    assert_eq!(client_id, Some(id(CLIENT)));
    assert_eq!(
        leaf,
        server_source.x509_svid().unwrap().leaf().der().to_vec()
    );

    // The Workload API pushes a new server SVID; the same acceptor presents it.
    let rotated = ca.svid(SERVER);
    server_provider.rotate(rotated.clone());
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .unwrap()
        .unwrap();
    let (leaf, server_id, _) = connect(&acceptor, &connector).await;
    assert_eq!(server_id, Some(id(SERVER)));
    assert_eq!(leaf, rotated.leaf().der().to_vec());
}
