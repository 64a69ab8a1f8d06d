//! The provider against a real `spiffe-server` process, with the server's admin socket as the
//! key source: the discovery document, the domain allow-list, the keys following a JWT
//! authority rotation, and PyJWT's `PyJWKClient` validating a JWT-SVID the server minted.
//!
//! Needs the `spiffe-server` binary (`cargo build -p spiffe-server`, which `cargo nextest run
//! --workspace` does) and PyJWT in `target/venv-py` (installed by `scripts/test.sh`;
//! `SPIFFE_TEST_PYTHON` points elsewhere). The tests fail, they do not skip, without them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{eventually, free_port, get, get_with, kids, pyjwt, ProviderProcess};
use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::GetBundleRequest;
use spire_api_proto::server::localauthority::v1::local_authority_client::LocalAuthorityClient;
use spire_api_proto::server::localauthority::v1::PrepareJwtAuthorityRequest;
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::MintJwtsvidRequest;
use spire_api_proto::types;

fn start_server(dir: &Path, jwt_issuer: Option<&str>) -> ServerProcess {
    let mut config = ServerConfigFile::new(&dir.join("server"));
    if let Some(issuer) = jwt_issuer {
        config.extra_server = format!("    jwt_issuer = \"{issuer}\"\n");
    }
    ServerProcess::start(&ServerProcess::binary(), &config).unwrap()
}

fn provider_config(server: &ServerProcess, port: u16, extra: &str) -> String {
    format!(
        "log_level = \"debug\"\ndomains = [\"localhost\", \"oidc.example.org\"]\ninsecure_addr = \"127.0.0.1:{port}\"\nallow_insecure_scheme = true\nserver_api {{\n    address = \"unix://{}\"\n    poll_interval = \"200ms\"\n}}\n{extra}",
        server.socket_path().display()
    )
}

