//! Verifies a server's X.509-SVID from the client side.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use spiffe_core::x509::X509VerifyOptions;
use spiffe_core::X509BundleSource;

use super::peer::PeerVerifier;
use crate::Authorizer;

/// A rustls [`ServerCertVerifier`] that accepts a server presenting an X.509-SVID of a
/// trusted trust domain whose SPIFFE ID the [`Authorizer`] allows.
///
/// The server name the client connects to is ignored: SPIFFE authenticates by SPIFFE ID,
/// never by DNS name. Bundles are read from the source on every handshake, so a source that
/// rotates takes effect on the next connection.
#[derive(Debug, Clone)]
pub struct SpiffeServerCertVerifier {
    peer: PeerVerifier,
}

// === impl SpiffeServerCertVerifier ===

impl SpiffeServerCertVerifier {
    /// A verifier trusting the bundles of `bundles`, authorizing with `authorizer`, and
    /// checking handshake signatures with `provider`'s algorithms.
    pub fn new(
        bundles: impl X509BundleSource + Send + Sync + 'static,
        authorizer: Authorizer,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            peer: PeerVerifier::new(Arc::new(bundles), authorizer, provider),
        }
    }

    /// Verifies peers' X.509-SVIDs with `options` instead of the strict defaults of
    /// `spiffe_core::x509::verify`, e.g.
    /// [`accept_leaves_without_digital_signature`](X509VerifyOptions::accept_leaves_without_digital_signature)
    /// for peers whose leaves only go-spiffe's `Verify` accepts.
    #[must_use]
    pub fn with_verify_options(self, options: X509VerifyOptions) -> Self {
        Self {
            peer: self.peer.with_options(options),
        }
    }
}

impl ServerCertVerifier for SpiffeServerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.peer.verify(end_entity, intermediates, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.peer.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.peer.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.peer.supported_verify_schemes()
    }
}
