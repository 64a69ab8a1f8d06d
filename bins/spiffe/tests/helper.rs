//! `spiffe helper` as a built binary, against `spiffe workload serve` (which reloads its files
//! when they change, so minting a new SVID into them is a rotation): one-shot writes with
//! modes, a planted symlink, JWT files that validate against the written JWT bundle, the
//! Workload API down at start, config errors, daemon mode with a shell child (renew signal,
//! JWT refresh at half-life, health endpoints, SIGTERM forwarding, exit status) and with nginx
//! serving TLS from the helper's files.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{run, spiffe, stderr};

/// How long any awaited event may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn s(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// A CA, an SVID for `spiffe://example.org/web` (DNS SAN localhost) in `svid/`, a JWT signing
/// key in `jwt/`, an empty `certs/` for the helper, all in one temp dir.
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
        std::fs::create_dir(pki.path("certs")).unwrap();
        pki
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Mints into `out/` (svid.pem, svid.key): for `svid`, a rotation the server picks up.
    fn mint(&self, id: &str, out: &str) {
        let (ca, out) = (s(&self.path("ca")), s(&self.path(out)));
        let minted = run(&[
            "x509",
            "mint",
            "--ca",
            &ca,
            "--id",
            id,
            "--dns",
            "localhost",
            "--out",
            &out,
        ]);
        assert!(minted.status.success(), "{}", stderr(&minted));
    }

    /// The served leaf certificate (DER).
    fn leaf(&self) -> Vec<u8> {
        leaf_of(&self.path("svid/svid.pem"))
    }

    fn socket(&self) -> PathBuf {
        self.path("agent.sock")
    }

    /// Starts `spiffe workload serve` on `agent.sock`, JWT-SVIDs living `jwt_ttl`; returns
    /// once it listens.
    fn serve(&self, jwt_ttl: &str) -> Proc {
        self.serve_with(jwt_ttl, &[])
    }

    /// [`Self::serve`] with more `workload serve` arguments (e.g. `--federated`).
    fn serve_with(&self, jwt_ttl: &str, extra: &[&str]) -> Proc {
        let server = Proc::spawn(
            spiffe()
                .args([
                    "--output",
                    "json",
                    "workload",
                    "serve",
                    "--socket",
                    &format!("unix://{}", s(&self.socket())),
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
                    "--jwt-ttl",
                    jwt_ttl,
                ])
                .args(extra),
        );
        let line = server.stdout_line();
        assert!(line.contains("listening"), "{line}");
        server
    }

    /// Writes `helper.conf` with the Workload API, the X.509 file names and `extra` lines.
    fn config(&self, extra: &str) -> PathBuf {
        let path = self.path("helper.conf");
        let text = format!(
            "agent_address = \"{}\"\ncert_dir = \"{}\"\nsvid_file_name = \"svid.pem\"\n\
             svid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"svid_bundle.pem\"\n{extra}\n",
            s(&self.socket()),
            s(&self.path("certs")),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn helper(&self, args: &[&str]) -> Proc {
        Proc::spawn(
            spiffe()
                .arg("helper")
                .args(args)
                .current_dir(self.dir.path()),
        )
    }
}

/// The first certificate of a PEM file (DER).
fn leaf_of(path: &Path) -> Vec<u8> {
    first_pem_cert(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn first_pem_cert(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let body = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
    let end = body.find("-----END CERTIFICATE-----")?;
    let b64: String = body[..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// A child process whose stdout and stderr are read line by line; killed on drop.
struct Proc {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
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
            seen: Vec::new(),
        }
    }

    fn stdout_line(&self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .expect("a line on stdout")
    }

    /// Waits for a stderr line containing `needle`; returns it.
    fn expect_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; seen: {:#?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit; returns its code and everything it logged.
    fn wait(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        (status.code(), self.seen.join("\n"))
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
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

/// Polls `check` every 100 ms until it holds; panics with `what` after PATIENCE.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP GET on loopback: the status code.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn one_shot_writes_files_with_modes_and_a_jwt_that_validates() {
    let pki = Pki::new();
    let _server = pki.serve("5m");
    // A symlink planted where the key goes: it must be replaced, its target left alone.
    let victim = pki.path("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&victim, pki.path("certs/svid_key.pem")).unwrap();
    let config = pki.config(
        "daemon_mode = false\ncert_file_mode = 0640\njwt_bundle_file_mode = 0644\n\
         jwt_svids = [{jwt_audience=\"api\", jwt_extra_audiences=[\"db\"], jwt_svid_file_name=\"api.token\"}]\n\
         jwt_bundle_file_name = \"jwt_bundle.json\"",
    );
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("ready"), "{log}");

    let certs = pki.path("certs");
    assert_eq!(mode(&certs.join("svid.pem")), 0o640);
    assert_eq!(mode(&certs.join("svid_bundle.pem")), 0o640);
    assert_eq!(mode(&certs.join("svid_key.pem")), 0o600);
    assert_eq!(mode(&certs.join("jwt_bundle.json")), 0o644);
    assert_eq!(mode(&certs.join("api.token")), 0o600);
    assert!(std::fs::symlink_metadata(certs.join("svid_key.pem"))
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(mode(&victim), 0o644);

    // The written SVID is the served one, with its key; the bundle verifies it.
    let svid = spiffe_core::X509Svid::parse_pem(
        &std::fs::read(certs.join("svid.pem")).unwrap(),
        &std::fs::read(certs.join("svid_key.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(svid.leaf().der().as_ref(), pki.leaf().as_slice());
    let verified = run(&[
        "x509",
        "verify",
        "--bundle",
        &format!("example.org={}", s(&certs.join("svid_bundle.pem"))),
        &s(&certs.join("svid.pem")),
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // The JWT bundle file maps the trust domain to base64 of its JWKS; the token validates
    // against it for both audiences, and not for another.
    let bundles: serde_json::Value =
        serde_json::from_slice(&std::fs::read(certs.join("jwt_bundle.json")).unwrap()).unwrap();
    let jwks = base64::engine::general_purpose::STANDARD
        .decode(bundles["example.org"].as_str().unwrap())
        .unwrap();
    std::fs::write(pki.path("jwks.json"), jwks).unwrap();
    let validate = |audience: &str| {
        run(&[
            "jwt",
            "validate",
            "--bundle",
            &format!("example.org={}", s(&pki.path("jwks.json"))),
            "--audience",
            audience,
            &std::fs::read_to_string(certs.join("api.token")).unwrap(),
        ])
    };
    for audience in ["api", "db"] {
        let valid = validate(audience);
        assert!(valid.status.success(), "{}", stderr(&valid));
    }
    assert!(!validate("other").status.success());
}

/// The bundle file: the own trust domain's CAs; with `include_federated_domains` the federated
/// ones too; with `add_intermediates_to_bundle` the SVID file holds the leaf alone.
#[test]
fn one_shot_bundle_options() {
    let pki = Pki::new();
    let other = s(&pki.path("other-ca"));
    let init = run(&["ca", "init", "--trust-domain", "other.org", "--dir", &other]);
    assert!(init.status.success(), "{}", stderr(&init));
    let federated = format!("other.org={other}/bundle.json");
    let _server = pki.serve_with("5m", &["--federated", &federated]);
    let certs_in = |name: &str| {
        std::fs::read_to_string(pki.path("certs").join(name))
            .unwrap()
            .matches("-----BEGIN CERTIFICATE-----")
            .count()
    };
    let config = pki.config("daemon_mode = false");
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(0), "{log}");
    let (own, chain) = (certs_in("svid_bundle.pem"), certs_in("svid.pem"));

    let config = pki.config(
        "daemon_mode = false\ninclude_federated_domains = true\nadd_intermediates_to_bundle = true",
    );
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(certs_in("svid.pem"), 1, "the leaf alone");
    let other_cas = std::fs::read_to_string(format!("{other}/bundle.json"))
        .unwrap()
        .matches("\"x5c\"")
        .count();
    assert!(other_cas >= 1);
    assert_eq!(certs_in("svid_bundle.pem"), own + (chain - 1) + other_cas);

    // A hint no SVID carries: a clear failure, not a wait.
    let config = pki.config("daemon_mode = false\nhint = \"db\"");
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("no X.509-SVID with hint \"db\""), "{log}");
}

#[test]
fn workload_api_down_at_start_then_up() {
    let pki = Pki::new();
    let config = pki.config("");
    // One-shot by flag, overriding the config's default daemon mode.
    let mut helper = pki.helper(&["-config", &s(&config), "-daemon-mode=false"]);
    helper.expect_log("retrying");
    assert!(!pki.path("certs/svid.pem").exists());
    // Interrupted before writing: a failure, not success.
    helper.signal("TERM");
    let (code, log) = helper.wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("before every file was written"), "{log}");

    let mut helper = pki.helper(&["-config", &s(&config), "-exitWhenReady"]);
    helper.expect_log("retrying");
    let _server = pki.serve("5m");
    let (code, log) = helper.wait();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(leaf_of(&pki.path("certs/svid.pem")), pki.leaf());
}

#[test]
fn config_errors_are_named() {
    let pki = Pki::new();
    // An unknown key: named with its line.
    let config = pki.config("daemon_mode = false\nsvid_fle_name = \"x\"");
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("svid_fle_name") && log.contains("line 7"),
        "{log}"
    );

    // A key mode that lets every user read the key.
    let config = pki.config("key_file_mode = 0644");
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("key_file_mode"), "{log}");

    // No config file: the default helper.conf in the working directory is looked for.
    std::fs::remove_file(&config).unwrap();
    let (code, log) = pki.helper(&["-exitWhenReady"]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("helper.conf"), "{log}");

    // A cert_dir that does not exist: a clear reason, nothing running.
    let config = pki.config("daemon_mode = false");
    std::fs::remove_dir(pki.path("certs")).unwrap();
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("cert_dir") && log.contains("not a directory"),
        "{log}"
    );

    // pid_file_name in one-shot mode is refused, as spiffe-helper does.
    std::fs::create_dir(pki.path("certs")).unwrap();
    let config =
        pki.config("daemon_mode = false\npid_file_name = \"x.pid\"\nrenew_signal = \"SIGHUP\"");
    let (code, log) = pki.helper(&["-config", &s(&config)]).wait();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("pid_file_name"), "{log}");

    // An unknown flag: Go's message, usage status.
    let (code, log) = pki.helper(&["-nope"]).wait();
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains("flag provided but not defined: -nope"),
        "{log}"
    );
}

/// Daemon mode with a shell as `cmd`: it is started after the first write, gets
/// `renew_signal` on each rotation and JWT refresh, SIGTERM is passed on to it, and its exit
/// status becomes the helper's. `/ready` answers 503 until the first complete write.
#[test]
fn daemon_signals_the_child_and_exits_with_its_status() {
    let pki = Pki::new();
    let renewals = pki.path("renewals");
    let port = free_port();
    let script = format!(
        "trap 'echo renewed >> {}' HUP; trap 'exit 7' TERM; echo started >> {}; while :; do sleep 0.1; done",
        s(&renewals),
        s(&renewals)
    );
    let config = pki.config(&format!(
        "cmd = \"/bin/sh\"\ncmd_args = \"-c \\\"{script}\\\"\"\nrenew_signal = \"SIGHUP\"\n\
         jwt_svids = [{{jwt_audience=\"api\", jwt_svid_file_name=\"api.token\"}}]\n\
         health_checks {{\n  listener_enabled = true\n  bind_address = \"127.0.0.1\"\n  bind_port = {port}\n}}"
    ));
    let mut helper = pki.helper(&["-config", &s(&config)]);
    eventually("the health listener", || {
        http_status(port, "/live") == Some(200)
    });
    assert_eq!(http_status(port, "/ready"), Some(503));
    assert!(
        !renewals.exists(),
        "cmd is not started before the files are written"
    );

    // JWT-SVIDs live 4s: refreshed at half-life, each refresh signalling the child.
    let server = pki.serve("4s");
    helper.expect_log("started cmd");
    assert_eq!(http_status(port, "/ready"), Some(200));
    let count = |word: &str| {
        std::fs::read_to_string(&renewals)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == word)
            .count()
    };
    eventually("the child to start", || count("started") == 1);
    let first_token = std::fs::read_to_string(pki.path("certs/api.token")).unwrap();
    helper.expect_log("sent SIGHUP to cmd");
    eventually("a refreshed JWT-SVID", || {
        std::fs::read_to_string(pki.path("certs/api.token")).unwrap() != first_token
    });

    // An X.509 rotation: new files, and the child is signalled, not restarted.
    let old = pki.leaf();
    pki.mint("spiffe://example.org/web", "svid");
    let new = pki.leaf();
    assert_ne!(old, new);
    eventually("the rotated SVID on disk", || {
        leaf_of(&pki.path("certs/svid.pem")) == new
    });
    let before = count("renewed");
    eventually("a renewal signal", || count("renewed") > before);
    assert_eq!(count("started"), 1);

    // The Workload API goes away: the helper retries and keeps the last files; when it is
    // back, the next rotation is written.
    drop(server);
    helper.expect_log("keeping the last files");
    assert_eq!(leaf_of(&pki.path("certs/svid.pem")), new);
    let _server = pki.serve("4s");
    pki.mint("spiffe://example.org/web", "svid");
    let third = pki.leaf();
    eventually("the SVID rotated after the restart on disk", || {
        leaf_of(&pki.path("certs/svid.pem")) == third
    });
    assert_eq!(count("started"), 1);

    // SIGTERM is passed on; the child's status (7) becomes the helper's.
    helper.signal("TERM");
    let (code, log) = helper.wait();
    assert_eq!(code, Some(7), "{log}");
}

/// The nginx binary: on PATH or in /usr/sbin (scripts/test.sh installs nginx-light).
fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is installed (scripts/test.sh installs nginx-light)")
}

/// The leaf certificate nginx presents on `port` (DER), via `openssl s_client`.
fn served_leaf(port: u16) -> Option<Vec<u8>> {
    let output = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    first_pem_cert(&String::from_utf8_lossy(&output.stdout))
}

/// nginx started by the helper (`cmd`), serving TLS from its files on a loopback port; after a
/// rotation and SIGHUP, `openssl s_client` sees the new certificate from the same master.
#[test]
fn daemon_nginx_serves_the_rotated_certificate_after_sighup() {
    let pki = Pki::new();
    let port = free_port();
    let dir = pki.path("nginx");
    std::fs::create_dir(&dir).unwrap();
    let d = s(&dir);
    let certs = s(&pki.path("certs"));
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {certs}/svid.pem;\n\
             ssl_certificate_key {certs}/svid_key.pem;\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let config = pki.config(&format!(
        "cmd = \"{}\"\ncmd_args = \"-p {d} -c {d}/nginx.conf -e {d}/error.log\"\nrenew_signal = \"SIGHUP\"",
        s(&nginx())
    ));
    let _server = pki.serve("5m");
    let mut helper = pki.helper(&["-config", &s(&config)]);
    helper.expect_log("started cmd");
    let old = pki.leaf();
    eventually("nginx serving the first SVID", || {
        served_leaf(port) == Some(old.clone())
    });
    let master = std::fs::read_to_string(dir.join("nginx.pid")).unwrap();

    pki.mint("spiffe://example.org/web", "svid");
    let new = pki.leaf();
    assert_ne!(old, new);
    helper.expect_log("sent SIGHUP to cmd");
    eventually("nginx serving the rotated SVID", || {
        served_leaf(port) == Some(new.clone())
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("nginx.pid")).unwrap(),
        master,
        "nginx reloaded, not restarted"
    );

    // SIGTERM reaches nginx (a fast shutdown, status 0), whose status is the helper's.
    helper.signal("TERM");
    let (code, log) = helper.wait();
    assert_eq!(code, Some(0), "{log}");
    eventually("nginx to stop listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
}

/// The newest PostgreSQL bin directory (scripts/test.sh installs `postgresql`).
fn postgres_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/test.sh installs postgresql)")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("a PostgreSQL bin directory with pg_ctl")
}

