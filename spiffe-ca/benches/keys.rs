//! Raw signing rates: the figures the minting targets are ratios of (issue 3, "Benchmarks").
//!
//! - `raw_p256/sign`: a software P-256 ECDSA (ASN.1) signature with aws-lc-rs. Expected tens of
//!   thousands per second per core (~55k/s measured on this project's machines).
//! - `raw_p256/verify`: a P-256 verification with a pre-parsed key (`ParsedPublicKey`)
//!   (~16k/s).
//! - `pkcs11_sign/p256`: a P-256 signature through SoftHSM2 over PKCS#11 (software hash, token
//!   signs the digest, raw to DER). Reported, no target: it measures the HSM path's overhead.
//!
//! Needs SoftHSM2 (`/usr/lib/softhsm/libsofthsm2.so`, `softhsm2-util`); the bench sets up a
//! private token directory of its own.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::process::Command;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use spiffe_ca::keys::{
    KeyManager, KeyType, PinSource, Pkcs11Config, Pkcs11KeyManager, Signer, SigningScheme,
    SoftwareSigner,
};

const MESSAGE: &[u8] = &[0x5a; 512]; // about the size of a leaf's tbsCertificate

fn raw_p256(c: &mut Criterion) {
    let signer = SoftwareSigner::generate("bench", KeyType::EcP256).expect("generate");
    let sig = signer
        .sign(SigningScheme::EcdsaP256Sha256Asn1, MESSAGE)
        .expect("sign");
    let key = ParsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        signer.public_key().spki_der(),
    )
    .expect("parse SPKI");

    let mut group = c.benchmark_group("raw_p256");
    group.bench_function("sign", |b| {
        b.iter(|| {
            signer
                .sign(SigningScheme::EcdsaP256Sha256Asn1, black_box(MESSAGE))
                .expect("sign")
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            key.verify_sig(black_box(MESSAGE), black_box(&sig))
                .expect("verify")
        })
    });
    group.finish();
}

/// A fresh SoftHSM2 token for this bench run, and a P-256 key on it.
fn softhsm_signer() -> std::sync::Arc<dyn Signer> {
    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    let dir = std::env::temp_dir().join(format!("spiffe-ca-bench-softhsm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).expect("create token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}/tokens\nobjectstore.backend = file\n",
            dir.display()
        ),
    )
    .expect("write softhsm2.conf");
    std::fs::write(dir.join("pin"), "1234\n").expect("write PIN file");
    let status = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "bench"])
        .args(["--pin", "1234", "--so-pin", "5678"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util must be installed (apt-get install softhsm2)");
    assert!(status.status.success(), "init token: {status:?}");
    std::env::set_var("SOFTHSM2_CONF", &conf);

    let config = Pkcs11Config::new(MODULE, "bench", PinSource::File(dir.join("pin")));
    let keys = Pkcs11KeyManager::open(config).expect("open token");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(keys.generate_key("p256", KeyType::EcP256))
        .expect("generate on token")
}

fn pkcs11_sign(c: &mut Criterion) {
    let signer = softhsm_signer();
    let mut group = c.benchmark_group("pkcs11_sign");
    group.bench_function("p256", |b| {
        b.iter(|| {
            signer
                .sign(SigningScheme::EcdsaP256Sha256Asn1, black_box(MESSAGE))
                .expect("sign")
        })
    });
    group.finish();
}

criterion_group!(benches, raw_p256, pkcs11_sign);
criterion_main!(benches);
