//! Raw gRPC calls against the server: the error codes and stream rules of §4.5.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{id, next, raw_client, request, Ca, Material, Running, StaticProvider};
use spiffe_workload::proto;
use spiffe_workload::{WorkloadApiServer, X509Context, X509SvidEntry};
use tonic::Code;

const OK: &[&str] = &["true"];

fn example() -> (Ca, Ca, std::sync::Arc<StaticProvider>) {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    (ca, other, provider)
}

#[tokio::test]
async fn missing_or_wrong_security_header_is_invalid_argument() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    // WEP-5, WEP-6, cases 121 and 122: absent, wrong case, other truthy values, duplicated.
    for header in [&[][..], &["True"], &["1"], &["yes"], &["true", "true"]] {
        let status = client
            .fetch_x509svid(request(proto::X509svidRequest {}, header))
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{header:?}");
        let status = client
            .fetch_jwtsvid(request(
                proto::JwtsvidRequest {
                    audience: vec!["a".into()],
                    spiffe_id: String::new(),
                },
                header,
            ))
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{header:?}");
        let status = client
            .fetch_witsvid(request(proto::WitsvidRequest::default(), header))
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument, "{header:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn empty_mandatory_fields_are_invalid_argument() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    // WAPI-10/19, case 126: no audience.
    let status = client
        .fetch_jwtsvid(request(proto::JwtsvidRequest::default(), OK))
        .await
        .expect_err("rejected");
    assert_eq!(status.code(), Code::InvalidArgument);
    // A malformed requested ID.
    let status = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into()],
                spiffe_id: "not an id".into(),
            },
            OK,
        ))
        .await
        .expect_err("rejected");
    assert_eq!(status.code(), Code::InvalidArgument);
    // WAPI-22, case 129: empty svid or audience.
    for (audience, svid) in [("", "x.y.z"), ("a", ""), ("", "")] {
        let status = client
            .validate_jwtsvid(request(
                proto::ValidateJwtsvidRequest {
                    audience: audience.into(),
                    svid: svid.into(),
                },
                OK,
            ))
            .await
            .expect_err("rejected");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    // An invalid token is INVALID_ARGUMENT too (as SPIRE).
    let status = client
        .validate_jwtsvid(request(
            proto::ValidateJwtsvidRequest {
                audience: "a".into(),
                svid: "a.b.c".into(),
            },
            OK,
        ))
        .await
        .expect_err("rejected");
    assert_eq!(status.code(), Code::InvalidArgument);
    server.shutdown().await;
}

#[tokio::test]
async fn wit_rpcs_are_unimplemented() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    // WAPI-2, case 130; WAPI-27: the WIT profile is optional and not offered.
    let status = client
        .fetch_witsvid(request(proto::WitsvidRequest::default(), OK))
        .await
        .expect_err("unimplemented");
    assert_eq!(status.code(), Code::Unimplemented);
    let status = client
        .fetch_wit_bundles(request(proto::WitBundlesRequest {}, OK))
        .await
        .expect_err("unimplemented");
    assert_eq!(status.code(), Code::Unimplemented);
    server.shutdown().await;
}

#[tokio::test]
async fn no_identity_is_permission_denied() {
    let server = Running::start(StaticProvider::new(Material::default()));
    let mut client = raw_client(&server.path).await;
    // WAPI-16, case 124: the error arrives on the stream.
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let status = next(&mut stream).await.expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut stream = client
        .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next(&mut stream).await.expect_err("denied").code(),
        Code::PermissionDenied
    );
    let mut stream = client
        .fetch_jwt_bundles(request(proto::JwtBundlesRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next(&mut stream).await.expect_err("denied").code(),
        Code::PermissionDenied
    );
    let status = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_svids_per_identity_and_not_entitled() {
    let (ca, _other, provider) = example();
    provider.update(|m| m.jwt_ids.push(id("spiffe://example.org/second")));
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    // WAPI-19, case 128: an empty spiffe_id gives one SVID per identity.
    let all = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into(), "b".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = all.svids.iter().map(|s| s.spiffe_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "spiffe://example.org/workload",
            "spiffe://example.org/second"
        ]
    );
    // WAPI-20, case 127: an identity the caller does not hold.
    let status = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into()],
                spiffe_id: "spiffe://example.org/other".into(),
            },
            OK,
        ))
        .await
        .expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);
    // ValidateJWTSVID answers the claims (WAPI-22), aud as minted.
    let token = all.svids[1].svid.clone();
    let validated = client
        .validate_jwtsvid(request(
            proto::ValidateJwtsvidRequest {
                audience: "b".into(),
                svid: token,
            },
            OK,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validated.spiffe_id, "spiffe://example.org/second");
    let claims = validated.claims.expect("claims filled");
    for claim in ["sub", "aud", "exp", "iat"] {
        assert!(claims.fields.contains_key(claim), "{claim}");
    }
    drop(ca);
    server.shutdown().await;
}

