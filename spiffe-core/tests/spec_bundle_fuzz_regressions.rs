//! Regressions found by the `bundle_json` fuzz target (fuzz/fuzz_targets/bundle_json.rs);
//! the inputs are kept as seeds under `fuzz/seeds/bundle_json/regress-*`.
#![allow(missing_docs, clippy::unwrap_used)]

use spiffe_core::bundle::{BundleError, BundleFormat};
use spiffe_core::{x509, JwtBundle, SpiffeBundle, TrustDomain, X509Bundle};

/// A CA whose EC key names an unknown curve (one OID byte of `ca-p384.pem` changed). It
/// parses as a certificate, but no JWK can describe its key: written into a bundle document
/// it had no `kty`, so reading the document back dropped it (BUNDLE-12) and
/// `parse(to_json(b)) != b`. Building such a bundle is now refused instead.
const UNKNOWN_CURVE_CA: &[u8] =
    include_bytes!("../../fuzz/seeds/bundle_json/regress-unknown-curve-ca.pem");

#[test]
fn bundle_12_authority_without_jwk_kty_is_refused_not_lost() {
    let td = TrustDomain::new("td").unwrap();
    let certs = x509::parse_certificates(UNKNOWN_CURVE_CA).unwrap();
    assert_eq!(
        certs[0].public_key_algorithm(),
        x509::PublicKeyAlgorithm::Other
    );

    assert_eq!(
        SpiffeBundle::parse_any(td.clone(), UNKNOWN_CURVE_CA).unwrap_err(),
        BundleError::UnrepresentableAuthorityKey { index: 0 }
    );
    let x509 = X509Bundle::from_authorities(td.clone(), certs);
    assert_eq!(
        SpiffeBundle::from_parts(x509.clone(), JwtBundle::new(td.clone())).unwrap_err(),
        BundleError::UnrepresentableAuthorityKey { index: 0 }
    );
    let mut bundle = SpiffeBundle::new(td.clone());
    assert_eq!(
        bundle.set_x509_authorities(x509).unwrap_err(),
        BundleError::UnrepresentableAuthorityKey { index: 0 }
    );
    assert!(bundle.x509_authorities().is_empty());
}

/// The unmodified CA still round-trips through a bundle document.
#[test]
fn bundle_12_known_key_round_trips() {
    let td = TrustDomain::new("td").unwrap();
    let pem = include_bytes!("data/bundle/ca-p384.pem");
    let (bundle, format) = SpiffeBundle::parse_any(td.clone(), pem).unwrap();
    assert_eq!(format, BundleFormat::Pem);
    assert_eq!(bundle.x509_authorities().len(), 1);
    assert_eq!(SpiffeBundle::parse(td, &bundle.to_json()).unwrap(), bundle);
}

/// BUNDLE-4: extra top-level members are kept and written back. A number too large for an
/// integer was read as an `f64` by the default (fast, not always exact) float parser, and
/// its written form re-read as a different `f64`, so `parse(to_json(b)) != b`.
#[test]
fn bundle_4_extra_numeric_member_round_trips() {
    let td = TrustDomain::new("td").unwrap();
    let doc = br#"{"keys":[],"spiffe_x":18446744073709554444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444441615,"y":0.30000000000000004}"#;
    let bundle = SpiffeBundle::parse(td.clone(), doc).unwrap();
    assert!(bundle.extra_members().get_u64("spiffe_x").is_none());
    assert!(bundle.extra_members().get_f64("spiffe_x").is_some());
    let again = SpiffeBundle::parse(td.clone(), &bundle.to_json()).unwrap();
    assert_eq!(again, bundle);
    assert_eq!(SpiffeBundle::parse(td, &again.to_json()).unwrap(), bundle);
}
