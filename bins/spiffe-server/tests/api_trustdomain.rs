//! `TrustDomain` service through a real tonic client: federation relationships created,
//! listed with paging and masks, read, updated with an input mask and deleted, with SPIRE's
//! per-item statuses and texts; the bundle a relationship brings stays in the bundle store;
//! `RefreshBundle` fetches now and names the failure, leaving nothing stored; only local and
//! admin callers get in.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;

use api_support::*;
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::X509SvidIssuer;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;
use spiffe_server::context::ServerContext;
use spiffe_server::testing;
use spire_api_proto::server::trustdomain::v1::trust_domain_client::TrustDomainClient;
use spire_api_proto::server::trustdomain::v1::*;
use spire_api_proto::types::federation_relationship::BundleEndpointProfile;
use spire_api_proto::types::{self, FederationRelationshipMask};
use tonic::transport::Channel;
use tonic::Code;

fn ca_der(td: &str) -> Vec<u8> {
    let signer: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    let td = TrustDomain::new(td).unwrap();
    X509SvidIssuer::self_signed(&td, signer, UnixTime::now(), in_secs(3600))
        .unwrap()
        .certificate()
        .der()
        .to_vec()
}

fn web(td: &str) -> types::FederationRelationship {
    types::FederationRelationship {
        trust_domain: td.into(),
        bundle_endpoint_url: format!("https://{td}/bundle"),
        trust_domain_bundle: None,
        bundle_endpoint_profile: Some(BundleEndpointProfile::HttpsWeb(types::HttpsWebProfile {})),
    }
}

fn spiffe(td: &str) -> types::FederationRelationship {
    types::FederationRelationship {
        trust_domain: td.into(),
        bundle_endpoint_url: format!("https://{td}:8443"),
        trust_domain_bundle: Some(types::Bundle {
            trust_domain: td.into(),
            x509_authorities: vec![types::X509Certificate {
                asn1: ca_der(td),
                tainted: false,
            }],
            ..Default::default()
        }),
        bundle_endpoint_profile: Some(BundleEndpointProfile::HttpsSpiffe(
            types::HttpsspiffeProfile {
                endpoint_spiffe_id: format!("spiffe://{td}/spire/server"),
            },
        )),
    }
}

async fn admin(ctx: &Arc<ServerContext>, dir: &std::path::Path) -> TrustDomainClient<Channel> {
    TrustDomainClient::new(testing::serve_as(ctx.clone(), dir, local()).await)
}

