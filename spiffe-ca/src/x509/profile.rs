//! The certificate profiles: what an issuer writes into a CA certificate (X509-7..19) and into
//! an X.509-SVID leaf (X509-1..18), and the one place a TBSCertificate is assembled and signed.
//!
//! Everything that does not change between leaves of one issuer (the issuer `Name`, the
//! signature `AlgorithmIdentifier`, the authorityKeyIdentifier and the fixed extensions) is
//! encoded once in [`Issuer`] and copied per certificate.

use std::sync::Arc;

use aws_lc_rs::digest;

use crate::keys::{KeyType, Signer, SigningScheme};
use crate::CaError;

use crate::der_writer::{tag, DerWriter};

/// `version [0] EXPLICIT INTEGER 2` (v3).
const VERSION_V3: &[u8] = &[0xa0, 0x03, 0x02, 0x01, 0x02];

const ECDSA_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
const ECDSA_SHA384: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
];
const SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];

mod oid {
    pub(super) const SUBJECT_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];
    pub(super) const KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0f];
    pub(super) const SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    pub(super) const BASIC_CONSTRAINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
    pub(super) const AUTHORITY_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x23];
    pub(super) const EXT_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x25];
    pub(super) const SERVER_AUTH: &[u8] =
        &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    pub(super) const CLIENT_AUTH: &[u8] =
        &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
    pub(super) const COUNTRY: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x06];
    pub(super) const ORGANIZATION: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];
    pub(super) const SERIAL_NUMBER: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x05];
}

// keyUsage named bits (RFC 5280 §4.2.1.3), bit 0 the most significant.
const KU_DIGITAL_SIGNATURE: u16 = 0x8000;
const KU_KEY_ENCIPHERMENT: u16 = 0x2000;
const KU_KEY_CERT_SIGN: u16 = 0x0400;
const KU_CRL_SIGN: u16 = 0x0200;

/// GeneralName `uniformResourceIdentifier [6]` and `dNSName [2]`.
const GN_URI: u8 = tag::context_primitive(6);
const GN_DNS: u8 = tag::context_primitive(2);

/// How a key of each type signs certificates.
pub(crate) fn signature_params(key_type: KeyType) -> (SigningScheme, &'static [u8]) {
    // Exhaustive: a new key type must say how it signs, not fall back to P-256.
    match key_type {
        KeyType::EcP256 => (SigningScheme::EcdsaP256Sha256Asn1, ECDSA_SHA256),
        KeyType::EcP384 => (SigningScheme::EcdsaP384Sha384Asn1, ECDSA_SHA384),
        KeyType::Rsa2048 | KeyType::Rsa4096 => (SigningScheme::RsaPkcs1Sha256, SHA256_WITH_RSA),
    }
}

/// The subjectKeyIdentifier of a key: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2
/// method 1, as SPIRE and most CAs compute it).
pub(crate) fn key_id(key_bits: &[u8]) -> [u8; 20] {
    let mut id = [0u8; 20];
    id.copy_from_slice(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key_bits).as_ref());
    id
}

/// A random positive 128-bit serial number (RFC 5280 §4.1.2.2; the INTEGER gets a leading zero
/// octet when the top bit is set, at most 17 octets).
pub(crate) fn random_serial() -> Result<[u8; 16], CaError> {
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| CaError::Random)?;
    if serial.iter().all(|&b| b == 0) {
        serial[15] = 1; // positive, never zero
    }
    Ok(serial)
}

/// An issuer: a signer and the parts of every certificate it signs that depend only on it.
#[derive(Debug, Clone)]
pub(crate) struct Issuer {
    signer: Arc<dyn Signer>,
    scheme: SigningScheme,
    algorithm: &'static [u8],
    /// The issuer `Name` TLV (the CA certificate's subject).
    name: Vec<u8>,
    /// The whole authorityKeyIdentifier extension TLV.
    authority_key_id: Vec<u8>,
}

