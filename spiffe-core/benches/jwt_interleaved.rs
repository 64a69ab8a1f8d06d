//! The JWT-SVID validation of `jwt.rs`, measured interleaved: rounds of `JwtSvid::validate`
//! and of the bare aws-lc-rs signature check in turn, each round timed in the thread's own CPU
//! time (`/proc/thread-self/schedstat`, wall time where that file is missing), so that other
//! processes on a shared machine slow both alike and time spent waiting for a CPU is not
//! counted. The kernel advances that counter at scheduler ticks (4 ms at 250 Hz), so a round
//! lasts ~100 ms and the median of 31 rounds is taken. Prints each one's median round (µs per validation) and the ratio of rates the
//! target uses (`ours` at least **0.9x** `raw_verify`). On a shared machine these ratios are
//! steadier than those of criterion's sequential groups.
//!
//! `cargo bench -p spiffe-core --bench jwt_interleaved` (under `cargo test --benches`, one
//! short round).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RsaKeyPair, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::json;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, TrustDomain};

use common::Signer;

/// Nanoseconds of CPU time this thread has run, or of wall time without schedstat.
fn cpu_ns() -> u128 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| START.get_or_init(Instant::now).elapsed().as_nanos())
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    // Validations per round, about 100 ms each (ES256 ~35 µs, RS256 ~13 µs on a quiet machine).
    let (rounds, per_round) = if bench {
        (31, [3000, 8000])
    } else {
        (1, [2, 2])
    };

    let other = common::p256_key();
    let other_jwk = common::ec_jwk("k0", "P-256", &other);
    let ec = common::p256_key();
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let cases = [
        (
            "jwt_validate_es256",
            common::mint("k1", Signer::Es256(&ec)),
            json!({ "keys": [other_jwk, common::ec_jwk("k1", "P-256", &ec)] }),
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref()).unwrap(),
        ),
        (
            "jwt_validate_rs256",
            common::mint("k1", Signer::Rs256(&rsa)),
            json!({ "keys": [other_jwk, common::rsa_jwk("k1", &rsa)] }),
            ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa.public_key().as_ref()).unwrap(),
        ),
    ];
    let opts = JwtValidationOptions::new(UnixTime::now());
    let audiences = [common::AUDIENCE];
    for ((group, (token, input, sig), jwks, key), per_round) in cases.iter().zip(per_round) {
        let td = TrustDomain::new(common::TRUST_DOMAIN).unwrap();
        let bundle = Arc::new(JwtBundle::parse_jwks(td, jwks.to_string().as_bytes()).unwrap());
        JwtSvid::validate(token, &bundle, &audiences, &opts).unwrap();
        key.verify_sig(input, sig).unwrap();

        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let start = cpu_ns();
            for _ in 0..per_round {
                black_box(JwtSvid::validate(black_box(token), &bundle, &audiences, &opts).unwrap());
            }
            ours.push((cpu_ns() - start) as f64 / 1e3 / f64::from(per_round));
            let start = cpu_ns();
            for _ in 0..per_round {
                key.verify_sig(black_box(input), black_box(sig)).unwrap();
            }
            raw.push((cpu_ns() - start) as f64 / 1e3 / f64::from(per_round));
        }
        let (ours, raw) = (median(&mut ours), median(&mut raw));
        if !bench {
            continue; // a smoke run: too short to time
        }
        println!(
            "{group}: ours {ours:.2} µs  raw_verify {raw:.2} µs  ratio {:.3} (target ≥ 0.9)",
            raw / ours
        );
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
