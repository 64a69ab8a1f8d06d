//! One parsed X.509 certificate (RFC 5280 §4.1), parsed once, in one pass.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::signature::{ParsedPublicKey, UnparsedPublicKey};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::der::{tag, Reader};
use crate::SpiffeId;

use super::algorithm::{KeyKind, PublicKeyAlgorithm, SignatureAlgorithm};
use super::extensions::{general_name, ExtendedKeyUsage, Extensions, KeyUsage};
use super::spki::SubjectPublicKeyInfo;
use super::{name, X509Error};

/// One parsed X.509 certificate (RFC 5280 `Certificate`), owning its DER.
///
/// Parsing happens once, in [`Certificate::from_der`]: it checks the DER structure and the
/// extensions verification needs, and keeps byte ranges into the DER, so verification and
/// SPIFFE ID extraction work on the same parsed object. Cloning is cheap (shared).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pem = include_bytes!("../../tests/data/x509/36-chain.pem");
/// let chain = spiffe_core::x509::parse_certificates(pem)?;
/// let id = chain[0].spiffe_id()?.expect("an X.509-SVID has a SPIFFE ID");
/// assert_eq!(id.as_str(), "spiffe://td/w");
/// assert!(!chain[0].is_ca());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

struct Inner {
    der: CertificateDer<'static>,
    tbs: Span,
    signature_algorithm: SignatureAlgorithm,
    signature: Span,
    serial: Span,
    /// Whole `Name` TLVs, compared byte for byte when chaining.
    issuer: Span,
    subject: Span,
    not_before: u64,
    not_after: u64,
    spki: Span,
    key_kind: KeyKind,
    key_bits: Span,
    ext: Extensions,
    /// The subject key pre-parsed for the first signature algorithm it verified; issuers
    /// (anchors above all) verify many certificates, so this is worth keeping.
    key_cache: OnceLock<Option<CachedKey>>,
}

struct CachedKey {
    algorithm: SignatureAlgorithm,
    key: ParsedPublicKey,
}

/// A byte range into a certificate's DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

// === impl Span ===

impl Span {
    /// The range of `sub` inside `base`; `sub` must be a sub-slice of `base`.
    pub(crate) fn of(base: &[u8], sub: &[u8]) -> Self {
        let start = (sub.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        debug_assert!(start + sub.len() <= base.len(), "span outside its base");
        // Certificates are far below 4 GiB; `from_der` rejects larger input.
        Self {
            start: start as u32,
            end: (start + sub.len()) as u32,
        }
    }

    pub(crate) fn get(self, base: &[u8]) -> &[u8] {
        &base[self.start as usize..self.end as usize]
    }
}

/// Upper bound on one certificate's DER; SVIDs are ~1 KiB.
const MAX_CERTIFICATE_LEN: usize = 64 * 1024;

// === impl Certificate ===

impl Certificate {
    /// Parses one DER certificate (RFC 5280 §4.1, version 3).
    ///
    /// Rejects malformed DER, trailing data, duplicate extensions, unknown critical
    /// extensions, and an empty subject with a non-critical subjectAltName (X509-6).
    pub fn from_der(der: CertificateDer<'static>) -> Result<Self, X509Error> {
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(X509Error::MalformedCertificate);
        }
        let inner = parse(der)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The certificate's DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.inner.der
    }

    fn bytes(&self, span: Span) -> &[u8] {
        span.get(&self.inner.der)
    }

    /// The SPIFFE ID in the subjectAltName: `Ok(None)` without any URI SAN, an error with more
    /// than one URI SAN (X509-1/2/25: raw URI entries count, whatever their scheme) or when
    /// the single URI is not a valid SPIFFE ID (X509-23, ID-*).
    pub fn spiffe_id(&self) -> Result<Option<SpiffeId>, X509Error> {
        match self.inner.ext.uri_count {
            0 => Ok(None),
            1 => {
                let span = self
                    .inner
                    .ext
                    .first_uri
                    .ok_or(X509Error::MalformedCertificate)?;
                let uri =
                    std::str::from_utf8(self.bytes(span)).map_err(|_| X509Error::InvalidUriSan)?;
                SpiffeId::new(uri)
                    .map(Some)
                    .map_err(X509Error::InvalidSpiffeId)
            }
            count => Err(X509Error::MultipleUriSans { count }),
        }
    }

