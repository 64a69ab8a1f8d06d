//! The v3 extensions verification needs (RFC 5280 §4.2), read in the certificate's single
//! parsing pass: values are kept as byte ranges into the certificate's DER.

use crate::der::{tag, DerError, Reader};

use super::certificate::Span;
use super::X509Error;

/// The keyUsage bits of a certificate (RFC 5280 §4.2.1.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyUsage(u16);

// === impl KeyUsage ===

impl KeyUsage {
    const DIGITAL_SIGNATURE: u16 = 1 << 0;
    const CONTENT_COMMITMENT: u16 = 1 << 1;
    const KEY_ENCIPHERMENT: u16 = 1 << 2;
    const DATA_ENCIPHERMENT: u16 = 1 << 3;
    const KEY_AGREEMENT: u16 = 1 << 4;
    const KEY_CERT_SIGN: u16 = 1 << 5;
    const CRL_SIGN: u16 = 1 << 6;
    const ENCIPHER_ONLY: u16 = 1 << 7;
    const DECIPHER_ONLY: u16 = 1 << 8;

    /// `digitalSignature` (bit 0).
    pub fn digital_signature(self) -> bool {
        self.0 & Self::DIGITAL_SIGNATURE != 0
    }
    /// `contentCommitment` / `nonRepudiation` (bit 1).
    pub fn content_commitment(self) -> bool {
        self.0 & Self::CONTENT_COMMITMENT != 0
    }
    /// `keyEncipherment` (bit 2).
    pub fn key_encipherment(self) -> bool {
        self.0 & Self::KEY_ENCIPHERMENT != 0
    }
    /// `dataEncipherment` (bit 3).
    pub fn data_encipherment(self) -> bool {
        self.0 & Self::DATA_ENCIPHERMENT != 0
    }
    /// `keyAgreement` (bit 4).
    pub fn key_agreement(self) -> bool {
        self.0 & Self::KEY_AGREEMENT != 0
    }
    /// `keyCertSign` (bit 5).
    pub fn key_cert_sign(self) -> bool {
        self.0 & Self::KEY_CERT_SIGN != 0
    }
    /// `cRLSign` (bit 6).
    pub fn crl_sign(self) -> bool {
        self.0 & Self::CRL_SIGN != 0
    }
    /// `encipherOnly` (bit 7).
    pub fn encipher_only(self) -> bool {
        self.0 & Self::ENCIPHER_ONLY != 0
    }
    /// `decipherOnly` (bit 8).
    pub fn decipher_only(self) -> bool {
        self.0 & Self::DECIPHER_ONLY != 0
    }
    /// The names of the bits that are set, in bit order (for display).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [&str; 9] = [
            "digitalSignature",
            "contentCommitment",
            "keyEncipherment",
            "dataEncipherment",
            "keyAgreement",
            "keyCertSign",
            "cRLSign",
            "encipherOnly",
            "decipherOnly",
        ];
        NAMES
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, name)| name)
    }

    /// Parses the BIT STRING (bit 0 is the most significant bit of the first octet).
    fn parse(value: &[u8]) -> Result<Self, DerError> {
        let mut reader = Reader::new(value);
        let (_, bits) = reader.read_bit_string()?;
        reader.finish()?;
        if bits.len() > 2 {
            return Err(DerError::InvalidValue);
        }
        let mut usage = 0u16;
        for (i, &octet) in bits.iter().enumerate() {
            let octet = octet.reverse_bits();
            usage |= u16::from(octet) << (8 * i);
        }
        Ok(Self(usage))
    }
}

impl std::fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// The extendedKeyUsage purposes of a certificate (RFC 5280 §4.2.1.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtendedKeyUsage {
    server_auth: bool,
    client_auth: bool,
    any: bool,
    others: u16,
}

// === impl ExtendedKeyUsage ===

impl ExtendedKeyUsage {
    /// `id-kp-serverAuth` is listed.
    pub fn server_auth(&self) -> bool {
        self.server_auth
    }
    /// `id-kp-clientAuth` is listed.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }
    /// `anyExtendedKeyUsage` is listed.
    pub fn any(&self) -> bool {
        self.any
    }
    /// How many other purposes are listed.
    pub fn other_count(&self) -> u16 {
        self.others
    }

    fn parse(value: &[u8]) -> Result<Self, DerError> {
        const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
        const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
        const ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
        let mut outer = Reader::new(value);
        let mut purposes = Reader::new(outer.read(tag::SEQUENCE)?);
        outer.finish()?;
        if purposes.is_empty() {
            return Err(DerError::InvalidValue); // SIZE (1..MAX)
        }
        let mut eku = Self::default();
        while !purposes.is_empty() {
            match purposes.read(tag::OID)? {
                SERVER_AUTH => eku.server_auth = true,
                CLIENT_AUTH => eku.client_auth = true,
                ANY => eku.any = true,
                [] => return Err(DerError::InvalidValue),
                _ => eku.others = eku.others.saturating_add(1),
            }
        }
        Ok(eku)
    }
}

