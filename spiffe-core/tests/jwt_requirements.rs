//! One test per JWT-* requirement a validator can check (JWT-11/14/15/19 are producer or
//! transport rules), mostly on the §4.3 vectors in `tests/data/jwt/`.
#![allow(clippy::unwrap_used, missing_docs)]

mod jwt_common;

use std::time::Duration;

use jwt_common::{error_kind, load_vectors, validate_case, Issuer};
use spiffe_core::jwt::{
    HeaderParameter, JwkError, JwtAlg, JwtBundleError, JwtSvid, JwtSvidError, JwtValidationOptions,
    UnverifiedJwtSvid,
};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, TrustDomain};

fn assert_rejects(ids: &[&str], kind: &str) {
    let vectors = load_vectors();
    for id in ids {
        let err = validate_case(&vectors, id).expect_err(id);
        assert_eq!(error_kind(&err), kind, "case {id}: {err}");
    }
}

fn assert_accepts(ids: &[&str]) {
    let vectors = load_vectors();
    for id in ids {
        validate_case(&vectors, id).unwrap_or_else(|e| panic!("case {id}: {e}"));
    }
}

fn at(secs: u64) -> JwtValidationOptions {
    JwtValidationOptions::new(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

#[test]
fn jwt_1_only_compact_serialization() {
    assert_rejects(&["97"], "JsonSerialization");
    assert_rejects(&["x-4-parts"], "PartCount");
    assert_rejects(&["x-padded"], "Base64");
    for token in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e.f"] {
        let err = UnverifiedJwtSvid::parse_insecure(token).unwrap_err();
        assert_eq!(error_kind(&err), "PartCount", "{token:?}");
    }
    let err = UnverifiedJwtSvid::parse_insecure(" {\"payload\":\"x\"}").unwrap_err();
    assert_eq!(err, JwtSvidError::JsonSerialization);
}

#[test]
fn jwt_2_jwe_rejected() {
    assert_rejects(&["98"], "Encrypted");
    assert_eq!(
        UnverifiedJwtSvid::parse_insecure("a.b.c.d.e").unwrap_err(),
        JwtSvidError::Encrypted
    );
}

#[test]
fn jwt_3_extra_header_parameters_rejected() {
    let vectors = load_vectors();
    for (id, parameter) in [
        ("81-jku", HeaderParameter::Jku),
        ("81-x5u", HeaderParameter::X5u),
        ("81-jwk", HeaderParameter::Jwk),
        ("81-crit", HeaderParameter::Crit),
        ("81-x5c", HeaderParameter::X5c),
        ("81-other", HeaderParameter::Other),
    ] {
        assert_eq!(
            validate_case(&vectors, id).unwrap_err(),
            JwtSvidError::HeaderParameterNotAllowed { parameter },
            "case {id}"
        );
    }
}

#[test]
fn jwt_4_alg_none_rejected() {
    assert_rejects(&["71"], "UnsupportedAlgorithm");
}

#[test]
fn jwt_4_hmac_rejected() {
    assert_rejects(&["72"], "UnsupportedAlgorithm");
}

#[test]
fn jwt_4_eddsa_es256k_rs1_and_case_variants_rejected() {
    assert_rejects(
        &[
            "73-eddsa",
            "73-es256k",
            "73-rs1",
            "73-es256-lowercase",
            "x-alg-number",
            "x-no-alg",
        ],
        "UnsupportedAlgorithm",
    );
}

#[test]
fn jwt_4_every_allowed_alg_accepted() {
    assert_accepts(&[
        "70", "70-rs256", "70-rs384", "70-rs512", "70-ps256", "70-ps384", "70-ps512", "70-es384",
        "74",
    ]);
    let names: Vec<&str> = JwtAlg::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]
    );
    for alg in JwtAlg::ALL {
        assert_eq!(JwtAlg::from_name(alg.name()), Some(alg));
    }
    for bad in ["none", "HS256", "EdDSA", "ES256K", "RS1", "es256", "ES256 "] {
        assert_eq!(JwtAlg::from_name(bad), None, "{bad}");
    }
}

