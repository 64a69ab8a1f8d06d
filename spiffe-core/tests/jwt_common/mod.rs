//! Shared loading of the JWT-SVID vectors in `tests/data/jwt/`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use spiffe_core::jwt::JwtSvidError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, JwtBundleSource, TrustDomain};

/// Bundles by trust domain, as a validator holds them.
#[derive(Default)]
pub struct Bundles(pub HashMap<TrustDomain, Arc<JwtBundle>>);

impl JwtBundleSource for Bundles {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        self.0.get(trust_domain).cloned()
    }
}

#[derive(Deserialize)]
pub struct Case {
    pub id: String,
    pub req: String,
    pub desc: String,
    pub token: String,
    pub audience: Vec<String>,
    pub leeway: u64,
    pub expect: String,
    pub spiffe_crate: bool,
    pub expected: Option<Expected>,
}

#[derive(Deserialize)]
pub struct Expected {
    pub sub: String,
    pub aud: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    now: u64,
    bundles: HashMap<String, String>,
    cases: Vec<Case>,
}

pub struct Vectors {
    pub now: UnixTime,
    pub bundles: Bundles,
    /// The JWKS bytes by trust-domain name.
    pub jwks: HashMap<String, Vec<u8>>,
    pub cases: Vec<Case>,
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt")
}

pub fn load_vectors() -> Vectors {
    let dir = data_dir();
    let file: File =
        serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let mut bundles = Bundles::default();
    let mut jwks = HashMap::new();
    for (td, name) in &file.bundles {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let td = TrustDomain::new(td).unwrap();
        let bundle = JwtBundle::parse_jwks(td.clone(), &bytes).unwrap();
        bundles.0.insert(td.clone(), Arc::new(bundle));
        jwks.insert(td.as_str().to_owned(), bytes);
    }
    Vectors {
        now: UnixTime::since_unix_epoch(Duration::from_secs(file.now)),
        bundles,
        jwks,
        cases: file.cases,
    }
}

/// The variant name of an error, e.g. `UnsupportedAlgorithm`.
pub fn error_kind(e: &JwtSvidError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The case `id` of the vector table.
pub fn case<'a>(vectors: &'a Vectors, id: &str) -> &'a Case {
    vectors
        .cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

/// Validates vector `id` as its table entry says (audiences, leeway, time).
pub fn validate_case(
    vectors: &Vectors,
    id: &str,
) -> Result<spiffe_core::jwt::JwtSvid, JwtSvidError> {
    let case = case(vectors, id);
    let opts = spiffe_core::jwt::JwtValidationOptions::new(vectors.now)
        .with_leeway(Duration::from_secs(case.leeway));
    let audiences: Vec<&str> = case.audience.iter().map(String::as_str).collect();
    spiffe_core::jwt::JwtSvid::validate(&case.token, &vectors.bundles, &audiences, &opts)
}

/// A test issuer: a fresh P-256 key with kid `k1` and the JWT bundle holding it.
pub struct Issuer {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    pub bundle: Arc<JwtBundle>,
}

impl Issuer {
    pub fn new(trust_domain: &str) -> Self {
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = key.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "kid": "k1", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]});
        let td = TrustDomain::new(trust_domain).unwrap();
        let bundle = JwtBundle::parse_jwks(td, jwks.to_string().as_bytes()).unwrap();
        Self {
            key,
            bundle: Arc::new(bundle),
        }
    }

    /// Signs `claims` (JSON text) under `header` (JSON text) with ES256.
    pub fn sign(&self, header: &str, claims: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.key.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// Signs `claims` under the usual header `{"alg":"ES256","kid":"k1","typ":"JWT"}`.
    pub fn sign_claims(&self, claims: &str) -> String {
        self.sign(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#, claims)
    }
}
