//! The X.509 profile of the Workload API, observed from one `FetchX509SVID` message and one
//! `FetchX509Bundles` message: WAPI-7/12/13/14/15/18/25, the SVID profile (X509-1..18, with
//! spiffe-core's `X509Svid` checks) and path validation against the SVID's own trust-domain
//! bundle (X509-20, WAPI-11); then, with `--watch`, every update of the stream (WAPI-6).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::x509::{self, parse_certificates, X509Error};
use spiffe_core::{Certificate, X509Bundle, X509Svid};
use spiffe_workload::proto;

use super::report::Report;
use super::workload_api::{humanize, Header, Probe};

/// The longest hint a server should send (WAPI-25).
const MAX_HINT_LEN: usize = 1024;

/// The checks of each SVID in a message (not observable when there is none).
const SVID_CHECKS: [(&str, &str); 5] = [
    ("WAPI-13", "x509-svid-fields"),
    ("WAPI-14", "x509-svid-encoding"),
    ("WAPI-13", "x509-svid-key-matches"),
    ("X509-1..18", "x509-svid-profile"),
    ("X509-20", "x509-svid-chains-to-own-bundle"),
];

/// What the X.509 checks learned, for the checks after them.
pub(super) struct X509Observed {
    /// The trust domain of the default SVID, when it parsed.
    pub(super) own_trust_domain: Option<String>,
    /// Every bundle map key seen, with its RPC (WAPI-26 is checked once, over all of them).
    pub(super) bundle_keys: Vec<(&'static str, String)>,
    /// The open FetchX509SVID stream, for `--watch`.
    pub(super) stream: tonic::Streaming<proto::X509svidResponse>,
    /// The leaf serials of the first message.
    pub(super) serials: Vec<String>,
}

/// Runs the X.509 checks; `None` when FetchX509SVID gave no message to check.
pub(super) async fn check(probe: &Probe, report: &mut Report) -> Option<X509Observed> {
    let mut grpc = probe.grpc();
    let open = grpc.fetch_x509svid(Probe::request(Header::Correct, proto::X509svidRequest {}));
    let (message, stream, elapsed) = match probe.first(open).await {
        Ok(first) => first,
        Err(e) => {
            let why = format!("FetchX509SVID answered {e}");
            // WAPI-16: a caller with no identity is answered PERMISSION_DENIED; that is
            // conformant, but nothing of the profile can be seen.
            if e.code() == Some(tonic::Code::PermissionDenied) {
                report.unobservable(
                    "WAPI-12",
                    "x509-svids-present",
                    format!("{why}: this process holds no X.509-SVID (WAPI-16); run the kit as a registered workload"),
                );
            } else {
                report.fail("WAPI-12", "x509-svids-present", why);
            }
            report.unobservable(
                "WAPI-7",
                "first-message-at-once",
                "no FetchX509SVID message",
            );
            for (req, check) in SVID_CHECKS {
                report.unobservable(req, check, "no FetchX509SVID message to check");
            }
            x509_bundles(probe, None, &mut Vec::new(), report).await;
            return None;
        }
    };
    // WAPI-7: receiving the request itself triggers the first message.
    if elapsed <= probe.first_message_within {
        report.pass(
            "WAPI-7",
            "first-message-at-once",
            format!("first FetchX509SVID message after {}", humanize(elapsed)),
        );
    } else {
        report.fail(
            "WAPI-7",
            "first-message-at-once",
            format!(
                "first FetchX509SVID message after {}, more than {}",
                humanize(elapsed),
                humanize(probe.first_message_within)
            ),
        );
    }
    // WAPI-12: at least one SVID.
    if message.svids.is_empty() {
        report.fail(
            "WAPI-12",
            "x509-svids-present",
            "FetchX509SVID message with no SVID (`svids` is mandatory, ≥1)",
        );
    } else {
        report.pass(
            "WAPI-12",
            "x509-svids-present",
            format!("{} X.509-SVID(s)", message.svids.len()),
        );
    }
    let svids = svid_checks(&message, report);
    hint_checks(&message, report);
    let mut keys: Vec<(&'static str, String)> = message
        .federated_bundles
        .keys()
        .map(|k| ("FetchX509SVID federated_bundles", k.clone()))
        .collect();
    let own_trust_domain = svids.own_trust_domain.clone();
    x509_bundles(probe, own_trust_domain.as_deref(), &mut keys, report).await;
    Some(X509Observed {
        own_trust_domain,
        bundle_keys: keys,
        stream,
        serials: svids.serials,
    })
}

struct SvidFindings {
    own_trust_domain: Option<String>,
    serials: Vec<String>,
}

/// WAPI-13, WAPI-14, the SVID profile and X509-20, for every SVID of `message`.
fn svid_checks(message: &proto::X509svidResponse, report: &mut Report) -> SvidFindings {
    if message.svids.is_empty() {
        for (req, check) in SVID_CHECKS {
            report.unobservable(req, check, "the message holds no SVID (see WAPI-12)");
        }
        return SvidFindings {
            own_trust_domain: None,
            serials: Vec::new(),
        };
    }
    let mut fields = Vec::new();
    let mut encoding = Vec::new();
    let mut key_match = Vec::new();
    let mut profile = Vec::new();
    let mut chains = Vec::new();
    let mut findings = SvidFindings {
        own_trust_domain: None,
        serials: Vec::new(),
    };
    let mut verified = Vec::new();
    let now = UnixTime::now();
    for (index, wire) in message.svids.iter().enumerate() {
        let at = format!("svids[{index}]");
        // WAPI-13: spiffe_id, x509_svid, x509_svid_key and bundle are mandatory.
        for (name, empty) in [
            ("spiffe_id", wire.spiffe_id.is_empty()),
            ("x509_svid", wire.x509_svid.is_empty()),
            ("x509_svid_key", wire.x509_svid_key.is_empty()),
            ("bundle", wire.bundle.is_empty()),
        ] {
            if empty {
                fields.push(format!("{at}.{name} is empty"));
            }
        }
        // WAPI-14: concatenated DER certificates, leaf first (not PEM).
        let chain = match der_certificates(&wire.x509_svid) {
            Ok(chain) => chain,
            Err(why) => {
                encoding.push(format!("{at}.x509_svid: {why}"));
                continue;
            }
        };
        let leaf = &chain[0];
        findings.serials.push(leaf.serial_hex());
        // (Nothing to compare when the leaf has no valid SPIFFE ID: the profile check names
        // what is wrong with its URI SAN.)
        if let Ok(Some(id)) = leaf.spiffe_id() {
            if index == 0 {
                findings.own_trust_domain = Some(id.trust_domain().as_str().to_owned());
            }
            if id.as_str() != wire.spiffe_id {
                fields.push(format!(
                    "{at}.spiffe_id `{}` is not the leaf's SPIFFE ID `{id}`",
                    wire.spiffe_id
                ));
            }
        }
        // WAPI-14: an unencrypted PKCS#8 DER key.
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(wire.x509_svid_key.clone()));
        match X509Svid::parse_der(&wire.x509_svid, &wire.x509_svid_key) {
            Err(X509Error::MalformedPrivateKey) => {
                encoding.push(format!(
                    "{at}.x509_svid_key is not an unencrypted PKCS#8 DER key"
                ));
            }
            // WAPI-13 (vector #65): the key belongs to the leaf. The profile checks run before
            // the key check, so a mismatch means the profile held.
            Err(X509Error::KeyMismatch) => {}
            Err(e) => profile.push(format!("{at} ({}): {e}", wire.spiffe_id)),
            Ok(_) => {}
        }
        match X509Svid::key_matches(leaf, &key) {
            Ok(()) => {}
            Err(X509Error::KeyMismatch) => {
                key_match.push(format!(
                    "{at}.x509_svid_key is not the private key of the leaf"
                ));
            }
            Err(_) => {} // reported by the encoding check
        }
        // X509-20, WAPI-11: path validation against the bundle of the SVID's own trust domain.
        let Ok(Some(id)) = leaf.spiffe_id() else {
            continue;
        };
        let trust_domain = id.trust_domain();
        let bundle = match der_certificates(&wire.bundle) {
            Ok(certs) => Arc::new(X509Bundle::from_authorities(trust_domain.clone(), certs)),
            Err(why) => {
                encoding.push(format!("{at}.bundle: {why}"));
                continue;
            }
        };
        let ders: Vec<CertificateDer<'_>> = chain.iter().map(|c| c.der().clone()).collect();
        match x509::verify(&ders, &bundle, now) {
            Ok(_) => verified.push(format!("{id}")),
            Err(e) => chains.push(format!(
                "{at} ({id}) does not verify against its `bundle` ({} authorities of {trust_domain}): {e}",
                bundle.len()
            )),
        }
    }
    for (key, der) in &message.federated_bundles {
        if let Err(why) = der_certificates(der) {
            encoding.push(format!("federated_bundles[{key}]: {why}"));
        }
    }
    let n = message.svids.len();
    report.expect_none(
        "WAPI-13",
        "x509-svid-fields",
        fields,
        format!("{n} SVID(s) with every mandatory field, spiffe_id naming the leaf"),
    );
    report.expect_none(
        "WAPI-14",
        "x509-svid-encoding",
        encoding,
        "chains and bundles are DER certificates, keys unencrypted PKCS#8 DER",
    );
    report.expect_none(
        "WAPI-13",
        "x509-svid-key-matches",
        key_match,
        format!("each key is the private key of its leaf ({n})"),
    );
    report.expect_none("X509-1..18", "x509-svid-profile", profile, "each leaf has one SPIFFE URI SAN with a path, is no CA, has critical keyUsage with digitalSignature only and both EKUs if any; intermediates are CAs");
    if verified.is_empty() && chains.is_empty() {
        report.unobservable(
            "X509-20",
            "x509-svid-chains-to-own-bundle",
            "no SVID could be parsed to verify",
        );
    } else {
        report.expect_none(
            "X509-20",
            "x509-svid-chains-to-own-bundle",
            chains,
            format!(
                "verified against the bundle of its own trust domain: {}",
                verified.join(", ")
            ),
        );
    }
    findings
}

/// WAPI-15 (non-empty hints unique) and WAPI-25 (hints at most 1024 bytes).
fn hint_checks(message: &proto::X509svidResponse, report: &mut Report) {
    let hints: Vec<&str> = message
        .svids
        .iter()
        .map(|s| s.hint.as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let mut seen = HashSet::new();
    let duplicates: Vec<String> = hints
        .iter()
        .filter(|h| !seen.insert(**h))
        .map(|h| format!("hint `{h}` appears more than once"))
        .collect();
    report.expect_none(
        "WAPI-15",
        "x509-hints-unique",
        duplicates,
        format!("{} non-empty hint(s), all distinct", hints.len()),
    );
    let long: Vec<String> = hints
        .iter()
        .filter(|h| h.len() > MAX_HINT_LEN)
        .map(|h| format!("a hint of {} bytes", h.len()))
        .collect();
    report.expect_none(
        "WAPI-25",
        "x509-hint-length",
        long,
        "no hint longer than 1024 bytes",
    );
}

/// WAPI-18: FetchX509Bundles answers at once with DER bundles, including the caller's own
/// trust domain.
async fn x509_bundles(
    probe: &Probe,
    own: Option<&str>,
    keys: &mut Vec<(&'static str, String)>,
    report: &mut Report,
) {
    let mut grpc = probe.grpc();
    let open = grpc.fetch_x509_bundles(Probe::request(
        Header::Correct,
        proto::X509BundlesRequest {},
    ));
    let message = match probe.first(open).await {
        Ok((message, _, _)) => message,
        Err(e) if e.code() == Some(tonic::Code::PermissionDenied) && own.is_none() => {
            report.unobservable(
                "WAPI-18",
                "x509-bundles",
                format!("FetchX509Bundles answered {e} (no identity, WAPI-18)"),
            );
            return;
        }
        Err(e) => {
            report.fail(
                "WAPI-18",
                "x509-bundles",
                format!("FetchX509Bundles answered {e}"),
            );
            return;
        }
    };
    let mut problems = Vec::new();
    if message.bundles.is_empty() {
        problems.push("no bundle (`bundles` is mandatory)".to_owned());
    }
    let mut names = Vec::new();
    for (key, der) in &message.bundles {
        keys.push(("FetchX509Bundles", key.clone()));
        names.push(key.trim_start_matches("spiffe://").to_owned());
        if let Err(why) = der_certificates(der) {
            problems.push(format!("bundles[{key}]: {why}"));
        }
    }
    if let Some(own) = own {
        if !names.iter().any(|n| n == own) {
            problems.push(format!("no bundle for the caller's own trust domain {own}"));
        }
    }
    names.sort();
    report.expect_none(
        "WAPI-18",
        "x509-bundles",
        problems,
        format!("bundles of {}", names.join(", ")),
    );
}

/// `--watch`: every update of the open stream carries the complete state (WAPI-6: SVIDs whose
/// keys match), and a rotation is observed as a new leaf serial.
pub(super) async fn watch(
    mut stream: tonic::Streaming<proto::X509svidResponse>,
    first_serials: Vec<String>,
    duration: Duration,
    report: &mut Report,
) {
    let deadline = tokio::time::Instant::now() + duration;
    let mut updates = 0usize;
    let mut rotations = 0usize;
    let mut problems = Vec::new();
    let mut serials = first_serials;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.message()).await;
        let message = match next {
            Err(_) => break,
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => {
                problems.push(format!("the stream ended after {updates} update(s)"));
                break;
            }
            Ok(Err(status)) => {
                problems.push(format!(
                    "the stream failed after {updates} update(s): {}",
                    super::workload_api::code_name(status.code())
                ));
                break;
            }
        };
        updates += 1;
        // WAPI-6: each message is the complete state, never a diff.
        if message.svids.is_empty() {
            problems.push(format!("update {updates} has no SVID"));
        }
        let mut now_serials = Vec::new();
        for (index, wire) in message.svids.iter().enumerate() {
            match X509Svid::parse_der(&wire.x509_svid, &wire.x509_svid_key) {
                Ok(svid) => now_serials.push(svid.leaf().serial_hex()),
                Err(e) => problems.push(format!("update {updates} svids[{index}]: {e}")),
            }
        }
        if now_serials != serials {
            rotations += 1;
        }
        serials = now_serials;
    }
    if !problems.is_empty() {
        report.fail("WAPI-6", "stream-updates-complete", problems.join("; "));
    } else if updates == 0 {
        report.unobservable(
            "WAPI-6",
            "stream-updates-complete",
            format!("no update within {}", humanize(duration)),
        );
    } else {
        report.pass(
            "WAPI-6",
            "stream-updates-complete",
            format!(
                "{updates} update(s) within {}, {rotations} with new SVIDs, each complete",
                humanize(duration)
            ),
        );
    }
}

/// Concatenated DER certificates (WAPI-14: never PEM).
fn der_certificates(der: &[u8]) -> Result<Vec<Certificate>, String> {
    if der.is_empty() {
        return Err("empty".into());
    }
    if der.first() != Some(&0x30) {
        return Err("not DER (PEM or other text?)".into());
    }
    match parse_certificates(der) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err("no certificate".into()),
        Err(e) => Err(e.to_string()),
    }
}
