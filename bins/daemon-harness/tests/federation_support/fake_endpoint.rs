//! A bundle endpoint run by the test, serving whatever body the test sets (documents the
//! real server never produces), over TLS with a certificate the test chose.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running fake endpoint; the body is swapped with [`set_body`](Self::set_body).
pub(crate) struct FakeEndpoint {
    pub(crate) addr: SocketAddr,
    body: Arc<Mutex<Vec<u8>>>,
}

impl FakeEndpoint {
    /// Serves on loopback with the PEM chain and key.
    pub(crate) async fn start(cert_pem: &str, key_pem: &str) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = spiffe_core::x509::parse_certificates(cert_pem.as_bytes())
            .unwrap()
            .iter()
            .map(|c| c.der().clone())
            .collect();
        let key = spiffe_core::X509Svid::parse_key(key_pem.as_bytes()).unwrap();
        let key = rustls::sign::CertifiedKey::from_der(chain, key, &provider).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(Vec::new()));
        let served = body.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let body = served.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self { addr, body }
    }

    /// What the next connections get.
    pub(crate) fn set_body(&self, body: Vec<u8>) {
        *self.body.lock().unwrap() = body;
    }
}
