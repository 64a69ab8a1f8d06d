//! Helpers shared by the bundle tests: the checked-in test data of `tests/data/bundle/`.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::{Map, Value};
use spiffe_core::json::JsonObject;
use spiffe_core::{JwtAuthority, JwtBundle, TrustDomain, X509Bundle};

pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bundle")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).unwrap()
}

/// `ca-p256`, `ca-p384`, `ca-rsa`.
pub(crate) fn roots(trust_domain: &TrustDomain, names: &[&str]) -> X509Bundle {
    if names.is_empty() {
        return X509Bundle::new(trust_domain.clone());
    }
    let mut pem = Vec::new();
    for name in names {
        pem.extend(data(&format!("ca-{name}.pem")));
    }
    X509Bundle::parse_pem(trust_domain.clone(), &pem).unwrap()
}

/// `jwk-ec-p256` (kid `ec256`), `jwk-ec-p384` (kid `ec384`), `jwk-rsa` (kid `rsa`).
pub(crate) fn jwk(name: &str) -> Map<String, Value> {
    serde_json::from_slice(&data(&format!("jwk-{name}.json"))).unwrap()
}

pub(crate) fn jwt_bundle(trust_domain: &TrustDomain, names: &[&str]) -> JwtBundle {
    let mut bundle = JwtBundle::new(trust_domain.clone());
    for name in names {
        let jwk = JsonObject::from_json(&serde_json::to_vec(&jwk(name)).unwrap()).unwrap();
        bundle.insert(JwtAuthority::from_jwk(&jwk).unwrap());
    }
    bundle
}

pub(crate) fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}
