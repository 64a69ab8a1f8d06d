//! The entry index: which registration entries an agent is authorized for, and which of them
//! a workload matches, in time independent of the number of entries.
//!
//! # Semantics (SPIRE's)
//!
//! An agent with SPIFFE ID `A` and node selectors `N` is authorized for:
//! - entries whose parent is `A`;
//! - entries whose parent is the SPIFFE ID of a *node-alias* entry — an entry whose parent is
//!   the server (`spiffe://<td>/spire/server`) and whose selectors are all among `N`;
//! - recursively, entries whose parent is the SPIFFE ID of an entry already authorized (nested
//!   entries, downstream servers).
//!
//! Node-alias entries themselves are not among the authorized entries. A workload with
//! selectors `W` gets the authorized entries whose selectors are all among `W` (subset match;
//! duplicates and selectors no entry uses are ignored). Expiry is not considered: the caller
//! removes or filters expired entries ([`RegistrationEntry::is_expired`]).
//!
//! # How
//!
//! Every SPIFFE ID and selector is interned to a small integer. Each entry is keyed by
//! (parent, selector set), the key being a sum of per-element hashes. A lookup keeps the `k`
//! workload selectors the index knows, and for each authorized parent probes the key of each of
//! their `2^k - 1` non-empty subsets (updated one element at a time in Gray-code order; no
//! allocation per probe), skipping subsets larger than the largest entry. When `k` is large it
//! instead scans, per selector, the entries whose smallest selector it is, whichever is
//! cheaper. Authorized parents come from a map of "nested" edges kept up to date on every
//! change, so authorizing an agent costs in proportion to its alias and nesting structure, not
//! to the number of its entries.
//!
//! The index is a plain value: wrap it in a lock (readers share, writers exclude) to share it.
//!
//! ```
//! use spiffe_attest::entry::{EntryId, RegistrationEntry};
//! use spiffe_attest::index::EntryIndex;
//! use spiffe_attest::Selector;
//! use spiffe_core::{SpiffeId, TrustDomain};
//!
//! let agent = SpiffeId::new("spiffe://example.org/spire/agent/x509pop/node-1")?;
//! let mut index = EntryIndex::new(&TrustDomain::new("example.org")?);
//! index.insert(
//!     RegistrationEntry::builder(
//!         EntryId::new("web")?,
//!         SpiffeId::new("spiffe://example.org/web")?,
//!         agent.clone(),
//!     )
//!     .selector(Selector::parse("unix:uid:1000")?)
//!     .build()?,
//! );
//! let workload = [Selector::parse("unix:uid:1000")?, Selector::parse("unix:gid:50")?];
//! let found = index.lookup(&agent, &[], &workload);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].spiffe_id().path(), "/web");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bucket;
mod hash;
mod interner;
mod lookup;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use spiffe_core::{SpiffeId, TrustDomain};

use crate::entry::{server_id, EntryId, RegistrationEntry};
use crate::Selector;
use bucket::{Bucket, Handles};
use hash::{pair_key, set_key, IntBuild};
use interner::Interner;

/// An index of registration entries by parent and selector set.
#[derive(Debug)]
pub struct EntryIndex {
    server_id: SpiffeId,
    ids: Interner<SpiffeId>,
    selectors: Interner<Selector>,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<u32>,
    by_entry_id: HashMap<EntryId, u32>,
    /// (parent, selector set) key → slots (several only on a hash collision or for entries
    /// with equal parent and selectors).
    by_set: HashMap<u64, Bucket, IntBuild>,
    /// (parent, smallest selector) → slots: the posting lists for many-selector lookups.
    by_first: HashMap<u64, Bucket, IntBuild>,
    /// parent → slots of its children.
    by_parent: HashMap<u32, Vec<u32>, IntBuild>,
    /// SPIFFE ID → slots of the entries that issue it.
    by_spiffe: HashMap<u32, Bucket, IntBuild>,
    /// parent `p` → the SPIFFE IDs `q` of its children that are themselves parents.
    nested: HashMap<u32, HashSet<u32, IntBuild>, IntBuild>,
    /// Number of entries per selector count, for the largest selector set.
    set_sizes: Vec<usize>,
}

