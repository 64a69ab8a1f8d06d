//! `LocalAuthority` through a real tonic client: a whole manual rotation of the X.509 and the
//! JWT authority (prepare, activate, taint, revoke), SPIRE's refusals at each step, the stored
//! bundle following every change, and the upstream RPCs without an upstream authority.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use spiffe_ca::keys::{KeyType, MemoryKeyManager, Signer, SoftwareSigner};
use spiffe_ca::manager::{CaManager, CaManagerConfig, MemoryJournal};
use spiffe_ca::x509::{DiskUpstreamAuthority, X509SvidIssuer};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{Certificate, TrustDomain};
use spiffe_server::context::ServerContext;
use spiffe_server::datastore::Bundle;
use spiffe_server::testing;
use spire_api_proto::server::localauthority::v1::local_authority_client::LocalAuthorityClient;
use spire_api_proto::server::localauthority::v1::*;
use tonic::transport::Channel;
use tonic::Code;

async fn setup() -> (
    tempfile::TempDir,
    Arc<ServerContext>,
    LocalAuthorityClient<Channel>,
) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    publish_bundle(&ctx).await;
    let client =
        LocalAuthorityClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    (dir, ctx, client)
}

async fn stored(ctx: &ServerContext) -> Bundle {
    ctx.datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .unwrap()
        .unwrap()
}

/// The stored X.509 authorities by subject key id (hex), with their taint.
async fn stored_x509(ctx: &ServerContext) -> Vec<(String, bool)> {
    stored(ctx)
        .await
        .x509_authorities
        .iter()
        .map(|a| {
            let certificate = Certificate::from_der(a.der.clone().into()).unwrap();
            let ski = certificate.subject_key_id().unwrap();
            (ski.iter().map(|b| format!("{b:02x}")).collect(), a.tainted)
        })
        .collect()
}

async fn stored_jwt(ctx: &ServerContext) -> Vec<(String, bool)> {
    stored(ctx)
        .await
        .jwt_authorities
        .iter()
        .map(|k| (k.key_id.clone(), k.tainted))
        .collect()
}

