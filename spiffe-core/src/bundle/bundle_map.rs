use std::collections::btree_map;
use std::collections::BTreeMap;

use serde_json::Value;

use super::strict_json::{self, CheckedValue, PathSegment};
use super::{BundleError, SpiffeBundle};
use crate::json::JsonObject;
use crate::TrustDomain;

const TRUST_DOMAINS: &str = "trust_domains";

/// A SPIFFE Bundle Map (SPIFFE Trust Domain and Bundle §5.1): the bundles of several trust
/// domains in one document, `{"trust_domains": {"example.com": <bundle>, ...}}`.
///
/// Load a map as the complete state of the world (BUNDLE-17): build a new
/// [`BundleSet`](super::BundleSet) from it rather than merging. Bundles inside a map may carry
/// refresh hints (`spiffe_refresh_hint`, or `refresh_hint` as the spec text names it); they are
/// kept as read but mean nothing for the map (BUNDLE-16).
///
/// ```
/// use spiffe_core::bundle::BundleMap;
///
/// let map = BundleMap::parse(br#"{"trust_domains": {"example.com": {"keys": []}}}"#)?;
/// assert_eq!(map.len(), 1);
/// assert!(map.get("example.com").is_some());
/// assert!(BundleMap::parse(br#"{"trust_domains": {"spiffe://example.com": {"keys": []}}}"#).is_err());
/// # Ok::<(), spiffe_core::bundle::BundleError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleMap {
    bundles: BTreeMap<TrustDomain, SpiffeBundle>,
    extra: JsonObject,
}

// === impl BundleMap ===

impl BundleMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a Bundle Map document.
    pub fn parse(json: &[u8]) -> Result<Self, BundleError> {
        Self::from_checked(strict_json::parse(json).map_err(BundleError::json)?)
    }

    /// Reads a document already parsed (duplicate member names are an error, BUNDLE-15).
    pub(super) fn from_checked(checked: CheckedValue) -> Result<Self, BundleError> {
        if let Some(path) = checked.duplicate {
            return Err(duplicate_error(&path));
        }
        let Value::Object(mut document) = checked.value else {
            return Err(BundleError::NotAnObject);
        };
        // BUNDLE-14: `trust_domains` must be present; it may be `{}`.
        let entries = match document.remove(TRUST_DOMAINS) {
            Some(Value::Object(entries)) => entries,
            Some(_) => return Err(BundleError::TrustDomainsNotAnObject),
            None => return Err(BundleError::MissingTrustDomains),
        };
        let mut bundles = BTreeMap::new();
        for (name, value) in entries {
            let trust_domain = map_key(&name)?;
            let (bundle, _) =
                SpiffeBundle::from_value(trust_domain.clone(), value).map_err(|source| {
                    BundleError::MapEntry {
                        trust_domain: trust_domain.clone(),
                        source: Box::new(source),
                    }
                })?;
            bundles.insert(trust_domain, bundle);
        }
        Ok(Self {
            bundles,
            extra: JsonObject::from_map(document),
        })
    }

    /// The document, pretty-printed JSON, keyed by bare trust-domain names.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a `Value` cannot fail: every map key is a string.
        serde_json::to_vec_pretty(&self.to_value()).unwrap_or_default()
    }

    /// The document as compact JSON.
    pub fn to_json_compact(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).unwrap_or_default()
    }

    fn to_value(&self) -> Value {
        let entries = self
            .bundles
            .iter()
            .map(|(td, bundle)| (td.as_str().to_owned(), bundle.to_value()))
            .collect();
        let mut document = self.extra.as_map().clone();
        document.insert(TRUST_DOMAINS.into(), Value::Object(entries));
        Value::Object(document)
    }

    /// Adds or replaces the bundle of its trust domain; returns the replaced one.
    pub fn insert(&mut self, bundle: SpiffeBundle) -> Option<SpiffeBundle> {
        self.bundles.insert(bundle.trust_domain().clone(), bundle)
    }

    /// Removes the bundle of `trust_domain` (a trust-domain name or a [`TrustDomain`]).
    pub fn remove(&mut self, trust_domain: &str) -> Option<SpiffeBundle> {
        self.bundles.remove(trust_domain)
    }

    /// The bundle of `trust_domain` (a trust-domain name or a [`TrustDomain`]).
    pub fn get(&self, trust_domain: &str) -> Option<&SpiffeBundle> {
        self.bundles.get(trust_domain)
    }

    /// The bundles, ordered by trust-domain name.
    pub fn iter(&self) -> btree_map::Values<'_, TrustDomain, SpiffeBundle> {
        self.bundles.values()
    }

    /// Number of trust domains.
    pub fn len(&self) -> usize {
        self.bundles.len()
    }

    /// Whether the map holds no trust domain.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
    }

    /// Top-level members other than `trust_domains`, kept as read.
    pub fn extra_members(&self) -> &JsonObject {
        &self.extra
    }
}

impl FromIterator<SpiffeBundle> for BundleMap {
    fn from_iter<I: IntoIterator<Item = SpiffeBundle>>(bundles: I) -> Self {
        let mut map = Self::new();
        for bundle in bundles {
            map.insert(bundle);
        }
        map
    }
}

impl IntoIterator for BundleMap {
    type Item = SpiffeBundle;
    type IntoIter = btree_map::IntoValues<TrustDomain, SpiffeBundle>;

    fn into_iter(self) -> Self::IntoIter {
        self.bundles.into_values()
    }
}

impl<'a> IntoIterator for &'a BundleMap {
    type Item = &'a SpiffeBundle;
    type IntoIter = btree_map::Values<'a, TrustDomain, SpiffeBundle>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// BUNDLE-14: keys are bare trust-domain names, valid and lowercase, not SPIFFE IDs
/// (trap 9: the Workload API's maps use `spiffe://` keys, the Bundle Map does not).
fn map_key(name: &str) -> Result<TrustDomain, BundleError> {
    if name.contains(':') {
        return Err(BundleError::MapKeyNotBareName);
    }
    TrustDomain::new(name).map_err(BundleError::MapKeyInvalid)
}

fn duplicate_error(path: &[PathSegment]) -> BundleError {
    match path {
        // BUNDLE-15: the same trust domain twice.
        [PathSegment::Member(top), PathSegment::Member(name)] if top == TRUST_DOMAINS => {
            match map_key(name) {
                Ok(trust_domain) => BundleError::DuplicateTrustDomain { trust_domain },
                Err(error) => error,
            }
        }
        // A duplicate inside one trust domain's bundle.
        [PathSegment::Member(top), PathSegment::Member(name), rest @ ..]
            if top == TRUST_DOMAINS =>
        {
            let in_key = match rest {
                [PathSegment::Member(keys), PathSegment::Index(index), _, ..] if keys == "keys" => {
                    Some(*index)
                }
                _ => None,
            };
            match map_key(name) {
                Ok(trust_domain) => BundleError::MapEntry {
                    trust_domain,
                    source: Box::new(BundleError::DuplicateMember { in_key }),
                },
                Err(error) => error,
            }
        }
        _ => BundleError::DuplicateMember { in_key: None },
    }
}
