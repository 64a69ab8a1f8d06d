//! `spiffe bundle inspect` and `spiffe bundle convert`, run as a built binary against the
//! bundle vectors of spiffe-core (`tests/data/bundle/expectations.json`).

mod common;

use common::{answer, data, run, run_stdin, stderr, stdout, vectors};
use serde_json::Value;

#[test]
fn inspect_matches_every_expectation() {
    let expectations = vectors("bundle/expectations.json");
    let expectations = expectations.as_array().expect("array");
    assert!(expectations.len() >= 25);
    for e in expectations {
        let file = e["file"].as_str().expect("file");
        let path = data(&format!("bundle/{file}"));
        let mut args = vec!["--output", "json", "bundle", "inspect"];
        if e["kind"] == "map" {
            args.push("--map");
        }
        args.push(&path);
        let out = run(&args);
        let a = answer(&out);
        if e["verdict"] == "accept" {
            assert_eq!(out.status.code(), Some(0), "{file}: {a}");
            assert_eq!(a["valid"], true, "{file}");
            assert_eq!(a["x509_authorities"], e["x509"], "{file}: {a}");
            assert_eq!(a["jwt_authorities"], e["jwt"], "{file}: {a}");
            if e["kind"] == "map" {
                assert_eq!(a["format"], "bundle-map", "{file}");
                assert_eq!(a["trust_domains"], e["trust_domains"], "{file}");
            } else {
                assert_eq!(a["format"], "spiffe-bundle", "{file}");
                assert_eq!(a["skipped_keys"], e["skipped"], "{file}: {a}");
                let skipped = a
                    .get("diagnostics")
                    .and_then(Value::as_array)
                    .map(|d| d.iter().filter(|d| d["skipped"] == true).count())
                    .unwrap_or(0);
                assert_eq!(Some(skipped as u64), e["skipped"].as_u64(), "{file}");
                // refresh_hint and sequence are always present, null when absent.
                assert!(a.get("refresh_hint").is_some() && a.get("sequence").is_some());
                for member in ["sequence", "refresh_hint"] {
                    if let Some(expected) = e.get(member) {
                        assert_eq!(&a[member], expected, "{file}: {member}");
                    }
                }
            }
        } else {
            assert_eq!(out.status.code(), Some(1), "{file}: {a}");
            assert_eq!(a["valid"], false, "{file}");
            assert_eq!(a["code"], e["error"], "{file}: {a}");
            assert!(!a["error"].as_str().expect("error").is_empty());
        }
    }
}

#[test]
fn inspect_diagnostics_name_reason_and_requirement() {
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        &data("bundle/069-x509-x5c-base64url.json"),
    ]);
    let a = answer(&out);
    assert_eq!(
        a["diagnostics"],
        serde_json::json!([{
            "index": 0,
            "issue": "`x5c[0]` is not standard base64",
            "code": "X5cNotStandardBase64",
            "requirement": "X509-28",
            "skipped": true,
        }])
    );
    // A used-but-noted entry is listed without counting as skipped.
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        &data("bundle/066-x509-kid.json"),
    ]);
    let a = answer(&out);
    assert_eq!(a["skipped_keys"], 0);
    assert_eq!(a["diagnostics"][0]["code"], "KidOnX509Ignored");
    assert_eq!(a["diagnostics"][0]["skipped"], false);
}

