//! The provider with the Workload API as its key source (an in-process Workload API server
//! from `spiffe-workload`'s kit, whose JWT bundles the test changes), served over each kind of
//! listener: plain HTTP on TCP, a Unix socket, and HTTPS from files that are reloaded when they
//! change; and the health endpoints.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{ec_jwk, eventually, free_port, get, get_over, kids, ProviderProcess};
use spiffe_core::SpiffeId;
use spiffe_core::{JwtBundle, TrustDomain};
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, WorkloadApiServer,
    X509Context,
};
use tokio::sync::{oneshot, watch};

/// A Workload API that serves only JWT bundles, which the test replaces.
struct Bundles {
    bundles: Mutex<Vec<Arc<JwtBundle>>>,
    changes: watch::Sender<()>,
}

impl Bundles {
    fn set(&self, bundles: Vec<JwtBundle>) {
        *self.bundles.lock().unwrap() = bundles.into_iter().map(Arc::new).collect();
        self.changes.send_replace(());
    }
}

impl IdentityProvider for Bundles {
    async fn x509_context(&self, _: &CallerInfo) -> Result<X509Context, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    async fn jwt_svids(
        &self,
        _: &CallerInfo,
        _: &[String],
        _: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        Err(ProviderError::NoIdentity)
    }

    async fn jwt_bundles(&self, _: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        Ok(self.bundles.lock().unwrap().clone())
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

fn bundle(trust_domain: &str, keys: &[serde_json::Value]) -> JwtBundle {
    let jwks = serde_json::json!({ "keys": keys });
    JwtBundle::parse_jwks(
        TrustDomain::new(trust_domain).unwrap(),
        jwks.to_string().as_bytes(),
    )
    .unwrap()
}

/// A Workload API server on `<dir>/agent.sock`, stopped when the sender is dropped.
fn start_workload_api(dir: &Path) -> (Arc<Bundles>, PathBuf, oneshot::Sender<()>) {
    let socket = dir.join("agent.sock");
    let provider = Arc::new(Bundles {
        bundles: Mutex::new(Vec::new()),
        changes: watch::channel(()).0,
    });
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = WorkloadApiServer::new(provider.clone());
    tokio::spawn(async move {
        let _ = server
            .serve_unix(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    (provider, socket, stop)
}

fn workload_source(socket: &Path) -> String {
    format!(
        "workload_api {{\n    socket_path = \"{}\"\n    trust_domain = \"example.org\"\n    poll_interval = \"200ms\"\n}}\n",
        socket.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_api_keys_of_the_trust_domain_follow_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, socket, _stop) = start_workload_api(dir.path());
    let (a, other) = (ec_jwk("key-a"), ec_jwk("other-td-key"));
    agent.set(vec![
        bundle("example.org", std::slice::from_ref(&a)),
        bundle("other.org", &[other]),
    ]);
    let port = free_port();
    let _provider = ProviderProcess::start(
        dir.path(),
        &format!(
            "domains = [\"localhost\"]\ninsecure_addr = \"127.0.0.1:{port}\"\nset_key_use = true\n{}",
            workload_source(&socket)
        ),
    );
    let jwks = eventually("the first keys", || async {
        let reply = get(port, "localhost", "/keys").await;
        (reply.status == 200).then(|| reply.json())
    })
    .await;
    // Only the configured trust domain's keys, with `use` (set_key_use) and `alg`.
    assert_eq!(kids(&jwks), ["key-a"]);
    let key = &jwks["keys"][0];
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "ES256");
    assert_eq!((&key["x"], &key["y"]), (&a["x"], &a["y"]));
    // Without allow_insecure_scheme the document says https even over plain HTTP (a TLS
    // proxy is assumed in front), as SPIRE.
    let doc = get(port, "localhost", "/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(doc["issuer"], "https://localhost");

    // Rotation: a second key appears, then the first goes away.
    let b = ec_jwk("key-b");
    agent.set(vec![bundle("example.org", &[a, b.clone()])]);
    eventually("both keys", || async {
        let keys = kids(&get(port, "localhost", "/keys").await.json());
        (keys == ["key-a", "key-b"]).then_some(())
    })
    .await;
    agent.set(vec![bundle("example.org", &[b])]);
    eventually("only the new key", || async {
        let keys = kids(&get(port, "localhost", "/keys").await.json());
        (keys == ["key-b"]).then_some(())
    })
    .await;

    // The trust domain's bundle disappears: the last keys stay in service.
    agent.set(vec![bundle("other.org", &[ec_jwk("x")])]);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        kids(&get(port, "localhost", "/keys").await.json()),
        ["key-b"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_listener_and_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, socket, _stop) = start_workload_api(dir.path());
    let listen = dir.path().join("oidc.sock");
    // A stale file where the socket goes is replaced, as SPIRE does.
    std::fs::write(&listen, b"stale").unwrap();
    let health_port = free_port();
    let _provider = ProviderProcess::start(
        dir.path(),
        &format!(
            "domains = [\"oidc.example.org\"]\nlisten_socket_path = \"{}\"\nallow_insecure_scheme = true\nserver_path_prefix = \"/instance/1\"\nhealth_checks {{\n    bind_address = \"127.0.0.1\"\n    bind_port = \"{health_port}\"\n    ready_path = \"/readyz\"\n}}\n{}",
            listen.display(),
            workload_source(&socket)
        ),
    );
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let meta = std::fs::metadata(&listen).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o777);
    }
    let over_socket = |path: &'static str| {
        let listen = listen.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(&listen).await.unwrap();
            get_over(stream, "oidc.example.org", path, &[]).await
        }
    };
    // No bundle yet: keys not available, not ready, but live (within the threshold).
    let keys = over_socket("/instance/1/keys").await;
    assert_eq!(
        (keys.status.as_u16(), keys.text()),
        (500, "document not available\n".into())
    );
    assert_eq!(get(health_port, "localhost", "/readyz").await.status, 500);
    assert_eq!(get(health_port, "localhost", "/live").await.status, 200);

    // An empty bundle: the trust domain has no JWT authority.
    agent.set(vec![bundle("example.org", &[])]);
    eventually("501 for no keys", || async {
        (over_socket("/instance/1/keys").await.status == 501).then_some(())
    })
    .await;
    agent.set(vec![bundle("example.org", &[ec_jwk("k1")])]);
    eventually("keys over the socket", || async {
        let reply = over_socket("/instance/1/keys").await;
        (reply.status == 200).then(|| assert_eq!(kids(&reply.json()), ["k1"]))
    })
    .await;
    assert_eq!(get(health_port, "localhost", "/readyz").await.status, 200);

    // The prefix moves both documents and shows in the issuer; plain HTTP is allowed.
    let doc = over_socket("/instance/1/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(doc["issuer"], "http://oidc.example.org/instance/1");
    assert_eq!(doc["jwks_uri"], "http://oidc.example.org/instance/1/keys");
    assert_eq!(over_socket("/keys").await.status, 404);
}

struct TestCert {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn self_signed(name: &str) -> TestCert {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// Connects over TLS trusting `roots`, returning the stream and the certificate presented.
async fn tls_connect(
    port: u16,
    roots: &[&TestCert],
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Vec<u8>,
) {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store
            .add(rustls_pki_types::CertificateDer::from(root.der.clone()))
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("oidc.example.org").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (tls, presented)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_files_reloads_a_changed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, socket, _stop) = start_workload_api(dir.path());
    agent.set(vec![bundle("example.org", &[ec_jwk("k1")])]);
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let first = self_signed("oidc.example.org");
    std::fs::write(&cert_path, &first.cert_pem).unwrap();
    std::fs::write(&key_path, &first.key_pem).unwrap();
    let port = free_port();
    let _provider = ProviderProcess::start(
        dir.path(),
        &format!(
            "domains = [\"oidc.example.org\"]\nallow_insecure_scheme = true\nserving_cert_file {{\n    cert_file_path = \"{}\"\n    key_file_path = \"{}\"\n    addr = \"127.0.0.1:{port}\"\n    file_sync_interval = \"200ms\"\n}}\n{}",
            cert_path.display(),
            key_path.display(),
            workload_source(&socket)
        ),
    );

    let (tls, presented) = tls_connect(port, &[&first]).await;
    assert_eq!(presented, first.der);
    // Over TLS the scheme is https even with allow_insecure_scheme.
    let doc = get_over(
        tls,
        "oidc.example.org",
        "/.well-known/openid-configuration",
        &[],
    )
    .await
    .json();
    assert_eq!(doc["issuer"], "https://oidc.example.org");
    eventually("keys over TLS", || async {
        let (tls, _) = tls_connect(port, &[&first]).await;
        let reply = get_over(tls, "oidc.example.org", "/keys", &[]).await;
        (reply.status == 200).then(|| assert_eq!(kids(&reply.json()), ["k1"]))
    })
    .await;

    // A key file that does not match (the certificate not yet replaced): the old pair stays.
    let second = self_signed("oidc.example.org");
    std::fs::write(&key_path, &second.key_pem).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(tls_connect(port, &[&first, &second]).await.1, first.der);
    // The matching certificate arrives: the new pair is served, without a restart.
    std::fs::write(&cert_path, &second.cert_pem).unwrap();
    eventually("the new certificate", || async {
        let (_, presented) = tls_connect(port, &[&first, &second]).await;
        (presented == second.der).then_some(())
    })
    .await;
}
