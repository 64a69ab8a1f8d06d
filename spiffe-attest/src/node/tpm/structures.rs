//! Defensive parsers for the TPM 2.0 structures the server receives (TPM 2.0 Part 2:
//! `TPMT_PUBLIC` §12.2.4, `TPMS_ATTEST` §10.12.12, `TPMT_SIGNATURE` §11.3.4), and what the
//! server derives from them: object names and PKIX public keys.
//!
//! Every structure is big-endian and length-prefixed; each read is bounds-checked and a parse
//! must consume its input exactly.

use aws_lc_rs::digest;

use super::TpmError;

/// `TPM_ALG_RSA`.
pub(crate) const ALG_RSA: u16 = 0x0001;
/// `TPM_ALG_SHA256`.
pub(crate) const ALG_SHA256: u16 = 0x000b;
/// `TPM_ALG_AES`.
pub(crate) const ALG_AES: u16 = 0x0006;
/// `TPM_ALG_NULL`.
pub(crate) const ALG_NULL: u16 = 0x0010;
/// `TPM_ALG_RSASSA`.
pub(crate) const ALG_RSASSA: u16 = 0x0014;
/// `TPM_ALG_RSAES`.
const ALG_RSAES: u16 = 0x0015;
/// `TPM_ALG_RSAPSS`.
const ALG_RSAPSS: u16 = 0x0016;
/// `TPM_ALG_OAEP`.
const ALG_OAEP: u16 = 0x0017;
/// `TPM_ALG_CFB`.
pub(crate) const ALG_CFB: u16 = 0x0043;

