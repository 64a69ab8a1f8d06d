//! PKCS#10 certificate requests (RFC 2986), parsed and checked for proof of possession.

use std::fmt;

use aws_lc_rs::signature::UnparsedPublicKey;

use crate::der::{tag, DerError, Reader};

use super::algorithm::{KeyKind, PublicKeyAlgorithm, SignatureAlgorithm};
use super::certificate::Span;
use super::extensions::{check_general_names, general_name};
use super::spki::SubjectPublicKeyInfo;
use super::{name, X509Error};

/// Upper bound on a request's DER: a request with an RSA-4096 key is under 2 KiB.
const MAX_CSR_LEN: usize = 16 * 1024;
/// Upper bound on the number of attributes walked.
const MAX_ATTRIBUTES: usize = 32;
/// Upper bound on the number of requested extensions walked.
const MAX_REQUESTED_EXTENSIONS: usize = 32;
/// `pkcs-9-at-extensionRequest` (1.2.840.113549.1.9.14), content octets.
const EXTENSION_REQUEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
/// `id-ce-subjectAltName` (2.5.29.17), content octets.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// A PKCS#10 `CertificationRequest` (RFC 2986 §4) whose self-signature verified.
///
/// [`CertificateRequest::from_der`] is the only constructor, and it checks the signature with
/// the public key the request carries, so holding one proves the requester has the private key
/// (proof of possession). A CA normally takes only the public key, and the SPIFFE ID and any
/// SANs from its own policy. The subjectAltName the requester asks for in an
/// `extensionRequest` attribute is exposed too ([`uri_sans`](Self::uri_sans),
/// [`dns_sans`](Self::dns_sans)), for CAs that mint what an authorized caller requests (SPIRE's
/// `MintX509SVID`); every other attribute is checked for structure only.
///
/// ```
/// use spiffe_core::x509::{CertificateRequest, X509Error};
/// assert_eq!(CertificateRequest::from_der(b"\x30\x00").unwrap_err(), X509Error::MalformedCsr);
/// ```
#[derive(Clone)]
pub struct CertificateRequest {
    der: Vec<u8>,
    subject: Span,
    spki: Span,
    key_kind: KeyKind,
    key_bits: Span,
    signature_algorithm: SignatureAlgorithm,
    /// The `GeneralNames` contents of a requested subjectAltName.
    san: Option<Span>,
}

// === impl CertificateRequest ===

impl CertificateRequest {
    /// Parses a DER `CertificationRequest` (version 1) and verifies its signature.
    ///
    /// Errors: [`X509Error::MalformedCsr`] for bad DER, a version other than 1, malformed
    /// attributes or trailing data; [`X509Error::UnsupportedCsrAlgorithm`] when the signature
    /// algorithm does not fit the key or is not supported; [`X509Error::CsrSignatureInvalid`]
    /// when the signature does not verify.
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        if der.len() > MAX_CSR_LEN {
            return Err(X509Error::MalformedCsr);
        }
        let der = der.to_vec();
        let parsed = parse(&der).map_err(|_| X509Error::MalformedCsr)?;
        let request = Self {
            subject: Span::of(&der, parsed.subject),
            spki: Span::of(&der, parsed.spki.der()),
            key_kind: parsed.spki.kind(),
            key_bits: Span::of(&der, parsed.spki.key_bits()),
            signature_algorithm: SignatureAlgorithm::from_der(parsed.signature_alg),
            san: parsed.san.map(|names| Span::of(&der, names)),
            der: Vec::new(),
        };
        let verification = request
            .signature_algorithm
            .verification_algorithm(request.key_kind)
            .ok_or(X509Error::UnsupportedCsrAlgorithm)?;
        UnparsedPublicKey::new(verification, parsed.spki.key_bits())
            .verify(parsed.info, parsed.signature)
            .map_err(|_| X509Error::CsrSignatureInvalid)?;
        Ok(Self { der, ..request })
    }

    /// The request's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The requested subject `Name`, DER-encoded (informational: CAs apply their own).
    pub fn subject_der(&self) -> &[u8] {
        self.subject.get(&self.der)
    }

    /// The requested subject as an RFC 4514-style string, for display.
    pub fn subject(&self) -> String {
        name::to_rfc4514(self.subject_der())
    }

    /// The `SubjectPublicKeyInfo`, DER-encoded: the key the certificate will certify.
    pub fn subject_public_key_info(&self) -> &[u8] {
        self.spki.get(&self.der)
    }

    /// The subject public key's algorithm (and RSA size).
    pub fn public_key_algorithm(&self) -> PublicKeyAlgorithm {
        self.key_kind.public(self.key_bits.get(&self.der))
    }

    /// The algorithm the request was signed with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signature_algorithm
    }

    /// How many URI entries the requested subjectAltName has (0 without one).
    pub fn uri_san_count(&self) -> usize {
        self.san_entries(general_name::URI).count()
    }

    /// The requested URI SANs, in order (entries that are not ASCII are skipped).
    pub fn uri_sans(&self) -> impl Iterator<Item = &str> + '_ {
        self.san_entries(general_name::URI).filter_map(ascii)
    }

    /// The requested DNS SANs, in order (entries that are not ASCII are skipped).
    pub fn dns_sans(&self) -> impl Iterator<Item = &str> + '_ {
        self.san_entries(general_name::DNS).filter_map(ascii)
    }

    /// Values of the requested SAN entries with tag `wanted` (checked at parse time).
    fn san_entries(&self, wanted: u8) -> impl Iterator<Item = &[u8]> + '_ {
        let names = self.san.map(|span| span.get(&self.der)).unwrap_or(&[]);
        let mut reader = Reader::new(names);
        std::iter::from_fn(move || loop {
            let (tag, value, _) = reader.read_any().ok()?;
            if tag == wanted {
                return Some(value);
            }
        })
    }
}