fn status(s: &Option<types::Status>) -> (Code, String) {
    let s = s.as_ref().expect("status");
    (Code::from(s.code), s.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_are_created_listed_updated_and_deleted_as_spire_does() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    relationships(ctx, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(postgres_context(dir.path()).await);
    relationships(ctx, dir.path()).await;
}

async fn relationships(ctx: Arc<ServerContext>, dir: &std::path::Path) {
    let mut client = admin(&ctx, dir).await;

    let mut bad_url = web("bad.org");
    bad_url.bundle_endpoint_url = "http://bad.org".into();
    let mut no_profile = web("noprofile.org");
    no_profile.bundle_endpoint_profile = None;
    let mut wrong_bundle = spiffe("wrong.org");
    wrong_bundle
        .trust_domain_bundle
        .as_mut()
        .unwrap()
        .trust_domain = "else.org".into();
    let results = client
        .batch_create_federation_relationship(BatchCreateFederationRelationshipRequest {
            federation_relationships: vec![
                web("alpha.org"),
                spiffe("beta.org"),
                web("example.org"),
                bad_url,
                no_profile,
                wrong_bundle,
                web("alpha.org"),
            ],
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 7);
    assert_eq!(status(&results[0].status), (Code::Ok, "OK".into()));
    assert_eq!(results[0].federation_relationship, Some(web("alpha.org")));
    assert_eq!(status(&results[1].status).0, Code::Ok);
    let beta = results[1].federation_relationship.clone().unwrap();
    assert_eq!(
        beta.trust_domain_bundle
            .as_ref()
            .unwrap()
            .x509_authorities
            .len(),
        1
    );
    assert_eq!(
        status(&results[2].status),
        (
            Code::InvalidArgument,
            "unable to create federation relationship for server trust domain".into()
        )
    );
    for (result, field) in results[3..6].iter().zip([
        "bundle_endpoint_url",
        "bundle_endpoint_profile",
        "trust_domain_bundle.trust_domain",
    ]) {
        let (code, text) = status(&result.status);
        assert_eq!(code, Code::InvalidArgument);
        assert!(
            text.starts_with("failed to convert federation relationship: ") && text.contains(field),
            "{text} should name {field}"
        );
        assert!(result.federation_relationship.is_none());
    }
    assert_eq!(status(&results[6].status).0, Code::AlreadyExists);
    // beta's bundle is stored in the bundle store.
    assert!(ctx
        .datastore
        .get_bundle(&testing::td("beta.org"))
        .await
        .unwrap()
        .is_some());
    assert!(ctx
        .datastore
        .get_bundle(&testing::td("wrong.org"))
        .await
        .unwrap()
        .is_none());

    // List: everything, then one per page with a mask.
    let all = client
        .list_federation_relationships(ListFederationRelationshipsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = all
        .federation_relationships
        .iter()
        .map(|r| r.trust_domain.as_str())
        .collect();
    assert_eq!(names, ["alpha.org", "beta.org"]);
    let first = client
        .list_federation_relationships(ListFederationRelationshipsRequest {
            page_size: 1,
            output_mask: Some(FederationRelationshipMask {
                bundle_endpoint_url: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.federation_relationships.len(), 1);
    let masked = &first.federation_relationships[0];
    assert_eq!(masked.bundle_endpoint_url, "https://alpha.org/bundle");
    assert!(masked.bundle_endpoint_profile.is_none());
    let second = client
        .list_federation_relationships(ListFederationRelationshipsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.federation_relationships[0].trust_domain, "beta.org");

    // Get.
    let got = client
        .get_federation_relationship(GetFederationRelationshipRequest {
            trust_domain: "beta.org".into(),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, beta);
    let err = client
        .get_federation_relationship(GetFederationRelationshipRequest {
            trust_domain: "gamma.org".into(),
            output_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "federation relationship does not exist")
    );
    let err = client
        .get_federation_relationship(GetFederationRelationshipRequest {
            trust_domain: "Bad Name".into(),
            output_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("failed to parse trust domain: "));

    // Update only the URL; the profile in the request is ignored by the mask.
    let mut changed = spiffe("alpha.org");
    changed.bundle_endpoint_url = "https://alpha.org/v2".into();
    changed.trust_domain_bundle = None;
    let results = client
        .batch_update_federation_relationship(BatchUpdateFederationRelationshipRequest {
            federation_relationships: vec![changed, web("gamma.org")],
            input_mask: Some(FederationRelationshipMask {
                bundle_endpoint_url: true,
                ..Default::default()
            }),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(status(&results[0].status).0, Code::Ok);
    let updated = results[0].federation_relationship.clone().unwrap();
    assert_eq!(updated.bundle_endpoint_url, "https://alpha.org/v2");
    assert_eq!(
        updated.bundle_endpoint_profile,
        web("alpha.org").bundle_endpoint_profile
    );
    assert_eq!(status(&results[1].status).0, Code::NotFound);

    // Delete: per trust domain; beta's bundle stays.
    let results = client
        .batch_delete_federation_relationship(BatchDeleteFederationRelationshipRequest {
            trust_domains: vec!["beta.org".into(), "gamma.org".into(), String::new()],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(status(&results[0].status).0, Code::Ok);
    assert_eq!(results[0].trust_domain, "beta.org");
    assert_eq!(
        status(&results[1].status),
        (Code::NotFound, "federation relationship not found".into())
    );
    assert_eq!(
        status(&results[2].status),
        (Code::InvalidArgument, "missing trust domain".into())
    );
    assert!(ctx
        .datastore
        .get_federation_relationship(&testing::td("beta.org"))
        .await
        .unwrap()
        .is_none());
    assert!(ctx
        .datastore
        .get_bundle(&testing::td("beta.org"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_bundle_is_not_found_or_names_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let manager = spiffe_server::federation::FederationManager::new(
        ctx.datastore.clone(),
        ctx.metrics.clone(),
        &[],
        Arc::new(rustls::RootCertStore::empty()),
        Box::new(spiffe_core::pki_types::UnixTime::now),
    );
    ctx.federation.set(Arc::new(manager)).unwrap();
    // A loopback port nobody listens on: the fetch fails at once, without leaving the host.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut alpha = web("alpha.org");
    alpha.bundle_endpoint_url = format!("https://127.0.0.1:{port}/bundle");
    let mut client = admin(&ctx, dir.path()).await;
    let err = client
        .refresh_bundle(RefreshBundleRequest {
            trust_domain: "alpha.org".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            Code::NotFound,
            "no relationship with trust domain \"alpha.org\""
        )
    );
    client
        .batch_create_federation_relationship(BatchCreateFederationRelationshipRequest {
            federation_relationships: vec![alpha],
            output_mask: None,
        })
        .await
        .unwrap();
    let err = client
        .refresh_bundle(RefreshBundleRequest {
            trust_domain: "alpha.org".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        err.message()
            .starts_with("failed to refresh bundle: unable to reach"),
        "{}",
        err.message()
    );
    let status = ctx
        .federation
        .get()
        .unwrap()
        .status(&testing::td("alpha.org"))
        .unwrap();
    assert!(status.last_error.is_some() && status.last_success.is_none());
    assert!(ctx
        .datastore
        .get_bundle(&testing::td("alpha.org"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_workloads_cannot_touch_relationships() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let agent = "spiffe://example.org/spire/agent/join_token/node-1";
    attested_agent(&ctx, agent, "1", &[]).await;
    for caller in [tls(agent, "1"), tls("spiffe://example.org/web", "2")] {
        let mut client =
            TrustDomainClient::new(testing::serve_as(ctx.clone(), dir.path(), caller).await);
        let err = client
            .list_federation_relationships(ListFederationRelationshipsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = client
            .batch_create_federation_relationship(BatchCreateFederationRelationshipRequest {
                federation_relationships: vec![web("alpha.org")],
                output_mask: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    assert!(ctx
        .datastore
        .get_federation_relationship(&testing::td("alpha.org"))
        .await
        .unwrap()
        .is_none());
}