/// basicConstraints (RFC 5280 §4.2.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BasicConstraints {
    pub(crate) ca: bool,
    pub(crate) path_len: Option<u64>,
}

/// What the extensions of one certificate say, as parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extensions {
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) key_usage: Option<KeyUsage>,
    pub(crate) key_usage_critical: bool,
    pub(crate) extended_key_usage: Option<ExtendedKeyUsage>,
    /// The SAN `GeneralNames` SEQUENCE contents.
    pub(crate) san: Option<Span>,
    pub(crate) san_critical: bool,
    /// Raw count of URI SAN entries (X509-1/2/25 count these, whatever their scheme).
    pub(crate) uri_count: u32,
    pub(crate) first_uri: Option<Span>,
    /// The `NameConstraints` SEQUENCE contents, evaluated during path validation.
    pub(crate) name_constraints: Option<Span>,
    pub(crate) subject_key_id: Option<Span>,
    pub(crate) authority_key_id: Option<Span>,
}

/// At most this many extensions are read; more is treated as malformed.
const MAX_EXTENSIONS: usize = 32;

// id-ce arcs (2.5.29.x).
const ID_CE: [u8; 2] = [0x55, 0x1d];
const SKI: u8 = 14;
const KU: u8 = 15;
const SAN: u8 = 17;
const BC: u8 = 19;
const NC: u8 = 30;
const AKI: u8 = 35;
const EKU: u8 = 37;

// === impl Extensions ===

impl Extensions {
    /// Parses the `Extensions` SEQUENCE contents. `base` is the whole certificate DER, so
    /// values can be stored as spans into it.
    pub(crate) fn parse(base: &[u8], input: &[u8]) -> Result<Self, X509Error> {
        let mut exts = Self::default();
        let mut seen: [&[u8]; MAX_EXTENSIONS] = [&[]; MAX_EXTENSIONS];
        let mut count = 0usize;
        let mut reader = Reader::new(input);
        if reader.is_empty() {
            return Err(X509Error::MalformedCertificate); // SIZE (1..MAX)
        }
        while !reader.is_empty() {
            let mut ext = Reader::new(reader.read(tag::SEQUENCE)?);
            let oid = ext.read(tag::OID)?;
            let critical = if ext.peek_tag() == Some(tag::BOOLEAN) {
                ext.read_bool()?
            } else {
                false
            };
            let value = ext.read(tag::OCTET_STRING)?;
            ext.finish()?;

            // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of a
            // particular extension.
            if count == MAX_EXTENSIONS {
                return Err(X509Error::MalformedCertificate);
            }
            if seen[..count].contains(&oid) {
                return Err(X509Error::DuplicateExtension);
            }
            seen[count] = oid;
            count += 1;

            let known = match oid {
                [a, b, arc] if [*a, *b] == ID_CE => Some(*arc),
                _ => None,
            };
            let bad = |extension| move |_| X509Error::InvalidExtension { extension };
            match known {
                Some(BC) => {
                    exts.basic_constraints =
                        Some(parse_basic_constraints(value).map_err(bad("basicConstraints"))?);
                }
                Some(KU) => {
                    exts.key_usage = Some(KeyUsage::parse(value).map_err(bad("keyUsage"))?);
                    exts.key_usage_critical = critical;
                }
                Some(EKU) => {
                    exts.extended_key_usage =
                        Some(ExtendedKeyUsage::parse(value).map_err(bad("extendedKeyUsage"))?);
                }
                Some(SAN) => {
                    let names = crate::der::read_single(value, tag::SEQUENCE)
                        .map_err(bad("subjectAltName"))?;
                    let (uri_count, first_uri) =
                        scan_general_names(base, names).map_err(bad("subjectAltName"))?;
                    exts.san = Some(Span::of(base, names));
                    exts.san_critical = critical;
                    exts.uri_count = uri_count;
                    exts.first_uri = first_uri;
                }
                Some(NC) => {
                    let nc = crate::der::read_single(value, tag::SEQUENCE)
                        .map_err(bad("nameConstraints"))?;
                    exts.name_constraints = Some(Span::of(base, nc));
                }
                Some(SKI) => {
                    let id = crate::der::read_single(value, tag::OCTET_STRING)
                        .map_err(bad("subjectKeyIdentifier"))?;
                    exts.subject_key_id = Some(Span::of(base, id));
                }
                Some(AKI) => {
                    let id =
                        parse_authority_key_id(value).map_err(bad("authorityKeyIdentifier"))?;
                    exts.authority_key_id = id.map(|id| Span::of(base, id));
                }
                // RFC 5280 §4.2: a critical extension we do not process means reject (fail
                // closed); a non-critical one is ignored.
                _ if critical => return Err(X509Error::UnknownCriticalExtension),
                _ => {}
            }
        }
        Ok(exts)
    }
}

