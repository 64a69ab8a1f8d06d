//! Keys, JWKs and token assembly for the JWT-SVID vectors.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{hmac, signature::RsaEncoding};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub(crate) const NOW: i64 = 1_700_000_000;
/// 2100-01-01T00:00:00Z.
pub(crate) const FAR: i64 = 4_102_444_800;

pub(crate) struct Keys {
    pub(crate) ec256: EcdsaKeyPair,
    pub(crate) ec384: EcdsaKeyPair,
    pub(crate) ec521: EcdsaKeyPair,
    pub(crate) rsa: RsaKeyPair,
    pub(crate) b_ec256: EcdsaKeyPair,
    pub(crate) ed25519: Ed25519KeyPair,
}

pub(crate) enum Sig<'a> {
    Ec(&'a EcdsaKeyPair),
    Rsa(&'static dyn RsaEncoding),
    Hmac(&'a [u8]),
    Ed25519,
    Empty,
}

pub(crate) fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn token(keys: &Keys, header: &str, claims: &str, sig: Sig<'_>) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let rng = SystemRandom::new();
    let signature = match sig {
        Sig::Ec(key) => key.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Sig::Rsa(encoding) => {
            let mut out = vec![0; keys.rsa.public_modulus_len()];
            keys.rsa
                .sign(encoding, &rng, input.as_bytes(), &mut out)
                .unwrap();
            out
        }
        Sig::Hmac(key) => {
            let key = hmac::Key::new(hmac::HMAC_SHA256, key);
            hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Sig::Ed25519 => keys.ed25519.sign(input.as_bytes()).as_ref().to_vec(),
        Sig::Empty => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

pub(crate) fn ec_jwk(kid: &str, crv: &str, key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    let len = (point.len() - 1) / 2;
    json!({
        "kty": "EC", "kid": kid, "crv": crv,
        "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
    })
}

/// Reads `n` and `e` from a PKCS#1 RSAPublicKey DER (RFC 8017 A.1.1).
pub(crate) fn rsa_jwk(kid: &str, key: &RsaKeyPair) -> Value {
    let der = key.public_key().as_ref();
    fn read_tlv(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, hdr) = match der[1] {
            l if l < 0x80 => (l as usize, 2),
            0x81 => (der[2] as usize, 3),
            0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
            _ => panic!("unexpected DER length"),
        };
        (&der[hdr..hdr + len], &der[hdr + len..])
    }
    let (seq, _) = read_tlv(der);
    let (n, rest) = read_tlv(seq);
    let (e, _) = read_tlv(rest);
    let strip = |v: &[u8]| {
        v.iter()
            .position(|b| *b != 0)
            .map_or(vec![0], |i| v[i..].to_vec())
    };
    json!({ "kty": "RSA", "kid": kid, "n": b64(&strip(n)), "e": b64(&strip(e)) })
}

pub(crate) fn claims(sub: &str, aud: &str, extra: &str) -> String {
    format!(
        r#"{{"sub":"{sub}","aud":{aud},"exp":{FAR},"iat":{}{extra}}}"#,
        NOW - 60
    )
}
