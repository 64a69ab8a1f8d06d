use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::alg::RSA_ALGS;
use super::{JwkError, JwtAlg};
use crate::json::JsonObject;
use crate::x509::PublicKeyAlgorithm;

/// Private-key members of EC and RSA JWKs (RFC 7518 §6.2.2, §6.3.2).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// One JWT-SVID signing key of a trust domain, parsed from a JWK (RFC 7517, RFC 7518 §6).
///
/// EC keys on P-256, P-384 and P-521 (`kty: EC`, checked coordinate lengths, point on the
/// curve) and RSA keys of 2048 to 8192 bits (`kty: RSA`, minimal `n` and `e`) are supported.
/// The key is pre-parsed for aws-lc-rs when the JWK is read, so each verification only checks
/// the signature. An RSA key serves RS256/384/512 and PS256/384/512; if the JWK has an `alg`
/// member the key is bound to that algorithm alone.
///
/// Every member of the JWK is kept, so [`to_jwk`](Self::to_jwk) gives back exactly what was
/// parsed. Cloning is cheap (the parsed key is shared).
///
/// ```
/// use spiffe_core::json::JsonObject;
/// use spiffe_core::jwt::JwtAuthority;
/// use spiffe_core::x509::PublicKeyAlgorithm;
/// let jwk = JsonObject::from_json(br#"{
///     "kty": "EC", "kid": "k1", "crv": "P-256",
///     "x": "ngLYQnlfF6GsojUwqtcEE3WgTNG2RUlsGhK73RNEl5k",
///     "y": "tKbiDSUSsQ3F1P7wteeHNXIcU-cx6CgSbroeQrQHTLM"
/// }"#)?;
/// let authority = JwtAuthority::from_jwk(&jwk)?;
/// assert_eq!(authority.kid(), "k1");
/// assert_eq!(authority.public_key_algorithm(), PublicKeyAlgorithm::EcP256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtAuthority {
    kid: String,
    jwk: JsonObject,
    key: Arc<PublicKey>,
}

/// The pre-parsed public key of an authority.
struct PublicKey {
    algorithm: PublicKeyAlgorithm,
    /// The only algorithm allowed, when the JWK names one in `alg`.
    bound_alg: Option<JwtAlg>,
    /// One key for ES*, six (in [`RSA_ALGS`] order) for RSA.
    parsed: Vec<ParsedPublicKey>,
}

// === impl JwtAuthority ===

impl JwtAuthority {
    /// Parses a JWK object.
    ///
    /// `kty` is checked first, so that a JWK of an unknown type gives
    /// [`JwkError::UnsupportedKeyType`] (which bundle consumers ignore, BUNDLE-12) even when it
    /// also lacks a `kid`. `use` is not looked at: selecting by `use` is the bundle document's
    /// job (JWT-17), and plain JWKS from the Workload API have none.
    pub fn from_jwk(jwk: &JsonObject) -> Result<Self, JwkError> {
        Self::from_jwk_map(jwk.as_map())
    }

    /// [`from_jwk`](Self::from_jwk) of a JWK this crate read itself.
    pub(crate) fn from_jwk_map(jwk: &Map<String, Value>) -> Result<Self, JwkError> {
        let kty = match jwk.get("kty") {
            None => return Err(JwkError::MissingKeyType), // BUNDLE-12
            Some(Value::String(kty)) => kty.as_str(),
            Some(_) => return Err(JwkError::MalformedMember { member: "kty" }),
        };
        if kty != "EC" && kty != "RSA" {
            return Err(JwkError::UnsupportedKeyType); // BUNDLE-12
        }
        let kid = match jwk.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
            Some(Value::String(_)) | None => return Err(JwkError::MissingKid), // JWT-16
            Some(_) => return Err(JwkError::MalformedMember { member: "kid" }),
        };
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(JwkError::PrivateKeyMaterial { member });
        }
        let bound_alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(alg)) => {
                Some(JwtAlg::from_name(alg).ok_or(JwkError::AlgorithmMismatch)?)
            }
            Some(_) => return Err(JwkError::MalformedMember { member: "alg" }),
        };

        let key = match kty {
            "EC" => parse_ec(jwk)?,
            _ => parse_rsa(jwk)?,
        };
        if let Some(alg) = bound_alg {
            if !alg.fits(key.0) {
                return Err(JwkError::AlgorithmMismatch); // JWT-13
            }
        }
        Ok(Self {
            kid,
            jwk: JsonObject::from_map(jwk.clone()),
            key: Arc::new(PublicKey {
                algorithm: key.0,
                bound_alg,
                parsed: key.1,
            }),
        })
    }

    /// The key id (JWT-16).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK, with every member it was parsed from.
    pub fn to_jwk(&self) -> JsonObject {
        self.jwk.clone()
    }

    /// The JWK as parsed, without copying.
    pub fn jwk(&self) -> &JsonObject {
        &self.jwk
    }

    /// The key's algorithm (curve, or RSA and its modulus size).
    pub fn public_key_algorithm(&self) -> PublicKeyAlgorithm {
        self.key.algorithm
    }

    /// The algorithm the JWK's own `alg` member binds the key to, if any.
    pub fn bound_alg(&self) -> Option<JwtAlg> {
        self.key.bound_alg
    }

    /// Whether this key may verify `alg` (JWT-13).
    pub fn supports(&self, alg: JwtAlg) -> bool {
        self.verifier(alg).is_some()
    }

    /// The pre-parsed key for `alg`, or `None` when the key cannot verify it (JWT-13).
    pub(super) fn verifier(&self, alg: JwtAlg) -> Option<&ParsedPublicKey> {
        let key = &*self.key;
        if key.bound_alg.is_some_and(|bound| bound != alg) || !alg.fits(key.algorithm) {
            return None;
        }
        match key.algorithm {
            PublicKeyAlgorithm::Rsa { .. } => key.parsed.get(alg.rsa_index()?),
            _ => key.parsed.first(),
        }
    }
}

