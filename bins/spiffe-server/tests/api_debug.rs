//! `Debug.GetInfo` through a real tonic client: counts, uptime and the server SVID's verified
//! chain as SPIRE reports them, the 5-second cache, and that only local callers get in.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use spiffe_server::ca::ServerSvid;
use spiffe_server::testing;
use spire_api_proto::server::debug::v1::debug_client::DebugClient;
use spire_api_proto::server::debug::v1::GetInfoRequest;
use tonic::Code;

const AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_info_reports_counts_uptime_and_the_verified_server_svid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let svid = Arc::new(
        ServerSvid::new(
            ctx.ca.clone(),
            id("spiffe://example.org/spire/server"),
            Duration::from_secs(3600),
        )
        .unwrap(),
    );
    ctx.server_svid.set(svid.clone()).unwrap();
    let ctx = Arc::new(ctx);
    publish_bundle(&ctx).await;
    attested_agent(&ctx, AGENT, "1", &[]).await;
    entry(&ctx, AGENT, "spiffe://example.org/a", |b| b).await;
    entry(&ctx, AGENT, "spiffe://example.org/b", |b| b).await;

    let mut client = DebugClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let info = client
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.agents_count, 1);
    assert_eq!(info.entries_count, 2);
    // SPIRE counts every stored bundle, the server's own included.
    assert_eq!(info.federated_bundles_count, 1);
    assert!((0..60).contains(&info.uptime), "{}", info.uptime);

    let current = svid.current();
    assert!(
        info.svid_chain.len() >= 2,
        "leaf and root: {:?}",
        info.svid_chain
    );
    let leaf = &info.svid_chain[0];
    assert_eq!(leaf.id.as_ref().unwrap().trust_domain, "example.org");
    assert_eq!(leaf.id.as_ref().unwrap().path, "/spire/server");
    assert_eq!(leaf.expires_at as u64, current.leaf().not_after().as_secs());
    assert_eq!(leaf.subject, current.leaf().subject());
    let root = info.svid_chain.last().unwrap();
    let authorities = ctx.ca.bundle();
    assert!(authorities
        .x509_authorities()
        .authorities()
        .iter()
        .any(|a| a.subject() == root.subject && a.not_after().as_secs() == root.expires_at as u64));

    // Cached for 5 seconds, as SPIRE: a new entry is not counted yet.
    entry(&ctx, AGENT, "spiffe://example.org/c", |b| b).await;
    let again = client
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.entries_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_info_without_a_stored_bundle_is_not_found_and_only_local_callers_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let svid = Arc::new(
        ServerSvid::new(
            ctx.ca.clone(),
            id("spiffe://example.org/spire/server"),
            Duration::from_secs(3600),
        )
        .unwrap(),
    );
    ctx.server_svid.set(svid).unwrap();
    let ctx = Arc::new(ctx);
    let ops = entry(&ctx, AGENT, "spiffe://example.org/ops", |b| b.admin(true)).await;

    let mut admin_by_id = DebugClient::new(
        testing::serve_as(ctx.clone(), dir.path(), tls(ops.spiffe_id().as_str(), "5")).await,
    );
    let err = admin_by_id.get_info(GetInfoRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let mut client = DebugClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let err = client.get_info(GetInfoRequest {}).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "trust domain bundle not found")
    );
}