/// The per-certificate fields.
pub(crate) struct Fields<'a> {
    pub(crate) serial: [u8; 16],
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    /// The subject `Name` TLV.
    pub(crate) subject: &'a [u8],
    /// The subject's `SubjectPublicKeyInfo` TLV.
    pub(crate) spki: &'a [u8],
}

// === impl Issuer ===

impl Issuer {
    /// An issuer named `name` (a `Name` TLV) whose key has identifier `key_id`.
    pub(crate) fn new(signer: Arc<dyn Signer>, name: Vec<u8>, key_id: &[u8]) -> Self {
        let (scheme, algorithm) = signature_params(signer.public_key().key_type());
        let mut aki = DerWriter::with_capacity(40);
        extension(&mut aki, oid::AUTHORITY_KEY_ID, false, |w| {
            w.nested(tag::SEQUENCE, |w| {
                w.primitive(tag::context_primitive(0), key_id);
            });
        });
        Self {
            signer,
            scheme,
            algorithm,
            name,
            authority_key_id: aki.finish(),
        }
    }

    /// The signer.
    pub(crate) fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// Assembles the TBSCertificate around `extensions`, signs it and returns the
    /// certificate's DER.
    pub(crate) fn issue(
        &self,
        fields: &Fields<'_>,
        extensions: impl FnOnce(&mut DerWriter),
    ) -> Result<Vec<u8>, CaError> {
        let mut tbs = DerWriter::with_capacity(768 + fields.spki.len());
        tbs.nested(tag::SEQUENCE, |w| {
            w.raw(VERSION_V3);
            w.unsigned_integer(&fields.serial);
            w.raw(self.algorithm);
            w.raw(&self.name);
            w.nested(tag::SEQUENCE, |w| {
                w.time(fields.not_before);
                w.time(fields.not_after);
            });
            w.raw(fields.subject);
            w.raw(fields.spki);
            w.nested(tag::context_constructed(3), |w| {
                w.nested(tag::SEQUENCE, |w| {
                    extensions(w);
                    w.raw(&self.authority_key_id);
                });
            });
        });
        let tbs = tbs.finish();
        let signature = self
            .signer
            .sign(self.scheme, &tbs)
            .map_err(CaError::Signer)?;
        let mut cert = DerWriter::with_capacity(tbs.len() + signature.len() + 32);
        cert.nested(tag::SEQUENCE, |w| {
            w.raw(&tbs);
            w.raw(self.algorithm);
            w.octet_aligned_bits(&signature);
        });
        Ok(cert.finish())
    }
}

/// Writes one `Extension` (RFC 5280 §4.1): OID, critical flag (only when true, DER), value.
fn extension(w: &mut DerWriter, oid: &[u8], critical: bool, value: impl FnOnce(&mut DerWriter)) {
    w.nested(tag::SEQUENCE, |w| {
        w.raw(oid);
        if critical {
            w.boolean(true);
        }
        w.nested(tag::OCTET_STRING, value);
    });
}

fn subject_key_id_extension(w: &mut DerWriter, key_id: &[u8]) {
    extension(w, oid::SUBJECT_KEY_ID, false, |w| {
        w.primitive(tag::OCTET_STRING, key_id);
    });
}

