//! The JWKS served at `/keys`: the trust domain's JWT authorities as public JWKs, each with the
//! `alg` its key implies (as SPIRE's handler adds) and optionally `"use": "sig"`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};
use spiffe_core::x509::PublicKeyAlgorithm;
use spiffe_core::JwtBundle;

/// The `alg` SPIRE writes for a key (`cryptoutil.JoseAlgFromPublicKey`): RS256 for RSA, and
/// the ECDSA algorithm of the curve.
fn alg_for(algorithm: PublicKeyAlgorithm) -> Option<&'static str> {
    match algorithm {
        PublicKeyAlgorithm::Rsa { .. } => Some("RS256"),
        PublicKeyAlgorithm::EcP256 => Some("ES256"),
        PublicKeyAlgorithm::EcP384 => Some("ES384"),
        PublicKeyAlgorithm::EcP521 => Some("ES512"),
        _ => None,
    }
}

/// One snapshot of the keys, as fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySet {
    /// The public JWKs (`kty`, `kid`, key members, `alg`), in `kid` order. No `use`.
    keys: Vec<Map<String, Value>>,
}

impl KeySet {
    /// The keys of `bundle`: each authority's JWK without `use` (SPIRE clears it), with `alg`.
    pub fn from_bundle(bundle: &JwtBundle) -> Self {
        let mut keys: Vec<Map<String, Value>> = bundle
            .authorities()
            .filter_map(|authority| {
                // The public JWK as spiffe-core parsed it (JSON text is its public view).
                let mut jwk: Map<String, Value> =
                    serde_json::from_str(&authority.jwk().to_json()).ok()?;
                jwk.remove("use");
                match alg_for(authority.public_key_algorithm()) {
                    Some(alg) => {
                        jwk.insert("alg".into(), Value::String(alg.into()));
                    }
                    None => {
                        jwk.remove("alg");
                    }
                }
                Some(jwk)
            })
            .collect();
        keys.sort_by(|a, b| kid(a).cmp(kid(b)));
        KeySet { keys }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys (the server has no JWT authority).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The JWKS document (`{"keys": [...]}`, indented as SPIRE's), with `"use": "sig"` on every
    /// key when `set_key_use`.
    pub fn to_json(&self, set_key_use: bool) -> Vec<u8> {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                let mut k = k.clone();
                if set_key_use {
                    k.insert("use".into(), Value::String("sig".into()));
                }
                Value::Object(k)
            })
            .collect();
        let mut doc = Map::new();
        doc.insert("keys".into(), Value::Array(keys));
        serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default()
    }
}

fn kid(jwk: &Map<String, Value>) -> &str {
    jwk.get("kid").and_then(Value::as_str).unwrap_or("")
}

#[derive(Debug, Default)]
struct State {
    current: Option<(Arc<KeySet>, SystemTime)>,
    last_poll: Option<Instant>,
}

/// What the source last fetched, shared between the poller and the HTTP handlers.
#[derive(Debug, Clone, Default)]
pub struct SharedKeys {
    state: Arc<RwLock<State>>,
}

impl SharedKeys {
    /// Nothing fetched yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a successful poll that returned `keys`; the modification time moves only when
    /// the keys changed. Returns whether they changed.
    pub fn update(&self, keys: KeySet) -> bool {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.last_poll = Some(Instant::now());
        let changed = state
            .current
            .as_ref()
            .is_none_or(|(current, _)| **current != keys);
        if changed {
            state.current = Some((Arc::new(keys), SystemTime::now()));
        }
        changed
    }

    /// The keys and when they last changed, if any poll succeeded.
    pub fn current(&self) -> Option<(Arc<KeySet>, SystemTime)> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .current
            .clone()
    }

    /// When the last poll succeeded.
    pub fn last_successful_poll(&self) -> Option<Instant> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .last_poll
    }
}
