//! `spiffe conformance workload-api`: connects to a Workload API endpoint as a workload and
//! checks, from outside, every requirement a workload can observe: the security header
//! (WEP-6), the X.509 profile ([`super::wapi_x509`]), the JWT profile ([`super::wapi_jwt`]),
//! WIT's UNIMPLEMENTED (WAPI-2) and, with `--watch`, rotations on an open stream (WAPI-6/7).
//!
//! Every call uses the generated gRPC client directly (with the security header added by
//! hand, or deliberately left out), so a malformed answer is judged here, check by check,
//! instead of being refused wholesale by our own client. Every call is bounded by
//! `--timeout`.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use spiffe_workload::{proto, EndpointAddress, WorkloadApiClient, SECURITY_HEADER};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::report::Report;
use super::Summary;
use crate::output::{Failure, Output};

/// Arguments of `spiffe conformance workload-api`.
#[derive(Debug, Args)]
pub(crate) struct WorkloadApiArgs {
    /// The Workload API address: `unix:///path`, `unix:/path`, `tcp://IP:port` or a plain
    /// socket path. Default: the `SPIFFE_ENDPOINT_SOCKET` environment variable.
    #[arg(long, value_name = "ADDR")]
    endpoint: Option<String>,

    /// The audience of the JWT-SVIDs requested (another one, derived from it, is used for the
    /// must-reject probes).
    #[arg(long, value_name = "A", default_value = "spiffe-conformance")]
    audience: String,

    /// Keep a FetchX509SVID stream open this long (e.g. `90s`, `10m`) and check every update
    /// it delivers (rotations, WAPI-6/7). Default: no watch (those checks are not observable).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    watch: Option<Duration>,

    /// The longest any single call may take before it counts as unanswered.
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration)]
    timeout: Duration,

    /// The first message of a stream must arrive within this (WAPI-7: "without delay").
    #[arg(long, value_name = "DURATION", default_value = "5s",
          value_parser = parse_duration)]
    first_message_within: Duration,
}

/// A connection to the endpoint under test and the settings of the run.
pub(super) struct Probe {
    grpc: SpiffeWorkloadApiClient<Channel>,
    timeout: Duration,
    pub(super) audience: String,
    pub(super) first_message_within: Duration,
}

/// A call that failed: its gRPC status, or no answer within `--timeout`.
#[derive(Debug)]
pub(super) enum CallError {
    Status(Status),
    TimedOut(Duration),
}

impl CallError {
    pub(super) fn code(&self) -> Option<Code> {
        match self {
            Self::Status(status) => Some(status.code()),
            Self::TimedOut(_) => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The server's message is kept short: it is evidence, not a log.
            Self::Status(status) => {
                let message: String = status.message().chars().take(160).collect();
                write!(f, "{} \"{message}\"", code_name(status.code()))
            }
            Self::TimedOut(after) => write!(f, "no answer within {}", humanize(*after)),
        }
    }
}

/// The canonical gRPC name of `code` (`INVALID_ARGUMENT`, …).
pub(super) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `12 ms`, `3.2 s`.
pub(super) fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// How a request is sent: with the security header (WEP-5), without it, or with a wrong value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Header {
    Correct,
    Missing,
    Value(&'static str),
}

// === impl Probe ===

impl Probe {
    /// `message` as a request with `header`.
    pub(super) fn request<T>(header: Header, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let value = match header {
            Header::Correct => "true",
            Header::Missing => return request,
            Header::Value(value) => value,
        };
        request
            .metadata_mut()
            .insert(SECURITY_HEADER, MetadataValue::from_static(value));
        request
    }

    /// The generated client (no header of its own).
    pub(super) fn grpc(&self) -> SpiffeWorkloadApiClient<Channel> {
        self.grpc.clone()
    }

    /// Runs `call` with the `--timeout` bound.
    pub(super) async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(CallError::Status),
            Err(_) => Err(CallError::TimedOut(self.timeout)),
        }
    }

    /// Opens a server stream with `open` and waits for its first message; a stream that ends
    /// at once counts as an UNAVAILABLE answer. Returns the stream too, and how long the first
    /// message took.
    pub(super) async fn first<T, F>(
        &self,
        open: F,
    ) -> Result<(T, tonic::Streaming<T>, Duration), CallError>
    where
        F: Future<Output = Result<tonic::Response<tonic::Streaming<T>>, Status>>,
    {
        let started = Instant::now();
        let opened = self
            .bounded(async {
                let mut stream = open.await?.into_inner();
                let message = stream.message().await?;
                Ok((message, stream))
            })
            .await?;
        match opened {
            (Some(message), stream) => Ok((message, stream, started.elapsed())),
            (None, _) => Err(CallError::Status(Status::unavailable(
                "the stream ended before its first message",
            ))),
        }
    }
}

