//! A private swtpm (TPM 2.0 simulator) per test, on free loopback ports, killed on drop.
//!
//! The tests need the Debian packages `swtpm`, `swtpm-tools` and `tpm2-tools` (scripts/test.sh
//! installs them); without them they fail with a message saying so rather than skip.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running swtpm.
pub(crate) struct Swtpm {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

fn require(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` not found: the TPM tests need the Debian package `{package}` \
         (scripts/test.sh installs it: apt-get install swtpm swtpm-tools tpm2-tools libtss2-dev)"
    );
}

/// A port `p` with `p` and `p + 1` free on 127.0.0.1 (the swtpm TCTI uses `port + 1` for
/// control).
fn free_port_pair() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = a.local_addr().expect("local addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Swtpm {
    /// Starts a fresh TPM (new state directory, so a new EK seed).
    pub(crate) fn start() -> Self {
        require("swtpm", "swtpm");
        let dir = tempfile::tempdir().expect("temp dir");
        for _ in 0..20 {
            let port = free_port_pair();
            let mut child = Command::new("swtpm")
                .arg("socket")
                .arg("--tpm2")
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.path().display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .arg("--flags")
                .arg("not-need-init,startup-clear")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn swtpm");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost a port race: try other ports
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, dir, port };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("swtpm did not start on any loopback port");
    }

    /// The tpm2-tss TCTI configuration for this TPM.
    pub(crate) fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// A scratch directory that lives as long as the TPM.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a tpm2-tools command against this TPM, then flushes transient objects (there is
    /// no resource manager); panics with its stderr if it fails.
    pub(crate) fn tool(&self, tool: &str, args: &[&str]) {
        require(tool, "tpm2-tools");
        let out = Command::new(tool)
            .args(["-T", &self.tcti()])
            .args(args)
            .output()
            .expect("run tpm2-tools");
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = Command::new("tpm2_flushcontext")
            .args(["-T", &self.tcti(), "-t"])
            .output();
    }

    /// The EK public key as PEM, created by tpm2-tools (an implementation independent of ours).
    pub(crate) fn ek_pem(&self) -> PathBuf {
        let pem = self.dir().join("ek.pem");
        let ctx = self.dir().join("ek.ctx");
        self.tool(
            "tpm2_createek",
            &[
                "-c",
                ctx.to_str().expect("utf-8 path"),
                "-G",
                "rsa",
                "-u",
                pem.to_str().expect("utf-8 path"),
                "-f",
                "pem",
            ],
        );
        pem
    }
}

impl Swtpm {
    /// Stores `der` as the RSA-2048 EK certificate, in NV index 0x01c00002 (TCG EK Credential
    /// Profile), as a manufacturer would.
    pub(crate) fn store_ek_certificate(&self, der: &[u8]) {
        let file = self.dir().join("ek-cert-nv.der");
        std::fs::write(&file, der).expect("write cert");
        let size = der.len().to_string();
        self.tool(
            "tpm2_nvdefine",
            &[
                "-C",
                "p",
                "0x01c00002",
                "-s",
                &size,
                "-a",
                "ppwrite|ppread|ownerread|authread|no_da|platformcreate",
            ],
        );
        self.tool(
            "tpm2_nvwrite",
            &[
                "-C",
                "p",
                "0x01c00002",
                "-i",
                file.to_str().expect("utf-8 path"),
            ],
        );
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command (openssl), panicking with its stderr if it fails; returns stdout.
pub(crate) fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