impl From<DerError> for X509Error {
    fn from(_: DerError) -> Self {
        X509Error::MalformedCertificate
    }
}

fn parse_basic_constraints(value: &[u8]) -> Result<BasicConstraints, DerError> {
    let mut seq = Reader::new(crate::der::read_single(value, tag::SEQUENCE)?);
    let ca = if seq.peek_tag() == Some(tag::BOOLEAN) {
        seq.read_bool()?
    } else {
        false
    };
    let path_len = if seq.peek_tag() == Some(tag::INTEGER) {
        Some(seq.read_small_uint()?)
    } else {
        None
    };
    seq.finish()?;
    Ok(BasicConstraints { ca, path_len })
}

fn parse_authority_key_id(value: &[u8]) -> Result<Option<&[u8]>, DerError> {
    let mut seq = Reader::new(crate::der::read_single(value, tag::SEQUENCE)?);
    let key_id = seq.read_optional(tag::context_primitive(0))?;
    // authorityCertIssuer [1] and authorityCertSerialNumber [2] are skipped.
    let _ = seq.read_optional(tag::context_constructed(1))?;
    let _ = seq.read_optional(tag::context_primitive(2))?;
    seq.finish()?;
    Ok(key_id)
}

/// `GeneralName` tags (RFC 5280 §4.2.1.6), all context-specific.
pub(crate) mod general_name {
    use crate::der::tag;
    pub(crate) const OTHER_NAME: u8 = tag::context_constructed(0);
    pub(crate) const RFC822: u8 = tag::context_primitive(1);
    pub(crate) const DNS: u8 = tag::context_primitive(2);
    pub(crate) const X400: u8 = tag::context_constructed(3);
    pub(crate) const DIRECTORY: u8 = tag::context_constructed(4);
    pub(crate) const EDI_PARTY: u8 = tag::context_constructed(5);
    pub(crate) const URI: u8 = tag::context_primitive(6);
    pub(crate) const IP: u8 = tag::context_primitive(7);
    pub(crate) const REGISTERED_ID: u8 = tag::context_primitive(8);
}

/// Checks the `GeneralNames` entries' tags (a requested subjectAltName in a CSR).
pub(crate) fn check_general_names(names: &[u8]) -> Result<(), DerError> {
    scan_general_names(names, names).map(|_| ())
}

/// Checks the `GeneralNames` entries' tags; counts URI entries and notes the first one.
fn scan_general_names(base: &[u8], names: &[u8]) -> Result<(u32, Option<Span>), DerError> {
    use general_name as gn;
    let mut reader = Reader::new(names);
    if reader.is_empty() {
        return Err(DerError::InvalidValue); // SIZE (1..MAX)
    }
    let (mut count, mut first) = (0u32, None);
    while !reader.is_empty() {
        let (tag, value, _) = reader.read_any()?;
        match tag {
            gn::URI => {
                count += 1;
                if first.is_none() {
                    first = Some(Span::of(base, value));
                }
            }
            gn::OTHER_NAME
            | gn::RFC822
            | gn::DNS
            | gn::X400
            | gn::DIRECTORY
            | gn::EDI_PARTY
            | gn::IP
            | gn::REGISTERED_ID => {}
            _ => return Err(DerError::UnexpectedTag),
        }
    }
    Ok((count, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits() {
        // digitalSignature only: 03 02 07 80
        let ku = KeyUsage::parse(&[0x03, 0x02, 0x07, 0x80]).expect("valid");
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        // keyCertSign + cRLSign: 03 02 01 06
        let ku = KeyUsage::parse(&[0x03, 0x02, 0x01, 0x06]).expect("valid");
        assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
        assert_eq!(ku.names().collect::<Vec<_>>(), ["keyCertSign", "cRLSign"]);
        // decipherOnly: 03 03 07 00 80
        let ku = KeyUsage::parse(&[0x03, 0x03, 0x07, 0x00, 0x80]).expect("valid");
        assert!(ku.decipher_only());
    }

    #[test]
    fn basic_constraints_forms() {
        assert_eq!(
            parse_basic_constraints(&[0x30, 0x00]),
            Ok(BasicConstraints {
                ca: false,
                path_len: None
            })
        );
        assert_eq!(
            parse_basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]),
            Ok(BasicConstraints {
                ca: true,
                path_len: Some(0)
            })
        );
        assert!(parse_basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0x01]).is_err());
    }

    #[test]
    fn extended_key_usage_must_not_be_empty() {
        assert!(ExtendedKeyUsage::parse(&[0x30, 0x00]).is_err());
    }
}
