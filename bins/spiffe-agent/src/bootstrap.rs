//! The bootstrap bundle fetched from a URL: SPIRE's `trust_bundle_url`, over HTTPS verified
//! with the system's roots, or over plain HTTP on a local Unix socket
//! (`trust_bundle_unix_socket`). It is fetched only when the agent has no stored bundle, once
//! per start, before the first attestation.
//!
//! **Roots.** SPIRE's agent (Go's default client) verifies the HTTPS server with the system's
//! root store; Go reads it from the file named by `SSL_CERT_FILE` when set, else from the
//! first of the distributions' bundle files that exists. This agent does the same, and falls
//! back to the Mozilla root program's CAs (webpki-roots) when no such file exists. `SSL_CERT_DIR`
//! is not read.
//!
//! **Unix socket.** As SPIRE does, the request on a Unix socket carries what the agent knows
//! about itself as query parameters, for a local helper that picks or produces the bundle:
//! `spire-attest-mode` (`bootstrap`), `spire-connection-attempts`, `spire-attest-start-time`
//! (RFC 3339), `spire-server-address`, `spire-server-port`, `spiffe-trust-domain`; the URL's own
//! parameters may not start with `spire-` or `spiffe-`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use spiffe_core::{SpiffeBundle, TrustDomain, X509Bundle};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

/// How long the whole fetch may take, connection to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest bundle document accepted.
pub const MAX_BUNDLE_SIZE: usize = 4 * 1024 * 1024;

/// The bundle files Go's `crypto/x509` looks for on Linux, in its order (the first that exists
/// is the system pool).
pub const SYSTEM_BUNDLE_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Where the bundle is fetched from: `trust_bundle_url`, checked, and
/// `trust_bundle_unix_socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleUrl {
    /// The URL (`https://…`, or `http://…` with a Unix socket).
    pub url: String,
    /// `trust_bundle_unix_socket`: the request goes to this socket instead of the URL's host.
    pub unix_socket: Option<PathBuf>,
}

/// What the agent tells a Unix-socket bundle helper about itself.
#[derive(Debug, Clone)]
pub struct AgentFacts<'a> {
    /// `spiffe-trust-domain`.
    pub trust_domain: &'a TrustDomain,
    /// `spire-server-address`.
    pub server_address: &'a str,
    /// `spire-server-port`.
    pub server_port: u16,
    /// `spire-attest-start-time`: when this bootstrap started.
    pub start_time: rustls_pki_types::UnixTime,
    /// `spire-connection-attempts`: this attempt's number, from 1.
    pub attempt: u32,
}

// === impl BundleUrl ===

