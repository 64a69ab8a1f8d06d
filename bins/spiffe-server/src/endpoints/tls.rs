//! The TCP listener's TLS: the server presents its own X.509-SVID (re-read on every handshake,
//! so rotation needs no restart) and asks for, but does not require, a client certificate.
//!
//! SPIRE's TCP listener serves agents and admins (who authenticate with their X.509-SVIDs) and
//! unauthenticated callers of `AttestAgent` and `GetBundle` alike, so client authentication is
//! optional there: a client certificate, when presented, must verify against the bundle of its
//! trust domain, or the handshake fails; without one the caller is an unauthenticated peer, and
//! the authorization layer lets it reach only the RPCs open to anyone.
//!
//! `spiffe-tls`'s [`SpiffeClientCertVerifier`] makes client authentication mandatory; this
//! module wraps it, changing only that ([`OptionalClientAuth`]). Authorization by SPIFFE ID is
//! the authorization layer's job, so the verifier authorizes any ID it can verify
//! ([`Authorizer::any`], named as such).

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{X509BundleSource, X509SvidSource};
use spiffe_tls::{Authorizer, ServerConfigBuilder, SpiffeClientCertVerifier, SvidCertResolver};

/// A [`SpiffeClientCertVerifier`] that lets clients without a certificate through.
#[derive(Debug)]
pub(crate) struct OptionalClientAuth(SpiffeClientCertVerifier);

impl ClientCertVerifier for OptionalClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The TCP listener's rustls configuration (HTTP/2 only, as gRPC).
pub(crate) fn server_config(
    svid: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
) -> Result<ServerConfig, rustls::Error> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = SpiffeClientCertVerifier::new(bundles, Authorizer::any(), provider.clone());
    let resolver = SvidCertResolver::new(svid, &provider);
    let mut config = ServerConfigBuilder::new(provider)
        .verify_clients_with(Arc::new(OptionalClientAuth(verifier)))
        .with_cert_resolver(Arc::new(resolver))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
