//! Keyed 64-bit fingerprints of stream messages, so a stream remembers what it last sent
//! without keeping a copy. Map fields are hashed in key order (prost encodes a `HashMap` in
//! its iteration order, which differs between equal maps).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use crate::proto;

/// A message a stream may resend only when changed.
pub(crate) trait Fingerprint {
    /// The fingerprint under `keys` (a per-stream random SipHash key, so no input can be
    /// crafted to collide).
    fn fingerprint(&self, keys: &RandomState) -> u64;
}

fn hash_map(map: &HashMap<String, Vec<u8>>, hasher: &mut impl Hasher) {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries.hash(hasher);
}

impl Fingerprint for proto::X509svidResponse {
    fn fingerprint(&self, keys: &RandomState) -> u64 {
        let mut hasher = keys.build_hasher();
        self.svids.len().hash(&mut hasher);
        for svid in &self.svids {
            svid.spiffe_id.hash(&mut hasher);
            svid.x509_svid.hash(&mut hasher);
            svid.x509_svid_key.hash(&mut hasher);
            svid.bundle.hash(&mut hasher);
            svid.hint.hash(&mut hasher);
        }
        self.crl.hash(&mut hasher);
        hash_map(&self.federated_bundles, &mut hasher);
        hasher.finish()
    }
}

impl Fingerprint for proto::X509BundlesResponse {
    fn fingerprint(&self, keys: &RandomState) -> u64 {
        let mut hasher = keys.build_hasher();
        self.crl.hash(&mut hasher);
        hash_map(&self.bundles, &mut hasher);
        hasher.finish()
    }
}

impl Fingerprint for proto::JwtBundlesResponse {
    fn fingerprint(&self, keys: &RandomState) -> u64 {
        let mut hasher = keys.build_hasher();
        hash_map(&self.bundles, &mut hasher);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svid(key: &[u8]) -> proto::X509svid {
        proto::X509svid {
            spiffe_id: "spiffe://example.org/w".into(),
            x509_svid: vec![1, 2, 3],
            x509_svid_key: key.to_vec(),
            bundle: vec![4],
            hint: String::new(),
        }
    }

    #[test]
    fn equal_messages_match_whatever_the_map_order() {
        let keys = RandomState::new();
        let names: Vec<String> = (0..32).map(|i| format!("spiffe://td{i}")).collect();
        let a: HashMap<_, _> = names
            .iter()
            .map(|n| (n.clone(), n.as_bytes().to_vec()))
            .collect();
        let b: HashMap<_, _> = names
            .iter()
            .rev()
            .map(|n| (n.clone(), n.as_bytes().to_vec()))
            .collect();
        let a = proto::JwtBundlesResponse { bundles: a };
        let b = proto::JwtBundlesResponse { bundles: b };
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(&keys), b.fingerprint(&keys));
    }

    #[test]
    fn any_changed_field_changes_the_fingerprint() {
        let keys = RandomState::new();
        let base = proto::X509svidResponse {
            svids: vec![svid(&[9])],
            crl: Vec::new(),
            federated_bundles: HashMap::new(),
        };
        let mut rotated = base.clone();
        rotated.svids[0].x509_svid_key = vec![8];
        let mut federated = base.clone();
        federated
            .federated_bundles
            .insert("spiffe://other.org".into(), vec![5]);
        let mut hinted = base.clone();
        hinted.svids[0].hint = "main".into();
        let mut two = base.clone();
        two.svids.push(svid(&[9]));
        let prints: Vec<u64> = [&base, &rotated, &federated, &hinted, &two]
            .iter()
            .map(|m| m.fingerprint(&keys))
            .collect();
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(base.fingerprint(&keys), base.clone().fingerprint(&keys));
    }
}
