//! A small set of slot numbers stored inline while it holds one element, the common case for
//! the index's per-key lists (one entry per (parent, selector set), one per SPIFFE ID).

/// Slot numbers, inline when there is one.
#[derive(Debug, Clone)]
pub(super) enum Bucket {
    /// One slot, no allocation.
    One(u32),
    /// Several slots (never fewer than two); boxed to keep the bucket at 16 bytes, since most
    /// buckets hold one slot and the maps hold millions of buckets.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<u32>>),
}

// === impl Bucket ===

impl Bucket {
    /// Adds `slot`.
    pub(super) fn push(&mut self, slot: u32) {
        match self {
            Self::One(first) => *self = Self::Many(Box::new(vec![*first, slot])),
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
            Self::Many(v) => v.as_slice(),
        }
    }
}

/// An entry's interned selectors, ascending; inline up to three.
#[derive(Debug, Clone)]
pub(super) enum Handles {
    /// Up to three handles, no allocation.
    Inline {
        /// How many of `ids` are used.
        len: u8,
        /// The handles.
        ids: [u32; 3],
    },
    /// More than three.
    Heap(Box<[u32]>),
}

// === impl Handles ===

impl Handles {
    /// From ascending handles.
    pub(super) fn new(handles: &[u32]) -> Self {
        match handles {
            [a] => Self::Inline {
                len: 1,
                ids: [*a, 0, 0],
            },
            [a, b] => Self::Inline {
                len: 2,
                ids: [*a, *b, 0],
            },
            [a, b, c] => Self::Inline {
                len: 3,
                ids: [*a, *b, *c],
            },
            _ => Self::Heap(handles.into()),
        }
    }

    /// The handles, ascending.
    pub(super) fn as_slice(&self) -> &[u32] {
        match self {
            Self::Inline { len, ids } => &ids[..usize::from(*len)],
            Self::Heap(ids) => ids,
        }
    }
}
