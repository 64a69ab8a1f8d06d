//! `spiffe ca init`, `spiffe x509 mint` and `spiffe jwt mint`, run as a built binary: what they
//! mint verifies with `spiffe x509 verify` and `spiffe jwt validate` against `bundle.json`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{answer, run, stderr, stdout};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-ca-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn s(path: &std::path::Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn init_mint_and_verify() {
    let dir = scratch("flow");
    let ca = dir.join("ca");
    let out = run(&[
        "--output",
        "json",
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ca),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let init = answer(&out);
    assert_eq!(init["trust_domain"], "example.org");
    let bundle = ca.join("bundle.json");
    let bundle_json: serde_json::Value =
        serde_json::from_slice(&fs::read(&bundle).expect("bundle.json")).expect("json");
    assert_eq!(bundle_json["keys"].as_array().expect("keys").len(), 2);

    let web = dir.join("web");
    let out = run(&[
        "x509",
        "mint",
        "--ca",
        &s(&ca),
        "--id",
        "spiffe://example.org/web",
        "--dns",
        "web.example.org",
        "--out",
        &s(&web),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key_mode = fs::metadata(web.join("svid.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    assert!(fs::read_to_string(web.join("bundle.pem"))
        .expect("bundle.pem")
        .contains("BEGIN CERTIFICATE"));

    let trust = format!("example.org={}", s(&bundle));
    let out = run(&[
        "--output",
        "json",
        "x509",
        "verify",
        "--bundle",
        &trust,
        &s(&web.join("svid.pem")),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(answer(&out)["spiffe_id"], "spiffe://example.org/web");
    // The minted key belongs to the certificate.
    let out = run(&[
        "x509",
        "inspect",
        "--key",
        &s(&web.join("svid.key")),
        &s(&web.join("svid.pem")),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));

    let out = run(&[
        "jwt",
        "mint",
        "--ca",
        &s(&ca),
        "--id",
        "spiffe://example.org/web",
        "--audience",
        "api",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    let out = run(&[
        "jwt",
        "validate",
        "--bundle",
        &trust,
        "--audience",
        "api",
        &token,
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    let out = run(&[
        "jwt",
        "validate",
        "--bundle",
        &trust,
        "--audience",
        "other",
        &token,
    ]);
    assert!(!out.status.success());
}

#[test]
fn mint_from_a_csr_writes_no_key() {
    let dir = scratch("csr");
    let ca = dir.join("ca");
    assert!(run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ca)
    ])
    .status
    .success());
    let key = dir.join("w.key");
    let csr = dir.join("w.csr");
    let openssl = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-subj", "/CN=w", "-keyout", &s(&key), "-out", &s(&csr)])
        .output()
        .expect("openssl");
    assert!(openssl.status.success());
    let out_dir = dir.join("out");
    let out = run(&[
        "x509",
        "mint",
        "--ca",
        &s(&ca),
        "--id",
        "spiffe://example.org/w",
        "--csr",
        &s(&csr),
        "--out",
        &s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!out_dir.join("svid.key").exists());
    let out = run(&[
        "x509",
        "inspect",
        "--key",
        &s(&key),
        &s(&out_dir.join("svid.pem")),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn errors_are_clear() {
    let dir = scratch("errors");
    let ca = dir.join("ca");
    assert!(run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ca)
    ])
    .status
    .success());

    let out = run(&[
        "x509",
        "mint",
        "--ca",
        &s(&ca),
        "--id",
        "spiffe://other.org/web",
        "--out",
        &s(&dir.join("o")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("trust domain other.org"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "jwt",
        "mint",
        "--ca",
        &s(&dir.join("missing")),
        "--id",
        "spiffe://example.org/w",
        "--audience",
        "a",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a CA directory"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ca),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already holds a CA"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&dir.join("z")),
        "--ttl",
        "0h",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
