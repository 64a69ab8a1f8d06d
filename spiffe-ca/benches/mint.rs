//! Minting throughput against the raw signature rates of the same run (issue 3's targets, as
//! ratios so they hold on any machine):
//! - `x509_from_public_key` ≥ 0.7 × the `raw_sign_p256` rate;
//! - `jwt_es256` ≥ 0.8 × the `raw_sign_p256` rate;
//! - `x509_from_csr` ≥ 0.8 × 1/(1/sign + 1/verify), since it also checks the CSR's signature.
//!
//! Run: `cargo bench -p spiffe-ca --bench mint -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
use criterion::{criterion_group, criterion_main, Criterion};
use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, Signer, SigningScheme, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::json::JsonObject;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

fn mint(c: &mut Criterion) {
    let now = UnixTime::now();
    let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 86_400));
    let td = TrustDomain::new("example.org").unwrap();
    let id = SpiffeId::new("spiffe://example.org/ns/default/sa/web").unwrap();
    let ca_key: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    let ca = X509SvidIssuer::self_signed(&td, ca_key.clone(), now, later).unwrap();
    let jwt = JwtSvidIssuer::new(&td, ca_key.clone(), later).unwrap();
    let workload = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let request =
        X509SvidRequest::new(id.clone(), workload.public_key(), Duration::from_secs(3600));
    let csr_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&csr_key)
        .unwrap();
    let csr = csr.der().to_vec();

    // A message the size of a leaf's TBSCertificate.
    let message = vec![0x5a; 420];
    let signature = ca_key
        .sign(SigningScheme::EcdsaP256Sha256Asn1, &message)
        .unwrap();
    let spki = ca_key.public_key().spki_der();
    let point = &spki[spki.len() - 65..];

    let mut group = c.benchmark_group("mint");
    group.bench_function("raw_sign_p256", |b| {
        b.iter(|| {
            ca_key
                .sign(SigningScheme::EcdsaP256Sha256Asn1, black_box(&message))
                .unwrap()
        })
    });
    group.bench_function("raw_verify_p256", |b| {
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).unwrap();
        b.iter(|| key.verify_sig(black_box(&message), &signature).unwrap())
    });
    group.bench_function("x509_from_public_key", |b| {
        b.iter(|| ca.mint(black_box(&request), now).unwrap())
    });
    group.bench_function("x509_from_csr", |b| {
        b.iter(|| {
            ca.mint_from_csr(black_box(&csr), id.clone(), Duration::from_secs(3600), now)
                .unwrap()
        })
    });
    group.bench_function("jwt_es256", |b| {
        let extra = JsonObject::new();
        b.iter(|| {
            jwt.mint(
                &id,
                &["api"],
                Duration::from_secs(300),
                black_box(&extra),
                now,
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, mint);
criterion_main!(benches);