async fn server_kids(server: &ServerProcess) -> Vec<String> {
    let bundle = BundleClient::new(server.admin_channel().await)
        .get_bundle(GetBundleRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut kids: Vec<String> = bundle
        .jwt_authorities
        .iter()
        .map(|k| k.key_id.clone())
        .collect();
    kids.sort();
    kids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_api_discovery_document_allow_list_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), None);
    let port = free_port();
    let _provider = ProviderProcess::start(dir.path(), &provider_config(&server, port, ""));
    let host = format!("localhost:{port}");

    // The keys are the server's JWT authorities, each with its algorithm.
    let expected = server_kids(&server).await;
    assert_eq!(expected.len(), 1, "a new server has one JWT authority");
    let jwks = eventually("the first keys", || async {
        let reply = get(port, &host, "/keys").await;
        (reply.status == 200).then(|| reply.json())
    })
    .await;
    assert_eq!(kids(&jwks), expected);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    assert!(
        key.get("use").is_none(),
        "no use without set_key_use: {key}"
    );
    let reply = get(port, &host, "/keys").await;
    assert_eq!(
        reply.headers["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    assert_eq!(reply.headers["content-type"], "application/json");

    // The discovery document, built from the request's host and (plain HTTP) scheme.
    let doc = get(port, &host, "/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(
        doc,
        serde_json::json!({
            "issuer": format!("http://{host}"),
            "jwks_uri": format!("http://{host}/keys"),
            "authorization_endpoint": "",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
        })
    );
    // Behind a TLS-terminating proxy: its host and scheme.
    let proxied = get_with(
        port,
        "127.0.0.1",
        "/.well-known/openid-configuration",
        &[
            ("x-forwarded-host", "oidc.example.org"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await
    .json();
    assert_eq!(proxied["issuer"], "https://oidc.example.org");
    assert_eq!(proxied["jwks_uri"], "https://oidc.example.org/keys");

    // The allow-list: a host not in `domains` is refused, with SPIRE's message.
    let refused = get(
        port,
        "evil.example.org",
        "/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.text(),
        "domain \"evil.example.org\" is not allowed\n"
    );
    let refused = get(port, "127.0.0.1", "/.well-known/openid-configuration").await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(get(port, &host, "/other").await.status, 404);

    // Rotation: a prepared JWT authority is published in the bundle, and shows in /keys
    // within a poll or two.
    let prepared = LocalAuthorityClient::new(server.admin_channel().await)
        .prepare_jwt_authority(PrepareJwtAuthorityRequest {})
        .await
        .unwrap()
        .into_inner()
        .prepared_authority
        .unwrap()
        .authority_id;
    let rotated = server_kids(&server).await;
    assert_eq!(rotated.len(), 2);
    assert!(rotated.contains(&prepared));
    let served = eventually("the prepared key in /keys", || async {
        let keys = kids(&get(port, &host, "/keys").await.json());
        (keys.len() == 2).then_some(keys)
    })
    .await;
    assert_eq!(served, rotated);
}

async fn mint(server: &ServerProcess, path: &str, audience: &str) -> String {
    SvidClient::new(server.admin_channel().await)
        .mint_jwtsvid(MintJwtsvidRequest {
            id: Some(types::Spiffeid {
                trust_domain: "example.org".into(),
                path: path.into(),
            }),
            audience: vec![audience.into()],
            ttl: 300,
        })
        .await
        .unwrap()
        .into_inner()
        .svid
        .unwrap()
        .token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_validates_a_jwt_svid_through_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The server's jwt_issuer is the provider's URL, so `iss` matches the discovery issuer.
    let issuer = format!("http://localhost:{port}");
    let server = start_server(dir.path(), Some(&issuer));
    let _provider = ProviderProcess::start(dir.path(), &provider_config(&server, port, ""));
    let host = format!("localhost:{port}");
    eventually("the first keys", || async {
        (get(port, &host, "/keys").await.status == 200).then_some(())
    })
    .await;
    let discovery = format!("{issuer}/.well-known/openid-configuration");

    let token = mint(&server, "/workload", "vault").await;
    assert_eq!(
        pyjwt(&discovery, &token, "vault").await,
        Ok("spiffe://example.org/workload".to_owned())
    );
    // The same token for another audience, and a token with a forged signature, fail.
    let wrong_audience = pyjwt(&discovery, &token, "someone-else").await.unwrap_err();
    assert!(
        wrong_audience.contains("InvalidAudience"),
        "{wrong_audience}"
    );
    // One character of the signature changed: its first, because every bit of a first
    // character is signature (the last one's low bits are padding, and a strict base64url
    // decoder refuses them set before the signature is ever checked).
    let at = token.rfind('.').unwrap() + 1;
    let first = &token[at..=at];
    let forged = format!(
        "{}{}{}",
        &token[..at],
        if first == "A" { "B" } else { "A" },
        &token[at + 1..]
    );
    let forged = pyjwt(&discovery, &forged, "vault").await.unwrap_err();
    assert!(forged.contains("Signature"), "{forged}");

    // After a full rotation (prepare, then activate) new tokens carry the new kid, which the
    // provider already serves: PyJWT finds it through the same discovery document.
    let mut authority = LocalAuthorityClient::new(server.admin_channel().await);
    let prepared = authority
        .prepare_jwt_authority(PrepareJwtAuthorityRequest {})
        .await
        .unwrap()
        .into_inner()
        .prepared_authority
        .unwrap()
        .authority_id;
    authority
        .activate_jwt_authority(
            spire_api_proto::server::localauthority::v1::ActivateJwtAuthorityRequest {
                authority_id: prepared.clone(),
            },
        )
        .await
        .unwrap();
    eventually("the new key in /keys", || async {
        kids(&get(port, &host, "/keys").await.json())
            .contains(&prepared)
            .then_some(())
    })
    .await;
    let token = mint(&server, "/after-rotation", "vault").await;
    assert_eq!(
        pyjwt(&discovery, &token, "vault").await,
        Ok("spiffe://example.org/after-rotation".to_owned())
    );
}
