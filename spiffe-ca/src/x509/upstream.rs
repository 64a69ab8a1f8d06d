//! Upstream authorities: whoever signs an intermediate CA's certificate, and the `disk`
//! implementation (an existing CA certificate and key read from PEM files).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use spiffe_core::x509::{parse_certificates, PublicKeyAlgorithm};
use spiffe_core::{BoxFuture, Certificate, TrustDomain, X509Svid};

use crate::keys::{KeyType, PublicKey, Signer, SoftwareSigner};
use crate::CaError;

use super::issuer::check_validity;
use super::profile::{self, Fields, Issuer};
use super::spki;

/// Signs intermediate CA certificates for a trust domain's X.509 authority (SPIRE's
/// `UpstreamAuthority` plugin role).
pub trait UpstreamAuthority: Send + Sync + fmt::Debug {
    /// Signs a CA certificate for `request`'s key and trust domain, and returns it with the
    /// chain up to the upstream root.
    fn mint_x509_ca<'a>(
        &'a self,
        request: &'a UpstreamCaRequest,
    ) -> BoxFuture<'a, Result<UpstreamCa, CaError>>;
}

/// What an intermediate CA asks its upstream for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamCaRequest {
    /// The trust domain the CA will serve (its URI SAN is `spiffe://<trust_domain>`).
    pub trust_domain: TrustDomain,
    /// The CA's public key.
    pub public_key: PublicKey,
    /// The requested lifetime (the upstream may shorten it).
    pub ttl: Duration,
    /// The time of the request.
    pub now: UnixTime,
    /// The new CA's signer, for an upstream that needs proof of possession (a CSR, as
    /// SPIRE's `spire` upstream authority sends); `None` when the caller has none to give.
    pub signer: Option<Arc<dyn Signer>>,
}

impl UpstreamCaRequest {
    /// A request for a CA of `trust_domain` with `public_key`, for `ttl` from `now`.
    pub fn new(
        trust_domain: TrustDomain,
        public_key: PublicKey,
        ttl: Duration,
        now: UnixTime,
    ) -> Self {
        Self {
            trust_domain,
            public_key,
            ttl,
            now,
            signer: None,
        }
    }

    /// Adds the new CA's signer (see [`signer`](Self::signer)).
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }
}

/// A signed intermediate CA certificate and the chain above it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamCa {
    /// The new CA certificate.
    pub certificate: CertificateDer<'static>,
    /// Upstream intermediates from the signer of `certificate` up to, not including, the root.
    pub intermediates: Vec<CertificateDer<'static>>,
    /// The upstream root: what belongs in the trust bundle.
    pub root: CertificateDer<'static>,
}

impl UpstreamCa {
    /// A signed CA certificate with its upstream intermediates and root.
    pub fn new(
        certificate: CertificateDer<'static>,
        intermediates: Vec<CertificateDer<'static>>,
        root: CertificateDer<'static>,
    ) -> Self {
        Self {
            certificate,
            intermediates,
            root,
        }
    }
}

/// An upstream CA whose certificate (chain) and key are files on disk, as SPIRE's `disk`
/// UpstreamAuthority plugin. The key is held in memory as a [`SoftwareSigner`].
pub struct DiskUpstreamAuthority {
    issuer: Issuer,
    certificate: Certificate,
    intermediates: Vec<CertificateDer<'static>>,
    root: Certificate,
}

// === impl DiskUpstreamAuthority ===

