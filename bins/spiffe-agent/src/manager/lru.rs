//! A map bounded by a least-recently-used policy: a hash map for lookups and an ordered map
//! from use ticks to keys for eviction, both O(log n) per operation.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// At most `capacity` values; inserting beyond it evicts the least recently used.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    capacity: usize,
    tick: u64,
    values: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
}

// === impl Lru ===

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            tick: 0,
            values: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The value of `key`, now the most recently used.
    pub(crate) fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.tick += 1;
        let tick = self.tick;
        let (value, used) = self.values.get_mut(key)?;
        if let Some(k) = self.order.remove(used) {
            self.order.insert(tick, k);
        }
        *used = tick;
        Some(value)
    }

    /// Inserts `value` as the most recently used; returns the values evicted to make room.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<V> {
        self.tick += 1;
        if let Some((_, used)) = self.values.remove(&key) {
            self.order.remove(&used);
        }
        self.order.insert(self.tick, key.clone());
        self.values.insert(key, (value, self.tick));
        let mut evicted = Vec::new();
        while self.values.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((value, _)) = self.values.remove(&oldest) {
                evicted.push(value);
            }
        }
        evicted
    }

    /// Removes every value for which `remove` is true.
    pub(crate) fn remove_where(&mut self, mut remove: impl FnMut(&K, &V) -> bool) {
        let order = &mut self.order;
        self.values.retain(|k, (v, used)| {
            let gone = remove(k, v);
            if gone {
                order.remove(used);
            }
            !gone
        });
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.values.values().map(|(v, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        assert!(lru.insert("a", 1).is_empty());
        assert!(lru.insert("b", 2).is_empty());
        assert_eq!(lru.get("a"), Some(&1)); // "b" is now the oldest
        assert_eq!(lru.insert("c", 3), vec![2]);
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.len(), 2);
        // Replacing a key does not evict.
        assert!(lru.insert("c", 4).is_empty());
        lru.remove_where(|k, _| *k == "a");
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.insert("d", 5), Vec::<i32>::new());
        assert_eq!(lru.values().count(), 2);
    }
}