impl fmt::Debug for JwtAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthority")
            .field("kid", &self.kid)
            .field("algorithm", &self.key.algorithm)
            .field("bound_alg", &self.key.bound_alg)
            .finish_non_exhaustive()
    }
}

impl PartialEq for JwtAuthority {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.jwk == other.jwk
    }
}

impl Eq for JwtAuthority {}

fn parse_ec(
    jwk: &Map<String, Value>,
) -> Result<(PublicKeyAlgorithm, Vec<ParsedPublicKey>), JwkError> {
    let (algorithm, alg, len) = match jwk.get("crv") {
        None => return Err(JwkError::MissingMember { member: "crv" }),
        Some(Value::String(crv)) => match crv.as_str() {
            "P-256" => (PublicKeyAlgorithm::EcP256, JwtAlg::Es256, 32),
            "P-384" => (PublicKeyAlgorithm::EcP384, JwtAlg::Es384, 48),
            "P-521" => (PublicKeyAlgorithm::EcP521, JwtAlg::Es512, 66),
            _ => return Err(JwkError::UnsupportedCurve),
        },
        Some(_) => return Err(JwkError::MalformedMember { member: "crv" }),
    };
    // RFC 7518 §6.2.1.2/3: each coordinate is exactly the curve's field size, zero-padded.
    let x = base64url_member(jwk, "x")?;
    let y = base64url_member(jwk, "y")?;
    for (member, bytes) in [("x", &x), ("y", &y)] {
        if bytes.len() != len {
            return Err(JwkError::CoordinateLength {
                member,
                expected: len,
                actual: bytes.len(),
            });
        }
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04); // SEC1 uncompressed point
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let ecdsa = alg.ecdsa().ok_or(JwkError::InvalidKey)?;
    // aws-lc-rs checks that the point is on the curve.
    let parsed = ParsedPublicKey::new(ecdsa, &point).map_err(|_| JwkError::InvalidKey)?;
    Ok((algorithm, vec![parsed]))
}

fn parse_rsa(
    jwk: &Map<String, Value>,
) -> Result<(PublicKeyAlgorithm, Vec<ParsedPublicKey>), JwkError> {
    let n = base64url_member(jwk, "n")?;
    let e = base64url_member(jwk, "e")?;
    // RFC 7518 §6.3.1: Base64urlUInt is the minimal big-endian encoding.
    for (member, bytes) in [("n", &n), ("e", &e)] {
        if bytes.first().is_none_or(|b| *b == 0) {
            return Err(JwkError::NonMinimalInteger { member });
        }
    }
    let modulus_bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if !(2048..=8192).contains(&modulus_bits) {
        return Err(JwkError::RsaModulusSize { bits: modulus_bits });
    }
    // As BoringSSL/AWS-LC require at verification: odd n; odd e of 2..=33 bits (so e >= 3).
    let e_bits = e.len() * 8 - e[0].leading_zeros() as usize;
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    if !odd(&n) || !odd(&e) || !(2..=33).contains(&e_bits) {
        return Err(JwkError::InvalidKey);
    }
    let components = RsaPublicKeyComponents { n: &n, e: &e };
    let parsed = RSA_ALGS
        .iter()
        .map(|(_, params)| components.to_parsed_public_key(params))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| JwkError::InvalidKey)?;
    // At most 8192 bits, checked above.
    let bits =
        u32::try_from(modulus_bits).map_err(|_| JwkError::RsaModulusSize { bits: modulus_bits })?;
    Ok((PublicKeyAlgorithm::Rsa { bits }, parsed))
}

fn base64url_member(jwk: &Map<String, Value>, member: &'static str) -> Result<Vec<u8>, JwkError> {
    match jwk.get(member) {
        None => Err(JwkError::MissingMember { member }),
        Some(Value::String(s)) => URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| JwkError::MalformedMember { member }),
        Some(_) => Err(JwkError::MalformedMember { member }),
    }
}
