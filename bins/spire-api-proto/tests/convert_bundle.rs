//! `types::Bundle` <-> `ApiBundle`: X.509 authorities as DER, JWT authorities as PKIX public
//! keys (EC P-256/384/521 and RSA), expiry and taint, refresh hint and sequence number.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use rcgen::{
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ECDSA_P521_SHA512, PKCS_ED25519,
    PKCS_RSA_SHA256,
};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{Certificate, JwtBundle, SpiffeBundle, TrustDomain, X509Bundle};
use spire_api_proto::convert::{
    bundle_from_proto, bundle_to_proto, jwt_authority_from_proto, jwt_authority_to_proto,
    x509_authority_from_proto, ApiBundle, ConvertError, FieldPath, JwtAuthorityState,
};
use spire_api_proto::types;

/// A change that makes a valid message invalid.
type Breaker = Box<dyn Fn(&mut types::Bundle)>;

fn jwt_key(kid: &str, public_key: Vec<u8>, expires_at: i64, tainted: bool) -> types::JwtKey {
    types::JwtKey {
        public_key,
        key_id: kid.into(),
        expires_at,
        tainted,
    }
}

fn x509(asn1: Vec<u8>, tainted: bool) -> types::X509Certificate {
    types::X509Certificate { asn1, tainted }
}

/// A bundle message with two X.509 authorities (one tainted) and a JWT authority of every
/// supported key type.
fn full_message() -> types::Bundle {
    types::Bundle {
        trust_domain: "example.org".into(),
        x509_authorities: vec![
            x509(common::ca_der(&PKCS_ECDSA_P256_SHA256, "old root"), true),
            x509(common::ca_der(&PKCS_ECDSA_P384_SHA384, "new root"), false),
        ],
        jwt_authorities: vec![
            jwt_key(
                "a-p256",
                common::spki(&PKCS_ECDSA_P256_SHA256),
                1_900_000_000,
                true,
            ),
            jwt_key("b-p384", common::spki(&PKCS_ECDSA_P384_SHA384), 0, false),
            jwt_key(
                "c-p521",
                common::spki(&PKCS_ECDSA_P521_SHA512),
                1_800_000_000,
                false,
            ),
            jwt_key("d-rsa", common::spki(&PKCS_RSA_SHA256), 0, true),
        ],
        refresh_hint: 300,
        sequence_number: 7,
        wit_authorities: Vec::new(),
    }
}

#[test]
fn a_message_round_trips_byte_for_byte() {
    let message = full_message();
    let bundle = bundle_from_proto(&message).unwrap();
    // The PKIX keys are re-encoded from the JWKs, and come out identical to rcgen's DER.
    assert_eq!(bundle_to_proto(&bundle).unwrap(), message);
}

#[test]
fn every_field_reaches_the_library_bundle() {
    let message = full_message();
    let api = bundle_from_proto(&message).unwrap();
    let bundle = &api.bundle;
    assert_eq!(bundle.trust_domain().as_str(), "example.org");
    let roots = bundle.x509_authorities().authorities();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0].der().as_ref(), message.x509_authorities[0].asn1);
    assert!(api.is_x509_tainted(&roots[0]));
    assert!(!api.is_x509_tainted(&roots[1]));
    let kids: Vec<&str> = bundle
        .jwt_authorities()
        .authorities()
        .map(|a| a.kid())
        .collect();
    assert_eq!(kids, ["a-p256", "b-p384", "c-p521", "d-rsa"]);
    assert_eq!(
        api.jwt_state("a-p256"),
        JwtAuthorityState {
            expires_at: Some(UnixTime::since_unix_epoch(Duration::from_secs(
                1_900_000_000
            ))),
            tainted: true
        }
    );
    assert_eq!(api.jwt_state("b-p384"), JwtAuthorityState::default());
    assert!(api.jwt_state("d-rsa").tainted);
    assert_eq!(bundle.refresh_hint(), Some(Duration::from_secs(300)));
    assert_eq!(bundle.sequence(), Some(7));
}

#[test]
fn a_library_bundle_round_trips() {
    let td = TrustDomain::new("example.org").unwrap();
    let message = full_message();
    // Build the library side independently: the certificates and JWKs themselves.
    let x509 = X509Bundle::from_der_authorities(
        td.clone(),
        message
            .x509_authorities
            .iter()
            .map(|a| a.asn1.clone().into()),
    )
    .unwrap();
    let mut jwt = JwtBundle::new(td);
    for key in &message.jwt_authorities {
        jwt.insert(jwt_authority_from_proto(key).unwrap().0);
    }
    let mut spiffe_bundle = SpiffeBundle::from_parts(x509, jwt).unwrap();
    spiffe_bundle.set_sequence(Some(0));
    let mut api = ApiBundle::new(spiffe_bundle);
    api.jwt_states.insert(
        "c-p521".into(),
        JwtAuthorityState {
            expires_at: Some(UnixTime::since_unix_epoch(Duration::from_secs(5))),
            tainted: true,
        },
    );
    let back = bundle_from_proto(&bundle_to_proto(&api).unwrap()).unwrap();
    assert_eq!(back, api);
}