#[tokio::test]
async fn x509_response_is_der_with_spiffe_id_keys() {
    let (ca, other, provider) = example();
    let server = Running::start(provider.clone());
    let mut client = raw_client(&server.path).await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let message = next(&mut stream).await.unwrap();
    let served = provider.x509().svids[0].svid.clone();
    let svid = &message.svids[0];
    // WAPI-14: chain DER leaf first, key PKCS#8 DER, bundle DER.
    assert_eq!(svid.x509_svid, served.leaf().der().as_ref());
    assert_eq!(svid.x509_svid_key[0], 0x30);
    assert_eq!(svid.bundle, ca.x509.trust_anchor().der().as_ref());
    assert_eq!(svid.hint, "main");
    // WAPI-26: federated bundles keyed by the trust domain's SPIFFE ID, own one excluded.
    let keys: Vec<_> = message.federated_bundles.keys().cloned().collect();
    assert_eq!(keys, ["spiffe://other.org"]);
    assert_eq!(
        message.federated_bundles["spiffe://other.org"],
        other.x509.trust_anchor().der().as_ref()
    );

    let mut bundles = client
        .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let message = next(&mut bundles).await.unwrap();
    let mut keys: Vec<_> = message.bundles.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["spiffe://example.org", "spiffe://other.org"]);
    server.shutdown().await;
}

#[tokio::test]
async fn redaction_ends_the_stream_with_permission_denied() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider.clone());
    let mut client = raw_client(&server.path).await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await.unwrap();
    // WAPI-16: the SVIDs are taken away.
    provider.replace(Material::default());
    let status = next(&mut stream).await.expect_err("redacted");
    assert_eq!(status.code(), Code::PermissionDenied);
    server.shutdown().await;
}

#[tokio::test]
async fn unchanged_material_is_not_resent_and_stream_bound_holds() {
    let (ca, _other, provider) = example();
    let server =
        Running::start_server(WorkloadApiServer::new(provider.clone()).with_max_streams(1));
    let mut client = raw_client(&server.path).await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await.unwrap();
    // A notification without a change sends nothing.
    provider.update(|_| {});
    let quiet = tokio::time::timeout(Duration::from_millis(200), next(&mut stream)).await;
    assert!(quiet.is_err(), "no message for an unchanged state");
    // A second stream exceeds the bound.
    let status = client
        .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
        .await
        .expect_err("bounded");
    assert_eq!(status.code(), Code::ResourceExhausted);
    // A real change arrives.
    let svid = ca.svid("spiffe://example.org/workload");
    provider.update(|m| {
        m.x509 = X509Context {
            svids: vec![X509SvidEntry::new(svid.clone())],
            bundles: vec![ca.x509_bundle()],
        }
    });
    let message = next(&mut stream).await.unwrap();
    assert_eq!(message.svids[0].x509_svid, svid.leaf().der().as_ref());
    assert!(message.federated_bundles.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await.unwrap();
    // Graceful shutdown completes (Running::shutdown times out otherwise) with a stream open.
    server.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    assert!(matches!(end, Ok(Ok(None)) | Ok(Err(_))), "stream ended");
}

async fn first_x509_message(
    provider: std::sync::Arc<StaticProvider>,
) -> Result<proto::X509svidResponse, tonic::Status> {
    let server = Running::start(provider);
    let mut client = raw_client(&server.path).await;
    let mut stream = client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
        .unwrap()
        .into_inner();
    let message = next(&mut stream).await;
    server.shutdown().await;
    message
}

#[tokio::test]
async fn hints_are_unique_and_bounded() {
    let ca = Ca::new("example.org");
    let entry = |path: &str, hint: &str| {
        X509SvidEntry::new(ca.svid(&format!("spiffe://example.org/{path}"))).with_hint(hint)
    };
    // WAPI-15, cases 136/137: a repeated non-empty hint is dropped, empty hints are fine;
    // WAPI-25, case 138: a 1025-byte hint is not served.
    let provider = StaticProvider::new(Material {
        x509: X509Context {
            svids: vec![
                entry("a", "internal"),
                entry("b", "internal"),
                entry("c", ""),
                entry("d", ""),
                entry("e", &"h".repeat(1025)),
                entry("f", &"h".repeat(1024)),
            ],
            bundles: vec![ca.x509_bundle()],
        },
        ..Material::default()
    });
    let message = first_x509_message(provider).await.unwrap();
    let ids: Vec<_> = message.svids.iter().map(|s| s.spiffe_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "spiffe://example.org/a",
            "spiffe://example.org/c",
            "spiffe://example.org/d",
            "spiffe://example.org/f"
        ]
    );
}

#[tokio::test]
async fn svid_without_its_own_bundle_is_not_served() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    // WAPI-13: `bundle` is mandatory; the provider gave only another trust domain's bundle.
    let provider = StaticProvider::new(Material {
        x509: X509Context {
            svids: vec![X509SvidEntry::new(ca.svid("spiffe://example.org/a"))],
            bundles: vec![other.x509_bundle()],
        },
        ..Material::default()
    });
    let status = first_x509_message(provider).await.expect_err("incomplete");
    assert_eq!(status.code(), Code::Unavailable);
}
