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

fn channel(authority: &str, mut config: ClientConfig) -> Result<Channel, ChannelError> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|_| ChannelError::Address(authority.to_owned()))?
        .connect_timeout(std::time::Duration::from_secs(10))
        // A connection that goes silent (a dropped NAT mapping, a server host gone without a
        // reset) would otherwise hold a sync or a renewal forever: an unanswered HTTP/2 PING
        // closes it and fails the call, which the caller retries. Pings only while a call is
        // open and no more often than every 5 minutes, the least interval a grpc-go server
        // (SPIRE's) accepts by default before it answers "too many pings" with GOAWAY.
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(false);
    Ok(endpoint.connect_with_connector_lazy(SpiffeConnector::new(Arc::new(config))))
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
    let config = ClientConfigBuilder::new(provider())
        .verify_server(bundle, Authorizer::exact(server_id(trust_domain)))
        .with_svid(svid)
        .map_err(ChannelError::Tls)?;
    channel(authority, config)
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