impl BundleUrl {
    /// SPIRE's checks of `trust_bundle_url` and `trust_bundle_unix_socket`: with a socket the
    /// URL is `http://` and its query parameters do not start with `spiffe-` or `spire-`
    /// (the agent sets those); without, it is `https://` with a host.
    pub fn new(url: &str, unix_socket: Option<PathBuf>) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("unable to parse trust bundle URL: {e}"))?;
        match &unix_socket {
            Some(_) => {
                if uri.scheme_str() != Some("http") {
                    return Err("trust bundle URL must start with http:// when used with trust bundle unix socket".into());
                }
                for (key, _) in query_pairs(uri.query().unwrap_or("")) {
                    if key.starts_with("spiffe-") {
                        return Err(
                            "trust_bundle_url query params can not start with spiffe-".into()
                        );
                    }
                    if key.starts_with("spire-") {
                        return Err(
                            "trust_bundle_url query params can not start with spire-".into()
                        );
                    }
                }
            }
            None => {
                if uri.scheme_str() != Some("https") {
                    return Err("trust bundle URL must start with https://".into());
                }
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err("unable to parse trust bundle URL: no host".into());
        }
        Ok(Self {
            url: url.to_owned(),
            unix_socket,
        })
    }

    /// The URL requested: as configured, plus (on a Unix socket) the agent's facts as query
    /// parameters, all parameters sorted by name (as Go's `url.Values.Encode`).
    pub fn request_url(&self, facts: &AgentFacts<'_>) -> Result<Uri, String> {
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e| format!("unable to parse trust bundle URL: {e}"))?;
        if self.unix_socket.is_none() {
            return Ok(uri);
        }
        let mut params = query_pairs(uri.query().unwrap_or(""));
        params.extend([
            ("spire-attest-mode".to_owned(), "bootstrap".to_owned()),
            (
                "spire-connection-attempts".to_owned(),
                facts.attempt.to_string(),
            ),
            (
                "spire-attest-start-time".to_owned(),
                spiffe_core::time::format_rfc3339(facts.start_time),
            ),
            (
                "spire-server-address".to_owned(),
                facts.server_address.to_owned(),
            ),
            (
                "spire-server-port".to_owned(),
                facts.server_port.to_string(),
            ),
            (
                "spiffe-trust-domain".to_owned(),
                facts.trust_domain.as_str().to_owned(),
            ),
        ]);
        // Stable: values of one name keep their order.
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let query = params
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut parts = uri.into_parts();
        let path = parts
            .path_and_query
            .as_ref()
            .map_or("/", |pq| pq.path())
            .to_owned();
        parts.path_and_query = Some(
            format!("{path}?{query}")
                .parse()
                .map_err(|e| format!("unable to build trust bundle URL: {e}"))?,
        );
        Uri::from_parts(parts).map_err(|e| format!("unable to build trust bundle URL: {e}"))
    }

    /// Fetches the document and reads it as a bundle of `trust_domain` in the configured
    /// format. `roots` are asked for only for an HTTPS fetch.
    pub async fn fetch_bundle(
        &self,
        facts: &AgentFacts<'_>,
        spiffe_format: bool,
        roots: impl FnOnce() -> Result<Arc<RootCertStore>, String>,
    ) -> Result<X509Bundle, String> {
        let uri = self.request_url(facts)?;
        let bytes = match tokio::time::timeout(FETCH_TIMEOUT, self.download(&uri, roots)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(format!(
                    "unable to fetch trust bundle URL {}: no answer within {}s",
                    self.url,
                    FETCH_TIMEOUT.as_secs()
                ))
            }
        };
        parse_bundle(facts.trust_domain, &bytes, spiffe_format)
    }

    async fn download(
        &self,
        uri: &Uri,
        roots: impl FnOnce() -> Result<Arc<RootCertStore>, String>,
    ) -> Result<Bytes, String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("unable to fetch trust bundle URL {}: {e}", self.url)
        };
        let host = uri.host().unwrap_or_default().to_owned();
        if let Some(socket) = &self.unix_socket {
            let io = UnixStream::connect(socket)
                .await
                .map_err(|e| fail(&format!("{}: {e}", socket.display())))?;
            return get(io, uri).await.map_err(|e| fail(&e));
        }
        let port = uri.port_u16().unwrap_or(443);
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| fail(&e))?;
        let config = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?
        .with_root_certificates(roots().map_err(|e| fail(&e))?)
        .with_no_client_auth();
        let name = ServerName::try_from(host).map_err(|e| fail(&e))?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| fail(&e))?;
        get(tls, uri).await.map_err(|e| fail(&e))
    }
}

/// One HTTP/1.1 GET of `uri` over `io`: the body of a 200 answer, else an error naming the
/// status (as SPIRE: `error downloading trust bundle: <status>`).
async fn get<IO>(io: IO, uri: &Uri) -> Result<Bytes, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("localhost");
    let request = Request::get(uri.path_and_query().map_or("/", |pq| pq.as_str()))
        .header(hyper::header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(format!("error downloading trust bundle: {status}"));
        }
        Limited::new(response.into_body(), MAX_BUNDLE_SIZE)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(|e| format!("unable to read the answer: {e}"))
    }
    .await;
    driver.abort();
    result
}

