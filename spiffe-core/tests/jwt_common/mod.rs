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
