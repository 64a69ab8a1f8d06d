//! Integer hashing for the index's maps: keys are interned handles or sums of mixed handles,
//! so one multiply-xorshift round (the SplitMix64 finalizer, a bijection on `u64`) is all the
//! hashing they need, instead of SipHash.

use std::hash::{BuildHasherDefault, Hasher};

/// Salt separating parent handles from selector handles in a set key.
const PARENT_SALT: u64 = 0x9e37_79b9_7f4a_7c15;
/// Salt for selector handles.
const SELECTOR_SALT: u64 = 0xd1b5_4a32_d192_ed03;

/// The SplitMix64 finalizer: a bijection on `u64` with good avalanche.
pub(super) const fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The contribution of a parent handle to a set key.
pub(super) fn parent_term(parent: u32) -> u64 {
    mix(u64::from(parent) ^ PARENT_SALT)
}

/// The contribution of a selector handle to a set key. Set keys are sums of terms, so the
/// key of a set is independent of order and a subset's key can be updated one element at a
/// time while enumerating subsets.
pub(super) fn selector_term(selector: u32) -> u64 {
    mix(u64::from(selector) ^ SELECTOR_SALT)
}

/// The key of (parent, selector set).
pub(super) fn set_key(parent: u32, selectors: &[u32]) -> u64 {
    selectors.iter().fold(parent_term(parent), |h, &s| {
        h.wrapping_add(selector_term(s))
    })
}

/// The key of (parent, first selector), exact because [`mix`] is a bijection.
pub(super) fn pair_key(parent: u32, selector: u32) -> u64 {
    mix((u64::from(parent) << 32) | u64::from(selector))
}

/// A hasher for integer keys: mixes the integer once.
#[derive(Default, Clone, Copy)]
pub(super) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only integer keys use this hasher; fold any other input in anyway.
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = mix(self.0 ^ u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }
}

/// `BuildHasher` for [`IntHasher`].
pub(super) type IntBuild = BuildHasherDefault<IntHasher>;