/// One indexed entry, with its interned form.
#[derive(Debug)]
struct Slot {
    entry: Arc<RegistrationEntry>,
    parent: u32,
    spiffe: u32,
    /// Interned selectors, ascending.
    selectors: Handles,
    set_key: u64,
    /// Position in `by_parent[parent]`.
    parent_pos: u32,
}

// === impl EntryIndex ===

impl EntryIndex {
    /// An empty index for a server of `trust_domain`, whose ID `spiffe://<td>/spire/server`
    /// marks node-alias entries.
    pub fn new(trust_domain: &TrustDomain) -> Self {
        Self::with_server_id(server_id(trust_domain))
    }

    /// An empty index whose node-alias entries are those with parent `server_id`.
    pub fn with_server_id(server_id: SpiffeId) -> Self {
        Self {
            server_id,
            ids: Interner::new(),
            selectors: Interner::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_entry_id: HashMap::new(),
            by_set: HashMap::default(),
            by_first: HashMap::default(),
            by_parent: HashMap::default(),
            by_spiffe: HashMap::default(),
            nested: HashMap::default(),
            set_sizes: Vec::new(),
        }
    }

    /// The parent ID of node-alias entries.
    pub fn server_id(&self) -> &SpiffeId {
        &self.server_id
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_entry_id.len()
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.by_entry_id.is_empty()
    }