    /// Number of URI entries in the subjectAltName (X509-1 counts these).
    pub fn uri_san_count(&self) -> u32 {
        self.inner.ext.uri_count
    }

    /// The URI SANs, in order (entries that are not ASCII are skipped; inspection only).
    pub fn uri_sans(&self) -> impl Iterator<Item = &str> + '_ {
        self.san_entries(general_name::URI).filter_map(ascii)
    }

    /// The DNS SANs, in order (entries that are not ASCII are skipped; inspection only).
    pub fn dns_sans(&self) -> impl Iterator<Item = &str> + '_ {
        self.san_entries(general_name::DNS).filter_map(ascii)
    }

    /// The IP address SANs, in order.
    pub fn ip_sans(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.san_entries(general_name::IP)
            .filter_map(|bytes| match bytes.len() {
                4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
                _ => None,
            })
    }

    /// Values of the SAN entries with tag `wanted` (the SAN was checked at parse time).
    pub(crate) fn san_entries(&self, wanted: u8) -> impl Iterator<Item = &[u8]> + '_ {
        let names = self
            .inner
            .ext
            .san
            .map(|span| self.bytes(span))
            .unwrap_or(&[]);
        let mut reader = Reader::new(names);
        std::iter::from_fn(move || loop {
            let (tag, value, _) = reader.read_any().ok()?;
            if tag == wanted {
                return Some(value);
            }
        })
    }

    /// Whether the subjectAltName extension is marked critical.
    pub fn san_critical(&self) -> bool {
        self.inner.ext.san_critical
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(self.inner.not_before))
    }

    /// End of the validity period (inclusive).
    pub fn not_after(&self) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(self.inner.not_after))
    }

    /// Whether `now` is inside `[not_before, not_after]`.
    pub fn is_valid_at(&self, now: UnixTime) -> bool {
        let now = now.as_secs();
        self.inner.not_before <= now && now <= self.inner.not_after
    }

    /// basicConstraints `cA` (false when the extension is absent, X509-13).
    pub fn is_ca(&self) -> bool {
        self.inner.ext.basic_constraints.is_some_and(|bc| bc.ca)
    }

    /// Whether the basicConstraints extension is present.
    pub fn has_basic_constraints(&self) -> bool {
        self.inner.ext.basic_constraints.is_some()
    }

    /// basicConstraints `pathLenConstraint`, if set.
    pub fn path_len_constraint(&self) -> Option<u64> {
        self.inner.ext.basic_constraints.and_then(|bc| bc.path_len)
    }

    /// The keyUsage bits, if the extension is present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.inner.ext.key_usage
    }

    /// Whether the keyUsage extension is present and critical (X509-15).
    pub fn key_usage_critical(&self) -> bool {
        self.inner.ext.key_usage.is_some() && self.inner.ext.key_usage_critical
    }

    /// The extendedKeyUsage purposes, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<ExtendedKeyUsage> {
        self.inner.ext.extended_key_usage
    }

    /// Whether the certificate carries a nameConstraints extension.
    pub fn has_name_constraints(&self) -> bool {
        self.inner.ext.name_constraints.is_some()
    }

    pub(crate) fn name_constraints_der(&self) -> Option<&[u8]> {
        self.inner.ext.name_constraints.map(|span| self.bytes(span))
    }

    /// The serial number's content octets (two's complement, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.bytes(self.inner.serial)
    }

    /// The serial number in lowercase hex, without leading zero octets.
    pub fn serial_hex(&self) -> String {
        let serial = self.serial();
        let trimmed = match serial {
            [0, rest @ ..] if !rest.is_empty() => rest,
            other => other,
        };
        trimmed.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The serial number in decimal, as Go's `big.Int.String()` prints it (SPIRE records agent
    /// certificates by this string). A negative serial (not allowed by RFC 5280 but seen in the
    /// wild) is printed with a leading `-`.
    pub fn serial_decimal(&self) -> String {
        serial_to_decimal(self.serial())
    }

    /// The subject as an RFC 4514-style string, for display. Attribute strings are read by one
    /// rule: UTF8String as UTF-8, PrintableString/IA5String/VisibleString as ASCII,
    /// TeletexString as Latin-1, BMPString as UTF-16BE; a value that does not decode is shown
    /// as `#` and the hex of its DER (RFC 4514 §2.4).
    pub fn subject(&self) -> String {
        name::to_rfc4514(self.subject_der())
    }

    /// The subject's common name: its last commonName attribute, as Go's
    /// `pkix.Name.CommonName` (attestors select on it); `Ok(None)` without one. Fails with
    /// [`X509Error::MalformedCertificate`] when the subject is not a well-formed `Name` or that
    /// attribute's string does not decode (see the string rules of [`subject`](Self::subject)).
    pub fn subject_common_name(&self) -> Result<Option<String>, X509Error> {
        name::common_name(self.subject_der()).map_err(|()| X509Error::MalformedCertificate)
    }

    /// The issuer as an RFC 4514-style string, for display.
    pub fn issuer(&self) -> String {
        name::to_rfc4514(self.issuer_der())
    }

    /// The subject `Name`, DER-encoded (compared byte for byte when chaining).
    pub fn subject_der(&self) -> &[u8] {
        self.bytes(self.inner.subject)
    }

    /// The issuer `Name`, DER-encoded.
    pub fn issuer_der(&self) -> &[u8] {
        self.bytes(self.inner.issuer)
    }

    /// Whether subject and issuer are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.subject_der() == self.issuer_der()
    }

    /// The `SubjectPublicKeyInfo`, DER-encoded.
    pub fn subject_public_key_info(&self) -> &[u8] {
        self.bytes(self.inner.spki)
    }

    /// The subject public key's algorithm (and RSA size).
    pub fn public_key_algorithm(&self) -> PublicKeyAlgorithm {
        self.inner.key_kind.public(self.key_bits())
    }

    /// The algorithm the issuer signed this certificate with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.inner.signature_algorithm
    }

    /// The subjectKeyIdentifier, if present.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.inner.ext.subject_key_id.map(|span| self.bytes(span))
    }

    /// The authorityKeyIdentifier's keyIdentifier, if present.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.inner.ext.authority_key_id.map(|span| self.bytes(span))
    }

    /// The subjectPublicKey bits (an EC point, a PKCS#1 RSA key or an Ed25519 key).
    pub(crate) fn key_bits(&self) -> &[u8] {
        self.bytes(self.inner.key_bits)
    }

    pub(crate) fn key_kind(&self) -> KeyKind {
        self.inner.key_kind
    }

    /// Whether both handles share the same parsed certificate, or have the same DER.
    pub(crate) fn same_as(&self, other: &Certificate) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.der() == other.der()
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub(crate) fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), SignatureError> {
        let algorithm = self.inner.signature_algorithm;
        let verification = algorithm
            .verification_algorithm(issuer.inner.key_kind)
            .ok_or(SignatureError::Unsupported)?;
        let message = self.bytes(self.inner.tbs);
        let signature = self.bytes(self.inner.signature);
        let cached = issuer.inner.key_cache.get_or_init(|| {
            ParsedPublicKey::new(verification, issuer.key_bits())
                .ok()
                .map(|key| CachedKey { algorithm, key })
        });
        let result = match cached {
            Some(cached) if cached.algorithm == algorithm => {
                cached.key.verify_sig(message, signature)
            }
            _ => UnparsedPublicKey::new(verification, issuer.key_bits()).verify(message, signature),
        };
        result.map_err(|_| SignatureError::Invalid)
    }
}