/// `id -u`/`id -g` of `user` (the current user when empty).
fn id_of(user: &str, flag: &str) -> u32 {
    let mut id = Command::new("id");
    id.arg(flag);
    if !user.is_empty() {
        id.arg(user);
    }
    let out = id.output().unwrap();
    assert!(out.status.success(), "no user {user}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Runs a PostgreSQL program as the cluster owner: `postgres` when the tests run as root
/// (PostgreSQL refuses root), else the current user.
fn as_owner(program: &Path, args: &[&str]) -> std::process::Output {
    let mut command = if id_of("", "-u") == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).stdin(Stdio::null()).output().unwrap()
}

/// A cluster started by the test, stopped (fast) when dropped.
struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_owner(
            &self.pg_ctl,
            &[
                "-D",
                &s(&self.data),
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            ],
        );
    }
}

/// The leaf certificate PostgreSQL presents on `port` (DER), via `openssl s_client -starttls
/// postgres`.
fn postgres_leaf(port: u16) -> Option<Vec<u8>> {
    let output = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-starttls",
            "postgres",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    first_pem_cert(&String::from_utf8_lossy(&output.stdout))
}

/// PostgreSQL with `ssl = on` from the helper's files and `pid_file_name` = postmaster.pid:
/// after a rotation the helper sends SIGHUP to the postmaster, which then presents the new
/// certificate; `psql` with `sslmode=verify-full` against the written bundle, authenticating
/// with another SVID as its client certificate, connects before and after.
#[test]
fn daemon_postgres_reloads_its_certificate_from_the_pid_file() {
    let pki = Pki::new();
    pki.mint("spiffe://example.org/client", "client");
    let bin = postgres_bin();
    let root = id_of("", "-u") == 0;
    // A directory the cluster owner can traverse: the helper's files and the data directory.
    let pg = tempfile::tempdir().unwrap();
    std::fs::set_permissions(pg.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let certs = pg.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::set_permissions(&certs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = pg.path().join("data");
    if root {
        std::fs::create_dir(&data).unwrap();
        let chown = Command::new("chown")
            .args(["postgres", &s(&data)])
            .status()
            .unwrap();
        assert!(chown.success());
    }
    let initdb = as_owner(
        &bin.join("initdb"),
        &[
            "-D",
            &s(&data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ],
    );
    assert!(initdb.status.success(), "{}", stderr(&initdb));
    // SSL only, with a client certificate chaining to the bundle.
    std::fs::write(
        data.join("pg_hba.conf"),
        "hostssl all all 127.0.0.1/32 trust clientcert=verify-ca\n",
    )
    .unwrap();

    // The helper writes the key owned by root with group read (0640) when the cluster runs
    // as `postgres`: PostgreSQL accepts a root-owned key of mode 0640, and the helper runs
    // with the postgres group so the new files belong to it.
    let key_mode = if root { "0640" } else { "0600" };
    let config_path = pki.path("helper.conf");
    std::fs::write(
        &config_path,
        format!(
            "agent_address = \"{}\"\ncert_dir = \"{}\"\nsvid_file_name = \"server.crt\"\n\
             svid_key_file_name = \"server.key\"\nsvid_bundle_file_name = \"root.crt\"\n\
             key_file_mode = {key_mode}\npid_file_name = \"{}\"\nrenew_signal = \"SIGHUP\"\n",
            s(&pki.socket()),
            s(&certs),
            s(&data.join("postmaster.pid")),
        ),
    )
    .unwrap();
    let _server = pki.serve("5m");
    let mut command = spiffe();
    command.args(["helper", "-config", &s(&config_path)]);
    if root {
        use std::os::unix::process::CommandExt;
        command.gid(id_of("postgres", "-g"));
    }
    let mut helper = Proc::spawn(&mut command);
    helper.expect_log("ready");

    let port = free_port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c ssl=on \
         -c ssl_cert_file={c}/server.crt -c ssl_key_file={c}/server.key -c ssl_ca_file={c}/root.crt",
        s(&data),
        c = s(&certs)
    );
    let log = pg.path().join("postgres.log");
    if root {
        std::fs::write(&log, b"").unwrap();
        let chown = Command::new("chown")
            .args(["postgres", &s(&log)])
            .status()
            .unwrap();
        assert!(chown.success());
    }
    let started = as_owner(
        &bin.join("pg_ctl"),
        &[
            "-D",
            &s(&data),
            "-l",
            &s(&log),
            "-o",
            &options,
            "-w",
            "-t",
            "60",
            "start",
        ],
    );
    let _cluster = Cluster {
        pg_ctl: bin.join("pg_ctl"),
        data: data.clone(),
    };
    assert!(
        started.status.success(),
        "{}{}",
        stderr(&started),
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let psql = || {
        let conninfo = format!(
            "host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres \
             sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            s(&certs.join("root.crt")),
            s(&pki.path("client/svid.pem")),
            s(&pki.path("client/svid.key")),
        );
        Command::new("timeout")
            .args(["10", &s(&bin.join("psql")), &conninfo, "-Atc", "select 42"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let old = pki.leaf();
    assert_eq!(postgres_leaf(port), Some(old.clone()));
    let first = psql();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(common::stdout(&first).trim(), "42");

    pki.mint("spiffe://example.org/web", "svid");
    let new = pki.leaf();
    assert_ne!(old, new);
    helper.expect_log("sent SIGHUP to pid");
    eventually("PostgreSQL presenting the rotated SVID", || {
        postgres_leaf(port) == Some(new.clone())
    });
    let after = psql();
    assert!(after.status.success(), "{}", stderr(&after));
    assert_eq!(common::stdout(&after).trim(), "42");
}