/// The document as a bundle of `trust_domain`: PEM certificates, or a SPIFFE bundle document
/// (its X.509 authorities); at least one certificate.
pub fn parse_bundle(
    trust_domain: &TrustDomain,
    bytes: &[u8],
    spiffe_format: bool,
) -> Result<X509Bundle, String> {
    let bundle = if spiffe_format {
        SpiffeBundle::parse(trust_domain.clone(), bytes)
            .map(|b| b.into_parts().0)
            .map_err(|e| format!("unable to parse trust bundle: {e}"))?
    } else {
        X509Bundle::parse_pem(trust_domain.clone(), bytes)
            .map_err(|e| format!("unable to parse trust bundle: {e}"))?
    };
    if bundle.is_empty() {
        return Err("no certificates found in trust bundle".into());
    }
    Ok(bundle)
}

/// The roots an HTTPS bundle URL is verified with: the PEM file named by `ssl_cert_file` (the
/// value of `SSL_CERT_FILE`) when given, else the first of `system_files` that exists, else the
/// Mozilla root program's CAs.
pub fn system_roots(
    ssl_cert_file: Option<&Path>,
    system_files: &[&str],
) -> Result<Arc<RootCertStore>, String> {
    let file = match ssl_cert_file {
        Some(path) => Some(path.to_owned()),
        None => system_files
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file()),
    };
    let Some(file) = file else {
        return Ok(Arc::new(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }));
    };
    let pem = std::fs::read(&file)
        .map_err(|e| format!("unable to read the CA file {}: {e}", file.display()))?;
    let certs = spiffe_core::x509::parse_certificates(&pem)
        .map_err(|e| format!("the CA file {}: {e}", file.display()))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs.iter().map(|c| c.der().clone()));
    if added == 0 {
        return Err(format!(
            "the CA file {} holds no usable certificate",
            file.display()
        ));
    }
    Ok(Arc::new(roots))
}

/// The process's roots: `SSL_CERT_FILE`, else the system bundle file, else webpki-roots.
pub fn roots_from_env() -> Result<Arc<RootCertStore>, String> {
    let file = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    system_roots(file.as_deref().map(Path::new), SYSTEM_BUNDLE_FILES)
}

