//! Reference-counted interning of IDs and selectors to small integers, so that the index keys
//! are integers and lookups hash each input string once.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Maps values to dense `u32` handles; a handle is freed when its last holder releases it and
/// may then be reused for another value.
#[derive(Debug)]
pub(super) struct Interner<K> {
    handles: HashMap<K, u32>,
    /// Per handle: the number of holders (0 when free). The value itself is only in
    /// `handles`: holders give it back on release.
    refs: Vec<u32>,
    free: Vec<u32>,
}

// === impl Interner ===

impl<K: Hash + Eq + Clone> Interner<K> {
    pub(super) fn new() -> Self {
        Self {
            handles: HashMap::new(),
            refs: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The handle of `key`, if some holder has interned it.
    pub(super) fn get<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.handles.get(key).copied()
    }

    /// Interns `key` (or takes one more reference to it) and returns its handle.
    pub(super) fn acquire(&mut self, key: &K) -> u32 {
        if let Some(&handle) = self.handles.get(key) {
            self.refs[handle as usize] += 1;
            return handle;
        }
        let handle = match self.free.pop() {
            Some(handle) => {
                self.refs[handle as usize] = 1;
                handle
            }
            None => {
                let handle = u32::try_from(self.refs.len())
                    .expect("fewer than 2^32 distinct IDs or selectors in one index");
                self.refs.push(1);
                handle
            }
        };
        self.handles.insert(key.clone(), handle);
        handle
    }

    /// Drops one reference to `key`, freeing its handle with the last.
    pub(super) fn release<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(&handle) = self.handles.get(key) else {
            return;
        };
        let refs = &mut self.refs[handle as usize];
        *refs -= 1;
        if *refs == 0 {
            self.handles.remove(key);
            self.free.push(handle);
        }
    }

    /// Number of values interned.
    pub(super) fn len(&self) -> usize {
        self.handles.len()
    }
}
