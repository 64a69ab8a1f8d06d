//! JWK parsing into `JwtAuthority` and plain JWKS parsing into `JwtBundle`.
#![allow(clippy::unwrap_used, missing_docs)]

mod jwt_common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_common::load_vectors;
use serde_json::{json, Map, Value};
use spiffe_core::json::JsonObject;
use spiffe_core::jwt::{
    JwkError, JwtAlg, JwtAuthority, JwtBundleError, JwtSvid, JwtSvidError, JwtValidationOptions,
};
use spiffe_core::x509::PublicKeyAlgorithm;
use spiffe_core::{JwtBundle, TrustDomain};

/// A `serde_json` object as our `JsonObject`.
fn object(map: &Map<String, Value>) -> JsonObject {
    JsonObject::from_json(&serde_json::to_vec(map).unwrap()).unwrap()
}

/// `JwtAuthority::from_jwk` of a `serde_json` object.
fn from_map(jwk: &Map<String, Value>) -> Result<JwtAuthority, JwkError> {
    JwtAuthority::from_jwk(&object(jwk))
}

/// The JWK `kid` of the generated `td` bundle.
fn jwk(kid: &str) -> Map<String, Value> {
    let vectors = load_vectors();
    let doc: Value = serde_json::from_slice(&vectors.jwks["td"]).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn with(mut jwk: Map<String, Value>, member: &str, value: Value) -> Map<String, Value> {
    jwk.insert(member.to_owned(), value);
    jwk
}

fn without(mut jwk: Map<String, Value>, member: &str) -> Map<String, Value> {
    jwk.remove(member);
    jwk
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

fn member_bytes(jwk: &Map<String, Value>, member: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwk[member].as_str().unwrap())
        .unwrap()
}

#[test]
fn key_types_and_round_trip() {
    for (kid, key_type) in [
        ("ec256", PublicKeyAlgorithm::EcP256),
        ("ec384", PublicKeyAlgorithm::EcP384),
        ("ec521", PublicKeyAlgorithm::EcP521),
        ("rsa", PublicKeyAlgorithm::Rsa { bits: 2048 }),
    ] {
        let jwk = jwk(kid);
        let authority = from_map(&jwk).unwrap();
        assert_eq!(authority.kid(), kid);
        assert_eq!(authority.public_key_algorithm(), key_type);
        assert_eq!(authority.to_jwk(), object(&jwk));
        assert_eq!(authority.bound_alg(), None);
    }
    let rsa = from_map(&jwk("rsa")).unwrap();
    for alg in JwtAlg::ALL {
        assert_eq!(
            rsa.supports(alg),
            alg.name().starts_with(['R', 'P']),
            "{alg}"
        );
    }
    let ec = from_map(&jwk("ec521")).unwrap();
    for alg in JwtAlg::ALL {
        assert_eq!(ec.supports(alg), alg == JwtAlg::Es512, "{alg}");
    }
}

#[test]
fn unknown_members_are_kept() {
    let jwk = with(jwk("ec256"), "use", json!("jwt-svid"));
    let jwk = with(jwk, "x-extra", json!({"a": [1, 2]}));
    assert_eq!(from_map(&jwk).unwrap().to_jwk(), object(&jwk));
}

#[test]
fn kty_checked_first() {
    assert_eq!(
        from_map(&without(jwk("ec256"), "kty")).unwrap_err(),
        JwkError::MissingKeyType
    );
    // Unknown kty without kid: still "unsupported", so a bundle consumer ignores it.
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"});
    let err = from_map(okp.as_object().unwrap()).unwrap_err();
    assert_eq!(err, JwkError::UnsupportedKeyType);
    assert!(err.is_unsupported());
    for kty in ["oct", "ec", "rsa", ""] {
        let err = from_map(&with(jwk("ec256"), "kty", json!(kty))).unwrap_err();
        assert_eq!(err, JwkError::UnsupportedKeyType, "{kty}");
    }
    let err = from_map(&with(jwk("ec256"), "kty", json!(1))).unwrap_err();
    assert_eq!(err, JwkError::MalformedMember { member: "kty" });
}

#[test]
fn kid_required() {
    assert_eq!(
        from_map(&without(jwk("ec256"), "kid")).unwrap_err(),
        JwkError::MissingKid
    );
    assert_eq!(
        from_map(&with(jwk("rsa"), "kid", json!(""))).unwrap_err(),
        JwkError::MissingKid
    );
    assert_eq!(
        from_map(&with(jwk("rsa"), "kid", json!(7))).unwrap_err(),
        JwkError::MalformedMember { member: "kid" }
    );
}

#[test]
fn ec_curve_and_coordinates() {
    let err = from_map(&with(jwk("ec256"), "crv", json!("P-192"))).unwrap_err();
    assert_eq!(err, JwkError::UnsupportedCurve);
    assert!(err.is_unsupported());
    assert_eq!(
        from_map(&without(jwk("ec256"), "crv")).unwrap_err(),
        JwkError::MissingMember { member: "crv" }
    );
    // P-384 coordinates under crv P-256.
    let mixed = with(jwk("ec384"), "crv", json!("P-256"));
    assert_eq!(
        from_map(&mixed).unwrap_err(),
        JwkError::CoordinateLength {
            member: "x",
            expected: 32,
            actual: 48
        }
    );
    // A coordinate with its leading byte stripped (RFC 7518 requires the full length).
    let base = jwk("ec521");
    let y = member_bytes(&base, "y");
    let short = with(base.clone(), "y", b64(&y[1..]));
    assert_eq!(
        from_map(&short).unwrap_err(),
        JwkError::CoordinateLength {
            member: "y",
            expected: 66,
            actual: 65
        }
    );
    assert_eq!(
        from_map(&without(base.clone(), "x")).unwrap_err(),
        JwkError::MissingMember { member: "x" }
    );
    // Padded or standard-alphabet base64 is not base64url.
    let x = member_bytes(&base, "x");
    let padded = format!("{}=", URL_SAFE_NO_PAD.encode(&x));
    assert_eq!(
        from_map(&with(base, "x", json!(padded))).unwrap_err(),
        JwkError::MalformedMember { member: "x" }
    );
}

#[test]
fn ec_point_must_be_on_curve() {
    for kid in ["ec256", "ec384", "ec521"] {
        let base = jwk(kid);
        let mut y = member_bytes(&base, "y");
        *y.last_mut().unwrap() ^= 1;
        let off = with(base, "y", b64(&y));
        assert_eq!(from_map(&off).unwrap_err(), JwkError::InvalidKey, "{kid}");
    }
    let zero = with(with(jwk("ec256"), "x", b64(&[0; 32])), "y", b64(&[0; 32]));
    assert_eq!(from_map(&zero).unwrap_err(), JwkError::InvalidKey);
}

#[test]
fn rsa_integers() {
    let base = jwk("rsa");
    let n = member_bytes(&base, "n");
    let mut padded = vec![0];
    padded.extend_from_slice(&n);
    assert_eq!(
        from_map(&with(base.clone(), "n", b64(&padded))).unwrap_err(),
        JwkError::NonMinimalInteger { member: "n" }
    );
    assert_eq!(
        from_map(&with(base.clone(), "e", json!(""))).unwrap_err(),
        JwkError::NonMinimalInteger { member: "e" }
    );
    assert_eq!(
        from_map(&with(base.clone(), "n", b64(&n[..128]))).unwrap_err(),
        JwkError::RsaModulusSize { bits: 1024 }
    );
    assert_eq!(
        from_map(&without(base.clone(), "e")).unwrap_err(),
        JwkError::MissingMember { member: "e" }
    );
    // An even public exponent is not a usable RSA key.
    assert_eq!(
        from_map(&with(base, "e", b64(&[2]))).unwrap_err(),
        JwkError::InvalidKey
    );
}

#[test]
fn private_key_members_rejected() {
    assert_eq!(
        from_map(&with(jwk("ec256"), "d", json!("AAAA"))).unwrap_err(),
        JwkError::PrivateKeyMaterial { member: "d" }
    );
    assert_eq!(
        from_map(&with(jwk("rsa"), "qi", json!("AAAA"))).unwrap_err(),
        JwkError::PrivateKeyMaterial { member: "qi" }
    );
}

#[test]
fn jwk_alg_binds_the_key() {
    assert_eq!(
        from_map(&with(jwk("ec256"), "alg", json!("ES384"))).unwrap_err(),
        JwkError::AlgorithmMismatch
    );
    assert_eq!(
        from_map(&with(jwk("rsa"), "alg", json!("HS256"))).unwrap_err(),
        JwkError::AlgorithmMismatch
    );
    // An RSA key bound to RS256 no longer verifies PS256 tokens.
    let bound = from_map(&with(jwk("rsa"), "alg", json!("RS256"))).unwrap();
    assert_eq!(bound.bound_alg(), Some(JwtAlg::Rs256));
    let mut bundle = JwtBundle::new(TrustDomain::new("td").unwrap());
    bundle.insert(bound);
    let bundle = std::sync::Arc::new(bundle);
    let vectors = load_vectors();
    let opts = JwtValidationOptions::new(vectors.now);
    let ps = &jwt_common::case(&vectors, "70-ps256").token;
    assert!(matches!(
        JwtSvid::validate(ps, &bundle, &["svc"], &opts),
        Err(JwtSvidError::KeyAlgorithmMismatch {
            alg: JwtAlg::Ps256,
            ..
        })
    ));
    let rs = &jwt_common::case(&vectors, "70-rs256").token;
    JwtSvid::validate(rs, &bundle, &["svc"], &opts).unwrap();
}

#[test]
fn jwks_parse_and_serialize() {
    let vectors = load_vectors();
    let td = TrustDomain::new("td").unwrap();
    let bundle = JwtBundle::parse_jwks(td.clone(), &vectors.jwks["td"]).unwrap();
    assert_eq!(bundle.len(), 4);
    let again = JwtBundle::parse_jwks(td.clone(), &bundle.to_jwks_json()).unwrap();
    assert_eq!(again, bundle);
    let doc: Value = serde_json::from_slice(&bundle.to_jwks_json()).unwrap();
    let original: Value = serde_json::from_slice(&vectors.jwks["td"]).unwrap();
    assert_eq!(doc, original);
}

#[test]
fn jwks_document_errors() {
    let td = TrustDomain::new("td").unwrap();
    let parse = |json: &str| JwtBundle::parse_jwks(td.clone(), json.as_bytes());
    assert_eq!(parse("[]").unwrap_err(), JwtBundleError::NotJsonObject);
    assert_eq!(parse("{").unwrap_err(), JwtBundleError::NotJsonObject);
    assert_eq!(parse("{}").unwrap_err(), JwtBundleError::MissingKeys);
    assert_eq!(
        parse(r#"{"keys":{}}"#).unwrap_err(),
        JwtBundleError::MissingKeys
    );
    assert_eq!(
        parse(r#"{"keys":[1]}"#).unwrap_err(),
        JwtBundleError::KeyNotObject { index: 0 }
    );
    let empty = parse(r#"{"keys":[],"spiffe_sequence":3}"#).unwrap();
    assert!(empty.is_empty());
    // Unknown key types are skipped, the rest kept (BUNDLE-12).
    let ec = Value::Object(jwk("ec256"));
    let doc = json!({"keys": [{"kty": "OKP", "kid": "o", "crv": "Ed25519", "x": "AA"},
        {"kty": "EC", "kid": "p192", "crv": "P-192", "x": "AA", "y": "AA"}, ec]});
    let bundle = parse(&doc.to_string()).unwrap();
    assert_eq!(bundle.len(), 1);
    assert!(bundle.get("ec256").is_some());
    // Any other invalid JWK fails the set, naming its index.
    let mut bad = jwk("ec384");
    bad.insert("x".into(), json!("AA"));
    let doc = json!({"keys": [Value::Object(jwk("ec256")), bad]});
    assert!(matches!(
        parse(&doc.to_string()).unwrap_err(),
        JwtBundleError::Jwk {
            index: 1,
            source: JwkError::CoordinateLength { .. }
        }
    ));
}
