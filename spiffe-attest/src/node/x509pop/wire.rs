//! The x509pop messages, in SPIRE's JSON encoding (byte strings as standard base64):
//!
//! - payload: `{"certificates": ["<DER>", ...]}`, leaf first;
//! - challenge: `{"rsa_signature": {"nonce": ..}}` or `{"ecdsa_signature": {"nonce": ..}}`;
//! - response: `{"rsa_signature": {"nonce": .., "signature": ..}}` or
//!   `{"ecdsa_signature": {"nonce": .., "r": .., "s": ..}}`.
//!
//! The proof is a signature over `SHA-256(server nonce ‖ agent nonce)` (both 32 bytes),
//! RSA-PSS with SHA-256, or ECDSA with `r` and `s` as unsigned big-endian integers.
//! Every message is size-checked before parsing, and every field is bounded after.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::X509PopError;
use crate::node::MAX_MESSAGE_LEN;

/// Length of each nonce, in bytes.
pub(crate) const NONCE_LEN: usize = 32;
/// Most certificates accepted in a payload (leaf and intermediates).
pub const MAX_CHAIN_LEN: usize = 16;
/// Longest ECDSA `r` or `s` accepted (P-521 would need 66 bytes; we verify P-256 and P-384).
const MAX_SCALAR_LEN: usize = 66;
/// Longest RSA signature accepted (8192-bit keys).
const MAX_RSA_SIGNATURE_LEN: usize = 1024;

/// A byte string carried as standard base64 text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Go encodes a nil byte slice as `null`.
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match text {
            None => Ok(Self(Vec::new())),
            Some(text) => STANDARD
                .decode(text.as_bytes())
                .map(Self)
                .map_err(|_| serde::de::Error::custom("invalid base64")),
        }
    }
}

/// The attestation payload.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AttestationData {
    /// Go encodes a nil slice as `null`.
    #[serde(default)]
    pub(crate) certificates: Option<Vec<Bytes>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct NonceOnly {
    #[serde(default)]
    pub(crate) nonce: Bytes,
}

/// The server's challenge: exactly one of the two members is present.
#[derive(Debug, Serialize, Deserialize, Default)]
pub(crate) struct Challenge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rsa_signature: Option<NonceOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ecdsa_signature: Option<NonceOnly>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RsaSignatureResponse {
    #[serde(default)]
    pub(crate) nonce: Bytes,
    #[serde(default)]
    pub(crate) signature: Bytes,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EcdsaSignatureResponse {
    #[serde(default)]
    pub(crate) nonce: Bytes,
    #[serde(default)]
    pub(crate) r: Bytes,
    #[serde(default)]
    pub(crate) s: Bytes,
}

/// The agent's answer: exactly one of the two members is present.
#[derive(Debug, Serialize, Deserialize, Default)]
pub(crate) struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rsa_signature: Option<RsaSignatureResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ecdsa_signature: Option<EcdsaSignatureResponse>,
}

/// Which kind of proof a challenge asks for, with its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeKind {
    Rsa([u8; NONCE_LEN]),
    Ecdsa([u8; NONCE_LEN]),
}

/// A parsed, bounded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    Rsa {
        nonce: [u8; NONCE_LEN],
        signature: Vec<u8>,
    },
    Ecdsa {
        nonce: [u8; NONCE_LEN],
        r: Vec<u8>,
        s: Vec<u8>,
    },
}

