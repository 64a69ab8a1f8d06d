//! JWT-SVIDs cached per (audience set, SPIFFE ID) until half their remaining life is gone.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, UnverifiedJwtSvid};

use crate::provider::JwtSvidEntry;

/// The most cached requests; beyond it the entry due soonest is dropped.
const MAX_ENTRIES: usize = 256;

/// A cache of fetched JWT-SVIDs. An answer is reused until the midpoint between its fetch and
/// the earliest `exp` of its tokens, so callers never get a token close to expiry. Pure: the
/// time is passed in.
#[derive(Debug, Default)]
pub(super) struct JwtSvidCache {
    entries: HashMap<Key, Entry>,
}

/// The audience as a set (order and duplicates do not change the tokens' use) and the
/// requested identity.
type Key = (BTreeSet<String>, Option<SpiffeId>);

#[derive(Debug)]
struct Entry {
    svids: Vec<JwtSvidEntry>,
    refresh_at: Duration,
}

// === impl JwtSvidCache ===

impl JwtSvidCache {
    /// An empty cache.
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The cached answer for `audience` and `spiffe_id`, if still fresh at `now`.
    pub(super) fn get(
        &self,
        audience: &[&str],
        spiffe_id: Option<&SpiffeId>,
        now: UnixTime,
    ) -> Option<Vec<JwtSvidEntry>> {
        let entry = self.entries.get(&key(audience, spiffe_id))?;
        (since_epoch(now) < entry.refresh_at).then(|| entry.svids.clone())
    }

    /// Caches `svids`, fetched at `now`, for `audience` and `spiffe_id`. Tokens whose expiry
    /// cannot be read are not cached.
    pub(super) fn insert(
        &mut self,
        audience: &[&str],
        spiffe_id: Option<&SpiffeId>,
        svids: &[JwtSvidEntry],
        now: UnixTime,
    ) {
        let mut earliest: Option<Duration> = None;
        for svid in svids {
            let Ok(parsed) = UnverifiedJwtSvid::parse_insecure(&svid.token) else {
                return;
            };
            let expiry = since_epoch(parsed.expiry());
            earliest = Some(earliest.map_or(expiry, |e| e.min(expiry)));
        }
        let Some(expiry) = earliest else {
            return;
        };
        let now = since_epoch(now);
        let refresh_at = now + expiry.saturating_sub(now) / 2;
        if refresh_at <= now {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.evict(now);
        }
        self.entries.insert(
            key(audience, spiffe_id),
            Entry {
                svids: svids.to_vec(),
                refresh_at,
            },
        );
    }

    /// How many requests are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops everything, e.g. after the identity was redacted.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    fn evict(&mut self, now: Duration) {
        self.entries.retain(|_, entry| entry.refresh_at > now);
        if self.entries.len() >= MAX_ENTRIES {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.refresh_at)
                .map(|(key, _)| key.clone());
            if let Some(key) = soonest {
                self.entries.remove(&key);
            }
        }
    }
}

fn key(audience: &[&str], spiffe_id: Option<&SpiffeId>) -> Key {
    (
        audience.iter().map(|a| (*a).to_owned()).collect(),
        spiffe_id.cloned(),
    )
}

fn since_epoch(time: UnixTime) -> Duration {
    Duration::from_secs(time.as_secs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    /// An unsigned-looking token with the given expiry (the cache never checks signatures).
    fn entry(exp: u64) -> JwtSvidEntry {
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = b64(&serde_json::json!({"alg": "ES256", "kid": "k", "typ": "JWT"}));
        let claims = b64(&serde_json::json!({
            "sub": "spiffe://example.org/w", "aud": ["a"], "exp": exp
        }));
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 64]);
        JwtSvidEntry {
            spiffe_id: SpiffeId::new("spiffe://example.org/w").unwrap(),
            token: format!("{header}.{claims}.{signature}"),
            hint: String::new(),
        }
    }

    #[test]
    fn fresh_until_half_life() {
        let mut cache = JwtSvidCache::new();
        cache.insert(&["a", "b"], None, &[entry(1300)], at(1000));
        // Audience order and duplicates do not matter.
        assert!(cache.get(&["b", "a", "a"], None, at(1000)).is_some());
        assert!(cache.get(&["a", "b"], None, at(1149)).is_some());
        assert!(cache.get(&["a", "b"], None, at(1150)).is_none());
        // Other audiences or identities are other entries.
        assert!(cache.get(&["a"], None, at(1000)).is_none());
        let id = SpiffeId::new("spiffe://example.org/w").unwrap();
        assert!(cache.get(&["a", "b"], Some(&id), at(1000)).is_none());
    }

    #[test]
    fn earliest_expiry_wins_and_expired_is_not_cached() {
        let mut cache = JwtSvidCache::new();
        cache.insert(&["a"], None, &[entry(2000), entry(1100)], at(1000));
        assert!(cache.get(&["a"], None, at(1049)).is_some());
        assert!(cache.get(&["a"], None, at(1050)).is_none());
        cache.insert(&["x"], None, &[entry(900)], at(1000));
        assert!(cache.get(&["x"], None, at(1000)).is_none());
        let garbage = JwtSvidEntry {
            token: "x.y.z".into(),
            ..entry(2000)
        };
        cache.insert(&["g"], None, &[garbage], at(1000));
        assert!(cache.get(&["g"], None, at(1000)).is_none());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn size_is_bounded() {
        let mut cache = JwtSvidCache::new();
        let svid = entry(10_000);
        for i in 0..(MAX_ENTRIES + 50) {
            let aud = format!("aud-{i}");
            cache.insert(&[aud.as_str()], None, std::slice::from_ref(&svid), at(1000));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        let last = format!("aud-{}", MAX_ENTRIES + 49);
        assert!(cache.get(&[last.as_str()], None, at(1000)).is_some());
    }
}
