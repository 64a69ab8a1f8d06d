//! The k8s workload attestor against an in-test kubelet (real TLS with a test CA, a real
//! bearer token check) serving kubelet `/pods` lists (`tests/data/k8s/`), with the caller's
//! cgroups from a stand-in proc root (`tests/data/cgroup/containerd_v1_cgroupfs.txt`).

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_support::{data, proc_root, serve_plain, serve_tls, test_pki, Handler};
use spiffe_attest::workload::k8s::{K8sAttestor, K8sConfig, K8sError, KubeletPort};
use spiffe_attest::workload::CallerInfo;
use spiffe_attest::HttpError;

const PID: i32 = 4321;
const START: u64 = 777;
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.test-service-account-token.c2lnbmF0dXJl";

fn caller() -> CallerInfo {
    CallerInfo::new(Some(PID), 0, 0).with_start_time(START)
}

/// A kubelet answering `/pods` with `bodies` in turn (the last one from then on), 401 without
/// the token.
fn kubelet(bodies: Vec<Vec<u8>>) -> Handler {
    let next = AtomicUsize::new(0);
    Arc::new(move |seen| {
        let auth = seen.header("authorization");
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return (401, b"Unauthorized".to_vec());
        }
        if seen.method != "GET" || seen.path != "/pods" {
            return (404, b"404 page not found".to_vec());
        }
        let i = next.fetch_add(1, Ordering::SeqCst).min(bodies.len() - 1);
        (200, bodies[i].clone())
    })
}

struct Setup {
    _dir: tempfile::TempDir,
    _proc: tempfile::TempDir,
    token_path: std::path::PathBuf,
    proc: std::path::PathBuf,
}

fn setup(token: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, format!("{token}\n")).expect("token");
    let cgroup = String::from_utf8(data("cgroup/containerd_v1_cgroupfs.txt")).expect("utf8");
    let (proc_dir, proc) = proc_root(PID, &cgroup, START);
    Setup {
        _dir: dir,
        _proc: proc_dir,
        token_path,
        proc,
    }
}

fn secure(port: u16, ca_pem: Option<Vec<u8>>, s: &Setup) -> K8sConfig {
    let mut config = K8sConfig::new(Some("localhost".to_owned()));
    config.port = KubeletPort::Secure {
        port,
        ca_pem,
        token_path: Some(s.token_path.clone()),
    };
    config.max_poll_attempts = 3;
    config.poll_retry_interval = Duration::from_millis(20);
    config
}

fn values(selectors: &[spiffe_attest::Selector]) -> Vec<String> {
    selectors.iter().map(ToString::to_string).collect()
}

const WEB_SELECTORS: &[&str] = &[
    "k8s:sa:web",
    "k8s:ns:payments",
    "k8s:node-name:kind-control-plane",
    "k8s:pod-uid:6bd2a4d3-a55a-4450-b6fd-2a7ecc72c904",
    "k8s:pod-name:web-7d4b9c8f6d-abcde",
    "k8s:pod-image-count:2",
    "k8s:pod-init-image-count:1",
    "k8s:pod-image:docker.io/library/nginx:1.25",
    "k8s:pod-image:docker.io/library/nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e",
    "k8s:pod-image:ghcr.io/example/sidecar:v2",
    "k8s:pod-image:ghcr.io/example/sidecar@sha256:2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e",
    "k8s:pod-init-image:docker.io/library/busybox:1.36",
    "k8s:pod-init-image:docker.io/library/busybox@sha256:ba76950ac9eaa407512c9d859cea48114eeff8a6f12ebaa5d32ce79d4a017dd8",
    "k8s:pod-label:app:web",
    "k8s:pod-label:pod-template-hash:7d4b9c8f6d",
    "k8s:pod-owner:ReplicaSet:web-7d4b9c8f6d",
    "k8s:pod-owner-uid:ReplicaSet:b8e0f1a2-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    "k8s:container-name:web",
    "k8s:container-image:docker.io/library/nginx:1.25",
    "k8s:container-image:docker.io/library/nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e",
];

