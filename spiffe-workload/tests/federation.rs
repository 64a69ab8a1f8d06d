//! The federation bundle endpoint, server and client, over loopback TLS: both profiles
//! (FED-9), and each bad input refused with a named error.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::string::Ia5String;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::{
    Certificate, JwtBundle, SpiffeBundle, SpiffeId, TrustDomain, X509Bundle, X509Svid,
    X509SvidSource,
};
use spiffe_workload::federation::{
    default_crypto_provider, BundleEndpointClient, BundleEndpointServer, ClientProfile,
    EndpointUrl, FederationError, ServingCert, MAX_DOCUMENT_SIZE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// A CA (SPIFFE when `td` is given: its URI SAN names the trust domain) and leaves it signs.
struct Ca {
    cert: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(td: Option<&str>) -> Self {
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
            cert: Certificate::from_der(CertificateDer::from(cert.der().to_vec())).unwrap(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(
        &self,
        dns: Option<&str>,
        uri: Option<&str>,
    ) -> (Vec<Certificate>, PrivateKeyDer<'static>) {
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
        (
            vec![Certificate::from_der(CertificateDer::from(cert.der().to_vec())).unwrap()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    fn svid(&self, id: &str) -> Arc<X509Svid> {
        let (chain, key) = self.leaf(None, Some(id));
        Arc::new(X509Svid::from_parts(chain, key).unwrap())
    }

    fn pem(&self) -> String {
        let b64 = base64_encode(self.cert.der());
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

struct Svid(Arc<X509Svid>);

impl X509SvidSource for Svid {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        Some(self.0.clone())
    }
}

fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).unwrap()
}

fn bundle_of(td_name: &str, authorities: Vec<Certificate>, sequence: u64) -> SpiffeBundle {
    let x509 = X509Bundle::from_authorities(td(td_name), authorities);
    let mut bundle = SpiffeBundle::from_parts(x509, JwtBundle::new(td(td_name))).unwrap();
    bundle.set_sequence(Some(sequence));
    bundle.set_refresh_hint(Some(std::time::Duration::from_secs(300)));
    bundle
}

/// Starts a bundle endpoint on loopback; returns its address and the sender that updates it.
async fn start(
    cert: ServingCert,
    bundle: SpiffeBundle,
) -> (SocketAddr, watch::Sender<Option<SpiffeBundle>>) {
    let (tx, rx) = watch::channel(Some(bundle));
    let server = BundleEndpointServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        cert,
        rx,
        default_crypto_provider(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve(std::future::pending()));
    (addr, tx)
}

fn spiffe_client(name: &str, addr: SocketAddr, endpoint: &str) -> BundleEndpointClient {
    BundleEndpointClient::new(
        td(name),
        EndpointUrl::parse(&format!("https://{addr}/")).unwrap(),
        ClientProfile::HttpsSpiffe {
            endpoint_id: SpiffeId::new(endpoint).unwrap(),
        },
        default_crypto_provider(),
    )
}

#[tokio::test]
async fn https_spiffe_fetches_with_the_bootstrap_bundle_then_follows_rotation() {
    let ca = Ca::new(Some("b.test"));
    let svid = ca.svid("spiffe://b.test/spire/server");
    let (addr, publish) = start(
        ServingCert::Svid(Arc::new(Svid(svid))),
        bundle_of("b.test", vec![ca.cert.clone()], 1),
    )
    .await;
    let client = spiffe_client("b.test", addr, "spiffe://b.test/spire/server");

    // Without a bootstrap bundle there is nothing to verify the endpoint with (FED-21).
    assert!(matches!(
        client.fetch(None).await,
        Err(FederationError::NoEndpointBundle { .. })
    ));
    let bootstrap = Arc::new(X509Bundle::from_authorities(
        td("b.test"),
        vec![ca.cert.clone()],
    ));
    let fetched = client.fetch(Some(bootstrap.clone())).await.unwrap();
    assert_eq!(fetched.bundle.sequence(), Some(1));
    assert_eq!(fetched.bundle.trust_domain(), &td("b.test"));
    assert!(fetched.bundle.x509_authorities().contains(&ca.cert));

    // A new authority is published next to the old one: the next fetch returns both.
    let next = Ca::new(Some("b.test"));
    publish
        .send(Some(bundle_of(
            "b.test",
            vec![ca.cert.clone(), next.cert.clone()],
            2,
        )))
        .unwrap();
    let fetched = client.fetch(Some(bootstrap)).await.unwrap();
    assert_eq!(fetched.bundle.sequence(), Some(2));
    assert_eq!(fetched.bundle.x509_authorities().authorities().len(), 2);
}

#[tokio::test]
async fn https_spiffe_refuses_a_wrong_endpoint_id_and_an_unknown_ca() {
    let ca = Ca::new(Some("b.test"));
    let (addr, _publish) = start(
        ServingCert::Svid(Arc::new(Svid(ca.svid("spiffe://b.test/not-the-server")))),
        bundle_of("b.test", vec![ca.cert.clone()], 1),
    )
    .await;
    let bundle = Arc::new(X509Bundle::from_authorities(
        td("b.test"),
        vec![ca.cert.clone()],
    ));
    // FED-25: the ID must equal the configured one.
    let err = spiffe_client("b.test", addr, "spiffe://b.test/spire/server")
        .fetch(Some(bundle))
        .await
        .unwrap_err();
    assert!(matches!(err, FederationError::Tls(_)), "{err}");
    assert!(
        err.to_string().contains("spiffe://b.test/not-the-server"),
        "{err}"
    );

    // An SVID the bootstrap bundle does not verify.
    let other = Arc::new(X509Bundle::from_authorities(
        td("b.test"),
        vec![Ca::new(Some("b.test")).cert],
    ));
    let err = spiffe_client("b.test", addr, "spiffe://b.test/not-the-server")
        .fetch(Some(other))
        .await
        .unwrap_err();
    assert!(matches!(err, FederationError::Tls(_)), "{err}");
}

#[tokio::test]
async fn https_spiffe_refuses_a_bundle_that_drops_the_endpoint_authority() {
    let ca = Ca::new(Some("b.test"));
    let replacement = Ca::new(Some("b.test"));
    let (addr, _publish) = start(
        ServingCert::Svid(Arc::new(Svid(ca.svid("spiffe://b.test/spire/server")))),
        bundle_of("b.test", vec![replacement.cert.clone()], 7),
    )
    .await;
    let bundle = Arc::new(X509Bundle::from_authorities(
        td("b.test"),
        vec![ca.cert.clone()],
    ));
    let err = spiffe_client("b.test", addr, "spiffe://b.test/spire/server")
        .fetch(Some(bundle))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FederationError::DropsEndpointAuthority(_)),
        "{err}"
    );
}

#[tokio::test]
async fn https_web_verifies_the_chain_and_the_host() {
    let web = Ca::new(None);
    let (chain, key) = web.leaf(Some("localhost"), None);
    let chain_pem: String = chain
        .iter()
        .map(|c| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                base64_encode(c.der())
            )
        })
        .collect();
    let key_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64_encode(key.secret_der())
    );
    let provider = default_crypto_provider();
    let cert = ServingCert::from_pem(chain_pem.as_bytes(), key_pem.as_bytes(), &provider).unwrap();
    let spiffe_ca = Ca::new(Some("b.test"));
    let (addr, _publish) = start(cert, bundle_of("b.test", vec![spiffe_ca.cert.clone()], 3)).await;

    let client = |host: &str, roots: ClientProfile| {
        BundleEndpointClient::new(
            td("b.test"),
            EndpointUrl::parse(&format!("https://{host}:{}/", addr.port())).unwrap(),
            roots,
            default_crypto_provider(),
        )
    };
    let trusted = ClientProfile::https_web_from_pem(web.pem().as_bytes()).unwrap();
    let fetched = client("localhost", trusted.clone())
        .fetch(None)
        .await
        .unwrap();
    assert_eq!(fetched.bundle.sequence(), Some(3));
    assert!(fetched.bundle.x509_authorities().contains(&spiffe_ca.cert));

    // FED-19: the SAN must match the URL host (the certificate names localhost only).
    let err = client("127.0.0.1", trusted).fetch(None).await.unwrap_err();
    assert!(matches!(err, FederationError::Tls(_)), "{err}");
    // FED-19: the chain must end at a locally trusted CA.
    let untrusted = ClientProfile::https_web_from_pem(Ca::new(None).pem().as_bytes()).unwrap();
    let err = client("localhost", untrusted)
        .fetch(None)
        .await
        .unwrap_err();
    assert!(matches!(err, FederationError::Tls(_)), "{err}");
}