impl DiskUpstreamAuthority {
    /// Loads the CA from `cert_path` (PEM: the CA certificate, then its intermediates, ending
    /// with the self-signed root; a lone self-signed certificate is its own root) and
    /// `key_path` (PEM or DER: PKCS#8, SEC1 or PKCS#1 of the certificate's key).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, CaError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| CaError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        Self::from_pem(&read(cert_path)?, &read(key_path)?)
    }

    /// Like [`load`](Self::load), from the files' contents.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, CaError> {
        let chain = parse_certificates(cert_chain_pem).map_err(CaError::Certificate)?;
        let leaf = chain.first().ok_or(CaError::NotACa)?;
        let key = X509Svid::parse_key(key_pem).map_err(|_| CaError::MalformedKey)?;
        let signer = software_signer(&key, leaf.public_key_algorithm())?;
        Self::from_parts(Arc::new(signer), chain)
    }

    /// An upstream from a signer and its chain (the CA certificate first, the self-signed root
    /// last).
    pub fn from_parts(signer: Arc<dyn Signer>, chain: Vec<Certificate>) -> Result<Self, CaError> {
        let certificate = chain.first().ok_or(CaError::NotACa)?.clone();
        if certificate.subject_public_key_info() != signer.public_key().spki_der() {
            return Err(CaError::SignerMismatch);
        }
        if !certificate.is_ca() || !certificate.key_usage().is_some_and(|ku| ku.key_cert_sign()) {
            return Err(CaError::NotACa);
        }
        let root = chain.last().ok_or(CaError::NotACa)?.clone();
        if !root.is_self_issued() {
            return Err(CaError::UpstreamChainIncomplete);
        }
        let intermediates = chain[..chain.len() - 1]
            .iter()
            .map(|c| c.der().clone())
            .collect();
        let key = spki::read(certificate.subject_public_key_info())
            .map_err(|_| CaError::MalformedPublicKey)?;
        let key_id = certificate
            .subject_key_id()
            .map_or_else(|| profile::key_id(key.key_bits).to_vec(), <[u8]>::to_vec);
        let issuer = Issuer::new(signer, certificate.subject_der().to_vec(), &key_id);
        Ok(Self {
            issuer,
            certificate,
            intermediates,
            root,
        })
    }

    /// The upstream CA certificate that signs.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The upstream root.
    pub fn root(&self) -> &Certificate {
        &self.root
    }

    fn sign(&self, request: &UpstreamCaRequest) -> Result<UpstreamCa, CaError> {
        let (up_not_before, up_not_after) = (
            self.certificate.not_before().as_secs(),
            self.certificate.not_after().as_secs(),
        );
        check_validity(request.ttl, request.now, up_not_before, up_not_after)?;
        let spki_der = request.public_key.spki_der();
        let key = spki::read(spki_der).map_err(|_| CaError::MalformedPublicKey)?;
        let key_id = profile::key_id(key.key_bits);
        let serial = profile::random_serial()?;
        let name = profile::ca_subject(&serial);
        let now = request.now.as_secs();
        let der = self.issuer.issue(
            &Fields {
                serial,
                not_before: now.saturating_sub(10).max(up_not_before),
                not_after: now.saturating_add(request.ttl.as_secs()).min(up_not_after),
                subject: &name,
                spki: spki_der,
            },
            profile::ca_extensions(request.trust_domain.id_str(), &key_id),
        )?;
        Ok(UpstreamCa::new(
            CertificateDer::from(der),
            self.intermediates.clone(),
            self.root.der().clone(),
        ))
    }
}

impl UpstreamAuthority for DiskUpstreamAuthority {
    fn mint_x509_ca<'a>(
        &'a self,
        request: &'a UpstreamCaRequest,
    ) -> BoxFuture<'a, Result<UpstreamCa, CaError>> {
        Box::pin(std::future::ready(self.sign(request)))
    }
}

impl fmt::Debug for DiskUpstreamAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskUpstreamAuthority")
            .field("certificate", &self.certificate)
            .field("root", &self.root.subject())
            .finish_non_exhaustive()
    }
}

/// Loads `key` (PKCS#8, SEC1 or PKCS#1) as a software signer of the certificate's key type.
pub(crate) fn software_signer(
    key: &PrivateKeyDer<'_>,
    algorithm: PublicKeyAlgorithm,
) -> Result<SoftwareSigner, CaError> {
    let key_type = match algorithm {
        PublicKeyAlgorithm::EcP256 => KeyType::EcP256,
        PublicKeyAlgorithm::EcP384 => KeyType::EcP384,
        PublicKeyAlgorithm::Rsa { bits: 2048 } => KeyType::Rsa2048,
        PublicKeyAlgorithm::Rsa { bits: 4096 } => KeyType::Rsa4096,
        _ => return Err(CaError::KeyTypeNotAllowed { key_type: None }),
    };
    let bytes = key.secret_der();
    let pkcs8 = match (key_type, key) {
        (KeyType::EcP256 | KeyType::EcP384, PrivateKeyDer::Pkcs8(_) | PrivateKeyDer::Sec1(_)) => {
            let alg = if key_type == KeyType::EcP256 {
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING
            };
            let pair = EcdsaKeyPair::from_private_key_der(alg, bytes)
                .map_err(|_| CaError::MalformedKey)?;
            pair.to_pkcs8v1()
                .map_err(|_| CaError::MalformedKey)?
                .as_ref()
                .to_vec()
        }
        (KeyType::Rsa2048 | KeyType::Rsa4096, PrivateKeyDer::Pkcs8(_)) => bytes.to_vec(),
        (KeyType::Rsa2048 | KeyType::Rsa4096, PrivateKeyDer::Pkcs1(_)) => {
            let pair = RsaKeyPair::from_der(bytes).map_err(|_| CaError::MalformedKey)?;
            let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| CaError::MalformedKey)?;
            der.as_ref().to_vec()
        }
        _ => return Err(CaError::MalformedKey),
    };
    SoftwareSigner::from_pkcs8("upstream", key_type, &pkcs8).map_err(|_| CaError::MalformedKey)
}
