//! The unix workload attestor against real child processes (the tests run as root).
#![allow(clippy::unwrap_used, missing_docs)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use spiffe_attest::workload::unix::{process_start_time, UnixAttestor, UnixAttestorError};
use spiffe_attest::workload::{CallerInfo, WorkloadAttestor};
use spiffe_attest::AttestError;

/// A child that lives until killed; reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn spawn(configure: impl FnOnce(&mut Command)) -> Self {
        let mut cmd = Command::new("sleep");
        cmd.arg("300").stdin(Stdio::null()).stdout(Stdio::null());
        configure(&mut cmd);
        Self(cmd.spawn().unwrap())
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Waits until the child has exec'd `sleep` (its exe link names it), so credentials and
    /// binary are final. Event-driven: polls the link the test is about.
    fn wait_exec(&self) {
        let link = format!("/proc/{}/exe", self.pid());
        for _ in 0..1000 {
            if std::fs::read_link(&link).is_ok_and(|p| p.ends_with("sleep")) {
                return;
            }
            std::thread::yield_now();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("child did not exec sleep");
    }

    /// The credentials an accept would have captured.
    fn peer(&self, uid: u32, gid: u32) -> CallerInfo {
        self.wait_exec();
        CallerInfo::new(Some(self.pid()), uid, gid)
            .with_start_time(process_start_time(self.pid()).unwrap())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn error(err: AttestError) -> UnixAttestorError {
    match err {
        AttestError::Plugin { plugin, source } => {
            assert_eq!(plugin, "unix");
            source.downcast_ref::<UnixAttestorError>().unwrap().clone()
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

fn values(selectors: &[spiffe_attest::Selector]) -> Vec<String> {
    assert!(selectors.iter().all(|s| s.selector_type() == "unix"));
    selectors.iter().map(|s| s.value().to_owned()).collect()
}

fn sha256_hex(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[tokio::test]
async fn root_child_gets_user_group_path_and_digest() {
    let child = Sleeper::spawn(|_| {});
    let peer = child.peer(0, 0);
    let attestor = UnixAttestor::new().with_workload_path(Some(64 * 1024 * 1024));
    let got = values(&attestor.attest(&peer).await.unwrap());

    let exe = std::fs::read_link(format!("/proc/{}/exe", child.pid())).unwrap();
    let mut expected = vec![
        "uid:0".to_owned(),
        "user:root".to_owned(),
        "gid:0".to_owned(),
        "group:root".to_owned(),
    ];
    // Whatever supplementary groups the test runner has, the child inherits.
    for gid in supplementary_gids(child.pid()) {
        expected.push(format!("supplementary_gid:{gid}"));
        if let Some(name) = group_name(gid) {
            expected.push(format!("supplementary_group:{name}"));
        }
    }
    expected.push(format!("path:{}", exe.display()));
    expected.push(format!("sha256:{}", sha256_hex(&exe)));
    assert_eq!(got, expected);
}

fn supplementary_gids(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    line["Groups:".len()..]
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect()
}

fn group_name(gid: u32) -> Option<String> {
    std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(2) == Some(&gid.to_string()))
        .map(|l| l.split(':').next().unwrap().to_owned())
}

#[tokio::test]
async fn child_running_as_nobody() {
    let child = Sleeper::spawn(|cmd| {
        cmd.uid(65534).gid(65534);
    });
    let peer = child.peer(65534, 65534);
    let got = values(&UnixAttestor::new().attest(&peer).await.unwrap());
    // std drops root's supplementary groups when switching uid.
    assert_eq!(
        got,
        vec![
            "uid:65534".to_owned(),
            format!("user:{}", name_in("/etc/passwd", 65534)),
            "gid:65534".to_owned(),
            format!("group:{}", name_in("/etc/group", 65534)),
        ]
    );
}

fn name_in(file: &str, id: u32) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(2) == Some(&id.to_string()))
        .map(|l| l.split(':').next().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn peer_credentials_must_match_the_process() {
    let child = Sleeper::spawn(|cmd| {
        cmd.uid(65534).gid(65534);
    });
    let peer = child.peer(0, 65534);
    let err = error(UnixAttestor::new().attest(&peer).await.unwrap_err());
    assert_eq!(
        err,
        UnixAttestorError::CredentialsChanged { pid: child.pid() }
    );
}

#[tokio::test]
async fn a_different_start_time_is_pid_reuse() {
    let child = Sleeper::spawn(|_| {});
    let mut peer = child.peer(0, 0);
    peer.start_time = peer.start_time.map(|t| t + 1);
    let err = error(UnixAttestor::new().attest(&peer).await.unwrap_err());
    assert_eq!(err, UnixAttestorError::PidReused { pid: child.pid() });
}

/// Fail closed: a caller whose pid or start time was not captured at accept is not attested,
/// even when its process is alive and its credentials match.
#[tokio::test]
async fn a_caller_without_pid_or_start_time_is_refused() {
    let child = Sleeper::spawn(|_| {});
    let complete = child.peer(0, 0);
    assert!(UnixAttestor::new().attest(&complete).await.is_ok());
    let no_start = CallerInfo::new(Some(child.pid()), 0, 0);
    let err = error(UnixAttestor::new().attest(&no_start).await.unwrap_err());
    assert_eq!(
        err,
        UnixAttestorError::StartTimeUnknown { pid: child.pid() }
    );
    let no_pid = CallerInfo::new(None, 0, 0).with_start_time(complete.start_time.unwrap());
    let err = error(UnixAttestor::new().attest(&no_pid).await.unwrap_err());
    assert_eq!(err, UnixAttestorError::NoPid);
}

#[tokio::test]
async fn a_process_that_exited_is_an_error() {
    let mut child = Sleeper::spawn(|_| {});
    let peer = child.peer(0, 0);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let err = error(UnixAttestor::new().attest(&peer).await.unwrap_err());
    assert_eq!(err, UnixAttestorError::ProcessExited { pid: child.pid() });
}

#[tokio::test]
async fn a_zombie_is_an_error() {
    let mut child = Sleeper::spawn(|_| {});
    let peer = child.peer(0, 0);
    child.0.kill().unwrap();
    // Not reaped yet: wait for the zombie state, the event this test is about.
    let stat = format!("/proc/{}/stat", child.pid());
    for _ in 0..1000 {
        let text = std::fs::read_to_string(&stat).unwrap();
        if text
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z')
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let err = error(UnixAttestor::new().attest(&peer).await.unwrap_err());
    assert_eq!(err, UnixAttestorError::ProcessExited { pid: child.pid() });
    child.0.wait().unwrap();
}

#[tokio::test]
async fn binary_over_the_size_limit_is_not_hashed() {
    let child = Sleeper::spawn(|_| {});
    let peer = child.peer(0, 0);
    let err = error(
        UnixAttestor::new()
            .with_workload_path(Some(1024))
            .attest(&peer)
            .await
            .unwrap_err(),
    );
    assert!(matches!(
        err,
        UnixAttestorError::BinaryTooLarge { limit: 1024, .. }
    ));
    // Path only, no digest.
    let got = values(
        &UnixAttestor::new()
            .with_workload_path(None)
            .attest(&peer)
            .await
            .unwrap(),
    );
    assert!(got.iter().any(|v| v.starts_with("path:")));
    assert!(!got.iter().any(|v| v.starts_with("sha256:")));
}

#[tokio::test]
async fn names_come_from_the_configured_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let group = dir.path().join("group");
    std::fs::write(&passwd, "svc:x:65534:65534::/:/bin/false\n").unwrap();
    std::fs::write(&group, "").unwrap();
    let child = Sleeper::spawn(|cmd| {
        cmd.uid(65534).gid(65534);
    });
    let got = values(
        &UnixAttestor::new()
            .with_account_files(&passwd, &group)
            .attest(&child.peer(65534, 65534))
            .await
            .unwrap(),
    );
    assert_eq!(got, vec!["uid:65534", "user:svc", "gid:65534"]);
}

#[tokio::test]
async fn invalid_and_unknown_pids() {
    let attestor = UnixAttestor::new();
    let err = error(
        attestor
            .attest(&CallerInfo::new(Some(0), 0, 0).with_start_time(1))
            .await
            .unwrap_err(),
    );
    assert_eq!(err, UnixAttestorError::InvalidPid { pid: 0 });
    // Above the kernel's pid_max limit (4194304): never a live process.
    let err = error(
        attestor
            .attest(&CallerInfo::new(Some(i32::MAX), 0, 0).with_start_time(1))
            .await
            .unwrap_err(),
    );
    assert_eq!(err, UnixAttestorError::ProcessExited { pid: i32::MAX });
}

/// Processes that exit while being attested: every attempt yields the child's own selectors
/// or an error (exited, a zombie, credentials not yet or no longer those of the socket), never
/// another process's selectors.
#[tokio::test]
async fn short_lived_processes_never_yield_wrong_selectors() {
    let attestor = UnixAttestor::new();
    let (mut attested, mut refused) = (0, 0);
    for _ in 0..100 {
        let mut child = Command::new("true")
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        if let Ok(start) = process_start_time(pid) {
            let peer = CallerInfo::new(Some(pid), 65534, 65534).with_start_time(start);
            match attestor.attest(&peer).await {
                Ok(selectors) => {
                    let got = values(&selectors);
                    assert_eq!(got[0], "uid:65534");
                    assert!(got.contains(&"gid:65534".to_owned()));
                    attested += 1;
                }
                Err(e) => {
                    let e = error(e);
                    assert!(
                        matches!(
                            e,
                            UnixAttestorError::ProcessExited { .. }
                                | UnixAttestorError::CredentialsChanged { .. }
                        ),
                        "{e:?}"
                    );
                    refused += 1;
                }
            }
        }
        child.wait().unwrap();
    }
    eprintln!("attested {attested}, refused {refused}");
}

#[tokio::test]
async fn no_size_limit_hashes_the_binary() {
    // SPIRE's `workload_size_limit = 0` (no limit): the largest limit must not overflow.
    let child = Sleeper::spawn(|_| {});
    let peer = child.peer(0, 0);
    let attestor = UnixAttestor::new().with_workload_path(Some(u64::MAX));
    let got = values(&attestor.attest(&peer).await.unwrap());
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.pid())).unwrap();
    assert!(
        got.contains(&format!("sha256:{}", sha256_hex(&exe))),
        "{got:?}"
    );
}
