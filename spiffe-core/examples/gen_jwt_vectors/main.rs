//! Generates the JWT-SVID test vectors of `SPIFFE-CONFORMANCE.md` §4.3 (cases 70–100 and a few
//! more) into `spiffe-core/tests/data/jwt/`:
//!
//! - `td.jwks.json`, `td-b.jwks.json`: plain RFC 7517 JWK Sets (as the Workload API sends them)
//!   for trust domains `td` (EC P-256/P-384/P-521 and RSA-2048 keys) and `td-b` (EC P-256);
//! - `vectors.json`: the cases, each with its token, expected audiences, leeway, verdict (`accept`
//!   or the `JwtSvidError` variant name), requirement id and, for accepted tokens, the expected
//!   `sub` and `aud`.
//!
//! Times are fixed: validation happens at `now` = 1700000000; tokens meant to be valid expire in
//! 2100 so independent validators that read the system clock accept them too. Keys are fresh on
//! every run (ECDSA and PSS signatures are randomized anyway), so rerunning rewrites every file.
//!
//! Run: `cargo run -p spiffe-core --example gen_jwt_vectors`
#![allow(clippy::unwrap_used, missing_docs)]

mod cases;
mod claim_cases;
mod header_cases;
mod tokens;

use std::path::PathBuf;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use tokens::{ec_jwk, rsa_jwk, Keys, NOW};

fn main() {
    let keys = Keys {
        ec256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ec384: EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
        ec521: EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_FIXED_SIGNING).unwrap(),
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        b_ec256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ed25519: Ed25519KeyPair::generate().unwrap(),
    };
    let cases = cases::all(&keys);

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt");
    std::fs::create_dir_all(&dir).unwrap();
    let td = json!({"keys": [
        ec_jwk("ec256", "P-256", &keys.ec256),
        ec_jwk("ec384", "P-384", &keys.ec384),
        ec_jwk("ec521", "P-521", &keys.ec521),
        rsa_jwk("rsa", &keys.rsa),
    ]});
    let td_b = json!({"keys": [ec_jwk("b-ec256", "P-256", &keys.b_ec256)]});
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|c| {
            // For accepted tokens, record what a validator must report, read here with plain
            // serde_json rather than the library under test.
            let expected = (c.expect == "accept").then(|| {
                let claims = c.token.split('.').nth(1).unwrap();
                let claims: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
                let aud = match &claims["aud"] {
                    Value::String(s) => json!([s]),
                    other => other.clone(),
                };
                json!({"sub": claims["sub"], "aud": aud})
            });
            json!({
                "expected": expected,
                "id": c.id, "req": c.req, "desc": c.desc, "token": c.token,
                "audience": c.audience, "leeway": c.leeway, "expect": c.expect,
                "spiffe_crate": c.spiffe_crate,
            })
        })
        .collect();
    let vectors = json!({
        "now": NOW,
        "bundles": {"td": "td.jwks.json", "td-b": "td-b.jwks.json"},
        "cases": cases,
    });
    for (name, value) in [
        ("td.jwks.json", td),
        ("td-b.jwks.json", td_b),
        ("vectors.json", vectors),
    ] {
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        std::fs::write(dir.join(name), text).unwrap();
    }
    println!("wrote {}", dir.display());
}
