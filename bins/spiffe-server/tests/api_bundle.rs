//! `Bundle` service through a real tonic client: the trust domain's bundle (get, append,
//! count, output masks) and federated bundles (list with paging, get, batch create, update,
//! set, delete), with SPIRE's per-item statuses and checks.
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
use spire_api_proto::server::bundle::v1::batch_delete_federated_bundle_request::Mode;
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::*;
use spire_api_proto::types::{self, BundleMask, JwtKey, X509Certificate};
use tonic::transport::Channel;
use tonic::Code;

/// A self-signed CA certificate of `td`, made with spiffe-ca.
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

/// A JWT key (SPKI DER) with `kid`.
fn jwt_key(kid: &str) -> JwtKey {
    let signer = SoftwareSigner::generate("jwt", KeyType::EcP256).unwrap();
    JwtKey {
        public_key: signer.public_key().spki_der().to_vec(),
        key_id: kid.into(),
        expires_at: 0,
        tainted: false,
    }
}

/// A federated bundle for `td`: one X.509 authority, one JWT key.
fn federated(td: &str) -> types::Bundle {
    types::Bundle {
        trust_domain: td.into(),
        x509_authorities: vec![X509Certificate {
            asn1: ca_der(td),
            tainted: false,
        }],
        jwt_authorities: vec![jwt_key("k1")],
        refresh_hint: 300,
        sequence_number: 1,
        wit_authorities: Vec::new(),
    }
}

async fn admin(ctx: &Arc<ServerContext>, dir: &std::path::Path) -> BundleClient<Channel> {
    BundleClient::new(testing::serve_as(ctx.clone(), dir, local()).await)
}

fn code(status: &Option<types::Status>) -> (Code, String) {
    let status = status.as_ref().expect("status");
    (Code::from(status.code), status.message.clone())
}