/// Why a signature check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    Unsupported,
    Invalid,
}

/// A DER INTEGER's content octets (two's complement, big-endian) in decimal.
fn serial_to_decimal(bytes: &[u8]) -> String {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    // The magnitude, big-endian: for a negative number, the two's complement of the bytes.
    let mut magnitude: Vec<u8> = if negative {
        let mut inverted: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for byte in inverted.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        inverted
    } else {
        bytes.to_vec()
    };
    // Repeated division by 10 of the big-endian magnitude; serials are at most 20 octets.
    let mut digits = Vec::with_capacity(magnitude.len() * 3);
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0u16;
        for byte in magnitude.iter_mut() {
            let value = (remainder << 8) | u16::from(*byte);
            *byte = (value / 10) as u8;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    // Only ASCII digits and '-' were pushed.
    String::from_utf8(digits).unwrap_or_default()
}

fn ascii(bytes: &[u8]) -> Option<&str> {
    bytes
        .is_ascii()
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

/// The single parsing pass.
fn parse(der: CertificateDer<'static>) -> Result<Inner, X509Error> {
    let base: &[u8] = &der;
    let mut outer = Reader::new(base);
    let mut cert = Reader::new(outer.read(tag::SEQUENCE)?);
    outer.finish()?;

    let (tbs_value, tbs_raw) = cert.read_with_raw(tag::SEQUENCE)?;
    let (outer_alg, _) = cert.read_with_raw(tag::SEQUENCE)?;
    let signature = cert.read_octet_aligned_bits()?;
    cert.finish()?;

    let mut tbs = Reader::new(tbs_value);
    // version [0] EXPLICIT: only v3 (2) is accepted; SVIDs need extensions.
    let version = tbs.read(tag::context_constructed(0))?;
    if crate::der::read_single(version, tag::INTEGER)? != [0x02] {
        return Err(X509Error::UnsupportedVersion);
    }
    let serial = crate::der::integer_bytes(tbs.read(tag::INTEGER)?)?;
    if serial.len() > 21 {
        return Err(X509Error::MalformedCertificate); // RFC 5280 §4.1.2.2: at most 20 octets
    }
    let inner_alg = tbs.read(tag::SEQUENCE)?;
    // RFC 5280 §4.1.1.2: must equal the outer signatureAlgorithm.
    if inner_alg != outer_alg {
        return Err(X509Error::SignatureAlgorithmMismatch);
    }
    let (_, issuer) = tbs.read_with_raw(tag::SEQUENCE)?;
    let mut validity = Reader::new(tbs.read(tag::SEQUENCE)?);
    let not_before = super::time::read_time(&mut validity).map_err(|_| X509Error::InvalidTime)?;
    let not_after = super::time::read_time(&mut validity).map_err(|_| X509Error::InvalidTime)?;
    validity.finish()?;
    let (subject_value, subject) = tbs.read_with_raw(tag::SEQUENCE)?;
    let spki = SubjectPublicKeyInfo::read(&mut tbs)?;
    // issuerUniqueID [1] and subjectUniqueID [2] are skipped if present.
    let _ = tbs.read_optional(tag::context_primitive(1))?;
    let _ = tbs.read_optional(tag::context_primitive(2))?;
    let ext = match tbs.read_optional(tag::context_constructed(3))? {
        Some(exts) => Extensions::parse(base, crate::der::read_single(exts, tag::SEQUENCE)?)?,
        None => Extensions::default(),
    };
    tbs.finish()?;

    // X509-6 (RFC 5280 §4.1.2.6): with an empty subject, the SAN must be critical.
    if subject_value.is_empty() && ext.san.is_some() && !ext.san_critical {
        return Err(X509Error::EmptySubjectNonCriticalSan);
    }

    Ok(Inner {
        tbs: Span::of(base, tbs_raw),
        signature_algorithm: SignatureAlgorithm::from_der(outer_alg),
        signature: Span::of(base, signature),
        serial: Span::of(base, serial),
        issuer: Span::of(base, issuer),
        subject: Span::of(base, subject),
        not_before,
        not_after,
        spki: Span::of(base, spki.der()),
        key_kind: spki.kind(),
        key_bits: Span::of(base, spki.key_bits()),
        ext,
        key_cache: OnceLock::new(),
        der,
    })
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("serial", &self.serial_hex())
            .field("uri_sans", &self.uri_sans().collect::<Vec<_>>())
            .field("is_ca", &self.is_ca())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    /// Equal when the DER is equal.
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}
impl Eq for Certificate {}

#[cfg(test)]
mod tests {
    use super::serial_to_decimal;

    #[test]
    fn serial_in_decimal_as_go_prints_it() {
        assert_eq!(serial_to_decimal(&[]), "0");
        assert_eq!(serial_to_decimal(&[0x00]), "0");
        assert_eq!(serial_to_decimal(&[0x01]), "1");
        assert_eq!(serial_to_decimal(&[0x00, 0xff]), "255");
        assert_eq!(serial_to_decimal(&[0x01, 0x00]), "256");
        assert_eq!(serial_to_decimal(&[0xff]), "-1");
        assert_eq!(serial_to_decimal(&[0x80]), "-128");
        assert_eq!(serial_to_decimal(&[0xff, 0x7f]), "-129");
        // 2^64 and a 20-octet serial (RFC 5280's largest).
        assert_eq!(
            serial_to_decimal(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
        assert_eq!(
            serial_to_decimal(&[0x7f; 20]),
            "727885129180488904360266563744972327436484050815"
        );
    }
}