/// `TPM_GENERATED_VALUE`: the magic of every `TPMS_ATTEST` the TPM itself produced.
const TPM_GENERATED: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`.
const ST_ATTEST_QUOTE: u16 = 0x8018;

// TPMA_OBJECT bits (Part 2 §8.3).
pub(crate) const ATTR_FIXED_TPM: u32 = 1 << 1;
pub(crate) const ATTR_FIXED_PARENT: u32 = 1 << 4;
pub(crate) const ATTR_SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
pub(crate) const ATTR_RESTRICTED: u32 = 1 << 16;
pub(crate) const ATTR_DECRYPT: u32 = 1 << 17;
pub(crate) const ATTR_SIGN: u32 = 1 << 18;

/// Largest RSA modulus accepted (4096 bits).
const MAX_MODULUS: usize = 512;
/// Largest `authPolicy` digest (SHA-512).
const MAX_DIGEST: usize = 64;
/// Most PCR banks in one `TPML_PCR_SELECTION`.
const MAX_BANKS: usize = 4;
/// Largest `sizeofSelect` (PCR bitmap bytes).
const MAX_SELECT: usize = 8;

/// A bounds-checked big-endian reader over one TPM structure.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

// === impl Reader ===

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    fn malformed(&self) -> TpmError {
        TpmError::Malformed { what: self.what }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], TpmError> {
        if n > self.data.len() {
            return Err(self.malformed());
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, TpmError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, TpmError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, TpmError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, TpmError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A `TPM2B_*`: a `u16` size, then that many bytes, at most `max`.
    pub(crate) fn sized(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], TpmError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(TpmError::TooLarge { what, len, max });
        }
        self.bytes(len)
    }

    pub(crate) fn finish(self) -> Result<(), TpmError> {
        match self.data.is_empty() {
            true => Ok(()),
            false => Err(self.malformed()),
        }
    }
}

/// The parts of an RSA `TPMT_PUBLIC` the server checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaPublic {
    pub(crate) name_alg: u16,
    pub(crate) attributes: u32,
    /// `(algorithm, keyBits, mode)` of the symmetric definition; `None` for `TPM_ALG_NULL`.
    pub(crate) symmetric: Option<(u16, u16, u16)>,
    /// `(scheme, hash)`; `None` for `TPM_ALG_NULL`; hash is `TPM_ALG_NULL` for RSAES.
    pub(crate) scheme: Option<(u16, u16)>,
    pub(crate) key_bits: u16,
    /// The public exponent (0 in the structure means 65537 and is normalised here).
    pub(crate) exponent: u32,
    /// The modulus, big-endian, as the TPM sent it.
    pub(crate) modulus: Vec<u8>,
}

// === impl RsaPublic ===

impl RsaPublic {
    /// Parses a marshaled `TPMT_PUBLIC` holding an RSA key.
    pub(crate) fn parse(bytes: &[u8], what: &'static str) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes, what);
        if r.u16()? != ALG_RSA {
            return Err(TpmError::KeyRejected {
                key: what,
                reason: "not an RSA key",
            });
        }
        let name_alg = r.u16()?;
        let attributes = r.u32()?;
        r.sized("authPolicy", MAX_DIGEST)?;
        // TPMS_RSA_PARMS: symmetric, scheme, keyBits, exponent.
        let symmetric = match r.u16()? {
            ALG_NULL => None,
            alg => Some((alg, r.u16()?, r.u16()?)),
        };
        let scheme = match r.u16()? {
            ALG_NULL => None,
            ALG_RSAES => Some((ALG_RSAES, ALG_NULL)),
            s @ (ALG_RSASSA | ALG_RSAPSS | ALG_OAEP) => Some((s, r.u16()?)),
            _ => {
                return Err(TpmError::KeyRejected {
                    key: what,
                    reason: "unknown RSA scheme",
                })
            }
        };
        let key_bits = r.u16()?;
        let exponent = match r.u32()? {
            0 => 65537,
            e => e,
        };
        let modulus = r.sized("RSA modulus", MAX_MODULUS)?.to_vec();
        r.finish()?;
        if modulus.len() * 8 != usize::from(key_bits) {
            return Err(TpmError::KeyRejected {
                key: what,
                reason: "modulus size does not match keyBits",
            });
        }
        Ok(Self {
            name_alg,
            attributes,
            symmetric,
            scheme,
            key_bits,
            exponent,
            modulus,
        })
    }

    /// The key as a PKIX `SubjectPublicKeyInfo` (rsaEncryption with NULL parameters), the form
    /// whose SHA-256 is the `pub_hash`.
    pub(crate) fn spki_der(&self) -> Vec<u8> {
        let n = der_integer(&self.modulus);
        let e = der_integer(&self.exponent.to_be_bytes());
        let rsa_key = der_tlv(0x30, &[n, e].concat());
        let mut bit_string = vec![0u8];
        bit_string.extend_from_slice(&rsa_key);
        // AlgorithmIdentifier { rsaEncryption, NULL }.
        let alg_id: &[u8] = &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let body = [alg_id, &der_tlv(0x03, &bit_string)].concat();
        der_tlv(0x30, &body)
    }

    /// The exponent as minimal big-endian bytes.
    pub(crate) fn exponent_bytes(&self) -> Vec<u8> {
        strip_zeros(&self.exponent.to_be_bytes()).to_vec()
    }
}

/// An object's name (Part 1 §16): `nameAlg || H(TPMT_PUBLIC)`. Only SHA-256 names are used.
pub(crate) fn object_name(tpmt_public: &[u8]) -> Vec<u8> {
    let mut name = ALG_SHA256.to_be_bytes().to_vec();
    name.extend_from_slice(digest::digest(&digest::SHA256, tpmt_public).as_ref());
    name
}

/// Leading zero bytes removed (at least one byte kept).
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

fn der_integer(unsigned_be: &[u8]) -> Vec<u8> {
    let digits = strip_zeros(unsigned_be);
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    der_tlv(0x02, &content)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// One bank of a `TPML_PCR_SELECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PcrBank {
    pub(crate) hash: u16,
    pub(crate) select: Vec<u8>,
}