/// Runs every check and prints the report; exit status 1 when any check failed.
pub(crate) fn run<W: Write>(args: &WorkloadApiArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let address = address(args.endpoint.as_deref())?;
    let report = block_on(async {
        let client = WorkloadApiClient::connect(&address)
            .await
            .map_err(|e| Failure::Input {
                what: format!("Workload API at {address}"),
                error: Box::new(e),
            })?;
        let probe = Probe {
            grpc: client.grpc_without_header(),
            timeout: args.timeout,
            audience: args.audience.clone(),
            first_message_within: args.first_message_within,
        };
        Ok(checks(&probe, args.watch).await)
    })?;
    for line in &report.lines {
        out.answer(line)?;
    }
    out.answer(&Summary::of(report.lines.iter().map(|l| &l.verdict)))
}

async fn checks(probe: &Probe, watch: Option<Duration>) -> Report {
    let mut report = Report::default();
    header_required(probe, &mut report).await;
    let x509 = super::wapi_x509::check(probe, &mut report).await;
    let own = x509.as_ref().and_then(|x| x.own_trust_domain.clone());
    let jwt_keys = super::wapi_jwt::check(probe, own.as_deref(), &mut report).await;
    let mut keys = x509
        .as_ref()
        .map(|x| x.bundle_keys.clone())
        .unwrap_or_default();
    keys.extend(jwt_keys);
    bundle_keys(&keys, &mut report);
    wit_unimplemented(probe, &mut report).await;
    match (watch, x509) {
        (Some(duration), Some(x509)) => {
            super::wapi_x509::watch(x509.stream, x509.serials, duration, &mut report).await;
        }
        (Some(_), None) => report.unobservable(
            "WAPI-6",
            "stream-updates-complete",
            "no FetchX509SVID stream to watch (see WAPI-12)",
        ),
        (None, _) => report.unobservable(
            "WAPI-6",
            "stream-updates-complete",
            "no rotation watched; run with --watch DURATION (longer than half an SVID lifetime)",
        ),
    }
    report
}

/// WEP-6: every RPC without `workload.spiffe.io: true` is refused with INVALID_ARGUMENT,
/// including a value that is not exactly `true` (vector #122: the value is case-sensitive).
async fn header_required(probe: &Probe, report: &mut Report) {
    let mut problems = Vec::new();
    let mut refused = 0;
    let probes = [
        (Header::Missing, "without the header"),
        // Vector #122: the value is case-sensitive.
        (Header::Value("True"), "with `workload.spiffe.io: True`"),
    ];
    for (header, sent) in probes {
        let calls: [(&str, Result<(), CallError>); 5] = [
            ("FetchX509SVID", {
                let mut grpc = probe.grpc();
                let open = grpc.fetch_x509svid(Probe::request(header, proto::X509svidRequest {}));
                probe.first(open).await.map(drop)
            }),
            ("FetchX509Bundles", {
                let mut grpc = probe.grpc();
                let open =
                    grpc.fetch_x509_bundles(Probe::request(header, proto::X509BundlesRequest {}));
                probe.first(open).await.map(drop)
            }),
            ("FetchJWTBundles", {
                let mut grpc = probe.grpc();
                let open =
                    grpc.fetch_jwt_bundles(Probe::request(header, proto::JwtBundlesRequest {}));
                probe.first(open).await.map(drop)
            }),
            ("FetchJWTSVID", {
                let message = proto::JwtsvidRequest {
                    audience: vec![probe.audience.clone()],
                    spiffe_id: String::new(),
                };
                let mut grpc = probe.grpc();
                probe
                    .bounded(grpc.fetch_jwtsvid(Probe::request(header, message)))
                    .await
                    .map(drop)
            }),
            ("ValidateJWTSVID", {
                let message = proto::ValidateJwtsvidRequest {
                    audience: probe.audience.clone(),
                    svid: "e30.e30.c2ln".into(),
                };
                let mut grpc = probe.grpc();
                probe
                    .bounded(grpc.validate_jwtsvid(Probe::request(header, message)))
                    .await
                    .map(drop)
            }),
        ];
        for (rpc, result) in calls {
            match result {
                Err(e) if e.code() == Some(Code::InvalidArgument) => refused += 1,
                Err(e) => problems.push(format!("{rpc} {sent}: {e}, want INVALID_ARGUMENT")),
                Ok(()) => {
                    problems.push(format!("{rpc} {sent} was answered, want INVALID_ARGUMENT"))
                }
            }
        }
    }
    report.expect_none(
        "WEP-6",
        "security-header-required",
        problems,
        format!(
            "all {refused} calls without `{SECURITY_HEADER}: true` refused with INVALID_ARGUMENT"
        ),
    );
}

