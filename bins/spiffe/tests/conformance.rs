//! `spiffe conformance`: the Workload API kit passes against `spiffe workload serve` and fails
//! exactly the broken rule against deliberately faulty servers (a provider breaking one JWT or
//! bundle rule behind our server kit, or a raw gRPC proxy breaking one wire rule); the vector
//! suite exports every checked-in vector, the reference adapter passes all of them, and wrong
//! adapters fail exactly the vectors they get wrong.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{run, spiffe, stderr, stdout};
use serde_json::Value;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
use spiffe_core::pki_types::{PrivateKeyDer, UnixTime};
use spiffe_core::{BundleSet, SpiffeId, X509Bundle};
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::proto::spiffe_workload_api_server::{
    SpiffeWorkloadApi, SpiffeWorkloadApiServer,
};
use spiffe_workload::{
    proto, CallerInfo, ClientError, EndpointAddress, IdentityProvider, JwtBundles, JwtSvidEntry,
    ProviderError, WorkloadApiClient, WorkloadApiServer, X509Context,
};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// How long any awaited event may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn s(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

// === the PKI and the good server ===

/// `ca/` (example.org) with `svid/` (spiffe://example.org/web) and `jwt/` (its key signs
/// JWT-SVIDs); `ca2/` is another CA of example.org with `svid2/`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for ca in ["ca", "ca2"] {
            let dir = s(&pki.path(ca));
            let init = run(&["ca", "init", "--trust-domain", "example.org", "--dir", &dir]);
            assert!(init.status.success(), "{}", stderr(&init));
        }
        pki.mint("ca", "spiffe://example.org/web", "svid");
        pki.mint("ca", "spiffe://example.org/jwt-signer", "jwt");
        pki.mint("ca2", "spiffe://example.org/other", "svid2");
        pki
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn mint(&self, ca: &str, id: &str, out: &str) {
        let (ca, out) = (s(&self.path(ca)), s(&self.path(out)));
        let minted = run(&["x509", "mint", "--ca", &ca, "--id", id, "--out", &out]);
        assert!(minted.status.success(), "{}", stderr(&minted));
    }

    /// Starts `spiffe workload serve` on `name` in the temp dir and waits until it listens.
    fn serve(&self, name: &str) -> Server {
        let socket = self.path(name);
        let mut child = spiffe()
            .args([
                "--output",
                "json",
                "workload",
                "serve",
                "--socket",
                &s(&socket),
                "--svid",
                &s(&self.path("svid/svid.pem")),
                "--key",
                &s(&self.path("svid/svid.key")),
                "--bundle",
                &s(&self.path("ca/bundle.json")),
                "--jwt-key",
                &s(&self.path("jwt/svid.key")),
                "--jwt-kid",
                "k1",
                "--federated",
                &format!("other.org={}", s(&self.path("svid2/bundle.pem"))),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = events
            .recv_timeout(PATIENCE)
            .expect("the server's first line");
        assert!(line.contains("\"listening\""), "{line}");
        Server {
            child,
            socket,
            events,
        }
    }
}

struct Server {
    child: Child,
    socket: PathBuf,
    /// The server's event lines after `listening` (`reloaded`, …).
    events: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the kit against `endpoint` (off the async runtime); returns its exit code and lines.
async fn kit(endpoint: String, extra: &[&str]) -> (Option<i32>, Vec<Value>, Output) {
    let mut args: Vec<String> = [
        "--output",
        "json",
        "conformance",
        "workload-api",
        "--endpoint",
        &endpoint,
        "--timeout",
        "5s",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let output = tokio::task::spawn_blocking(move || run(&args))
        .await
        .unwrap();
    let lines = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (output.status.code(), lines, output)
}

/// The names of the failed checks.
fn failed(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l["verdict"] == "fail")
        .map(|l| l["check"].as_str().unwrap().to_owned())
        .collect()
}

fn verdict_of<'a>(lines: &'a [Value], check: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["check"] == check)
        .unwrap_or_else(|| panic!("no check {check}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kit_passes_against_the_static_server() {
    let pki = Pki::new();
    let server = pki.serve("good.sock");
    let (code, lines, output) = kit(server.endpoint(), &["--watch", "1s"]).await;
    assert_eq!(failed(&lines), BTreeSet::new(), "{}", stdout(&output));
    assert_eq!(code, Some(0), "{}", stderr(&output));
    for check in [
        "security-header-required",
        "first-message-at-once",
        "x509-svids-present",
        "x509-svid-fields",
        "x509-svid-encoding",
        "x509-svid-key-matches",
        "x509-svid-profile",
        "x509-svid-chains-to-own-bundle",
        "x509-hints-unique",
        "jwt-hints-unique",
        "x509-bundles",
        "jwt-empty-audience-refused",
        "jwt-svids",
        "jwt-subject",
        "jwt-audience",
        "jwt-bundles",
        "jwt-validates-with-served-bundle",
        "validate-accepts-served-token",
        "validate-rejects-other-audience",
        "validate-rejects-tampered-token",
        "validate-empty-fields-refused",
        "jwt-unheld-id-refused",
        "bundle-map-keys",
        "wit-unimplemented-or-served",
    ] {
        assert_eq!(
            verdict_of(&lines, check)["verdict"],
            "pass",
            "{check}: {}",
            stdout(&output)
        );
    }
    // Each line names a requirement id; a static server never rotates within a second.
    assert_eq!(
        verdict_of(&lines, "security-header-required")["requirement"],
        "WEP-6"
    );
    assert_eq!(
        verdict_of(&lines, "stream-updates-complete")["verdict"],
        "not-observable"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["summary"]["fail"], 0);

    // The human form: one line per check, the verdict first.
    let human = run(&[
        "conformance",
        "workload-api",
        "--endpoint",
        &server.endpoint(),
        "--timeout",
        "5s",
    ]);
    assert!(human.status.success(), "{}", stdout(&human));
    let text = stdout(&human);
    assert!(
        text.lines().any(|l| l.starts_with("pass")
            && l.contains("WEP-6")
            && l.contains("security-header-required")),
        "{text}"
    );
}

/// `--watch`: SVIDs re-minted into the served files while the kit watches are rotations on the
/// open stream (WAPI-6 passes with the updates counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kit_watch_sees_rotations() {
    let pki = Pki::new();
    let server = pki.serve("good.sock");
    let watching = tokio::spawn(kit(server.endpoint(), &["--watch", "4s"]));
    // Rotate until the kit is done: each re-mint is awaited as the server's reload event, so
    // at least one lands while the kit's stream is open.
    while !watching.is_finished() {
        let minted = tokio::task::spawn_blocking({
            let (ca, out) = (s(&pki.path("ca")), s(&pki.path("svid")));
            move || {
                run(&[
                    "x509",
                    "mint",
                    "--ca",
                    &ca,
                    "--id",
                    "spiffe://example.org/web",
                    "--out",
                    &out,
                ])
            }
        })
        .await
        .unwrap();
        assert!(minted.status.success(), "{}", stderr(&minted));
        let event = server
            .events
            .recv_timeout(PATIENCE)
            .expect("a reload event");
        assert!(event.contains("\"reloaded\""), "{event}");
    }
    let (code, lines, output) = watching.await.unwrap();
    assert_eq!(code, Some(0), "{}", stdout(&output));
    let watched = verdict_of(&lines, "stream-updates-complete");
    assert_eq!(watched["verdict"], "pass", "{}", stdout(&output));
    let evidence = watched["evidence"].as_str().unwrap();
    assert!(!evidence.contains(", 0 with new SVIDs"), "{evidence}");
}

#[test]
fn kit_reports_an_unreachable_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix://{}", s(&dir.path().join("nothing.sock")));
    let output = run(&["conformance", "workload-api", "--endpoint", &endpoint]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("nothing.sock"),
        "{}",
        stderr(&output)
    );
}

