//! `spiffe x509 inspect` and `spiffe x509 verify`, run as a built binary against the X.509
//! vectors of spiffe-core (`tests/data/x509/vectors.json`).

mod common;

use common::{answer, data, rfc3339, run, run_stdin, stderr, stdout, vectors};
use serde_json::Value;

/// The `--bundle` flags of a vector (a trust domain may have several files).
fn bundle_flags(vector: &Value) -> Vec<String> {
    let mut flags = Vec::new();
    for (td, files) in vector["bundles"].as_object().expect("bundles object") {
        let files: Vec<&str> = match files {
            Value::String(f) => vec![f.as_str()],
            Value::Array(fs) => fs.iter().map(|f| f.as_str().expect("file")).collect(),
            other => panic!("bundles entry {other}"),
        };
        for file in files {
            flags.push("--bundle".into());
            flags.push(format!("{td}={}", data(&format!("x509/{file}"))));
        }
    }
    flags
}

fn all_vectors() -> Vec<Value> {
    vectors("x509/vectors.json")["vectors"]
        .as_array()
        .expect("vectors array")
        .clone()
}

#[test]
fn verify_matches_every_vector() {
    let mut checked = 0;
    for v in all_vectors() {
        let expected = v["verify"].as_str().expect("verify");
        if expected == "skip" {
            continue;
        }
        let id = v["id"].as_str().expect("id");
        let at = rfc3339(v["time"].as_u64().expect("time"));
        let mut args = vec![
            "--output".to_owned(),
            "json".into(),
            "x509".into(),
            "verify".into(),
        ];
        args.extend(bundle_flags(&v));
        args.extend(["--at".into(), at.into()]);
        args.push(data(&format!(
            "x509/{}",
            v["chain"].as_str().expect("chain")
        )));
        let out = run(&args);
        let a = answer(&out);
        assert_eq!(a["at"], at, "vector {id}");
        if expected == "accept" {
            assert_eq!(out.status.code(), Some(0), "vector {id}: {a}");
            assert_eq!(a["valid"], true, "vector {id}");
            assert!(a["spiffe_id"]
                .as_str()
                .expect("id")
                .starts_with("spiffe://"));
            assert!(a.get("error").is_none(), "vector {id}");
            assert!(
                a["path"].as_array().expect("path").len() >= 2,
                "vector {id}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "vector {id}: {a}");
            assert_eq!(a["valid"], false, "vector {id}");
            assert_eq!(a["code"], expected, "vector {id}: {a}");
            assert!(!a["error"].as_str().expect("error").is_empty());
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} vectors checked");
}

#[test]
fn verify_reports_spiffe_id_of_rejected_leaf_and_names_the_rule() {
    let out = run(&[
        "--output",
        "json",
        "x509",
        "verify",
        "--bundle",
        &format!("td={}", data("x509/root-td.pem")),
        "--at",
        "2027-01-15T08:00:00Z",
        &data("x509/44-chain.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let a = answer(&out);
    assert_eq!(a["spiffe_id"], "spiffe://td/w");
    assert_eq!(a["code"], "LeafIsCa");
    assert!(a["error"].as_str().expect("error").contains("X509-21"));
}

#[test]
fn verify_human_output_and_rotation_bundles_merge() {
    let chain = data("x509/rotation-chain.pem");
    let old = format!("td={}", data("x509/root-rotation-old.pem"));
    let new = format!("td={}", data("x509/root-rotation-new.pem"));
    let at = "2027-01-15T08:00:00Z";
    let both = run(&[
        "x509", "verify", "--bundle", &old, "--bundle", &new, "--at", at, &chain,
    ]);
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    let text = stdout(&both);
    assert!(
        text.starts_with(&format!("VALID {chain}: spiffe://td/w (verified at {at})")),
        "{text}"
    );
    assert!(text.contains("\n  0: CN=workload"), "{text}");
    let old_only = run(&["x509", "verify", "--bundle", &old, "--at", at, &chain]);
    assert_eq!(old_only.status.code(), Some(1));
    assert!(stdout(&old_only).starts_with(&format!("INVALID {chain}: spiffe://td/w: ")));
}

#[test]
fn verify_accepts_spiffe_bundle_json_and_stdin_chain() {
    // full.json holds example.com roots, not the td root: the issuer is unknown.
    let out = run_stdin(
        &[
            "--output",
            "json",
            "x509",
            "verify",
            "--bundle",
            &format!("td={}", data("bundle/full.json")),
            "--at",
            "2027-01-15T08:00:00Z",
            "-",
        ],
        &std::fs::read(data("x509/36-chain.pem")).expect("chain"),
    );
    let a = answer(&out);
    assert_eq!(a["file"], "-");
    assert_eq!(a["code"], "UnknownIssuer");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn verify_default_time_is_now() {
    // The vectors' leaf is valid from 2025 to 2035; "now" is in that window for years.
    let out = run(&[
        "--output",
        "json",
        "x509",
        "verify",
        "--bundle",
        &format!("td={}", data("x509/root-td.pem")),
        &data("x509/36-chain.pem"),
    ]);
    let a = answer(&out);
    assert_eq!(a["valid"], true, "{a}");
    assert!(a["at"].as_str().expect("at").ends_with('Z'));
}

#[test]
fn verify_usage_and_input_errors() {
    let chain = data("x509/36-chain.pem");
    // No --bundle, a bad --bundle, a bad --at: usage errors, exit 2.
    for args in [
        vec!["x509", "verify", chain.as_str()],
        vec!["x509", "verify", "--bundle", "td", chain.as_str()],
        vec!["x509", "verify", "--bundle", "TD=x.pem", chain.as_str()],
        vec![
            "x509",
            "verify",
            "--bundle",
            "td=x.pem",
            "--at",
            "2027-01-15",
            chain.as_str(),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // A missing bundle file: exit 1, the file named on stderr.
    let out = run(&[
        "x509",
        "verify",
        "--bundle",
        "td=/nonexistent/b.pem",
        &chain,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/b.pem"),
        "{}",
        stderr(&out)
    );
    // A bundle file that is a private key: refused, named, and the key is not printed.
    let key = data("x509/36-key.pem");
    let out = run(&["x509", "verify", "--bundle", &format!("td={key}"), &chain]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("36-key.pem") && err.contains("private key"),
        "{err}"
    );
    assert!(!err.contains("BEGIN"), "{err}");
    // A chain that is not certificates: an invalid answer.
    let out = run(&[
        "--output",
        "json",
        "x509",
        "verify",
        "--bundle",
        &format!("td={}", data("x509/root-td.pem")),
        &data("jwt/td.jwks.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(answer(&out)["code"], "Malformed");
}

/// Whether the vector's key belongs to the first certificate of its chain (in #63 the leaf
/// is not first, so the key matches the second one).
fn key_matches_first(v: &Value) -> bool {
    v["svid"] != "KeyMismatch" && v["id"] != "63"
}

/// Whether `inspect` should call the vector valid: it parses, the first certificate has
/// exactly one URI SAN that is a SPIFFE ID, and the key matches it.
fn inspect_expected_valid(v: &Value) -> bool {
    let verify = v["verify"].as_str().expect("verify");
    !matches!(
        verify,
        "MultipleUriSans" | "MissingUriSan" | "InvalidSpiffeId" | "Malformed"
    ) && key_matches_first(v)
}

#[test]
fn inspect_matches_every_vector() {
    for v in all_vectors() {
        let id = v["id"].as_str().expect("id");
        let chain = data(&format!("x509/{}", v["chain"].as_str().expect("chain")));
        let key = data(&format!("x509/{}", v["key"].as_str().expect("key")));
        let out = run(&["--output", "json", "x509", "inspect", "--key", &key, &chain]);
        let a = answer(&out);
        let valid = inspect_expected_valid(&v);
        assert_eq!(a["valid"], valid, "vector {id}: {a}");
        assert_eq!(
            out.status.code(),
            Some(if valid { 0 } else { 1 }),
            "vector {id}"
        );
        if valid {
            assert!(a.get("error").is_none(), "vector {id}");
            assert!(!a["certificates"].as_array().expect("certs").is_empty());
            assert_eq!(a["spiffe_id"], a["certificates"][0]["spiffe_id"]);
        } else {
            assert!(
                !a["error"].as_str().expect("error").is_empty(),
                "vector {id}"
            );
        }
        if a["certificates"].as_array().expect("certs").is_empty() {
            assert!(a.get("key_matches").is_none(), "vector {id}"); // nothing to match
        } else {
            assert_eq!(a["key_matches"], key_matches_first(&v), "vector {id}");
        }
    }
}

#[test]
fn inspect_describes_every_certificate() {
    let out = run(&[
        "--output",
        "json",
        "x509",
        "inspect",
        &data("x509/43-chain.pem"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let a = answer(&out);
    assert!(a.get("key_matches").is_none());
    let leaf = &a["certificates"][0];
    assert_eq!(leaf["spiffe_id"], "spiffe://td/w");
    assert_eq!(leaf["is_ca"], false);
    assert_eq!(leaf["key_type"], "EC P-256");
    assert_eq!(leaf["signature_algorithm"], "ECDSA-SHA256");
    assert_eq!(leaf["key_usage"], serde_json::json!(["digitalSignature"]));
    assert_eq!(leaf["key_usage_critical"], true);
    assert_eq!(leaf["uri_sans"], serde_json::json!(["spiffe://td/w"]));
    assert!(!leaf["dns_sans"].as_array().expect("dns").is_empty());
    assert!(!leaf["ip_sans"].as_array().expect("ip").is_empty());
    assert_eq!(leaf["not_before"], "2025-01-01T00:00:00Z");
    assert_eq!(leaf["not_after"], "2035-01-01T00:00:00Z");
    assert_eq!(leaf["issuer"], "CN=td root,O=SPIFFE test");
    assert!(!leaf["serial"].as_str().expect("serial").is_empty());

    // An intermediate chain: the CA is described too.
    let out = run(&[
        "--output",
        "json",
        "x509",
        "inspect",
        &data("x509/36i-chain.pem"),
    ]);
    let a = answer(&out);
    let certs = a["certificates"].as_array().expect("certs");
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[1]["is_ca"], true);
    assert!(certs[1]["key_usage"]
        .as_array()
        .expect("ku")
        .contains(&Value::from("keyCertSign")));

    // RSA keys report their size.
    let out = run(&[
        "--output",
        "json",
        "x509",
        "inspect",
        &data("x509/alg-rsa-chain.pem"),
    ]);
    let key_type = answer(&out)["certificates"][0]["key_type"].clone();
    assert!(
        key_type.as_str().expect("kt").starts_with("RSA-"),
        "{key_type}"
    );
}

#[test]
fn inspect_human_output() {
    let chain = data("x509/36-chain.pem");
    let out = run(&["x509", "inspect", "--key", &data("x509/36-key.pem"), &chain]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("VALID {chain}: spiffe://td/w"));
    assert_eq!(lines[1], "certificate 0 (leaf):");
    assert!(
        text.contains("\n  SPIFFE ID:     spiffe://td/w\n"),
        "{text}"
    );
    assert!(text.contains("\n  validity:      2025-01-01T00:00:00Z to 2035-01-01T00:00:00Z\n"));
    assert!(
        text.contains("\n  URI SANs:      spiffe://td/w\n"),
        "{text}"
    );
    assert_eq!(lines.last(), Some(&"private key: matches the leaf"));
    // The key material is never printed.
    assert!(!text.contains("PRIVATE KEY"));

    let out = run(&[
        "x509",
        "inspect",
        "--key",
        &data("x509/65-key.pem"),
        &data("x509/65-chain.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("INVALID "), "{text}");
    assert!(text.contains("65-key.pem"), "{text}");
    assert!(
        text.ends_with("private key: does NOT match the leaf\n"),
        "{text}"
    );
}

#[test]
fn inspect_key_in_der_and_bad_inputs() {
    let chain = data("x509/64-chain.pem");
    let der = data("x509/64-key.pkcs8.der");
    let out = run(&["--output", "json", "x509", "inspect", "--key", &der, &chain]);
    assert_eq!(answer(&out)["key_matches"], true);
    assert_eq!(out.status.code(), Some(0));

    // Not a certificate file: an invalid answer naming what is wrong.
    let out = run(&[
        "--output",
        "json",
        "x509",
        "inspect",
        &data("jwt/td.jwks.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let a = answer(&out);
    assert_eq!(a["valid"], false);
    assert!(a["certificates"].as_array().expect("certs").is_empty());
    // A missing file: exit 1, named on stderr, nothing on stdout.
    let out = run(&["x509", "inspect", "/nonexistent/chain.pem"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("/nonexistent/chain.pem"));
    // A key file that is not a key.
    let out = run(&[
        "--output", "json", "x509", "inspect", "--key", &chain, &chain,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let a = answer(&out);
    assert_eq!(a["key_matches"], false);
    assert!(a["error"].as_str().expect("error").contains("64-chain.pem"));
}

#[test]
fn help_has_examples() {
    for cmd in [["x509", "inspect"], ["x509", "verify"]] {
        let out = run(&[cmd[0], cmd[1], "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.contains("Examples:"), "{text}");
        assert!(
            text.contains(&format!("spiffe {} {}", cmd[0], cmd[1])),
            "{text}"
        );
    }
}

/// Case 48 (no digitalSignature): refused with the requirement id, accepted with the named
/// go-spiffe `Verify` leniency.
#[test]
fn verify_names_x509_17_and_has_a_named_lenient_flag() {
    let v = all_vectors()
        .into_iter()
        .find(|v| v["id"] == "48")
        .expect("vector 48");
    let at = rfc3339(v["time"].as_u64().expect("time"));
    let chain = data(&format!("x509/{}", v["chain"].as_str().expect("chain")));
    let mut args = vec!["x509".to_owned(), "verify".into()];
    args.extend(bundle_flags(&v));
    args.extend(["--at".into(), at.to_owned(), chain]);

    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("INVALID"), "{text}");
    assert!(text.contains("lacks digitalSignature (X509-17)"), "{text}");

    args.push("--allow-leaf-without-digital-signature".into());
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("VALID"), "{}", stdout(&out));
}