/// WAPI-26: bundle map keys are trust-domain SPIFFE IDs (`spiffe://td`).
fn bundle_keys(keys: &[(&'static str, String)], report: &mut Report) {
    if keys.is_empty() {
        report.unobservable("WAPI-26", "bundle-map-keys", "no bundle map was received");
        return;
    }
    let mut problems = Vec::new();
    for (rpc, key) in keys {
        let valid = key
            .strip_prefix("spiffe://")
            .is_some_and(|td| spiffe_core::TrustDomain::new(td).is_ok());
        if !valid {
            problems.push(format!(
                "{rpc} key `{key}` is not a trust domain's SPIFFE ID (`spiffe://td`)"
            ));
        }
    }
    report.expect_none(
        "WAPI-26",
        "bundle-map-keys",
        problems,
        format!(
            "{} bundle map keys, each `spiffe://<trust domain>`",
            keys.len()
        ),
    );
}

/// WAPI-2: without the WIT profile, FetchWITSVID answers UNIMPLEMENTED.
async fn wit_unimplemented(probe: &Probe, report: &mut Report) {
    let mut grpc = probe.grpc();
    let open = grpc.fetch_witsvid(Probe::request(
        Header::Correct,
        proto::WitsvidRequest::default(),
    ));
    match probe.first(open).await {
        Err(e) if e.code() == Some(Code::Unimplemented) => report.pass(
            "WAPI-2",
            "wit-unimplemented-or-served",
            "FetchWITSVID answered UNIMPLEMENTED (no WIT profile)",
        ),
        Ok((message, _, _)) if !message.svids.is_empty() => report.pass(
            "WAPI-2",
            "wit-unimplemented-or-served",
            format!(
                "FetchWITSVID served {} WIT-SVID(s) (WIT profile present)",
                message.svids.len()
            ),
        ),
        Ok(_) => report.fail(
            "WAPI-2",
            "wit-unimplemented-or-served",
            "FetchWITSVID answered with no WIT-SVID; without the profile it must be UNIMPLEMENTED",
        ),
        Err(e) if e.code() == Some(Code::PermissionDenied) => report.unobservable(
            "WAPI-2",
            "wit-unimplemented-or-served",
            format!("FetchWITSVID answered {e}: WIT served, but not to this workload"),
        ),
        Err(e) => report.fail(
            "WAPI-2",
            "wit-unimplemented-or-served",
            format!("FetchWITSVID answered {e}, want UNIMPLEMENTED when WIT is not served"),
        ),
    }
}

/// The endpoint: `--endpoint` (a URI, or a plain socket path) or `SPIFFE_ENDPOINT_SOCKET`.
fn address(explicit: Option<&str>) -> Result<EndpointAddress, Failure> {
    if let Some(path) = explicit.filter(|a| !a.starts_with("unix:") && !a.starts_with("tcp:")) {
        let path = std::path::absolute(path).map_err(|source| Failure::File {
            path: path.into(),
            action: "resolving",
            source,
        })?;
        return Ok(EndpointAddress::Unix(path));
    }
    EndpointAddress::resolve(explicit).map_err(|e| Failure::Input {
        what: match explicit {
            Some(endpoint) => format!("endpoint `{endpoint}`"),
            None => spiffe_workload::ENDPOINT_ENV_VAR.to_owned(),
        },
        error: Box::new(e),
    })
}

/// Runs `future` on a single-threaded runtime.
pub(super) fn block_on<T>(future: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::io("starting the async runtime"))?
        .block_on(future)
}

/// A duration like `500ms`, `90s`, `5m`, `1h` (milliseconds too, for the timing bounds).
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    match s.strip_suffix("ms") {
        Some(millis) => match millis.parse::<u64>() {
            Ok(0) => Err("the duration must be greater than zero".into()),
            Ok(n) => Ok(Duration::from_millis(n)),
            Err(_) => Err(format!("`{s}` is not a duration like 500ms, 90s, 5m or 1h")),
        },
        None => crate::cmd::ca::parse_duration(s),
    }
}
