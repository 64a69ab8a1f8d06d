//! The k8s_psat node attestor, both halves, against an in-test Kubernetes API server (real TLS
//! with a test CA, the server's bearer token checked) answering TokenReview, pod and node
//! requests from `tests/data/k8s/`.

mod http_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use http_support::{data, serve_tls, test_pki, Handler};
use spiffe_attest::node::k8s_psat::{ApiServer, ClusterConfig, PsatAgent, PsatError, PsatServer};
use spiffe_attest::node::{attest_in_process, NodeAttestorServer, ServerStep};
use spiffe_attest::{AttestError, HttpError};
use spiffe_core::TrustDomain;

const API_TOKEN: &str = "spire-server-api-token";
const AGENT_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.agent-psat.c2ln";
const POD_UID: &str = "e2c1d0b9-8a7f-4e6d-9c5b-4a3f2e1d0c9b";

/// The API server: TokenReview authenticates `AGENT_TOKEN` for audience `spire-server` as
/// `username` (bound to the pod with `pod_uid`), anything else not; pod and node from the
/// recorded objects.
fn api_server(username: &'static str, pod_uid: &'static str) -> Handler {
    Arc::new(move |seen| {
        let auth = seen.header("authorization");
        if auth != Some(&format!("Bearer {API_TOKEN}")) {
            return (401, br#"{"kind":"Status","code":401}"#.to_vec());
        }
        match (seen.method.as_str(), seen.path.as_str()) {
            ("POST", "/apis/authentication.k8s.io/v1/tokenreviews") => {
                let req: serde_json::Value =
                    serde_json::from_slice(&seen.body).expect("TokenReview request");
                let token = req["spec"]["token"].as_str().unwrap_or_default();
                let audiences = req["spec"]["audiences"].clone();
                let ok = token == AGENT_TOKEN && audiences == serde_json::json!(["spire-server"]);
                if !ok {
                    return (201, data("k8s/tokenreview_unauthenticated.json"));
                }
                let mut review: serde_json::Value =
                    serde_json::from_slice(&data("k8s/tokenreview_authenticated.json"))
                        .expect("json");
                review["status"]["user"]["username"] = username.into();
                review["status"]["user"]["extra"]["authentication.kubernetes.io/pod-uid"] =
                    serde_json::json!([pod_uid]);
                (201, review.to_string().into_bytes())
            }
            ("GET", "/api/v1/namespaces/spire/pods/spire-agent-x7k2p") => {
                (200, data("k8s/pod_spire_agent.json"))
            }
            ("GET", "/api/v1/nodes/kind-worker") => (200, data("k8s/node_kind_worker.json")),
            _ => (404, br#"{"kind":"Status","code":404}"#.to_vec()),
        }
    })
}

struct Env {
    dir: tempfile::TempDir,
    ca_pem: Vec<u8>,
    port: u16,
}

async fn env(handler: Handler) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("api-token"), API_TOKEN).expect("api token");
    std::fs::write(dir.path().join("agent-token"), format!("{AGENT_TOKEN}\n")).expect("token");
    let pki = test_pki();
    let (port, _) = serve_tls(&pki, handler).await;
    Env {
        dir,
        ca_pem: pki.ca_pem.into_bytes(),
        port,
    }
}

fn server(env: &Env, allow: &[&str], audience: &[&str]) -> PsatServer {
    let cluster = ClusterConfig {
        service_account_allow_list: allow.iter().map(|s| s.to_string()).collect(),
        audience: audience.iter().map(|s| s.to_string()).collect(),
        allowed_node_label_keys: vec!["topology.kubernetes.io/zone".to_owned()],
        allowed_pod_label_keys: vec!["app".to_owned()],
        api_server: ApiServer {
            host: "localhost".to_owned(),
            port: env.port,
            ca_pem: env.ca_pem.clone(),
            token_path: env.dir.path().join("api-token"),
        },
    };
    PsatServer::new(
        TrustDomain::new("example.org").expect("td"),
        BTreeMap::from([("prod-cluster".to_owned(), cluster)]),
    )
    .expect("server")
}

