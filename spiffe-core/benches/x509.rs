//! X.509-SVID parsing and verification.
//!
//! The SVID is what a workload gets from the Workload API: a P-256 leaf (one SPIFFE ID URI SAN,
//! keyUsage digitalSignature, extendedKeyUsage serverAuth + clientAuth) signed by a P-256 CA,
//! as concatenated DER, and the leaf's PKCS#8 key. Generated once per run with rcgen.
//!
//! Targets (checked by `scripts/bench-report.py`):
//! - `x509_svid_parse`: `ours` must reach at least **2x** the rate of `spiffe_crate`.
//!   (`spiffe_crate_key_checked`, `ours_first_sight_of_key` and `certificate_only` are for
//!   information.) `ours` parses the same SVID and key again and again, as a workload does
//!   each time the Workload API resends them; the key's secret is checked against the public
//!   half it carries the first time only. `ours_first_sight_of_key` cycles through more keys
//!   than that memory holds, so every parse pays the check (a P-256 base-point
//!   multiplication).
//! - `x509_svid_verify`: `ours` (already parsed chain) and `parse_and_verify` (from DER) must
//!   each reach at least **0.9x** the rate of `raw_verify`, a single aws-lc-rs P-256 signature
//!   check of the leaf with the CA key parsed once, the backend's best case. The `spiffe` crate
//!   has no chain verification, so it does not appear here.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::svid::{fixture, fresh_svids, Fixture};

use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ParsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use criterion::{criterion_group, criterion_main, Criterion};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{x509, Certificate, TrustDomain, X509Bundle, X509Svid};

fn x509_svid_parse(c: &mut Criterion, f: &Fixture) {
    // Sanity: both accept the SVID.
    assert!(X509Svid::parse_der(&f.leaf_der, &f.key_der).is_ok());
    assert!(spiffe::X509Svid::parse_from_der(&f.leaf_der, &f.key_der).is_ok());

    let mut g = c.benchmark_group("x509_svid_parse");
    g.bench_function("ours", |b| {
        b.iter(|| X509Svid::parse_der(black_box(&f.leaf_der), black_box(&f.key_der)).unwrap())
    });
    g.bench_function("spiffe_crate", |b| {
        b.iter(|| {
            spiffe::X509Svid::parse_from_der(black_box(&f.leaf_der), black_box(&f.key_der)).unwrap()
        })
    });
    // Information: the `spiffe` crate does not check that the key belongs to the leaf (it only
    // checks the PKCS#8 framing); this adds the check `ours` does (WAPI-13: load the key with
    // aws-lc-rs, which multiplies out its public point, and compare it with the leaf's key), so
    // the two do the same work.
    g.bench_function("spiffe_crate_key_checked", |b| {
        b.iter(|| {
            let svid =
                spiffe::X509Svid::parse_from_der(black_box(&f.leaf_der), black_box(&f.key_der))
                    .unwrap();
            let key = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                svid.private_key().as_ref(),
            )
            .unwrap();
            assert_eq!(key.public_key().as_ref(), &f.leaf_point[..]);
            svid
        })
    });
    let fresh = fresh_svids(f, 2048);
    let mut next = 0;
    g.bench_function("ours_first_sight_of_key", |b| {
        b.iter(|| {
            let (leaf, key) = &fresh[next % fresh.len()];
            next += 1;
            X509Svid::parse_der(black_box(leaf), black_box(key)).unwrap()
        })
    });
    g.bench_function("certificate_only", |b| {
        b.iter(|| {
            Certificate::from_der(CertificateDer::from(black_box(&f.leaf_der[..]).to_vec()))
                .unwrap()
        })
    });
    g.finish();
}

fn x509_svid_verify(c: &mut Criterion, f: &Fixture) {
    let td = TrustDomain::new(common::TRUST_DOMAIN).unwrap();
    let ca = Certificate::from_der(CertificateDer::from(f.ca_der.clone())).unwrap();
    let bundle = Arc::new(X509Bundle::from_authorities(td, vec![ca]));
    let leaf = Certificate::from_der(CertificateDer::from(f.leaf_der.clone())).unwrap();
    let chain = [leaf];
    let chain_der = [CertificateDer::from(f.leaf_der.clone())];
    let now = UnixTime::now();
    let (tbs, sig) = common::tbs_and_signature(&f.leaf_der);
    let ca_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &f.ca_point).unwrap();

    // Sanity: all three accept.
    let verified = x509::verify_parsed(&chain, &bundle, now).unwrap();
    assert_eq!(verified.spiffe_id().as_str(), common::WORKLOAD_ID);
    assert!(x509::verify(&chain_der, &bundle, now).is_ok());
    assert!(ca_key.verify_sig(tbs, sig).is_ok());

    let mut g = c.benchmark_group("x509_svid_verify");
    g.bench_function("ours", |b| {
        b.iter(|| x509::verify_parsed(black_box(&chain), &bundle, now).unwrap())
    });
    g.bench_function("parse_and_verify", |b| {
        b.iter(|| x509::verify(black_box(&chain_der), &bundle, now).unwrap())
    });
    g.bench_function("raw_verify", |b| {
        b.iter(|| ca_key.verify_sig(black_box(tbs), black_box(sig)).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    x509_svid_parse(c, &f);
    x509_svid_verify(c, &f);
}

criterion_group!(x509_benches, benches);
criterion_main!(x509_benches);
