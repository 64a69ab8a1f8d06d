//! Setup helpers shared by the bench files: key generation, JWK encoding, token minting and a
//! minimal DER walk. Nothing here is measured.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod svid;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The trust domain every bench uses.
pub(crate) const TRUST_DOMAIN: &str = "example.org";
/// The SPIFFE ID of the workload whose SVIDs are measured.
pub(crate) const WORKLOAD_ID: &str = "spiffe://example.org/ns/prod/sa/web";
/// The audience tokens are minted for and validated against.
pub(crate) const AUDIENCE: &str = "spiffe://example.org/ns/prod/sa/api";

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Reads one DER TLV with a definite length: `(content, whole TLV, rest)`.
pub(crate) fn tlv(der: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (len, hdr) = match der[1] {
        l if l < 0x80 => (usize::from(l), 2),
        0x81 => (usize::from(der[2]), 3),
        0x82 => ((usize::from(der[2]) << 8) | usize::from(der[3]), 4),
        _ => panic!("unexpected DER length"),
    };
    (&der[hdr..hdr + len], &der[..hdr + len], &der[hdr + len..])
}

/// A certificate's signed bytes (the whole TBSCertificate TLV) and its signature value (the
/// BIT STRING content without the unused-bits octet).
pub(crate) fn tbs_and_signature(cert: &[u8]) -> (&[u8], &[u8]) {
    let (body, _, _) = tlv(cert);
    let (_, tbs, rest) = tlv(body);
    let (_, _, rest) = tlv(rest); // signatureAlgorithm
    let (bits, _, _) = tlv(rest);
    (tbs, &bits[1..])
}

/// An EC JWK (RFC 7518 §6.2) for an uncompressed public point.
pub(crate) fn ec_jwk(kid: &str, crv: &str, key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    let len = (point.len() - 1) / 2;
    json!({
        "kty": "EC", "kid": kid, "crv": crv,
        "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
    })
}

/// An RSA JWK (RFC 7518 §6.3), `n` and `e` read from the PKCS#1 RSAPublicKey DER.
pub(crate) fn rsa_jwk(kid: &str, key: &RsaKeyPair) -> Value {
    let (seq, _, _) = tlv(key.public_key().as_ref());
    let (n, _, rest) = tlv(seq);
    let (e, _, _) = tlv(rest);
    let strip = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1);
        v[start..].to_vec()
    };
    json!({ "kty": "RSA", "kid": kid, "n": b64(&strip(n)), "e": b64(&strip(e)) })
}

/// How to sign a minted token.
pub(crate) enum Signer<'a> {
    /// ES256: fixed-width `r || s`.
    Es256(&'a EcdsaKeyPair),
    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(&'a RsaKeyPair),
}

/// Mints a JWT-SVID for [`WORKLOAD_ID`] and [`AUDIENCE`] that expires in an hour (the
/// `spiffe` crate reads the system clock, so fixed times would not do). Returns the token,
/// its signing input and its raw signature.
pub(crate) fn mint(kid: &str, signer: Signer<'_>) -> (String, Vec<u8>, Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let alg = match signer {
        Signer::Es256(_) => "ES256",
        Signer::Rs256(_) => "RS256",
    };
    let header = format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#);
    let claims = format!(
        r#"{{"sub":"{WORKLOAD_ID}","aud":["{AUDIENCE}"],"exp":{},"iat":{now}}}"#,
        now + 3600
    );
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let rng = SystemRandom::new();
    let sig = match signer {
        Signer::Es256(key) => key.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Rs256(key) => {
            let mut out = vec![0; key.public_modulus_len()];
            key.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut out,
            )
            .unwrap();
            out
        }
    };
    let token = format!("{input}.{}", b64(&sig));
    (token, input.into_bytes(), sig)
}

/// A fresh P-256 signing key.
pub(crate) fn p256_key() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
}
