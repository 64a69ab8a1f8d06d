//! `spiffe jwt inspect` and `spiffe jwt validate`, run as a built binary against the JWT
//! vectors of spiffe-core (`tests/data/jwt/vectors.json`).

mod common;

use common::{answer, data, rfc3339, run, run_stdin, stderr, stdout, vectors};
use serde_json::Value;

/// Errors that need a key, a clock or an audience: `inspect` does not detect them.
const NOT_STRUCTURAL: [&str; 7] = [
    "KeyAlgorithmMismatch",
    "InvalidSignature",
    "UnknownKid",
    "NoBundle",
    "Expired",
    "NotYetValid",
    "AudienceMismatch",
];

fn cases() -> (Vec<Value>, Value) {
    let v = vectors("jwt/vectors.json");
    (v["cases"].as_array().expect("cases").clone(), v)
}

fn bundle_flags(v: &Value) -> Vec<String> {
    let mut flags = Vec::new();
    for (td, file) in v["bundles"].as_object().expect("bundles") {
        flags.push("--bundle".into());
        flags.push(format!(
            "{td}={}",
            data(&format!("jwt/{}", file.as_str().expect("file")))
        ));
    }
    flags
}

/// The signature part of a compact token, which must never be echoed.
fn signature_part(token: &str) -> Option<&str> {
    token.rsplit('.').next().filter(|s| s.len() > 20)
}

#[test]
fn validate_matches_every_vector() {
    let (cases, v) = cases();
    let at = rfc3339(v["now"].as_u64().expect("now"));
    let flags = bundle_flags(&v);
    for case in &cases {
        let id = case["id"].as_str().expect("id");
        let token = case["token"].as_str().expect("token");
        let mut args: Vec<String> = ["--output", "json", "jwt", "validate"]
            .map(String::from)
            .to_vec();
        args.extend(flags.iter().cloned());
        for audience in case["audience"].as_array().expect("audience") {
            args.extend(["--audience".into(), audience.as_str().expect("aud").into()]);
        }
        args.extend(["--at".into(), at.into()]);
        args.extend(["--leeway".into(), case["leeway"].to_string()]);
        args.push(token.into());
        let out = run(&args);
        let a = answer(&out);
        assert_eq!(a["at"], at, "case {id}");
        let expect = case["expect"].as_str().expect("expect");
        if expect == "accept" {
            assert_eq!(out.status.code(), Some(0), "case {id}: {a}");
            assert_eq!(a["valid"], true, "case {id}");
            assert_eq!(a["spiffe_id"], case["expected"]["sub"], "case {id}");
            assert_eq!(a["audience"], case["expected"]["aud"], "case {id}");
            assert_eq!(a["claims"]["sub"], case["expected"]["sub"], "case {id}");
        } else {
            assert_eq!(out.status.code(), Some(1), "case {id}: {a}");
            assert_eq!(a["valid"], false, "case {id}");
            assert_eq!(a["code"], expect, "case {id}: {a}");
            assert!(a["requirement"].as_str().expect("req").starts_with("JWT-"));
            assert!(
                a.get("claims").is_none(),
                "case {id}: unauthenticated claims shown"
            );
        }
        if let Some(sig) = signature_part(token) {
            assert!(!stdout(&out).contains(sig), "case {id}: token echoed");
        }
    }
}

#[test]
fn inspect_matches_every_vector() {
    let (cases, _) = cases();
    for case in &cases {
        let id = case["id"].as_str().expect("id");
        let token = case["token"].as_str().expect("token");
        let out = run(&["--output", "json", "jwt", "inspect", token]);
        let a = answer(&out);
        assert_eq!(a["signature_verified"], false, "case {id}");
        let expect = case["expect"].as_str().expect("expect");
        if expect == "accept" || NOT_STRUCTURAL.contains(&expect) {
            assert_eq!(out.status.code(), Some(0), "case {id}: {a}");
            assert_eq!(a["valid"], true, "case {id}");
            assert!(a["spiffe_id"]
                .as_str()
                .expect("sub")
                .starts_with("spiffe://"));
            assert!(a["header"]["alg"].is_string(), "case {id}");
            assert!(a["header"]["kid"].is_string(), "case {id}");
            assert!(a["claims"].is_object(), "case {id}");
        } else {
            assert_eq!(out.status.code(), Some(1), "case {id}: {a}");
            assert_eq!(a["valid"], false, "case {id}");
            assert_eq!(a["code"], expect, "case {id}: {a}");
        }
        if let Some(sig) = signature_part(token) {
            assert!(!stdout(&out).contains(sig), "case {id}: token echoed");
        }
    }
}

fn token(id: &str) -> String {
    let (cases, _) = cases();
    cases
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["token"].as_str())
        .expect("case")
        .to_owned()
}

