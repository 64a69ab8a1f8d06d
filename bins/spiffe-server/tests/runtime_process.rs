//! `spiffe-server` as a process: the quickstart config, configuration errors, signals, restarts,
//! the listeners' access rules, Logger, health and metrics.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use spiffe_server::datastore::{DataStore, SqlDataStore, SqlSettings};
use spiffe_server::testing::process::{free_port, KeyManagerKind, ServerConfigFile, ServerProcess};
use spiffe_server::testing::td;

fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_spiffe-server"))
}

/// Runs the binary to completion: (exit code, stdout, stderr).
fn run(args: &[&str], cwd: Option<&Path>) -> (i32, String, String) {
    let mut command = Command::new(bin());
    command.args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let out = command.output().expect("run spiffe-server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn stored_x509_authorities(sqlite: &Path) -> Vec<Vec<u8>> {
    let store = SqlDataStore::open(&SqlSettings::sqlite(sqlite))
        .await
        .expect("open the server's datastore");
    let bundle = store
        .get_bundle(&td("example.org"))
        .await
        .expect("read bundle")
        .expect("the server published its bundle");
    bundle.x509_authorities.into_iter().map(|a| a.der).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_config_starts_is_healthy_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf/server");
    std::fs::create_dir_all(&conf).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/server");
    for f in [
        "server.conf",
        "dummy_upstream_ca.crt",
        "dummy_upstream_ca.key",
    ] {
        std::fs::copy(repo.join(f), conf.join(f)).expect("copy quickstart file");
    }
    let (code, out, err) = run(&["validate"], Some(dir.path()));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "SPIRE server configuration file is valid.\n", "")
    );

    // The quickstart's socket and port are fixed; the flags override them (as SPIRE's do).
    let socket = dir.path().join("api.sock");
    let port = free_port();
    let args: Vec<String> = vec![
        "run".into(),
        "-socketPath".into(),
        socket.display().to_string(),
        "-serverPort".into(),
        port.to_string(),
    ];
    let mut server = ServerProcess::start_in(
        &bin(),
        Some(dir.path()),
        &args,
        socket.clone(),
        ([127, 0, 0, 1], port).into(),
    )
    .expect("start the quickstart server");
    assert!(
        server
            .output()
            .contains(&format!("address=\"127.0.0.1:{port}\""))
            || server
                .output()
                .contains(&format!("address=127.0.0.1:{port}")),
        "{}",
        server.output()
    );

    let sock = socket.display().to_string();
    let (code, out, err) = run(&["healthcheck", "-socketPath", &sock], None);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "Server is healthy.\n", "")
    );
    let (code, out, _) = run(&["healthcheck", "-socketPath", &sock, "-verbose"], None);
    assert_eq!(
        (code, out.as_str()),
        (0, "Checking server health...\nServer is healthy.\n")
    );

    let status = server.terminate().expect("stop");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(server.output().contains("Server stopped gracefully"));
    assert!(!socket.exists(), "the socket is removed on a clean stop");

    // The CA is an intermediate under the dummy upstream: the bundle holds the upstream root.
    let root_pem = std::fs::read(conf.join("dummy_upstream_ca.crt")).expect("read root");
    let root = spiffe_core::x509::parse_certificates(&root_pem).expect("root");
    let authorities = stored_x509_authorities(&dir.path().join(".data/datastore.sqlite3")).await;
    assert_eq!(authorities, vec![root[0].der().to_vec()]);

    let (code, _, err) = run(&["healthcheck", "-socketPath", &sock], None);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error: server is unhealthy: unable to determine health\n"
    );
}

#[test]
fn bad_configs_are_refused_with_the_key_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = ServerConfigFile::new(dir.path()).render();
    // The line the KeyManager block starts on, counted in the rendered file.
    let km_line = base
        .lines()
        .position(|l| l.contains("KeyManager \"memory\""))
        .expect("KeyManager block")
        + 1;
    let cases = [
        (
            base.replacen("    log_level", "    bind_prot = 1\n    log_level", 1),
            "unknown key \"bind_prot\" in server block at line 7".to_owned(),
        ),
        (
            base.replace("KeyManager \"memory\"", "KeyManager \"nope\""),
            format!("unknown KeyManager plugin \"nope\" (line {km_line})"),
        ),
        (
            base.replace("KeyManager \"memory\"", "KeyManager \"aws_kms\""),
            format!("KeyManager \"aws_kms\" is a SPIRE plugin this implementation does not provide (line {km_line})"),
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.conf"));
        std::fs::write(&path, text).expect("write");
        let p = path.display().to_string();
        let (code, out, err) = run(&["run", "-config", &p], None);
        assert_eq!(code, 1, "{text}");
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!("unable to decode configuration at \"{p}\": {expected}\n"),
            "{text}"
        );
        let (code, out, err) = run(&["validate", "-config", &p], None);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            format!("SPIRE server configuration file is invalid: unable to decode configuration at \"{p}\": {expected}\n")
        );
    }
    let missing = dir.path().join("absent.conf");
    let (code, _, err) = run(&["run", "-config", &missing.display().to_string()], None);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "could not find config file {}: please use the -config flag\n",
            missing.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfigFile::new(dir.path());
    config.key_manager = KeyManagerKind::Disk;
    let mut server = ServerProcess::start(&bin(), &config).expect("start");
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
    let first = stored_x509_authorities(&config.sqlite_path()).await;
    assert_eq!(first.len(), 1);

    let mut server = ServerProcess::start(&bin(), &config).expect("restart");
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
    let second = stored_x509_authorities(&config.sqlite_path()).await;
    assert_eq!(
        first, second,
        "the restarted server resumed its CA: no new authority"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_key_manager_starts_a_new_ca_on_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfigFile::new(dir.path());
    let mut server = ServerProcess::start(&bin(), &config).expect("start");
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
    let mut server = ServerProcess::start(&bin(), &config).expect("restart");
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
    // Both CAs' roots stay in the bundle until they expire.
    assert_eq!(
        stored_x509_authorities(&config.sqlite_path()).await.len(),
        2
    );
}

