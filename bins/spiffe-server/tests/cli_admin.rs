//! The admin verbs of `spiffe-server` as processes against a running server process: SPIRE's
//! output lines, error texts and exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spiffe-server"))
}

/// Runs `spiffe-server <args> -socketPath <socket>`-style command lines: (code, stdout, stderr).
/// `args[0..n]` are the verb words; the socket flag is inserted after them.
fn cli(socket: &Path, verb: &[&str], flags: &[&str]) -> (i32, String, String) {
    cli_stdin(socket, verb, flags, None)
}

fn cli_stdin(
    socket: &Path,
    verb: &[&str],
    flags: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut command = Command::new(bin());
    command
        .args(verb)
        .arg("-socketPath")
        .arg(socket)
        .args(flags)
        .env_remove("SPIRE_SERVER_PRIVATE_SOCKET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run spiffe-server");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = wait_bounded(child);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits at most 30 s for the command.
fn wait_bounded(child: std::process::Child) -> std::process::Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("the CLI did not finish in 30 s");
        }
    }
}

fn start(dir: &Path) -> (ServerProcess, PathBuf) {
    let config = ServerConfigFile::new(dir);
    let server = ServerProcess::start(&bin(), &config).expect("start server");
    let socket = config.socket_path.clone();
    (server, socket)
}

/// The value after `Entry ID                : ` in SPIRE's entry layout.
fn entry_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Entry ID                : "))
        .expect("an Entry ID line")
        .to_owned()
}

