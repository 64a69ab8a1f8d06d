//! Cross-check against the `spiffe` crate (0.19). It has no SPIFFE bundle document parser,
//! only an X.509 bundle from DER certificates and a JWT bundle from a JWKS, so we hand it the
//! pieces of what we write and compare authority counts.
//!
//! Differences noted (asserted below, so a change on either side is noticed):
//! - `spiffe::JwtBundle::from_jwt_authorities` requires a `kid` on every JWK and ignores
//!   `use`, so a whole SPIFFE bundle (x509-svid entries have no `kid`, X509-27) fails there;
//!   it wants the jwt-svid keys alone (trap 6).
//! - A jwt-svid key without `kid` (vector #109) fails the whole JWKS there; we skip the key.
#![allow(missing_docs, clippy::unwrap_used)]

mod bundle_common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bundle_common::{data, json, td};
use serde_json::{json, Value};
use spiffe_core::bundle::SpiffeBundle;

fn ours(file: &str) -> (SpiffeBundle, Value) {
    let bundle = SpiffeBundle::parse(td("example.com"), &data(file)).unwrap();
    let written = json(&bundle.to_json());
    (bundle, written)
}

fn keys_with_use(written: &Value, use_: &str) -> Vec<Value> {
    written["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == use_)
        .cloned()
        .collect()
}

fn theirs_td() -> spiffe::TrustDomain {
    spiffe::TrustDomain::new("example.com").unwrap()
}

#[test]
fn spiffe_crate_agrees_on_x509_authorities() {
    for file in [
        "full.json",
        "068-x509-x5c-two-certificates.json",
        "115-unknown-member.json",
    ] {
        let (bundle, written) = ours(file);
        let ders: Vec<Vec<u8>> = keys_with_use(&written, "x509-svid")
            .iter()
            .map(|k| STANDARD.decode(k["x5c"][0].as_str().unwrap()).unwrap())
            .collect();
        let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
        let theirs = spiffe::X509Bundle::from_x509_authorities(theirs_td(), &refs).unwrap();
        assert_eq!(
            theirs.authorities().len(),
            bundle.x509_authorities().len(),
            "{file}"
        );
        for (a, b) in theirs
            .authorities()
            .iter()
            .zip(bundle.x509_authorities().authorities())
        {
            assert_eq!(a.as_ref(), b.der().as_ref(), "{file}");
        }
    }
}

#[test]
fn spiffe_crate_agrees_on_jwt_authorities() {
    for file in [
        "full.json",
        "106-kty-okp-and-unknown.json",
        "109-jwt-without-kid.json",
    ] {
        let (bundle, written) = ours(file);
        let jwks = json!({ "keys": keys_with_use(&written, "jwt-svid") }).to_string();
        let theirs = spiffe::JwtBundle::from_jwt_authorities(theirs_td(), jwks.as_bytes()).unwrap();
        assert_eq!(
            theirs.jwt_authorities().count(),
            bundle.jwt_authorities().len(),
            "{file}"
        );
        for authority in bundle.jwt_authorities().authorities() {
            assert!(
                theirs.find_jwt_authority(authority.kid()).is_some(),
                "{file}"
            );
        }
    }
}

#[test]
fn spiffe_crate_differences() {
    // A whole SPIFFE bundle is not a JWKS of kid-bearing keys.
    let (_, written) = ours("full.json");
    assert!(
        spiffe::JwtBundle::from_jwt_authorities(theirs_td(), written.to_string().as_bytes())
            .is_err()
    );
    // #109: a jwt-svid key without `kid` fails their JWKS; we skip the key.
    let input = json(&data("109-jwt-without-kid.json"));
    assert!(
        spiffe::JwtBundle::from_jwt_authorities(theirs_td(), input.to_string().as_bytes()).is_err()
    );
    let (bundle, _) = ours("109-jwt-without-kid.json");
    assert_eq!(bundle.jwt_authorities().len(), 1);
}
