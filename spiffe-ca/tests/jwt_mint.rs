//! Minting JWT-SVIDs (ES256, ES384, RS256, PS256) and validating them with spiffe-core
//! against the JWT bundle the authority publishes.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::CaError;
use spiffe_core::json::JsonObject;
use spiffe_core::jwt::{JwtAlg, JwtSvid, JwtSvidError, JwtValidationOptions};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, SpiffeId, TrustDomain, UnverifiedJwtSvid};

const NOW: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn id() -> SpiffeId {
    SpiffeId::new("spiffe://example.org/web").unwrap()
}

fn authority(key_type: KeyType) -> JwtSvidIssuer {
    let signer = Arc::new(SoftwareSigner::generate("jwt", key_type).unwrap());
    JwtSvidIssuer::new(&td(), signer, at(NOW + 86_400)).unwrap()
}

fn bundle(authority: &JwtSvidIssuer) -> Arc<JwtBundle> {
    let mut bundle = JwtBundle::new(td());
    bundle.insert(authority.jwt_authority());
    Arc::new(bundle)
}

fn validate(token: &str, authority: &JwtSvidIssuer, aud: &[&str]) -> Result<JwtSvid, JwtSvidError> {
    JwtSvid::validate(
        token,
        &bundle(authority),
        aud,
        &JwtValidationOptions::new(at(NOW)),
    )
}

#[test]
fn every_algorithm_validates() {
    let cases = [
        (KeyType::EcP256, None, JwtAlg::Es256),
        (KeyType::EcP384, None, JwtAlg::Es384),
        (KeyType::Rsa2048, None, JwtAlg::Rs256),
        (KeyType::Rsa2048, Some(JwtAlg::Ps256), JwtAlg::Ps256),
    ];
    for (key_type, alg, expected) in cases {
        let mut authority = authority(key_type);
        if let Some(alg) = alg {
            authority = authority.with_alg(alg).unwrap();
        }
        assert_eq!(authority.alg(), expected);
        let token = authority
            .mint(
                &id(),
                &["api"],
                Duration::from_secs(300),
                &JsonObject::new(),
                at(NOW),
            )
            .unwrap();
        let svid = validate(&token, &authority, &["api"]).unwrap();
        assert_eq!(svid.alg(), expected);
        assert_eq!(svid.kid(), authority.kid());
        assert_eq!(svid.spiffe_id(), &id());
        assert_eq!(svid.audience(), ["api"]);
        assert_eq!(svid.expiry(), at(NOW + 300));
        assert_eq!(svid.claims().get_u64("iat"), Some(NOW));
        let header = UnverifiedJwtSvid::parse_insecure(&token).unwrap();
        assert_eq!(header.typ(), Some("JWT"));
        // Another trust domain's bundle does not validate it; a wrong audience neither.
        assert!(matches!(
            validate(&token, &authority, &["other"]),
            Err(JwtSvidError::AudienceMismatch)
        ));
        let other = self::authority(key_type);
        assert!(validate(&token, &other, &["api"]).is_err());
    }
}

#[test]
fn audiences_extra_claims_and_expiry() {
    let authority = authority(KeyType::EcP256);
    let mut extra = JsonObject::new();
    extra.insert_str("iss", "https://example.org");
    extra.insert_strs("team", ["a", "b"]);
    let token = authority
        .mint(
            &id(),
            &["a1", "a2"],
            Duration::from_secs(10 * 86_400),
            &extra,
            at(NOW),
        )
        .unwrap();
    let svid = validate(&token, &authority, &["a2"]).unwrap();
    assert_eq!(svid.audience(), ["a1", "a2"]);
    assert_eq!(svid.claims().get_strs("team"), Some(vec!["a", "b"]));
    assert_eq!(svid.claims().get_str("iss"), Some("https://example.org"));
    // Clamped to the authority's end.
    assert_eq!(svid.expiry(), authority.not_after());
}

#[test]
fn a_jti_claim_is_carried_and_unique_per_token() {
    let authority = authority(KeyType::EcP256);
    let mint = || {
        let mut extra = JsonObject::new();
        extra.insert_str("jti", spiffe_ca::jwt::new_jti().unwrap());
        let token = authority
            .mint(&id(), &["a"], Duration::from_secs(60), &extra, at(NOW))
            .unwrap();
        let svid = validate(&token, &authority, &["a"]).unwrap();
        svid.claims().get_str("jti").unwrap().to_owned()
    };
    let (first, second) = (mint(), mint());
    assert_eq!(first.len(), 22);
    assert_ne!(first, second);
    // Without one, there is none.
    let token = authority
        .mint(
            &id(),
            &["a"],
            Duration::from_secs(60),
            &JsonObject::new(),
            at(NOW),
        )
        .unwrap();
    let svid = validate(&token, &authority, &["a"]).unwrap();
    assert_eq!(svid.claims().get_str("jti"), None);
}

