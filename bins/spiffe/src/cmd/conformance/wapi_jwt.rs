//! The JWT profile of the Workload API: FetchJWTSVID (WAPI-10/19/20, JWT-9/10), FetchJWTBundles
//! (WAPI-21), local validation of the served tokens against the served bundles with
//! spiffe-core's validator (JWT-4..13, JWT-20), and ValidateJWTSVID accepting the served token
//! and rejecting a token for another audience, a tampered token and empty fields (WAPI-22).

use spiffe_core::jwt::{JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{BundleSet, JwtBundle, TrustDomain};
use spiffe_workload::proto;
use tonic::Code;

use super::report::Report;
use super::workload_api::{CallError, Header, Probe};

/// One served JWT-SVID that parsed.
pub(super) struct Served {
    field_id: String,
    token: UnverifiedJwtSvid,
}

/// Runs the JWT checks; returns the bundle map keys of FetchJWTBundles (for WAPI-26).
pub(super) async fn check(
    probe: &Probe,
    own: Option<&str>,
    report: &mut Report,
) -> Vec<(&'static str, String)> {
    empty_audience(probe, report).await;
    let served = fetch(probe, report).await;
    let own = own.map(str::to_owned).or_else(|| {
        served
            .first()
            .map(|s| s.token.spiffe_id().trust_domain().as_str().to_owned())
    });
    let (bundles, keys) = jwt_bundles(probe, own.as_deref(), report).await;
    validate_locally(probe, &served, bundles.as_ref(), report);
    super::wapi_validate::check(probe, served.first().map(|s| &s.token), report).await;
    unheld_id(probe, own.as_deref(), report).await;
    keys
}

async fn fetch_jwt(
    probe: &Probe,
    audience: Vec<String>,
    spiffe_id: String,
) -> Result<proto::JwtsvidResponse, CallError> {
    let mut grpc = probe.grpc();
    let message = proto::JwtsvidRequest {
        audience,
        spiffe_id,
    };
    probe
        .bounded(async move {
            Ok(grpc
                .fetch_jwtsvid(Probe::request(Header::Correct, message))
                .await?
                .into_inner())
        })
        .await
}

/// WAPI-10, WAPI-19: FetchJWTSVID with no audience is INVALID_ARGUMENT (vector #126).
async fn empty_audience(probe: &Probe, report: &mut Report) {
    const CHECK: &str = "jwt-empty-audience-refused";
    match fetch_jwt(probe, Vec::new(), String::new()).await {
        Err(e) if e.code() == Some(Code::InvalidArgument) => {
            report.pass(
                "WAPI-10",
                CHECK,
                "FetchJWTSVID with no audience refused with INVALID_ARGUMENT",
            );
        }
        Err(e) => report.fail(
            "WAPI-10",
            CHECK,
            format!("FetchJWTSVID with no audience answered {e}, want INVALID_ARGUMENT"),
        ),
        Ok(answer) => report.fail(
            "WAPI-10",
            CHECK,
            format!(
                "FetchJWTSVID with no audience answered {} token(s), want INVALID_ARGUMENT",
                answer.svids.len()
            ),
        ),
    }
}

/// WAPI-19 (mandatory fields, ≥1 SVID), JWT-9 (`sub` is the SVID's SPIFFE ID) and JWT-10
/// (`aud` holds the requested audience).
async fn fetch(probe: &Probe, report: &mut Report) -> Vec<Served> {
    let answer = match fetch_jwt(probe, vec![probe.audience.clone()], String::new()).await {
        Ok(answer) => answer,
        Err(e) => {
            let why = format!("FetchJWTSVID answered {e}");
            if e.code() == Some(Code::PermissionDenied) {
                report.unobservable(
                    "WAPI-19",
                    "jwt-svids",
                    format!("{why}: no JWT identity for this process (WAPI-20)"),
                );
            } else {
                report.fail("WAPI-19", "jwt-svids", why);
            }
            report.unobservable("JWT-9", "jwt-subject", "no JWT-SVID to check");
            report.unobservable("JWT-10", "jwt-audience", "no JWT-SVID to check");
            return Vec::new();
        }
    };
    let mut problems = Vec::new();
    if answer.svids.is_empty() {
        problems.push("no JWT-SVID (`svids` is mandatory, ≥1)".to_owned());
    }
    // WAPI-15: non-empty hints are unique within the response.
    let mut hints = std::collections::HashSet::new();
    let duplicates: Vec<String> = answer
        .svids
        .iter()
        .filter(|s| !s.hint.is_empty() && !hints.insert(s.hint.as_str()))
        .map(|s| format!("hint `{}` appears more than once", s.hint))
        .collect();
    report.expect_none(
        "WAPI-15",
        "jwt-hints-unique",
        duplicates,
        format!("{} non-empty hint(s), all distinct", hints.len()),
    );
    let mut served = Vec::new();
    for (index, wire) in answer.svids.into_iter().enumerate() {
        if wire.spiffe_id.is_empty() {
            problems.push(format!("svids[{index}].spiffe_id is empty"));
        }
        if wire.svid.is_empty() {
            problems.push(format!("svids[{index}].svid is empty"));
            continue;
        }
        match UnverifiedJwtSvid::parse_insecure(&wire.svid) {
            Ok(token) => served.push(Served {
                field_id: wire.spiffe_id,
                token,
            }),
            Err(e) => problems.push(format!("svids[{index}].svid is no JWT-SVID: {e}")),
        }
    }
    let n = served.len();
    report.expect_none(
        "WAPI-19",
        "jwt-svids",
        problems,
        format!("{n} JWT-SVID(s) with every mandatory field"),
    );
    if served.is_empty() {
        report.unobservable("JWT-9", "jwt-subject", "no JWT-SVID parsed");
        report.unobservable("JWT-10", "jwt-audience", "no JWT-SVID parsed");
        return served;
    }
    let subjects: Vec<String> = served
        .iter()
        .filter(|s| s.token.spiffe_id().as_str() != s.field_id)
        .map(|s| {
            format!(
                "token `sub` is {} but the JWTSVID's spiffe_id is `{}`",
                s.token.spiffe_id(),
                s.field_id
            )
        })
        .collect();
    let ids: Vec<String> = served
        .iter()
        .map(|s| s.token.spiffe_id().to_string())
        .collect();
    report.expect_none(
        "JWT-9",
        "jwt-subject",
        subjects,
        format!("`sub` is the SVID's SPIFFE ID: {}", ids.join(", ")),
    );
    let audiences: Vec<String> = served
        .iter()
        .filter(|s| !s.token.audience().contains(&probe.audience))
        .map(|s| {
            format!(
                "token for {} has `aud` {:?}, without the requested `{}`",
                s.token.spiffe_id(),
                s.token.audience(),
                probe.audience
            )
        })
        .collect();
    report.expect_none(
        "JWT-10",
        "jwt-audience",
        audiences,
        format!("`aud` holds the requested `{}`", probe.audience),
    );
    served
}

/// WAPI-21: FetchJWTBundles, at once, one JWKS of JWT-SVID keys (each with `kid`) per trust
/// domain, including the caller's own.
async fn jwt_bundles(
    probe: &Probe,
    own: Option<&str>,
    report: &mut Report,
) -> (Option<BundleSet>, Vec<(&'static str, String)>) {
    const CHECK: &str = "jwt-bundles";
    let mut grpc = probe.grpc();
    let open = grpc.fetch_jwt_bundles(Probe::request(Header::Correct, proto::JwtBundlesRequest {}));
    let message = match probe.first(open).await {
        Ok((message, _, _)) => message,
        Err(e) if e.code() == Some(Code::PermissionDenied) && own.is_none() => {
            report.unobservable(
                "WAPI-21",
                CHECK,
                format!("FetchJWTBundles answered {e} (no identity)"),
            );
            return (None, Vec::new());
        }
        Err(e) => {
            report.fail("WAPI-21", CHECK, format!("FetchJWTBundles answered {e}"));
            return (None, Vec::new());
        }
    };
    let mut problems = Vec::new();
    let mut set = BundleSet::new();
    let mut keys = Vec::new();
    if message.bundles.is_empty() {
        problems.push("no bundle (`bundles` is mandatory)".to_owned());
    }
    for (key, jwks) in &message.bundles {
        keys.push(("FetchJWTBundles", key.clone()));
        let Ok(trust_domain) = TrustDomain::new(key) else {
            continue; // WAPI-26 names the bad key
        };
        // WAPI-21: only JWT-SVID keys (a key without `use` is allowed, as SPIRE sends).
        if let Ok(serde_json::Value::Object(doc)) =
            serde_json::from_slice::<serde_json::Value>(jwks)
        {
            if let Some(serde_json::Value::Array(jwk)) = doc.get("keys") {
                for k in jwk {
                    match k.get("use").and_then(|u| u.as_str()) {
                        None | Some("jwt-svid") => {}
                        Some(other) => problems.push(format!("bundles[{key}] holds a key with `use` `{other}`; only JWT-SVID keys are allowed")),
                    }
                }
            }
        }
        match JwtBundle::parse_jwks(trust_domain, jwks) {
            Ok(bundle) => {
                set.insert_jwt(bundle);
            }
            Err(e) => problems.push(format!("bundles[{key}] is no JWKS of JWT-SVID keys: {e}")),
        }
    }
    if let Some(own) = own {
        if set.jwt_bundle(own).is_none() {
            problems.push(format!(
                "no JWT bundle for the caller's own trust domain {own}"
            ));
        }
    }
    let names: Vec<String> = set.trust_domains().map(|td| td.to_string()).collect();
    report.expect_none(
        "WAPI-21",
        CHECK,
        problems,
        format!("JWT bundles of {}", names.join(", ")),
    );
    (Some(set), keys)
}

/// JWT-13 (and JWT-4..12, JWT-20): each served token validates against the served JWT bundle
/// of its `sub`'s trust domain, now. The audience is judged by JWT-10 alone, so this uses the
/// requested one when the token has it, else the token's own.
fn validate_locally(
    probe: &Probe,
    served: &[Served],
    bundles: Option<&BundleSet>,
    report: &mut Report,
) {
    const CHECK: &str = "jwt-validates-with-served-bundle";
    let Some(bundles) = bundles.filter(|_| !served.is_empty()) else {
        report.unobservable(
            "JWT-13",
            CHECK,
            "no JWT-SVID or no JWT bundles to validate with",
        );
        return;
    };
    let options = JwtValidationOptions::new(UnixTime::now());
    let mut problems = Vec::new();
    let mut ok = Vec::new();
    for s in served {
        let audiences: Vec<&str> = if s.token.audience().contains(&probe.audience) {
            vec![probe.audience.as_str()]
        } else {
            s.token.audience().iter().map(String::as_str).collect()
        };
        match JwtSvid::validate(s.token.token(), bundles, &audiences, &options) {
            Ok(v) => ok.push(format!(
                "{} ({}, kid {})",
                v.spiffe_id(),
                v.alg().name(),
                v.kid()
            )),
            Err(e) => problems.push(format!(
                "token for {}: {e} ({})",
                s.token.spiffe_id(),
                e.requirement()
            )),
        }
    }
    report.expect_none(
        "JWT-13",
        CHECK,
        problems,
        format!("validated against the served bundles: {}", ok.join(", ")),
    );
}

/// WAPI-20: FetchJWTSVID for a SPIFFE ID the caller does not hold is PERMISSION_DENIED
/// (vector #127).
async fn unheld_id(probe: &Probe, own: Option<&str>, report: &mut Report) {
    const CHECK: &str = "jwt-unheld-id-refused";
    let Some(own) = own else {
        report.unobservable("WAPI-20", CHECK, "the caller's trust domain is unknown");
        return;
    };
    let id = format!("spiffe://{own}/spiffe-conformance/not-held");
    match fetch_jwt(probe, vec![probe.audience.clone()], id.clone()).await {
        Err(e) if e.code() == Some(Code::PermissionDenied) => {
            report.pass(
                "WAPI-20",
                CHECK,
                format!("FetchJWTSVID for {id} refused with PERMISSION_DENIED"),
            );
        }
        Err(e) => report.fail(
            "WAPI-20",
            CHECK,
            format!("FetchJWTSVID for {id} answered {e}, want PERMISSION_DENIED"),
        ),
        Ok(answer) => {
            let subs: Vec<String> = answer
                .svids
                .iter()
                .map(|s| {
                    UnverifiedJwtSvid::parse_insecure(&s.svid)
                        .map_or_else(|_| s.spiffe_id.clone(), |t| t.spiffe_id().to_string())
                })
                .collect();
            report.fail(
                "WAPI-20",
                CHECK,
                format!(
                    "FetchJWTSVID for {id}, not held, answered token(s) for {}",
                    subs.join(", ")
                ),
            );
        }
    }
}