fn ascii(bytes: &[u8]) -> Option<&str> {
    bytes
        .is_ascii()
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

impl fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("subject", &self.subject())
            .field("public_key_algorithm", &self.public_key_algorithm())
            .field("signature_algorithm", &self.signature_algorithm)
            .finish_non_exhaustive()
    }
}

/// Borrowed pieces of a request, before the signature check.
struct Parsed<'a> {
    info: &'a [u8],
    subject: &'a [u8],
    spki: SubjectPublicKeyInfo<'a>,
    signature_alg: &'a [u8],
    signature: &'a [u8],
    san: Option<&'a [u8]>,
}

fn parse(der: &[u8]) -> Result<Parsed<'_>, DerError> {
    let mut outer = Reader::new(der);
    let mut request = Reader::new(outer.read(tag::SEQUENCE)?);
    outer.finish()?;
    let (info_value, info) = request.read_with_raw(tag::SEQUENCE)?;
    let signature_alg = request.read(tag::SEQUENCE)?;
    let signature = request.read_octet_aligned_bits()?;
    request.finish()?;

    let mut fields = Reader::new(info_value);
    // RFC 2986 §4.1: version is v1 (0).
    if fields.read(tag::INTEGER)? != [0x00] {
        return Err(crate::der::DerError::InvalidValue);
    }
    let (_, subject) = fields.read_with_raw(tag::SEQUENCE)?;
    let spki = SubjectPublicKeyInfo::read(&mut fields)?;
    // attributes [0] IMPLICIT SET OF Attribute: required by RFC 2986, though some encoders
    // omit it when empty; accepted either way. Walked for structure; an extensionRequest's
    // subjectAltName is read.
    let mut san = None;
    if let Some(attributes) = fields.read_optional(tag::context_constructed(0))? {
        let mut attributes = Reader::new(attributes);
        let mut count = 0;
        let mut seen_extension_request = false;
        while !attributes.is_empty() {
            count += 1;
            if count > MAX_ATTRIBUTES {
                return Err(DerError::InvalidValue);
            }
            let mut attribute = Reader::new(attributes.read(tag::SEQUENCE)?);
            let oid = attribute.read(tag::OID)?;
            let values = attribute.read(tag::SET)?;
            attribute.finish()?;
            if oid == EXTENSION_REQUEST {
                // RFC 2985 §5.4.2: single-valued, so once, with one value.
                if std::mem::replace(&mut seen_extension_request, true) {
                    return Err(DerError::InvalidValue);
                }
                san = requested_san(crate::der::read_single(values, tag::SEQUENCE)?)?;
            }
        }
    }
    fields.finish()?;
    Ok(Parsed {
        info,
        subject,
        spki,
        signature_alg,
        signature,
        san,
    })
}