/// Serves `body` with `status` to every connection, over TLS with an SVID of `ca`: for
/// documents the real server would never produce.
async fn raw_endpoint(ca: &Ca, status: u16, body: Vec<u8>) -> SocketAddr {
    let svid = ca.svid("spiffe://b.test/spire/server");
    let provider = default_crypto_provider();
    let key = rustls::sign::CertifiedKey::from_der(
        svid.chain().iter().map(|c| c.der().clone()).collect(),
        svid.private_key().clone_key(),
        &provider,
    )
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
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
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn bad_documents_are_refused_with_a_named_error() {
    let ca = Ca::new(Some("b.test"));
    let bundle = Arc::new(X509Bundle::from_authorities(
        td("b.test"),
        vec![ca.cert.clone()],
    ));
    let fetch = |addr| {
        let bundle = bundle.clone();
        async move {
            spiffe_client("b.test", addr, "spiffe://b.test/spire/server")
                .fetch(Some(bundle))
                .await
        }
    };

    let malformed = raw_endpoint(&ca, 200, b"{\"keys\": [".to_vec()).await;
    assert!(matches!(
        fetch(malformed).await,
        Err(FederationError::Document(_))
    ));

    let duplicate = raw_endpoint(&ca, 200, b"{\"keys\": [], \"keys\": []}".to_vec()).await;
    assert!(matches!(
        fetch(duplicate).await,
        Err(FederationError::Document(_))
    ));

    let empty = raw_endpoint(&ca, 200, b"{\"keys\": []}".to_vec()).await;
    assert!(matches!(fetch(empty).await, Err(FederationError::Empty(_))));

    let mut huge = b"{\"keys\": [], \"x\": \"".to_vec();
    huge.resize(MAX_DOCUMENT_SIZE + 10, b'a');
    huge.extend_from_slice(b"\"}");
    let oversized = raw_endpoint(&ca, 200, huge).await;
    assert!(matches!(
        fetch(oversized).await,
        Err(FederationError::TooLarge { .. })
    ));

    // A bundle whose authority belongs to another trust domain (FED-7).
    let foreign = Ca::new(Some("c.test"));
    let wrong = bundle_of("c.test", vec![foreign.cert.clone()], 1).to_json();
    let wrong_td = raw_endpoint(&ca, 200, wrong).await;
    let err = fetch(wrong_td).await.unwrap_err();
    assert!(
        matches!(err, FederationError::WrongTrustDomain { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("c.test"), "{err}");

    let redirect = raw_endpoint(&ca, 302, Vec::new()).await;
    assert!(matches!(
        fetch(redirect).await,
        Err(FederationError::Status { status: 302 })
    ));

    // Unreachable: a port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    assert!(matches!(
        fetch(addr).await,
        Err(FederationError::Connect { .. })
    ));
}
