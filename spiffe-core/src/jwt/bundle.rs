use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{JwtAuthority, JwtBundleError};
use crate::TrustDomain;

/// The JWT-SVID signing keys of one trust domain, by `kid` (BUNDLE-1, JWT-16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBundle {
    trust_domain: TrustDomain,
    authorities: BTreeMap<String, JwtAuthority>,
}

// === impl JwtBundle ===

impl JwtBundle {
    /// An empty bundle: every JWT-SVID of `trust_domain` is untrusted (BUNDLE-9).
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            trust_domain,
            authorities: BTreeMap::new(),
        }
    }

    /// Parses a plain RFC 7517 JWK Set, as the Workload API's `FetchJWTBundles` delivers it
    /// (WAPI-21), into the bundle of `trust_domain`.
    ///
    /// Such a set has no `use` members (trap 6), so every key with a `kid` is taken. JWKs of an
    /// unsupported `kty` or curve are skipped (BUNDLE-8, BUNDLE-12); any other invalid JWK, a
    /// JWK without `kid` (JWT-16) or two JWKs with the same `kid` (vector 110) fail the whole
    /// set. Members besides `keys` are ignored (BUNDLE-4). For a SPIFFE bundle document (with
    /// `use` and `spiffe_*` members) use the bundle-document parser instead.
    ///
    /// ```
    /// use spiffe_core::{JwtBundle, TrustDomain};
    /// let jwks = br#"{"keys":[{"kty":"EC","kid":"k1","crv":"P-256",
    ///     "x":"ngLYQnlfF6GsojUwqtcEE3WgTNG2RUlsGhK73RNEl5k",
    ///     "y":"tKbiDSUSsQ3F1P7wteeHNXIcU-cx6CgSbroeQrQHTLM"}]}"#;
    /// let bundle = JwtBundle::parse_jwks(TrustDomain::new("example.org")?, jwks)?;
    /// assert!(bundle.get("k1").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_jwks(trust_domain: TrustDomain, json: &[u8]) -> Result<Self, JwtBundleError> {
        let document =
            serde_json::from_slice::<Value>(json).map_err(|_| JwtBundleError::NotJsonObject)?;
        Self::from_jwks_value(trust_domain, document)
    }

    /// [`parse_jwks`](Self::parse_jwks) of a document already parsed.
    pub(crate) fn from_jwks_value(
        trust_domain: TrustDomain,
        document: Value,
    ) -> Result<Self, JwtBundleError> {
        let Value::Object(mut doc) = document else {
            return Err(JwtBundleError::NotJsonObject);
        };
        let Some(Value::Array(keys)) = doc.remove("keys") else {
            return Err(JwtBundleError::MissingKeys); // RFC 7517 §5.1
        };
        let mut bundle = Self::new(trust_domain);
        for (index, key) in keys.iter().enumerate() {
            let Value::Object(jwk) = key else {
                return Err(JwtBundleError::KeyNotObject { index });
            };
            // WAPI-17/21: a key published for another use (e.g. the `x509-svid` entries of a
            // SPIFFE bundle document) never becomes a JWT authority. Workload API JWKS carry no
            // `use` at all (trap 6).
            let use_ok = match jwk.get("use") {
                None => true,
                Some(Value::String(u)) => u == "jwt-svid" || u == "sig",
                Some(_) => false,
            };
            if !use_ok {
                continue;
            }
            let authority = match JwtAuthority::from_jwk_map(jwk) {
                Ok(authority) => authority,
                // BUNDLE-12: a key of a type we do not know is ignored, not an error.
                Err(e) if e.is_unsupported() => continue,
                Err(source) => return Err(JwtBundleError::Jwk { index, source }),
            };
            match bundle.authorities.entry(authority.kid().to_owned()) {
                // JWT-16 (vector 110): a repeated kid is ambiguous; reject the set.
                Entry::Occupied(_) => return Err(JwtBundleError::DuplicateKid { index }),
                Entry::Vacant(slot) => {
                    slot.insert(authority);
                }
            }
        }
        Ok(bundle)
    }

    /// Serializes the keys as a plain RFC 7517 JWK Set, `{"keys":[…]}`, each JWK with every
    /// member it was parsed from, ordered by `kid`.
    pub fn to_jwks_json(&self) -> Vec<u8> {
        let keys = self
            .authorities
            .values()
            .map(|a| Value::Object(a.to_jwk().into_map()))
            .collect();
        let mut doc = Map::new();
        doc.insert("keys".to_owned(), Value::Array(keys));
        // Serializing a `Value` cannot fail: its map keys are strings.
        serde_json::to_vec(&Value::Object(doc)).unwrap_or_default()
    }

    /// The trust domain these keys belong to.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Puts the keys under another trust domain's name (a bundle file does not name its own,
    /// BUNDLE-1).
    pub(crate) fn relabel(&mut self, trust_domain: TrustDomain) {
        self.trust_domain = trust_domain;
    }

    /// Adds or replaces the key with the same `kid`; returns the replaced key.
    pub fn insert(&mut self, authority: JwtAuthority) -> Option<JwtAuthority> {
        self.authorities
            .insert(authority.kid().to_owned(), authority)
    }

    /// Removes the key `kid`.
    pub fn remove(&mut self, kid: &str) -> Option<JwtAuthority> {
        self.authorities.remove(kid)
    }

    /// The key `kid`.
    pub fn get(&self, kid: &str) -> Option<&JwtAuthority> {
        self.authorities.get(kid)
    }

    /// The keys, ordered by `kid`.
    pub fn authorities(&self) -> impl ExactSizeIterator<Item = &JwtAuthority> + '_ {
        self.authorities.values()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.authorities.len()
    }

    /// Whether there are no keys (BUNDLE-9).
    pub fn is_empty(&self) -> bool {
        self.authorities.is_empty()
    }
}
