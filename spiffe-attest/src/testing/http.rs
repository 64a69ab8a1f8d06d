//! HTTP/1.1 servers standing in for the Docker Engine (a Unix socket), the kubelet and the
//! Kubernetes API server (real TLS with rustls and a test CA), answering from a [`Handler`].
//! Each server runs on the current Tokio runtime until the runtime ends.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// What a handler sees of a request: method, path and query, headers, body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Seen {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query (`/containers/<id>/json`).
    pub path: String,
    /// The request's headers (names in lower case), in order.
    pub headers: Vec<(String, String)>,
    /// The request's body.
    pub body: Vec<u8>,
}

/// Answers a request with a status and a JSON body.
pub type Handler = Arc<dyn Fn(&Seen) -> (u16, Vec<u8>) + Send + Sync>;

/// Counts requests.
#[derive(Debug, Default, Clone)]
pub struct Counter(Arc<AtomicUsize>);

impl Seen {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Counter {
    /// How many requests were served so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn serve_conn<IO>(io: IO, handler: Handler, counter: Counter)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        let counter = counter.clone();
        async move {
            counter.0.fetch_add(1, Ordering::SeqCst);
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method.to_string(),
                path: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body,
            };
            let (status, body) = handler(&seen);
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("response");
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Serves `handler` on a Unix socket at `path` until the runtime ends (call it inside a Tokio
/// runtime).
pub fn serve_unix(path: &Path, handler: Handler) -> Counter {
    let listener = tokio::net::UnixListener::bind(path)
        .unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
    let counter = Counter::default();
    let c = counter.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_conn(stream, handler.clone(), c.clone()));
        }
    });
    counter
}

/// A CA and a server certificate for `127.0.0.1` and `localhost` it signed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestPki {
    /// The CA certificate (PEM), for the client's trust.
    pub ca_pem: String,
    /// A server config presenting the certificate (for [`serve_tls`]).
    server_config: Arc<rustls::ServerConfig>,
}

/// A fresh [`TestPki`] (new keys each call).
pub fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test kubelet CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("server key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    TestPki {
        ca_pem: ca.pem(),
        server_config: Arc::new(config),
    }
}

/// Serves `handler` over TLS with `pki`'s server certificate on a loopback port; returns the
/// port.
pub async fn serve_tls(pki: &TestPki, handler: Handler) -> (u16, Counter) {
    let config = pki.server_config.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let counter = Counter::default();
    let c = counter.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            let c = c.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    serve_conn(tls, handler, c).await;
                }
            });
        }
    });
    (port, counter)
}

/// Serves `handler` over plain HTTP on a loopback port; returns the port.
pub async fn serve_plain(handler: Handler) -> (u16, Counter) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let counter = Counter::default();
    let c = counter.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_conn(stream, handler.clone(), c.clone()));
        }
    });
    (port, counter)
}
