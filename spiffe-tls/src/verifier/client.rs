//! Verifies a client's X.509-SVID from the server side.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::X509VerifyOptions;
use spiffe_core::X509BundleSource;

use super::peer::PeerVerifier;
use crate::Authorizer;

/// A rustls [`ClientCertVerifier`] that requires every client to present an X.509-SVID of a
/// trusted trust domain whose SPIFFE ID the [`Authorizer`] allows.
///
/// Client authentication is mandatory, and no CA names are sent to clients (a SPIFFE client
/// presents its one SVID whatever the server trusts). Bundles are read from the source on
/// every handshake.
#[derive(Debug, Clone)]
pub struct SpiffeClientCertVerifier {
    peer: PeerVerifier,
}

// === impl SpiffeClientCertVerifier ===

impl SpiffeClientCertVerifier {
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

impl ClientCertVerifier for SpiffeClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.peer.verify(end_entity, intermediates, now)?;
        Ok(ClientCertVerified::assertion())
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
