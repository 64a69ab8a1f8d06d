//! Trust bundle parsing.
//!
//! - `spiffe_bundle_json`: a SPIFFE bundle document (`tests/data/bundle/full.json`: P-256,
//!   P-384 and RSA X.509 authorities, P-256, P-384 and RSA JWT authorities, sequence and
//!   refresh hint) through `SpiffeBundle::parse`.
//! - `jwks_ours` / `jwks_spiffe_crate`: the plain JWK Set the Workload API delivers, with the
//!   same three JWT keys, through `JwtBundle::parse_jwks` and
//!   `spiffe::JwtBundle::from_jwt_authorities`.
//!
//! No target figure: bundles are parsed when they change, not per handshake; this bench guards
//! against regressions and keeps the comparison honest.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use spiffe_core::{JwtBundle, SpiffeBundle, TrustDomain};

const FULL: &[u8] = include_bytes!("../tests/data/bundle/full.json");
const TRUST_DOMAIN: &str = "example.com";

fn bundle_parse(c: &mut Criterion) {
    // The JWT keys of the document, without `use`, as a plain JWKS.
    let doc: Value = serde_json::from_slice(FULL).unwrap();
    let keys: Vec<Value> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == "jwt-svid")
        .map(|k| {
            let mut k = k.clone();
            k.as_object_mut().unwrap().remove("use");
            k
        })
        .collect();
    assert_eq!(keys.len(), 3);
    let jwks = json!({ "keys": keys }).to_string().into_bytes();

    let td = TrustDomain::new(TRUST_DOMAIN).unwrap();
    let theirs_td = spiffe::TrustDomain::new(TRUST_DOMAIN).unwrap();

    // Sanity: everything parses, with all keys.
    let bundle = SpiffeBundle::parse(td.clone(), FULL).unwrap();
    assert_eq!(bundle.x509_authorities().len(), 3);
    assert_eq!(JwtBundle::parse_jwks(td.clone(), &jwks).unwrap().len(), 3);
    let theirs = spiffe::JwtBundle::from_jwt_authorities(theirs_td.clone(), &jwks).unwrap();
    assert_eq!(theirs.jwt_authorities().count(), 3);

    let mut g = c.benchmark_group("bundle_parse");
    g.bench_function("spiffe_bundle_json", |b| {
        b.iter(|| SpiffeBundle::parse(td.clone(), black_box(FULL)).unwrap())
    });
    g.bench_function("jwks_ours", |b| {
        b.iter(|| JwtBundle::parse_jwks(td.clone(), black_box(&jwks)).unwrap())
    });
    g.bench_function("jwks_spiffe_crate", |b| {
        b.iter(|| {
            spiffe::JwtBundle::from_jwt_authorities(theirs_td.clone(), black_box(&jwks)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bundle_parse);
criterion_main!(benches);
