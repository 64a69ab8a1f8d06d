//! The root side of nested servers through a real tonic client: `SVID.NewDownstreamX509CA`
//! and `Bundle.PublishJWTAuthority` for callers whose entry is marked `downstream`; every bad
//! input refused with nothing signed or stored.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;

use api_support::*;
use rcgen::PublicKeyData;
use spiffe_core::pki_types::CertificateDer;
use spiffe_core::{Certificate, X509Bundle};
use spiffe_server::context::ServerContext;
use spiffe_server::testing;
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::{GetBundleRequest, PublishJwtAuthorityRequest};
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::NewDownstreamX509caRequest;
use spire_api_proto::types;
use tonic::transport::Channel;
use tonic::Code;

const AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-1";
const DOWNSTREAM: &str = "spiffe://example.org/downstream";
const PLAIN: &str = "spiffe://example.org/plain-workload";

/// A root context with an agent, a downstream entry and a plain workload entry.
async fn root(dir: &std::path::Path) -> Arc<ServerContext> {
    let ctx = Arc::new(context(dir).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    entry(&ctx, AGENT, DOWNSTREAM, |b| b.downstream(true)).await;
    entry(&ctx, AGENT, PLAIN, |b| b).await;
    publish_bundle(&ctx).await;
    ctx
}

async fn channel(ctx: &Arc<ServerContext>, dir: &std::path::Path, caller: &str) -> Channel {
    testing::serve_as(ctx.clone(), dir, tls(caller, "22")).await
}

fn request(csr: Vec<u8>, ttl: i32) -> NewDownstreamX509caRequest {
    NewDownstreamX509caRequest {
        csr,
        preferred_ttl: ttl,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_caller_gets_a_ca_that_chains_to_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = root(dir.path()).await;
    let mut client = SvidClient::new(channel(&ctx, dir.path(), DOWNSTREAM).await);
    let answer = client
        .new_downstream_x509ca(request(csr_with(&["spiffe://example.org"], &[]), 600))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.ca_cert_chain.len(),
        1,
        "a self-signed root adds nothing"
    );
    let ca = leaf(&answer.ca_cert_chain);
    assert!(ca.is_ca());
    assert_eq!(ca.path_len_constraint(), None);
    assert_eq!(
        ca.spiffe_id().unwrap().unwrap().as_str(),
        "spiffe://example.org"
    );
    let lifetime = ca.not_after().as_secs() - ca.not_before().as_secs();
    assert!((600..=610).contains(&lifetime), "lifetime {lifetime}");
    // The answer's authorities are the bundle's, and the CA chains to one of them.
    let bundle = ctx
        .datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .unwrap()
        .unwrap();
    let roots: Vec<Vec<u8>> = bundle
        .x509_authorities
        .iter()
        .map(|a| a.der.clone())
        .collect();
    assert_eq!(answer.x509_authorities, roots);
    let anchors = roots
        .iter()
        .map(|d| Certificate::from_der(CertificateDer::from(d.clone())).unwrap())
        .collect();
    let x509 = Arc::new(X509Bundle::from_authorities(
        ctx.settings.trust_domain.clone(),
        anchors,
    ));
    assert!(x509
        .authorities()
        .iter()
        .any(|r| r.subject_der() == ca.issuer_der()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ttl_defaults_to_ca_ttl_and_is_capped_by_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = root(dir.path()).await;
    let mut client = SvidClient::new(channel(&ctx, dir.path(), DOWNSTREAM).await);
    let root_expiry = ctx.ca.x509_svid_issuer().not_after().as_secs();
    for ttl in [0, i32::MAX] {
        let answer = client
            .new_downstream_x509ca(request(csr(), ttl))
            .await
            .unwrap()
            .into_inner();
        let ca = leaf(&answer.ca_cert_chain);
        assert!(ca.not_after().as_secs() <= root_expiry);
        let ca_ttl = ctx.ca.config().x509_ttl().as_secs();
        let lifetime = ca.not_after().as_secs() - ca.not_before().as_secs();
        if ttl == 0 {
            // `ca_ttl` from now, cut at the root's expiry; 10 s of backdating either way.
            let expected = (ca.not_before().as_secs() + 10 + ca_ttl).min(root_expiry);
            assert_eq!(ca.not_after().as_secs(), expected, "lifetime {lifetime}");
        } else {
            assert_eq!(ca.not_after().as_secs(), root_expiry);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_downstream_requests_are_refused_with_nothing_signed() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = root(dir.path()).await;
    let signed = |ctx: &ServerContext| {
        ctx.metrics
            .registry()
            .encode()
            .lines()
            .find(|l| l.starts_with("spire_server_server_ca_sign_x509_svid"))
            .map(str::to_owned)
    };
    let before = signed(&ctx);
    assert!(before.is_some(), "the signing counter is exported");
    let mut client = SvidClient::new(channel(&ctx, dir.path(), DOWNSTREAM).await);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "missing CSR"),
        (b"not a csr".to_vec(), "malformed CSR"),
        (bad_signature_csr(), "failed to verify CSR signature"),
        (
            csr_with(&["spiffe://other.org"], &[]),
            "may only be for trust domain ID",
        ),
        (
            csr_with(&["spiffe://example.org/workload"], &[]),
            "may only be for trust domain ID",
        ),
    ];
    for (csr, message) in cases {
        let status = client
            .new_downstream_x509ca(request(csr, 60))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(message), "{}", status.message());
    }
    // A caller whose entry is not downstream, and an agent, are refused by authorization.
    for caller in [PLAIN, AGENT] {
        let mut client = SvidClient::new(channel(&ctx, dir.path(), caller).await);
        let status = client
            .new_downstream_x509ca(request(csr(), 60))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{caller}");
    }
    assert_eq!(signed(&ctx), before, "nothing was signed");
}

fn jwt_key(kid: &str) -> types::JwtKey {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    types::JwtKey {
        public_key: key.subject_public_key_info(),
        key_id: kid.into(),
        expires_at: in_secs(3600).as_secs() as i64,
        tainted: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_publishes_its_jwt_key_into_the_root_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = root(dir.path()).await;
    let mut client = BundleClient::new(channel(&ctx, dir.path(), DOWNSTREAM).await);
    let answer = client
        .publish_jwt_authority(PublishJwtAuthorityRequest {
            jwt_authority: Some(jwt_key("downstream-key-1")),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer
        .jwt_authorities
        .iter()
        .any(|k| k.key_id == "downstream-key-1"));
    // The root's own key is there too: the answer is the whole bundle's JWT authorities.
    let kid = ctx.ca.jwt_svid_issuer().kid().to_owned();
    assert!(answer.jwt_authorities.iter().any(|k| k.key_id == kid));
    let bundle = client
        .get_bundle(GetBundleRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(bundle
        .jwt_authorities
        .iter()
        .any(|k| k.key_id == "downstream-key-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jwt_authorities_are_refused_with_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = root(dir.path()).await;
    let stored = |ctx: Arc<ServerContext>| async move {
        ctx.datastore
            .get_bundle(&ctx.settings.trust_domain)
            .await
            .unwrap()
            .unwrap()
            .jwt_authorities
    };
    let before = stored(ctx.clone()).await;
    let mut client = BundleClient::new(channel(&ctx, dir.path(), DOWNSTREAM).await);
    let mut no_kid = jwt_key("");
    no_kid.key_id.clear();
    let mut bad_key = jwt_key("bad");
    bad_key.public_key = b"not a key".to_vec();
    let cases = [
        (None, "missing JWT authority"),
        (Some(no_kid), "invalid JWT authority"),
        (Some(bad_key), "invalid JWT authority"),
    ];
    for (key, message) in cases {
        let status = client
            .publish_jwt_authority(PublishJwtAuthorityRequest { jwt_authority: key })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(message), "{}", status.message());
    }
    let mut plain = BundleClient::new(channel(&ctx, dir.path(), PLAIN).await);
    let status = plain
        .publish_jwt_authority(PublishJwtAuthorityRequest {
            jwt_authority: Some(jwt_key("intruder")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(stored(ctx.clone()).await, before, "nothing was stored");
}

/// `TaintX509UpstreamAuthority` / `RevokeX509UpstreamAuthority` reach the CA manager under an
/// upstream authority: an unknown root, a root the upstream would sign under again, and a
/// revocation before a taint are each refused, with the authorities unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_taint_and_revoke_are_checked_by_the_ca_manager() {
    use spiffe_ca::keys::{KeyType, MemoryKeyManager, Signer, SoftwareSigner};
    use spiffe_ca::manager::{CaManager, CaManagerConfig, MemoryJournal};
    use spiffe_ca::x509::{DiskUpstreamAuthority, X509SvidIssuer};
    use spiffe_core::pki_types::UnixTime;
    use spiffe_core::TrustDomain;
    use spire_api_proto::server::localauthority::v1::local_authority_client::LocalAuthorityClient;
    use spire_api_proto::server::localauthority::v1::{
        RevokeX509UpstreamAuthorityRequest, TaintX509UpstreamAuthorityRequest,
    };

    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path()).await;
    let td = TrustDomain::new("example.org").unwrap();
    let root_key: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("upstream", KeyType::EcP256).unwrap());
    let root =
        X509SvidIssuer::self_signed(&td, root_key.clone(), UnixTime::now(), in_secs(48 * 3600))
            .unwrap();
    let root_id = root.authority_id().to_owned();
    let upstream =
        DiskUpstreamAuthority::from_parts(root_key, vec![root.certificate().clone()]).unwrap();
    let ca = CaManager::load_or_init(
        CaManagerConfig::new(td)
            .with_x509(KeyType::EcP256, std::time::Duration::from_secs(3600))
            .with_jwt(KeyType::EcP256, std::time::Duration::from_secs(3600))
            .with_upstream(Arc::new(upstream)),
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        ctx.clock.clone(),
    )
    .await
    .unwrap();
    ctx.ca = Arc::new(ca);
    let ctx = Arc::new(ctx);
    let active = ctx.ca.x509_svid_issuer().authority_id().to_owned();
    let mut client =
        LocalAuthorityClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let taint = |id: &str| TaintX509UpstreamAuthorityRequest {
        subject_key_id: id.into(),
    };
    for (id, message) in [
        ("", "no subject key ID provided"),
        ("abcdef", "failed to taint upstream authority"),
        // The only root: the new authority would chain to it again.
        (root_id.as_str(), "failed to taint upstream authority"),
    ] {
        let status = client
            .taint_x509_upstream_authority(taint(id))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(message), "{}", status.message());
    }
    let status = client
        .revoke_x509_upstream_authority(RevokeX509UpstreamAuthorityRequest {
            subject_key_id: root_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    assert!(status
        .message()
        .contains("failed to revoke upstream authority"));
    assert_eq!(ctx.ca.x509_svid_issuer().authority_id(), active);
    assert!(ctx
        .ca
        .x509_upstream_authorities()
        .iter()
        .all(|u| !u.tainted));
}

fn config_with(upstream_data: &str) -> Result<spiffe_server::config::ServerConfig, String> {
    let text = format!(
        "server {{\n trust_domain = \"example.org\"\n data_dir = \"/tmp/x\"\n}}\nplugins {{\n DataStore \"sql\" {{\n plugin_data {{\n database_type = \"sqlite3\"\n connection_string = \"/tmp/x/db\"\n }}\n }}\n KeyManager \"memory\" {{\n plugin_data {{}}\n }}\n NodeAttestor \"join_token\" {{\n plugin_data {{}}\n }}\n UpstreamAuthority \"spire\" {{\n plugin_data {{\n{upstream_data}\n }}\n }}\n}}\n"
    );
    spiffe_server::config::ServerConfig::from_text(&text, &Default::default())
        .map_err(|e| spire_config::cli::error_chain(&e))
}

#[test]
fn the_spire_upstream_authority_config_as_spire_writes_it() {
    use spiffe_server::config::UpstreamAuthorityConfig;
    let config = config_with(
        "server_address = \"root.example.org\"\n server_port = \"8081\"\n workload_api_socket = \"/tmp/spire-agent/public/api.sock\"",
    )
    .unwrap();
    match config.upstream {
        Some(UpstreamAuthorityConfig::Spire(s)) => {
            assert_eq!(s.server_address, "root.example.org");
            assert_eq!(s.server_port, 8081);
            assert_eq!(
                s.workload_api_socket,
                std::path::Path::new("/tmp/spire-agent/public/api.sock")
            );
        }
        other => panic!("not the spire upstream: {other:?}"),
    }
    for (data, names) in [
        (
            "server_port = 8081\n workload_api_socket = \"/s\"",
            "server_address",
        ),
        (
            "server_address = \"a\"\n workload_api_socket = \"/s\"",
            "server_port",
        ),
        ("server_address = \"a\"\n server_port = 8081", "workload_api_socket"),
        (
            "server_address = \"a\"\n server_port = 0\n workload_api_socket = \"/s\"",
            "server_port",
        ),
        (
            "server_address = \"a\"\n server_port = 1\n workload_api_socket = \"/s\"\n experimental {\n require_pq_kem = true\n }",
            "experimental",
        ),
    ] {
        let err = config_with(data).unwrap_err();
        assert!(err.contains(names), "{data}: {err}");
    }
}
