//! The X.509-SVID verifier: SPIFFE leaf checks (X509-17, X509-21..25), bundle selection by the
//! leaf's trust domain (WAPI-11), then RFC 5280 path validation to an authority of that bundle
//! (X509-20), with a path-building budget.

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::{SpiffeId, X509BundleSource};

use super::certificate::SignatureError;
use super::name_constraints::{self, NameConstraintError};
use super::{Certificate, X509Error, X509VerifyError, X509VerifyOptions};

/// Longest path: the leaf, this many intermediates, and the anchor.
const MAX_INTERMEDIATES: usize = 8;
/// Most signature checks one verification may spend on path building.
const MAX_SIGNATURE_CHECKS: usize = 64;

/// An X.509-SVID that verified: only [`verify`] and [`verify_parsed`] construct one, so
/// holding it proves the checks ran.
#[derive(Debug, Clone)]
pub struct VerifiedX509Svid {
    spiffe_id: SpiffeId,
    path: Vec<Certificate>,
}

// === impl VerifiedX509Svid ===

impl VerifiedX509Svid {
    /// The leaf's SPIFFE ID: authorize on this.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The verified path: leaf, the intermediates used, and the bundle authority last.
    pub fn chain(&self) -> &[Certificate] {
        &self.path
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &Certificate {
        &self.path[0]
    }
}

/// Parses a presented chain (leaf first) and verifies it, see [`verify_parsed`].
///
/// ```
/// # use std::sync::Arc;
/// # use spiffe_core::{x509, TrustDomain, X509Bundle};
/// # use spiffe_core::pki_types::UnixTime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let chain = x509::parse_certificates(include_bytes!("../../tests/data/x509/36-chain.pem"))?;
/// let roots = x509::parse_certificates(include_bytes!("../../tests/data/x509/root-td.pem"))?;
/// let bundle = Arc::new(X509Bundle::from_authorities(TrustDomain::new("td")?, roots));
/// let ders: Vec<_> = chain.iter().map(|c| c.der().clone()).collect();
/// let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000));
/// let verified = x509::verify(&ders, &bundle, now)?;
/// assert_eq!(verified.spiffe_id().as_str(), "spiffe://td/w");
/// # Ok(()) }
/// ```
pub fn verify(
    chain: &[CertificateDer<'_>],
    bundles: &impl X509BundleSource,
    now: UnixTime,
) -> Result<VerifiedX509Svid, X509VerifyError> {
    verify_with(chain, bundles, now, &X509VerifyOptions::new())
}

/// [`verify`] with `options` (e.g. accepting leaves without `digitalSignature`, as go-spiffe's
/// `x509svid.Verify` does).
pub fn verify_with(
    chain: &[CertificateDer<'_>],
    bundles: &impl X509BundleSource,
    now: UnixTime,
    options: &X509VerifyOptions,
) -> Result<VerifiedX509Svid, X509VerifyError> {
    let parsed = chain
        .iter()
        .enumerate()
        .map(|(index, der)| {
            Certificate::from_der(CertificateDer::from(der.as_ref().to_vec()))
                .map_err(|source| X509VerifyError::Malformed { index, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    verify_parsed_with(&parsed, bundles, now, options)
}

/// Verifies an already parsed chain (leaf first, then intermediates in any order) against
/// the bundle of the leaf's trust domain, at time `now`.
///
/// Order (SPIFFE-CONFORMANCE §1.2): exactly one URI SAN that is a SPIFFE ID with a path
/// (X509-23/24/25), leaf not a CA and not a signer (X509-21/22), leaf keyUsage with
/// `digitalSignature` (X509-15/17; relaxed only by [`verify_parsed_with`]), the bundle of the
/// leaf's trust domain only (WAPI-11), then RFC 5280 path validation (X509-20).
pub fn verify_parsed(
    chain: &[Certificate],
    bundles: &impl X509BundleSource,
    now: UnixTime,
) -> Result<VerifiedX509Svid, X509VerifyError> {
    verify_parsed_with(chain, bundles, now, &X509VerifyOptions::new())
}

/// [`verify_parsed`] with `options`.
pub fn verify_parsed_with(
    chain: &[Certificate],
    bundles: &impl X509BundleSource,
    now: UnixTime,
    options: &X509VerifyOptions,
) -> Result<VerifiedX509Svid, X509VerifyError> {
    let leaf = chain.first().ok_or(X509VerifyError::EmptyChain)?;
    let spiffe_id = leaf_checks(leaf, options)?;

    // WAPI-11: the bundle of the leaf's trust domain, never a pool of all authorities.
    let trust_domain = spiffe_id.trust_domain();
    let bundle = bundles
        .x509_bundle_for(&trust_domain)
        .ok_or(X509VerifyError::NoBundle { trust_domain })?;

    // X509-20: every certificate of the path must be within its validity period.
    if !leaf.is_valid_at(now) {
        return Err(X509VerifyError::Expired { index: 0 });
    }

    let mut builder = PathBuilder {
        presented: chain,
        anchors: bundle.authorities(),
        now,
        signature_checks: 0,
        path: Vec::with_capacity(4),
    };
    builder.path.push(0);
    let anchor = builder.extend()?;
    let mut path: Vec<Certificate> = builder.path.iter().map(|&i| chain[i].clone()).collect();
    path.push(anchor.clone());
    Ok(VerifiedX509Svid { spiffe_id, path })
}

/// RFC 5280 path validation of a chain that need not be an X.509-SVID: the leaf (first) and
/// then intermediates in any order, to one of `anchors`, at time `now`. Returns the verified
/// path, leaf first and the anchor last.
///
/// The same path building as [`verify_parsed`] (validity of every certificate, issuer cA and
/// keyCertSign, pathLenConstraint, signatures, name constraints, the resource budget), without
/// the SPIFFE leaf checks: for certificates issued by an outside PKI, such as node attestation
/// with x509pop. Leaf key usage policy is the caller's.
pub fn verify_path(
    chain: &[Certificate],
    anchors: &[Certificate],
    now: UnixTime,
) -> Result<Vec<Certificate>, X509VerifyError> {
    let leaf = chain.first().ok_or(X509VerifyError::EmptyChain)?;
    // X509-20: every certificate of the path must be within its validity period.
    if !leaf.is_valid_at(now) {
        return Err(X509VerifyError::Expired { index: 0 });
    }
    let mut builder = PathBuilder {
        presented: chain,
        anchors,
        now,
        signature_checks: 0,
        path: Vec::with_capacity(4),
    };
    builder.path.push(0);
    let anchor = builder.extend()?;
    let mut path: Vec<Certificate> = builder.path.iter().map(|&i| chain[i].clone()).collect();
    path.push(anchor.clone());
    Ok(path)
}

/// The SPIFFE checks on the leaf, before any bundle is consulted.
fn leaf_checks(
    leaf: &Certificate,
    options: &X509VerifyOptions,
) -> Result<SpiffeId, X509VerifyError> {
    // X509-1/2/25 count raw URI SAN entries; X509-23 parses the single one as a SPIFFE ID.
    let spiffe_id = match leaf.spiffe_id() {
        Ok(Some(id)) => id,
        Ok(None) => return Err(X509VerifyError::MissingUriSan),
        Err(X509Error::MultipleUriSans { count }) => {
            return Err(X509VerifyError::MultipleUriSans { count })
        }
        Err(X509Error::InvalidSpiffeId(e)) => return Err(X509VerifyError::InvalidSpiffeId(e)),
        Err(_) => return Err(X509VerifyError::InvalidUriSan),
    };
    // X509-24: leaf path must be non-root.
    if !spiffe_id.has_path() {
        return Err(X509VerifyError::LeafIdWithoutPath);
    }
    // X509-21: the leaf's cA must be false (a missing basicConstraints counts as false).
    if leaf.is_ca() {
        return Err(X509VerifyError::LeafIsCa);
    }
    // X509-22: no keyCertSign or cRLSign on the leaf.
    if leaf
        .key_usage()
        .is_some_and(|ku| ku.key_cert_sign() || ku.crl_sign())
    {
        return Err(X509VerifyError::LeafCanSign);
    }
    // X509-17: digitalSignature MUST be set (X509-15: keyUsage MUST be present), as
    // go-spiffe's ParseRaw and the `spiffe` crate require; go-spiffe's Verify does not check it,
    // hence the named option.
    if options.requires_leaf_digital_signature() {
        match leaf.key_usage() {
            None => return Err(X509VerifyError::LeafMissingKeyUsage),
            Some(ku) if !ku.digital_signature() => {
                return Err(X509VerifyError::LeafMissingDigitalSignature)
            }
            Some(_) => {}
        }
    }
    Ok(spiffe_id)
}

/// Depth-first path building over the presented intermediates, ending at an anchor.
struct PathBuilder<'a> {
    presented: &'a [Certificate],
    anchors: &'a [Certificate],
    now: UnixTime,
    signature_checks: usize,
    /// Indexes into `presented`, leaf first.
    path: Vec<usize>,
}

/// Where an issuer candidate comes from.
#[derive(Clone, Copy)]
enum Candidate {
    Anchor,
    Presented(usize),
}

impl<'a> PathBuilder<'a> {
    /// Finds an issuer for the last certificate of `path`, recursing through intermediates;
    /// returns the anchor that ends the path.
    fn extend(&mut self) -> Result<&'a Certificate, X509VerifyError> {
        let index = *self.path.last().expect("path starts with the leaf");
        let child = &self.presented[index];
        let mut best: Option<X509VerifyError> = None;

        let (anchors, presented) = (self.anchors, self.presented);
        let anchors = anchors.iter().map(|a| (Candidate::Anchor, a));
        let presented = presented
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| (Candidate::Presented(i), c));
        for (candidate, issuer) in anchors.chain(presented) {
            if issuer.subject_der() != child.issuer_der() {
                continue;
            }
            if let Candidate::Presented(i) = candidate {
                // No loops; the depth budget bounds the rest.
                if self.path.contains(&i) || self.path.len() > MAX_INTERMEDIATES {
                    continue;
                }
            }
            let attempt =
                self.check_issuer(index, issuer, candidate)
                    .and_then(|()| match candidate {
                        Candidate::Anchor => Ok(issuer),
                        Candidate::Presented(i) => {
                            self.path.push(i);
                            let result = self.extend();
                            if result.is_err() {
                                self.path.pop();
                            }
                            result
                        }
                    });
            match attempt {
                Ok(anchor) => return Ok(anchor),
                Err(X509VerifyError::BudgetExhausted) => {
                    return Err(X509VerifyError::BudgetExhausted)
                }
                Err(e) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| matches!(b, X509VerifyError::UnknownIssuer { .. }))
                    {
                        best = Some(e);
                    }
                }
            }
        }
        Err(best.unwrap_or(X509VerifyError::UnknownIssuer { index }))
    }

    /// RFC 5280 checks of `issuer` as the issuer of presented certificate `index`.
    fn check_issuer(
        &mut self,
        index: usize,
        issuer: &Certificate,
        candidate: Candidate,
    ) -> Result<(), X509VerifyError> {
        // X509-12: signing certificates have cA=TRUE.
        if !issuer.is_ca() {
            return Err(X509VerifyError::IssuerNotCa { index });
        }
        // X509-16: keyCertSign when keyUsage is present.
        if issuer.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            return Err(X509VerifyError::IssuerMissingKeyCertSign { index });
        }
        // X509-12: pathLenConstraint bounds the CA certificates below this issuer (the
        // intermediates already in the path, i.e. all but the leaf).
        if let Some(max) = issuer.path_len_constraint() {
            let below = (self.path.len() - 1) as u64;
            if below > max {
                return Err(X509VerifyError::PathLenExceeded { index });
            }
        }
        // X509-20: validity of every certificate in the path, the anchor included.
        if !issuer.is_valid_at(self.now) {
            return Err(match candidate {
                Candidate::Anchor => X509VerifyError::AnchorExpired { index },
                Candidate::Presented(i) => X509VerifyError::Expired { index: i },
            });
        }
        if self.signature_checks == MAX_SIGNATURE_CHECKS {
            return Err(X509VerifyError::BudgetExhausted);
        }
        self.signature_checks += 1;
        self.presented[index]
            .verify_signed_by(issuer)
            .map_err(|e| match e {
                SignatureError::Unsupported => {
                    X509VerifyError::UnsupportedSignatureAlgorithm { index }
                }
                SignatureError::Invalid => X509VerifyError::BadSignature { index },
            })?;
        // X509-14: the issuer's name constraints apply to every certificate below it.
        if let Some(nc) = issuer.name_constraints_der() {
            for &below in &self.path {
                name_constraints::check(nc, &self.presented[below]).map_err(|e| match e {
                    NameConstraintError::Violation => {
                        X509VerifyError::NameConstraintViolation { index: below }
                    }
                    NameConstraintError::Unsupported => {
                        X509VerifyError::UnsupportedNameConstraint { index: below }
                    }
                })?;
            }
        }
        Ok(())
    }
}
