//! Our client against a scripted fake server: the security header on every call, final and
//! retried status codes (WEP-13..16), and malformed messages discarded (WAPI-9/10, §4.5).
#![allow(clippy::unwrap_used)]

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{id, Ca};
use spiffe_core::pki_types::{PrivateKeyDer, UnixTime};
use spiffe_workload::proto;
use spiffe_workload::proto::spiffe_workload_api_server::{
    SpiffeWorkloadApi, SpiffeWorkloadApiServer,
};
use spiffe_workload::EndpointAddress;
use spiffe_workload::{BackoffConfig, ClientError, MalformedResponse, WorkloadApiClient};
use spiffe_workload::{SourceError, X509Source};
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status};

type Answer<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// What the fake answers.
#[derive(Clone)]
enum Mode {
    /// Every RPC fails with this code.
    Fail(Code),
    /// The scripted messages, then the stream stays open.
    Script {
        x509: Vec<proto::X509svidResponse>,
        jwt: proto::JwtsvidResponse,
        validate: proto::ValidateJwtsvidResponse,
    },
    /// `FetchX509SVID` sends these messages and then ends the stream (EOF).
    Ending(Vec<proto::X509svidResponse>),
}

/// The fake service: shared state the test inspects.
#[derive(Clone)]
struct Fake(Arc<State>);

struct State {
    mode: Mode,
    headers: Mutex<Vec<(&'static str, Vec<String>)>>,
    calls: AtomicUsize,
}

impl std::ops::Deref for Fake {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

impl State {
    fn record<T>(&self, rpc: &'static str, request: &Request<T>) -> Result<(), Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let values = request
            .metadata()
            .get_all("workload.spiffe.io")
            .iter()
            .map(|v| v.to_str().unwrap_or("<binary>").to_owned())
            .collect();
        self.headers.lock().unwrap().push((rpc, values));
        match &self.mode {
            Mode::Fail(code) => Err(Status::new(*code, "scripted failure")),
            Mode::Script { .. } | Mode::Ending(_) => Ok(()),
        }
    }
}

fn open<T: Send + 'static>(items: Vec<T>) -> Answer<T> {
    Box::pin(tokio_stream::iter(items.into_iter().map(Ok)).chain(tokio_stream::pending()))
}

#[tonic::async_trait]
impl SpiffeWorkloadApi for Fake {
    type FetchX509SVIDStream = Answer<proto::X509svidResponse>;
    type FetchX509BundlesStream = Answer<proto::X509BundlesResponse>;
    type FetchJWTBundlesStream = Answer<proto::JwtBundlesResponse>;
    type FetchWITSVIDStream = Answer<proto::WitsvidResponse>;
    type FetchWITBundlesStream = Answer<proto::WitBundlesResponse>;

    async fn fetch_x509svid(
        &self,
        request: Request<proto::X509svidRequest>,
    ) -> Result<Response<Self::FetchX509SVIDStream>, Status> {
        self.record("FetchX509SVID", &request)?;
        match &self.mode {
            Mode::Script { x509, .. } => Ok(Response::new(open(x509.clone()))),
            Mode::Ending(x509) => Ok(Response::new(Box::pin(tokio_stream::iter(
                x509.clone().into_iter().map(Ok),
            )))),
            Mode::Fail(_) => unreachable!("failing mode returned above"),
        }
    }

    async fn fetch_x509_bundles(
        &self,
        request: Request<proto::X509BundlesRequest>,
    ) -> Result<Response<Self::FetchX509BundlesStream>, Status> {
        self.record("FetchX509Bundles", &request)?;
        Ok(Response::new(open(vec![
            proto::X509BundlesResponse::default(),
        ])))
    }

    async fn fetch_jwtsvid(
        &self,
        request: Request<proto::JwtsvidRequest>,
    ) -> Result<Response<proto::JwtsvidResponse>, Status> {
        self.record("FetchJWTSVID", &request)?;
        let Mode::Script { jwt, .. } = &self.mode else {
            unreachable!("only called in the scripted mode")
        };
        Ok(Response::new(jwt.clone()))
    }

    async fn fetch_jwt_bundles(
        &self,
        request: Request<proto::JwtBundlesRequest>,
    ) -> Result<Response<Self::FetchJWTBundlesStream>, Status> {
        self.record("FetchJWTBundles", &request)?;
        Ok(Response::new(open(vec![
            proto::JwtBundlesResponse::default(),
        ])))
    }

    async fn validate_jwtsvid(
        &self,
        request: Request<proto::ValidateJwtsvidRequest>,
    ) -> Result<Response<proto::ValidateJwtsvidResponse>, Status> {
        self.record("ValidateJWTSVID", &request)?;
        let Mode::Script { validate, .. } = &self.mode else {
            unreachable!("only called in the scripted mode")
        };
        Ok(Response::new(validate.clone()))
    }

