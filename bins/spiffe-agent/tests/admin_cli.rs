//! `spiffe-agent logger get|set|reset` and `debug getinfo` as processes, against a real agent
//! process (started at `log_level = "INFO"` with an admin socket) and its real server: the
//! texts, exit codes and JSON of SPIRE's `cmd/spire-agent/cli/{logger,debug}`, and the level
//! really changing what the agent logs.
//!
//! Needs the server binary: `cargo build -p spiffe-server` first (or `SPIFFE_SERVER_BIN`).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use daemon_harness::{agent_cli, Domain};

const TD: &str = "example.org";

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// `spiffe-agent <verbs> -socketPath <admin> <args>`.
fn admin(socket: &Path, verbs: &[&str], args: &[&str]) -> Output {
    let socket = socket.display().to_string();
    let mut all: Vec<&str> = verbs.to_vec();
    all.extend(["-socketPath", socket.as_str()]);
    all.extend(args);
    agent_cli(&all)
}

/// Exit code, stdout, stderr.
fn result(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn debug_lines(output: &str) -> usize {
    output.lines().filter(|l| l.contains("level=debug")).count()
}

/// Waits (at most `timeout`) until the agent has printed more than `than` DEBUG lines.
fn wait_for_debug_lines(domain: &Domain, than: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if debug_lines(&domain.agent.output()) > than {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn start(dir: &Path) -> (Domain, std::path::PathBuf) {
    let socket = dir.join("admin").join("admin.sock");
    let extra = format!("    admin_socket_path = \"{}\"\n", socket.display());
    let domain = Domain::start(dir, TD, move |_, agent| {
        agent.log_level = "INFO".into();
        agent.extra_agent = extra;
    })
    .unwrap();
    (domain, socket)
}

#[test]
fn logger_get_set_reset_change_what_the_agent_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (domain, socket) = start(dir.path());

    // Launched at INFO: the launch level and no DEBUG line, over a few sync rounds.
    assert_eq!(
        result(&admin(&socket, &["logger", "get"], &[])),
        (
            Some(0),
            "Logger Level : info\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    std::thread::sleep(Duration::from_secs(3));
    let output = domain.agent.output();
    assert_eq!(debug_lines(&output), 0, "DEBUG lines at INFO:\n{output}");

    // To DEBUG: the answer says so, and the agent starts printing DEBUG lines (its syncs with
    // the server, every second here).
    assert_eq!(
        result(&admin(&socket, &["logger", "set"], &["-level", "debug"])),
        (
            Some(0),
            "Logger Level : debug\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    assert!(
        wait_for_debug_lines(&domain, 0, Duration::from_secs(20)),
        "no DEBUG line after logger set -level debug:\n{}",
        domain.agent.output()
    );
    let output = domain.agent.output();
    assert!(
        output.contains("msg=\"SetLogLevel Called\"") && output.contains("new_log_level=DEBUG"),
        "{output}"
    );
    assert_eq!(
        result(&admin(&socket, &["logger", "get"], &["-output", "json"])),
        (
            Some(0),
            "{\"current_level\":\"DEBUG\",\"launch_level\":\"INFO\"}\n".into(),
            String::new()
        )
    );

    // Bad input: SPIRE's texts, exit 1, the level unchanged.
    assert_eq!(
        result(&admin(&socket, &["logger", "set"], &["-level", "loud"])),
        (
            Some(1),
            String::new(),
            "Error: the value \"loud\" is not a valid setting\n".into()
        )
    );
    assert_eq!(
        result(&admin(&socket, &["logger", "set"], &[])),
        (
            Some(1),
            String::new(),
            "Error: a value (-level) must be set\n".into()
        )
    );
    assert_eq!(
        result(&admin(&socket, &["logger", "get"], &[])).1,
        "Logger Level : debug\nLaunch Level : info\n\n"
    );

    // Reset: back to INFO, and the DEBUG lines stop while the syncs go on.
    assert_eq!(
        result(&admin(&socket, &["logger", "reset"], &[])),
        (
            Some(0),
            "Logger Level : info\nLaunch Level : info\n\n".into(),
            String::new()
        )
    );
    // (Lines the agent wrote before the reset may still be on their way through the pipe.)
    std::thread::sleep(Duration::from_secs(1));
    let after_reset = debug_lines(&domain.agent.output());
    assert!(
        !wait_for_debug_lines(&domain, after_reset, Duration::from_secs(4)),
        "DEBUG lines after logger reset:\n{}",
        domain.agent.output()
    );
    let output = domain.agent.output();
    assert!(output.contains("msg=\"ResetLogLevel Called\""), "{output}");
    assert!(
        output.contains("msg=\"Logger service configured\"")
            && output.contains("launch_log_level=INFO"),
        "{output}"
    );

    // -level is case-insensitive, as logrus's ParseLevel of the lowercased value.
    assert_eq!(
        result(&admin(
            &socket,
            &["logger", "set"],
            &["-level", "WARN", "-output", "json"]
        )),
        (
            Some(0),
            "{\"current_level\":\"WARN\",\"launch_level\":\"INFO\"}\n".into(),
            String::new()
        )
    );
    assert_eq!(
        result(&admin(&socket, &["logger", "reset"], &["-output", "json"])).1,
        "{\"current_level\":\"INFO\",\"launch_level\":\"INFO\"}\n"
    );
}

#[test]
fn debug_getinfo_prints_the_agents_state_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (domain, socket) = start(dir.path());
    let agent_path = domain
        .agent_id
        .strip_prefix(&format!("spiffe://{TD}"))
        .unwrap()
        .to_owned();

    // JSON: every field; the agent has synced (sync interval 1 s), its chain is its SVID.
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        let (code, stdout, stderr) =
            result(&admin(&socket, &["debug", "getinfo"], &["-output", "json"]));
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "{stdout}");
        assert!(
            stdout.ends_with("}\n") && stdout.lines().count() == 1,
            "{stdout}"
        );
        let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        if info["last_sync_success"] != "0" || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let last_sync: u64 = info["last_sync_success"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        last_sync > 0 && last_sync <= now && now - last_sync < 60,
        "{info}"
    );
    assert!(info["uptime"].as_i64().unwrap() >= 0, "{info}");
    for counter in [
        "svids_count",
        "cached_x509_svids_count",
        "cached_jwt_svids_count",
        "cached_svidstore_x509_svids_count",
    ] {
        assert!(info[counter].is_i64(), "{counter}: {info}");
    }
    let chain = info["svid_chain"].as_array().unwrap();
    assert!(!chain.is_empty(), "{info}");
    assert_eq!(chain[0]["id"]["trust_domain"], TD, "{info}");
    assert_eq!(chain[0]["id"]["path"], agent_path.as_str(), "{info}");
    let expires: u64 = chain[0]["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > now, "{info}");

    // Pretty: SPIRE's layout, with the same facts.
    let (code, stdout, stderr) = result(&admin(&socket, &["debug", "getinfo"], &[]));
    assert_eq!((code, stderr.as_str()), (Some(0), ""), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Agent Debug Info:", "{stdout}");
    assert!(
        lines[1].starts_with("  Uptime:                          "),
        "{stdout}"
    );
    assert!(lines[1].ends_with('s'), "{stdout}");
    assert!(
        lines[2].starts_with("  Last Sync Success:               20") && lines[2].ends_with('Z'),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("  Cached X.509 SVIDs:              "),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("  Cached JWT SVIDs:                "),
        "{stdout}"
    );
    assert_eq!(lines[5], "  Cached SVID Store X.509 SVIDs:   0", "{stdout}");
    assert_eq!(lines[6], "  SVID Chain:", "{stdout}");
    assert_eq!(
        lines[7],
        format!("    [0] SPIFFE ID:  {}", domain.agent_id),
        "{stdout}"
    );
    assert!(lines[8].starts_with("        Subject:    "), "{stdout}");
    assert!(lines[9].starts_with("        Expires At: 20"), "{stdout}");
    assert_eq!(lines.len(), 6 + 1 + 3 * chain.len(), "{stdout}");
}

#[test]
fn without_an_admin_socket_the_commands_fail_as_spires() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("admin.sock");
    let dial = format!(
        "rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix {}: connect: no such file or directory\"",
        missing.display()
    );
    for (verbs, args, prefix) in [
        (&["logger", "get"][..], &[][..], "error fetching logger: "),
        (
            &["logger", "set"][..],
            &["-level", "debug"][..],
            "failed to set log level: ",
        ),
        (
            &["logger", "reset"][..],
            &[][..],
            "failed to reset logger: ",
        ),
        (&["debug", "getinfo"][..], &[][..], ""),
    ] {
        assert_eq!(
            result(&admin(&missing, verbs, args)),
            (Some(1), String::new(), format!("Error: {prefix}{dial}\n")),
            "{verbs:?}"
        );
    }
    // Flag errors: Go's message and the usage, exit 1.
    let (code, stdout, stderr) = result(&agent_cli(&["logger", "get", "-bogus"]));
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    assert!(
        stderr.starts_with("flag provided but not defined: -bogus\nUsage of logger get:\n"),
        "{stderr}"
    );
    let (code, _, stderr) = result(&agent_cli(&["debug", "getinfo", "-output", "yaml"]));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("bad formatter flag: unknown format option: \"yaml\""),
        "{stderr}"
    );
}
