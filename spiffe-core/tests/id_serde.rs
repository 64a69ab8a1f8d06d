//! The `serde` feature: SPIFFE IDs and trust domains serialize as their strings, and
//! deserializing runs the full parser (ID-1..ID-17), so an invalid ID never gets in.
#![cfg(feature = "serde")]

use spiffe_core::{SpiffeId, TrustDomain};

#[test]
fn spiffe_id_round_trips_as_a_string() {
    let id = SpiffeId::new("spiffe://example.org/ns/prod").expect("valid");
    let json = serde_json::to_string(&id).expect("serialize");
    assert_eq!(json, r#""spiffe://example.org/ns/prod""#);
    assert_eq!(serde_json::from_str::<SpiffeId>(&json).expect("parse"), id);
}

#[test]
fn trust_domain_round_trips_as_its_name() {
    let td = TrustDomain::new("example.org").expect("valid");
    let json = serde_json::to_string(&td).expect("serialize");
    assert_eq!(json, r#""example.org""#);
    assert_eq!(
        serde_json::from_str::<TrustDomain>(&json).expect("parse"),
        td
    );
}

#[test]
fn deserializing_enforces_the_id_rules() {
    let err = serde_json::from_str::<SpiffeId>(r#""spiffe://Example.org/a""#)
        .expect_err("ID-5 rejects an uppercase trust domain");
    assert!(err.to_string().contains("ID-5"), "{err}");
    assert!(serde_json::from_str::<SpiffeId>(r#""spiffe://td/a/""#).is_err()); // ID-11
    assert!(serde_json::from_str::<TrustDomain>(r#""td:80""#).is_err()); // ID-4
    assert!(serde_json::from_str::<SpiffeId>("42").is_err());
}
