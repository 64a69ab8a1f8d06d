//! `types::FederationRelationship` <-> `FederationRelationship`.

#![allow(clippy::unwrap_used)]

mod common;

use rcgen::PKCS_ECDSA_P256_SHA256;
use spiffe_core::SpiffeId;
use spire_api_proto::convert::{
    federation_relationship_from_proto, federation_relationship_to_proto, BundleEndpointProfile,
    ConvertError,
};
use spire_api_proto::types;
use spire_api_proto::types::federation_relationship::BundleEndpointProfile as Profile;

/// A change that makes a valid message invalid.
type Breaker = Box<dyn Fn(&mut types::FederationRelationship)>;

fn spiffe_profile(id: &str) -> Option<Profile> {
    Some(Profile::HttpsSpiffe(types::HttpsspiffeProfile {
        endpoint_spiffe_id: id.into(),
    }))
}

fn bundle(trust_domain: &str) -> types::Bundle {
    types::Bundle {
        trust_domain: trust_domain.into(),
        x509_authorities: vec![types::X509Certificate {
            asn1: common::ca_der(&PKCS_ECDSA_P256_SHA256, "partner root"),
            tainted: false,
        }],
        jwt_authorities: vec![types::JwtKey {
            public_key: common::spki(&PKCS_ECDSA_P256_SHA256),
            key_id: "k1".into(),
            expires_at: 0,
            tainted: false,
        }],
        refresh_hint: 60,
        sequence_number: 3,
        wit_authorities: Vec::new(),
    }
}

fn https_spiffe() -> types::FederationRelationship {
    types::FederationRelationship {
        trust_domain: "partner.test".into(),
        bundle_endpoint_url: "https://partner.test:8443/bundle".into(),
        bundle_endpoint_profile: spiffe_profile("spiffe://partner.test/spire/server"),
        trust_domain_bundle: Some(bundle("partner.test")),
    }
}

fn https_web() -> types::FederationRelationship {
    types::FederationRelationship {
        trust_domain: "web.test".into(),
        bundle_endpoint_url: "https://web.test/bundle.json".into(),
        bundle_endpoint_profile: Some(Profile::HttpsWeb(types::HttpsWebProfile {})),
        trust_domain_bundle: None,
    }
}

#[test]
fn both_profiles_round_trip() {
    for message in [https_spiffe(), https_web()] {
        let relationship = federation_relationship_from_proto(&message).unwrap();
        assert_eq!(
            federation_relationship_to_proto(&relationship).unwrap(),
            message
        );
    }
    let relationship = federation_relationship_from_proto(&https_spiffe()).unwrap();
    assert_eq!(relationship.trust_domain.as_str(), "partner.test");
    assert_eq!(
        relationship.profile,
        BundleEndpointProfile::HttpsSpiffe {
            endpoint_spiffe_id: SpiffeId::new("spiffe://partner.test/spire/server").unwrap()
        }
    );
    let bundle = relationship.trust_domain_bundle.unwrap();
    assert_eq!(bundle.bundle.x509_authorities().len(), 1);
    assert_eq!(bundle.bundle.sequence(), Some(3));
    let web = federation_relationship_from_proto(&https_web()).unwrap();
    assert_eq!(web.profile, BundleEndpointProfile::HttpsWeb);
    assert!(web.trust_domain_bundle.is_none());
}

#[test]
fn each_error_names_its_field() {
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "trust_domain",
            Box::new(|m| m.trust_domain = "Partner.test".into()),
        ),
        (
            "bundle_endpoint_url",
            Box::new(|m| m.bundle_endpoint_url.clear()),
        ),
        (
            "bundle_endpoint_url",
            Box::new(|m| m.bundle_endpoint_url = "http://partner.test/".into()),
        ),
        (
            "bundle_endpoint_profile",
            Box::new(|m| m.bundle_endpoint_profile = None),
        ),
        (
            "https_spiffe.endpoint_spiffe_id",
            Box::new(|m| m.bundle_endpoint_profile = spiffe_profile("")),
        ),
        (
            "https_spiffe.endpoint_spiffe_id",
            Box::new(|m| m.bundle_endpoint_profile = spiffe_profile("partner.test/server")),
        ),
        (
            "trust_domain_bundle.trust_domain",
            Box::new(|m| m.trust_domain_bundle = Some(bundle("other.test"))),
        ),
        (
            "trust_domain_bundle.jwt_authorities[0].key_id",
            Box::new(|m| {
                if let Some(bundle) = &mut m.trust_domain_bundle {
                    bundle.jwt_authorities[0].key_id.clear();
                }
            }),
        ),
    ];
    let base = https_spiffe();
    for (field, break_it) in cases {
        let mut message = base.clone();
        break_it(&mut message);
        let error = federation_relationship_from_proto(&message).unwrap_err();
        assert_eq!(error.field().to_string(), field, "{error}");
    }
    let mut message = https_spiffe();
    message.trust_domain_bundle = Some(bundle("other.test"));
    assert!(matches!(
        federation_relationship_from_proto(&message),
        Err(ConvertError::TrustDomainMismatch { .. })
    ));
}
