//! The `https_spiffe` client's check of the endpoint's certificate (FED-25): a valid
//! X.509-SVID under the endpoint trust domain's current bundle, whose SPIFFE ID is exactly the
//! configured one. Host names play no part.
//!
//! Written on `spiffe-core`'s verifier rather than `spiffe-tls`'s, which this crate may not
//! depend on (ARCHITECTURE.md); it is one relationship, one ID, one bundle, so the glue is
//! small. The verifier remembers the authority that anchored the path, so the client can
//! refuse a new bundle that drops it.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use spiffe_core::{Certificate, SpiffeId, X509Bundle};

/// Verifies one endpoint's X.509-SVID; one instance per fetch.
#[derive(Debug)]
pub(super) struct EndpointSvidVerifier {
    endpoint_id: SpiffeId,
    bundle: Arc<X509Bundle>,
    provider: Arc<CryptoProvider>,
    anchor: Mutex<Option<Certificate>>,
}

impl EndpointSvidVerifier {
    pub(super) fn new(
        endpoint_id: SpiffeId,
        bundle: Arc<X509Bundle>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            endpoint_id,
            bundle,
            provider,
            anchor: Mutex::new(None),
        }
    }

    /// The bundle authority the endpoint's SVID chained to, once verified.
    pub(super) fn anchor(&self) -> Option<Certificate> {
        self.anchor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ServerCertVerifier for EndpointSvidVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone());
        chain.extend(intermediates.iter().cloned());
        // FED-23/25: a valid X.509-SVID (X509-20..25) under the endpoint trust domain's bundle.
        let verified = spiffe_core::x509::verify(&chain, &self.bundle, now).map_err(|e| {
            verify_error(format!(
                "endpoint certificate is not a valid X.509-SVID: {e}"
            ))
        })?;
        // FED-25: its ID MUST equal the configured endpoint SPIFFE ID.
        if verified.spiffe_id() != &self.endpoint_id {
            return Err(verify_error(format!(
                "endpoint presented {}, expected {}",
                verified.spiffe_id(),
                self.endpoint_id
            )));
        }
        if let Some(anchor) = verified.chain().last() {
            *self.anchor.lock().unwrap_or_else(|p| p.into_inner()) = Some(anchor.clone());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls error carrying our message (rustls reports it as the handshake's failure).
fn verify_error(message: String) -> TlsError {
    TlsError::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
        VerifyMessage(message),
    ))))
}

#[derive(Debug)]
struct VerifyMessage(String);

impl std::fmt::Display for VerifyMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerifyMessage {}
