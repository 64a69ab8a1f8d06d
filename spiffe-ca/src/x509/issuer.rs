//! The X.509-SVID issuer of a trust domain: a CA certificate and its signer, minting
//! X.509-SVIDs. (An *authority*, in this project's vocabulary, is the public half that goes in
//! the bundle: here the issuer's [`trust_anchor`](X509SvidIssuer::trust_anchor).)

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::{Certificate, SpiffeId, TrustDomain};

use crate::keys::{KeyType, Signer};
use crate::CaError;

use super::profile::{self, Fields, Issuer};
use super::request::{valid_dns_name, MintedX509Svid, X509SvidRequest};
use super::spki::{self, SpkiError};
use super::upstream::{UpstreamAuthority, UpstreamCaRequest};
use crate::der_writer::DerWriter;

/// SPIRE's cushion against clock skew: leaves are valid from 10 s before they are minted.
const BACKDATE_SECS: u64 = 10;

/// The X.509-SVID issuer of one trust domain: a CA certificate (a self-signed root, or an
/// intermediate signed by an [`UpstreamAuthority`]) and its signer. Mints X.509-SVIDs of its
/// trust domain.
///
/// Cheap to clone (the parts are shared).
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use spiffe_ca::keys::{KeyType, SoftwareSigner, Signer};
/// # use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
/// # use spiffe_core::pki_types::UnixTime;
/// # use spiffe_core::{SpiffeId, TrustDomain, X509Bundle};
/// let td = TrustDomain::new("example.org")?;
/// let now = UnixTime::now();
/// let day = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 86_400));
/// let ca_key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256)?);
/// let ca = X509SvidIssuer::self_signed(&td, ca_key, now, day)?;
///
/// let workload_key = SoftwareSigner::generate("w", KeyType::EcP256)?;
/// let id = SpiffeId::new("spiffe://example.org/web")?;
/// let request = X509SvidRequest::new(id, workload_key.public_key(), Duration::from_secs(3600));
/// let svid = ca.mint(&request, now)?;
///
/// let bundle = Arc::new(X509Bundle::from_authorities(td, vec![ca.trust_anchor().clone()]));
/// let verified = spiffe_core::x509::verify(svid.chain(), &bundle, now)?;
/// assert_eq!(verified.spiffe_id().as_str(), "spiffe://example.org/web");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct X509SvidIssuer {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    trust_domain: TrustDomain,
    issuer: Issuer,
    certificate: Certificate,
    chain: Vec<Certificate>,
    trust_anchor: Certificate,
    authority_id: String,
    /// What follows a leaf in a minted chain: the chain, unless this CA is the anchor.
    presented: Vec<CertificateDer<'static>>,
    not_before: u64,
    not_after: u64,
    allowed_key_types: Vec<KeyType>,
    /// Fixed leaf extensions, per key type: EC (index 0) and RSA (index 1).
    leaf_fixed: [Vec<u8>; 2],
}

// === impl X509SvidIssuer ===

