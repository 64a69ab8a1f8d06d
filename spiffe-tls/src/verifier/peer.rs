//! What both verifiers share: chain verification, authorization and handshake signatures.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{self, X509VerifyOptions};
use spiffe_core::{VerifiedX509Svid, X509BundleSource};

use super::cache::{Recording, VerifiedCache};
use super::registry;
use crate::{Authorizer, PeerRejected};

/// The bundle source a verifier reads on every handshake.
pub(crate) type BundleSource = Arc<dyn X509BundleSource + Send + Sync>;

/// Verifies a peer's X.509-SVID and authorizes its SPIFFE ID.
#[derive(Clone)]
pub(crate) struct PeerVerifier {
    bundles: BundleSource,
    authorizer: Authorizer,
    provider: Arc<CryptoProvider>,
    options: X509VerifyOptions,
    cache: Arc<VerifiedCache>,
}

// === impl PeerVerifier ===

impl PeerVerifier {
    pub(crate) fn new(
        bundles: BundleSource,
        authorizer: Authorizer,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            bundles,
            authorizer,
            provider,
            options: X509VerifyOptions::new(),
            cache: Arc::default(),
        }
    }

    /// The same verifier with `options` and an empty cache (cached verifications were made
    /// with the previous options).
    pub(crate) fn with_options(self, options: X509VerifyOptions) -> Self {
        Self {
            options,
            cache: Arc::default(),
            ..self
        }
    }

    /// Verifies the presented chain against the newest bundle of the leaf's trust domain
    /// (X509-20..25, WAPI-11), then asks the authorizer. A chain that verified before against
    /// the same bundle object is taken from the cache after its validity is checked at `now`
    /// (see `cache.rs`); the authorizer always runs. A chain that passes both is recorded (see
    /// `registry.rs`), so `peer_spiffe_id` reports its ID.
    pub(crate) fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<VerifiedX509Svid, rustls::Error> {
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(CertificateDer::from(end_entity.as_ref()));
        chain.extend(
            intermediates
                .iter()
                .map(|c| CertificateDer::from(c.as_ref())),
        );
        let key = VerifiedCache::key(&chain);
        let verified = match self.cache.get(&key, &*self.bundles, now) {
            Some(verified) => verified,
            None => {
                let recording = Recording::new(&*self.bundles);
                let verified = x509::verify_with(&chain, &recording, now, &self.options)
                    .map_err(PeerRejected::Svid)?;
                if let Some(bundle) = recording.used() {
                    self.cache.insert(key, bundle, verified.clone());
                }
                verified
            }
        };
        self.authorizer.authorize(&verified)?;
        registry::record_verified_leaf(end_entity.as_ref());
        Ok(verified)
    }

    pub(crate) fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    pub(crate) fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    pub(crate) fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl fmt::Debug for PeerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerVerifier")
            .field("authorizer", &self.authorizer)
            .finish_non_exhaustive()
    }
}
