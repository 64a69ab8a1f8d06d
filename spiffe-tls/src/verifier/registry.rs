//! The peer leaves that a SPIFFE verifier of this process verified, so that
//! [`peer_spiffe_id`](crate::peer_spiffe_id) reports a SPIFFE ID only for a peer whose
//! certificate a SPIFFE verifier checked.
//!
//! rustls keeps nothing of a verifier's result with the connection: after a handshake it hands
//! out the peer's certificates, whichever verifier accepted them. In a mixed mode (one side
//! verified by rustls' WebPKI verifier) the peer's certificate may carry a `spiffe://` URI that
//! nobody checked against a SPIFFE bundle; reporting it as the peer's SPIFFE ID would be an
//! authentication bypass. So the verifiers record what they verified, and the ID is reported
//! only for a recorded leaf.
//!
//! Invariants a reviewer should check:
//! - A leaf is recorded only by [`PeerVerifier::verify`](super::peer::PeerVerifier), after the
//!   chain verified as an X.509-SVID (X509-20..25, WAPI-11) and the authorizer allowed its ID,
//!   on every such handshake (a cached verification records it again). A completed handshake
//!   also proves the peer holds the leaf's key, so a recorded leaf reported on a connection is a
//!   verified SVID whose key that peer holds, whichever verifier the connection used.
//! - A leaf is identified by a 128-bit keyed hash of its DER (two SipHash-1-3 with independent
//!   random keys drawn when the process first records one): a certificate nobody verified
//!   cannot be made to look recorded without knowing the keys.
//! - The record is bounded: two generations of [`GENERATION`] leaves; when the current one is
//!   full it becomes the previous one and the older one is dropped. A leaf stays recorded for at
//!   least [`GENERATION`] verifications of other leaves; a connection looked up after that (or
//!   resumed from a session ticket in a configuration that allows resumption, which this
//!   crate's configurations do not) gets `None`, never a wrong ID.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Leaves per generation.
const GENERATION: usize = 8192;

/// Verified leaves, by keyed hash.
struct Registry {
    keys: (RandomState, RandomState),
    leaves: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashSet<u128>,
    previous: HashSet<u128>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        keys: (RandomState::new(), RandomState::new()),
        leaves: Mutex::default(),
    })
}

/// Records that a SPIFFE verifier verified and authorized the X.509-SVID whose leaf is `leaf`
/// (DER).
pub(crate) fn record_verified_leaf(leaf: &[u8]) {
    let registry = registry();
    let id = registry.id(leaf);
    let mut leaves = registry
        .leaves
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if leaves.current.contains(&id) {
        return;
    }
    if leaves.current.len() >= GENERATION {
        leaves.previous = std::mem::take(&mut leaves.current);
    }
    leaves.current.insert(id);
}

/// Whether a SPIFFE verifier of this process verified the X.509-SVID whose leaf is `leaf`.
pub(crate) fn was_verified(leaf: &[u8]) -> bool {
    let registry = registry();
    let id = registry.id(leaf);
    let leaves = registry
        .leaves
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    leaves.current.contains(&id) || leaves.previous.contains(&id)
}

// === impl Registry ===

impl Registry {
    fn id(&self, leaf: &[u8]) -> u128 {
        let hash = |state: &RandomState| {
            let mut hasher = state.build_hasher();
            hasher.write(leaf);
            hasher.finish()
        };
        (u128::from(hash(&self.keys.0)) << 64) | u128::from(hash(&self.keys.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recorded_leaves_are_reported_and_the_record_is_bounded() {
        let leaf = |n: usize| format!("leaf {n} of the registry test").into_bytes();
        assert!(!was_verified(&leaf(0)));
        record_verified_leaf(&leaf(0));
        assert!(was_verified(&leaf(0)));
        assert!(!was_verified(&leaf(1)));
        // A leaf survives at least one full generation of other leaves.
        for n in 1..=GENERATION {
            record_verified_leaf(&leaf(n));
        }
        assert!(was_verified(&leaf(0)));
        for n in GENERATION + 1..=3 * GENERATION {
            record_verified_leaf(&leaf(n));
        }
        assert!(!was_verified(&leaf(0)));
        assert!(was_verified(&leaf(3 * GENERATION)));
    }
}
