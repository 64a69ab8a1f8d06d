//! The authorization layer in front of the API: who reaches which RPC.

use std::sync::Arc;

use spiffe_core::SpiffeId;
use spiffe_server::caller::Caller;
use spiffe_server::testing;
use spire_api_proto::server::bundle::v1::{bundle_client::BundleClient, CountBundlesRequest};
use spire_api_proto::server::entry::v1::{entry_client::EntryClient, CountEntriesRequest};
use tonic::Code;

fn tls(id: Option<&str>) -> Caller {
    Caller::Tls {
        addr: "127.0.0.1:40000".parse().expect("addr"),
        spiffe_id: id.map(|s| SpiffeId::new(s).expect("id")),
        serial: Some("1".into()),
        not_after: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_rpcs_refuse_unauthenticated_and_non_admin_tls_callers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Arc::new(testing::context(dir.path()).await);
    for caller in [
        tls(None),
        tls(Some("spiffe://example.org/workload")),
        tls(Some("spiffe://example.org/spire/agent/join_token/x")),
    ] {
        let channel = testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await;
        let err = EntryClient::new(channel)
            .count_entries(CountEntriesRequest::default())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_callers_pass_to_the_handler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Arc::new(testing::context(dir.path()).await);
    let local = Caller::Local {
        pid: Some(1),
        uid: 0,
        gid: 0,
    };
    let channel = testing::serve_as(ctx, dir.path(), local).await;
    // The handler answers (whatever it answers), which PERMISSION_DENIED would not be.
    let result = BundleClient::new(channel)
        .count_bundles(CountBundlesRequest::default())
        .await;
    if let Err(err) = result {
        assert_ne!(err.code(), Code::PermissionDenied, "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_id_without_an_attested_node_is_refused_with_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Arc::new(testing::context(dir.path()).await);
    let channel = testing::serve_as(
        ctx,
        dir.path(),
        tls(Some("spiffe://example.org/spire/agent/join_token/x")),
    )
    .await;
    let err = EntryClient::new(channel)
        .get_authorized_entries(
            spire_api_proto::server::entry::v1::GetAuthorizedEntriesRequest::default(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("is not attested"),
        "{}",
        err.message()
    );
    assert!(
        !err.details().is_empty(),
        "PermissionDeniedDetails attached"
    );
}