/// `a=b&c=d` as decoded pairs (`+` is a space, `%XX` a byte), as Go's `url.ParseQuery`.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, UnixListener};

    use super::*;

    /// A test CA and a server certificate for 127.0.0.1 it issued.
    struct Pki {
        ca_pem: String,
        ca_der: CertificateDer<'static>,
        leaf: CertificateDer<'static>,
        leaf_key: PrivateKeyDer<'static>,
    }

    fn pki() -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = params.self_signed(&key).unwrap();
        let issuer = Issuer::new(params, key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            leaf: leaf.der().clone(),
            leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        }
    }

    fn roots_of(pki: &Pki) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        Arc::new(roots)
    }

    /// Answers one HTTP request on `io` with `status` and `body`; returns the request line.
    async fn answer<IO: AsyncRead + AsyncWrite + Unpin>(
        io: IO,
        status: &str,
        body: &[u8],
    ) -> String {
        let mut reader = BufReader::new(io);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).await.unwrap();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap() == 0 || line == "\r\n" {
                break;
            }
        }
        let mut io = reader.into_inner();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        io.write_all(head.as_bytes()).await.unwrap();
        io.write_all(body).await.unwrap();
        io.shutdown().await.unwrap();
        request_line.trim_end().to_owned()
    }

    /// An HTTPS server on loopback answering every request with `status` and `body`; the
    /// request lines it saw.
    async fn https_server(
        pki: &Pki,
        status: &'static str,
        body: Vec<u8>,
    ) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.leaf_key.clone_key())
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                // A client that refuses the certificate ends the handshake: keep serving.
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let line = answer(tls, status, &body).await;
                    log.lock().unwrap().push(line);
                }
            }
        });
        (addr, seen)
    }

    fn td() -> TrustDomain {
        TrustDomain::new("example.org").unwrap()
    }

    fn facts(td: &TrustDomain) -> AgentFacts<'_> {
        AgentFacts {
            trust_domain: td,
            server_address: "spire server.example",
            server_port: 8081,
            start_time: UnixTime::since_unix_epoch(Duration::from_secs(1_764_000_000)),
            attempt: 1,
        }
    }

    #[test]
    fn urls_are_checked_as_spire_does() {
        assert!(BundleUrl::new("https://bundle.example/b.pem", None).is_ok());
        let err = BundleUrl::new("http://bundle.example/b.pem", None).unwrap_err();
        assert_eq!(err, "trust bundle URL must start with https://");
        let socket = Some(PathBuf::from("/run/helper.sock"));
        assert!(BundleUrl::new("http://localhost/b?x=1", socket.clone()).is_ok());
        let err = BundleUrl::new("https://localhost/b", socket.clone()).unwrap_err();
        assert!(err.contains("must start with http://"), "{err}");
        let err =
            BundleUrl::new("http://localhost/b?spire-attest-mode=x", socket.clone()).unwrap_err();
        assert!(err.contains("can not start with spire-"), "{err}");
        let err = BundleUrl::new("http://localhost/b?spiffe%2Dx=1", socket).unwrap_err();
        assert!(err.contains("can not start with spiffe-"), "{err}");
        let err = BundleUrl::new("not a url", None).unwrap_err();
        assert!(err.contains("unable to parse trust bundle URL"), "{err}");
    }

    #[test]
    fn a_unix_socket_request_carries_the_agents_facts_sorted() {
        let td = td();
        let url = BundleUrl::new(
            "http://localhost/bundle?zone=a+b&a=1",
            Some(PathBuf::from("/run/helper.sock")),
        )
        .unwrap();
        let uri = url.request_url(&facts(&td)).unwrap();
        assert_eq!(uri.path(), "/bundle");
        assert_eq!(
            uri.query().unwrap(),
            "a=1&spiffe-trust-domain=example.org&spire-attest-mode=bootstrap\
             &spire-attest-start-time=2025-11-24T16%3A00%3A00Z&spire-connection-attempts=1\
             &spire-server-address=spire+server.example&spire-server-port=8081&zone=a+b"
        );
        // Over HTTPS the URL is requested as written.
        let url = BundleUrl::new("https://b.example/x?spire-y=1", None).unwrap();
        assert_eq!(
            url.request_url(&facts(&td)).unwrap().to_string(),
            "https://b.example/x?spire-y=1"
        );
    }

    #[tokio::test]
    async fn fetches_a_pem_bundle_over_https_with_the_given_roots() {
        let pki = pki();
        let (addr, seen) = https_server(&pki, "200 OK", pki.ca_pem.clone().into_bytes()).await;
        let td = td();
        let url = BundleUrl::new(&format!("https://{addr}/bundle.pem?v=1"), None).unwrap();
        let bundle = url
            .fetch_bundle(&facts(&td), false, || Ok(roots_of(&pki)))
            .await
            .unwrap();
        assert_eq!(bundle.authorities().len(), 1);
        assert_eq!(bundle.trust_domain(), &td);
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            ["GET /bundle.pem?v=1 HTTP/1.1"]
        );
    }

    #[tokio::test]
    async fn fetches_a_spiffe_bundle_document() {
        let pki = pki();
        let td = td();
        let x509 = X509Bundle::parse_pem(td.clone(), pki.ca_pem.as_bytes()).unwrap();
        let doc = SpiffeBundle::from_parts(x509.clone(), spiffe_core::JwtBundle::new(td.clone()))
            .unwrap()
            .to_json();
        let (addr, _) = https_server(&pki, "200 OK", doc).await;
        let url = BundleUrl::new(&format!("https://{addr}/"), None).unwrap();
        let bundle = url
            .fetch_bundle(&facts(&td), true, || Ok(roots_of(&pki)))
            .await
            .unwrap();
        assert_eq!(bundle.authorities(), x509.authorities());
        // The same document read as PEM holds no certificate.
        let err = url
            .fetch_bundle(&facts(&td), false, || Ok(roots_of(&pki)))
            .await
            .unwrap_err();
        assert!(err.contains("trust bundle"), "{err}");
    }

    #[tokio::test]
    async fn refuses_an_untrusted_server_an_error_status_and_an_empty_bundle() {
        let pki = pki();
        let td = td();
        let (addr, seen) = https_server(&pki, "200 OK", pki.ca_pem.clone().into_bytes()).await;
        let url = BundleUrl::new(&format!("https://{addr}/b"), None).unwrap();
        // Another CA: the handshake fails and nothing is requested.
        let other = super::tests::pki();
        let err = url
            .fetch_bundle(&facts(&td), false, || Ok(roots_of(&other)))
            .await
            .unwrap_err();
        assert!(err.contains("unable to fetch trust bundle URL"), "{err}");
        assert!(seen.lock().unwrap().is_empty());
        // The roots cannot be loaded: that is the error.
        let err = url
            .fetch_bundle(&facts(&td), false, || Err("no CA file".to_owned()))
            .await
            .unwrap_err();
        assert!(err.contains("no CA file"), "{err}");

        let (addr, _) = https_server(&pki, "404 Not Found", b"nope".to_vec()).await;
        let url = BundleUrl::new(&format!("https://{addr}/b"), None).unwrap();
        let err = url
            .fetch_bundle(&facts(&td), false, || Ok(roots_of(&pki)))
            .await
            .unwrap_err();
        assert!(
            err.contains("error downloading trust bundle: 404 Not Found"),
            "{err}"
        );

        let (addr, _) = https_server(&pki, "200 OK", Vec::new()).await;
        let url = BundleUrl::new(&format!("https://{addr}/b"), None).unwrap();
        let err = url
            .fetch_bundle(&facts(&td), false, || Ok(roots_of(&pki)))
            .await
            .unwrap_err();
        assert!(err.contains("trust bundle"), "{err}");
    }

    #[tokio::test]
    async fn fetches_over_a_unix_socket_with_the_agents_facts() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("helper.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let body = pki.ca_pem.clone().into_bytes();
        let server = tokio::spawn(async move {
            let (io, _) = listener.accept().await.unwrap();
            answer(io, "200 OK", &body).await
        });
        let td = td();
        let url = BundleUrl::new("http://helper/bundle", Some(socket)).unwrap();
        let bundle = url
            .fetch_bundle(&facts(&td), false, || panic!("no roots over a Unix socket"))
            .await
            .unwrap();
        assert_eq!(bundle.authorities().len(), 1);
        let line = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            line.starts_with(
                "GET /bundle?spiffe-trust-domain=example.org&spire-attest-mode=bootstrap&"
            ),
            "{line}"
        );
    }

    #[test]
    fn roots_come_from_ssl_cert_file_else_the_system_file_else_webpki() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, &pki.ca_pem).unwrap();
        let roots = system_roots(Some(&file), &[]).unwrap();
        assert_eq!(roots.len(), 1);
        // SSL_CERT_FILE wins over the system files.
        let other = dir.path().join("other.pem");
        std::fs::write(
            &other,
            format!("{}{}", pki.ca_pem, super::tests::pki().ca_pem),
        )
        .unwrap();
        let other_text = other.to_str().unwrap();
        assert_eq!(system_roots(Some(&file), &[other_text]).unwrap().len(), 1);
        // Without it, the first system file that exists.
        let missing = dir.path().join("missing.pem");
        let missing_text = missing.to_str().unwrap();
        assert_eq!(
            system_roots(None, &[missing_text, other_text])
                .unwrap()
                .len(),
            2
        );
        // Neither: the Mozilla roots.
        assert!(system_roots(None, &[missing_text]).unwrap().len() > 50);
        // A named file that cannot be read is an error naming it.
        let err = system_roots(Some(&missing), &[]).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