#[test]
fn unset_numbers_read_as_spire_means_them() {
    let message = types::Bundle {
        trust_domain: "example.org".into(),
        ..Default::default()
    };
    let api = bundle_from_proto(&message).unwrap();
    assert!(api.bundle.x509_authorities().is_empty());
    assert!(api.bundle.jwt_authorities().is_empty());
    assert_eq!(api.bundle.refresh_hint(), None);
    // SPIRE always sets the sequence number, 0 included.
    assert_eq!(api.bundle.sequence(), Some(0));
    assert_eq!(bundle_to_proto(&api).unwrap(), message);
}

#[test]
fn a_repeated_x509_authority_is_kept_once_tainted_if_any_copy_is() {
    let root = common::ca_der(&PKCS_ECDSA_P256_SHA256, "root");
    let message = types::Bundle {
        trust_domain: "example.org".into(),
        x509_authorities: vec![x509(root.clone(), false), x509(root.clone(), true)],
        ..Default::default()
    };
    let back = bundle_to_proto(&bundle_from_proto(&message).unwrap()).unwrap();
    assert_eq!(back.x509_authorities, [x509(root, true)]);
}

#[test]
fn wit_authorities_are_ignored() {
    let mut message = full_message();
    message.wit_authorities = vec![types::WitKey {
        public_key: common::spki(&PKCS_ECDSA_P256_SHA256),
        key_id: "wit".into(),
        expires_at: 0,
        tainted: false,
    }];
    let back = bundle_to_proto(&bundle_from_proto(&message).unwrap()).unwrap();
    assert!(back.wit_authorities.is_empty());
    assert_eq!(back.jwt_authorities, message.jwt_authorities);
}

#[test]
fn each_error_names_its_field() {
    let p256 = || common::spki(&PKCS_ECDSA_P256_SHA256);
    let cases: Vec<(&str, Breaker)> = vec![
        ("trust_domain", Box::new(|m| m.trust_domain.clear())),
        (
            "trust_domain",
            Box::new(|m| m.trust_domain = "Example.org".into()),
        ),
        (
            "x509_authorities[1].asn1",
            Box::new(|m| m.x509_authorities[1].asn1 = b"not a certificate".to_vec()),
        ),
        (
            "jwt_authorities[2].key_id",
            Box::new(|m| m.jwt_authorities[2].key_id.clear()),
        ),
        (
            "jwt_authorities[0].public_key",
            Box::new(|m| m.jwt_authorities[0].public_key.truncate(10)),
        ),
        (
            "jwt_authorities[1].public_key",
            Box::new(|m| m.jwt_authorities[1].public_key = common::spki(&PKCS_ED25519)),
        ),
        (
            "jwt_authorities[3].key_id",
            Box::new(move |m| m.jwt_authorities[3] = jwt_key("a-p256", p256(), 0, false)),
        ),
        (
            "jwt_authorities[1].expires_at",
            Box::new(|m| m.jwt_authorities[1].expires_at = -1),
        ),
        ("refresh_hint", Box::new(|m| m.refresh_hint = -300)),
    ];
    let base = full_message();
    for (field, break_it) in cases {
        let mut message = base.clone();
        break_it(&mut message);
        let error = bundle_from_proto(&message).unwrap_err();
        assert_eq!(error.field().to_string(), field, "{error}");
    }
}

#[test]
fn error_kinds_say_what_is_wrong() {
    let mut message = full_message();
    message.jwt_authorities[1].public_key = common::spki(&PKCS_ED25519);
    assert!(matches!(
        bundle_from_proto(&message),
        Err(ConvertError::UnsupportedPublicKey { .. })
    ));
    message.jwt_authorities[1] = jwt_key("a-p256", common::spki(&PKCS_ECDSA_P256_SHA256), 0, false);
    assert_eq!(
        bundle_from_proto(&message).unwrap_err(),
        ConvertError::DuplicateKeyId {
            field: FieldPath::new("jwt_authorities").at(1).then("key_id")
        }
    );
    let error = x509_authority_from_proto(&x509(vec![0x30, 0x00], false)).unwrap_err();
    assert!(matches!(error, ConvertError::Certificate { .. }));
    assert_eq!(error.to_string(), "asn1 is not a valid X.509 certificate");
}

#[test]
fn an_x509_authority_a_bundle_document_cannot_describe_is_refused() {
    // An ML-DSA root: parsed as a certificate, but no JWK `kty` describes its key, so a
    // bundle document could not carry it.
    let mut message = full_message();
    message.x509_authorities[1] = x509(common::ca_der(&rcgen::PKCS_ML_DSA_44, "pq root"), false);
    let error = bundle_from_proto(&message).unwrap_err();
    assert!(matches!(error, ConvertError::Bundle { .. }), "{error}");
    assert_eq!(error.field().to_string(), "x509_authorities[1].asn1");
}

#[test]
fn single_authorities_convert_for_append_and_publish() {
    let key = jwt_key("k", common::spki(&PKCS_RSA_SHA256), 1_800_000_000, true);
    let (authority, state) = jwt_authority_from_proto(&key).unwrap();
    assert_eq!(authority.kid(), "k");
    assert!(state.tainted);
    assert_eq!(jwt_authority_to_proto(&authority, state).unwrap(), key);
    let root = common::ca_der(&PKCS_ECDSA_P256_SHA256, "root");
    let certificate: Certificate = x509_authority_from_proto(&x509(root.clone(), true)).unwrap();
    assert_eq!(certificate.der().as_ref(), root);
}