#[test]
fn jwt_5_alg_checked_before_anything_else() {
    // alg none, and also: jku, no kid, invalid sub, no aud, no exp, garbage signature.
    let issuer = Issuer::new("td");
    let token = issuer.sign(r#"{"alg":"none","jku":"https://x"}"#, r#"{"sub":"web"}"#);
    let err = JwtSvid::validate(&token, &issuer.bundle, &["svc"], &at(0)).unwrap_err();
    assert_eq!(err, JwtSvidError::UnsupportedAlgorithm);
    assert_eq!(err.requirement(), "JWT-4");
}

#[test]
fn jwt_6_kid_required() {
    assert_rejects(&["79"], "MissingKid");
    let issuer = Issuer::new("td");
    let claims = r#"{"sub":"spiffe://td/w","aud":"svc","exp":4102444800}"#;
    for header in [r#"{"alg":"ES256","kid":""}"#, r#"{"alg":"ES256"}"#] {
        let token = issuer.sign(header, claims);
        let err = JwtSvid::validate(&token, &issuer.bundle, &["svc"], &at(0)).unwrap_err();
        assert_eq!(err, JwtSvidError::MissingKid, "{header}");
    }
}

#[test]
fn jwt_7_typ_jwt_jose_or_absent() {
    assert_accepts(&["70", "77-jose", "77-absent"]);
    assert_rejects(
        &[
            "78-at+jwt",
            "78-wit+jwt",
            "78-lowercase",
            "78-null",
            "100-typ",
        ],
        "InvalidType",
    );
    let vectors = load_vectors();
    let typ = |id| UnverifiedJwtSvid::parse_insecure(&jwt_common::case(&vectors, id).token);
    assert_eq!(typ("70").unwrap().typ(), Some("JWT"));
    assert_eq!(typ("77-jose").unwrap().typ(), Some("JOSE"));
    assert_eq!(typ("77-absent").unwrap().typ(), None);
}

#[test]
fn jwt_8_private_claims_allowed_and_exposed() {
    let vectors = load_vectors();
    let svid = validate_case(&vectors, "99").unwrap();
    assert_eq!(svid.claims().get_str("group"), Some("admin"));
    assert!(svid.claims().contains("iat"));
    assert_eq!(svid.claims().len(), 5);
}

#[test]
fn jwt_9_sub_is_a_spiffe_id() {
    assert_rejects(&["92"], "MissingSubject");
    assert_rejects(&["93-web", "93-upper"], "InvalidSubject");
    let vectors = load_vectors();
    let svid = validate_case(&vectors, "94").unwrap();
    assert!(svid.spiffe_id().is_trust_domain_id());
    let svid = validate_case(&vectors, "x-escaped").unwrap();
    assert_eq!(svid.spiffe_id().as_str(), "spiffe://td/w");
    assert_eq!(svid.kid(), "ec256");
}

#[test]
fn jwt_10_audience() {
    assert_rejects(&["82", "83"], "MissingAudience");
    assert_rejects(&["86"], "AudienceMismatch");
    assert_accepts(&["84", "85"]);
    let vectors = load_vectors();
    let token = &jwt_common::case(&vectors, "70").token;
    let opts = JwtValidationOptions::new(vectors.now);
    // Any expected audience may match.
    JwtSvid::validate(token, &vectors.bundles, &["other", "svc"], &opts).unwrap();
    // An empty expected list is a caller error, never "accept any".
    let err = JwtSvid::validate(token, &vectors.bundles, &[], &opts).unwrap_err();
    assert_eq!(err, JwtSvidError::NoExpectedAudience);
    // Audiences compare exactly.
    let err = JwtSvid::validate(token, &vectors.bundles, &["SVC", "svc "], &opts).unwrap_err();
    assert_eq!(err, JwtSvidError::AudienceMismatch);
}

#[test]
fn jwt_12_exp_required() {
    assert_rejects(&["87"], "MissingExpiry");
    let issuer = Issuer::new("td");
    let token = issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":"svc","exp":null}"#);
    let err = JwtSvid::validate(&token, &issuer.bundle, &["svc"], &at(0)).unwrap_err();
    assert_eq!(err, JwtSvidError::MissingExpiry);
}

#[test]
fn jwt_13_key_type_must_fit_alg() {
    assert_rejects(&["75", "75-curve", "75-ps-ec"], "KeyAlgorithmMismatch");
}

#[test]
fn jwt_13_signature_verified() {
    assert_rejects(&["76", "x-tampered"], "InvalidSignature");
    // An ES256 signature in DER form instead of r||s does not verify.
    let issuer = Issuer::new("td");
    let token = issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":"svc","exp":4102444800}"#);
    let (input, _) = token.rsplit_once('.').unwrap();
    let bad = format!("{input}.MEUCIQ");
    let err = JwtSvid::validate(&bad, &issuer.bundle, &["svc"], &at(0)).unwrap_err();
    assert_eq!(err, JwtSvidError::InvalidSignature);
}

#[test]
fn jwt_13_exp_and_nbf_with_leeway() {
    assert_rejects(&["88", "89-boundary", "89-exact"], "Expired");
    assert_rejects(&["90", "91-string"], "InvalidNumericDate");
    assert_rejects(&["91"], "NotYetValid");
    assert_accepts(&["89", "89-float", "91-past"]);

    let issuer = Issuer::new("td");
    let token = issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":"svc","exp":1000,"nbf":900.5}"#);
    let validate = |now: u64, leeway: u64| {
        let opts = at(now).with_leeway(Duration::from_secs(leeway));
        JwtSvid::validate(&token, &issuer.bundle, &["svc"], &opts)
    };
    assert_eq!(validate(999, 0).unwrap().expiry().as_secs(), 1000);
    assert_eq!(
        validate(999, 0).unwrap().not_before().map(|t| t.as_secs()),
        Some(901)
    );
    assert!(matches!(
        validate(1000, 0),
        Err(JwtSvidError::Expired { .. })
    ));
    assert!(validate(1004, 5).is_ok());
    assert!(matches!(
        validate(1005, 5),
        Err(JwtSvidError::Expired { .. })
    ));
    assert!(validate(901, 0).is_ok());
    assert!(matches!(
        validate(900, 0),
        Err(JwtSvidError::NotYetValid { .. })
    ));
    assert!(validate(896, 5).is_ok());
}

#[test]
fn jwt_16_bundle_keys_need_a_unique_kid() {
    let issuer = Issuer::new("td");
    let jwk = issuer
        .bundle
        .authorities()
        .next()
        .unwrap()
        .to_jwk()
        .to_json();
    let jwk: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&jwk).unwrap();
    let td = TrustDomain::new("td").unwrap();

    let mut no_kid = jwk.clone();
    no_kid.remove("kid");
    let jwks = serde_json::json!({ "keys": [no_kid] }).to_string();
    assert_eq!(
        JwtBundle::parse_jwks(td.clone(), jwks.as_bytes()).unwrap_err(),
        JwtBundleError::Jwk {
            index: 0,
            source: JwkError::MissingKid
        }
    );
    let jwks = serde_json::json!({ "keys": [jwk, jwk] }).to_string();
    assert_eq!(
        JwtBundle::parse_jwks(td, jwks.as_bytes()).unwrap_err(),
        JwtBundleError::DuplicateKid { index: 1 }
    );
}