impl X509SvidIssuer {
    /// A self-signed root CA for `trust_domain` (X509-7..19), valid from `not_before` to
    /// `not_after`, signed by (and certifying) `signer`.
    pub fn self_signed(
        trust_domain: &TrustDomain,
        signer: Arc<dyn Signer>,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<Self, CaError> {
        let (not_before, not_after) = (not_before.as_secs(), not_after.as_secs());
        if not_before >= not_after {
            return Err(CaError::EmptyValidity);
        }
        let spki_der = signer.public_key().spki_der().to_vec();
        let key = spki::read(&spki_der).map_err(|_| CaError::MalformedPublicKey)?;
        let key_id = profile::key_id(key.key_bits);
        let serial = profile::random_serial()?;
        let name = profile::ca_subject(&serial);
        let issuer = Issuer::new(signer.clone(), name.clone(), &key_id);
        let der = issuer.issue(
            &Fields {
                serial,
                not_before,
                not_after,
                subject: &name,
                spki: &spki_der,
            },
            profile::ca_extensions(trust_domain.id_str(), &key_id),
        )?;
        let certificate = parse(der)?;
        Self::from_parts(
            trust_domain.clone(),
            signer,
            vec![certificate.clone()],
            certificate,
        )
    }

    /// An intermediate CA for `trust_domain` whose certificate `upstream` signs for `signer`'s
    /// key, for `ttl` from `now` (the upstream may shorten it).
    pub async fn intermediate(
        trust_domain: &TrustDomain,
        signer: Arc<dyn Signer>,
        upstream: &dyn UpstreamAuthority,
        ttl: Duration,
        now: UnixTime,
    ) -> Result<Self, CaError> {
        let request =
            UpstreamCaRequest::new(trust_domain.clone(), signer.public_key().clone(), ttl, now)
                .with_signer(signer.clone());
        let signed = upstream.mint_x509_ca(&request).await?;
        let mut chain = vec![parse(signed.certificate.to_vec())?];
        for der in &signed.intermediates {
            chain.push(parse(der.to_vec())?);
        }
        let root = parse(signed.root.to_vec())?;
        Self::from_parts(trust_domain.clone(), signer, chain, root)
    }

    /// An issuer from existing parts, e.g. reloaded from storage: `chain` is this CA's
    /// certificate followed by any upstream intermediates (not the root), `trust_anchor` the
    /// certificate that belongs in the bundle (this CA's own when self-signed).
    ///
    /// Checks that the signer holds the CA certificate's key, and that the certificate is a CA
    /// (cA, keyCertSign) whose URI SAN is `spiffe://<trust_domain>` (X509-7, X509-9).
    pub fn from_parts(
        trust_domain: TrustDomain,
        signer: Arc<dyn Signer>,
        chain: Vec<Certificate>,
        trust_anchor: Certificate,
    ) -> Result<Self, CaError> {
        let certificate = chain.first().ok_or(CaError::NotACa)?.clone();
        if certificate.subject_public_key_info() != signer.public_key().spki_der() {
            return Err(CaError::SignerMismatch);
        }
        let is_signing_ca = certificate.is_ca()
            && certificate.key_usage().is_some_and(|ku| ku.key_cert_sign())
            && matches!(certificate.spiffe_id(), Ok(Some(id)) if id == trust_domain.id());
        if !is_signing_ca {
            return Err(CaError::NotACa);
        }
        let key = spki::read(certificate.subject_public_key_info())
            .map_err(|_| CaError::MalformedPublicKey)?;
        let key_id = certificate
            .subject_key_id()
            .map_or_else(|| profile::key_id(key.key_bits).to_vec(), <[u8]>::to_vec);
        let authority_id = key_id.iter().map(|b| format!("{b:02x}")).collect();
        let issuer = Issuer::new(signer, certificate.subject_der().to_vec(), &key_id);
        let self_anchored = certificate == trust_anchor;
        let presented = if self_anchored {
            Vec::new()
        } else {
            chain.iter().map(|c| c.der().clone()).collect()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                trust_domain,
                issuer,
                not_before: certificate.not_before().as_secs(),
                not_after: certificate.not_after().as_secs(),
                certificate,
                chain,
                trust_anchor,
                authority_id,
                presented,
                allowed_key_types: vec![
                    KeyType::EcP256,
                    KeyType::EcP384,
                    KeyType::Rsa2048,
                    KeyType::Rsa4096,
                ],
                leaf_fixed: [
                    profile::leaf_fixed_extensions(KeyType::EcP256),
                    profile::leaf_fixed_extensions(KeyType::Rsa2048),
                ],
            }),
        })
    }

    /// Restricts the key types of the leaves this issuer mints (default: EC P-256,
    /// EC P-384, RSA-2048, RSA-4096).
    pub fn with_allowed_key_types(mut self, key_types: &[KeyType]) -> Self {
        Arc::make_mut(&mut self.inner).allowed_key_types = key_types.to_vec();
        self
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.inner.trust_domain
    }

    /// This CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.inner.certificate
    }

    /// This CA's certificate followed by the upstream intermediates, without the root.
    pub fn chain(&self) -> &[Certificate] {
        &self.inner.chain
    }

    /// The certificate that belongs in the trust bundle: this CA's own when self-signed, the
    /// upstream root otherwise.
    pub fn trust_anchor(&self) -> &Certificate {
        &self.inner.trust_anchor
    }

    /// The id of the authority this issuer publishes: the subjectKeyIdentifier in lowercase
    /// hex, as SPIRE names authorities.
    pub fn authority_id(&self) -> &str {
        &self.inner.authority_id
    }

    /// The CA certificate's notAfter; no SVID it mints outlives it.
    pub fn not_after(&self) -> UnixTime {
        self.inner.certificate.not_after()
    }

    /// The signer.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        self.inner.issuer.signer()
    }

    /// Mints an X.509-SVID (leaf profile X509-1..18) at time `now`.
    ///
    /// The leaf is valid from 10 s before `now` (never before the CA) until `now + ttl`,
    /// clamped to the CA's notAfter. Errors: a TTL of zero, the CA expired or not yet valid,
    /// an ID of another trust domain or without a path, a malformed or disallowed key, a bad
    /// DNS name or subject, a signer failure.
    pub fn mint(
        &self,
        request: &X509SvidRequest,
        now: UnixTime,
    ) -> Result<MintedX509Svid, CaError> {
        let inner = &*self.inner;
        let (not_before, not_after) = self.leaf_validity(request.ttl(), now)?;
        check_id(request.spiffe_id(), &inner.trust_domain)?;
        let key = spki::read(request.spki_der()).map_err(|e| match e {
            SpkiError::Malformed => CaError::MalformedPublicKey,
            SpkiError::UnknownKeyType => CaError::KeyTypeNotAllowed { key_type: None },
        })?;
        if !inner.allowed_key_types.contains(&key.key_type) {
            return Err(CaError::KeyTypeNotAllowed {
                key_type: Some(key.key_type),
            });
        }
        if let Some(index) = request
            .dns_names()
            .iter()
            .position(|name| !valid_dns_name(name))
        {
            return Err(CaError::InvalidDnsName { index });
        }
        let subject = match request.subject() {
            Some(subject) if !subject.is_empty() => subject.to_der()?,
            _ => vec![0x30, 0x00],
        };
        let subject_empty = subject.len() == 2;
        let fixed = match key.key_type {
            KeyType::Rsa2048 | KeyType::Rsa4096 => &inner.leaf_fixed[1],
            KeyType::EcP256 | KeyType::EcP384 => &inner.leaf_fixed[0],
        };
        let key_id = profile::key_id(key.key_bits);
        let der = inner.issuer.issue(
            &Fields {
                serial: profile::random_serial()?,
                not_before,
                not_after,
                subject: &subject,
                spki: request.spki_der(),
            },
            |w: &mut DerWriter| {
                w.raw(fixed);
                profile::leaf_san_and_key_id(
                    w,
                    request.spiffe_id().as_str(),
                    request.dns_names(),
                    subject_empty,
                    &key_id,
                );
            },
        )?;
        let mut chain = Vec::with_capacity(1 + inner.presented.len());
        chain.push(CertificateDer::from(der));
        chain.extend(inner.presented.iter().cloned());
        Ok(MintedX509Svid {
            chain,
            spiffe_id: request.spiffe_id().clone(),
            expires_at: UnixTime::since_unix_epoch(Duration::from_secs(not_after)),
        })
    }

    /// Mints an X.509-SVID for the key of a PKCS#10 CSR, whose signature is checked first
    /// (proof of possession); see [`X509SvidRequest::from_csr`] to add DNS names or a subject.
    pub fn mint_from_csr(
        &self,
        csr_der: &[u8],
        spiffe_id: SpiffeId,
        ttl: Duration,
        now: UnixTime,
    ) -> Result<MintedX509Svid, CaError> {
        self.mint(&X509SvidRequest::from_csr(spiffe_id, csr_der, ttl)?, now)
    }

    /// Mints one X.509-SVID per request, each result in the request's position.
    pub fn mint_batch(
        &self,
        requests: &[X509SvidRequest],
        now: UnixTime,
    ) -> Vec<Result<MintedX509Svid, CaError>> {
        requests.iter().map(|r| self.mint(r, now)).collect()
    }

    /// Signs a downstream CA for the key `spki_der` (SPIRE's `NewDownstreamX509CA`: a nested
    /// server's intermediate under this one), valid from 10 s before `now` (never before this
    /// CA) until `now + ttl`, capped at this CA's notAfter. Returns the new CA certificate
    /// followed by this CA's presented chain (its own certificate and upstream intermediates
    /// when it is not itself the anchor), as SPIRE answers.
    ///
    /// The certificate has the CA profile this crate gives every CA: cA=TRUE without a
    /// pathLenConstraint (X509-10, as SPIRE's downstream CAs, so a downstream may itself have
    /// downstreams), keyCertSign and cRLSign, and the URI SAN `spiffe://<trust_domain>` of
    /// this CA's own trust domain (X509-8/9): a downstream CA is never for another one.
    pub fn mint_downstream_ca(
        &self,
        spki_der: &[u8],
        ttl: Duration,
        now: UnixTime,
    ) -> Result<Vec<CertificateDer<'static>>, CaError> {
        let inner = &*self.inner;
        let key = spki::read(spki_der).map_err(|e| match e {
            SpkiError::Malformed => CaError::MalformedPublicKey,
            SpkiError::UnknownKeyType => CaError::KeyTypeNotAllowed { key_type: None },
        })?;
        if !inner.allowed_key_types.contains(&key.key_type) {
            return Err(CaError::KeyTypeNotAllowed {
                key_type: Some(key.key_type),
            });
        }
        let (not_before, not_after) = self.leaf_validity(ttl, now)?;
        let key_id = profile::key_id(key.key_bits);
        let serial = profile::random_serial()?;
        let name = profile::ca_subject(&serial);
        let der = inner.issuer.issue(
            &Fields {
                serial,
                not_before,
                not_after,
                subject: &name,
                spki: spki_der,
            },
            profile::ca_extensions(inner.trust_domain.id_str(), &key_id),
        )?;
        // A self-signed CA presents nothing (it is the anchor): the chain is the new CA alone.
        let mut chain = vec![CertificateDer::from(der)];
        chain.extend(inner.presented.iter().cloned());
        Ok(chain)
    }

    /// The leaf's validity for `ttl` at `now`, after the CA's own validity is checked.
    fn leaf_validity(&self, ttl: Duration, now: UnixTime) -> Result<(u64, u64), CaError> {
        let inner = &*self.inner;
        check_validity(ttl, now, inner.not_before, inner.not_after)?;
        let now = now.as_secs();
        let not_before = now.saturating_sub(BACKDATE_SECS).max(inner.not_before);
        let not_after = now.saturating_add(ttl.as_secs()).min(inner.not_after);
        Ok((not_before, not_after))
    }
}