// === the trust domain's bundle ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_gets_the_trust_bundle_with_the_mask_applied() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client =
        BundleClient::new(testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await);
    let err = client
        .get_bundle(GetBundleRequest::default())
        .await
        .expect_err("not published yet");
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "bundle not found")
    );

    publish_bundle(&ctx).await;
    let bundle = client
        .get_bundle(GetBundleRequest::default())
        .await
        .expect("bundle")
        .into_inner();
    assert_eq!(bundle.trust_domain, "example.org");
    let ca = ctx.ca.bundle();
    let expected: Vec<Vec<u8>> = ca
        .x509_authorities()
        .authorities()
        .iter()
        .map(|c| c.der().to_vec())
        .collect();
    assert_eq!(
        bundle
            .x509_authorities
            .iter()
            .map(|a| a.asn1.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(bundle.jwt_authorities.len(), ca.jwt_authorities().len());
    let stored = ctx
        .datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bundle.sequence_number, stored.sequence_number);

    let masked = client
        .get_bundle(GetBundleRequest {
            output_mask: Some(BundleMask {
                x509_authorities: true,
                ..BundleMask::default()
            }),
        })
        .await
        .expect("bundle")
        .into_inner();
    assert_eq!(masked.x509_authorities, bundle.x509_authorities);
    assert!(masked.jwt_authorities.is_empty());
    assert_eq!((masked.sequence_number, masked.refresh_hint), (0, 0));
    assert_eq!(masked.trust_domain, "example.org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_bundle_adds_authorities_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let before = publish_bundle(&ctx).await;
    let mut client = admin(&ctx, dir.path()).await;

    for (request, text) in [
        (AppendBundleRequest::default(), "no authorities to append"),
        (
            AppendBundleRequest {
                x509_authorities: vec![X509Certificate { asn1: b"nope".to_vec(), tainted: false }],
                ..AppendBundleRequest::default()
            },
            "failed to convert X.509 authority: x509_authorities[0].asn1 is not a valid X.509 certificate",
        ),
        (
            AppendBundleRequest {
                jwt_authorities: vec![JwtKey { key_id: "k".into(), public_key: vec![1, 2], ..JwtKey::default() }],
                ..AppendBundleRequest::default()
            },
            "failed to convert JWT authority: jwt_authorities[0].public_key",
        ),
        (
            AppendBundleRequest {
                jwt_authorities: vec![JwtKey { key_id: String::new(), ..jwt_key("x") }],
                ..AppendBundleRequest::default()
            },
            "failed to convert JWT authority: jwt_authorities[0].key_id is required",
        ),
    ] {
        let err = client.append_bundle(request).await.expect_err(text);
        assert_eq!(err.code(), Code::InvalidArgument, "{text}");
        assert!(err.message().starts_with(text), "{text}: {err:?}");
    }
    let unchanged = ctx
        .datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged, before, "nothing stored");

    let upstream_root = ca_der("example.org");
    let bundle = client
        .append_bundle(AppendBundleRequest {
            x509_authorities: vec![X509Certificate {
                asn1: upstream_root.clone(),
                tainted: false,
            }],
            jwt_authorities: vec![jwt_key("appended")],
            output_mask: None,
            wit_authorities: Vec::new(),
        })
        .await
        .expect("appended")
        .into_inner();
    assert_eq!(
        bundle.x509_authorities.len(),
        before.x509_authorities.len() + 1
    );
    assert!(bundle
        .x509_authorities
        .iter()
        .any(|a| a.asn1 == upstream_root));
    assert!(bundle
        .jwt_authorities
        .iter()
        .any(|k| k.key_id == "appended"));
    assert_eq!(bundle.sequence_number, before.sequence_number + 1);

    let err = BundleClient::new(
        testing::serve_as(
            ctx.clone(),
            dir.path(),
            tls("spiffe://example.org/web", "1"),
        )
        .await,
    )
    .append_bundle(AppendBundleRequest {
        jwt_authorities: vec![jwt_key("intruder")],
        ..AppendBundleRequest::default()
    })
    .await
    .expect_err("not an admin");
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_bundles_counts_own_and_federated() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    let count = |c: CountBundlesResponse| c.count;
    assert_eq!(
        count(
            client
                .count_bundles(CountBundlesRequest {})
                .await
                .unwrap()
                .into_inner()
        ),
        0
    );
    publish_bundle(&ctx).await;
    client
        .batch_create_federated_bundle(BatchCreateFederatedBundleRequest {
            bundle: vec![federated("other.org")],
            output_mask: None,
        })
        .await
        .unwrap();
    assert_eq!(
        count(
            client
                .count_bundles(CountBundlesRequest {})
                .await
                .unwrap()
                .into_inner()
        ),
        2
    );
}

