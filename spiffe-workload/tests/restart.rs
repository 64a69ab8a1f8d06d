//! The fault test: the server stops mid-stream and comes back on the same socket path with
//! rotated material; clients and sources recover without the caller doing anything (WAPI-5).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Ca, StaticProvider};
use spiffe_core::{JwtBundleSource, TrustDomain, X509BundleSource, X509SvidSource};
use spiffe_workload::{BackoffConfig, WorkloadApiClient};
use spiffe_workload::{BundleSource, JwtSource, X509Source};
use spiffe_workload::{EndpointAddress, ServeError, WorkloadApiServer};
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on a fixed path that can be stopped and started again.
struct Agent {
    path: PathBuf,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Agent {
    fn start(path: &Path, provider: Arc<StaticProvider>) -> Self {
        // A restarted agent replaces the stale socket file.
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(
            WorkloadApiServer::new(provider).serve_unix(listener, async {
                let _ = stopped.await;
            }),
        );
        Self {
            path: path.to_path_buf(),
            stop,
            task,
        }
    }

    async fn stop(self) -> PathBuf {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stops within 5 s")
            .unwrap()
            .unwrap();
        self.path
    }
}

fn client(path: &Path) -> WorkloadApiClient {
    WorkloadApiClient::connect_lazy(&EndpointAddress::Unix(path.to_path_buf()))
        .unwrap()
        .with_backoff(BackoffConfig::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn sources_recover_after_the_agent_restarts_with_rotated_material() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let before = StaticProvider::example(&ca, &other);
    let agent = Agent::start(&path, before.clone());

    let client = client(&path);
    let x509 = X509Source::new(client.clone()).await.unwrap();
    let jwt = JwtSource::new(client.clone()).await.unwrap();
    let bundles = BundleSource::new(client.clone()).await.unwrap();
    let old_leaf = x509.x509_svid().unwrap().leaf().der().clone();
    let mut updates = x509.subscribe();

    // The agent goes away mid-stream: the sources keep serving what they hold.
    let path = agent.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(x509.x509_svid().unwrap().leaf().der(), &old_leaf);
    assert!(!x509.is_closed() && !jwt.is_closed() && !bundles.is_closed());

    // It comes back on the same path with a new SVID, new bundles and a new JWT authority.
    let (ca2, other2) = (Ca::new("example.org"), Ca::new("third.org"));
    let after = StaticProvider::example(&ca2, &other2);
    let new_leaf = after.x509().svids[0].svid.leaf().der().clone();
    let agent = Agent::start(&path, after);

    tokio::time::timeout(Duration::from_secs(10), updates.changed())
        .await
        .expect("recovered within 10 s")
        .unwrap();
    assert_eq!(x509.x509_svid().unwrap().leaf().der(), &new_leaf);
    let example = TrustDomain::new("example.org").unwrap();
    assert_eq!(
        x509.x509_bundle_for(&example).unwrap().authorities()[0].der(),
        ca2.x509.trust_anchor().der()
    );
    let third = TrustDomain::new("third.org").unwrap();
    eventually("JWT bundles rotated", || {
        jwt.jwt_bundle_for(&third).is_some()
    })
    .await;
    assert!(jwt
        .jwt_bundle_for(&example)
        .unwrap()
        .get(ca2.jwt.kid())
        .is_some());
    eventually("bundle source rotated", || {
        bundles.x509_bundle_for(&third).is_some() && bundles.jwt_bundle_for(&third).is_some()
    })
    .await;
    assert!(bundles
        .x509_bundle_for(&TrustDomain::new("other.org").unwrap())
        .is_none());
    // Unary calls on the same client work again too.
    let token = jwt.fetch_jwt_svid(&["after-restart"]).await.unwrap();
    assert_eq!(token.spiffe_id().as_str(), "spiffe://example.org/workload");
    agent.stop().await;
}

#[tokio::test]
async fn watch_stream_resumes_across_repeated_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let mut agent = Agent::start(&path, StaticProvider::example(&ca, &other));
    let client = client(&path);
    let mut watch = client.watch_x509_context();
    let mut last = None;
    for round in 0..3 {
        // The first good update after each (re)start carries that agent's SVID.
        let context = loop {
            let item = tokio::time::timeout(Duration::from_secs(10), watch.next())
                .await
                .expect("an item within 10 s")
                .expect("the watch never ends on retryable errors");
            if let Ok(context) = item {
                break context;
            }
        };
        let leaf = context.svids[0].svid.leaf().der().clone();
        assert_ne!(Some(&leaf), last.as_ref(), "round {round}: new material");
        last = Some(leaf);
        let path = agent.stop().await;
        agent = Agent::start(&path, StaticProvider::example(&ca, &other));
    }
    agent.stop().await;
}
