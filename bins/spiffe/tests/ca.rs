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

/// `x509 mint` replaces an existing key file (its old 0644 mode does not survive) and a
/// symlink at the key path (the file it points to is untouched).
#[test]
fn mint_replaces_an_old_key_file_and_never_follows_a_symlink() {
    use std::os::unix::fs::symlink;

    let dir = scratch("key-file");
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
    let mode =
        |p: &std::path::Path| fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o777;

    // A world-readable key left by something else.
    let out = dir.join("old");
    fs::create_dir_all(&out).expect("mkdir");
    fs::write(out.join("svid.key"), b"old key").expect("write");
    fs::set_permissions(out.join("svid.key"), fs::Permissions::from_mode(0o644)).expect("chmod");
    mint_x509(&ca, &out);
    let key = fs::read_to_string(out.join("svid.key")).expect("key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    assert_eq!(mode(&out.join("svid.key")), 0o600);
    let inspect = run(&[
        "x509",
        "inspect",
        "--key",
        &s(&out.join("svid.key")),
        &s(&out.join("svid.pem")),
    ]);
    assert!(inspect.status.success(), "{}", stdout(&inspect));

    // A symlink planted at the key path, pointing at a file someone wants overwritten (or
    // readable later).
    let out = dir.join("link");
    fs::create_dir_all(&out).expect("mkdir");
    let victim = dir.join("victim");
    fs::write(&victim, b"precious").expect("write");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).expect("chmod");
    symlink(&victim, out.join("svid.key")).expect("symlink");
    mint_x509(&ca, &out);
    assert_eq!(fs::read(&victim).expect("victim"), b"precious");
    assert_eq!(mode(&victim), 0o644);
    let meta = fs::symlink_metadata(out.join("svid.key")).expect("stat");
    assert!(meta.file_type().is_file(), "the symlink was replaced");
    assert_eq!(mode(&out.join("svid.key")), 0o600);
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

/// The bundle file's authorities with `use` equal to `usage` (`x509-svid` or `jwt-svid`).
fn bundle_count(bundle: &std::path::Path, usage: &str) -> usize {
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle).expect("bundle.json")).expect("json");
    json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["use"] == usage)
        .count()
}

/// Runs `spiffe --output json ca ARGS…`, which must succeed, and returns its answer.
fn ca_ok(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--output", "json", "ca"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    answer(&out)
}

fn mint_x509(ca: &std::path::Path, out: &std::path::Path) {
    let minted = run(&[
        "x509",
        "mint",
        "--ca",
        &s(ca),
        "--id",
        "spiffe://example.org/web",
        "--out",
        &s(out),
    ]);
    assert!(minted.status.success(), "{}", stderr(&minted));
}

fn verifies(trust: &str, svid: &std::path::Path) -> bool {
    run(&["x509", "verify", "--bundle", trust, &s(svid)])
        .status
        .success()
}

#[test]
fn local_authority_cycle_prepare_activate_taint_revoke() {
    let dir = scratch("cycle");
    let ca = dir.join("ca");
    let bundle = ca.join("bundle.json");
    let trust = format!("example.org={}", s(&bundle));
    ca_ok(&["init", "--trust-domain", "example.org", "--dir", &s(&ca)]);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 1);

    let shown = ca_ok(&["show", "--dir", &s(&ca)]);
    assert_eq!(shown["trust_domain"], "example.org");
    let x509 = shown["x509"].as_array().expect("x509");
    assert_eq!(x509.len(), 1);
    assert_eq!(x509[0]["status"], "active");
    assert_eq!(x509[0]["tainted"], false);
    assert!(x509[0]["not_after"]
        .as_str()
        .expect("not_after")
        .ends_with('Z'));
    assert_eq!(shown["jwt"].as_array().expect("jwt").len(), 1);
    let first = x509[0]["id"].as_str().expect("id").to_owned();

    // An SVID of the first authority.
    let old_svid = dir.join("old");
    mint_x509(&ca, &old_svid);

    // Activating with nothing prepared is refused.
    let out = run(&["ca", "activate", "--dir", &s(&ca)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no prepared"), "{}", stderr(&out));

    let prepared = ca_ok(&["prepare", "--dir", &s(&ca)]);
    assert_eq!(prepared["authority"]["status"], "prepared");
    assert_eq!(prepared["bundle_changed"], true);
    let second = prepared["authority"]["id"].as_str().expect("id").to_owned();
    assert_ne!(second, first);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 2);

    let activated = ca_ok(&["activate", "--dir", &s(&ca)]);
    assert_eq!(activated["authority"]["id"], second.as_str());
    assert_eq!(activated["authority"]["status"], "active");
    assert_eq!(activated["bundle_changed"], false);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 2);
    let shown = ca_ok(&["show", "--dir", &s(&ca)]);
    let statuses: Vec<_> = shown["x509"]
        .as_array()
        .expect("x509")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().expect("id").to_owned(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (first.clone(), "old".into()),
            (second.clone(), "active".into())
        ]
    );

    // An SVID of the new authority; both verify while both are in the bundle.
    let new_svid = dir.join("new");
    mint_x509(&ca, &new_svid);
    assert!(verifies(&trust, &new_svid.join("svid.pem")));
    assert!(verifies(&trust, &old_svid.join("svid.pem")));

    // The active authority cannot be tainted; an unknown id is named.
    let out = run(&["ca", "taint", "--dir", &s(&ca), &second]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("to be old"), "{}", stderr(&out));
    let out = run(&["ca", "taint", "--dir", &s(&ca), "00ff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\"00ff\""), "{}", stderr(&out));
    // Revoking an authority that was not tainted is refused.
    let out = run(&["ca", "revoke", "--dir", &s(&ca), &first]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not tainted"), "{}", stderr(&out));

    let tainted = ca_ok(&["taint", "--dir", &s(&ca), &first]);
    assert_eq!(tainted["authority"]["tainted"], true);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 2);

    let revoked = ca_ok(&["revoke", "--dir", &s(&ca), &first]);
    assert_eq!(revoked["authority"]["id"], first.as_str());
    assert_eq!(revoked["bundle_changed"], true);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 1);
    // Only the new authority is trusted now.
    assert!(verifies(&trust, &new_svid.join("svid.pem")));
    assert!(!verifies(&trust, &old_svid.join("svid.pem")));
    let shown = ca_ok(&["show", "--dir", &s(&ca)]);
    assert_eq!(shown["x509"].as_array().expect("x509").len(), 1);
    // The JWT authority was left alone.
    assert_eq!(bundle_count(&bundle, "jwt-svid"), 1);
}