// === faults behind our server kit: a provider backed by the good server ===

#[derive(Clone, Copy, Debug, PartialEq)]
enum ProviderFault {
    /// JWT-SVIDs minted for another audience than requested (JWT-10).
    WrongAudience,
    /// JWTSVID.spiffe_id differs from the token's `sub` (JWT-9).
    WrongSubjectField,
    /// ValidateJWTSVID accepts a token for any audience (WAPI-22).
    ValidateAnyAudience,
    /// The SVID's own trust-domain bundle is another CA's (X509-20).
    ForeignOwnBundle,
}

struct FaultyProvider {
    upstream: WorkloadApiClient,
    fault: ProviderFault,
    foreign: Arc<X509Bundle>,
    changes: tokio::sync::watch::Sender<()>,
}

fn provider_error(e: ClientError) -> ProviderError {
    match e {
        ClientError::PermissionDenied { .. } => ProviderError::NoIdentity,
        other => ProviderError::Internal(Box::new(other)),
    }
}

impl IdentityProvider for FaultyProvider {
    async fn x509_context(&self, _: &CallerInfo) -> Result<X509Context, ProviderError> {
        let mut context = self
            .upstream
            .fetch_x509_context()
            .await
            .map_err(provider_error)?;
        if self.fault == ProviderFault::ForeignOwnBundle {
            let own = context.svids[0].svid.spiffe_id().trust_domain();
            for bundle in &mut context.bundles {
                if bundle.trust_domain() == &own {
                    *bundle = self.foreign.clone();
                }
            }
        }
        Ok(context)
    }