// === federated bundles ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_create_answers_each_item() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    let mut bad = federated("bad.org");
    bad.x509_authorities[0].asn1 = b"nope".to_vec();
    let mut invalid_name = federated("other.org");
    invalid_name.trust_domain = "Not A Domain".into();
    let results = client
        .batch_create_federated_bundle(BatchCreateFederatedBundleRequest {
            bundle: vec![
                federated("other.org"),
                federated("example.org"),
                invalid_name,
                bad,
                federated("other.org"),
            ],
            output_mask: Some(BundleMask {
                refresh_hint: true,
                ..BundleMask::default()
            }),
        })
        .await
        .expect("answered")
        .into_inner()
        .results;
    assert_eq!(code(&results[0].status), (Code::Ok, "OK".into()));
    let created = results[0].bundle.as_ref().unwrap();
    assert_eq!(
        (created.trust_domain.as_str(), created.refresh_hint),
        ("other.org", 300)
    );
    assert!(created.x509_authorities.is_empty(), "masked");
    assert_eq!(
        code(&results[1].status),
        (
            Code::InvalidArgument,
            "creating a federated bundle for the server's own trust domain is not allowed".into()
        )
    );
    let (c, m) = code(&results[2].status);
    assert!(
        c == Code::InvalidArgument && m.starts_with("trust domain argument is not valid: "),
        "{m}"
    );
    let (c, m) = code(&results[3].status);
    assert!(
        c == Code::InvalidArgument
            && m.starts_with("failed to convert bundle: x509_authorities[0].asn1"),
        "{m}"
    );
    assert_eq!(
        code(&results[4].status),
        (Code::AlreadyExists, "bundle already exists".into())
    );
    assert!(results[1..].iter().all(|r| r.bundle.is_none()));
    assert_eq!(
        ctx.datastore.count_bundles().await.unwrap(),
        1,
        "only other.org stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_bundles_are_listed_in_pages_and_got_by_admins_and_agents() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    publish_bundle(&ctx).await;
    let mut client = admin(&ctx, dir.path()).await;
    let names = ["a.org", "b.org", "c.org"];
    client
        .batch_create_federated_bundle(BatchCreateFederatedBundleRequest {
            bundle: names.iter().map(|n| federated(n)).collect(),
            output_mask: None,
        })
        .await
        .unwrap();

    let all = client
        .list_federated_bundles(ListFederatedBundlesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<_> = all.bundles.iter().map(|b| b.trust_domain.clone()).collect();
    assert_eq!(listed, names, "the server's own bundle is left out");
    assert!(all.next_page_token.is_empty());

    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..5 {
        let page = client
            .list_federated_bundles(ListFederatedBundlesRequest {
                output_mask: None,
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.bundles.len() <= 2);
        paged.extend(page.bundles.into_iter().map(|b| b.trust_domain));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert!(token.is_empty(), "paging ended");
    assert_eq!(paged, names);

    // GetFederatedBundle, for an admin and for an agent.
    let agent = "spiffe://example.org/spire/agent/join_token/n";
    attested_agent(&ctx, agent, "4", &[]).await;
    for caller in [local(), tls(agent, "4")] {
        let mut client =
            BundleClient::new(testing::serve_as(ctx.clone(), dir.path(), caller).await);
        let bundle = client
            .get_federated_bundle(GetFederatedBundleRequest {
                trust_domain: "b.org".into(),
                output_mask: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(bundle.trust_domain, "b.org");
        assert_eq!(bundle.jwt_authorities[0].key_id, "k1");
    }
    for (name, code, text) in [
        (
            "example.org",
            Code::InvalidArgument,
            "getting a federated bundle for the server's own trust domain is not allowed",
        ),
        (
            "spiffe://example.org",
            Code::InvalidArgument,
            "getting a federated bundle for the server's own trust domain is not allowed",
        ),
        (
            "",
            Code::InvalidArgument,
            "trust domain argument is not valid: ",
        ),
        ("missing.org", Code::NotFound, "bundle not found"),
    ] {
        let err = client
            .get_federated_bundle(GetFederatedBundleRequest {
                trust_domain: name.into(),
                output_mask: None,
            })
            .await
            .expect_err(text);
        assert_eq!(err.code(), code, "{name}");
        assert!(err.message().starts_with(text), "{name}: {err:?}");
    }
    let err =
        BundleClient::new(testing::serve_as(ctx.clone(), dir.path(), unauthenticated()).await)
            .get_federated_bundle(GetFederatedBundleRequest {
                trust_domain: "b.org".into(),
                output_mask: None,
            })
            .await
            .expect_err("unauthenticated");
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_update_and_set_replace_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    let original = federated("other.org");
    client
        .batch_create_federated_bundle(BatchCreateFederatedBundleRequest {
            bundle: vec![original.clone()],
            output_mask: None,
        })
        .await
        .unwrap();

    // Update only the refresh hint: the authorities sent are ignored.
    let mut update = federated("other.org");
    update.refresh_hint = 60;
    let results = client
        .batch_update_federated_bundle(BatchUpdateFederatedBundleRequest {
            bundle: vec![update, federated("missing.org"), federated("example.org")],
            input_mask: Some(BundleMask {
                refresh_hint: true,
                ..BundleMask::default()
            }),
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(code(&results[0].status).0, Code::Ok);
    let updated = results[0].bundle.as_ref().unwrap();
    assert_eq!(updated.refresh_hint, 60);
    assert_eq!(updated.x509_authorities, original.x509_authorities);
    assert_eq!(
        code(&results[1].status),
        (Code::NotFound, "bundle not found".into())
    );
    assert_eq!(
        code(&results[2].status),
        (
            Code::InvalidArgument,
            "updating a federated bundle for the server's own trust domain is not allowed".into()
        )
    );

    // Without a mask, everything is replaced.
    let replacement = federated("other.org");
    let results = client
        .batch_update_federated_bundle(BatchUpdateFederatedBundleRequest {
            bundle: vec![replacement.clone()],
            input_mask: None,
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(
        results[0].bundle.as_ref().unwrap().x509_authorities,
        replacement.x509_authorities
    );

    // Set: creates and replaces.
    let results = client
        .batch_set_federated_bundle(BatchSetFederatedBundleRequest {
            bundle: vec![
                federated("new.org"),
                original.clone(),
                federated("example.org"),
            ],
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(code(&results[0].status).0, Code::Ok);
    assert_eq!(code(&results[1].status).0, Code::Ok);
    assert_eq!(
        results[1].bundle.as_ref().unwrap().x509_authorities,
        original.x509_authorities
    );
    assert_eq!(
        code(&results[2].status),
        (
            Code::InvalidArgument,
            "setting a federated bundle for the server's own trust domain is not allowed".into()
        )
    );
    let stored = ctx
        .datastore
        .get_bundle(&TrustDomain::new("new.org").unwrap())
        .await
        .unwrap();
    assert!(stored.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_delete_follows_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = admin(&ctx, dir.path()).await;
    client
        .batch_create_federated_bundle(BatchCreateFederatedBundleRequest {
            bundle: vec![federated("other.org"), federated("spare.org")],
            output_mask: None,
        })
        .await
        .unwrap();
    let federating = entry(
        &ctx,
        "spiffe://example.org/spire/agent/x",
        "spiffe://example.org/web",
        |b| b.federates_with(TrustDomain::new("other.org").unwrap()),
    )
    .await;

    let err = client
        .batch_delete_federated_bundle(BatchDeleteFederatedBundleRequest {
            trust_domains: vec!["other.org".into()],
            mode: 7,
        })
        .await
        .expect_err("bad mode");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("failed to parse deletion mode"),
        "{err:?}"
    );

    let results = client
        .batch_delete_federated_bundle(BatchDeleteFederatedBundleRequest {
            trust_domains: vec![
                "other.org".into(),
                "spare.org".into(),
                "missing.org".into(),
                "example.org".into(),
                "Bad Name".into(),
            ],
            mode: Mode::Restrict as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let (c, m) = code(&results[0].status);
    assert_eq!(c, Code::FailedPrecondition, "{m}");
    assert!(m.starts_with("failed to delete federated bundle: "), "{m}");
    assert_eq!(code(&results[1].status).0, Code::Ok);
    assert_eq!(
        code(&results[2].status),
        (Code::NotFound, "bundle not found".into())
    );
    assert_eq!(
        code(&results[3].status),
        (
            Code::InvalidArgument,
            "removing the bundle for the server trust domain is not allowed".into()
        )
    );
    assert_eq!(code(&results[4].status).0, Code::InvalidArgument);
    assert_eq!(
        results
            .iter()
            .map(|r| r.trust_domain.as_str())
            .collect::<Vec<_>>(),
        [
            "other.org",
            "spare.org",
            "missing.org",
            "example.org",
            "Bad Name"
        ]
    );

    let results = client
        .batch_delete_federated_bundle(BatchDeleteFederatedBundleRequest {
            trust_domains: vec!["other.org".into()],
            mode: Mode::Dissociate as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(code(&results[0].status).0, Code::Ok);
    let entry = ctx
        .datastore
        .get_entry(federating.id())
        .await
        .unwrap()
        .unwrap();
    assert!(entry.federates_with().is_empty(), "dissociated");
    assert_eq!(ctx.datastore.count_bundles().await.unwrap(), 0);
}
