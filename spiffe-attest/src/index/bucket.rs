//! A small set of slot numbers stored inline while it holds one element, the common case for
//! the index's per-key lists (one entry per (parent, selector set), one per SPIFFE ID).

/// Slot numbers, inline when there is one.
#[derive(Debug, Clone)]
pub(super) enum Bucket {
    /// One slot, no allocation.
    One(u32),
    /// Several slots (never fewer than two).
    Many(Vec<u32>),
}

// === impl Bucket ===

impl Bucket {
    /// Adds `slot`.
    pub(super) fn push(&mut self, slot: u32) {
        match self {
            Self::One(first) => *self = Self::Many(vec![*first, slot]),
            Self::Many(v) => v.push(slot),
        }
    }

    /// Removes `slot`; returns whether the bucket is now empty.
    pub(super) fn remove(&mut self, slot: u32) -> bool {
        match self {
            Self::One(only) => *only == slot,
            Self::Many(v) => {
                if let Some(pos) = v.iter().position(|&s| s == slot) {
                    v.swap_remove(pos);
                }
                if let [last] = v[..] {
                    *self = Self::One(last);
                }
                false
            }
        }
    }

    /// The slots.
    pub(super) fn as_slice(&self) -> &[u32] {
        match self {
            Self::One(only) => std::slice::from_ref(only),
            Self::Many(v) => v,
        }
    }
}