fn assert_status(err: &tonic::Status, code: Code, text: &str) {
    assert_eq!(err.code(), code, "{text}: {err:?}");
    assert!(err.message().starts_with(text), "{text}: {err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_x509_rotation_with_spires_checks_at_each_step() {
    let (_dir, ctx, mut client) = setup().await;
    let state = client
        .get_x509_authority_state(GetX509AuthorityStateRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = state.active.unwrap();
    assert_eq!(first.authority_id, ctx.ca.x509_svid_issuer().authority_id());
    assert_eq!(
        first.expires_at as u64,
        ctx.ca.x509_svid_issuer().not_after().as_secs()
    );
    assert!(state.prepared.is_none() && state.old.is_none());

    // Activate needs a prepared authority, named.
    let err = client
        .activate_x509_authority(ActivateX509AuthorityRequest {
            authority_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::InvalidArgument, "no authority ID provided");
    let err = client
        .activate_x509_authority(ActivateX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::InvalidArgument, "unexpected authority ID");

    let prepared = client
        .prepare_x509_authority(PrepareX509AuthorityRequest {})
        .await
        .unwrap()
        .into_inner()
        .prepared_authority
        .unwrap();
    assert_ne!(prepared.authority_id, first.authority_id);
    let state = client
        .get_x509_authority_state(GetX509AuthorityStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state.prepared.as_ref().map(|p| &p.authority_id),
        Some(&prepared.authority_id)
    );
    let ids: Vec<String> = stored_x509(&ctx)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(
        ids.contains(&prepared.authority_id),
        "the prepared CA is published"
    );

    let err = client
        .taint_x509_authority(TaintX509AuthorityRequest {
            authority_id: prepared.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "only Old local authorities can be tainted: unsupported local authority status: PREPARED",
    );

    let activated = client
        .activate_x509_authority(ActivateX509AuthorityRequest {
            authority_id: prepared.authority_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .activated_authority
        .unwrap();
    assert_eq!(activated.authority_id, prepared.authority_id);
    assert_eq!(
        ctx.ca.x509_svid_issuer().authority_id(),
        prepared.authority_id
    );
    let state = client
        .get_x509_authority_state(GetX509AuthorityStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.active.unwrap().authority_id, prepared.authority_id);
    assert_eq!(state.old.as_ref().unwrap().authority_id, first.authority_id);
    let err = client
        .activate_x509_authority(ActivateX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::Internal,
        "only Prepared authorities can be activated: unsupported local authority status: OLD",
    );

    // Revoke needs a taint first; taint needs the old authority.
    let err = client
        .revoke_x509_authority(RevokeX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::Internal, "failed to revoke X.509 authority: ");
    for (id, text) in [
        (String::new(), "no authority ID provided"),
        (
            prepared.authority_id.clone(),
            "unable to taint current local authority",
        ),
        ("0011".to_owned(), "unexpected authority ID"),
    ] {
        let err = client
            .taint_x509_authority(TaintX509AuthorityRequest { authority_id: id })
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, text);
    }
    let tainted = client
        .taint_x509_authority(TaintX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tainted_authority
        .unwrap();
    assert_eq!(tainted.authority_id, first.authority_id);
    assert!(tainted.expires_at > 0);
    assert!(
        stored_x509(&ctx)
            .await
            .contains(&(first.authority_id.clone(), true)),
        "the taint is published"
    );
    let err = client
        .taint_x509_authority(TaintX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(&err, Code::Internal, "failed to taint X.509 authority: ");

    for (id, text) in [
        (
            String::new(),
            "invalid authority ID: no authority ID provided",
        ),
        (
            prepared.authority_id.clone(),
            "invalid authority ID: unable to use current authority",
        ),
        (
            "0011".to_owned(),
            "invalid authority ID: only Old local authority can be revoked",
        ),
    ] {
        let err = client
            .revoke_x509_authority(RevokeX509AuthorityRequest { authority_id: id })
            .await
            .unwrap_err();
        assert_status(&err, Code::InvalidArgument, text);
    }
    let revoked = client
        .revoke_x509_authority(RevokeX509AuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .revoked_authority
        .unwrap();
    assert_eq!(revoked.authority_id, first.authority_id);
    let ids: Vec<String> = stored_x509(&ctx)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        std::slice::from_ref(&prepared.authority_id),
        "the revoked CA left the stored bundle"
    );
    assert!(ctx
        .ca
        .bundle()
        .x509_authorities()
        .authorities()
        .iter()
        .all(|c| c.subject_key_id().is_some_and(|s| s
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            != first.authority_id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_jwt_rotation_with_spires_checks() {
    let (_dir, ctx, mut client) = setup().await;
    let first = client
        .get_jwt_authority_state(GetJwtAuthorityStateRequest {})
        .await
        .unwrap()
        .into_inner()
        .active
        .unwrap();
    assert_eq!(first.authority_id, ctx.ca.jwt_svid_issuer().kid());

    let prepared = client
        .prepare_jwt_authority(PrepareJwtAuthorityRequest {})
        .await
        .unwrap()
        .into_inner()
        .prepared_authority
        .unwrap();
    assert!(stored_jwt(&ctx)
        .await
        .contains(&(prepared.authority_id.clone(), false)));
    let err = client
        .revoke_jwt_authority(RevokeJwtAuthorityRequest {
            authority_id: prepared.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "invalid authority ID: unable to use a prepared key",
    );
    let err = client
        .revoke_jwt_authority(RevokeJwtAuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "invalid authority ID: unable to use current authority",
    );
    let err = client
        .revoke_jwt_authority(RevokeJwtAuthorityRequest {
            authority_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "invalid authority ID: no JWT authority found with provided authority ID",
    );

    client
        .activate_jwt_authority(ActivateJwtAuthorityRequest {
            authority_id: prepared.authority_id.clone(),
        })
        .await
        .unwrap();
    let state = client
        .get_jwt_authority_state(GetJwtAuthorityStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.active.unwrap().authority_id, prepared.authority_id);
    assert_eq!(state.old.unwrap().authority_id, first.authority_id);

    let err = client
        .taint_jwt_authority(TaintJwtAuthorityRequest {
            authority_id: prepared.authority_id.clone(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::InvalidArgument,
        "unable to taint current local authority",
    );
    let tainted = client
        .taint_jwt_authority(TaintJwtAuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tainted_authority
        .unwrap();
    assert_eq!(
        (tainted.authority_id.as_str(), tainted.expires_at),
        (first.authority_id.as_str(), 0)
    );
    assert!(stored_jwt(&ctx)
        .await
        .contains(&(first.authority_id.clone(), true)));

    client
        .revoke_jwt_authority(RevokeJwtAuthorityRequest {
            authority_id: first.authority_id.clone(),
        })
        .await
        .unwrap();
    let kids: Vec<String> = stored_jwt(&ctx)
        .await
        .into_iter()
        .map(|(kid, _)| kid)
        .collect();
    assert_eq!(kids, std::slice::from_ref(&prepared.authority_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_operations_without_an_upstream_authority() {
    let (_dir, _ctx, mut client) = setup().await;
    let err = client
        .taint_x509_upstream_authority(TaintX509UpstreamAuthorityRequest {
            subject_key_id: "ab".into(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        "upstream authority is not configured",
    );
    let err = client
        .revoke_x509_upstream_authority(RevokeX509UpstreamAuthorityRequest {
            subject_key_id: "ab".into(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        "upstream authority is not configured",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_an_upstream_authority_local_x509_taint_and_revoke_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(dir.path()).await;
    let td = TrustDomain::new("example.org").unwrap();
    let root_key: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("upstream", KeyType::EcP256).unwrap());
    let root =
        X509SvidIssuer::self_signed(&td, root_key.clone(), UnixTime::now(), in_secs(48 * 3600))
            .unwrap();
    let upstream =
        DiskUpstreamAuthority::from_parts(root_key, vec![root.certificate().clone()]).unwrap();
    let ca = CaManager::load_or_init(
        CaManagerConfig::new(td)
            .with_x509(KeyType::EcP256, Duration::from_secs(3600))
            .with_jwt(KeyType::EcP256, Duration::from_secs(3600))
            .with_upstream(Arc::new(upstream)),
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        ctx.clock.clone(),
    )
    .await
    .unwrap();
    ctx.ca = Arc::new(ca);
    let ctx = Arc::new(ctx);
    let mut client = LocalAuthorityClient::new(testing::serve_as(ctx, dir.path(), local()).await);
    // The active authority names the upstream root it chains to, as SPIRE's state does.
    let state = client
        .get_x509_authority_state(GetX509AuthorityStateRequest {})
        .await
        .expect("X.509 state")
        .into_inner();
    assert_eq!(
        state
            .active
            .expect("active")
            .upstream_authority_subject_key_id,
        root.authority_id()
    );
    let err = client
        .taint_x509_authority(TaintX509AuthorityRequest {
            authority_id: "ab".into(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        "local authority can't be tainted if there is an upstream authority",
    );
    let err = client
        .revoke_x509_authority(RevokeX509AuthorityRequest {
            authority_id: "ab".into(),
        })
        .await
        .unwrap_err();
    assert_status(
        &err,
        Code::FailedPrecondition,
        "local authority can't be revoked if there is an upstream authority",
    );
    // The JWT key is not affected by an upstream authority.
    client
        .get_jwt_authority_state(GetJwtAuthorityStateRequest {})
        .await
        .expect("JWT state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let agent = "spiffe://example.org/spire/agent/join_token/n";
    attested_agent(&ctx, agent, "1", &[]).await;
    for caller in [
        unauthenticated(),
        tls(agent, "1"),
        tls("spiffe://example.org/web", "1"),
    ] {
        let mut client = LocalAuthorityClient::new(
            testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await,
        );
        let err = client
            .prepare_x509_authority(PrepareX509AuthorityRequest {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
        let err = client
            .get_jwt_authority_state(GetJwtAuthorityStateRequest {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}");
    }
    assert_eq!(ctx.ca.x509_authorities().len(), 1, "nothing prepared");
}
