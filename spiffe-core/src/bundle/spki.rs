//! The JWK public-key members (`kty`, `crv`, `x`, `y`, `n`, `e`) of an X.509 authority.
//!
//! A SPIFFE bundle's x509-svid entry is a JWK, so it carries `kty` (BUNDLE-12) and, for
//! consumers whose JOSE library insists on it (go-jose), the key itself. The certificate has
//! already been parsed once by [`Certificate`]; this module only re-encodes the key it found
//! there (`public_key_algorithm()` and the subjectPublicKey bits), reading the PKCS#1 `RSAPublicKey` and, for key
//! types the verifier does not use, the SPKI algorithm OID with the crate's DER reader.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::der::{tag, Reader};
use crate::x509::PublicKeyAlgorithm;
use crate::Certificate;

/// rsaEncryption (RFC 8017) and id-Ed448 (RFC 8410).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];

/// The JWK members describing the public key of `certificate`, or `None` for a key type JWK
/// has no parameters for here (or a key whose encoding does not fit its type).
pub(crate) fn jwk_key_members(certificate: &Certificate) -> Option<Map<String, Value>> {
    let key = certificate.key_bits();
    match certificate.public_key_algorithm() {
        PublicKeyAlgorithm::EcP256 => ec_members("P-256", 32, key),
        PublicKeyAlgorithm::EcP384 => ec_members("P-384", 48, key),
        PublicKeyAlgorithm::EcP521 => ec_members("P-521", 66, key),
        PublicKeyAlgorithm::Rsa { .. } => rsa_members(key),
        PublicKeyAlgorithm::Ed25519 => Some(okp_members("Ed25519", key)),
        // Keys the verifier never uses, but a JWK can still describe: rsaEncryption without
        // its NULL parameters, and Ed448.
        _ => match spki_algorithm_oid(certificate.subject_public_key_info())? {
            OID_RSA => rsa_members(key),
            OID_ED448 => Some(okp_members("Ed448", key)),
            _ => None,
        },
    }
}

/// `kty` EC: an uncompressed point (0x04 || x || y) with coordinates of `size` bytes.
fn ec_members(crv: &str, size: usize, key: &[u8]) -> Option<Map<String, Value>> {
    let point = key.strip_prefix(&[0x04])?;
    if point.len() != 2 * size {
        return None;
    }
    let (x, y) = point.split_at(size);
    let mut jwk = Map::new();
    jwk.insert("kty".into(), "EC".into());
    jwk.insert("crv".into(), crv.into());
    jwk.insert("x".into(), URL_SAFE_NO_PAD.encode(x).into());
    jwk.insert("y".into(), URL_SAFE_NO_PAD.encode(y).into());
    Some(jwk)
}

/// `kty` RSA from `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_members(key: &[u8]) -> Option<Map<String, Value>> {
    let mut rsa = Reader::new(crate::der::read_single(key, tag::SEQUENCE).ok()?);
    let n = rsa.read(tag::INTEGER).ok()?;
    let e = rsa.read(tag::INTEGER).ok()?;
    let mut jwk = Map::new();
    jwk.insert("kty".into(), "RSA".into());
    jwk.insert("n".into(), URL_SAFE_NO_PAD.encode(unsigned(n)).into());
    jwk.insert("e".into(), URL_SAFE_NO_PAD.encode(unsigned(e)).into());
    Some(jwk)
}

/// `kty` OKP (RFC 8037): the raw public key.
fn okp_members(crv: &str, key: &[u8]) -> Map<String, Value> {
    let mut jwk = Map::new();
    jwk.insert("kty".into(), "OKP".into());
    jwk.insert("crv".into(), crv.into());
    jwk.insert("x".into(), URL_SAFE_NO_PAD.encode(key).into());
    jwk
}

/// The algorithm OID of a DER `SubjectPublicKeyInfo`.
fn spki_algorithm_oid(spki: &[u8]) -> Option<&[u8]> {
    let mut spki = Reader::new(crate::der::read_single(spki, tag::SEQUENCE).ok()?);
    let mut algorithm = Reader::new(spki.read(tag::SEQUENCE).ok()?);
    algorithm.read(tag::OID).ok()
}

/// A DER INTEGER's content without the sign-padding zero bytes (RFC 7518 §6.3.1: minimal).
fn unsigned(integer: &[u8]) -> &[u8] {
    let leading = integer.iter().take_while(|b| **b == 0).count();
    &integer[leading.min(integer.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::parse_certificates;

    fn members(pem: &[u8]) -> Option<Map<String, Value>> {
        jwk_key_members(&parse_certificates(pem).expect("test certificate")[0])
    }

    /// `full.json`'s x509-svid entries were written by the bundle generator from the keys
    /// themselves (aws-lc's encoding), independently of this module.
    #[test]
    fn ec_and_rsa_keys_match_the_generated_bundle() {
        use base64::engine::general_purpose::STANDARD;
        let full: Value =
            serde_json::from_slice(include_bytes!("../../tests/data/bundle/full.json"))
                .expect("full.json");
        let mut seen = Vec::new();
        for jwk in full["keys"].as_array().expect("keys").iter() {
            let Some(Value::Object(jwk)) = (jwk["use"] == "x509-svid").then_some(jwk) else {
                continue;
            };
            let x5c = jwk["x5c"][0].as_str().expect("x5c");
            let der = STANDARD.decode(x5c).expect("base64");
            let cert = Certificate::from_der(der.into()).expect("certificate");
            let mut want = jwk.clone();
            want.remove("use");
            want.remove("x5c");
            assert_eq!(jwk_key_members(&cert), Some(want));
            seen.push(jwk["kty"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(seen, ["EC", "EC", "RSA"]);
    }

    #[test]
    fn okp_and_p521_keys() {
        let ed = members(include_bytes!("../../tests/data/x509/root-alg-ed25519.pem"))
            .expect("Ed25519 members");
        assert_eq!(ed["kty"], "OKP");
        assert_eq!(ed["crv"], "Ed25519");
        assert_eq!(ed["x"].as_str().map(str::len), Some(43)); // 32 bytes, base64url
        let p521 = members(include_bytes!("../../tests/data/x509/root-alg-p521.pem"))
            .expect("P-521 members");
        assert_eq!(p521["crv"], "P-521");
        assert_eq!(p521["x"].as_str().map(str::len), Some(88)); // 66 bytes
    }

    #[test]
    fn foreign_algorithm_oids() {
        let spki = [
            0x30, 0x0a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x01, 0x00,
        ];
        assert_eq!(spki_algorithm_oid(&spki), Some(OID_ED448));
        assert_eq!(spki_algorithm_oid(b""), None);
        assert_eq!(
            spki_algorithm_oid(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }

    #[test]
    fn malformed_keys_give_none() {
        assert_eq!(ec_members("P-256", 32, &[0x04; 64]), None);
        assert_eq!(ec_members("P-256", 32, &[0x02; 33]), None);
        assert_eq!(rsa_members(b"\x30\x05abc"), None);
        assert_eq!(rsa_members(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
    }

    #[test]
    fn strips_sign_padding_only() {
        assert_eq!(unsigned(&[0x00, 0x80, 0x01]), &[0x80, 0x01]);
        assert_eq!(unsigned(&[0x01, 0x00, 0x01]), &[0x01, 0x00, 0x01]);
        assert_eq!(unsigned(&[0x00]), &[0x00]);
    }
}