/// The subjectAltName `GeneralNames` contents among requested `Extensions` (RFC 5280 §4.1),
/// checked as a certificate's are; other extensions are checked for structure only.
fn requested_san(extensions: &[u8]) -> Result<Option<&[u8]>, DerError> {
    let mut reader = Reader::new(extensions);
    let mut san = None;
    let mut count = 0;
    while !reader.is_empty() {
        count += 1;
        if count > MAX_REQUESTED_EXTENSIONS {
            return Err(DerError::InvalidValue);
        }
        let mut extension = Reader::new(reader.read(tag::SEQUENCE)?);
        let oid = extension.read(tag::OID)?;
        if extension.peek_tag() == Some(tag::BOOLEAN) {
            extension.read_bool()?;
        }
        let value = extension.read(tag::OCTET_STRING)?;
        extension.finish()?;
        if oid == SUBJECT_ALT_NAME {
            if san.is_some() {
                return Err(DerError::InvalidValue); // RFC 5280 §4.2: one instance per extension
            }
            let names = crate::der::read_single(value, tag::SEQUENCE)?;
            check_general_names(names)?;
            san = Some(names);
        }
    }
    Ok(san)
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair};

    use super::*;

    fn request(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        let key = KeyPair::generate_for(alg).expect("key");
        let mut params = CertificateParams::new(vec!["w.example".into()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "w");
        params.serialize_request(&key).expect("csr").der().to_vec()
    }

    #[test]
    fn parses_and_verifies_ec_and_rsa() {
        let der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        let csr = CertificateRequest::from_der(&der).expect("valid request");
        assert_eq!(csr.public_key_algorithm(), PublicKeyAlgorithm::EcP256);
        assert_eq!(csr.signature_algorithm(), SignatureAlgorithm::EcdsaSha256);
        assert_eq!(csr.subject(), "CN=w");
        assert_eq!(csr.der(), &der[..]);
        // The SPKI is the SEQUENCE inside the request's info.
        assert_eq!(csr.subject_public_key_info()[0], 0x30);
        assert!(der
            .windows(csr.subject_public_key_info().len())
            .any(|w| w == csr.subject_public_key_info()));

        let der = request(&rcgen::PKCS_ECDSA_P384_SHA384);
        let csr = CertificateRequest::from_der(&der).expect("valid P-384 request");
        assert_eq!(csr.public_key_algorithm(), PublicKeyAlgorithm::EcP384);
    }

    #[test]
    fn requested_sans_are_read() {
        let der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        let csr = CertificateRequest::from_der(&der).expect("valid request");
        assert_eq!(csr.dns_sans().collect::<Vec<_>>(), ["w.example"]);
        assert_eq!(csr.uri_san_count(), 0);

        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = CertificateParams::new(vec!["a.example".into()]).expect("params");
        for uri in ["spiffe://example.org/a", "spiffe://example.org/b"] {
            params.subject_alt_names.push(rcgen::SanType::URI(
                rcgen::string::Ia5String::try_from(uri).expect("uri"),
            ));
        }
        let der = params.serialize_request(&key).expect("csr").der().to_vec();
        let csr = CertificateRequest::from_der(&der).expect("valid request");
        assert_eq!(csr.uri_san_count(), 2);
        assert_eq!(
            csr.uri_sans().collect::<Vec<_>>(),
            ["spiffe://example.org/a", "spiffe://example.org/b"]
        );
        assert_eq!(csr.dns_sans().collect::<Vec<_>>(), ["a.example"]);

        let bare = CertificateParams::new(Vec::<String>::new()).expect("params");
        let der = bare.serialize_request(&key).expect("csr").der().to_vec();
        let csr = CertificateRequest::from_der(&der).expect("valid request");
        assert_eq!(csr.uri_san_count(), 0);
        assert_eq!(csr.dns_sans().count(), 0);
    }

    #[test]
    fn bad_signature_rejected() {
        let mut der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        // The signature is the BIT STRING at the end; flip a bit of its last octet (s).
        let last = der.len() - 1;
        der[last] ^= 0x01;
        assert_eq!(
            CertificateRequest::from_der(&der).err(),
            Some(X509Error::CsrSignatureInvalid)
        );
    }

    #[test]
    fn tampered_info_rejected() {
        let mut der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        // Change the CN value 'w' inside the signed info.
        let pos = der.iter().position(|&b| b == b'w').expect("CN present");
        der[pos] = b'x';
        assert_eq!(
            CertificateRequest::from_der(&der).err(),
            Some(X509Error::CsrSignatureInvalid)
        );
    }

    #[test]
    fn malformed_rejected() {
        let der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert_eq!(
                CertificateRequest::from_der(&der[..cut]).err(),
                Some(X509Error::MalformedCsr),
                "truncated at {cut}"
            );
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(
            CertificateRequest::from_der(&trailing).err(),
            Some(X509Error::MalformedCsr)
        );
        assert_eq!(
            CertificateRequest::from_der(&vec![0x30; MAX_CSR_LEN + 1]).err(),
            Some(X509Error::MalformedCsr)
        );
    }

    #[test]
    fn wrong_version_rejected() {
        let mut der = request(&rcgen::PKCS_ECDSA_P256_SHA256);
        // The version INTEGER 0 is the first element of the info: 02 01 00.
        let pos = der
            .windows(3)
            .position(|w| w == [0x02, 0x01, 0x00])
            .expect("version");
        der[pos + 2] = 0x01;
        assert_eq!(
            CertificateRequest::from_der(&der).err(),
            Some(X509Error::MalformedCsr)
        );
    }
}