#[test]
fn bundle_round_trips_through_jwks() {
    let (ec, rsa) = (authority(KeyType::EcP384), authority(KeyType::Rsa2048));
    let mut bundle = JwtBundle::new(td());
    bundle.insert(ec.jwt_authority());
    bundle.insert(rsa.jwt_authority());
    let parsed = JwtBundle::parse_jwks(td(), &bundle.to_jwks_json()).unwrap();
    assert_eq!(parsed.len(), 2);
    let parsed = Arc::new(parsed);
    for authority in [&ec, &rsa] {
        let token = authority
            .mint(
                &id(),
                &["x"],
                Duration::from_secs(60),
                &JsonObject::new(),
                at(NOW),
            )
            .unwrap();
        JwtSvid::validate(&token, &parsed, &["x"], &JwtValidationOptions::new(at(NOW))).unwrap();
    }
    assert_eq!(ec.jwt_authority().jwk().get_str("crv"), Some("P-384"));
    assert_eq!(rsa.jwt_authority().jwk().get_str("kty"), Some("RSA"));
}

#[test]
fn kid_can_be_set_and_is_random_by_default() {
    let a = authority(KeyType::EcP256);
    let b = authority(KeyType::EcP256);
    assert_ne!(a.kid(), b.kid());
    assert!(a.kid().len() >= 32);
    let a = a.with_kid("my-kid").unwrap();
    assert_eq!(a.kid(), "my-kid");
    assert_eq!(a.jwt_authority().kid(), "my-kid");
    let token = a
        .mint(
            &id(),
            &["x"],
            Duration::from_secs(60),
            &JsonObject::new(),
            at(NOW),
        )
        .unwrap();
    assert_eq!(validate(&token, &a, &["x"]).unwrap().kid(), "my-kid");
}

#[test]
fn bad_input_is_a_clear_error() {
    let authority = authority(KeyType::EcP256);
    let mint = |id: &SpiffeId, aud: &[&str], ttl: u64, extra: &JsonObject, now: u64| {
        authority
            .mint(id, aud, Duration::from_secs(ttl), extra, at(now))
            .unwrap_err()
    };
    let none = JsonObject::new();
    assert!(matches!(
        mint(&id(), &[], 60, &none, NOW),
        CaError::NoAudience
    ));
    assert!(matches!(
        mint(&id(), &["a"], 0, &none, NOW),
        CaError::ZeroTtl
    ));
    assert!(matches!(
        mint(&id(), &["a"], 60, &none, NOW + 86_400),
        CaError::AuthorityExpired { .. }
    ));
    let foreign = SpiffeId::new("spiffe://other.org/w").unwrap();
    assert!(matches!(
        mint(&foreign, &["a"], 60, &none, NOW),
        CaError::ForeignTrustDomain { .. }
    ));
    assert!(matches!(
        mint(&td().id(), &["a"], 60, &none, NOW),
        CaError::IdWithoutPath
    ));
    for claim in ["sub", "aud", "exp", "iat", "nbf"] {
        let mut extra = JsonObject::new();
        extra.insert_str(claim, "x");
        match mint(&id(), &["a"], 60, &extra, NOW) {
            CaError::ReservedClaim { claim: named } => assert_eq!(named, claim),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Algorithms that do not fit the key.
    let ec = self::authority(KeyType::EcP256);
    assert!(matches!(
        ec.with_alg(JwtAlg::Es384).unwrap_err(),
        CaError::AlgorithmMismatch { .. }
    ));
    let ec = self::authority(KeyType::EcP256);
    assert!(matches!(
        ec.with_alg(JwtAlg::Ps256).unwrap_err(),
        CaError::AlgorithmMismatch { .. }
    ));
    let rsa = self::authority(KeyType::Rsa2048);
    assert!(matches!(
        rsa.with_alg(JwtAlg::Es256).unwrap_err(),
        CaError::AlgorithmMismatch { .. }
    ));
}