#[test]
fn inspect_shows_header_claims_and_warns() {
    let t = token("99"); // extra private claim group=admin, typ JWT, kid ec256
    let out = run(&["--output", "json", "jwt", "inspect", &t]);
    let a = answer(&out);
    assert_eq!(
        a["header"],
        serde_json::json!({"alg": "ES256", "kid": "ec256", "typ": "JWT"})
    );
    assert_eq!(a["spiffe_id"], "spiffe://td/w");
    assert_eq!(a["audience"], serde_json::json!(["svc"]));
    assert_eq!(a["expiry"], "2100-01-01T00:00:00Z");
    assert_eq!(a["expired"], false);
    assert_eq!(a["claims"]["group"], "admin");

    let out = run(&["jwt", "inspect", &t]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("VALID JWT-SVID for spiffe://td/w (signature NOT verified)\n"),
        "{text}"
    );
    assert!(text.contains("alg ES256, kid ec256, typ JWT"), "{text}");
    assert!(text.contains("\"group\":\"admin\""), "{text}");

    // An expired token still inspects, flagged as expired.
    let out = run(&["jwt", "inspect", &token("88")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("(EXPIRED)"));
}

#[test]
fn inspect_and_validate_read_stdin() {
    let t = token("70");
    let out = run_stdin(
        &["--output", "json", "jwt", "inspect", "-"],
        format!("  {t}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(answer(&out)["spiffe_id"], "spiffe://td/w");

    let out = run_stdin(
        &[
            "jwt",
            "validate",
            "--bundle",
            &format!("td={}", data("jwt/td.jwks.json")),
            "--audience",
            "svc",
            "--at",
            "2023-11-14T22:13:20Z",
            "-",
        ],
        format!("{t}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("VALID JWT-SVID for spiffe://td/w (validated at 2023-11-14T22:13:20Z)"),
        "{text}"
    );
}

#[test]
fn validate_human_invalid_and_any_audience() {
    let bundle = format!("td={}", data("jwt/td.jwks.json"));
    let t = token("86"); // aud [a]
    let base = [
        "jwt",
        "validate",
        "--bundle",
        &bundle,
        "--at",
        "2023-11-14T22:13:20Z",
    ];
    let mut args = base.to_vec();
    args.extend(["--audience", "svc", &t]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("INVALID token: "), "{text}");
    assert!(text.contains("JWT-10"), "{text}");
    // Any one of several audiences is enough.
    let mut args = base.to_vec();
    args.extend(["--audience", "svc", "--audience", "a", &t]);
    assert_eq!(run(&args).status.code(), Some(0));
}

#[test]
fn validate_with_spiffe_bundle_json() {
    // full.json is a SPIFFE bundle whose jwt-svid keys are ec256/ec384/rsa of example.com,
    // not the keys the vectors were signed with: the kid is found but the signature fails, or
    // the kid is missing; either way invalid, and the bundle file itself is accepted.
    let out = run(&[
        "--output",
        "json",
        "jwt",
        "validate",
        "--bundle",
        &format!("td={}", data("bundle/full.json")),
        "--audience",
        "svc",
        "--at",
        "2023-11-14T22:13:20Z",
        &token("70"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let a = answer(&out);
    assert!(
        a["code"] == "InvalidSignature" || a["code"] == "UnknownKid",
        "{a}"
    );
}

#[test]
fn validate_usage_and_bundle_errors() {
    let bundle = format!("td={}", data("jwt/td.jwks.json"));
    let t = token("70");
    for args in [
        vec!["jwt", "validate", "--bundle", bundle.as_str(), t.as_str()], // no --audience
        vec!["jwt", "validate", "--audience", "svc", t.as_str()],         // no --bundle
        vec![
            "jwt",
            "validate",
            "--bundle",
            &bundle,
            "--audience",
            "svc",
            "--leeway",
            "-1",
            &t,
        ],
        vec![
            "jwt",
            "validate",
            "--bundle",
            &bundle,
            "--audience",
            "svc",
            "--at",
            "yesterday",
            &t,
        ],
        vec!["jwt", "inspect"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // A malformed bundle file: named on stderr, exit 1.
    let bad = format!("td={}", data("bundle/110-duplicate-kid.json"));
    let out = run(&["jwt", "validate", "--bundle", &bad, "--audience", "svc", &t]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("110-duplicate-kid.json") && err.contains("JWT-16"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn help_has_examples() {
    for sub in ["inspect", "validate"] {
        let out = run(&["jwt", sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.contains("Examples:") && text.contains(&format!("spiffe jwt {sub}")));
    }
    assert!(stdout(&run(&["jwt", "inspect", "--help"])).contains("NOT verified"));
}
