//! The small HTTP/1.1 client the platform attestors share: one GET (or POST) on one connection
//! (a Unix socket for Docker, TLS or plain TCP for the kubelet and the Kubernetes API server),
//! with a deadline and a cap on the response body.
//!
//! Request headers may carry a bearer token: nothing here logs or formats them.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// What went wrong with one request. Messages never include request headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connecting failed (the server is not listening, the socket is missing).
    #[error("cannot connect to {endpoint}: {reason}")]
    Unreachable {
        /// The socket path or address.
        endpoint: String,
        /// The I/O or TLS error.
        reason: String,
    },
    /// The request or response broke off, or was not HTTP.
    #[error("HTTP exchange with {endpoint} failed: {reason}")]
    Protocol {
        /// The socket path or address.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The response body exceeds the cap.
    #[error("response from {endpoint} is larger than {max} bytes")]
    TooLarge {
        /// The socket path or address.
        endpoint: String,
        /// The cap.
        max: usize,
    },
    /// No response within the deadline.
    #[error("no response from {endpoint} within {timeout:?}")]
    Timeout {
        /// The socket path or address.
        endpoint: String,
        /// The deadline.
        timeout: Duration,
    },
}

/// A response: its status and its whole (capped) body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: http::StatusCode,
    pub(crate) body: Bytes,
}

/// Sends `request` over `io` (already connected, TLS already set up) and reads the response,
/// refusing a body over `max_body` bytes (by `Content-Length` or as it streams).
pub(crate) async fn exchange<IO>(
    io: IO,
    endpoint: &str,
    request: http::Request<Full<Bytes>>,
    max_body: usize,
    timeout: Duration,
) -> Result<Response, HttpError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let run = async {
        let protocol = |e: hyper::Error| HttpError::Protocol {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(protocol)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = async {
            let response: http::Response<Incoming> =
                sender.send_request(request).await.map_err(protocol)?;
            let (parts, body) = response.into_parts();
            let too_large = || HttpError::TooLarge {
                endpoint: endpoint.to_owned(),
                max: max_body,
            };
            if let Some(len) = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                if len > max_body as u64 {
                    return Err(too_large());
                }
            }
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| match e.downcast::<http_body_util::LengthLimitError>() {
                    Ok(_) => too_large(),
                    Err(e) => HttpError::Protocol {
                        endpoint: endpoint.to_owned(),
                        reason: e.to_string(),
                    },
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                body,
            })
        }
        .await;
        driver.abort();
        result
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout {
            endpoint: endpoint.to_owned(),
            timeout,
        }),
    }
}

/// Connects to a Unix socket and sends `request` (its URI path only; `Host: localhost`).
#[cfg(unix)]
pub(crate) async fn unix_get(
    socket: &std::path::Path,
    path_and_query: &str,
    max_body: usize,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let endpoint = socket.display().to_string();
    let connect = tokio::time::timeout(timeout, tokio::net::UnixStream::connect(socket));
    let stream = match connect.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return Err(HttpError::Unreachable {
                endpoint,
                reason: e.to_string(),
            })
        }
        Err(_) => return Err(HttpError::Timeout { endpoint, timeout }),
    };
    let request = http::Request::get(path_and_query)
        .header(http::header::HOST, "localhost")
        .body(Full::new(Bytes::new()))
        .map_err(|e| HttpError::Protocol {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        })?;
    exchange(stream, &endpoint, request, max_body, timeout).await
}

/// Where an HTTP server listens, and how to reach it.
#[derive(Clone)]
pub(crate) enum Endpoint {
    /// Plain HTTP over TCP (the kubelet's read-only port).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// HTTPS.
    Tls {
        /// Host name or address to connect to.
        host: String,
        /// Port.
        port: u16,
        /// The name the server's certificate must carry.
        server_name: rustls_pki_types::ServerName<'static>,
        /// Roots (or, when configured, no verification) and protocol settings.
        config: std::sync::Arc<rustls::ClientConfig>,
    },
}

impl Endpoint {
    fn describe(&self) -> String {
        match self {
            Endpoint::Tcp { host, port } => format!("http://{host}:{port}"),
            Endpoint::Tls { host, port, .. } => format!("https://{host}:{port}"),
        }
    }

    /// Sends `request` (a path-only URI; the `Host` header is set here) and reads the capped
    /// response.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<Full<Bytes>>,
        max_body: usize,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let endpoint = self.describe();
        let (host, port) = match self {
            Endpoint::Tcp { host, port } | Endpoint::Tls { host, port, .. } => (host, *port),
        };
        let unreachable = |reason: String| HttpError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let host_header = match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        if let Ok(value) = http::HeaderValue::from_str(&host_header) {
            request.headers_mut().insert(http::header::HOST, value);
        }
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            Ok::<_, HttpError>(tcp)
        };
        let tcp = match tokio::time::timeout(timeout, connect).await {
            Ok(r) => r?,
            Err(_) => return Err(HttpError::Timeout { endpoint, timeout }),
        };
        match self {
            Endpoint::Tcp { .. } => exchange(tcp, &endpoint, request, max_body, timeout).await,
            Endpoint::Tls {
                server_name,
                config,
                ..
            } => {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = match tokio::time::timeout(
                    timeout,
                    connector.connect(server_name.clone(), tcp),
                )
                .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return Err(unreachable(format!("TLS: {e}"))),
                    Err(_) => return Err(HttpError::Timeout { endpoint, timeout }),
                };
                exchange(tls, &endpoint, request, max_body, timeout).await
            }
        }
    }
}

/// A rustls client configuration trusting the CA certificates of `pem` (`None`: no
/// verification of the server's certificate chain or name, for SPIRE's
/// `skip_kubelet_verification`; signatures in the handshake are still checked).
pub(crate) fn client_config(pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let config = match pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("CA bundle: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA bundle certificate: {e}"))?;
            }
            if roots.is_empty() {
                return Err("CA bundle holds no certificate".to_owned());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(NoChainVerification(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts any certificate chain, but still checks the handshake signatures with it.
#[derive(Debug)]
struct NoChainVerification(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoChainVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