#[tokio::test]
async fn secure_port_with_ca_and_token() {
    let s = setup(TOKEN);
    let pki = test_pki();
    let (port, requests) = serve_tls(&pki, kubelet(vec![data("k8s/kubelet_pods.json")])).await;
    let attestor = K8sAttestor::new(secure(port, Some(pki.ca_pem.into_bytes()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    let got = values(&attestor.attest_caller(&caller()).await.expect("attested"));
    assert_eq!(got, WEB_SELECTORS);
    assert_eq!(requests.get(), 1);
    // The token never shows in Debug.
    assert!(!format!("{attestor:?}").contains(TOKEN));
}

#[tokio::test]
async fn container_selectors_can_be_disabled() {
    let s = setup(TOKEN);
    let pki = test_pki();
    let (port, _) = serve_tls(&pki, kubelet(vec![data("k8s/kubelet_pods.json")])).await;
    let mut config = secure(port, Some(pki.ca_pem.into_bytes()), &s);
    config.disable_container_selectors = true;
    let attestor = K8sAttestor::new(config)
        .expect("attestor")
        .with_proc_root(&s.proc);
    let got = values(&attestor.attest_caller(&caller()).await.expect("attested"));
    assert_eq!(got, WEB_SELECTORS[..WEB_SELECTORS.len() - 3]);
}

#[tokio::test]
async fn just_started_container_is_polled_for() {
    let s = setup(TOKEN);
    let pki = test_pki();
    let creating = data("k8s/kubelet_pods_container_creating.json");
    let (port, requests) = serve_tls(
        &pki,
        kubelet(vec![
            creating.clone(),
            creating,
            data("k8s/kubelet_pods.json"),
        ]),
    )
    .await;
    let attestor = K8sAttestor::new(secure(port, Some(pki.ca_pem.clone().into_bytes()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    let got = values(&attestor.attest_caller(&caller()).await.expect("attested"));
    assert_eq!(got, WEB_SELECTORS);
    assert_eq!(requests.get(), 3);

    // Never listed: bounded by max_poll_attempts.
    let pki = test_pki();
    let (port, requests) = serve_tls(
        &pki,
        kubelet(vec![data("k8s/kubelet_pods_container_creating.json")]),
    )
    .await;
    let attestor = K8sAttestor::new(secure(port, Some(pki.ca_pem.into_bytes()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    let err = attestor
        .attest_caller(&caller())
        .await
        .expect_err("not listed");
    assert!(
        matches!(err, K8sError::NotFound { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(requests.get(), 3);
}

#[tokio::test]
async fn wrong_token_is_refused_without_polling() {
    let s = setup("not-the-token");
    let pki = test_pki();
    let (port, requests) = serve_tls(&pki, kubelet(vec![data("k8s/kubelet_pods.json")])).await;
    let attestor = K8sAttestor::new(secure(port, Some(pki.ca_pem.into_bytes()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    let err = attestor.attest_caller(&caller()).await.expect_err("401");
    assert_eq!(err, K8sError::Status(401));
    assert!(!err.to_string().contains("not-the-token"));
    assert_eq!(requests.get(), 1);
}

#[tokio::test]
async fn kubelet_certificate_is_verified_unless_skipped() {
    let s = setup(TOKEN);
    let pki = test_pki();
    let other_ca = test_pki().ca_pem.into_bytes();
    let (port, requests) = serve_tls(&pki, kubelet(vec![data("k8s/kubelet_pods.json")])).await;
    let attestor = K8sAttestor::new(secure(port, Some(other_ca), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    let err = attestor
        .attest_caller(&caller())
        .await
        .expect_err("untrusted kubelet");
    assert!(
        matches!(err, K8sError::Http(HttpError::Unreachable { .. })),
        "{err}"
    );
    assert_eq!(
        requests.get(),
        0,
        "no request is sent to an unverified kubelet"
    );

    let attestor = K8sAttestor::new(secure(port, None, &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    assert_eq!(
        values(
            &attestor
                .attest_caller(&caller())
                .await
                .expect("skip verification")
        ),
        WEB_SELECTORS
    );
}

#[tokio::test]
async fn read_only_port() {
    let s = setup(TOKEN);
    let body = data("k8s/kubelet_pods.json");
    let (port, _) = serve_plain(Arc::new(move |seen| {
        assert!(
            seen.header("authorization").is_none(),
            "no token on the read-only port"
        );
        (200, body.clone())
    }))
    .await;
    let mut config = K8sConfig::new(Some("127.0.0.1".to_owned()));
    config.port = KubeletPort::ReadOnly(port);
    let attestor = K8sAttestor::new(config)
        .expect("attestor")
        .with_proc_root(&s.proc);
    assert_eq!(
        values(&attestor.attest_caller(&caller()).await.expect("attested")),
        WEB_SELECTORS
    );
}

#[tokio::test]
async fn bad_kubelet_answers_give_no_selectors() {
    let s = setup(TOKEN);
    let pki = test_pki();
    let ca = pki.ca_pem.clone().into_bytes();
    let (port, _) = serve_tls(&pki, kubelet(vec![b"{\"items\": [".to_vec()])).await;
    let attestor = K8sAttestor::new(secure(port, Some(ca.clone()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    assert!(matches!(
        attestor.attest_caller(&caller()).await,
        Err(K8sError::Malformed(_))
    ));

    let (port, _) = serve_tls(&pki, kubelet(vec![data("k8s/kubelet_pods.json")])).await;
    let attestor = K8sAttestor::new(secure(port, Some(ca.clone()), &s))
        .expect("attestor")
        .with_proc_root(&s.proc)
        .with_max_body(1024);
    assert!(matches!(
        attestor.attest_caller(&caller()).await,
        Err(K8sError::Http(HttpError::TooLarge { max: 1024, .. }))
    ));

    // Nothing listening on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let attestor = K8sAttestor::new(secure(port, Some(ca), &s))
        .expect("attestor")
        .with_proc_root(&s.proc);
    assert!(matches!(
        attestor.attest_caller(&caller()).await,
        Err(K8sError::Http(HttpError::Unreachable { .. }))
    ));

    // A CA file without certificates is a settings error.
    assert!(matches!(
        K8sAttestor::new(secure(port, Some(b"not pem".to_vec()), &s)),
        Err(K8sError::Settings(_))
    ));
}