#[test]
fn jwt_17_key_selected_by_kid() {
    assert_rejects(&["80"], "UnknownKid");
    // Plain JWKS from the Workload API carry no `use`: every key is taken (trap 6).
    let vectors = load_vectors();
    let td = TrustDomain::new("td").unwrap();
    let bundle = JwtBundle::parse_jwks(td, &vectors.jwks["td"]).unwrap();
    let kids: Vec<&str> = bundle.authorities().map(|a| a.kid()).collect();
    assert_eq!(kids, ["ec256", "ec384", "ec521", "rsa"]);
}

#[test]
fn jwt_18_jti_allowed_and_not_tracked() {
    let issuer = Issuer::new("td");
    let token =
        issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":"svc","exp":4102444800,"jti":"abc"}"#);
    for _ in 0..2 {
        let svid = JwtSvid::validate(&token, &issuer.bundle, &["svc"], &at(0)).unwrap();
        assert_eq!(svid.claims().get_str("jti"), Some("abc"));
    }
}

#[test]
fn jwt_20_bundle_of_sub_trust_domain_only() {
    assert_rejects(&["95"], "UnknownKid");
    assert_rejects(&["96"], "NoBundle");
    assert_accepts(&["95-td-b"]);
    // A single bundle answers only for its own trust domain.
    let issuer = Issuer::new("other.org");
    let token = issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":"svc","exp":4102444800}"#);
    let err = JwtSvid::validate(&token, &issuer.bundle, &["svc"], &at(0)).unwrap_err();
    assert_eq!(
        err,
        JwtSvidError::NoBundle {
            trust_domain: TrustDomain::new("td").unwrap()
        }
    );
}

#[test]
fn errors_name_their_requirement() {
    assert!(JwtSvidError::UnsupportedAlgorithm
        .to_string()
        .contains("JWT-4"));
    assert_eq!(JwtSvidError::MissingKid.requirement(), "JWT-6");
    assert!(JwtSvidError::MissingAudience.to_string().contains("JWT-10"));
    let vectors = load_vectors();
    for case in &vectors.cases {
        if let Err(e) = validate_case(&vectors, &case.id) {
            let req = e.requirement();
            assert!(
                e.to_string().contains(req),
                "case {}: {e} lacks {req}",
                case.id
            );
        }
    }
}

#[test]
fn validate_now_checks_at_the_current_time_without_leeway() {
    let issuer = Issuer::new("td");
    let now = UnixTime::now().as_secs();
    let claims = |exp: u64| format!(r#"{{"sub":"spiffe://td/w","aud":"svc","exp":{exp}}}"#);
    let valid = issuer.sign_claims(&claims(now + 600));
    let svid = JwtSvid::validate_now(&valid, &issuer.bundle, &["svc"]).unwrap();
    assert_eq!(svid.spiffe_id().as_str(), "spiffe://td/w");
    assert!(matches!(
        JwtSvid::validate_now(&valid, &issuer.bundle, &["other"]),
        Err(JwtSvidError::AudienceMismatch)
    ));
    // Expired a second ago: refused with no leeway, where a 5 s leeway would accept it.
    let just_expired = issuer.sign_claims(&claims(now - 1));
    assert!(matches!(
        JwtSvid::validate_now(&just_expired, &issuer.bundle, &["svc"]),
        Err(JwtSvidError::Expired { .. })
    ));
    let lenient = JwtValidationOptions::new(UnixTime::now()).with_leeway(Duration::from_secs(5));
    assert!(JwtSvid::validate(&just_expired, &issuer.bundle, &["svc"], &lenient).is_ok());
}
