//! The agent's Workload API end to end in one process: the fake server, the manager's sync
//! loop, the provider with the real unix attestor, `spiffe-workload`'s server kit on a temp Unix
//! socket, and `spiffe-workload`'s client. A second user is a child process (this test binary
//! re-executed as `nobody`).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::Agent;
use spiffe_agent::server::fake::FakeServer;
use spiffe_agent::workload::{AgentIdentityProvider, ProviderConfig};
use spiffe_attest::workload::unix::UnixAttestor;
use spiffe_core::x509::verify_path;
use spiffe_core::{SpiffeId, X509BundleSource};
use spiffe_workload::{BackoffConfig, ClientError, Watch, WorkloadApiClient};
use spiffe_workload::{EndpointAddress, WorkloadApiServer, X509Context};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const CHILD_SOCKET_VAR: &str = "SPIFFE_AGENT_TEST_CHILD_SOCKET";
const NOBODY: u32 = 65534;
/// Real-time bound on each wait in these tests.
const WAIT: Duration = Duration::from_secs(20);

/// The agent serving its Workload API on a socket any user may connect to.
struct Running {
    agent: Agent,
    path: PathBuf,
    _dir: tempfile::TempDir,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Running {
    /// Starts the agent after `setup` has prepared the server.
    fn start(setup: impl FnOnce(&FakeServer)) -> Self {
        let mut agent = Agent::new(|c| c.sync_interval = Duration::from_millis(100));
        setup(&agent.server);
        agent.start();
        let provider = AgentIdentityProvider::new(
            agent.manager.clone(),
            vec![Arc::new(UnixAttestor::new())],
            ProviderConfig::default(),
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("api.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            WorkloadApiServer::new(Arc::new(provider))
                .serve_unix(listener, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            agent,
            path,
            _dir: dir,
            stop,
            server,
        }
    }

    async fn client(&self) -> WorkloadApiClient {
        WorkloadApiClient::connect(&EndpointAddress::Unix(self.path.clone()))
            .await
            .unwrap()
            .with_backoff(BackoffConfig::new(
                Duration::from_millis(20),
                Duration::from_millis(100),
            ))
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap();
        self.agent.stop().await;
    }
}

fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn my_gid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().gid()
}

/// The next update of `watch`, within the wait bound.
async fn next(watch: &mut Watch<X509Context>) -> Result<X509Context, ClientError> {
    tokio::time::timeout(WAIT, watch.next())
        .await
        .unwrap()
        .unwrap()
}

fn ids(context: &X509Context) -> Vec<String> {
    context
        .svids
        .iter()
        .map(|s| s.svid.spiffe_id().path().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_gets_its_identities_and_another_user_is_denied() {
    let running = Running::start(|server| {
        let uid = format!("unix:uid:{}", my_uid());
        server.put_workload_entry("me", "/me", &[&uid]).unwrap();
        // Another user's entry, which this process must not get.
        server
            .put_workload_entry("them", "/them", &[&format!("unix:uid:{NOBODY}1")])
            .unwrap();
    });
    let client = running.client().await;

    let context = tokio::time::timeout(WAIT, client.fetch_x509_context())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&context), ["/me"]);
    let svid = &context.svids[0].svid;
    let mut bundles = spiffe_core::BundleSet::new();
    for bundle in &context.bundles {
        bundles.insert_x509(bundle.clone());
    }
    let own = bundles
        .x509_bundle_for(&svid.spiffe_id().trust_domain())
        .unwrap();
    verify_path(svid.chain(), own.authorities(), running.agent.clock.now()).unwrap();

    // JWT-SVIDs: minted through the agent, validated by the agent and by the bundles.
    let me = SpiffeId::new("spiffe://example.org/me").unwrap();
    let jwts = client.fetch_jwt_svids(&["web"], None).await.unwrap();
    assert_eq!(jwts.len(), 1);
    assert_eq!(jwts[0].spiffe_id, me);
    let again = client.fetch_jwt_svids(&["web"], Some(&me)).await.unwrap();
    assert_eq!(again[0].token, jwts[0].token, "served from the JWT cache");
    let validated = client
        .validate_jwt_svid(&jwts[0].token, "web")
        .await
        .unwrap();
    assert_eq!(validated.spiffe_id, me);
    let err = client
        .fetch_jwt_svids(
            &["web"],
            Some(&SpiffeId::new("spiffe://example.org/them").unwrap()),
        )
        .await
        .unwrap_err();
    assert!(err.is_permission_denied(), "{err:?}");
    let jwt_bundles = client.fetch_jwt_bundles().await.unwrap();
    assert!(jwt_bundles.jwt_bundle("example.org").is_some());
    assert_eq!(running.agent.server.stats().jwt_svids_minted, 1);

    // Another user on the same socket: attested as uid 65534, which no entry matches. Running
    // a process as another user needs root (which the project's test machines are).
    if my_uid() != 0 {
        eprintln!("not root: the second-user check is skipped");
        running.shutdown().await;
        return;
    }
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_fetches_as_another_user",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SOCKET_VAR, &running.path)
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    let out = tokio::time::timeout(WAIT, out).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CHILD x509 denied"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CHILD jwt denied"), "{stdout}");
    assert!(stdout.contains("CHILD bundles denied"), "{stdout}");
    running.shutdown().await;
}