/// The extensions of a CA certificate for `trust_domain_id` (`spiffe://td`) whose key has
/// identifier `key_id` (the authorityKeyIdentifier is the issuer's, added by [`Issuer::issue`]).
pub(crate) fn ca_extensions<'a>(
    trust_domain_id: &'a str,
    key_id: &'a [u8],
) -> impl FnOnce(&mut DerWriter) + 'a {
    move |w| {
        // X509-7/12: cA=TRUE, critical; no pathLenConstraint (X509-10: may issue further CAs).
        extension(w, oid::BASIC_CONSTRAINTS, true, |w| {
            w.nested(tag::SEQUENCE, |w| w.boolean(true));
        });
        // X509-15/16/26: keyCertSign and cRLSign only, critical; no digitalSignature.
        extension(w, oid::KEY_USAGE, true, |w| {
            w.named_bits(KU_KEY_CERT_SIGN | KU_CRL_SIGN);
        });
        // X509-8/9: the CA is an SVID of its trust domain, an ID without a path. The subject
        // is never empty here, so the SAN need not be critical (X509-6).
        extension(w, oid::SUBJECT_ALT_NAME, false, |w| {
            w.nested(tag::SEQUENCE, |w| {
                w.primitive(GN_URI, trust_domain_id.as_bytes());
            });
        });
        subject_key_id_extension(w, key_id);
    }
}

/// The subject `Name` of a CA certificate: `C=US, O=SPIFFE, serialNumber=<serial hex>`, the
/// serial making the names of successive CAs of one trust domain distinct.
pub(crate) fn ca_subject(serial: &[u8; 16]) -> Vec<u8> {
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    let mut w = DerWriter::with_capacity(80);
    w.nested(tag::SEQUENCE, |w| {
        attribute(w, oid::COUNTRY, tag::PRINTABLE_STRING, b"US");
        attribute(w, oid::ORGANIZATION, tag::UTF8_STRING, b"SPIFFE");
        attribute(w, oid::SERIAL_NUMBER, tag::PRINTABLE_STRING, hex.as_bytes());
    });
    w.finish()
}

/// Writes one single-valued RDN `SET { SEQUENCE { type, value } }`.
pub(crate) fn attribute(w: &mut DerWriter, oid: &[u8], string_tag: u8, value: &[u8]) {
    w.nested(tag::SET, |w| {
        w.nested(tag::SEQUENCE, |w| {
            w.raw(oid);
            w.primitive(string_tag, value);
        });
    });
}

/// The fixed leaf extensions for a key type, encoded once per issuer.
pub(crate) fn leaf_fixed_extensions(key_type: KeyType) -> Vec<u8> {
    let mut w = DerWriter::with_capacity(64);
    // X509-13: cA=FALSE, emitted (an empty SEQUENCE: DER omits the default FALSE), critical.
    extension(&mut w, oid::BASIC_CONSTRAINTS, true, |w| {
        w.nested(tag::SEQUENCE, |_| {});
    });
    // X509-15/17: critical; digitalSignature, plus keyEncipherment for RSA keys (TLS 1.2 RSA
    // key transport); never keyCertSign or cRLSign.
    let usage = match key_type {
        KeyType::Rsa2048 | KeyType::Rsa4096 => KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
        KeyType::EcP256 | KeyType::EcP384 => KU_DIGITAL_SIGNATURE,
    };
    extension(&mut w, oid::KEY_USAGE, true, |w| w.named_bits(usage));
    // X509-18: serverAuth and clientAuth.
    extension(&mut w, oid::EXT_KEY_USAGE, false, |w| {
        w.nested(tag::SEQUENCE, |w| {
            w.raw(oid::SERVER_AUTH);
            w.raw(oid::CLIENT_AUTH);
        });
    });
    w.finish()
}

/// The per-leaf extensions: the subjectAltName (X509-1: exactly one URI, the SPIFFE ID, then
/// any DNS names, X509-3), critical when the subject is empty (X509-6), and the
/// subjectKeyIdentifier.
pub(crate) fn leaf_san_and_key_id(
    w: &mut DerWriter,
    spiffe_id: &str,
    dns_names: &[String],
    subject_empty: bool,
    key_id: &[u8],
) {
    extension(w, oid::SUBJECT_ALT_NAME, subject_empty, |w| {
        w.nested(tag::SEQUENCE, |w| {
            w.primitive(GN_URI, spiffe_id.as_bytes());
            for name in dns_names {
                w.primitive(GN_DNS, name.as_bytes());
            }
        });
    });
    subject_key_id_extension(w, key_id);
}
