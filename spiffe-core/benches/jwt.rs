//! JWT-SVID validation, ES256 and RS256.
//!
//! Each token is minted in setup (exp = now + 1h, because the `spiffe` crate reads the system
//! clock) for one audience, with a `kid` that names a key of a two-key JWT bundle.
//!
//! Target (checked by `scripts/bench-report.py`): in `jwt_validate_es256` and
//! `jwt_validate_rs256`, `ours` (`JwtSvid::validate`: decode, header/claims checks, key lookup,
//! signature, lifetime, audience) must reach at least **0.9x** the rate of `raw_verify`, an
//! aws-lc-rs `ParsedPublicKey` check of the same signing input and signature, the key parsed
//! once. `spiffe_crate` (`spiffe::JwtSvid::parse_and_validate`) is measured for comparison.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaKeyPair, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED,
    RSA_PKCS1_2048_8192_SHA256,
};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, TrustDomain};

use common::Signer;

/// Benches one algorithm: `jwk` is the signing key's JWK (kid `k1`), `public` its raw public
/// key for aws-lc-rs, `other` a second JWK in the bundle.
fn bench(
    c: &mut Criterion,
    group: &str,
    (token, input, sig): (String, Vec<u8>, Vec<u8>),
    jwks: Vec<u8>,
    raw: (&'static dyn VerificationAlgorithm, &[u8]),
) {
    let td = TrustDomain::new(common::TRUST_DOMAIN).unwrap();
    let ours = Arc::new(JwtBundle::parse_jwks(td, &jwks).unwrap());
    let opts = JwtValidationOptions::new(UnixTime::now());
    let audiences = [common::AUDIENCE];

    let theirs_td = spiffe::TrustDomain::new(common::TRUST_DOMAIN).unwrap();
    let mut theirs = spiffe::JwtBundleSet::new();
    theirs.add_bundle(spiffe::JwtBundle::from_jwt_authorities(theirs_td, &jwks).unwrap());

    let key = ParsedPublicKey::new(raw.0, raw.1).unwrap();

    // Sanity: all three accept.
    let svid = JwtSvid::validate(&token, &ours, &audiences, &opts).unwrap();
    assert_eq!(svid.spiffe_id().as_str(), common::WORKLOAD_ID);
    spiffe::JwtSvid::parse_and_validate(&token, &theirs, &audiences).unwrap();
    key.verify_sig(&input, &sig).unwrap();

    let mut g = c.benchmark_group(group);
    g.bench_function("ours", |b| {
        b.iter(|| JwtSvid::validate(black_box(&token), &ours, &audiences, &opts).unwrap())
    });
    g.bench_function("spiffe_crate", |b| {
        b.iter(|| {
            spiffe::JwtSvid::parse_and_validate(black_box(&token), &theirs, &audiences).unwrap()
        })
    });
    g.bench_function("raw_verify", |b| {
        b.iter(|| key.verify_sig(black_box(&input), black_box(&sig)).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let other = common::p256_key();
    let other_jwk = common::ec_jwk("k0", "P-256", &other);

    let ec = common::p256_key();
    let jwks = json!({ "keys": [other_jwk, common::ec_jwk("k1", "P-256", &ec)] });
    bench(
        c,
        "jwt_validate_es256",
        common::mint("k1", Signer::Es256(&ec)),
        jwks.to_string().into_bytes(),
        (&ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref()),
    );

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let jwks = json!({ "keys": [other_jwk, common::rsa_jwk("k1", &rsa)] });
    bench(
        c,
        "jwt_validate_rs256",
        common::mint("k1", Signer::Rs256(&rsa)),
        jwks.to_string().into_bytes(),
        (&RSA_PKCS1_2048_8192_SHA256, rsa.public_key().as_ref()),
    );
}

criterion_group!(jwt_benches, benches);
criterion_main!(jwt_benches);