/// Run by [`a_workload_gets_its_identities_and_another_user_is_denied`] as another user;
/// prints what the agent answered.
#[test]
#[ignore = "run as a child process by another test"]
fn child_fetches_as_another_user() {
    let Some(path) = std::env::var_os(CHILD_SOCKET_VAR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = WorkloadApiClient::connect(&EndpointAddress::Unix(PathBuf::from(path)))
            .await
            .unwrap();
        let verdict = |result: Result<(), ClientError>| match result {
            Ok(()) => "granted".to_owned(),
            Err(e) if e.is_permission_denied() => "denied".to_owned(),
            Err(e) => format!("error {e}"),
        };
        let x509 = client.fetch_x509_context().await.map(|_| ());
        println!("CHILD x509 {}", verdict(x509));
        let jwt = client.fetch_jwt_svids(&["web"], None).await.map(|_| ());
        println!("CHILD jwt {}", verdict(jwt));
        let bundles = client.fetch_jwt_bundles().await.map(|_| ());
        println!("CHILD bundles {}", verdict(bundles));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_follows_entries_created_and_deleted() {
    let running = Running::start(|server| {
        server
            .put_workload_entry("them", "/them", &[&format!("unix:uid:{NOBODY}1")])
            .unwrap();
    });
    let server = &running.agent.server;
    let client = running.client().await;
    let mut watch = client.watch_x509_context();

    // No entry yet: no identity.
    let first = next(&mut watch).await.unwrap_err();
    assert!(first.is_permission_denied(), "{first:?}");

    // An entry appears: the SVID arrives (the client keeps retrying while denied).
    let uid = format!("unix:uid:{}", my_uid());
    server.put_workload_entry("a", "/a", &[&uid]).unwrap();
    let context = loop {
        match next(&mut watch).await {
            Ok(context) => break context,
            Err(e) => assert!(e.is_permission_denied(), "{e:?}"),
        }
    };
    assert_eq!(ids(&context), ["/a"]);

    // A second matching entry reaches the same open stream, with no error in between.
    let gid = format!("unix:gid:{}", my_gid());
    server.put_workload_entry("b", "/b", &[&uid, &gid]).unwrap();
    let context = next(&mut watch).await.unwrap();
    assert_eq!(ids(&context), ["/a", "/b"]);

    // A deleted entry disappears from it.
    assert!(server.delete_entry("a"));
    let context = next(&mut watch).await.unwrap();
    assert_eq!(ids(&context), ["/b"]);

    // The last one deleted: the identity is withdrawn.
    assert!(server.delete_entry("b"));
    let last = next(&mut watch).await.unwrap_err();
    assert!(last.is_permission_denied(), "{last:?}");
    drop(watch);
    running.shutdown().await;
}

/// SPIRE's `disable_x509_svid_prefetch` end to end: the agent does not sign the entry's
/// X.509-SVID while syncing; the workload's first call has it signed on demand and served, and
/// the agent keeps it (not signed again on later rounds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_without_prefetch_is_signed_when_its_workload_calls() {
    let running = Running::start(|server| {
        let lazy = server
            .put_workload_entry("lazy", "/lazy", &[&format!("unix:uid:{}", my_uid())])
            .unwrap();
        server.put_entry(
            lazy.to_builder()
                .disable_x509_svid_prefetch(true)
                .build()
                .unwrap(),
        );
        server
            .put_workload_entry("eager", "/eager", &[&format!("unix:uid:{NOBODY}1")])
            .unwrap();
    });
    let agent = &running.agent;
    // Synced and signed what it prefetches, twice over.
    let synced = agent.status_until("a round", |s| s.successes >= 1).await;
    agent.rounds_after(synced.rounds, 2).await;
    assert!(agent.manager.svid_times("eager").is_some());
    assert!(agent.manager.svid_times("lazy").is_none(), "not prefetched");
    assert_eq!(agent.server.stats().x509_svids_signed, 1);

    let client = running.client().await;
    let context = tokio::time::timeout(WAIT, client.fetch_x509_context())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&context), ["/lazy"]);
    assert_eq!(agent.server.stats().x509_svids_signed, 2);
    let times = agent.manager.svid_times("lazy").expect("now held");

    // Held from now on: later rounds do not sign it again, and the next call is served at once.
    let now = agent.manager.status().rounds;
    agent.rounds_after(now, 2).await;
    assert_eq!(agent.manager.svid_times("lazy"), Some(times));
    let again = tokio::time::timeout(WAIT, client.fetch_x509_context())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.svids[0].svid.leaf().serial(),
        context.svids[0].svid.leaf().serial()
    );
    assert_eq!(agent.server.stats().x509_svids_signed, 2);
    running.shutdown().await;
}