    async fn jwt_svids(
        &self,
        _: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        let wrong = ["conformance-wrong-audience".to_owned()];
        let audience = if self.fault == ProviderFault::WrongAudience {
            &wrong[..]
        } else {
            audience
        };
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        let mut entries = self
            .upstream
            .fetch_jwt_svids(&audience, spiffe_id)
            .await
            .map_err(provider_error)?;
        if self.fault == ProviderFault::WrongSubjectField {
            for entry in &mut entries {
                entry.spiffe_id = SpiffeId::new("spiffe://example.org/not-the-subject").unwrap();
            }
        }
        Ok(entries)
    }

    async fn jwt_bundles(&self, _: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        let set = self
            .upstream
            .fetch_jwt_bundles()
            .await
            .map_err(provider_error)?;
        Ok(set
            .iter()
            .filter_map(|(_, entry)| entry.jwt().cloned())
            .collect())
    }

    async fn validate_jwt_svid(
        &self,
        caller: &CallerInfo,
        audience: &str,
        token: &str,
    ) -> Result<JwtSvid, ProviderError> {
        let mut set = BundleSet::new();
        for bundle in self.jwt_bundles(caller).await? {
            set.insert_jwt(bundle);
        }
        let own_audience;
        let audiences: Vec<&str> = if self.fault == ProviderFault::ValidateAnyAudience {
            // The fault: whatever audience the token has is accepted.
            own_audience = UnverifiedJwtSvid::parse_insecure(token)
                .map_err(ProviderError::InvalidJwtSvid)?
                .audience()
                .to_vec();
            own_audience.iter().map(String::as_str).collect()
        } else {
            vec![audience]
        };
        JwtSvid::validate(
            token,
            &set,
            &audiences,
            &JwtValidationOptions::new(UnixTime::now()),
        )
        .map_err(ProviderError::InvalidJwtSvid)
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<()> {
        self.changes.subscribe()
    }
}

async fn upstream(server: &Server) -> WorkloadApiClient {
    WorkloadApiClient::connect(&EndpointAddress::parse(&server.endpoint()).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_fault_fails_exactly_its_check() {
    let pki = Pki::new();
    let good = pki.serve("good.sock");
    let foreign = spiffe_core::x509::parse_certificates(
        &std::fs::read(pki.path("svid2/bundle.pem")).unwrap(),
    )
    .unwrap();
    let foreign = Arc::new(X509Bundle::from_authorities(
        spiffe_core::TrustDomain::new("example.org").unwrap(),
        foreign,
    ));
    for (fault, check) in [
        (ProviderFault::WrongAudience, "jwt-audience"),
        (ProviderFault::WrongSubjectField, "jwt-subject"),
        (
            ProviderFault::ValidateAnyAudience,
            "validate-rejects-other-audience",
        ),
        (
            ProviderFault::ForeignOwnBundle,
            "x509-svid-chains-to-own-bundle",
        ),
    ] {
        let provider = Arc::new(FaultyProvider {
            upstream: upstream(&good).await,
            fault,
            foreign: foreign.clone(),
            changes: tokio::sync::watch::channel(()).0,
        });
        let socket = pki.path(&format!("{fault:?}.sock"));
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(WorkloadApiServer::new(provider).serve_unix(
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        let (code, lines, output) = kit(format!("unix://{}", s(&socket)), &[]).await;
        assert_eq!(
            failed(&lines),
            BTreeSet::from([check.to_owned()]),
            "{fault:?}: {}",
            stdout(&output)
        );
        assert_eq!(code, Some(1), "{fault:?}");
        let _ = stop.send(());
        tokio::time::timeout(PATIENCE, server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

// === faults on the wire: a raw gRPC proxy in front of the good server ===

#[derive(Clone, Copy, Debug, PartialEq)]
enum WireFault {
    /// Requests without the security header are served (WEP-6).
    NoHeaderCheck,
    /// The X.509-SVID's key is another SVID's key (WAPI-13).
    KeyMismatch,
    /// FetchX509Bundles leaves out the caller's own trust domain (WAPI-18).
    BundlesWithoutOwn,
    /// The first FetchX509SVID message comes late (WAPI-7).
    SlowFirstMessage,
    /// FetchJWTSVID ignores the requested SPIFFE ID (WAPI-20; our server kit refuses to serve
    /// a token for an identity other than the one asked for, so this fault is on the wire).
    IgnoresRequestedId,
    /// After the first FetchX509SVID message, an update without SVIDs (WAPI-6).
    IncompleteUpdate,
    /// FetchX509SVID answers a message without SVIDs instead of PERMISSION_DENIED (WAPI-12).
    NoSvids,
}

struct Proxy {
    upstream: SpiffeWorkloadApiClient<Channel>,
    fault: WireFault,
    other_key: Vec<u8>,
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Proxy {
    /// The request to forward (with the header), or INVALID_ARGUMENT as a conformant server
    /// answers one without `workload.spiffe.io: true`.
    fn forward<T>(&self, request: Request<T>) -> Result<Request<T>, Status> {
        let header = request
            .metadata()
            .get_all("workload.spiffe.io")
            .iter()
            .collect::<Vec<_>>();
        let ok = header.len() == 1 && header[0] == "true";
        if !ok && self.fault != WireFault::NoHeaderCheck {
            return Err(Status::invalid_argument(
                "security header missing from request",
            ));
        }
        let mut forwarded = Request::new(request.into_inner());
        forwarded
            .metadata_mut()
            .insert("workload.spiffe.io", "true".parse().unwrap());
        Ok(forwarded)
    }
}

#[tonic::async_trait]
impl SpiffeWorkloadApi for Proxy {
    type FetchX509SVIDStream = Boxed<proto::X509svidResponse>;
    type FetchX509BundlesStream = Boxed<proto::X509BundlesResponse>;
    type FetchJWTBundlesStream = Boxed<proto::JwtBundlesResponse>;
    type FetchWITSVIDStream = Boxed<proto::WitsvidResponse>;
    type FetchWITBundlesStream = Boxed<proto::WitBundlesResponse>;

    async fn fetch_x509svid(
        &self,
        request: Request<proto::X509svidRequest>,
    ) -> Result<Response<Self::FetchX509SVIDStream>, Status> {
        let request = self.forward(request)?;
        if self.fault == WireFault::SlowFirstMessage {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let stream = self
            .upstream
            .clone()
            .fetch_x509svid(request)
            .await?
            .into_inner();
        let (fault, other_key) = (self.fault, self.other_key.clone());
        let stream = stream.map(move |message| {
            let mut message = message?;
            if fault == WireFault::KeyMismatch {
                for svid in &mut message.svids {
                    svid.x509_svid_key = other_key.clone();
                }
            }
            if fault == WireFault::NoSvids {
                message.svids.clear();
            }
            Ok(message)
        });
        if self.fault == WireFault::IncompleteUpdate {
            // The first message, then a "diff" with no SVIDs, then the stream stays open.
            let update = proto::X509svidResponse::default();
            return Ok(Response::new(Box::pin(
                stream
                    .take(1)
                    .chain(tokio_stream::once(Ok(update)))
                    .chain(tokio_stream::pending()),
            )));
        }
        Ok(Response::new(Box::pin(stream)))
    }

    async fn fetch_x509_bundles(
        &self,
        request: Request<proto::X509BundlesRequest>,
    ) -> Result<Response<Self::FetchX509BundlesStream>, Status> {
        let stream = self
            .upstream
            .clone()
            .fetch_x509_bundles(self.forward(request)?)
            .await?
            .into_inner();
        let fault = self.fault;
        Ok(Response::new(Box::pin(stream.map(move |message| {
            let mut message = message?;
            if fault == WireFault::BundlesWithoutOwn {
                message.bundles.remove("spiffe://example.org");
            }
            Ok(message)
        }))))
    }

    async fn fetch_jwtsvid(
        &self,
        request: Request<proto::JwtsvidRequest>,
    ) -> Result<Response<proto::JwtsvidResponse>, Status> {
        let mut request = self.forward(request)?;
        if self.fault == WireFault::IgnoresRequestedId {
            request.get_mut().spiffe_id.clear();
        }
        self.upstream.clone().fetch_jwtsvid(request).await
    }

    async fn fetch_jwt_bundles(
        &self,
        request: Request<proto::JwtBundlesRequest>,
    ) -> Result<Response<Self::FetchJWTBundlesStream>, Status> {
        let stream = self
            .upstream
            .clone()
            .fetch_jwt_bundles(self.forward(request)?)
            .await?
            .into_inner();
        Ok(Response::new(Box::pin(stream)))
    }

    async fn validate_jwtsvid(
        &self,
        request: Request<proto::ValidateJwtsvidRequest>,
    ) -> Result<Response<proto::ValidateJwtsvidResponse>, Status> {
        self.upstream
            .clone()
            .validate_jwtsvid(self.forward(request)?)
            .await
    }

    async fn fetch_witsvid(
        &self,
        request: Request<proto::WitsvidRequest>,
    ) -> Result<Response<Self::FetchWITSVIDStream>, Status> {
        self.forward(request)?;
        Err(Status::unimplemented("no WIT profile"))
    }

    async fn fetch_wit_bundles(
        &self,
        request: Request<proto::WitBundlesRequest>,
    ) -> Result<Response<Self::FetchWITBundlesStream>, Status> {
        self.forward(request)?;
        Err(Status::unimplemented("no WIT profile"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wire_fault_fails_exactly_its_check() {
    let pki = Pki::new();
    let good = pki.serve("good.sock");
    let PrivateKeyDer::Pkcs8(other_key) =
        spiffe_core::X509Svid::parse_key(&std::fs::read(pki.path("jwt/svid.key")).unwrap())
            .unwrap()
    else {
        panic!("minted keys are PKCS#8");
    };
    let other_key = other_key.secret_pkcs8_der().to_vec();
    for (fault, check, extra) in [
        (
            WireFault::NoHeaderCheck,
            "security-header-required",
            &[][..],
        ),
        (WireFault::KeyMismatch, "x509-svid-key-matches", &[][..]),
        (WireFault::BundlesWithoutOwn, "x509-bundles", &[][..]),
        (
            WireFault::IgnoresRequestedId,
            "jwt-unheld-id-refused",
            &[][..],
        ),
        (
            WireFault::IncompleteUpdate,
            "stream-updates-complete",
            &["--watch", "1s"][..],
        ),
        (
            WireFault::SlowFirstMessage,
            "first-message-at-once",
            &["--first-message-within", "500ms"][..],
        ),
    ] {
        let proxy = Proxy {
            upstream: upstream(&good).await.grpc_without_header(),
            fault,
            other_key: other_key.clone(),
        };
        let socket = pki.path(&format!("{fault:?}.sock"));
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(
            tokio::net::UnixListener::bind(&socket).unwrap(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(SpiffeWorkloadApiServer::new(proxy))
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stopped.await;
                }),
        );
        let (code, lines, output) = kit(format!("unix://{}", s(&socket)), extra).await;
        assert_eq!(
            failed(&lines),
            BTreeSet::from([check.to_owned()]),
            "{fault:?}: {}",
            stdout(&output)
        );
        assert_eq!(code, Some(1), "{fault:?}");
        let _ = stop.send(());
        tokio::time::timeout(PATIENCE, server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

// === the vector suite ===

fn exported() -> (tempfile::TempDir, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("suite"));
    let output = run(&["--output", "json", "conformance", "vectors", "export", &out]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(dir.path().join("suite/vectors.jsonl")).unwrap();
    let vectors: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(dir.path().join("suite/README.md").exists());
    (dir, vectors)
}

#[test]
fn export_holds_every_checked_in_vector() {
    let (_dir, vectors) = exported();
    let ids: BTreeSet<&str> = vectors.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), vectors.len(), "vector ids are unique");
    let count = |kind: &str| vectors.iter().filter(|v| v["kind"] == kind).count();
    // Against the source tables, counted here independently.
    let x509 = common::vectors("x509/vectors.json");
    let rows = x509["vectors"].as_array().unwrap();
    assert_eq!(
        count("x509-verify"),
        rows.iter().filter(|r| r["verify"] != "skip").count()
    );
    assert_eq!(
        count("x509-svid"),
        rows.iter().filter(|r| r["svid"] != "skip").count()
    );
    assert_eq!(
        count("jwt-svid"),
        common::vectors("jwt/vectors.json")["cases"]
            .as_array()
            .unwrap()
            .len()
    );
    assert_eq!(
        count("bundle") + count("bundle-map"),
        common::vectors("bundle/expectations.json")
            .as_array()
            .unwrap()
            .len()
    );
    let id_rows = common::vectors("id/vectors.json")["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["api"] != "segments")
        .count();
    assert_eq!(count("spiffe-id") + count("trust-domain"), id_rows);
    for v in &vectors {
        assert_eq!(v["format"], "spiffe-conformance-vectors/1");
        assert!(v["expect"] == "accept" || v["expect"] == "reject", "{v}");
        assert!(!v["requirements"].as_array().unwrap().is_empty(), "{v}");
    }
    // Requirement ids are split as the checklist writes them.
    let v37 = vectors
        .iter()
        .find(|v| v["id"] == "x509-verify/37")
        .unwrap();
    assert_eq!(
        v37["requirements"],
        serde_json::json!(["X509-2", "X509-25"])
    );
    assert_eq!(v37["reason"], "MultipleUriSans");
    // The generated 2048-byte ID is materialised.
    let long = vectors.iter().find(|v| v["id"] == "spiffe-id/30").unwrap();
    assert_eq!(long["input"]["id"].as_str().unwrap().len(), 2048);
}

/// Runs the suite through `adapter` (a shell command line); returns the exit code, the failed
/// vector ids and the failed requirement ids.
fn run_suite(adapter: &str) -> (Option<i32>, BTreeSet<String>, BTreeSet<String>, Value) {
    let output = run(&[
        "--output",
        "json",
        "conformance",
        "vectors",
        "run",
        "--timeout",
        "20s",
        "--",
        "sh",
        "-c",
        adapter,
    ]);
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed_vectors = lines
        .iter()
        .filter(|l| l["id"].is_string() && l["verdict"] == "fail")
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    let failed_requirements = lines
        .iter()
        .filter(|l| l["requirement"].is_string() && l["fail"].as_u64() > Some(0))
        .map(|l| l["requirement"].as_str().unwrap().to_owned())
        .collect();
    let summary = lines.last().cloned().unwrap_or(Value::Null);
    (
        output.status.code(),
        failed_vectors,
        failed_requirements,
        summary,
    )
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_spiffe")
}

#[test]
fn reference_adapter_passes_every_vector() {
    let (_dir, vectors) = exported();
    let (code, failed, _, summary) =
        run_suite(&format!("exec '{}' conformance vectors adapter", bin()));
    assert_eq!(failed, BTreeSet::new());
    assert_eq!(code, Some(0));
    assert_eq!(summary["summary"]["pass"], vectors.len());
    assert_eq!(summary["summary"]["not_observable"], 0);
}

#[test]
fn a_lenient_adapter_fails_exactly_the_leaf_key_usage_vectors() {
    let (code, failed, requirements, _) = run_suite(&format!(
        "exec '{}' conformance vectors adapter --allow-leaf-without-digital-signature",
        bin()
    ));
    // go-spiffe's `Verify` leniency: a leaf without digitalSignature (#48) or without any
    // keyUsage (#49a) is accepted.
    assert_eq!(
        failed,
        BTreeSet::from(["x509-verify/48".to_owned(), "x509-verify/49a".to_owned()])
    );
    assert_eq!(
        requirements,
        BTreeSet::from(["X509-15".to_owned(), "X509-17".to_owned()])
    );
    assert_eq!(code, Some(1));
}

#[test]
fn an_adapter_accepting_everything_fails_exactly_the_reject_vectors() {
    let (_dir, vectors) = exported();
    let rejects: BTreeSet<String> = vectors
        .iter()
        .filter(|v| v["expect"] == "reject")
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(rejects.len() > 50);
    let adapter = format!("'{}' conformance vectors adapter | sed -u 's/\"verdict\":\"reject\"/\"verdict\":\"accept\"/'", bin());
    let (code, failed, _, _) = run_suite(&adapter);
    assert_eq!(failed, rejects);
    assert_eq!(code, Some(1));
}

#[test]
fn an_adapter_that_dies_fails_the_vectors_left() {
    let (code, failed, _, summary) = run_suite("head -c 0 >/dev/null; exit 3");
    assert_eq!(code, Some(1));
    assert_eq!(summary["summary"]["pass"], 0);
    assert!(!failed.is_empty());
}

#[test]
fn the_adapter_answers_a_too_long_line_and_carries_on() {
    let (_dir, vectors) = exported();
    let first = vectors.iter().find(|v| v["id"] == "spiffe-id/1").unwrap();
    let mut input = vec![b'x'; 2 << 20];
    input.push(b'\n');
    input.extend_from_slice(first.to_string().as_bytes());
    input.push(b'\n');
    let output = common::run_stdin(&["conformance", "vectors", "adapter"], &input);
    assert!(output.status.success(), "{}", stderr(&output));
    let answers: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["verdict"], "unsupported");
    assert_eq!(answers[1]["id"], "spiffe-id/1");
    assert_eq!(answers[1]["verdict"], "accept");
    assert_eq!(answers[1]["values"]["trust_domain"], "example.org");
}
