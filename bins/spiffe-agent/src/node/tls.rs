//! The gRPC channels to the server: TLS for attestation (the agent has no SVID yet), mTLS with
//! the agent SVID for everything else. Either way the server must present an X.509-SVID of
//! `spiffe://<td>/spire/server` that verifies against the agent's bundle, except during an
//! insecure bootstrap, where any certificate is accepted (the operator asked for it).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use spiffe_core::pki_types::{CertificateDer, ServerName, UnixTime};
use spiffe_core::TrustDomain;
use spiffe_tls::hyper::SpiffeConnector;
use spiffe_tls::{Authorizer, ClientConfigBuilder};
use thiserror::Error;
use tonic::transport::{Channel, Endpoint};

use super::{server_id, AgentSvid, TrustBundle};

/// Why a channel could not be set up (connections are made lazily, so an unreachable server
/// shows up on the first call instead).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The TLS configuration was refused.
    #[error("unable to configure TLS")]
    Tls(#[source] rustls::Error),
    /// The server address does not make a URI.
    #[error("invalid server address {0:?}")]
    Address(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// How often an open call's connection is checked with an HTTP/2 PING.
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);
/// How long a PING may go unanswered before the connection is closed.
const KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The longest a new connection may take to set up (TCP and TLS).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest [`connected_mtls_channel`] waits for its first connection (TCP, TLS, HTTP/2).
const EAGER_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

fn channel(authority: &str, config: ClientConfig) -> Result<Channel, ChannelError> {
    let (endpoint, connector) = endpoint(authority, config)?;
    Ok(endpoint.connect_with_connector_lazy(connector))
}

fn endpoint(
    authority: &str,
    mut config: ClientConfig,
) -> Result<(Endpoint, SpiffeConnector), ChannelError> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|_| ChannelError::Address(authority.to_owned()))?
        .connect_timeout(CONNECT_TIMEOUT)
        // A connection that goes silent (a dropped NAT mapping, a server host gone without a
        // reset) would otherwise hold a sync or a renewal forever: an unanswered HTTP/2 PING
        // closes it and fails the call, which the caller retries. Pings only while a call is
        // open and no more often than every 5 minutes, the least interval a grpc-go server
        // (SPIRE's) accepts by default before it answers "too many pings" with GOAWAY.
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(false);
    Ok((endpoint, SpiffeConnector::new(Arc::new(config))))
}

/// A TLS channel without a client certificate, for `AttestAgent`: the server is verified
/// against `bundle`, or not at all when `bundle` is `None` (insecure bootstrap).
pub fn bootstrap_channel(
    authority: &str,
    trust_domain: &TrustDomain,
    bundle: Option<Arc<TrustBundle>>,
) -> Result<Channel, ChannelError> {
    let config = match bundle {
        Some(bundle) => ClientConfigBuilder::new(provider())
            .verify_server(bundle, Authorizer::exact(server_id(trust_domain)))
            .without_client_cert(),
        None => ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
                    .with_no_client_auth()
            }),
    }
    .map_err(ChannelError::Tls)?;
    channel(authority, config)
}

/// An mTLS channel presenting the agent SVID (re-read at every handshake, so renewal needs no
/// new channel) and verifying the server against `bundle`.
pub fn mtls_channel(
    authority: &str,
    trust_domain: &TrustDomain,
    svid: Arc<AgentSvid>,
    bundle: Arc<TrustBundle>,
) -> Result<Channel, ChannelError> {
    channel(authority, mtls_config(trust_domain, svid, bundle)?)
}

fn mtls_config(
    trust_domain: &TrustDomain,
    svid: Arc<AgentSvid>,
    bundle: Arc<TrustBundle>,
) -> Result<ClientConfig, ChannelError> {
    ClientConfigBuilder::new(provider())
        .verify_server(bundle, Authorizer::exact(server_id(trust_domain)))
        .with_svid(svid)
        .map_err(ChannelError::Tls)
}