#[test]
fn local_authority_jwt_cycle_and_human_output() {
    let dir = scratch("jwt-cycle");
    let ca = dir.join("ca");
    let bundle = ca.join("bundle.json");
    ca_ok(&["init", "--trust-domain", "example.org", "--dir", &s(&ca)]);
    let shown = ca_ok(&["show", "--dir", &s(&ca)]);
    let first = shown["jwt"][0]["id"].as_str().expect("kid").to_owned();

    let prepared = ca_ok(&["prepare", "--dir", &s(&ca), "--jwt"]);
    assert_eq!(prepared["kind"], "jwt");
    let second = prepared["authority"]["id"]
        .as_str()
        .expect("kid")
        .to_owned();
    assert_eq!(bundle_count(&bundle, "jwt-svid"), 2);
    ca_ok(&["activate", "--dir", &s(&ca), "--jwt"]);

    let out = run(&["ca", "show", "--dir", &s(&ca)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let human = stdout(&out);
    assert!(human.contains("JWT authorities:"), "{human}");
    assert!(human.contains(&format!("{first} old")), "{human}");
    assert!(human.contains(&format!("{second} active")), "{human}");

    ca_ok(&["taint", "--dir", &s(&ca), "--jwt", &first]);
    let out = run(&["ca", "show", "--dir", &s(&ca)]);
    assert!(
        stdout(&out).contains(&format!("{first} old tainted")),
        "{}",
        stdout(&out)
    );
    ca_ok(&["revoke", "--dir", &s(&ca), "--jwt", &first]);
    assert_eq!(bundle_count(&bundle, "jwt-svid"), 1);
    assert_eq!(bundle_count(&bundle, "x509-svid"), 1);

    // A token minted now validates against the rewritten bundle.
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
    let trust = format!("example.org={}", s(&bundle));
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
}

#[test]
fn jwt_algorithm_is_chosen_at_init_and_kept() {
    let dir = scratch("jwt-alg");
    let ca = dir.join("ca");
    ca_ok(&[
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ca),
        "--key-type",
        "rsa-2048",
        "--ttl",
        "2h",
        "--jwt-alg",
        "PS256",
    ]);
    // Each mint reopens the CA from its directory: the algorithm must survive that.
    for _ in 0..2 {
        let out = run(&[
            "jwt",
            "mint",
            "--ca",
            &s(&ca),
            "--id",
            "spiffe://example.org/w",
            "--audience",
            "db",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let token = stdout(&out).trim().to_owned();
        let inspected = answer(&run(&["--output", "json", "jwt", "inspect", &token]));
        assert_eq!(inspected["header"]["alg"], "PS256");
        let trust = format!("example.org={}", s(&ca.join("bundle.json")));
        let validated = run(&[
            "jwt",
            "validate",
            "--bundle",
            &trust,
            "--audience",
            "db",
            &token,
        ]);
        assert!(validated.status.success(), "{}", stdout(&validated));
    }

    // An algorithm that does not fit the key type is refused, and no CA is left behind.
    let ec = dir.join("ec");
    let out = run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ec),
        "--jwt-alg",
        "PS256",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!ec.join("ca.json").exists());
    // A MAC or unknown algorithm is a usage error.
    let out = run(&[
        "ca",
        "init",
        "--trust-domain",
        "example.org",
        "--dir",
        &s(&ec),
        "--jwt-alg",
        "HS256",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
