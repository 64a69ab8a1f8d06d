//! The end-to-end case: a trust domain of real processes (a `spiffe-server` with
//! `jwt_issuer` set to the provider's URL, and an attested `spiffe-agent`), the provider reading
//! the agent's Workload API, and PyJWT's `PyJWKClient` (a library nobody here wrote) validating a
//! JWT-SVID that a workload fetched from the agent; then a JWT authority rotation reaching
//! `/keys` through the agent.
//!
//! Needs the `spiffe-server` and `spiffe-agent` binaries (`cargo build -p spiffe-server -p
//! spiffe-agent`; `cargo nextest run --workspace` builds them) and PyJWT in `target/venv-py`
//! (`scripts/test.sh`). The test fails, it does not skip, without them.
#![allow(clippy::unwrap_used)]

mod common;

use common::{eventually, free_port, get, kids, pyjwt, ProviderProcess};
use daemon_harness::{current_uid, Domain};
use spiffe_workload::{EndpointAddress, WorkloadApiClient};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::GetBundleRequest;
use spire_api_proto::server::localauthority::v1::local_authority_client::LocalAuthorityClient;
use spire_api_proto::server::localauthority::v1::PrepareJwtAuthorityRequest;

#[test]
fn pyjwt_validates_a_jwt_svid_fetched_from_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://localhost:{port}");
    let jwt_issuer = format!("    jwt_issuer = \"{issuer}\"\n");
    let domain = Domain::start(dir.path(), "example.org", |server, _agent| {
        server.extra_server = jwt_issuer;
    })
    .unwrap();
    let selector = format!("unix:uid:{}", current_uid());
    // This test process and the provider (same uid) are the workload.
    domain
        .create_entry("spiffe://example.org/workload", &[&selector], &[])
        .unwrap();
    domain
        .wait_for_svid("spiffe://example.org/workload")
        .unwrap();
    let agent_socket = domain.agent_config.socket_path.clone();
    let _provider = ProviderProcess::start(
        dir.path(),
        &format!(
            "domains = [\"localhost\"]\ninsecure_addr = \"127.0.0.1:{port}\"\nallow_insecure_scheme = true\nworkload_api {{\n    socket_path = \"{}\"\n    trust_domain = \"example.org\"\n    poll_interval = \"200ms\"\n}}\n",
            agent_socket.display()
        ),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server_kids = || async {
            let bundle = BundleClient::new(domain.server.admin_channel().await)
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
        };
        let host = format!("localhost:{port}");
        let expected = server_kids().await;
        let served = eventually("the agent's JWT bundle in /keys", || async {
            let reply = get(port, &host, "/keys").await;
            (reply.status == 200).then(|| kids(&reply.json()))
        })
        .await;
        assert_eq!(served, expected);

        // A workload's JWT-SVID from the agent, validated by PyJWT through discovery.
        let client = WorkloadApiClient::connect(&EndpointAddress::Unix(agent_socket.clone()))
            .await
            .unwrap();
        let svids = client.fetch_jwt_svids(&["vault"], None).await.unwrap();
        assert_eq!(svids.len(), 1);
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        assert_eq!(
            pyjwt(&discovery, &svids[0].token, "vault").await,
            Ok("spiffe://example.org/workload".to_owned())
        );
        let refused = pyjwt(&discovery, &svids[0].token, "not-vault")
            .await
            .unwrap_err();
        assert!(refused.contains("InvalidAudience"), "{refused}");

        // A prepared JWT authority travels server → agent → provider.
        let prepared = LocalAuthorityClient::new(domain.server.admin_channel().await)
            .prepare_jwt_authority(PrepareJwtAuthorityRequest {})
            .await
            .unwrap()
            .into_inner()
            .prepared_authority
            .unwrap()
            .authority_id;
        let served = eventually("the prepared key through the agent", || async {
            let keys = kids(&get(port, &host, "/keys").await.json());
            keys.contains(&prepared).then_some(keys)
        })
        .await;
        assert_eq!(served, server_kids().await);
    });
}
