//! The client over TCP (`tcp://IP:port`, WEP-3, WEP-11): our Unix-socket server behind a
//! loopback TCP relay in the test, plaintext HTTP/2 end to end (WEP-7).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Ca, Running, StaticProvider};
use spiffe_core::X509SvidSource;
use spiffe_workload::X509Source;
use spiffe_workload::{BackoffConfig, WorkloadApiClient};
use spiffe_workload::{EndpointAddress, X509SvidEntry};
use tokio::net::{TcpListener, UnixStream};

/// Relays each TCP connection on 127.0.0.1:0 to `path`; returns the TCP address.
async fn relay(path: std::path::PathBuf) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let path = path.clone();
            tokio::spawn(async move {
                if let Ok(mut unix) = UnixStream::connect(path).await {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn every_call_works_over_tcp() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let addr = relay(server.path.clone()).await;
    let address = EndpointAddress::parse(&format!("tcp://{addr}")).unwrap();
    assert!(matches!(address, EndpointAddress::Tcp(_)));

    let client = WorkloadApiClient::connect(&address)
        .await
        .unwrap()
        .with_backoff(BackoffConfig::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ));
    let context = client.fetch_x509_context().await.unwrap();
    assert_eq!(context.svids[0].hint, "main");
    assert_eq!(client.fetch_x509_bundles().await.unwrap().len(), 2);
    assert_eq!(client.fetch_jwt_bundles().await.unwrap().len(), 2);
    let token = client.fetch_jwt_svids(&["tcp"], None).await.unwrap();
    let validated = client
        .validate_jwt_svid(&token[0].token, "tcp")
        .await
        .unwrap();
    assert_eq!(
        validated.spiffe_id.as_str(),
        "spiffe://example.org/workload"
    );

    // A source over TCP follows rotations too.
    let source = X509Source::new(client.clone()).await.unwrap();
    let mut updates = source.subscribe();
    let fresh = ca.svid("spiffe://example.org/over-tcp");
    provider.update(|m| m.x509.svids = vec![X509SvidEntry::new(fresh)]);
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        source.x509_svid().unwrap().spiffe_id().as_str(),
        "spiffe://example.org/over-tcp"
    );
    drop(source);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_connect_failure_is_retryable() {
    // A port nobody listens on: bind, learn the port, close.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = WorkloadApiClient::connect(&EndpointAddress::Tcp(addr))
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn client_against_the_tcp_server() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(spiffe_workload::WorkloadApiServer::new(provider).serve_tcp(
        listener,
        // WEP-4: over TCP the operator attests callers by address; loopback is trusted here.
        |peer| {
            peer.ip()
                .is_loopback()
                .then(|| spiffe_workload::CallerInfo::new(None, 1000, 1000))
        },
        async {
            let _ = stopped.await;
        },
    ));
    let client = WorkloadApiClient::connect(&EndpointAddress::Tcp(addr))
        .await
        .unwrap();
    let context = client.fetch_x509_context().await.unwrap();
    assert_eq!(context.svids[0].hint, "main");
    let mut watch = client.watch_x509_bundles();
    assert_eq!(watch.next().await.unwrap().unwrap().len(), 2);
    drop(watch);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