/// An HTTP/1.0 GET on loopback: (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_health_metrics_and_audit() {
    use spire_api_proto::server::logger::v1::{
        logger_client::LoggerClient, GetLoggerRequest, ResetLogLevelRequest, SetLogLevelRequest,
    };
    use spire_api_proto::types::LogLevel;

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfigFile::new(dir.path());
    config.health_port = Some(free_port());
    config.prometheus_port = Some(free_port());
    config.audit_log_enabled = true;
    let mut server = ServerProcess::start(&bin(), &config).expect("start");

    let mut logger = LoggerClient::new(server.admin_channel().await);
    let state = logger
        .get_logger(GetLoggerRequest {})
        .await
        .expect("GetLogger")
        .into_inner();
    assert_eq!(
        (state.current_level, state.launch_level),
        (LogLevel::Info as i32, LogLevel::Info as i32)
    );
    let state = logger
        .set_log_level(SetLogLevelRequest {
            new_level: LogLevel::Debug as i32,
        })
        .await
        .expect("SetLogLevel")
        .into_inner();
    assert_eq!(state.current_level, LogLevel::Debug as i32);
    let err = logger
        .set_log_level(SetLogLevelRequest { new_level: 0 })
        .await
        .expect_err("UNSPECIFIED is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let state = logger
        .reset_log_level(ResetLogLevelRequest {})
        .await
        .expect("Reset")
        .into_inner();
    assert_eq!(state.current_level, LogLevel::Info as i32);

    // The audit line of the refused SetLogLevel, with SPIRE's fields.
    assert!(
        server.wait_for_line(std::time::Duration::from_secs(10), |l| l
            .contains("type=audit")
            && l.contains("method=SetLogLevel")
            && l.contains("status=error")
            && l.contains("status_code=InvalidArgument")
            && l.contains("caller_uid=")),
        "{}",
        server.output()
    );

    let health_port = config.health_port.expect("set");
    let (status, body) = http_get(health_port, "/ready");
    assert_eq!(status, "HTTP/1.0 200 OK", "{body}");
    assert_eq!(body, "{\"catalog.datastore\":{},\"server.ca\":{}}\n");
    let (status, _) = http_get(health_port, "/live");
    assert_eq!(status, "HTTP/1.0 200 OK");

    let (status, metrics) = http_get(config.prometheus_port.expect("set"), "/metrics");
    assert_eq!(status, "HTTP/1.0 200 OK");
    assert!(
        metrics.contains("spire_server_rpc_logger_v1_logger_get_logger{status=\"OK\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "spire_server_rpc_logger_v1_logger_set_log_level{status=\"InvalidArgument\"} 1\n"
        ),
        "{metrics}"
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

/// Every RPC the TCP listener routes, for an unauthenticated TLS caller: only `AttestAgent`
/// and `GetBundle` get past authorization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_tcp_callers_reach_only_attest_agent_and_get_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfigFile::new(dir.path());
    let mut server = ServerProcess::start(&bin(), &config).expect("start");

    let bundle = stored_x509_authorities(&config.sqlite_path()).await;
    let x509 = spiffe_core::X509Bundle::from_der_authorities(
        td("example.org"),
        bundle
            .into_iter()
            .map(spiffe_core::pki_types::CertificateDer::from),
    )
    .expect("bundle");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server_id = spiffe_core::SpiffeId::new("spiffe://example.org/spire/server").expect("id");
    let mut tls = spiffe_tls::tls_client_config(
        provider,
        Arc::new(x509),
        spiffe_tls::Authorizer::exact(server_id),
    )
    .expect("client config");
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = spiffe_tls::hyper::SpiffeConnector::new(Arc::new(tls));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", config.tcp_addr()))
        .expect("uri")
        .connect_with_connector(connector)
        .await
        .expect("TLS connection without a client certificate");

    let mut grpc = tonic::client::Grpc::new(channel);
    let mut reached = Vec::new();
    for (path, _) in TCP_METHODS.iter().map(|m| (*m, ())) {
        grpc.ready().await.expect("ready");
        let request = tonic::Request::new(());
        let result: Result<tonic::Response<()>, tonic::Status> = grpc
            .unary(
                request,
                http::uri::PathAndQuery::from_static(path),
                EmptyCodec,
            )
            .await;
        let code = result.err().map_or(tonic::Code::Ok, |s| s.code());
        if code != tonic::Code::PermissionDenied {
            reached.push(path);
        }
    }
    assert_eq!(
        reached,
        [
            "/spire.api.server.agent.v1.Agent/AttestAgent",
            "/spire.api.server.bundle.v1.Bundle/GetBundle"
        ]
    );
    assert_eq!(server.terminate().expect("stop").code(), Some(0));
}

const TCP_METHODS: &[&str] = &[
    "/spire.api.server.agent.v1.Agent/CountAgents",
    "/spire.api.server.agent.v1.Agent/ListAgents",
    "/spire.api.server.agent.v1.Agent/GetAgent",
    "/spire.api.server.agent.v1.Agent/DeleteAgent",
    "/spire.api.server.agent.v1.Agent/BanAgent",
    "/spire.api.server.agent.v1.Agent/AttestAgent",
    "/spire.api.server.agent.v1.Agent/RenewAgent",
    "/spire.api.server.agent.v1.Agent/PostStatus",
    "/spire.api.server.agent.v1.Agent/CreateJoinToken",
    "/spire.api.server.bundle.v1.Bundle/GetBundle",
    "/spire.api.server.bundle.v1.Bundle/AppendBundle",
    "/spire.api.server.bundle.v1.Bundle/PublishJWTAuthority",
    "/spire.api.server.bundle.v1.Bundle/CountBundles",
    "/spire.api.server.bundle.v1.Bundle/ListFederatedBundles",
    "/spire.api.server.bundle.v1.Bundle/GetFederatedBundle",
    "/spire.api.server.bundle.v1.Bundle/BatchCreateFederatedBundle",
    "/spire.api.server.bundle.v1.Bundle/BatchUpdateFederatedBundle",
    "/spire.api.server.bundle.v1.Bundle/BatchSetFederatedBundle",
    "/spire.api.server.bundle.v1.Bundle/BatchDeleteFederatedBundle",
    "/spire.api.server.debug.v1.Debug/GetInfo",
    "/spire.api.server.entry.v1.Entry/CountEntries",
    "/spire.api.server.entry.v1.Entry/ListEntries",
    "/spire.api.server.entry.v1.Entry/GetEntry",
    "/spire.api.server.entry.v1.Entry/BatchCreateEntry",
    "/spire.api.server.entry.v1.Entry/BatchUpdateEntry",
    "/spire.api.server.entry.v1.Entry/BatchDeleteEntry",
    "/spire.api.server.entry.v1.Entry/GetAuthorizedEntries",
    "/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries",
    "/spire.api.server.logger.v1.Logger/GetLogger",
    "/spire.api.server.svid.v1.SVID/MintX509SVID",
    "/spire.api.server.svid.v1.SVID/MintJWTSVID",
    "/spire.api.server.svid.v1.SVID/BatchNewX509SVID",
    "/spire.api.server.svid.v1.SVID/NewJWTSVID",
    "/spire.api.server.svid.v1.SVID/NewDownstreamX509CA",
    "/spire.api.server.trustdomain.v1.TrustDomain/ListFederationRelationships",
    "/spire.api.server.trustdomain.v1.TrustDomain/BatchCreateFederationRelationship",
    "/spire.api.server.localauthority.v1.LocalAuthority/GetX509AuthorityState",
    "/spire.api.server.localauthority.v1.LocalAuthority/PrepareX509Authority",
    "/grpc.health.v1.Health/Check",
    "/spire.api.server.entry.v1.Entry/DropAll",
];

/// A codec sending an empty message and ignoring the answer: enough to see the status.
#[derive(Debug, Clone, Copy, Default)]
struct EmptyCodec;

impl tonic::codec::Codec for EmptyCodec {
    type Encode = ();
    type Decode = ();
    type Encoder = EmptyCodec;
    type Decoder = EmptyCodec;

    fn encoder(&mut self) -> Self::Encoder {
        EmptyCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        EmptyCodec
    }
}

impl tonic::codec::Encoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl tonic::codec::Decoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf;
        let n = buf.remaining();
        buf.advance(n);
        Ok(Some(()))
    }
}
