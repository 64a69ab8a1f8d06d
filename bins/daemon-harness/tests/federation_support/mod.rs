//! What the federation process tests share: the `federation {}` config text, CLI helpers, an
//! mTLS exchange between two workloads through their agents' Workload APIs, and test CAs.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod fake_endpoint;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_harness::Domain;
use rcgen::string::Ia5String;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use spiffe_core::SpiffeId;
use spiffe_tls::tokio::{dial, listen};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer};
use spiffe_workload::{EndpointAddress, WorkloadApiClient, X509Source};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// `spiffe-server <args>` on `domain`; (success, stdout, stderr).
pub(crate) fn cli(domain: &Domain, args: &[&str]) -> (bool, String, String) {
    let out = domain.server_cli(args).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cli`, which must succeed; its stdout.
pub(crate) fn ok(domain: &Domain, args: &[&str]) -> String {
    let (success, out, err) = cli(domain, args);
    assert!(
        success,
        "{args:?} failed: {out}{err}\n--- server ---\n{}",
        domain.server.output()
    );
    out
}

/// `federation { bundle_endpoint { … } federates_with … }` text for `extra_server`.
pub(crate) fn federation_block(
    endpoint_port: u16,
    endpoint_profile: &str,
    federates_with: &str,
) -> String {
    format!(
        "    federation {{\n        bundle_endpoint {{\n            address = \"127.0.0.1\"\n            port = {endpoint_port}\n            refresh_hint = \"1m\"\n            {endpoint_profile}\n        }}\n{federates_with}    }}\n"
    )
}

/// A `federates_with` entry with the `https_spiffe` profile.
pub(crate) fn federates_spiffe(td: &str, port: u16) -> String {
    format!(
        "        federates_with \"{td}\" {{\n            bundle_endpoint_url = \"https://127.0.0.1:{port}/\"\n            bundle_endpoint_profile \"https_spiffe\" {{\n                endpoint_spiffe_id = \"spiffe://{td}/spire/server\"\n            }}\n        }}\n"
    )
}

/// A `federates_with` entry with the `https_web` profile (the endpoint's name: `localhost`).
pub(crate) fn federates_web(td: &str, port: u16) -> String {
    format!(
        "        federates_with \"{td}\" {{\n            bundle_endpoint_url = \"https://localhost:{port}/\"\n            bundle_endpoint_profile \"https_web\" {{}}\n        }}\n"
    )
}

/// The operator's bootstrap for `https_spiffe`: `from`'s bundle (`bundle show -format spiffe`)
/// set on `to` (`bundle set -format spiffe -id spiffe://<from>`), as SPIRE's docs do it.
pub(crate) fn bootstrap(from: &Domain, to: &Domain, dir: &Path) {
    let doc = ok(from, &["bundle", "show", "-format", "spiffe"]);
    let path = dir.join(format!("{}.bundle.json", from.trust_domain));
    std::fs::write(&path, doc).unwrap();
    let id = format!("spiffe://{}", from.trust_domain);
    ok(
        to,
        &[
            "bundle",
            "set",
            "-format",
            "spiffe",
            "-id",
            &id,
            "-path",
            path.to_str().unwrap(),
        ],
    );
}

/// Polls `check` every 300 ms until it holds or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// An X509Source on the Workload API of `domain`'s agent (this process is the workload).
pub(crate) async fn source(domain: &Domain) -> X509Source {
    let address = EndpointAddress::parse(&format!(
        "unix://{}",
        domain.agent_config.socket_path.display()
    ))
    .unwrap();
    let client = WorkloadApiClient::connect(&address).await.unwrap();
    X509Source::new(client).await.unwrap()
}

/// One mTLS exchange: a server with `server`'s SVID accepting only `client_id`, a client with
/// `client`'s SVID accepting only `server_id`. Returns the line the server answered (naming
/// the client it authenticated), or the handshake's error.
pub(crate) async fn exchange(
    server: &X509Source,
    server_id: &str,
    client: &X509Source,
    client_id: &str,
) -> Result<String, String> {
    let server_config = mtls_server_config(
        provider(),
        server.clone(),
        server.clone(),
        Authorizer::exact(SpiffeId::new(client_id).unwrap()),
    )
    .map_err(|e| e.to_string())?;
    let mut listener = listen("127.0.0.1:0", server_config)
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().unwrap();
    let accepted = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let peer = spiffe_tls::tokio::PeerSpiffeId::peer_spiffe_id(&stream)
            .map(|id| id.to_string())
            .unwrap_or_default();
        let (reader, mut writer) = tokio::io::split(stream);
        let mut line = String::new();
        BufReader::new(reader)
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        writer
            .write_all(format!("hello {peer}: {line}").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        writer.shutdown().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    });
    let client_config = mtls_client_config(
        provider(),
        client.clone(),
        client.clone(),
        Authorizer::exact(SpiffeId::new(server_id).unwrap()),
    )
    .map_err(|e| e.to_string())?;
    let result = async {
        let stream = dial(addr, client_config).await.map_err(|e| e.to_string())?;
        let (reader, mut writer) = tokio::io::split(stream);
        writer
            .write_all(b"ping\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(reader)
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        if line.is_empty() {
            return Err("the server closed the connection".to_owned());
        }
        Ok(line.trim_end().to_owned())
    }
    .await;
    accepted.abort();
    result
}

/// A test CA: Web PKI (no URI SAN) or SPIFFE (`spiffe://<td>`).
pub(crate) struct TestCa {
    pub(crate) cert: rcgen::Certificate,
    pub(crate) issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new(td: Option<&str>) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        if let Some(td) = td {
            params.subject_alt_names = vec![SanType::URI(
                Ia5String::try_from(format!("spiffe://{td}")).unwrap(),
            )];
        }
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `dns` and/or the URI `uri`: (certificate PEM, PKCS#8 key PEM).
    pub(crate) fn leaf(&self, dns: Option<&str>, uri: Option<&str>) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(dns.map(|d| vec![d.to_owned()]).unwrap_or_default()).unwrap();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if let Some(uri) = uri {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(uri).unwrap()));
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the CA certificate as PEM to `path`.
    pub(crate) fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.cert.pem()).unwrap();
        path.to_owned()
    }
}
