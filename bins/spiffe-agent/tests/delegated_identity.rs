//! The agent's admin socket against an independent client: the `spire-api` crate (the Rust
//! client of SPIRE's Delegated Identity API) calls every RPC, naming workloads by selectors and
//! by pid; a caller that is not an authorized delegate is refused; the Debug API answers
//! `GetInfo`. The agent and server run as processes.
//!
//! Needs the daemons built: `cargo build -p spiffe-server -p spiffe-agent`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon_harness::Domain;
use spire_api::selectors::Selector;
use spire_api::{DelegateAttestationRequest, DelegatedIdentityClient};
use spire_api_proto::agent::debug::v1::debug_client::DebugClient;
use spire_api_proto::agent::debug::v1::GetInfoRequest;

const TD: &str = "delegated.test";

/// This test binary's path: the delegate is identified by it (`unix:path`).
fn this_binary() -> PathBuf {
    std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap()
}

fn start(dir: &Path, delegates: &[&str]) -> (Domain, PathBuf) {
    let admin = dir.join("admin").join("admin.sock");
    let list = delegates
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let extra = format!(
        "    admin_socket_path = \"{}\"\n    authorized_delegates = [{list}]\n",
        admin.display()
    );
    let domain = Domain::start(dir, TD, move |_, agent| {
        agent.unix_attestor_data =
            "            discover_workload_path = true\n            workload_size_limit = -1"
                .into();
        agent.extra_agent = extra;
    })
    .unwrap();
    (domain, admin)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Retries `f` until it returns `Some` (entries take a sync round to reach the agent).
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("timed out waiting for {what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spire_api_client_uses_every_rpc_by_selectors_and_by_pid() {
    let dir = tempfile::tempdir().unwrap();
    let delegate = format!("spiffe://{TD}/delegate");
    let (domain, admin) = start(dir.path(), &[&delegate]);
    domain
        .create_entry(
            &delegate,
            &[&format!("unix:path:{}", this_binary().display())],
            &[],
        )
        .unwrap();
    let by_selectors = format!("spiffe://{TD}/by-selectors");
    domain
        .create_entry(&by_selectors, &["unix:uid:4242"], &["-hint", "h1"])
        .unwrap();
    let sleep_bin = std::fs::canonicalize("/bin/sleep").unwrap();
    let by_pid = format!("spiffe://{TD}/by-pid");
    domain
        .create_entry(
            &by_pid,
            &[&format!("unix:path:{}", sleep_bin.display())],
            &[],
        )
        .unwrap();
    let child = Killed(
        Command::new(&sleep_bin)
            .arg("120")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let endpoint = format!("unix:{}", admin.display());
    let client = eventually("the admin socket", || async {
        DelegatedIdentityClient::connect_to(&endpoint)
            .await
            .map_err(|e| e.to_string())
    })
    .await;

    // SubscribeToX509SVIDs by selectors.
    let selectors = || {
        DelegateAttestationRequest::for_selectors(vec![Selector::Generic((
            "unix".into(),
            "uid:4242".into(),
        ))])
        .unwrap()
    };
    let svid = eventually("an X.509-SVID by selectors", || async {
        let svid = client
            .fetch_x509_svid(selectors())
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(svid)
    })
    .await;
    assert_eq!(svid.spiffe_id().to_string(), by_selectors);
    assert_eq!(svid.hint(), Some("h1"));
    assert!(!svid.cert_chain().is_empty());

    // SubscribeToX509SVIDs by pid: the agent attests the process itself.
    let pid = DelegateAttestationRequest::for_pid(child.0.id()).unwrap();
    let svid = eventually("an X.509-SVID by pid", || async {
        client
            .fetch_x509_svid(pid.clone())
            .await
            .map_err(|e| format!("{e:?}"))
    })
    .await;
    assert_eq!(svid.spiffe_id().to_string(), by_pid);

    // FetchJWTSVIDs by selectors and by pid.
    let jwts = client
        .fetch_jwt_svids(&["audience-1"], selectors())
        .await
        .unwrap();
    assert_eq!(jwts.len(), 1);
    assert_eq!(jwts[0].spiffe_id().to_string(), by_selectors);
    assert_eq!(jwts[0].audience(), ["audience-1".to_owned()]);
    let jwts = client
        .fetch_jwt_svids(&["audience-2"], pid.clone())
        .await
        .unwrap();
    assert_eq!(jwts[0].spiffe_id().to_string(), by_pid);

    // SubscribeToX509Bundles and SubscribeToJWTBundles: the own trust domain's bundle.
    let td = spiffe::TrustDomain::new(TD).unwrap();
    let x509 = client.fetch_x509_bundles().await.unwrap();
    let bundle = x509.get(&td).expect("own X.509 bundle");
    // The bundle is the one that verifies the SVIDs handed out: its authority is the root.
    let bootstrap = std::fs::read_to_string(&domain.bootstrap_bundle).unwrap();
    assert!(!bundle.authorities().is_empty());
    assert!(bootstrap.contains("BEGIN CERTIFICATE"));
    let jwt = client.fetch_jwt_bundles().await.unwrap();
    let jwt_bundle = jwt.get(&td).expect("own JWT bundle");
    // The JWT-SVIDs minted above are signed by a key of that bundle.
    assert!(jwt_bundle.find_jwt_authority(jwts[0].key_id()).is_some());

    // A workload nothing matches: no SVID (an empty answer), JWT refused.
    let nobody = DelegateAttestationRequest::for_selectors(vec![Selector::Generic((
        "unix".into(),
        "uid:999999".into(),
    ))])
    .unwrap();
    let err = client
        .fetch_jwt_svids(&["audience-1"], nobody)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("PermissionDenied"), "{err:?}");

    // The Debug API on the same socket.
    let channel = admin_channel(&admin).await;
    let info = DebugClient::new(channel)
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let leaf = info.svid_chain.first().expect("agent SVID chain");
    let id = leaf.id.as_ref().expect("the leaf names the agent");
    assert_eq!(
        format!("spiffe://{}{}", id.trust_domain, id.path),
        domain.agent_id
    );
    assert!(info.cached_x509_svids_count >= 3, "{info:?}");
    assert!(info.last_sync_success > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_is_not_an_authorized_delegate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (domain, admin) = start(dir.path(), &[&format!("spiffe://{TD}/someone-else")]);
    // This process has an identity, just not a delegate's.
    let me = format!("spiffe://{TD}/not-a-delegate");
    domain
        .create_entry(
            &me,
            &[&format!("unix:path:{}", this_binary().display())],
            &[],
        )
        .unwrap();
    domain
        .create_entry(&format!("spiffe://{TD}/target"), &["unix:uid:4242"], &[])
        .unwrap();
    let endpoint = format!("unix:{}", admin.display());
    let client = eventually("the admin socket", || async {
        DelegatedIdentityClient::connect_to(&endpoint)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let request = || {
        DelegateAttestationRequest::for_selectors(vec![Selector::Generic((
            "unix".into(),
            "uid:4242".into(),
        ))])
        .unwrap()
    };
    // Once the caller's own entry has reached the agent, it is told it is no delegate.
    let refusal = eventually("the delegate refusal", || async {
        match client.fetch_x509_svid(request()).await {
            Ok(svid) => panic!("a non-delegate got {}", svid.spiffe_id()),
            Err(e) => {
                let text = format!("{e:?}");
                if text.contains("not configured as an authorized delegate") {
                    Ok(text)
                } else {
                    Err(text)
                }
            }
        }
    })
    .await;
    assert!(refusal.contains("PermissionDenied"), "{refusal}");
    for err in [
        format!(
            "{:?}",
            client.fetch_jwt_svids(&["a"], request()).await.unwrap_err()
        ),
        format!("{:?}", client.fetch_x509_bundles().await.unwrap_err()),
        format!("{:?}", client.fetch_jwt_bundles().await.unwrap_err()),
    ] {
        assert!(err.contains("PermissionDenied"), "{err}");
    }
}

async fn admin_channel(path: &Path) -> tonic::transport::Channel {
    let path = path.to_owned();
    tonic::transport::Endpoint::from_static("http://admin.invalid")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap()
}