    async fn fetch_witsvid(
        &self,
        request: Request<proto::WitsvidRequest>,
    ) -> Result<Response<Self::FetchWITSVIDStream>, Status> {
        self.record("FetchWITSVID", &request)?;
        Err(Status::unimplemented("no WIT"))
    }

    async fn fetch_wit_bundles(
        &self,
        request: Request<proto::WitBundlesRequest>,
    ) -> Result<Response<Self::FetchWITBundlesStream>, Status> {
        self.record("FetchWITBundles", &request)?;
        Err(Status::unimplemented("no WIT"))
    }
}

/// A fake on a temp socket, and a client for it.
async fn start(mode: Mode) -> (Fake, WorkloadApiClient, tempfile::TempDir) {
    let fake = Fake(Arc::new(State {
        mode,
        headers: Mutex::new(Vec::new()),
        calls: AtomicUsize::new(0),
    }));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let service = SpiffeWorkloadApiServer::new(fake.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let client = WorkloadApiClient::connect(&EndpointAddress::Unix(path))
        .await
        .unwrap()
        .with_backoff(BackoffConfig::new(
            Duration::from_millis(5),
            Duration::from_millis(20),
        ));
    (fake, client, dir)
}

async fn next<T>(watch: &mut spiffe_workload::Watch<T>) -> Option<Result<T, ClientError>> {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an item within 5 s")
}

/// A wire `X509SVID` for `spiffe_id`, minted by `ca`.
fn wire_svid(ca: &Ca, spiffe_id: &str) -> proto::X509svid {
    let svid = ca.svid(spiffe_id);
    let PrivateKeyDer::Pkcs8(key) = svid.private_key() else {
        panic!("fixture keys are PKCS#8")
    };
    proto::X509svid {
        spiffe_id: spiffe_id.to_owned(),
        x509_svid: svid.chain().iter().flat_map(|c| c.der().to_vec()).collect(),
        x509_svid_key: key.secret_pkcs8_der().to_vec(),
        bundle: ca.x509.trust_anchor().der().to_vec(),
        hint: String::new(),
    }
}

#[tokio::test]
async fn every_request_carries_the_security_header() {
    let (fake, client, _dir) = start(Mode::Fail(Code::Unavailable)).await;
    // WEP-5: exactly one `workload.spiffe.io: true` on every RPC.
    let _ = client.fetch_x509_context().await;
    let _ = client.fetch_x509_bundles().await;
    let _ = client.fetch_jwt_svids(&["a"], None).await;
    let _ = client.fetch_jwt_bundles().await;
    let _ = client.validate_jwt_svid("a.b.c", "a").await;
    let headers = fake.headers.lock().unwrap().clone();
    let rpcs: Vec<_> = headers.iter().map(|(rpc, _)| *rpc).collect();
    assert_eq!(
        rpcs,
        [
            "FetchX509SVID",
            "FetchX509Bundles",
            "FetchJWTSVID",
            "FetchJWTBundles",
            "ValidateJWTSVID"
        ]
    );
    for (rpc, values) in headers {
        assert_eq!(values, ["true"], "{rpc}");
    }
}

#[tokio::test]
async fn invalid_argument_is_final() {
    let (fake, client, _dir) = start(Mode::Fail(Code::InvalidArgument)).await;
    // WEP-13, case 123: surfaced once, never retried.
    let mut watch = client.watch_x509_context();
    let err = next(&mut watch).await.unwrap().expect_err("rejected");
    assert!(
        matches!(err, ClientError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert!(next(&mut watch).await.is_none(), "the watch ends");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);

    // A source does not wait for its timeout on a final error.
    let err = X509Source::builder()
        .with_client(client)
        .with_timeout(Some(Duration::from_secs(30)))
        .build()
        .await
        .expect_err("final");
    assert!(
        matches!(
            err,
            SourceError::Client(ClientError::InvalidArgument { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unimplemented_is_final() {
    let (fake, client, _dir) = start(Mode::Fail(Code::Unimplemented)).await;
    // WEP-16, WAPI-2: report and do not retry.
    let mut watch = client.watch_jwt_bundles();
    let err = next(&mut watch).await.unwrap().expect_err("unimplemented");
    assert!(matches!(err, ClientError::Unimplemented), "{err:?}");
    assert!(next(&mut watch).await.is_none());
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unavailable_and_internal_are_retried_with_backoff() {
    for code in [Code::Unavailable, Code::Internal] {
        let (fake, client, _dir) = start(Mode::Fail(code)).await;
        // WEP-14, case 125.
        let mut watch = client.watch_x509_bundles();
        for _ in 0..3 {
            let err = next(&mut watch).await.unwrap().expect_err("failing");
            assert!(err.is_retryable(), "{err:?}");
        }
        assert!(fake.calls.load(Ordering::SeqCst) >= 3);
    }
}

#[tokio::test]
async fn malformed_messages_are_discarded_and_the_stream_goes_on() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let good = wire_svid(&ca, "spiffe://example.org/w");
    let mut no_bundle = good.clone();
    no_bundle.bundle.clear();
    let mut wrong_id = good.clone();
    wrong_id.spiffe_id = "spiffe://example.org/someone-else".into();
    let federated = other.x509.trust_anchor().der().to_vec();
    let script = vec![
        // Case 134: no SVIDs.
        proto::X509svidResponse::default(),
        // Case 135: an empty mandatory field.
        proto::X509svidResponse {
            svids: vec![no_bundle],
            ..Default::default()
        },
        // The certificate names another ID than the field.
        proto::X509svidResponse {
            svids: vec![wrong_id],
            ..Default::default()
        },
        // Case 142: a bare trust-domain key is accepted.
        proto::X509svidResponse {
            svids: vec![good.clone()],
            federated_bundles: [("other.org".to_owned(), federated)].into(),
            ..Default::default()
        },
        // Case 133: an empty `federated_bundles` drops every federated bundle.
        proto::X509svidResponse {
            svids: vec![good],
            ..Default::default()
        },
    ];
    let mode = Mode::Script {
        x509: script,
        jwt: proto::JwtsvidResponse::default(),
        validate: proto::ValidateJwtsvidResponse::default(),
    };
    let (fake, client, _dir) = start(mode).await;
    let mut watch = client.watch_x509_context();
    // WAPI-12: `svids` must hold at least one SVID; an empty list is malformed.
    let err = next(&mut watch).await.unwrap().expect_err("no svids");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::NoSvids)
    ));
    let err = next(&mut watch).await.unwrap().expect_err("no bundle");
    assert!(
        matches!(
            err,
            ClientError::Malformed(MalformedResponse::MissingField {
                field: "bundle",
                index: Some(0)
            })
        ),
        "{err:?}"
    );
    let err = next(&mut watch).await.unwrap().expect_err("mismatch");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::SpiffeIdMismatch { index: 0 })
    ));
    let context = next(&mut watch).await.unwrap().unwrap();
    let names: Vec<_> = context
        .bundles
        .iter()
        .map(|b| b.trust_domain().as_str().to_owned())
        .collect();
    assert_eq!(names, ["example.org", "other.org"]);
    let context = next(&mut watch).await.unwrap().unwrap();
    assert_eq!(context.bundles.len(), 1);
    // All on one stream: malformed messages do not re-open it.
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn malformed_unary_answers_are_refused() {
    let ca = Ca::new("example.org");
    let token = ca
        .jwt
        .mint(
            &id("spiffe://example.org/a"),
            &["aud"],
            Duration::from_secs(300),
            &spiffe_core::json::JsonObject::new(),
            UnixTime::now(),
        )
        .unwrap();
    let mode = Mode::Script {
        x509: Vec::new(),
        // The token's `sub` is not the `spiffe_id` field.
        jwt: proto::JwtsvidResponse {
            svids: vec![proto::Jwtsvid {
                spiffe_id: "spiffe://example.org/b".into(),
                svid: token.clone(),
                hint: String::new(),
            }],
        },
        // WAPI-22: `claims` is mandatory.
        validate: proto::ValidateJwtsvidResponse {
            spiffe_id: "spiffe://example.org/a".into(),
            claims: None,
        },
    };
    let (_fake, client, _dir) = start(mode).await;
    let err = client
        .fetch_jwt_svids(&["aud"], None)
        .await
        .expect_err("mismatch");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::SpiffeIdMismatch { index: 0 })
    ));
    assert!(!format!("{err} {err:?}").contains(&token));
    let err = client
        .validate_jwt_svid(&token, "aud")
        .await
        .expect_err("no claims");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::MissingField {
            field: "claims",
            index: None
        })
    ));
    // Empty bundle maps are refused (WAPI-18, WAPI-21).
    let err = client.fetch_x509_bundles().await.expect_err("no bundles");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::NoBundles)
    ));
    let err = client.fetch_jwt_bundles().await.expect_err("no bundles");
    assert!(matches!(
        err,
        ClientError::Malformed(MalformedResponse::NoBundles)
    ));
}

#[tokio::test]
async fn a_stream_that_ends_is_reopened() {
    let ca = Ca::new("example.org");
    let message = proto::X509svidResponse {
        svids: vec![wire_svid(&ca, "spiffe://example.org/w")],
        ..Default::default()
    };
    let (fake, client, _dir) = start(Mode::Ending(vec![message])).await;
    // WAPI-5, case 143: each EOF after a message is followed by a new stream.
    let mut watch = client.watch_x509_context();
    for _ in 0..3 {
        let context = next(&mut watch).await.unwrap().unwrap();
        assert_eq!(
            context.svids[0].svid.spiffe_id().as_str(),
            "spiffe://example.org/w"
        );
    }
    assert!(fake.calls.load(Ordering::SeqCst) >= 3);
}
