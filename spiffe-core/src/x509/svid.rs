//! X.509-SVIDs held by a workload: the leaf, its intermediates and the private key.

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SpiffeId;

use super::pem::parse_concatenated_der;
use super::private_key::check_key_matches;
use super::{parse_certificates, Certificate, X509Error};

/// An X.509-SVID: a leaf certificate, its intermediates, and the private key of the leaf.
///
/// Construction enforces the issuance-side rules for a locally held SVID (as go-spiffe's
/// `ParseRaw`): one URI SAN that is a SPIFFE ID with a path (X509-1/5), leaf not a CA
/// (X509-13), keyUsage present and critical (X509-15) with digitalSignature and without
/// keyCertSign/cRLSign (X509-17), extendedKeyUsage (if present) with serverAuth and
/// clientAuth (X509-18), intermediates that are CAs with keyCertSign (X509-12/16), and a
/// private key that belongs to the leaf (WAPI-13: its secret produces the leaf's public key,
/// checked by aws-lc the first time a key is seen, not only the public half the key file
/// carries). `Debug` never prints the key.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let svid = spiffe_core::X509Svid::parse_pem(
///     include_bytes!("../../tests/data/x509/36-chain.pem"),
///     include_bytes!("../../tests/data/x509/36-key.pem"),
/// )?;
/// assert_eq!(svid.spiffe_id().as_str(), "spiffe://td/w");
/// # Ok(()) }
/// ```
pub struct X509Svid {
    spiffe_id: SpiffeId,
    chain: Vec<Certificate>,
    key: PrivateKeyDer<'static>,
}

// === impl X509Svid ===

impl X509Svid {
    /// Parses the Workload API form (WAPI-14): concatenated DER certificates, leaf first, and
    /// an unencrypted PKCS#8 DER key.
    pub fn parse_der(chain_der: &[u8], key_der: &[u8]) -> Result<Self, X509Error> {
        let chain = parse_concatenated_der(chain_der)?;
        // WAPI-14: the key is unencrypted PKCS#8 DER; SEC1, PKCS#1, PEM or encrypted PKCS#8
        // are refused even where the key library would auto-detect them.
        if !is_pkcs8_shaped(key_der) {
            return Err(X509Error::MalformedPrivateKey);
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec()));
        Self::from_parts(chain, key)
    }

    /// Parses PEM certificates (leaf first) and a PEM key: PKCS#8 (`PRIVATE KEY`), SEC1
    /// (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`). Encrypted keys are rejected.
    pub fn parse_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, X509Error> {
        let chain = parse_certificates(chain_pem)?;
        Self::from_parts(chain, Self::parse_key(key_pem)?)
    }

    /// Reads a private key given as PEM (PKCS#8, SEC1 or PKCS#1) or as PKCS#8 DER.
    ///
    /// This only decodes the container; [`X509Svid::key_matches`] checks it against a leaf.
    pub fn parse_key(input: &[u8]) -> Result<PrivateKeyDer<'static>, X509Error> {
        if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            PrivateKeyDer::from_pem_slice(input).map_err(|_| X509Error::MalformedPrivateKey)
        } else {
            Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                input.to_vec(),
            )))
        }
    }

    /// Whether `key` is the private key of `leaf` (WAPI-13): `Ok(())`, or
    /// [`X509Error::KeyMismatch`] / [`X509Error::MalformedPrivateKey`].
    pub fn key_matches(leaf: &Certificate, key: &PrivateKeyDer<'_>) -> Result<(), X509Error> {
        check_key_matches(leaf, key)
    }

    /// Builds an SVID from parsed certificates (leaf first) and its key, running all checks.
    pub fn from_parts(
        chain: Vec<Certificate>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, X509Error> {
        let leaf = chain.first().ok_or(X509Error::NoCertificates)?;
        let spiffe_id = leaf_checks(leaf)?;
        for (index, intermediate) in chain.iter().enumerate().skip(1) {
            // X509-12/16: each signing certificate has cA=TRUE and keyCertSign.
            let signs = intermediate
                .key_usage()
                .is_some_and(|ku| ku.key_cert_sign());
            if !intermediate.is_ca() || !signs {
                return Err(X509Error::IntermediateNotCa { index });
            }
        }
        // WAPI-13: the key must belong to the leaf.
        check_key_matches(leaf, &key)?;
        Ok(Self {
            spiffe_id,
            chain,
            key,
        })
    }

    /// The SVID's SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &Certificate {
        &self.chain[0]
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The leaf's private key.
    pub fn private_key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }
}

/// `PrivateKeyInfo ::= SEQUENCE { version INTEGER (0|1), privateKeyAlgorithm SEQUENCE,
/// privateKey OCTET STRING, ... }` (RFC 5208 / RFC 5958).
fn is_pkcs8_shaped(der: &[u8]) -> bool {
    use crate::der::{read_single, tag, Reader};
    let Ok(info) = read_single(der, tag::SEQUENCE) else {
        return false;
    };
    let mut reader = Reader::new(info);
    matches!(reader.read(tag::INTEGER), Ok([0] | [1]))
        && reader.read(tag::SEQUENCE).is_ok()
        && reader.read(tag::OCTET_STRING).is_ok()
}

/// The issuance-side checks on the leaf of a locally held SVID.
fn leaf_checks(leaf: &Certificate) -> Result<SpiffeId, X509Error> {
    // X509-1/2: exactly one URI SAN, and it is a SPIFFE ID.
    let spiffe_id = leaf.spiffe_id()?.ok_or(X509Error::MissingUriSan)?;
    // X509-5: a leaf's SPIFFE ID has a non-root path.
    if !spiffe_id.has_path() {
        return Err(X509Error::LeafIdWithoutPath);
    }
    // X509-13: leaf cA must be false.
    if leaf.is_ca() {
        return Err(X509Error::LeafIsCa);
    }
    // X509-15: keyUsage present and critical.
    let key_usage = match leaf.key_usage() {
        Some(ku) if leaf.key_usage_critical() => ku,
        _ => return Err(X509Error::LeafKeyUsageNotCritical),
    };
    // X509-17: digitalSignature set, keyCertSign and cRLSign not set.
    if !key_usage.digital_signature() {
        return Err(X509Error::LeafMissingDigitalSignature);
    }
    if key_usage.key_cert_sign() || key_usage.crl_sign() {
        return Err(X509Error::LeafHasCertSign);
    }
    // X509-18: if extendedKeyUsage is present it lists serverAuth and clientAuth.
    if let Some(eku) = leaf.extended_key_usage() {
        let both = eku.server_auth() && eku.client_auth();
        if !(eku.any() || both) {
            return Err(X509Error::LeafExtendedKeyUsage);
        }
    }
    Ok(spiffe_id)
}

impl Clone for X509Svid {
    fn clone(&self) -> Self {
        Self {
            spiffe_id: self.spiffe_id.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for X509Svid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509Svid")
            .field("spiffe_id", &self.spiffe_id)
            .field("chain", &self.chain)
            .field("private_key", &"<redacted>")
            .finish()
    }
}
