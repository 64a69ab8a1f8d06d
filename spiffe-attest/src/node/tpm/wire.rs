//! The three messages of a `tpm` attestation, as bytes.
//!
//! Each starts with a version byte (1), then length-prefixed (`u16`, big-endian) fields; a
//! message must be consumed exactly. TPM structures inside are carried as the TPM marshals
//! them and parsed separately ([`super::structures`]).
//!
//! ```text
//! payload   = 1 | ek_public (TPMT_PUBLIC) | ek_cert (DER, may be empty) | ak_public (TPMT_PUBLIC)
//! challenge = 1 | id_object | encrypted_secret | nonce | pcr_hash u16 | pcr_mask u32
//! response  = 1 | secret | attest (TPMS_ATTEST) | signature (TPMT_SIGNATURE) | n u8 | n × pcr value
//! ```

use super::structures::Reader;
use super::TpmError;

const VERSION: u8 = 1;
/// Largest marshaled `TPMT_PUBLIC` accepted.
const MAX_PUBLIC: usize = 1024;
/// Largest EK certificate accepted.
pub(crate) const MAX_EK_CERT: usize = 8 * 1024;
/// Largest credential blob or encrypted seed (RSA-4096 ciphertext).
const MAX_BLOB: usize = 512;
/// Largest secret or nonce.
const MAX_NONCE: usize = 64;
/// Largest `TPMS_ATTEST`.
const MAX_ATTEST: usize = 1024;
/// Largest `TPMT_SIGNATURE`.
const MAX_SIGNATURE: usize = 600;
/// Most PCR values in a response (one bank of 24 PCRs).
pub(crate) const MAX_PCRS: usize = 24;

/// The agent's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub(crate) ek_public: Vec<u8>,
    pub(crate) ek_cert: Option<Vec<u8>>,
    pub(crate) ak_public: Vec<u8>,
}

/// The server's credential-activation challenge and quote request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) id_object: Vec<u8>,
    pub(crate) encrypted_secret: Vec<u8>,
    pub(crate) nonce: Vec<u8>,
    pub(crate) pcr_hash: u16,
    pub(crate) pcr_mask: u32,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) secret: Vec<u8>,
    pub(crate) attest: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) pcr_values: Vec<Vec<u8>>,
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    // Every field is bounded far below u16::MAX by the constructors' callers.
    out.extend_from_slice(&(field.len() as u16).to_be_bytes());
    out.extend_from_slice(field);
}

fn version(r: &mut Reader<'_>, what: &'static str) -> Result<(), TpmError> {
    match r.u8()? {
        VERSION => Ok(()),
        version => Err(TpmError::UnsupportedVersion { what, version }),
    }
}

// === impl Payload ===

impl Payload {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put(&mut out, &self.ek_public);
        put(&mut out, self.ek_cert.as_deref().unwrap_or_default());
        put(&mut out, &self.ak_public);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes, "payload");
        version(&mut r, "payload")?;
        let ek_public = r.sized("EK public", MAX_PUBLIC)?.to_vec();
        let ek_cert = r.sized("EK certificate", MAX_EK_CERT)?;
        let ak_public = r.sized("AK public", MAX_PUBLIC)?.to_vec();
        r.finish()?;
        Ok(Self {
            ek_public,
            ek_cert: (!ek_cert.is_empty()).then(|| ek_cert.to_vec()),
            ak_public,
        })
    }
}

// === impl Challenge ===

impl Challenge {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put(&mut out, &self.id_object);
        put(&mut out, &self.encrypted_secret);
        put(&mut out, &self.nonce);
        out.extend_from_slice(&self.pcr_hash.to_be_bytes());
        out.extend_from_slice(&self.pcr_mask.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes, "challenge");
        version(&mut r, "challenge")?;
        let id_object = r.sized("credential blob", MAX_BLOB)?.to_vec();
        let encrypted_secret = r.sized("encrypted secret", MAX_BLOB)?.to_vec();
        let nonce = r.sized("nonce", MAX_NONCE)?.to_vec();
        let pcr_hash = r.u16()?;
        let pcr_mask = r.u32()?;
        r.finish()?;
        Ok(Self {
            id_object,
            encrypted_secret,
            nonce,
            pcr_hash,
            pcr_mask,
        })
    }
}

// === impl Response ===

impl Response {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put(&mut out, &self.secret);
        put(&mut out, &self.attest);
        put(&mut out, &self.signature);
        out.push(self.pcr_values.len().min(MAX_PCRS) as u8);
        for value in self.pcr_values.iter().take(MAX_PCRS) {
            put(&mut out, value);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, TpmError> {
        let mut r = Reader::new(bytes, "response");
        version(&mut r, "response")?;
        let secret = r.sized("secret", MAX_NONCE)?.to_vec();
        let attest = r.sized("TPMS_ATTEST", MAX_ATTEST)?.to_vec();
        let signature = r.sized("TPMT_SIGNATURE", MAX_SIGNATURE)?.to_vec();
        let count = usize::from(r.u8()?);
        if count > MAX_PCRS {
            return Err(TpmError::TooLarge {
                what: "PCR values",
                len: count,
                max: MAX_PCRS,
            });
        }
        let mut pcr_values = Vec::with_capacity(count);
        for _ in 0..count {
            pcr_values.push(r.sized("PCR value", MAX_NONCE)?.to_vec());
        }
        r.finish()?;
        Ok(Self {
            secret,
            attest,
            signature,
            pcr_values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let p = Payload {
            ek_public: vec![1, 2],
            ek_cert: None,
            ak_public: vec![3],
        };
        assert_eq!(Payload::decode(&p.encode()).ok(), Some(p.clone()));
        let p = Payload {
            ek_cert: Some(vec![9; 300]),
            ..p
        };
        assert_eq!(Payload::decode(&p.encode()).ok(), Some(p));
        let c = Challenge {
            id_object: vec![1; 66],
            encrypted_secret: vec![2; 256],
            nonce: vec![3; 32],
            pcr_hash: 0x000b,
            pcr_mask: 0xff,
        };
        assert_eq!(Challenge::decode(&c.encode()).ok(), Some(c));
        let r = Response {
            secret: vec![1; 32],
            attest: vec![2; 100],
            signature: vec![3; 262],
            pcr_values: vec![vec![0; 32]; 8],
        };
        let bytes = r.encode();
        assert_eq!(Response::decode(&bytes).ok(), Some(r));
        // Trailing bytes, truncation and a foreign version are rejected.
        let mut long = bytes.clone();
        long.push(0);
        assert!(Response::decode(&long).is_err());
        assert!(Response::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut v2 = bytes;
        v2[0] = 2;
        assert!(matches!(
            Response::decode(&v2),
            Err(TpmError::UnsupportedVersion { version: 2, .. })
        ));
    }
}
