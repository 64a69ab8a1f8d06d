//! `BundleFile::parse`: one recognition of the format and one parse, for every format a
//! trust-bundle file comes in, with or without the trust domain.
#![allow(clippy::unwrap_used, missing_docs)]

mod bundle_common;

use bundle_common::{data, jwk, roots, td};
use serde_json::json;
use spiffe_core::bundle::{BundleError, BundleFile, BundleFormat, KeyIssue};
use spiffe_core::SpiffeBundle;

#[test]
fn recognises_every_format() {
    let t = td("example.com");
    let pem = data("ca-p256.pem");
    let der = roots(&t, &["p256", "rsa"]).to_der();
    let jwks = json!({"keys": [jwk("ec-p256")]}).to_string();
    let map = data("120-map-inner-refresh-hints.json");
    let cases: [(&[u8], BundleFormat); 5] = [
        (&data("full.json"), BundleFormat::SpiffeBundle),
        (jwks.as_bytes(), BundleFormat::Jwks),
        (&pem, BundleFormat::Pem),
        (&der, BundleFormat::Der),
        (&map, BundleFormat::BundleMap),
    ];
    for (input, format) in cases {
        let file = BundleFile::parse(input, Some(&t)).unwrap();
        assert_eq!(file.format(), format);
        assert_eq!(file.map().is_some(), format == BundleFormat::BundleMap);
    }
    let file = BundleFile::parse(&der, None).unwrap();
    assert_eq!(file.x509_authorities().len(), 2);
}

#[test]
fn a_spiffe_bundle_comes_with_its_diagnostics() {
    let t = td("example.com");
    let input = data("103-jwk-without-use.json");
    let file = BundleFile::parse(&input, Some(&t)).unwrap();
    let (bundle, diagnostics) = SpiffeBundle::parse_with_diagnostics(t, &input).unwrap();
    assert_eq!(file.format(), BundleFormat::SpiffeBundle);
    assert_eq!(file.diagnostics(), &diagnostics[..]);
    assert!(diagnostics.iter().any(|d| d.issue == KeyIssue::MissingUse));
    assert_eq!(file.bundle(), Some(&bundle));
}

#[test]
fn the_trust_domain_is_given_named_by_the_authorities_or_unknown() {
    // Given: it labels the bundle, whatever the authorities say.
    let other = td("other.org");
    let pem = data("ca-p256.pem");
    let file = BundleFile::parse(&pem, Some(&other)).unwrap();
    assert_eq!(file.trust_domain(), Some(&other));
    assert_eq!(file.into_bundle().unwrap().trust_domain(), &other);

    // Not given: the one every X.509 authority names (spiffe://example.com).
    let file = BundleFile::parse(&pem, None).unwrap();
    assert_eq!(file.trust_domain(), Some(&td("example.com")));
    let bundle = file.into_bundle().unwrap();
    assert_eq!(bundle.x509_authorities().trust_domain(), &td("example.com"));
    assert_eq!(bundle.jwt_authorities().trust_domain(), &td("example.com"));

    // Unknown: a plain JWKS names nothing. It can be inspected, not taken as a bundle.
    let jwks = json!({"keys": [jwk("ec-p256"), jwk("rsa")]}).to_string();
    let file = BundleFile::parse(jwks.as_bytes(), None).unwrap();
    assert_eq!(file.format(), BundleFormat::Jwks);
    assert_eq!(file.trust_domain(), None);
    assert_eq!(file.bundle(), None);
    assert_eq!(file.jwt_authorities().count(), 2);
    assert_eq!(
        file.into_bundle().unwrap_err(),
        BundleError::UnknownTrustDomain
    );
    let doc = br#"{"keys": [], "spiffe_sequence": 9, "spiffe_refresh_hint": 60}"#;
    let file = BundleFile::parse(doc, None).unwrap();
    assert_eq!(
        (file.sequence(), file.refresh_hint().map(|d| d.as_secs())),
        (Some(9), Some(60))
    );
}

#[test]
fn a_bundle_map_is_not_one_bundle() {
    let map = data("120-map-inner-refresh-hints.json");
    let file = BundleFile::parse(&map, None).unwrap();
    assert_eq!(file.trust_domain(), None);
    assert!(file.x509_authorities().is_empty());
    assert!(file.map().unwrap().get("example.com").is_some());
    assert_eq!(
        SpiffeBundle::parse_any(td("example.com"), &map).unwrap_err(),
        BundleError::UnexpectedBundleMap
    );
    // A map's own rules still apply (BUNDLE-15).
    assert!(matches!(
        BundleFile::parse(&data("116-map-duplicate-trust-domain.json"), None),
        Err(BundleError::DuplicateTrustDomain { .. })
    ));
}

#[test]
fn malformed_input_is_one_clear_error() {
    assert!(matches!(
        BundleFile::parse(b"{\"keys\": [", None),
        Err(BundleError::Json { .. })
    ));
    assert_eq!(
        BundleFile::parse(b"   ", None).unwrap_err(),
        BundleError::NoCertificates
    );
}