#[test]
fn entry_verbs_print_spires_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());

    // create: SPIRE's layout, then a blank line.
    let (code, out, err) = cli(
        &socket,
        &["entry", "create"],
        &[
            "-parentID",
            "spiffe://example.org/agent",
            "-spiffeID",
            "spiffe://example.org/workload",
            "-selector",
            "unix:uid:1000",
            "-selector",
            "unix:gid:1000",
            "-x509SVIDTTL",
            "200",
            "-dns",
            "w.example.org",
            "-admin",
            "-hint",
            "ext",
            "-entryExpiry",
            "1552410266",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let id = entry_id(&out);
    // The revision the datastore gives and the order it returns selectors in are the
    // server's; the layout around them is the CLI's.
    let revision = out
        .lines()
        .find_map(|l| l.strip_prefix("Revision                : "))
        .expect("a Revision line")
        .to_owned();
    let mut selectors: Vec<&str> = out.lines().filter(|l| l.starts_with("Selector ")).collect();
    selectors.sort_unstable();
    assert_eq!(
        selectors,
        [
            "Selector                : unix:gid:1000",
            "Selector                : unix:uid:1000"
        ]
    );
    let first = out.find("Selector ").expect("selector");
    let rest = &out[first..];
    let after = &rest[rest.find("DNS name").expect("dns")..];
    assert_eq!(
        format!("{}{after}", &out[..first]),
        format!(
            "Entry ID                : {id}\n\
             SPIFFE ID               : spiffe://example.org/workload\n\
             Parent ID               : spiffe://example.org/agent\n\
             Revision                : {revision}\n\
             X509-SVID TTL           : 200\n\
             JWT-SVID TTL            : default\n\
             Expiration time         : 2019-03-12 17:04:26 +0000 UTC\n\
             DNS name                : w.example.org\n\
             Admin                   : true\n\
             Hint                    : ext\n\n"
        )
    );

    // A second, node entry: the parent is the server's ID.
    let (code, out, _) = cli(
        &socket,
        &["entry", "create"],
        &[
            "-node",
            "-spiffeID",
            "spiffe://example.org/nodes",
            "-selector",
            "join_token:abc",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Parent ID               : spiffe://example.org/spire/server\n"),
        "{out}"
    );

    // The same entry again: the failure goes to stderr, exit 1.
    let (code, out, err) = cli(
        &socket,
        &["entry", "create"],
        &[
            "-node",
            "-spiffeID",
            "spiffe://example.org/nodes",
            "-selector",
            "join_token:abc",
        ],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("Failed to create the following entry (code: AlreadyExists, msg: \"similar entry already exists\"):\nEntry ID                : (none)\n"),
        "{err}"
    );
    assert!(
        err.ends_with("\nError: failed to create one or more entries\n"),
        "{err}"
    );

    // count, show (sorted by SPIFFE ID), show by ID, filters.
    assert_eq!(
        cli(&socket, &["entry", "count"], &[]),
        (0, "2 registration entries\n".into(), String::new())
    );
    assert_eq!(
        cli(
            &socket,
            &["entry", "count"],
            &["-spiffeID", "spiffe://example.org/workload"]
        ),
        (0, "1 registration entry\n".into(), String::new())
    );
    let (code, out, _) = cli(&socket, &["entry", "show"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Found 2 entries\nEntry ID"), "{out}");
    let nodes = out.find("spiffe://example.org/nodes").expect("node entry");
    let workload = out
        .find("SPIFFE ID               : spiffe://example.org/workload")
        .expect("workload entry");
    assert!(nodes < workload, "sorted by SPIFFE ID: {out}");
    let (code, out, _) = cli(&socket, &["entry", "show"], &["-entryID", &id]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("Found 1 entry\nEntry ID                : {id}\n")),
        "{out}"
    );
    // Selectors are printed sorted by `show`.
    assert!(
        out.contains(
            "Selector                : unix:gid:1000\nSelector                : unix:uid:1000\n"
        ),
        "{out}"
    );
    let (code, out, _) = cli(&socket, &["entry", "show"], &["-selector", "unix:uid:1000"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Found 1 entry\n"), "{out}");
    assert_eq!(
        cli(&socket, &["entry", "show"], &["-entryID", "nope"]),
        (1, String::new(), "Error: error fetching entry ID nope: rpc error: code = NotFound desc = entry not found\n".into())
    );

    // JSON: protojson with proto names, unpopulated fields, int64 as strings.
    let (code, out, _) = cli(&socket, &["entry", "count"], &["-output", "json"]);
    assert_eq!((code, out.as_str()), (0, "{\"count\":2}\n"));
    let (code, out, _) = cli(
        &socket,
        &["entry", "show"],
        &["-entryID", &id, "-output", "json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let e = &v["entries"][0];
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["spiffe_id"]["path"], "/workload");
    assert_eq!(e["expires_at"], "1552410266");
    assert_eq!(e["x509_svid_ttl"], 200);
    assert_eq!(e["federates_with"], serde_json::json!([]));
    assert_eq!(e["store_svid"], false);
    assert_eq!(v["next_page_token"], "");

    // update: every field is replaced.
    let (code, out, err) = cli(
        &socket,
        &["entry", "update"],
        &[
            "-entryID",
            &id,
            "-parentID",
            "spiffe://example.org/agent",
            "-spiffeID",
            "spiffe://example.org/workload2",
            "-selector",
            "unix:uid:1001",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.contains("SPIFFE ID               : spiffe://example.org/workload2\n"),
        "{out}"
    );
    assert!(
        !out.contains(&format!("Revision                : {revision}\n")),
        "the revision moves: {out}"
    );
    assert!(!out.contains("Admin"), "{out}");

    // delete
    assert_eq!(
        cli(&socket, &["entry", "delete"], &["-entryID", &id]),
        (
            0,
            format!("Deleted entry with ID: {id}\n\n\nDeleted 1 entries successfully"),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["entry", "delete"], &["-entryID", &id]),
        (
            1,
            "\n\nFailed to delete 1 entries".into(),
            format!("Failed to delete entry with ID {id} (code: NotFound, msg: \"entry not found\")\nError: failed to delete one or more entries\n")
        )
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn entry_data_files_and_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());

    let data = r#"{"entries": [
        {"selectors": [{"type": "unix", "value": "uid:1111"}], "spiffe_id": "spiffe://example.org/Blog",
         "parent_id": "spiffe://example.org/spire/agent/join_token/TokenBlog", "x509_svid_ttl": 200, "jwt_svid_ttl": 30, "admin": true},
        {"selectors": [{"type": "unix", "value": "uid:1111"}], "spiffe_id": "spiffe://example.org/Database",
         "parent_id": "spiffe://example.org/spire/agent/join_token/TokenDatabase", "dns_names": ["db1"], "store_svid": true}
    ]}"#;
    let path = dir.path().join("entries.json");
    std::fs::write(&path, data).expect("write data");
    let (code, out, err) = cli(
        &socket,
        &["entry", "create"],
        &["-data", path.to_str().expect("utf-8")],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out.matches("Entry ID                : ").count(),
        2,
        "{out}"
    );
    assert!(out.contains("JWT-SVID TTL            : 30\n"), "{out}");
    assert!(out.contains("StoreSvid               : true\n"), "{out}");

    // From stdin, with -output json: a failed result carries the entry that was sent.
    let (code, out, _) = cli_stdin(
        &socket,
        &["entry", "create"],
        &["-data", "-", "-output", "json"],
        Some(data),
    );
    assert_eq!(
        code, 0,
        "JSON output reports failures in the results, not the exit code"
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["results"][0]["status"]["code"], 6);
    assert_eq!(v["results"][0]["entry"]["spiffe_id"]["path"], "/Blog");

    // delete -file
    let (_, out, _) = cli(&socket, &["entry", "show"], &["-output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let ids: Vec<String> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    let del = dir.path().join("delete.json");
    std::fs::write(&del, serde_json::json!({ "ids": ids }).to_string()).expect("write");
    let (code, out, _) = cli(
        &socket,
        &["entry", "delete"],
        &["-file", del.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0);
    assert!(
        out.ends_with("\n\n\nDeleted 2 entries successfully"),
        "{out}"
    );

    // SPIRE's validation texts.
    let e = |flags: &[&str]| cli(&socket, &["entry", "create"], flags);
    assert_eq!(
        e(&[]),
        (
            1,
            String::new(),
            "Error: at least one selector is required\n".into()
        )
    );
    assert_eq!(
        e(&["-selector", "unix:uid:0"]),
        (
            1,
            String::new(),
            "Error: a parent ID is required if the node flag is not set\n".into()
        )
    );
    assert_eq!(
        e(&[
            "-selector",
            "unix:uid:0",
            "-node",
            "-federatesWith",
            "spiffe://x"
        ]),
        (
            1,
            String::new(),
            "Error: node entries can not federate\n".into()
        )
    );
    assert_eq!(
        e(&[
            "-selector",
            "unix:uid:0",
            "-parentID",
            "spiffe://example.org/a"
        ]),
        (1, String::new(), "Error: a SPIFFE ID is required\n".into())
    );
    assert_eq!(
        e(&[
            "-selector",
            "unix:uid:0",
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "spiffe://example.org/b",
            "-x509SVIDTTL",
            "-1"
        ]),
        (
            1,
            String::new(),
            "Error: a positive x509-SVID TTL is required\n".into()
        )
    );
    assert_eq!(
        e(&[
            "-selector",
            "unixuid",
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "spiffe://example.org/b"
        ]),
        (
            1,
            String::new(),
            "Error: selector \"unixuid\" must be formatted as type:value\n".into()
        )
    );
    assert_eq!(
        e(&[
            "-selector",
            "unix:uid:0",
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "http://example.org/b"
        ]),
        (
            1,
            String::new(),
            "Error: scheme is missing or invalid\n".into()
        )
    );
    assert_eq!(
        cli(&socket, &["entry", "update"], &[]),
        (1, String::new(), "Error: entry ID is required\n".into())
    );
    assert_eq!(
        cli(&socket, &["entry", "delete"], &[]),
        (1, String::new(), "Error: an entry ID is required\n".into())
    );
    assert_eq!(
        cli(
            &socket,
            &["entry", "show"],
            &["-entryID", "a", "-spiffeID", "spiffe://example.org/b"]
        ),
        (
            1,
            String::new(),
            "Error: the -entryID flag can't be combined with others\n".into()
        )
    );
    assert_eq!(
        cli(
            &socket,
            &["entry", "count"],
            &["-selector", "a:b", "-matchSelectorsOn", "most"]
        ),
        (
            1,
            String::new(),
            "Error: match behavior \"most\" unknown\n".into()
        )
    );
    let missing = dir.path().join("missing.json");
    assert_eq!(
        cli(
            &socket,
            &["entry", "create"],
            &["-data", missing.to_str().expect("utf-8")]
        ),
        (
            1,
            String::new(),
            format!(
                "Error: open {}: no such file or directory\n",
                missing.display()
            )
        )
    );
    std::fs::write(&path, r#"{"entries":[{"x509_svid_ttl":"5"}]}"#).expect("write");
    assert_eq!(
        cli(&socket, &["entry", "create"], &["-data", path.to_str().expect("utf-8")]),
        (1, String::new(), "Error: json: cannot unmarshal string into Go struct field RegistrationEntry.entries.x509_svid_ttl of type int32\n".into())
    );

    // Go's flag errors: the message, then the usage, exit 1.
    let (code, out, err) = cli(&socket, &["entry", "create"], &["-nope"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("flag provided but not defined: -nope\nUsage of entry create:\n"),
        "{err}"
    );
    assert!(
        err.contains(
            "  -output value\n    \tDesired output format (pretty, json); default: pretty.\n"
        ),
        "{err}"
    );
    let (code, _, err) = cli(&socket, &["entry", "count"], &["-output", "yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("invalid value \"yaml\" for flag -output: bad formatter flag: unknown format option: \"yaml\"\n"),
        "{err}"
    );
    let (code, _, err) = cli(&socket, &["entry", "create"], &["-x509SVIDTTL", "abc"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("invalid value \"abc\" for flag -x509SVIDTTL: parse error\n"),
        "{err}"
    );

    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn bundle_authority_and_svid_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());

    // bundle show: PEM by default, SPIFFE format indented by four spaces, JSON.
    let (code, pem, err) = cli(&socket, &["bundle", "show"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n")
            && pem.ends_with("-----END CERTIFICATE-----\n"),
        "{pem}"
    );
    let (code, doc, _) = cli(&socket, &["bundle", "show"], &["-format", "spiffe"]);
    assert_eq!(code, 0);
    assert!(doc.starts_with("{\n    \"keys\": [\n        {\n            \"use\": \"x509-svid\",\n            \"kty\": \"EC\",\n"), "{doc}");
    let (code, out, _) = cli(&socket, &["bundle", "show"], &["-output", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["trust_domain"], "example.org");
    assert!(v["x509_authorities"][0]["asn1"].is_string());
    assert_eq!(
        cli(&socket, &["bundle", "count"], &[]),
        (0, "1 bundle\n".into(), String::new())
    );

    // bundle set (PEM from a file, SPIFFE document from stdin), list, delete.
    let pem_path = dir.path().join("other.pem");
    std::fs::write(&pem_path, &pem).expect("write");
    assert_eq!(
        cli(
            &socket,
            &["bundle", "set"],
            &[
                "-id",
                "spiffe://other.org",
                "-path",
                pem_path.to_str().expect("utf-8")
            ]
        ),
        (0, "bundle set.\n".into(), String::new())
    );
    assert_eq!(
        cli_stdin(
            &socket,
            &["bundle", "set"],
            &["-id", "spiffe://third.org", "-format", "spiffe"],
            Some(&doc)
        ),
        (0, "bundle set.\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["bundle", "count"], &[]),
        (0, "3 bundles\n".into(), String::new())
    );
    let (code, out, _) = cli(&socket, &["bundle", "list"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!("****************************************\n* other.org\n****************************************\n{pem}\n****************************************\n* third.org\n****************************************\n{pem}")
    );
    assert_eq!(
        cli(&socket, &["bundle", "list"], &["-id", "spiffe://other.org"]),
        (0, pem.clone(), String::new())
    );
    assert_eq!(
        cli(
            &socket,
            &["bundle", "delete"],
            &["-id", "spiffe://other.org"]
        ),
        (0, "bundle deleted.\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["bundle", "set"], &[]),
        (1, String::new(), "Error: id flag is required\n".into())
    );
    assert_eq!(
        cli_stdin(
            &socket,
            &["bundle", "set"],
            &["-id", "spiffe://x.org"],
            Some("not pem")
        ),
        (
            1,
            String::new(),
            "Error: unable to parse bundle data: no PEM blocks\n".into()
        )
    );
    assert_eq!(
        cli(
            &socket,
            &["bundle", "set"],
            &["-id", "spiffe://x.org", "-path", "/not/a/real/path"]
        ),
        (
            1,
            String::new(),
            "Error: unable to load bundle data: open /not/a/real/path: no such file or directory\n"
                .into()
        )
    );
    assert_eq!(
        cli(&socket, &["bundle", "show"], &["-format", "der"]),
        (1, String::new(), "Error: invalid format: \"der\"\n".into())
    );
    assert_eq!(
        cli(
            &socket,
            &["bundle", "delete"],
            &["-id", "spiffe://third.org", "-mode", "x"]
        ),
        (1, String::new(), "Error: unsupported mode \"x\"\n".into())
    );

    // localauthority x509 show: the active authority, no prepared one.
    let (code, out, err) = cli(&socket, &["localauthority", "x509", "show"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with("Active X.509 authority:\n  Authority ID: "),
        "{out}"
    );
    assert!(out.contains("  Upstream authority ID: No upstream authority\n\nPrepared X.509 authority:\n  No prepared X.509 authority found\n\nOld X.509 authority:\n  No old X.509 authority found\n"), "{out}");
    let (code, out, _) = cli(&socket, &["localauthority", "jwt", "prepare"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Prepared JWT authority:\n  Authority ID: "),
        "{out}"
    );
    assert!(!out.contains("Upstream"), "{out}");
    assert_eq!(
        cli(&socket, &["localauthority", "x509", "activate"], &[]),
        (
            1,
            String::new(),
            "Error: an authority ID is required\n".into()
        )
    );
    assert_eq!(
        cli(&socket, &["upstreamauthority", "taint"], &[]),
        (
            1,
            String::new(),
            "Error: the Subject Key ID of the X.509 upstream authority is required\n".into()
        )
    );

    // x509 mint to stdout and to a directory; jwt mint.
    let (code, out, err) = cli(
        &socket,
        &["x509", "mint"],
        &[
            "-spiffeID",
            "spiffe://example.org/minted",
            "-dns",
            "m.example.org",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with("X509-SVID:\n-----BEGIN CERTIFICATE-----\n"),
        "{out}"
    );
    assert!(
        out.contains("\n\nPrivate key:\n-----BEGIN PRIVATE KEY-----\n"),
        "{out}"
    );
    assert!(out.ends_with(&format!("Root CAs:\n{pem}\n")), "{out}");
    let (code, out, _) = cli(
        &socket,
        &["x509", "mint"],
        &[
            "-spiffeID",
            "spiffe://example.org/minted",
            "-write",
            dir.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "X509-SVID written to {0}/svid.pem\nPrivate key written to {0}/key.pem\nRoot CAs written to {0}/bundle.pem\n",
            dir.path().display()
        )
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("key.pem"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let svid = std::fs::read(dir.path().join("svid.pem")).expect("svid");
    let certs = spiffe_core::x509::parse_certificates(&svid).expect("PEM");
    assert_eq!(
        certs[0].spiffe_id().ok().flatten().map(|i| i.to_string()),
        Some("spiffe://example.org/minted".into())
    );
    assert_eq!(
        cli(&socket, &["x509", "mint"], &[]),
        (
            1,
            String::new(),
            "Error: spiffeID must be specified\n".into()
        )
    );
    let (code, out, err) = cli(
        &socket,
        &["jwt", "mint"],
        &["-spiffeID", "spiffe://example.org/minted", "-audience", "a"],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(out.trim_end().split('.').count(), 3, "{out}");
    assert_eq!(
        cli(
            &socket,
            &["jwt", "mint"],
            &["-spiffeID", "spiffe://example.org/minted"]
        ),
        (
            1,
            String::new(),
            "Error: at least one audience must be specified\n".into()
        )
    );

    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn without_a_server_the_dial_error_names_the_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("none.sock");
    let (code, out, err) = cli(&socket, &["entry", "count"], &[]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!(
            "Error: rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix {}: connect: no such file or directory\"\n",
            socket.display()
        )
    );
}

#[test]
fn token_and_agent_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());

    // token generate: the token, and SPIRE's warning when no SPIFFE ID is given.
    let (code, out, err) = cli(&socket, &["token", "generate"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let mut lines = out.lines();
    let token = lines
        .next()
        .and_then(|l| l.strip_prefix("Token: "))
        .expect("a Token line");
    assert_eq!(token.len(), 36, "a UUID: {token}");
    assert_eq!(lines.next(), Some("Warning: Missing SPIFFE ID."));
    assert_eq!(lines.next(), None);

    // With -spiffeID the server adds the alias entry; no warning.
    let (code, out, _) = cli(
        &socket,
        &["token", "generate"],
        &["-spiffeID", "spiffe://example.org/host", "-ttl", "60"],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (_, out, _) = cli(
        &socket,
        &["entry", "show"],
        &["-spiffeID", "spiffe://example.org/host"],
    );
    assert!(out.starts_with("Found 1 entry\n"), "{out}");
    let (code, out, _) = cli(&socket, &["token", "generate"], &["-output", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        v["value"].is_string() && v["expires_at"].is_string(),
        "{out}"
    );
    assert_eq!(
        cli(&socket, &["token", "generate"], &["-spiffeID", "host"]),
        (
            1,
            String::new(),
            "Error: scheme is missing or invalid\n".into()
        )
    );

    // No agent has attested.
    assert_eq!(
        cli(&socket, &["agent", "list"], &[]),
        (0, "No attested agents found\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["agent", "count"], &[]),
        (0, "0 attested agents\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["agent", "list"], &["-output", "json"]),
        (
            0,
            "{\"agents\":[],\"next_page_token\":\"\"}\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["agent", "purge"], &[]),
        (0, "No agents to purge.\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["agent", "purge"], &["-output", "json"]),
        (0, "{\"expired_agents\":[]}\n".into(), String::new())
    );
    let (code, out, err) = cli(
        &socket,
        &["agent", "show"],
        &["-spiffeID", "spiffe://example.org/spire/agent/x"],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("Error: rpc error: code = NotFound desc = "),
        "{err}"
    );
    let (code, _, err) = cli(
        &socket,
        &["agent", "evict"],
        &["-spiffeID", "spiffe://example.org/spire/agent/x"],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error: rpc error: code = NotFound desc = "),
        "{err}"
    );
    for verb in ["show", "ban", "evict"] {
        assert_eq!(
            cli(&socket, &["agent", verb], &[]),
            (1, String::new(), "Error: a SPIFFE ID is required\n".into())
        );
    }
    assert_eq!(
        cli(&socket, &["agent", "list"], &["-expiresBefore", "tomorrow"]),
        (
            1,
            String::new(),
            "Error: date is not valid: parsing time \"tomorrow\" as \"2006-01-02 15:04:05 -0700 -07\": cannot parse \"tomorrow\" as \"2006\"\n".into()
        )
    );
    assert_eq!(
        cli(
            &socket,
            &["agent", "count"],
            &["-selector", "a:b", "-matchSelectorsOn", "most"]
        ),
        (
            1,
            String::new(),
            "Error: unsupported match behavior\n".into()
        )
    );

    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn logger_and_debug_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    assert_eq!(
        cli(&socket, &["logger", "get"], &[]),
        (
            0,
            "Logger Level : info\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["logger", "set"], &["-level", "WARN"]),
        (
            0,
            "Logger Level : warning\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["logger", "get"], &["-output", "json"]),
        (
            0,
            "{\"current_level\":\"WARN\",\"launch_level\":\"INFO\"}\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["logger", "reset"], &[]),
        (
            0,
            "Logger Level : info\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["logger", "set"], &[]),
        (
            1,
            String::new(),
            "Error: a value (-level) must be set\n".into()
        )
    );
    assert_eq!(
        cli(&socket, &["logger", "set"], &["-level", "loud"]),
        (
            1,
            String::new(),
            "Error: the value \"loud\" is not a valid setting\n".into()
        )
    );

    // debug getinfo: the counters, then the server's own SVID chain (leaf first, with its ID).
    let (code, out, err) = cli(&socket, &["debug", "getinfo"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Server Debug Info:", "{out}");
    assert!(lines[1].starts_with("  Uptime:                  "), "{out}");
    assert_eq!(lines[5], "  SVID Chain:", "{out}");
    assert!(
        lines[6].starts_with("    [0] SPIFFE ID:  spiffe://")
            && lines[6].ends_with("/spire/server"),
        "{out}"
    );
    assert!(lines[7].starts_with("        Subject:    "), "{out}");
    assert!(
        lines[8].starts_with("        Expires At: 20") && lines[8].ends_with('Z'),
        "{out}"
    );
    let (code, out, _) = cli(&socket, &["debug", "getinfo"], &["-output", "json"]);
    assert_eq!(code, 0, "{out}");
    let info: serde_json::Value = serde_json::from_str(&out).expect("getinfo JSON");
    assert_eq!(
        info["svid_chain"][0]["id"]["path"], "/spire/server",
        "{out}"
    );
    assert_eq!(
        lines.len(),
        6 + 3 * info["svid_chain"].as_array().expect("chain").len(),
        "{out}"
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn federation_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    assert_eq!(
        cli(&socket, &["federation", "list"], &[]),
        (
            0,
            "Found 0 federation relationships\n".into(),
            String::new()
        )
    );
    let (code, out, err) = cli(
        &socket,
        &["federation", "create"],
        &[
            "-trustDomain",
            "td-2.org",
            "-bundleEndpointURL",
            "https://127.0.0.1:9/td-2/bundle",
            "-bundleEndpointProfile",
            "https_spiffe",
            "-endpointSpiffeID",
            "spiffe://td-2.org/bundle-server",
        ],
    );
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "\nTrust domain              : td-2.org\nBundle endpoint URL       : https://127.0.0.1:9/td-2/bundle\nBundle endpoint profile   : https_spiffe\nEndpoint SPIFFE ID        : spiffe://td-2.org/bundle-server\n",
            ""
        )
    );
    assert_eq!(
        cli(&socket, &["federation", "show"], &["-trustDomain", "td-2.org"]),
        (
            0,
            "Found a federation relationship with trust domain td-2.org:\n\nTrust domain              : td-2.org\nBundle endpoint URL       : https://127.0.0.1:9/td-2/bundle\nBundle endpoint profile   : https_spiffe\nEndpoint SPIFFE ID        : spiffe://td-2.org/bundle-server\n".into(),
            String::new()
        )
    );
    let (code, out, _) = cli(
        &socket,
        &["federation", "update"],
        &[
            "-trustDomain",
            "td-2.org",
            "-bundleEndpointURL",
            "https://127.0.0.1:9/td-2/b",
            "-bundleEndpointProfile",
            "https_web",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        out.ends_with("Bundle endpoint profile   : https_web\n"),
        "{out}"
    );
    let (code, out, _) = cli(&socket, &["federation", "list"], &["-output", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        v["federation_relationships"][0]["https_web"],
        serde_json::json!({})
    );
    assert_eq!(
        cli(&socket, &["federation", "delete"], &["-id", "td-2.org"]),
        (
            0,
            "federation relationship deleted.\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["federation", "refresh"], &["-id", "td-2.org"]),
        (
            1,
            String::new(),
            "Error: there is no federation relationship with trust domain \"td-2.org\"\n".into()
        )
    );
    // -data: relationships with their bundles, in SPIFFE format (a JSON document) and PEM.
    let (_, doc, _) = cli(&socket, &["bundle", "show"], &["-format", "spiffe"]);
    let (_, pem, _) = cli(&socket, &["bundle", "show"], &[]);
    let data = serde_json::json!({"federationRelationships": [
        {"trustDomain": "fed-a.org", "bundleEndpointURL": "https://127.0.0.1:9/fed-a/b", "bundleEndpointProfile": "https_web",
         "trustDomainBundle": serde_json::from_str::<serde_json::Value>(&doc).expect("doc"), "trustDomainBundleFormat": "spiffe"},
        {"trustDomain": "fed-b.org", "bundleEndpointURL": "https://127.0.0.1:9/fed-b/b", "bundleEndpointProfile": "https_web",
         "trustDomainBundle": pem, "trustDomainBundleFormat": "pem"}
    ]});
    let (code, out, err) = cli_stdin(
        &socket,
        &["federation", "create"],
        &["-data", "-"],
        Some(&data.to_string()),
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out.matches("Bundle endpoint profile   : https_web\n")
            .count(),
        2,
        "{out}"
    );
    let (_, out, _) = cli(&socket, &["bundle", "list"], &["-id", "fed-b.org"]);
    assert_eq!(out, pem, "the relationship's bundle was stored");
    let bad = serde_json::json!({"federationRelationships": [
        {"trustDomain": "fed-c.org", "bundleEndpointURL": "https://127.0.0.1:9/fed-c/b", "bundleEndpointProfile": "https_spiffe"}
    ]});
    assert_eq!(
        cli_stdin(&socket, &["federation", "create"], &["-data", "-"], Some(&bad.to_string())),
        (
            1,
            String::new(),
            "Error: could not parse item 0: endpoint SPIFFE ID is required if 'https_spiffe' endpoint profile is set\n".into()
        )
    );
    assert_eq!(
        cli(
            &socket,
            &["federation", "create"],
            &["-trustDomain", "x.org"]
        ),
        (
            1,
            String::new(),
            "Error: bundle endpoint URL is required\n".into()
        )
    );
    assert_eq!(
        cli(&socket, &["federation", "create"], &["-data", "x.json", "-trustDomain", "x.org"]),
        (1, String::new(), "Error: cannot use other flags to specify relationship fields when 'data' flag is set\n".into())
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

/// Records an attested node straight into the server's SQLite datastore.
fn record_node(
    sqlite: &Path,
    id: &str,
    serial: &str,
    not_after: u64,
    can_reattest: bool,
    selectors: &[&str],
) {
    use spiffe_server::datastore::{AttestedNode, DataStore, SqlDataStore, SqlSettings};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqlDataStore::open(&SqlSettings::sqlite(sqlite))
            .await
            .expect("open the server's datastore");
        let mut node = AttestedNode::new(
            spiffe_core::SpiffeId::new(id).expect("agent ID"),
            "join_token",
        );
        node.selectors = selectors
            .iter()
            .map(|s| spiffe_attest::Selector::parse(s).expect("selector"))
            .collect();
        node.cert_serial_number = Some(serial.into());
        node.cert_not_after = Some(spiffe_core::pki_types::UnixTime::since_unix_epoch(
            std::time::Duration::from_secs(not_after),
        ));
        node.can_reattest = can_reattest;
        store.create_node(node).await.expect("create node");
    });
}

#[test]
fn agent_verbs_with_attested_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfigFile::new(dir.path());
    let mut server = ServerProcess::start(&bin(), &config).expect("start server");
    let socket = config.socket_path.clone();
    let a1 = "spiffe://example.org/spire/agent/join_token/a1";
    let a2 = "spiffe://example.org/spire/agent/x509pop/a2";
    // a1: valid for a long time; a2: re-attestable, expired in 1970.
    record_node(
        &config.sqlite_path(),
        a1,
        "12345",
        4_102_444_800,
        false,
        &["join_token:a1"],
    );
    record_node(&config.sqlite_path(), a2, "678", 1_000, true, &[]);

    assert_eq!(
        cli(&socket, &["agent", "count"], &[]),
        (0, "2 attested agents\n".into(), String::new())
    );
    let (code, out, err) = cli(&socket, &["agent", "list"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out,
        format!(
            "Found 2 attested agents:\n\n\
             SPIFFE ID         : {a1}\n\
             Attestation type  : join_token\n\
             Expiration time   : 2100-01-01 00:00:00 +0000 UTC\n\
             Serial number     : 12345\n\
             Can re-attest     : false\n\n\
             SPIFFE ID         : {a2}\n\
             Attestation type  : join_token\n\
             Expiration time   : 1970-01-01 00:16:40 +0000 UTC\n\
             Serial number     : 678\n\
             Can re-attest     : true\n\n"
        )
    );
    assert_eq!(
        cli(&socket, &["agent", "show"], &["-spiffeID", a1]),
        (
            0,
            format!(
                "Found an attested agent given its SPIFFE ID\n\n\
                 SPIFFE ID         : {a1}\n\
                 Attestation type  : join_token\n\
                 Expiration time   : 2100-01-01 00:00:00 +0000 UTC\n\
                 Serial number     : 12345\n\
                 Can re-attest     : false\n\n\
                 Selectors         : join_token:a1\n"
            ),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["agent", "count"], &["-canReattest", "true"]),
        (0, "1 attested agent\n".into(), String::new())
    );

    // purge: a2 expired more than 30 days ago and can re-attest.
    assert_eq!(
        cli(&socket, &["agent", "purge"], &["-dryRun"]),
        (
            0,
            format!(
                "Found 1 expired agent\n\n\nAgents that can be purged:\nSPIFFE ID         : {a2}\n"
            ),
            String::new()
        )
    );
    assert_eq!(
        cli(&socket, &["agent", "purge"], &["-output", "json"]),
        (
            0,
            format!("{{\"expired_agents\":[{{\"agent_id\":\"{a2}\",\"deleted\":true}}]}}\n"),
            String::new()
        )
    );

    // ban, then the banned agent shows `Banned` instead of its serial number; evict.
    assert_eq!(
        cli(&socket, &["agent", "ban"], &["-spiffeID", a1]),
        (0, "Agent banned successfully\n".into(), String::new())
    );
    let (_, out, _) = cli(&socket, &["agent", "list"], &["-banned", "true"]);
    assert!(out.starts_with("Found 1 attested agent:\n\n"), "{out}");
    assert!(
        out.contains("Banned            : true\nCan re-attest     : false\n"),
        "{out}"
    );
    assert!(!out.contains("Serial number"), "{out}");
    assert_eq!(
        cli(
            &socket,
            &["agent", "evict"],
            &["-spiffeID", a1, "-output", "json"]
        ),
        (0, "{}\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["agent", "count"], &[]),
        (0, "0 attested agents\n".into(), String::new())
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

/// The value after `  Authority ID: ` in SPIRE's authority layout.
fn authority_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("  Authority ID: "))
        .expect("an Authority ID line")
        .to_owned()
}

#[test]
fn localauthority_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    let (code, out, err) = cli(&socket, &["localauthority", "x509", "show"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let first = authority_id(&out);

    let (code, out, err) = cli(&socket, &["localauthority", "x509", "prepare"], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let prepared = authority_id(&out);
    assert_ne!(first, prepared);
    let expires = out
        .lines()
        .find_map(|l| l.strip_prefix("  Expires at: "))
        .expect("an Expires at line")
        .to_owned();
    assert!(expires.ends_with(" +0000 UTC"), "{out}");
    assert_eq!(
        out,
        format!("Prepared X.509 authority:\n  Authority ID: {prepared}\n  Expires at: {expires}\n  Upstream authority ID: No upstream authority\n")
    );
    let (code, out, _) = cli(
        &socket,
        &["localauthority", "x509", "show"],
        &["-output", "json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["prepared"]["authority_id"], prepared.as_str());
    assert_eq!(v["active"]["authority_id"], first.as_str());
    assert!(
        v.get("old").is_none(),
        "an absent authority is left out: {out}"
    );

    let (code, out, err) = cli(
        &socket,
        &["localauthority", "x509", "activate"],
        &["-authorityID", &prepared],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with(&format!(
            "Activated X.509 authority:\n  Authority ID: {prepared}\n"
        )),
        "{out}"
    );
    let (code, out, err) = cli(
        &socket,
        &["localauthority", "x509", "taint"],
        &["-authorityID", &first],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with(&format!(
            "Tainted X.509 authority:\n  Authority ID: {first}\n"
        )),
        "{out}"
    );
    let (code, out, err) = cli(
        &socket,
        &["localauthority", "x509", "revoke"],
        &["-authorityID", &first],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with(&format!(
            "Revoked X.509 authority:\n  Authority ID: {first}\n"
        )),
        "{out}"
    );
    let (code, out, err) = cli(
        &socket,
        &["localauthority", "x509", "revoke"],
        &["-authorityID", "nope"],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("Error: could not revoke X.509 authority: rpc error: code = "),
        "{err}"
    );

    let (code, out, _) = cli(&socket, &["localauthority", "jwt", "show"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Active JWT authority:\n  Authority ID: "),
        "{out}"
    );
    assert!(out.ends_with("\n\nPrepared JWT authority:\n  No prepared JWT authority found\n\nOld JWT authority:\n  No old JWT authority found\n"), "{out}");
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

#[test]
fn socket_from_environment_and_instance_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = Command::new(bin());
        command
            .args(args)
            .env_remove("SPIRE_SERVER_PRIVATE_SOCKET")
            .env_remove("SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let out = wait_bounded(command.spawn().expect("run"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let socket_text = socket.to_str().expect("utf-8");
    assert_eq!(
        run(
            &["entry", "count"],
            &[("SPIRE_SERVER_PRIVATE_SOCKET", socket_text)]
        ),
        (0, "0 registration entries\n".into(), String::new())
    );
    let template = socket_text.replace("private", "%i");
    assert_eq!(
        run(
            &["entry", "count", "-instance", "private"],
            &[("SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE", &template)]
        ),
        (0, "0 registration entries\n".into(), String::new())
    );
    assert_eq!(
        run(&["entry", "count", "-instance", "a"], &[]),
        (1, String::new(), "Error: you must define SPIRE_SERVER_PRIVATE_SOCKET_TEMPLATE to use the instance flag\n".into())
    );

    // JSON of empty results, and of a minted X509-SVID (SPIRE's struct, fields in order).
    assert_eq!(
        cli(&socket, &["entry", "show"], &["-output", "json"]),
        (
            0,
            "{\"entries\":[],\"next_page_token\":\"\"}\n".into(),
            String::new()
        )
    );
    let (code, out, _) = cli(
        &socket,
        &["x509", "mint"],
        &["-spiffeID", "spiffe://example.org/m", "-output", "json"],
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("{\"x509_svid\":[\""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        v["private_key"].is_string() && v["root_cas"][0].is_string(),
        "{out}"
    );

    // entry update -disableX509SVIDPrefetch first reads the stored entry to merge attributes
    // (the server does not store additional attributes yet, so only the read is checked).
    assert_eq!(
        cli(
            &socket,
            &["entry", "update"],
            &["-entryID", "gone", "-parentID", "spiffe://example.org/a", "-spiffeID", "spiffe://example.org/c", "-selector", "x:y", "-disableX509SVIDPrefetch"],
        ),
        (
            1,
            String::new(),
            "Error: failed to fetch existing entry to merge additional attributes: rpc error: code = NotFound desc = entry not found\n".into()
        )
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

/// SPIRE's CLI always sends `by_downstream` (`wrapperspb.Bool(c.downstream)`); SPIRE's datastore
/// reads `false` as "every entry" and `true` as "downstream entries only" (sqlstore's
/// `buildListRegistrationEntriesQuery*`), which SPIRE's `spire-server-cli` suite relies on
/// (`entry show -spiffeID` of a downstream entry finds it).
#[test]
fn entry_show_and_count_include_downstream_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    // SPIRE's CLI always sends by_downstream: false means every entry, true only downstream ones.
    let (code, out, err) = cli(
        &socket,
        &["entry", "create"],
        &[
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "spiffe://example.org/down",
            "-selector",
            "x:y",
            "-downstream",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.contains("Revision                : ")
            && out.contains("\nDownstream              : true\nX509-SVID TTL"),
        "{out}"
    );
    cli(
        &socket,
        &["entry", "create"],
        &[
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "spiffe://example.org/up",
            "-selector",
            "x:y",
        ],
    );
    assert_eq!(
        cli(&socket, &["entry", "count"], &[]),
        (0, "2 registration entries\n".into(), String::new())
    );
    assert_eq!(
        cli(&socket, &["entry", "count"], &["-downstream"]),
        (0, "1 registration entry\n".into(), String::new())
    );
    let (_, out, _) = cli(&socket, &["entry", "show"], &["-downstream"]);
    assert!(
        out.starts_with("Found 1 entry\n") && out.contains("spiffe://example.org/down"),
        "{out}"
    );

    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

/// SPIRE's additional-attribute flags end to end: `entry create` stores them and prints SPIRE's
/// lines; `entry update` with one flag keeps the other (the CLI merges it from the stored
/// entry); without them it clears both (SPIRE's update replaces every field); `-output json`
/// carries `additional_attributes`.
#[test]
fn entry_additional_attribute_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, socket) = start(dir.path());
    let base = [
        "-parentID",
        "spiffe://example.org/a",
        "-spiffeID",
        "spiffe://example.org/attrs",
        "-selector",
        "x:y",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
    };
    let args = with(&["-disableX509SVIDPrefetch", "-jwtSVIDIncludeJTI"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cli(&socket, &["entry", "create"], &args);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.ends_with(
            "Selector                : x:y\n\
             DisableX509SvidPrefetch : true\n\
             JwtSvidIncludeJti       : true\n\n"
        ),
        "{out}"
    );
    let id = entry_id(&out);
    let (_, shown, _) = cli(&socket, &["entry", "show"], &["-entryID", &id]);
    assert!(
        shown.contains("DisableX509SvidPrefetch : true\nJwtSvidIncludeJti       : true\n"),
        "{shown}"
    );

    // Only one flag named: the other keeps its stored value.
    let args = with(&["-entryID", &id, "-jwtSVIDIncludeJTI"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cli(&socket, &["entry", "update"], &args);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.contains("DisableX509SvidPrefetch : true\n"), "{out}");
    let (_, json, _) = cli(
        &socket,
        &["entry", "show"],
        &["-entryID", &id, "-output", "json"],
    );
    let json: String = json.split_whitespace().collect();
    assert!(
        json.contains("\"disable_x509_svid_prefetch\":true"),
        "{json}"
    );
    assert!(json.contains("\"jwt_svid_include_jti\":true"), "{json}");

    // No flag: both cleared, no lines.
    let args = with(&["-entryID", &id]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = cli(&socket, &["entry", "update"], &args);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("DisableX509SvidPrefetch") && !out.contains("JwtSvidIncludeJti"),
        "{out}"
    );

    // With -storeSVID, no prefetch is refused and nothing is stored.
    let (code, out, err) = cli(
        &socket,
        &["entry", "create"],
        &[
            "-parentID",
            "spiffe://example.org/a",
            "-spiffeID",
            "spiffe://example.org/s",
            "-selector",
            "x:y",
            "-storeSVID",
            "-disableX509SVIDPrefetch",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("incompatible with storable SVIDs"),
        "{out}{err}"
    );
    assert_eq!(
        cli(&socket, &["entry", "count"], &[]),
        (0, "1 registration entry\n".into(), String::new())
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}
