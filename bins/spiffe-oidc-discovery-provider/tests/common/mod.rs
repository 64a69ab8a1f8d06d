//! Shared by the process tests: starting the provider binary, HTTP GETs over TCP, a Unix
//! socket or TLS, and a bounded wait for an outcome.
#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Every wait in these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub use spiffe_server::testing::process::free_port;

/// The provider binary Cargo built for these tests.
pub fn provider_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spiffe-oidc-discovery-provider"))
}

/// A running provider; killed on drop.
pub struct ProviderProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
}

impl ProviderProcess {
    /// Writes `config` to `<dir>/oidc.conf`, starts the provider on it and waits for its
    /// `Serving` line.
    pub fn start(dir: &Path, config: &str) -> Self {
        let path = dir.join("oidc.conf");
        std::fs::write(&path, config).unwrap();
        let mut process = Self::spawn(&["-config", path.to_str().unwrap()], &[]);
        assert!(
            process.wait_for_line(TIMEOUT, |l| l.contains("Serving HTTP")),
            "the provider did not start; its output:\n{}",
            process.output()
        );
        process
    }

    /// Starts the binary with `args` and `env`, without waiting.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(provider_bin())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let outputs: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in outputs {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, log, lines }
    }

    /// Waits (at most `timeout`) for a line `matches` accepts.
    pub fn wait_for_line(&mut self, timeout: Duration, matches: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Waits (at most [`TIMEOUT`]) for the exit; its status code and everything printed.
    pub fn wait_exit(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                while self.lines.recv_timeout(Duration::from_millis(200)).is_ok() {}
                return (status.code(), self.output());
            }
            assert!(Instant::now() < deadline, "the provider did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_exit().0
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `path` over `io` with `Host: host` and `extra` headers.
pub async fn get_over<IO>(io: IO, host: &str, path: &str, extra: &[(&str, &str)]) -> Reply
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::get(path).header("host", host);
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let request = request.body(Empty::<Bytes>::new()).unwrap();
    let response = tokio::time::timeout(TIMEOUT, sender.send_request(request))
        .await
        .expect("response in time")
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// GET over TCP to `127.0.0.1:port`.
pub async fn get(port: u16, host: &str, path: &str) -> Reply {
    get_with(port, host, path, &[]).await
}

/// GET over TCP with extra headers.
pub async fn get_with(port: u16, host: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    get_over(stream, host, path, extra).await
}

/// Waits (at most [`TIMEOUT`]) until `check` returns `Some`, trying every 100 ms; panics with
/// `what` otherwise. For outcomes another process produces (a poll, a file reload).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `kid`s in a JWKS document.
pub fn kids(jwks: &serde_json::Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// A public JWK for a new P-256 key with `kid`.
pub fn ec_jwk(kid: &str) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    let key = rcgen::KeyPair::generate().unwrap();
    let point = key.public_key_raw();
    assert_eq!(point.len(), 65, "uncompressed P-256 point");
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    })
}

pub fn python() -> PathBuf {
    let python = std::env::var_os("SPIFFE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv-py/bin/python")
        });
    assert!(
        python.exists(),
        "{} missing: run scripts/test.sh (prerequisites) to install PyJWT",
        python.display()
    );
    python
}

/// Runs PyJWT's relying-party check; its stdout on success, its stderr on failure.
pub async fn pyjwt(discovery: &str, token: &str, audience: &str) -> Result<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyjwt_validate.py");
    let output = tokio::time::timeout(
        TIMEOUT,
        tokio::process::Command::new(python())
            .arg(script)
            .args([discovery, token, audience])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("PyJWT finishes in time")
    .unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
