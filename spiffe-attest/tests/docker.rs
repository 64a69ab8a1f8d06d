//! The docker workload attestor against an in-test Docker Engine on a Unix socket serving a
//! container inspect response (`tests/data/docker/`), with the caller's cgroups from a
//! stand-in proc root.

mod http_support;

use std::sync::Arc;
use std::time::Duration;

use http_support::{data, proc_root, serve_unix, Handler};
use spiffe_attest::workload::docker::{selectors_from_inspect, DockerAttestor, DockerError};
use spiffe_attest::workload::CallerInfo;
use spiffe_attest::HttpError;

const ID: &str = "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26";
const PID: i32 = 31337;
const START: u64 = 555_000;

fn caller() -> CallerInfo {
    CallerInfo::new(Some(PID), 0, 0).with_start_time(START)
}

fn cgroup() -> String {
    String::from_utf8(data("cgroup/docker_v2_systemd.txt")).expect("utf8")
}

fn engine(status: u16, body: Vec<u8>) -> Handler {
    Arc::new(move |seen| {
        let want = format!("/containers/{ID}/json");
        if seen.method == "GET" && seen.path == want {
            (status, body.clone())
        } else {
            (404, br#"{"message":"page not found"}"#.to_vec())
        }
    })
}

fn values(selectors: &[spiffe_attest::Selector]) -> Vec<String> {
    selectors.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn selectors_from_a_recorded_inspect_response() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("docker.sock");
    let requests = serve_unix(
        &socket,
        engine(200, data("docker/container_inspect_api1.43.json")),
    );
    let (_p, root) = proc_root(PID, &cgroup(), START);
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    let got = values(&attestor.attest_caller(&caller()).await.expect("attested"));
    assert_eq!(
        got,
        [
            "docker:label:com.example.team:payments",
            "docker:label:maintainer:NGINX Docker Maintainers <docker-maint@nginx.com>",
            "docker:env:APP_ENV=staging",
            "docker:env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "docker:env:NGINX_VERSION=1.25.4",
            "docker:env:NJS_VERSION=0.8.3",
            "docker:env:PKG_RELEASE=1~bookworm",
            "docker:image_id:nginx:1.25",
        ]
    );
    assert_eq!(requests.get(), 1);
}

#[tokio::test]
async fn pinned_api_version_is_in_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("docker.sock");
    let body = data("docker/container_inspect_api1.43.json");
    let handler: Handler = Arc::new(move |seen| match seen.path.as_str() {
        p if p == format!("/v1.41/containers/{ID}/json") => (200, body.clone()),
        _ => (400, b"{}".to_vec()),
    });
    serve_unix(&socket, handler);
    let (_p, root) = proc_root(PID, &cgroup(), START);
    let attestor = DockerAttestor::new(&socket)
        .with_proc_root(&root)
        .with_api_version("1.41")
        .expect("version");
    assert_eq!(
        attestor
            .attest_caller(&caller())
            .await
            .expect("attested")
            .len(),
        8
    );
    assert!(matches!(
        DockerAttestor::new(&socket).with_api_version("v1/../x"),
        Err(DockerError::BadApiVersion(_))
    ));
}

#[tokio::test]
async fn caller_outside_a_container_gets_no_selectors_and_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("docker.sock");
    let requests = serve_unix(
        &socket,
        engine(200, data("docker/container_inspect_api1.43.json")),
    );
    let host = String::from_utf8(data("cgroup/host_v2_session.txt")).expect("utf8");
    let (_p, root) = proc_root(PID, &host, START);
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    assert!(attestor
        .attest_caller(&caller())
        .await
        .expect("attested")
        .is_empty());
    assert_eq!(requests.get(), 0);
}

#[tokio::test]
async fn reused_pid_is_refused_before_asking_the_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("docker.sock");
    let requests = serve_unix(
        &socket,
        engine(200, data("docker/container_inspect_api1.43.json")),
    );
    let (_p, root) = proc_root(PID, &cgroup(), START + 1);
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    let err = attestor
        .attest_caller(&caller())
        .await
        .expect_err("pid reused");
    assert!(err.to_string().contains("another process"), "{err}");
    let no_start = CallerInfo::new(Some(PID), 0, 0);
    attestor
        .attest_caller(&no_start)
        .await
        .expect_err("no start time");
    assert_eq!(requests.get(), 0);
}

#[tokio::test]
async fn engine_errors_give_no_selectors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_p, root) = proc_root(PID, &cgroup(), START);

    // 404 for the container: retried (a container that just started), then an error.
    let socket = dir.path().join("404.sock");
    let requests = serve_unix(
        &socket,
        engine(404, br#"{"message":"No such container"}"#.to_vec()),
    );
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    let err = attestor.attest_caller(&caller()).await.expect_err("404");
    assert_eq!(
        err.to_string(),
        format!("docker engine answered 404 for container {ID}")
    );
    assert_eq!(requests.get(), 4, "one request and three retries");

    // Malformed JSON: not retried.
    let socket = dir.path().join("bad.sock");
    let requests = serve_unix(&socket, engine(200, b"{\"Config\": [".to_vec()));
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    assert!(matches!(
        attestor.attest_caller(&caller()).await,
        Err(DockerError::Malformed(_))
    ));
    assert_eq!(requests.get(), 1);

    // Oversized body.
    let socket = dir.path().join("big.sock");
    let mut big = b"{\"Config\":{\"Env\":[".to_vec();
    big.extend(std::iter::repeat_n(b'"', 1).chain(std::iter::repeat_n(b'x', 5 << 20)));
    big.extend(b"\"]}}");
    serve_unix(&socket, engine(200, big));
    let attestor = DockerAttestor::new(&socket).with_proc_root(&root);
    assert!(matches!(
        attestor.attest_caller(&caller()).await,
        Err(DockerError::Http(HttpError::TooLarge { .. }))
    ));

    // Nothing listening.
    let attestor = DockerAttestor::new(dir.path().join("absent.sock"))
        .with_proc_root(&root)
        .with_timeout(Duration::from_secs(2));
    let err = attestor
        .attest_caller(&caller())
        .await
        .expect_err("unreachable");
    assert!(
        matches!(err, DockerError::Http(HttpError::Unreachable { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("absent.sock"), "{err}");
}

#[test]
fn inspect_decoding_edges() {
    // No Config at all is an error; an empty Config is no selectors.
    assert!(selectors_from_inspect(br#"{"Id":"x"}"#).is_err());
    assert!(selectors_from_inspect(br#"{"Config":{}}"#)
        .expect("ok")
        .is_empty());
    assert!(
        selectors_from_inspect(br#"{"Config":{"Labels":null,"Env":null,"Image":""}}"#)
            .expect("ok")
            .is_empty()
    );
    // A value with a control character gives no selector, the others stay.
    let got = selectors_from_inspect(br#"{"Config":{"Env":["A=1","B=x\ny"]}}"#).expect("ok");
    assert_eq!(values(&got), ["docker:env:A=1"]);
}