/// A TTL is positive and the authority (valid `[not_before, not_after)`) is valid at `now`.
pub(crate) fn check_validity(
    ttl: Duration,
    now: UnixTime,
    not_before: u64,
    not_after: u64,
) -> Result<(), CaError> {
    if ttl.as_secs() == 0 {
        return Err(CaError::ZeroTtl);
    }
    let secs = now.as_secs();
    if secs >= not_after {
        return Err(CaError::AuthorityExpired {
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(not_after)),
            now,
        });
    }
    if secs < not_before {
        return Err(CaError::AuthorityNotYetValid {
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(not_before)),
            now,
        });
    }
    Ok(())
}

/// An SVID's ID is in the authority's trust domain and has a path (X509-5).
pub(crate) fn check_id(id: &SpiffeId, trust_domain: &TrustDomain) -> Result<(), CaError> {
    if !id.is_member_of(trust_domain) {
        return Err(CaError::ForeignTrustDomain {
            trust_domain: id.trust_domain(),
            expected: trust_domain.clone(),
        });
    }
    // X509-5: a leaf's SPIFFE ID must have a non-root path.
    if !id.has_path() {
        return Err(CaError::IdWithoutPath);
    }
    Ok(())
}

/// Parses a certificate this crate produced or received.
pub(crate) fn parse(der: Vec<u8>) -> Result<Certificate, CaError> {
    Certificate::from_der(CertificateDer::from(der)).map_err(CaError::Certificate)
}