fn agent(env: &Env, cluster: &str) -> PsatAgent {
    PsatAgent::new(cluster, env.dir.path().join("agent-token"))
}

fn psat_error(err: AttestError) -> PsatError {
    match err {
        AttestError::Plugin { source, .. } => source
            .downcast::<PsatError>()
            .map(|e| *e)
            .expect("a PsatError"),
        other => panic!("not a plugin error: {other}"),
    }
}

const SA: &str = "system:serviceaccount:spire:spire-agent";

#[tokio::test]
async fn agent_in_an_allowed_pod_is_attested() {
    let env = env(api_server(SA, POD_UID)).await;
    let server = server(&env, &["spire:spire-agent"], &["spire-server"]);
    let node = attest_in_process(&agent(&env, "prod-cluster"), &server)
        .await
        .expect("attested");
    assert_eq!(
        node.agent_id.to_string(),
        "spiffe://example.org/spire/agent/k8s_psat/prod-cluster/7f2a3b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    );
    assert!(node.can_reattest);
    let got: Vec<String> = node.selectors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "k8s_psat:cluster:prod-cluster",
            "k8s_psat:agent_ns:spire",
            "k8s_psat:agent_sa:spire-agent",
            "k8s_psat:agent_pod_name:spire-agent-x7k2p",
            "k8s_psat:agent_pod_uid:e2c1d0b9-8a7f-4e6d-9c5b-4a3f2e1d0c9b",
            "k8s_psat:agent_node_ip:172.18.0.3",
            "k8s_psat:agent_node_name:kind-worker",
            "k8s_psat:agent_node_uid:7f2a3b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b",
            "k8s_psat:agent_node_label:topology.kubernetes.io/zone:zone-a",
            "k8s_psat:agent_pod_label:app:spire-agent",
        ]
    );
    // Neither token shows in Debug output.
    let debug = format!("{server:?} {:?}", agent(&env, "prod-cluster"));
    assert!(
        !debug.contains(API_TOKEN) && !debug.contains(AGENT_TOKEN),
        "{debug}"
    );
}

#[tokio::test]
async fn refusals() {
    // A forged or expired token: TokenReview does not authenticate it.
    let env = env(api_server(SA, POD_UID)).await;
    std::fs::write(env.dir.path().join("agent-token"), "forged.token.value").expect("write");
    let server = server(&env, &["spire:spire-agent"], &["spire-server"]);
    let err = attest_in_process(&agent(&env, "prod-cluster"), &server)
        .await
        .expect_err("forged");
    let err = psat_error(err);
    assert_eq!(err, PsatError::NotAuthenticated("prod-cluster".to_owned()));
    assert!(!err.to_string().contains("forged.token.value"));

    // The right token for another audience.
    let env = self::env(api_server(SA, POD_UID)).await;
    let server = self::server(&env, &["spire:spire-agent"], &["other-audience"]);
    let err = psat_error(
        attest_in_process(&agent(&env, "prod-cluster"), &server)
            .await
            .expect_err("audience"),
    );
    assert_eq!(err, PsatError::NotAuthenticated("prod-cluster".to_owned()));

    // A service account that is not allowed.
    let env = self::env(api_server("system:serviceaccount:default:builder", POD_UID)).await;
    let server = self::server(&env, &["spire:spire-agent"], &["spire-server"]);
    let err = psat_error(
        attest_in_process(&agent(&env, "prod-cluster"), &server)
            .await
            .expect_err("not allowed"),
    );
    assert_eq!(
        err.to_string(),
        "\"default:builder\" is not an allowed service account for cluster \"prod-cluster\""
    );

    // The token's pod was replaced by another of the same name (possibly on another node).
    let env = self::env(api_server(SA, "11111111-2222-4333-8444-555555555555")).await;
    let server = self::server(&env, &["spire:spire-agent"], &["spire-server"]);
    let err = psat_error(
        attest_in_process(&agent(&env, "prod-cluster"), &server)
            .await
            .expect_err("pod mismatch"),
    );
    assert!(matches!(err, PsatError::PodMismatch { .. }), "{err}");

    // A cluster this server does not know.
    let err = psat_error(
        attest_in_process(&agent(&env, "staging"), &server)
            .await
            .expect_err("unknown cluster"),
    );
    assert_eq!(err, PsatError::UnknownCluster("staging".to_owned()));
}