/// The parts of a quote (`TPMS_ATTEST` of type `TPM_ST_ATTEST_QUOTE`) the server checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quote {
    pub(crate) extra_data: Vec<u8>,
    pub(crate) banks: Vec<PcrBank>,
    pub(crate) pcr_digest: Vec<u8>,
}

// === impl Quote ===

impl Quote {
    /// Parses a marshaled `TPMS_ATTEST` and requires it to be a TPM-generated quote.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes, "TPMS_ATTEST");
        // The magic proves the TPM generated the structure: a restricted key signs nothing
        // that starts with it unless the TPM built it.
        if r.u32()? != TPM_GENERATED {
            return Err(TpmError::QuoteRejected {
                reason: "not TPM-generated",
            });
        }
        if r.u16()? != ST_ATTEST_QUOTE {
            return Err(TpmError::QuoteRejected {
                reason: "not a quote",
            });
        }
        r.sized("qualifiedSigner", 2 + MAX_DIGEST)?;
        let extra_data = r.sized("extraData", MAX_DIGEST)?.to_vec();
        // TPMS_CLOCK_INFO: clock, resetCount, restartCount, safe.
        r.u64()?;
        r.u32()?;
        r.u32()?;
        r.u8()?;
        // firmwareVersion.
        r.u64()?;
        let count = r.u32()? as usize;
        if count > MAX_BANKS {
            return Err(TpmError::TooLarge {
                what: "PCR selection",
                len: count,
                max: MAX_BANKS,
            });
        }
        let mut banks = Vec::with_capacity(count);
        for _ in 0..count {
            let hash = r.u16()?;
            let size = usize::from(r.u8()?);
            if size > MAX_SELECT {
                return Err(TpmError::TooLarge {
                    what: "PCR select bitmap",
                    len: size,
                    max: MAX_SELECT,
                });
            }
            banks.push(PcrBank {
                hash,
                select: r.bytes(size)?.to_vec(),
            });
        }
        let pcr_digest = r.sized("pcrDigest", MAX_DIGEST)?.to_vec();
        r.finish()?;
        Ok(Self {
            extra_data,
            banks,
            pcr_digest,
        })
    }
}

/// Parses a marshaled `TPMT_SIGNATURE` and returns the RSASSA-SHA256 signature bytes.
pub(crate) fn parse_rsassa_sha256_signature(bytes: &[u8]) -> Result<&[u8], TpmError> {
    let mut r = Reader::new(bytes, "TPMT_SIGNATURE");
    if r.u16()? != ALG_RSASSA || r.u16()? != ALG_SHA256 {
        return Err(TpmError::QuoteRejected {
            reason: "signature is not RSASSA-SHA256",
        });
    }
    let sig = r.sized("RSA signature", MAX_MODULUS)?;
    r.finish()?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integer_is_minimal() {
        assert_eq!(der_integer(&[0, 0, 1, 0, 1]), vec![0x02, 0x03, 1, 0, 1]);
        assert_eq!(der_integer(&[0x80]), vec![0x02, 0x02, 0, 0x80]);
        assert_eq!(der_integer(&[0]), vec![0x02, 0x01, 0]);
    }

    #[test]
    fn reader_rejects_short_and_trailing_input() {
        let mut r = Reader::new(&[0, 5, 1, 2], "x");
        assert!(matches!(r.sized("f", 64), Err(TpmError::Malformed { .. })));
        let mut r = Reader::new(&[0, 1, 1, 2], "x");
        assert_eq!(r.sized("f", 64).ok(), Some(&[1u8][..]));
        assert!(r.finish().is_err());
        let mut r = Reader::new(&[0, 9], "x");
        assert!(matches!(
            r.sized("f", 8),
            Err(TpmError::TooLarge { len: 9, .. })
        ));
    }

    #[test]
    fn quote_rejects_foreign_magic() {
        let mut bytes = 0xdead_beefu32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&ST_ATTEST_QUOTE.to_be_bytes());
        assert!(matches!(
            Quote::parse(&bytes),
            Err(TpmError::QuoteRejected { .. })
        ));
    }
}
