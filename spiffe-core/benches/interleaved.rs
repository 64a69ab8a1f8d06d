//! The targets of `jwt.rs` and `x509.rs`, measured interleaved: for each pair (ours and what
//! the target compares it with), rounds of one and of the other in turn, each round timed in
//! the thread's own CPU time (`/proc/thread-self/schedstat`, wall time where that file is
//! missing), so that other processes on a shared machine slow both alike and time spent
//! waiting for a CPU is not counted. The kernel advances that counter at scheduler ticks (4 ms
//! at 250 Hz), so a round lasts ~100 ms; the median of 31 rounds is printed, with the ratio of
//! rates the target uses. On a shared machine these ratios are steadier than those of
//! criterion's sequential groups.
//!
//! Targets: JWT-SVID validate (ES256, RS256) and X.509-SVID verify (parsed, from DER) at least
//! **0.9x** the bare aws-lc-rs signature check; X.509-SVID parse at least **2x** the `spiffe`
//! crate.
//!
//! `cargo bench -p spiffe-core --bench interleaved` (under `cargo test --benches`, a smoke run
//! that times nothing).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RsaKeyPair, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED,
    RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::json;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{x509, Certificate, JwtBundle, TrustDomain, X509Bundle, X509Svid};

use common::Signer;

/// One target: ours, and what it is compared with (the ratio printed is `theirs / ours` in
/// time, i.e. our rate over theirs).
struct Pair<'a> {
    name: &'static str,
    ours: Box<dyn FnMut() + 'a>,
    theirs_name: &'static str,
    theirs: Box<dyn FnMut() + 'a>,
    required: f64,
}

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
    let rounds = if bench { 31 } else { 1 };

    // JWT-SVIDs: a token for one audience, its `kid` naming one of the bundle's two keys.
    let td = TrustDomain::new(common::TRUST_DOMAIN).unwrap();
    let other = common::ec_jwk("k0", "P-256", &common::p256_key());
    let ec = common::p256_key();
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let es256 = common::mint("k1", Signer::Es256(&ec));
    let rs256 = common::mint("k1", Signer::Rs256(&rsa));
    let es_bundle = Arc::new(
        JwtBundle::parse_jwks(
            td.clone(),
            json!({ "keys": [other, common::ec_jwk("k1", "P-256", &ec)] })
                .to_string()
                .as_bytes(),
        )
        .unwrap(),
    );
    let rs_bundle = Arc::new(
        JwtBundle::parse_jwks(
            td.clone(),
            json!({ "keys": [other, common::rsa_jwk("k1", &rsa)] })
                .to_string()
                .as_bytes(),
        )
        .unwrap(),
    );
    let es_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref()).unwrap();
    let rs_key =
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa.public_key().as_ref()).unwrap();
    let opts = JwtValidationOptions::new(UnixTime::now());
    let audiences = [common::AUDIENCE];

    // X.509-SVIDs: the fixture of `x509.rs`.
    let f = common::svid::fixture();
    let ca = Certificate::from_der(CertificateDer::from(f.ca_der.clone())).unwrap();
    let x509_bundle = Arc::new(X509Bundle::from_authorities(td, vec![ca]));
    let leaf = Certificate::from_der(CertificateDer::from(f.leaf_der.clone())).unwrap();
    let chain = [leaf];
    let chain_der = [CertificateDer::from(f.leaf_der.clone())];
    let (tbs, sig) = common::tbs_and_signature(&f.leaf_der);
    let ca_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &f.ca_point).unwrap();
    let now = UnixTime::now();

    let jwt = |token: &'static str, bundle: &Arc<JwtBundle>| {
        let bundle = bundle.clone();
        let token = token.to_owned();
        Box::new(move || {
            black_box(JwtSvid::validate(black_box(&token), &bundle, &audiences, &opts).unwrap());
        }) as Box<dyn FnMut()>
    };
    let raw = |key: &'static ParsedPublicKey, input: &'static [u8], sig: &'static [u8]| {
        Box::new(move || key.verify_sig(black_box(input), black_box(sig)).unwrap())
            as Box<dyn FnMut()>
    };
    // The fixtures live for the whole run.
    let leak = |v: Vec<u8>| -> &'static [u8] { Vec::leak(v) };
    let es_key: &'static ParsedPublicKey = Box::leak(Box::new(es_key));
    let rs_key: &'static ParsedPublicKey = Box::leak(Box::new(rs_key));
    let es_token: &'static str = String::leak(es256.0);
    let rs_token: &'static str = String::leak(rs256.0);

    let pairs = vec![
        Pair {
            name: "jwt_validate_es256",
            ours: jwt(es_token, &es_bundle),
            theirs_name: "raw_verify",
            theirs: raw(es_key, leak(es256.1), leak(es256.2)),
            required: 0.9,
        },
        Pair {
            name: "jwt_validate_rs256",
            ours: jwt(rs_token, &rs_bundle),
            theirs_name: "raw_verify",
            theirs: raw(rs_key, leak(rs256.1), leak(rs256.2)),
            required: 0.9,
        },
        Pair {
            name: "x509_svid_verify (ours)",
            ours: Box::new(|| {
                black_box(x509::verify_parsed(black_box(&chain), &x509_bundle, now).unwrap());
            }),
            theirs_name: "raw_verify",
            theirs: Box::new(|| ca_key.verify_sig(black_box(tbs), black_box(sig)).unwrap()),
            required: 0.9,
        },
        Pair {
            name: "x509_svid_verify (parse_and_verify)",
            ours: Box::new(|| {
                black_box(x509::verify(black_box(&chain_der), &x509_bundle, now).unwrap());
            }),
            theirs_name: "raw_verify",
            theirs: Box::new(|| ca_key.verify_sig(black_box(tbs), black_box(sig)).unwrap()),
            required: 0.9,
        },
        Pair {
            name: "x509_svid_parse",
            ours: Box::new(|| {
                black_box(X509Svid::parse_der(black_box(&f.leaf_der), &f.key_der).unwrap());
            }),
            theirs_name: "spiffe_crate",
            theirs: Box::new(|| {
                black_box(
                    spiffe::X509Svid::parse_from_der(black_box(&f.leaf_der), &f.key_der).unwrap(),
                );
            }),
            required: 2.0,
        },
    ];

    for mut pair in pairs {
        // Calibrate: about 100 ms of `ours` per round.
        let per_round = if bench {
            let start = Instant::now();
            for _ in 0..50 {
                (pair.ours)();
            }
            (0.1 / (start.elapsed().as_secs_f64() / 50.0)).max(1.0) as u32
        } else {
            2
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for (run, samples) in [(&mut pair.ours, &mut ours), (&mut pair.theirs, &mut theirs)] {
                let start = cpu_ns();
                for _ in 0..per_round {
                    run();
                }
                samples.push((cpu_ns() - start) as f64 / 1e3 / f64::from(per_round));
            }
        }
        if !bench {
            continue; // a smoke run: too short to time
        }
        let (ours, theirs) = (median(&mut ours), median(&mut theirs));
        let ratio = theirs / ours;
        println!(
            "{}: ours {ours:.2} µs  {} {theirs:.2} µs  ratio {ratio:.3} (≥ {}: {})",
            pair.name,
            pair.theirs_name,
            pair.required,
            if ratio >= pair.required {
                "PASS"
            } else {
                "FAIL"
            }
        );
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
