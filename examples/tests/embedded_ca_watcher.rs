//! Runs `embedded_ca` (a trust domain in one process, serving each identity on its own
//! Workload API socket, rotating) and `watcher` against it, as processes. Checks what the
//! embedded CA's own clients fetch and validate, that rotations reach them, and that another
//! program (the watcher) sees each rotation as a new X.509 context with a new serial, and
//! stops cleanly on SIGINT.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::process::{failed, run, succeeded, Background};
use tokio::process::Command;

const EMBEDDED_CA: &str = env!("CARGO_BIN_EXE_embedded_ca");
const WATCHER: &str = env!("CARGO_BIN_EXE_watcher");
const WEB: &str = "spiffe://example.org/web";
const DB: &str = "spiffe://example.org/db";

fn embedded_ca(dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(EMBEDDED_CA);
    command
        .args(["--trust-domain", "example.org", "--dir"])
        .arg(dir)
        .args(["--id", WEB, "--id", DB])
        .args(extra);
    command
}

/// The serial of a line `... serial <hex> expires ...`.
fn serial(line: &str) -> String {
    let (_, rest) = line.split_once(" serial ").unwrap();
    rest.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_ca_mints_serves_and_rotates_two_identities() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(embedded_ca(
        dir.path(),
        &["--rotate-every", "1s", "--rotations", "2"],
    ))
    .await;
    let stdout = succeeded(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("root CA of example.org: serial "),
        "{stdout}"
    );
    for (id, name) in [(WEB, "web"), (DB, "db")] {
        let socket = dir.path().join(format!("{name}.sock"));
        assert!(
            lines.contains(&format!("serving {id} at unix://{}", socket.display()).as_str()),
            "{stdout}"
        );
        // The first SVID, then two rotations, each with a new serial.
        let fetched: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("fetched {id} serial ")))
            .copied()
            .collect();
        assert_eq!(fetched.len(), 1, "{stdout}");
        let rotated: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("rotated: {id} serial ")))
            .copied()
            .collect();
        assert_eq!(rotated.len(), 2, "{stdout}");
        let serials: BTreeSet<String> = fetched.iter().chain(&rotated).map(|l| serial(l)).collect();
        assert_eq!(serials.len(), 3, "{stdout}");
    }
    // Each identity's JWT-SVID validated by the other.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{DB} validated a JWT-SVID of {WEB}, expires "))),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{WEB} validated a JWT-SVID of {DB}, expires "))),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_prints_each_rotation_from_the_embedded_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = Background::spawn(embedded_ca(dir.path(), &["--rotate-every", "1s"]));
    ca.line_with(&format!("serving {DB} at ")).await;

    let mut watcher = Command::new(WATCHER);
    watcher.args(["--count", "3"]).env(
        "SPIFFE_ENDPOINT_SOCKET",
        format!("unix://{}", dir.path().join("web.sock").display()),
    );
    let stdout = succeeded(&run(watcher).await);
    let lines: Vec<&str> = stdout.lines().collect();
    // Three X.509 contexts, each the web SVID (a new serial each time) and the bundle.
    let updates: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("X.509 context update "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(updates.len(), 3, "{stdout}");
    let mut serials = BTreeSet::new();
    for (n, at) in updates.iter().enumerate() {
        assert_eq!(lines[*at], format!("X.509 context update {}:", n + 1));
        assert!(
            lines[at + 1].starts_with(&format!("  SVID {WEB} serial ")),
            "{stdout}"
        );
        serials.insert(serial(lines[at + 1]));
        assert_eq!(lines[at + 2], "  X.509 bundle example.org: 1 authorities");
    }
    assert_eq!(serials.len(), 3, "{stdout}");
    // The JWT bundle, once (it does not rotate).
    let jwt = lines
        .iter()
        .position(|l| *l == "JWT bundles update 1:")
        .expect(&stdout);
    assert_eq!(lines[jwt + 1], "  JWT bundle example.org: 1 keys");
    assert!(!stdout.contains("JWT bundles update 2:"), "{stdout}");

    // Without --count: until interrupted (SIGINT, as Ctrl-C sends), then a clean exit.
    let mut watcher = Command::new(WATCHER);
    watcher.env(
        "SPIFFE_ENDPOINT_SOCKET",
        format!("unix://{}", dir.path().join("db.sock").display()),
    );
    let mut watcher = Background::spawn(watcher);
    watcher.line_with(&format!("  SVID {DB} serial ")).await;
    let pid = watcher.child.id().unwrap().to_string();
    let kill = run({
        let mut kill = Command::new("kill");
        kill.args(["-INT", &pid]);
        kill
    })
    .await;
    succeeded(&kill);
    watcher.line_with("interrupted").await;
    assert!(watcher.wait().await.success(), "{}", watcher.output());

    ca.stop().await;
}

#[tokio::test]
async fn the_watcher_names_a_missing_socket_and_the_ca_a_foreign_id() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("agent.sock");
    let mut watcher = Command::new(WATCHER);
    watcher.env(
        "SPIFFE_ENDPOINT_SOCKET",
        format!("unix://{}", missing.display()),
    );
    let stderr = failed(&run(watcher).await);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: Workload API socket {} does not exist",
            missing.display()
        )
    );

    let mut ca = embedded_ca(dir.path(), &[]);
    ca.args(["--id", "spiffe://other.org/x"]);
    let stderr = failed(&run(ca).await);
    assert_eq!(
        stderr.trim_end(),
        "error: spiffe://other.org/x is not in trust domain example.org"
    );
}
