//! `ValidateJWTSVID` (WAPI-22): a token the endpoint served is accepted for its audience with
//! the mandatory claims, and refused for another audience, with a tampered signature, and with
//! an empty `audience` or `svid` (INVALID_ARGUMENT).

use spiffe_core::UnverifiedJwtSvid;
use spiffe_workload::proto;
use tonic::Code;

use super::report::Report;
use super::workload_api::{CallError, Header, Probe};

async fn validate(
    probe: &Probe,
    audience: &str,
    svid: &str,
) -> Result<proto::ValidateJwtsvidResponse, CallError> {
    let mut grpc = probe.grpc();
    let message = proto::ValidateJwtsvidRequest {
        audience: audience.to_owned(),
        svid: svid.to_owned(),
    };
    probe
        .bounded(async move {
            Ok(grpc
                .validate_jwtsvid(Probe::request(Header::Correct, message))
                .await?
                .into_inner())
        })
        .await
}

/// WAPI-22: ValidateJWTSVID accepts the served token for its audience (returning `sub`,
/// `aud`, `exp`), and refuses it for another audience, tampered, or with empty fields.
pub(super) async fn check(probe: &Probe, served: Option<&UnverifiedJwtSvid>, report: &mut Report) {
    let Some(served) = served else {
        for check in [
            "validate-accepts-served-token",
            "validate-rejects-other-audience",
            "validate-rejects-tampered-token",
        ] {
            report.unobservable("WAPI-22", check, "no JWT-SVID was served to validate");
        }
        empty_fields(probe, None, report).await;
        return;
    };
    let token = served.token();
    let audience = served
        .audience()
        .first()
        .cloned()
        .unwrap_or_else(|| probe.audience.clone());
    // Accepted, with the mandatory claims.
    match validate(probe, &audience, token).await {
        Ok(answer) => match spiffe_workload::response::validated_jwt_svid(answer) {
            Ok(v) => {
                let mut problems = Vec::new();
                if v.spiffe_id != *served.spiffe_id() {
                    problems.push(format!(
                        "answered spiffe_id {} for a token of {}",
                        v.spiffe_id,
                        served.spiffe_id()
                    ));
                }
                for claim in ["sub", "aud", "exp"] {
                    if v.claims.get_json(claim).is_none() {
                        problems.push(format!("claims lack `{claim}`"));
                    }
                }
                report.expect_none(
                    "WAPI-22",
                    "validate-accepts-served-token",
                    problems,
                    format!(
                        "accepted for `{audience}`: {} with sub, aud, exp",
                        v.spiffe_id
                    ),
                );
            }
            Err(e) => report.fail(
                "WAPI-22",
                "validate-accepts-served-token",
                format!("malformed answer: {e}"),
            ),
        },
        Err(e) => report.fail(
            "WAPI-22",
            "validate-accepts-served-token",
            format!("ValidateJWTSVID of a served token for `{audience}` answered {e}"),
        ),
    }
    // Another audience (JWT-10: the validator's audience must be in `aud`).
    let other = format!("{}-other", probe.audience);
    refused(
        probe,
        "validate-rejects-other-audience",
        &other,
        token,
        format!("token for audience `{audience}` validated for `{other}`"),
        report,
    )
    .await;
    // A tampered signature.
    let tampered = tamper(token);
    refused(
        probe,
        "validate-rejects-tampered-token",
        &audience,
        &tampered,
        "token with a changed signature byte".to_owned(),
        report,
    )
    .await;
    empty_fields(probe, Some(token), report).await;
}

/// The check passes when ValidateJWTSVID refuses `svid` for `audience`.
async fn refused(
    probe: &Probe,
    check: &'static str,
    audience: &str,
    svid: &str,
    what: String,
    report: &mut Report,
) {
    match validate(probe, audience, svid).await {
        Err(CallError::Status(status)) => report.pass(
            "WAPI-22",
            check,
            format!(
                "{what}: refused with {}",
                super::workload_api::code_name(status.code())
            ),
        ),
        Err(e) => report.fail("WAPI-22", check, format!("{what}: {e}")),
        Ok(_) => report.fail(
            "WAPI-22",
            check,
            format!("{what}: accepted, must be refused"),
        ),
    }
}

/// WAPI-22: an empty `audience` or `svid` is INVALID_ARGUMENT.
async fn empty_fields(probe: &Probe, token: Option<&str>, report: &mut Report) {
    let token = token.unwrap_or("e30.e30.c2ln");
    let mut problems = Vec::new();
    for (what, audience, svid) in [
        ("empty audience", "", token),
        ("empty svid", probe.audience.as_str(), ""),
    ] {
        match validate(probe, audience, svid).await {
            Err(e) if e.code() == Some(Code::InvalidArgument) => {}
            Err(e) => problems.push(format!("{what}: {e}, want INVALID_ARGUMENT")),
            Ok(_) => problems.push(format!("{what}: accepted, want INVALID_ARGUMENT")),
        }
    }
    report.expect_none(
        "WAPI-22",
        "validate-empty-fields-refused",
        problems,
        "empty audience and empty svid refused with INVALID_ARGUMENT",
    );
}

/// `token` with one character in the middle of its signature changed.
fn tamper(token: &str) -> String {
    let cut = token.rfind('.').map_or(0, |dot| dot + 1);
    let middle = cut + (token.len() - cut) / 2;
    let mut bytes = token.as_bytes().to_vec();
    if let Some(b) = bytes.get_mut(middle) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}
