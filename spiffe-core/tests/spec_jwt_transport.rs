//! JWT-SVID transport rules (SPIFFE-CONFORMANCE §1.3 JWT-14, JWT-15, JWT-19) and the JWT side
//! of trust-domain scoping (ID-22, ID-23).
//!
//! How a token travels (HTTP `Authorization: Bearer`, gRPC `authorization` metadata, over TLS)
//! is the business of the transport, which the core library has no part in. What it can
//! guarantee, and these tests assert, is the nearest thing: `JwtSvid::token()` is exactly the
//! compact token to put after `Bearer ` (a valid header and metadata value), the library never
//! strips a `Bearer ` prefix itself, and it does not leak the bearer token through `Debug` or
//! error messages, where logs would carry it off a confidential channel.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod jwt_common;

use jwt_common::{case, load_vectors, validate_case, Issuer};
use spiffe_core::jwt::{JwtSvidError, JwtValidationOptions};
use spiffe_core::{BundleSet, JwtSvid, UnverifiedJwtSvid};

/// The compact JWS form: three non-empty-header parts of base64url characters.
fn assert_compact_token(token: &str) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWS compact serialization");
    assert!(parts.iter().all(|p| !p.is_empty()));
    assert!(parts
        .iter()
        .flat_map(|p| p.bytes())
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

/// JWT-14: over HTTP the token goes in `Authorization: Bearer <jwt>`. A validated SVID hands
/// back the exact compact token, whose characters are all legal in a header value, and a
/// header value with the scheme still attached is not a token: the caller strips `Bearer `.
#[test]
fn jwt_14_token_is_the_bearer_credential() {
    let vectors = load_vectors();
    let original = &case(&vectors, "70").token;
    let svid = validate_case(&vectors, "70").unwrap();
    assert_eq!(svid.token(), original);
    assert_compact_token(svid.token());

    let header_value = format!("Bearer {}", svid.token());
    assert!(UnverifiedJwtSvid::parse_insecure(&header_value).is_err());
    let stripped = header_value.strip_prefix("Bearer ").unwrap();
    let opts = JwtValidationOptions::new(vectors.now);
    let again = JwtSvid::validate(stripped, &vectors.bundles, &["svc"], &opts).unwrap();
    assert_eq!(again.spiffe_id(), svid.spiffe_id());
}

/// JWT-15: over gRPC the token goes in metadata `authorization: Bearer <jwt>`. ASCII metadata
/// values are printable ASCII (0x20..=0x7E); the token of a freshly signed SVID is, and the
/// unverified form hands back the same string.
#[test]
fn jwt_15_token_is_a_valid_grpc_metadata_value() {
    let issuer = Issuer::new("td");
    let token = issuer.sign_claims(r#"{"sub":"spiffe://td/w","aud":["svc"],"exp":4102444800}"#);
    let unverified = UnverifiedJwtSvid::parse_insecure(&token).unwrap();
    assert_eq!(unverified.token(), token);
    let value = format!("Bearer {}", unverified.token());
    assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    assert_compact_token(unverified.token());
}

/// JWT-19: every hop should be confidential (TLS, or a local UDS); the core library opens no
/// connection. It keeps the bearer token out of `Debug` output and out of every error it
/// returns, so logging an SVID or a failure does not copy the credential elsewhere.
#[test]
fn jwt_19_token_not_leaked_through_debug_or_errors() {
    let vectors = load_vectors();
    let svid = validate_case(&vectors, "70").unwrap();
    let signature = svid.token().rsplit('.').next().unwrap();
    for text in [
        format!("{svid:?}"),
        format!(
            "{:?}",
            UnverifiedJwtSvid::parse_insecure(svid.token()).unwrap()
        ),
    ] {
        assert!(
            !text.contains(signature),
            "Debug shows the signature: {text}"
        );
        assert!(!text.contains(svid.token()));
    }
    for id in ["x-tampered", "88", "86", "95"] {
        let err = validate_case(&vectors, id).unwrap_err();
        let token = &case(&vectors, id).token;
        let signature = token.rsplit('.').next().unwrap();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains(signature),
                "error {id} echoes the token: {text}"
            );
        }
    }
}

/// ID-22: a JWT-SVID is valid only if signed by an authority of the trust domain in its
/// `sub`. Vector 95 names `spiffe://td/…` but is signed by `td-b`'s key: rejected although
/// `td-b`'s bundle is loaded; 95-td-b, the same key for a `td-b` subject, passes.
#[test]
fn id_22_jwt_signed_by_subject_trust_domain() {
    let vectors = load_vectors();
    assert!(matches!(
        validate_case(&vectors, "95"),
        Err(JwtSvidError::UnknownKid { .. })
    ));
    let svid = validate_case(&vectors, "95-td-b").unwrap();
    assert_eq!(svid.spiffe_id().trust_domain().as_str(), "td-b");
}

/// ID-23 (advisory): extra claims belong to the issuing trust domain. A `td-b` token with a
/// private claim validates only against `td-b`'s bundle, and its claims come back tied to a
/// `td-b` SPIFFE ID; a validator holding only `td`'s bundle rejects it outright.
#[test]
fn id_23_jwt_claims_scoped_to_issuing_trust_domain() {
    let td_b = Issuer::new("td-b");
    let token = td_b
        .sign_claims(r#"{"sub":"spiffe://td-b/w","aud":["svc"],"exp":4102444800,"group":"admin"}"#);
    let opts = JwtValidationOptions::new(load_vectors().now);

    let mut only_td = BundleSet::new();
    only_td.insert_jwt(Issuer::new("td").bundle);
    assert!(matches!(
        JwtSvid::validate(&token, &only_td, &["svc"], &opts),
        Err(JwtSvidError::NoBundle { .. })
    ));

    let svid = JwtSvid::validate(&token, &td_b.bundle, &["svc"], &opts).unwrap();
    assert_eq!(svid.spiffe_id().trust_domain().as_str(), "td-b");
    assert_eq!(svid.claims().get_str("group"), Some("admin"));
}