/// [`mtls_channel`], its first connection made before it is returned (TCP, TLS presenting the
/// SVID as it is now, HTTP/2), within [`EAGER_CONNECT_TIMEOUT`]; when that fails, the lazy
/// channel, which connects at its first call.
///
/// For the channel that replaces another after a renewal: the calls that follow (a sync round
/// under way, whose SVIDs may be close to expiry while the network is slow) find the
/// connection ready instead of paying for its handshakes, and meanwhile keep the old channel.
pub async fn connected_mtls_channel(
    authority: &str,
    trust_domain: &TrustDomain,
    svid: Arc<AgentSvid>,
    bundle: Arc<TrustBundle>,
) -> Result<Channel, ChannelError> {
    let (endpoint, connector) = endpoint(authority, mtls_config(trust_domain, svid, bundle)?)?;
    // The endpoint's connect timeout bounds TCP and TLS; this bounds the HTTP/2 handshake too.
    let connecting = endpoint.connect_with_connector(connector.clone());
    match tokio::time::timeout(EAGER_CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(error)) => {
            tracing::debug!(error = %error, "Unable to connect to the server now; connecting at the next call");
            Ok(endpoint.connect_with_connector_lazy(connector))
        }
        Err(_) => {
            tracing::debug!("Connecting to the server timed out; connecting at the next call");
            Ok(endpoint.connect_with_connector_lazy(connector))
        }
    }
}

/// The insecure bootstrap's verifier: any certificate, with a valid handshake signature.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::{Duration, Instant};

    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
    use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
    use spiffe_core::{Certificate, SpiffeId, X509Bundle, X509Svid};

    use super::*;

    /// An agent SVID and the bundle of its CA.
    fn agent(td: &TrustDomain) -> (Arc<AgentSvid>, Arc<TrustBundle>) {
        let now = UnixTime::now();
        let until = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 3600));
        let ca_key: Arc<dyn Signer> =
            Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let ca = X509SvidIssuer::self_signed(td, ca_key, now, until).unwrap();
        let key = SoftwareSigner::generate("agent", KeyType::EcP256).unwrap();
        let id = SpiffeId::from_path(td, "/spire/agent/test").unwrap();
        let request = X509SvidRequest::new(id, key.public_key(), Duration::from_secs(600));
        let minted = ca.mint(&request, now).unwrap();
        let chain = minted
            .into_chain()
            .into_iter()
            .map(|der| Certificate::from_der(der).unwrap())
            .collect();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
        let svid = X509Svid::from_parts(chain, pkcs8).unwrap();
        let bundle = X509Bundle::from_authorities(td.clone(), vec![ca.certificate().clone()]);
        (
            Arc::new(AgentSvid::new(svid)),
            Arc::new(TrustBundle::new(bundle)),
        )
    }

    /// Connections a listener accepted so far (each closed at once: no TLS server there).
    fn counting_listener() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        (authority, accepted)
    }

    #[tokio::test]
    async fn a_connected_channel_dials_before_it_is_returned_and_falls_back_to_lazy() {
        let td = TrustDomain::new("example.org").unwrap();
        let (svid, bundle) = agent(&td);
        let (authority, accepted) = counting_listener();
        let accepted_now = || accepted.load(std::sync::atomic::Ordering::SeqCst);

        // The lazy channel dials nobody until its first call.
        let _lazy = mtls_channel(&authority, &td, svid.clone(), bundle.clone()).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(accepted_now(), 0);

        // The connected one has dialed when it is returned; its handshake failed here (no TLS
        // server), so it is the lazy channel, returned without an error and without waiting
        // for the timeout.
        let started = Instant::now();
        let _channel = connected_mtls_channel(&authority, &td, svid.clone(), bundle.clone())
            .await
            .unwrap();
        assert!(accepted_now() >= 1, "no connection made");
        assert!(started.elapsed() < EAGER_CONNECT_TIMEOUT);

        // Nobody listening: a channel all the same, at once.
        let closed = {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
            l.local_addr().unwrap().to_string()
        };
        let started = Instant::now();
        connected_mtls_channel(&closed, &td, svid, bundle)
            .await
            .unwrap();
        assert!(started.elapsed() < CONNECT_TIMEOUT);
    }
}