    /// The entry with id `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<RegistrationEntry>> {
        let slot = *self.by_entry_id.get(id)?;
        self.slot(slot).map(|s| &s.entry)
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<RegistrationEntry>> + '_ {
        self.slots.iter().flatten().map(|s| &s.entry)
    }

    /// Adds an entry, or replaces the entry with the same id (an update: its parent and
    /// selectors may change). Returns the replaced entry.
    pub fn insert(
        &mut self,
        entry: impl Into<Arc<RegistrationEntry>>,
    ) -> Option<Arc<RegistrationEntry>> {
        let entry = entry.into();
        let old = self.remove(entry.id().as_str());
        let parent = self.ids.acquire(entry.parent_id());
        let spiffe = self.ids.acquire(entry.spiffe_id());
        let mut selectors: Vec<u32> = entry
            .selectors()
            .iter()
            .map(|s| self.selectors.acquire(s))
            .collect();
        selectors.sort_unstable();
        selectors.dedup();
        let key = set_key(parent, &selectors);
        let first = selectors.first().copied().unwrap_or(u32::MAX);

        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 entries in one index")
            }
        };
        self.by_entry_id.insert(entry.id().clone(), slot);
        match self.by_set.get_mut(&key) {
            Some(bucket) => bucket.push(slot),
            None => {
                self.by_set.insert(key, Bucket::One(slot));
            }
        }
        match self.by_first.get_mut(&pair_key(parent, first)) {
            Some(bucket) => bucket.push(slot),
            None => {
                self.by_first
                    .insert(pair_key(parent, first), Bucket::One(slot));
            }
        }
        if self.set_sizes.len() <= selectors.len() {
            self.set_sizes.resize(selectors.len() + 1, 0);
        }
        self.set_sizes[selectors.len()] += 1;

        // The slot must be in place before the nesting edges below look at it.
        self.slots[slot as usize] = Some(Slot {
            entry,
            parent,
            spiffe,
            selectors: Handles::new(&selectors),
            set_key: key,
            parent_pos: 0,
        });

        // Nesting: (parent → spiffe) is an edge worth following when spiffe has children.
        match self.by_spiffe.get_mut(&spiffe) {
            Some(bucket) => bucket.push(slot),
            None => {
                self.by_spiffe.insert(spiffe, Bucket::One(slot));
            }
        }
        if self.by_parent.contains_key(&spiffe) {
            self.nested.entry(parent).or_default().insert(spiffe);
        }
        let children = self.by_parent.entry(parent).or_default();
        let parent_pos = children.len();
        children.push(slot);
        self.set_parent_pos(slot, parent_pos);
        if parent_pos == 0 {
            // `parent` just became a parent: every edge leading to it is now worth following.
            if let Some(issuers) = self.by_spiffe.get(&parent) {
                for &s in issuers.as_slice() {
                    if let Some(gp) = self.slot(s).map(|s| s.parent) {
                        self.nested.entry(gp).or_default().insert(parent);
                    }
                }
            }
        }
        old
    }

    /// Removes the entry with id `id`, returning it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<RegistrationEntry>> {
        let slot_no = self.by_entry_id.remove(id)?;
        let slot = self.slots[slot_no as usize].take()?;
        self.free_slots.push(slot_no);

        if let Some(bucket) = self.by_set.get_mut(&slot.set_key) {
            if bucket.remove(slot_no) {
                self.by_set.remove(&slot.set_key);
            }
        }
        let selectors = slot.selectors.as_slice();
        let first = selectors.first().copied().unwrap_or(u32::MAX);
        let first_key = pair_key(slot.parent, first);
        if let Some(bucket) = self.by_first.get_mut(&first_key) {
            if bucket.remove(slot_no) {
                self.by_first.remove(&first_key);
            }
        }
        self.set_sizes[selectors.len()] -= 1;

        if let Some(children) = self.by_parent.get_mut(&slot.parent) {
            let pos = slot.parent_pos as usize;
            children.swap_remove(pos);
            if let Some(&moved) = children.get(pos) {
                if let Some(m) = self.slots[moved as usize].as_mut() {
                    m.parent_pos = slot.parent_pos;
                }
            }
            if children.is_empty() {
                self.by_parent.remove(&slot.parent);
                // `parent` has no children left: edges leading to it lead nowhere.
                if let Some(issuers) = self.by_spiffe.get(&slot.parent) {
                    for &s in issuers.as_slice() {
                        if let Some(gp) = self.slot(s).map(|s| s.parent) {
                            remove_nested(&mut self.nested, gp, slot.parent);
                        }
                    }
                }
            }
        }
        if let Some(bucket) = self.by_spiffe.get_mut(&slot.spiffe) {
            if bucket.remove(slot_no) {
                self.by_spiffe.remove(&slot.spiffe);
            }
        }
        // The edge (parent → spiffe) stays while another entry under `parent` issues `spiffe`.
        let still_issued = self.by_spiffe.get(&slot.spiffe).is_some_and(|b| {
            b.as_slice()
                .iter()
                .any(|&s| self.slot(s).is_some_and(|o| o.parent == slot.parent))
        });
        if !still_issued {
            remove_nested(&mut self.nested, slot.parent, slot.spiffe);
        }

        self.ids.release(slot.entry.parent_id());
        self.ids.release(slot.entry.spiffe_id());
        for s in slot.entry.selectors() {
            self.selectors.release(s);
        }
        Some(slot.entry)
    }

    /// Number of distinct SPIFFE IDs and selectors interned (for memory accounting).
    pub fn interned_counts(&self) -> (usize, usize) {
        (self.ids.len(), self.selectors.len())
    }

    fn set_parent_pos(&mut self, slot: u32, pos: usize) {
        if let Some(Some(s)) = self.slots.get_mut(slot as usize) {
            s.parent_pos = u32::try_from(pos).expect("fewer than 2^32 entries in one index");
        }
    }

    fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The largest selector set of any entry.
    fn max_set_size(&self) -> usize {
        self.set_sizes.iter().rposition(|&n| n > 0).unwrap_or(0)
    }
}

fn remove_nested(
    nested: &mut HashMap<u32, HashSet<u32, IntBuild>, IntBuild>,
    parent: u32,
    child: u32,
) {
    if let Some(set) = nested.get_mut(&parent) {
        set.remove(&child);
        if set.is_empty() {
            nested.remove(&parent);
        }
    }
}