fn check_len(what: &'static str, message: &[u8]) -> Result<(), X509PopError> {
    if message.len() > MAX_MESSAGE_LEN {
        return Err(X509PopError::TooLarge {
            what,
            len: message.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(())
}

fn nonce(bytes: &Bytes, what: &'static str) -> Result<[u8; NONCE_LEN], X509PopError> {
    bytes
        .0
        .as_slice()
        .try_into()
        .map_err(|_| X509PopError::BadNonce { what })
}

/// Parses an x509pop payload (SPIRE's JSON, at most [`MAX_MESSAGE_LEN`] bytes and
/// [`MAX_CHAIN_LEN`] certificates) into its DER certificates, leaf first. The certificates
/// themselves are not parsed here.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<CertificateDer<'static>>, X509PopError> {
    check_len("payload", payload)?;
    let data: AttestationData = serde_json::from_slice(payload)
        .map_err(|_| X509PopError::MalformedMessage { what: "payload" })?;
    let certificates = data.certificates.unwrap_or_default();
    if certificates.is_empty() {
        return Err(X509PopError::NoCertificates);
    }
    if certificates.len() > MAX_CHAIN_LEN {
        return Err(X509PopError::ChainTooLong {
            len: certificates.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    Ok(certificates
        .into_iter()
        .map(|b| CertificateDer::from(b.0))
        .collect())
}

/// Encodes a payload.
pub(crate) fn encode_payload(certificates: &[&[u8]]) -> Vec<u8> {
    let data = AttestationData {
        certificates: Some(certificates.iter().map(|c| Bytes(c.to_vec())).collect()),
    };
    serde_json::to_vec(&data).expect("serializing byte strings cannot fail")
}

/// Encodes a challenge.
pub(crate) fn encode_challenge(kind: ChallengeKind) -> Vec<u8> {
    let mut challenge = Challenge::default();
    match kind {
        ChallengeKind::Rsa(n) => {
            challenge.rsa_signature = Some(NonceOnly {
                nonce: Bytes(n.to_vec()),
            })
        }
        ChallengeKind::Ecdsa(n) => {
            challenge.ecdsa_signature = Some(NonceOnly {
                nonce: Bytes(n.to_vec()),
            })
        }
    }
    serde_json::to_vec(&challenge).expect("serializing byte strings cannot fail")
}

/// Parses a challenge (agent side).
pub(crate) fn parse_challenge(message: &[u8]) -> Result<ChallengeKind, X509PopError> {
    check_len("challenge", message)?;
    let challenge: Challenge = serde_json::from_slice(message)
        .map_err(|_| X509PopError::MalformedMessage { what: "challenge" })?;
    match (challenge.rsa_signature, challenge.ecdsa_signature) {
        (Some(rsa), None) => Ok(ChallengeKind::Rsa(nonce(&rsa.nonce, "challenge")?)),
        (None, Some(ec)) => Ok(ChallengeKind::Ecdsa(nonce(&ec.nonce, "challenge")?)),
        _ => Err(X509PopError::MalformedMessage { what: "challenge" }),
    }
}

/// Checks the encoding of an x509pop challenge response (SPIRE's JSON: exactly one of
/// `rsa_signature` or `ecdsa_signature`, a 32-byte nonce, bounded signature fields) without
/// verifying it. The server runs the same parser before verifying.
pub fn parse_response(message: &[u8]) -> Result<(), X509PopError> {
    parse_proof(message).map(|_| ())
}

pub(crate) fn parse_proof(message: &[u8]) -> Result<Proof, X509PopError> {
    check_len("challenge response", message)?;
    let response: Response =
        serde_json::from_slice(message).map_err(|_| X509PopError::MalformedMessage {
            what: "challenge response",
        })?;
    match (response.rsa_signature, response.ecdsa_signature) {
        (Some(rsa), None) => {
            if rsa.signature.0.is_empty() || rsa.signature.0.len() > MAX_RSA_SIGNATURE_LEN {
                return Err(X509PopError::BadSignatureEncoding);
            }
            Ok(Proof::Rsa {
                nonce: nonce(&rsa.nonce, "challenge response")?,
                signature: rsa.signature.0,
            })
        }
        (None, Some(ec)) => {
            let bounded = |v: &Bytes| !v.0.is_empty() && v.0.len() <= MAX_SCALAR_LEN;
            if !bounded(&ec.r) || !bounded(&ec.s) {
                return Err(X509PopError::BadSignatureEncoding);
            }
            Ok(Proof::Ecdsa {
                nonce: nonce(&ec.nonce, "challenge response")?,
                r: ec.r.0,
                s: ec.s.0,
            })
        }
        _ => Err(X509PopError::MalformedMessage {
            what: "challenge response",
        }),
    }
}

/// Encodes a response (agent side).
pub(crate) fn encode_proof(proof: &Proof) -> Vec<u8> {
    let mut response = Response::default();
    match proof {
        Proof::Rsa { nonce, signature } => {
            response.rsa_signature = Some(RsaSignatureResponse {
                nonce: Bytes(nonce.to_vec()),
                signature: Bytes(signature.clone()),
            })
        }
        Proof::Ecdsa { nonce, r, s } => {
            response.ecdsa_signature = Some(EcdsaSignatureResponse {
                nonce: Bytes(nonce.to_vec()),
                r: Bytes(r.clone()),
                s: Bytes(s.clone()),
            })
        }
    }
    serde_json::to_vec(&response).expect("serializing byte strings cannot fail")
}

/// The signed digest: `SHA-256(server nonce ‖ agent nonce)`.
pub(crate) fn combined_digest(
    server: &[u8; NONCE_LEN],
    agent: &[u8; NONCE_LEN],
) -> aws_lc_rs::digest::Digest {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(server);
    ctx.update(agent);
    ctx.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_go_shapes() {
        let encoded = encode_payload(&[b"abc", b"\x00\xff"]);
        assert_eq!(
            std::str::from_utf8(&encoded).unwrap(),
            r#"{"certificates":["YWJj","AP8="]}"#
        );
        let parsed = parse_payload(&encoded).unwrap();
        assert_eq!(parsed[0].as_ref(), b"abc");
        assert_eq!(parsed[1].as_ref(), &[0, 0xff]);
        assert_eq!(
            parse_payload(br#"{"certificates":null}"#).unwrap_err(),
            X509PopError::NoCertificates
        );
        assert!(matches!(
            parse_payload(br#"{"certificates":["***"]}"#),
            Err(X509PopError::MalformedMessage { .. })
        ));
        let many = format!(
            r#"{{"certificates":[{}]}}"#,
            vec![r#""AA==""#; 17].join(",")
        );
        assert!(matches!(
            parse_payload(many.as_bytes()),
            Err(X509PopError::ChainTooLong { len: 17, .. })
        ));
    }

    #[test]
    fn challenge_and_response_shapes() {
        let c = encode_challenge(ChallengeKind::Ecdsa([7; 32]));
        assert!(std::str::from_utf8(&c)
            .unwrap()
            .starts_with(r#"{"ecdsa_signature":{"nonce":""#));
        assert_eq!(parse_challenge(&c).unwrap(), ChallengeKind::Ecdsa([7; 32]));
        assert!(parse_challenge(br#"{"rsa_signature":{"nonce":"AA=="}}"#).is_err());
        assert!(parse_challenge(br#"{}"#).is_err());

        let proof = Proof::Ecdsa {
            nonce: [1; 32],
            r: vec![1, 2],
            s: vec![3],
        };
        assert_eq!(parse_proof(&encode_proof(&proof)).unwrap(), proof);
        let both = br#"{"rsa_signature":{"nonce":"","signature":""},"ecdsa_signature":{"nonce":"","r":"","s":""}}"#;
        assert!(parse_proof(both).is_err());
        assert!(matches!(
            parse_proof(&vec![b' '; MAX_MESSAGE_LEN + 1]),
            Err(X509PopError::TooLarge { .. })
        ));
    }
}