#[test]
fn inspect_other_formats_and_trust_domain() {
    // PEM certificates; the trust domain derived from the CA's URI SAN.
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        &data("bundle/ca-p256.pem"),
    ]);
    let a = answer(&out);
    assert_eq!(a["format"], "certificates");
    assert_eq!(a["trust_domain"], "example.com");
    assert_eq!(a["x509_authorities"], 1);
    // A plain JWKS; no X.509 authority to derive a trust domain from: null.
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        &data("jwt/td.jwks.json"),
    ]);
    let a = answer(&out);
    assert_eq!(a["format"], "jwks");
    assert_eq!(a["trust_domain"], Value::Null);
    assert_eq!(a["jwt_authorities"], 4);
    // --trust-domain wins.
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        "--trust-domain",
        "other.org",
        &data("bundle/full.json"),
    ]);
    let a = answer(&out);
    assert_eq!(a["trust_domain"], "other.org");
    assert_eq!(a["refresh_hint"], 300);
    assert_eq!(a["sequence"], 12);
    // A bad --trust-domain is a usage error.
    let out = run(&[
        "bundle",
        "inspect",
        "--trust-domain",
        "Bad",
        &data("bundle/full.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn inspect_human_output() {
    let path = data("bundle/full.json");
    let out = run(&["bundle", "inspect", &path]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let first = text.lines().next().expect("line");
    assert_eq!(
        first,
        format!(
            "VALID {path}: spiffe-bundle (trust domain example.com), 3 X.509 and 3 JWT \
             authorities, refresh hint 300 s, sequence 12"
        )
    );
    assert!(
        text.contains("\n  JWT authority kid ec256 (EC P-256)\n"),
        "{text}"
    );
    assert!(
        text.contains("X.509 authority CN=example.com p256 root"),
        "{text}"
    );

    let path = data("bundle/103-jwk-without-use.json");
    let text = stdout(&run(&["bundle", "inspect", &path]));
    assert!(
        text.contains("\n  keys[0] skipped: no `use` member (BUNDLE-13)"),
        "{text}"
    );

    let path = data("bundle/102-no-keys.json");
    let out = run(&["bundle", "inspect", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!("INVALID {path}: `keys` is missing (BUNDLE-7)\n")
    );
}

#[test]
fn inspect_refuses_private_keys_without_printing_them() {
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "inspect",
        &data("x509/36-key.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let a = answer(&out);
    assert_eq!(a["code"], "PemPrivateKey");
    assert!(!stdout(&out).contains("BEGIN"));
    let out = run(&["bundle", "inspect", "/nonexistent/bundle.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/bundle.json"));
}

#[test]
fn convert_pem_to_json_and_back() {
    let pem_path = data("bundle/ca-p256.pem");
    let out = run(&[
        "bundle",
        "convert",
        "--trust-domain",
        "example.com",
        "--sequence",
        "7",
        "--refresh-hint",
        "60",
        &pem_path,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("bundle JSON");
    assert_eq!(json["spiffe_sequence"], 7);
    assert_eq!(json["spiffe_refresh_hint"], 60);
    let keys = json["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["use"], "x509-svid");

    // Back to PEM through stdin: the same certificate.
    let out = run_stdin(
        &["bundle", "convert", "--trust-domain", "example.com", "-"],
        &out.stdout,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let original = std::fs::read_to_string(&pem_path).expect("pem");
    let strip = |s: &str| -> String { s.split_whitespace().collect() };
    let written = stdout(&out);
    assert!(written.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(strip(&original).contains(&strip(&written)), "{written}");
}

#[test]
fn convert_to_file_prints_an_answer() {
    let dir = std::env::temp_dir().join(format!("spiffe-cli-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let target = dir.join("roots.pem");
    let target_str = target.to_string_lossy().into_owned();
    let out = run(&[
        "--output",
        "json",
        "bundle",
        "convert",
        "--trust-domain",
        "example.com",
        "--out",
        &target_str,
        &data("bundle/full.json"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let a = answer(&out);
    assert_eq!(a["valid"], true);
    assert_eq!(a["format"], "pem");
    assert_eq!(a["x509_authorities"], 3);
    // JWT authorities cannot be PEM: a warning says so.
    assert!(stderr(&out).contains("3 JWT authorities not written"));
    let pem = std::fs::read_to_string(&target).expect("written");
    assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 3);

    // --to json normalizes a JSON bundle; human answer.
    let json_target = dir.join("b.json");
    let json_str = json_target.to_string_lossy().into_owned();
    let out = run(&[
        "bundle",
        "convert",
        "--trust-domain",
        "example.com",
        "--to",
        "json",
        "--out",
        &json_str,
        &data("bundle/full.json"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("wrote {json_str} (SPIFFE bundle JSON")));
    let check = run(&["--output", "json", "bundle", "inspect", &json_str]);
    let a = answer(&check);
    assert_eq!(
        (a["x509_authorities"].clone(), a["jwt_authorities"].clone()),
        (3.into(), 3.into())
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn convert_errors() {
    // No --trust-domain: usage error.
    let out = run(&["bundle", "convert", &data("bundle/ca-p256.pem")]);
    assert_eq!(out.status.code(), Some(2));
    // A JWKS has no X.509 authority to write as PEM.
    let jwks = data("jwt/td.jwks.json");
    let out = run(&["bundle", "convert", "--trust-domain", "td", &jwks]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("td.jwks.json") && err.contains("no X.509 authorities"),
        "{err}"
    );
    // An invalid bundle: named, with the rule.
    let bad = data("bundle/112a-sequence-negative.json");
    let out = run(&["bundle", "convert", "--trust-domain", "example.com", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("112a-sequence-negative.json") && err.contains("BUNDLE-5"),
        "{err}"
    );
    // --sequence only makes sense for JSON output.
    let out = run(&[
        "bundle",
        "convert",
        "--trust-domain",
        "example.com",
        "--to",
        "pem",
        "--sequence",
        "1",
        &data("bundle/ca-p256.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn help_has_examples() {
    for sub in ["inspect", "convert"] {
        let out = run(&["bundle", sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.contains("Examples:") && text.contains(&format!("spiffe bundle {sub}")));
    }
}
