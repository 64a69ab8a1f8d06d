//! `spiffe workload serve` as a built binary: files made with `spiffe ca init` and
//! `spiffe x509 mint`, fetched with the `spiffe` crate (an independent client); reloads,
//! a refused reload, and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{run, spiffe, stderr};
use serde_json::Value;

/// How long any awaited event may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn s(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// A CA (`ca/`), an SVID for `spiffe://example.org/web` (`svid/`) and another SVID whose key
/// serves as the JWT signing key (`jwt/`).
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let ca = s(&pki.path("ca"));
        let init = run(&["ca", "init", "--trust-domain", "example.org", "--dir", &ca]);
        assert!(init.status.success(), "{}", stderr(&init));
        pki.mint("spiffe://example.org/web", "svid");
        pki.mint("spiffe://example.org/jwt-signer", "jwt");
        pki
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn mint(&self, id: &str, out: &str) {
        let (ca, out) = (s(&self.path("ca")), s(&self.path(out)));
        let minted = run(&["x509", "mint", "--ca", &ca, "--id", id, "--out", &out]);
        assert!(minted.status.success(), "{}", stderr(&minted));
    }

    /// The leaf certificate (DER) of the SVID in `svid/`.
    fn leaf(&self) -> Vec<u8> {
        let svid = spiffe_core::X509Svid::parse_pem(
            &std::fs::read(self.path("svid/svid.pem")).unwrap(),
            &std::fs::read(self.path("svid/svid.key")).unwrap(),
        )
        .unwrap();
        svid.leaf().der().to_vec()
    }

    fn serve_args(&self, socket: &str) -> Vec<String> {
        [
            "--output",
            "json",
            "workload",
            "serve",
            "--socket",
            socket,
            "--svid",
            &s(&self.path("svid/svid.pem")),
            "--key",
            &s(&self.path("svid/svid.key")),
            "--bundle",
            &s(&self.path("ca/bundle.json")),
            "--jwt-key",
            &s(&self.path("jwt/svid.key")),
            "--jwt-kid",
            "k1",
            "--federated",
            &format!("other.org={}", s(&self.path("svid/bundle.pem"))),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// A running `spiffe workload serve`, its stdout and stderr read line by line.
struct Server {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    socket: PathBuf,
}

impl Server {
    fn start(args: &[String], socket: PathBuf) -> Self {
        let mut child = spiffe()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
            socket,
        }
    }

    /// The next JSON event on stdout.
    fn event(&self) -> Value {
        let line = self
            .stdout
            .recv_timeout(PATIENCE)
            .expect("an event line from the server");
        serde_json::from_str(&line).unwrap()
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn client(server: &Server) -> spiffe::WorkloadApiClient {
    spiffe::WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap()
}

// Multi-threaded: the test blocks on the server's output while the client's connection task
// must keep running (the server's graceful stop waits for the client to close it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fetch_reload_refuse_and_stop() {
    let pki = Pki::new();
    let socket = pki.path("agent.sock");
    let mut server = Server::start(&pki.serve_args(&format!("unix://{}", s(&socket))), socket);
    let listening = server.event();
    assert_eq!(listening["event"], "listening");
    assert_eq!(listening["spiffe_id"], "spiffe://example.org/web");
    assert_eq!(listening["socket"], server.endpoint());

    // X.509: the minted SVID, the own and the federated bundle.
    let client = client(&server).await;
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(svid.spiffe_id().to_string(), "spiffe://example.org/web");
    assert_eq!(svid.leaf().as_bytes(), pki.leaf().as_slice());
    let bundles = client.fetch_x509_bundles().await.unwrap();
    assert_eq!(bundles.len(), 2);

    // JWT: a token for the SVID's ID that the server itself validates.
    let token = client
        .fetch_jwt_token(["api"], None)
        .await
        .expect("a JWT-SVID");
    let validated = client.validate_jwt_token("api", &token).await.unwrap();
    assert_eq!(
        validated.spiffe_id().to_string(),
        "spiffe://example.org/web"
    );
    let jwt_bundles = client.fetch_jwt_bundles().await.unwrap();
    let own = jwt_bundles
        .get(&spiffe::TrustDomain::new("example.org").unwrap())
        .expect("the JWT bundle of example.org");
    assert!(own.find_jwt_authority("k1").is_some());

    // Reload: a freshly minted SVID in the same files is served, with a new serial.
    let old_leaf = pki.leaf();
    pki.mint("spiffe://example.org/web", "svid");
    let reloaded = server.event();
    assert_eq!(reloaded["event"], "reloaded");
    assert_ne!(reloaded["serial"], listening["serial"]);
    let new_leaf = pki.leaf();
    assert_ne!(new_leaf, old_leaf);
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(svid.leaf().as_bytes(), new_leaf.as_slice());

    // A bad file is refused with a warning naming it; the previous SVID is still served.
    std::fs::write(pki.path("svid/svid.pem"), b"not a certificate").unwrap();
    let warning = server
        .stderr
        .recv_timeout(PATIENCE)
        .expect("a warning on stderr");
    assert!(
        warning.contains("keeping the previous identity"),
        "{warning}"
    );
    assert!(warning.contains("svid.pem"), "{warning}");
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(svid.leaf().as_bytes(), new_leaf.as_slice());

    // SIGTERM: a clean exit and no socket file left behind.
    drop(client);
    let status = server.sigterm();
    assert!(status.success(), "{status:?}");
    assert!(!server.socket.exists(), "the socket file is removed");
    assert_eq!(server.event()["event"], "stopped");
}

#[test]
fn plain_path_socket_and_refusals() {
    let pki = Pki::new();
    let socket = pki.path("plain.sock");
    let server = Server::start(&pki.serve_args(&s(&socket)), socket.clone());
    assert_eq!(server.event()["event"], "listening");
    assert!(socket.exists());

    // A second server may not take over a live socket.
    let second = run(&pki.serve_args(&s(&socket)));
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("another server is listening"),
        "{}",
        stderr(&second)
    );

    // A key that is not the leaf's is refused at start, naming the files.
    let mut args = pki.serve_args(&s(&pki.path("other.sock")));
    let key = args.iter().position(|a| a == "--key").unwrap() + 1;
    args[key] = s(&pki.path("jwt/svid.key"));
    let refused = run(&args);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains("svid.pem") && message.contains("key"),
        "{message}"
    );
    assert!(!pki.path("other.sock").exists());

    // A server killed outright leaves its socket file; the next one replaces it.
    drop(server);
    assert!(socket.exists(), "SIGKILL leaves the socket file");
    let restarted = Server::start(&pki.serve_args(&s(&socket)), socket.clone());
    assert_eq!(restarted.event()["event"], "listening");

    // A regular file in the way is never removed.
    let file = pki.path("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let blocked = run(&pki.serve_args(&s(&file)));
    assert!(!blocked.status.success());
    assert!(
        stderr(&blocked).contains("not a socket"),
        "{}",
        stderr(&blocked)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // A tcp address is refused: the server listens on Unix sockets only.
    let tcp = run(&pki.serve_args("tcp://127.0.0.1:1"));
    assert!(!tcp.status.success());
    assert!(
        stderr(&tcp).contains("Unix sockets only"),
        "{}",
        stderr(&tcp)
    );
}

/// `spiffe workload fetch|watch` against `spiffe workload serve`.
#[test]
fn fetch_and_watch_commands() {
    use common::{answer, run_stdin, stdout};
    use std::os::unix::fs::PermissionsExt;

    let pki = Pki::new();
    let socket = pki.path("cli.sock");
    let endpoint = format!("unix:{}", s(&socket));
    let server = Server::start(&pki.serve_args(&endpoint), socket);
    let listening = server.event();
    assert_eq!(listening["event"], "listening");

    // fetch x509 --write: SPIRE's file layout, the key owner-only. A symlink planted at the
    // key path is replaced, not written through.
    let out_dir = pki.path("fetched");
    std::fs::create_dir_all(&out_dir).unwrap();
    let victim = pki.path("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, out_dir.join("svid.0.key")).unwrap();
    let fetched = run(&[
        "--output",
        "json",
        "workload",
        "fetch",
        "x509",
        "--socket",
        &endpoint,
        "--write",
        &s(&out_dir),
    ]);
    assert!(fetched.status.success(), "{}", stderr(&fetched));
    let x509 = answer(&fetched);
    assert_eq!(x509["svids"][0]["spiffe_id"], "spiffe://example.org/web");
    assert_eq!(x509["svids"][0]["serial"], listening["serial"]);
    assert_eq!(x509["bundles"].as_array().unwrap().len(), 2);
    let written = spiffe_core::X509Svid::parse_pem(
        &std::fs::read(out_dir.join("svid.0.pem")).unwrap(),
        &std::fs::read(out_dir.join("svid.0.key")).unwrap(),
    )
    .unwrap();
    assert_eq!(written.leaf().der().to_vec(), pki.leaf());
    let mode = std::fs::metadata(out_dir.join("svid.0.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(out_dir.join("svid.0.key"))
        .unwrap()
        .file_type()
        .is_file());
    assert!(out_dir.join("bundle.pem").exists());
    assert!(out_dir.join("federated.other.org.pem").exists());

    // SPIFFE_ENDPOINT_SOCKET is honoured: fetch bundles (X.509 + JWT) as SPIFFE bundle files.
    let bundle_dir = pki.path("bundles");
    let bundles = spiffe()
        .args(["workload", "fetch", "bundles", "--write", &s(&bundle_dir)])
        .env("SPIFFE_ENDPOINT_SOCKET", &endpoint)
        .output()
        .unwrap();
    assert!(bundles.status.success(), "{}", stderr(&bundles));
    assert!(stdout(&bundles).contains("bundle example.org: 1 X.509 authorities, 2 JWT"));

    // fetch jwt prints the token alone; it validates against the fetched bundle.
    let jwt = run(&[
        "workload",
        "fetch",
        "jwt",
        "--socket",
        &endpoint,
        "--audience",
        "api",
    ]);
    assert!(jwt.status.success(), "{}", stderr(&jwt));
    let token = stdout(&jwt).trim().to_owned();
    assert_eq!(token.matches('.').count(), 2, "{token}");
    let bundle_arg = format!("example.org={}", s(&bundle_dir.join("example.org.json")));
    let validated = run_stdin(
        &[
            "jwt",
            "validate",
            "--bundle",
            &bundle_arg,
            "--audience",
            "api",
            "-",
        ],
        token.as_bytes(),
    );
    assert!(validated.status.success(), "{}", stdout(&validated));

    // An identity the workload does not hold: PERMISSION_DENIED, exit 1.
    let denied = run(&[
        "workload",
        "fetch",
        "jwt",
        "--socket",
        &endpoint,
        "--audience",
        "api",
        "--spiffe-id",
        "spiffe://example.org/other",
    ]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied).contains("PERMISSION_DENIED"),
        "{}",
        stderr(&denied)
    );

    // watch: the current SVID, then the rotated one, then stop after --count 2.
    let mut watch = spiffe()
        .args([
            "--output", "json", "workload", "watch", "x509", "--socket", &endpoint, "--count", "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let updates = lines(watch.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&updates.recv_timeout(PATIENCE).unwrap()).unwrap();
    assert_eq!(first["svids"][0]["serial"], listening["serial"]);
    pki.mint("spiffe://example.org/web", "svid");
    let second: Value = serde_json::from_str(&updates.recv_timeout(PATIENCE).unwrap()).unwrap();
    assert_ne!(second["svids"][0]["serial"], listening["serial"]);
    assert_eq!(second["svids"][0]["serial"], server.event()["serial"]);
    assert!(watch.wait().unwrap().success());

    // No address at all is a clear usage failure.
    let unset = spiffe()
        .args(["workload", "fetch", "x509"])
        .env_remove("SPIFFE_ENDPOINT_SOCKET")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(1));
    assert!(
        stderr(&unset).contains("SPIFFE_ENDPOINT_SOCKET"),
        "{}",
        stderr(&unset)
    );
}

/// `fetch --wait`: a workload started before its agent keeps retrying (with backoff) until the
/// Workload API answers; without `--wait` it fails at once, and a wait that runs out fails
/// naming the call.
#[test]
fn fetch_waits_for_the_agent_to_come_up() {
    let pki = Pki::new();
    let socket = pki.path("late.sock");
    let endpoint = format!("unix:{}", s(&socket));
    let fetch = |wait: Option<&str>| {
        let mut args = vec!["workload", "fetch", "x509", "--socket", &endpoint];
        if let Some(wait) = wait {
            args.extend(["--wait", wait]);
        }
        spiffe()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    let once = fetch(None).wait_with_output().unwrap();
    assert!(!once.status.success());
    assert!(stderr(&once).contains("Workload API"), "{}", stderr(&once));
    let ran_out = fetch(Some("1s")).wait_with_output().unwrap();
    assert!(!ran_out.status.success());
    assert!(
        stderr(&ran_out).contains("FetchX509SVID"),
        "{}",
        stderr(&ran_out)
    );

    let waiting = fetch(Some("30s"));
    std::thread::sleep(Duration::from_millis(500));
    let server = Server::start(&pki.serve_args(&endpoint), socket);
    assert_eq!(server.event()["event"], "listening");
    let fetched = waiting.wait_with_output().unwrap();
    assert!(fetched.status.success(), "{}", stderr(&fetched));
    assert!(
        String::from_utf8_lossy(&fetched.stdout).contains("spiffe://example.org/web"),
        "{}",
        String::from_utf8_lossy(&fetched.stdout)
    );
}

/// Runs openssl with `args`, failing the test if it fails.
fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// WAPI-14: a SEC1 (EC) or PKCS#1 (RSA) key file is served as PKCS#8, so every fetch works
/// (before, every fetch failed with INTERNAL "SVID key is not PKCS#8").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec1_and_pkcs1_keys_are_served_as_pkcs8() {
    let pki = Pki::new();
    // EC: the minted PKCS#8 key rewritten as SEC1 ("EC PRIVATE KEY") by openssl.
    let sec1 = s(&pki.path("svid/svid-sec1.key"));
    openssl(&["ec", "-in", &s(&pki.path("svid/svid.key")), "-out", &sec1]);
    assert!(std::fs::read_to_string(&sec1)
        .unwrap()
        .contains("BEGIN EC PRIVATE KEY"));
    // RSA: a 2048-bit key from openssl, certified through a CSR, then written as PKCS#1.
    let rsa_dir = pki.path("rsa");
    std::fs::create_dir_all(&rsa_dir).unwrap();
    let (rsa_key, csr) = (s(&rsa_dir.join("rsa.key")), s(&rsa_dir.join("rsa.csr")));
    openssl(&[
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &rsa_key, "-subj", "/CN=w",
        "-out", &csr,
    ]);
    let (ca, out) = (s(&pki.path("ca")), s(&rsa_dir));
    let minted = run(&[
        "x509",
        "mint",
        "--ca",
        &ca,
        "--id",
        "spiffe://example.org/rsa",
        "--csr",
        &csr,
        "--out",
        &out,
    ]);
    assert!(minted.status.success(), "{}", stderr(&minted));
    let pkcs1 = s(&rsa_dir.join("rsa-pkcs1.key"));
    openssl(&["rsa", "-in", &rsa_key, "-traditional", "-out", &pkcs1]);
    assert!(std::fs::read_to_string(&pkcs1)
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));

    for (svid, key, id) in [
        (
            s(&pki.path("svid/svid.pem")),
            sec1,
            "spiffe://example.org/web",
        ),
        (
            s(&rsa_dir.join("svid.pem")),
            pkcs1,
            "spiffe://example.org/rsa",
        ),
    ] {
        let socket = pki.path("converted.sock");
        let args: Vec<String> = [
            "--output",
            "json",
            "workload",
            "serve",
            "--socket",
            &s(&socket),
            "--svid",
            &svid,
            "--key",
            &key,
            "--bundle",
            &s(&pki.path("ca/bundle.json")),
        ]
        .map(String::from)
        .to_vec();
        let mut server = Server::start(&args, socket);
        assert_eq!(server.event()["event"], "listening");
        let client = client(&server).await;
        let fetched = client.fetch_x509_svid().await.expect("served as PKCS#8");
        assert_eq!(fetched.spiffe_id().to_string(), id);
        drop(client);
        assert!(server.sigterm().success());
    }
}