#[tokio::test]
async fn bad_payloads_and_api_answers() {
    let env = env(api_server(SA, POD_UID)).await;
    let server = server(&env, &["spire:spire-agent"], &["spire-server"]);
    for payload in [
        &b"not json"[..],
        br#"{"cluster":"prod-cluster"}"#,
        br#"{"cluster":"","token":"x"}"#,
    ] {
        let mut attempt = server.begin();
        assert!(attempt.step(payload).await.is_err(), "{payload:?}");
    }
    // A second payload after success is out of order.
    let mut attempt = server.begin();
    let payload = format!(r#"{{"cluster":"prod-cluster","token":"{AGENT_TOKEN}"}}"#);
    assert!(matches!(
        attempt.step(payload.as_bytes()).await,
        Ok(ServerStep::Attested(_))
    ));
    assert!(matches!(
        attempt.step(payload.as_bytes()).await,
        Err(AttestError::OutOfOrder(_))
    ));

    // Oversized API responses.
    let small = self::server(&env, &["spire:spire-agent"], &["spire-server"]).with_max_body(256);
    let err = psat_error(
        attest_in_process(&agent(&env, "prod-cluster"), &small)
            .await
            .expect_err("too large"),
    );
    assert!(
        matches!(
            err,
            PsatError::Api {
                source: HttpError::TooLarge { .. },
                ..
            }
        ),
        "{err}"
    );

    // Malformed JSON from the API server.
    let env2 = self::env(Arc::new(|_| (201, b"{\"status\": ".to_vec()))).await;
    let server2 = self::server(&env2, &["spire:spire-agent"], &["spire-server"]);
    let err = psat_error(
        attest_in_process(&agent(&env2, "prod-cluster"), &server2)
            .await
            .expect_err("malformed"),
    );
    assert!(
        matches!(
            err,
            PsatError::Malformed {
                what: "TokenReview",
                ..
            }
        ),
        "{err}"
    );

    // The API server refuses the server's own token.
    std::fs::write(env.dir.path().join("api-token"), "wrong").expect("write");
    let err = psat_error(
        attest_in_process(&agent(&env, "prod-cluster"), &server)
            .await
            .expect_err("401"),
    );
    assert!(
        matches!(err, PsatError::Status { status: 401, .. }),
        "{err}"
    );

    // Unreachable API server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let env3 = Env {
        dir: tempfile::tempdir().expect("tempdir"),
        ca_pem: env.ca_pem.clone(),
        port,
    };
    std::fs::write(env3.dir.path().join("api-token"), API_TOKEN).expect("write");
    std::fs::write(env3.dir.path().join("agent-token"), AGENT_TOKEN).expect("write");
    let server3 = self::server(&env3, &["spire:spire-agent"], &["spire-server"]);
    let err = psat_error(
        attest_in_process(&agent(&env3, "prod-cluster"), &server3)
            .await
            .expect_err("unreachable"),
    );
    assert!(
        matches!(
            err,
            PsatError::Api {
                source: HttpError::Unreachable { .. },
                ..
            }
        ),
        "{err}"
    );

    // An agent without its token file.
    let missing = PsatAgent::new("prod-cluster", env.dir.path().join("absent"));
    assert!(attest_in_process(&missing, &server).await.is_err());
}
