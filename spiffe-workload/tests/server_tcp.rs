//! The server over TCP (WEP-3/4): no peer credentials, so callers are whoever the operator's
//! attestation function says their address is.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{next, request, Ca, StaticProvider};
use spiffe_workload::proto;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::{CallerInfo, ServeError, WorkloadApiServer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Code;

const OK: &[&str] = &["true"];

/// A server on 127.0.0.1:0 with `attest`, and the peers `attest` was asked about.
struct TcpServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TcpServer {
    async fn start(
        provider: Arc<StaticProvider>,
        attest: impl Fn(SocketAddr) -> Option<CallerInfo> + Send + Sync + 'static,
    ) -> Self {
        Self::start_server(WorkloadApiServer::new(provider), attest).await
    }

    async fn start_server(
        server: WorkloadApiServer<StaticProvider>,
        attest: impl Fn(SocketAddr) -> Option<CallerInfo> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_tcp(
            listener,
            move |peer| {
                record.lock().unwrap().push(peer);
                attest(peer)
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            seen,
            stop,
            task,
        }
    }

    async fn client(&self) -> SpiffeWorkloadApiClient<Channel> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        SpiffeWorkloadApiClient::new(channel)
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("graceful shutdown within 5 s")
            .unwrap()
            .unwrap();
    }
}

fn loopback_is_uid_1000(peer: SocketAddr) -> Option<CallerInfo> {
    peer.ip()
        .is_loopback()
        .then(|| CallerInfo::new(None, 1000, 1000))
}

#[tokio::test]
async fn attested_peer_gets_its_svid_and_the_provider_sees_the_attested_caller() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start(provider.clone(), loopback_is_uid_1000).await;
    let mut client = server.client().await;

    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let message = next(&mut stream).await.unwrap();
    assert_eq!(message.svids.len(), 1);
    assert_eq!(message.svids[0].spiffe_id, "spiffe://example.org/workload");
    assert!(!message.svids[0].x509_svid_key.is_empty());

    // WEP-4: the caller is the attestation of the peer address, not peer credentials.
    let callers = provider.callers.lock().unwrap().clone();
    assert_eq!(callers, vec![CallerInfo::new(None, 1000, 1000)]);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].ip().is_loopback());
    assert_ne!(seen[0].port(), server.addr.port(), "the peer's address");

    // Unary RPCs on the same connection are served as the same caller, attested once, when
    // the connection was accepted.
    let jwt = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["aud".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwt.svids.len(), 1);
    assert_eq!(server.seen.lock().unwrap().len(), 1);

    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn unattested_peer_is_permission_denied() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start(provider.clone(), |_| None).await;
    let mut client = server.client().await;

    // WEP-15: no identity for an address the operator does not know.
    let status = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["aud".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client
        .fetch_jwt_bundles(request(proto::JwtBundlesRequest {}, OK))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The provider was never asked.
    assert!(provider.callers.lock().unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn security_header_is_checked_before_the_provider() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start(provider.clone(), loopback_is_uid_1000).await;
    let mut client = server.client().await;
    // WEP-5, WEP-6: INVALID_ARGUMENT over TCP too, and the provider is not consulted.
    for header in [&[][..], &["True"], &["true", "true"]] {
        let status = client
            .fetch_x509svid(request(proto::X509svidRequest {}, header))
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{header:?}");
    }
    assert!(provider.callers.lock().unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn rotation_reaches_a_tcp_stream_and_shutdown_ends_it() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start(provider.clone(), loopback_is_uid_1000).await;
    let mut client = server.client().await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let first = next(&mut stream).await.unwrap();

    // WAPI-6: a rotation pushes the complete new state.
    let rotated = ca.svid("spiffe://example.org/rotated");
    provider.update(|m| m.x509.svids[0].svid = rotated);
    let second = next(&mut stream).await.unwrap();
    assert_eq!(second.svids[0].spiffe_id, "spiffe://example.org/rotated");
    assert_ne!(first.svids[0].x509_svid, second.svids[0].x509_svid);

    // Graceful shutdown ends the open stream (WAPI-5: the client reconnects).
    server.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("stream ended within 5 s");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
}

#[tokio::test]
async fn a_closed_stream_frees_its_slot() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start_server(
        WorkloadApiServer::new(provider).with_max_streams(1),
        loopback_is_uid_1000,
    )
    .await;
    let mut client = server.client().await;
    let mut open = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    next(&mut open).await.unwrap();
    let status = client
        .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
        .await
        .expect_err("over the bound");
    assert_eq!(status.code(), Code::ResourceExhausted);

    // The client going away ends the stream on the server and releases its permit.
    drop(open);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match client
            .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                assert!(!next(&mut stream).await.unwrap().bundles.is_empty());
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(tokio::time::Instant::now() < deadline, "slot never freed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_over_the_per_connection_limit_waits_for_a_slot() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = TcpServer::start_server(
        WorkloadApiServer::new(provider).with_max_streams_per_connection(1),
        loopback_is_uid_1000,
    )
    .await;
    let mut client = server.client().await;
    let mut open = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    next(&mut open).await.unwrap();

    // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS = 1: the second stream is queued, not refused.
    let mut second = client.clone();
    let waiting = tokio::spawn(async move {
        let mut stream = second
            .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
            .await
            .unwrap()
            .into_inner();
        next(&mut stream).await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "second stream opened beyond the limit"
    );

    drop(open);
    let message = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("second stream opened once the first closed")
        .unwrap();
    assert!(!message.bundles.is_empty());
    server.shutdown().await;
}
