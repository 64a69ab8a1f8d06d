//! Queries of the [`EntryIndex`]: authorization of an agent, and subset matching of selectors.

use std::collections::HashSet;
use std::sync::Arc;

use spiffe_core::SpiffeId;

use super::hash::{pair_key, parent_term, selector_term, IntBuild};
use super::EntryIndex;
use crate::entry::RegistrationEntry;
use crate::Selector;

/// Up to this many known selectors, subsets are always enumerated (at most 1,023 probes per
/// parent); above it, whichever of subsets and posting lists is cheaper is used.
const ALWAYS_SUBSETS: usize = 10;

/// Above this many known selectors, subsets are never enumerated.
const MAX_SUBSET_BITS: usize = 24;

/// Past this many authorized parents, membership is tracked in a hash set.
const LINEAR_VISITED: usize = 32;

// === impl EntryIndex ===

impl EntryIndex {
    /// The entries a workload with `workload_selectors` gets from the agent `agent_id` whose
    /// node has `node_selectors`: the agent's authorized entries (see the [module
    /// docs](super)) whose selectors are all among `workload_selectors`. In no particular
    /// order; empty when `workload_selectors` is.
    pub fn lookup(
        &self,
        agent_id: &SpiffeId,
        node_selectors: &[Selector],
        workload_selectors: &[Selector],
    ) -> Vec<Arc<RegistrationEntry>> {
        let parents = self.authorized_parents(agent_id, node_selectors);
        let mut out = Vec::new();
        self.match_selectors(&parents, workload_selectors, &mut out);
        self.resolve(out)
    }

    /// Every entry the agent `agent_id` whose node has `node_selectors` is authorized for (its
    /// sync set), in no particular order.
    pub fn authorized_entries(
        &self,
        agent_id: &SpiffeId,
        node_selectors: &[Selector],
    ) -> Vec<Arc<RegistrationEntry>> {
        let parents = self.authorized_parents(agent_id, node_selectors);
        let mut out = Vec::new();
        for p in parents {
            if let Some(children) = self.by_parent.get(&p) {
                out.extend_from_slice(children);
            }
        }
        self.resolve(out)
    }

    /// The node-alias entries (parent: the server) whose selectors are all among
    /// `node_selectors`.
    pub fn node_aliases(&self, node_selectors: &[Selector]) -> Vec<Arc<RegistrationEntry>> {
        let mut out = Vec::new();
        if let Some(server) = self.ids.get(self.server_id.as_str()) {
            self.match_selectors(&[server], node_selectors, &mut out);
        }
        self.resolve(out)
    }

    /// Every entry, under any parent, whose selectors are all among `selectors`: the match an
    /// agent runs over the entries it has synced. Costs one subset match per distinct parent
    /// in the index, so it suits an agent's index, not a server's.
    pub fn matching(&self, selectors: &[Selector]) -> Vec<Arc<RegistrationEntry>> {
        let parents: Vec<u32> = self.by_parent.keys().copied().collect();
        let mut out = Vec::new();
        self.match_selectors(&parents, selectors, &mut out);
        self.resolve(out)
    }

    /// The entries whose SPIFFE ID is `id`, under any parent (e.g. to check what a caller
    /// presenting `id` was registered as). One map probe; no allocation when there are none.
    pub fn with_spiffe_id(&self, id: &SpiffeId) -> Vec<Arc<RegistrationEntry>> {
        let Some(handle) = self.ids.get(id.as_str()) else {
            return Vec::new();
        };
        match self.by_spiffe.get(&handle) {
            Some(bucket) => self.resolve(bucket.as_slice().to_vec()),
            None => Vec::new(),
        }
    }

    fn resolve(&self, slots: Vec<u32>) -> Vec<Arc<RegistrationEntry>> {
        slots
            .into_iter()
            .filter_map(|s| self.slot(s).map(|s| s.entry.clone()))
            .collect()
    }

    /// The interned parents whose children the agent is authorized for: its own ID, the SPIFFE
    /// IDs of matching node-alias entries, and, transitively, the SPIFFE IDs of authorized
    /// entries that are themselves parents. Each appears once.
    fn authorized_parents(&self, agent_id: &SpiffeId, node_selectors: &[Selector]) -> Vec<u32> {
        let mut visited = Visited::default();
        if let Some(agent) = self.ids.get(agent_id.as_str()) {
            visited.insert(agent);
        }
        if !node_selectors.is_empty() {
            if let Some(server) = self.ids.get(self.server_id.as_str()) {
                let mut aliases = Vec::new();
                self.match_selectors(&[server], node_selectors, &mut aliases);
                for slot in aliases {
                    if let Some(s) = self.slot(slot) {
                        visited.insert(s.spiffe);
                    }
                }
            }
        }
        // Breadth-first over nested edges; `visited.order` doubles as the queue.
        let mut next = 0;
        while next < visited.order.len() {
            let p = visited.order[next];
            next += 1;
            if let Some(children) = self.nested.get(&p) {
                for &q in children {
                    visited.insert(q);
                }
            }
        }
        visited.order
    }

    /// Appends to `out` the slots of entries with a parent in `parents` whose selectors are all
    /// among `selectors`.
    fn match_selectors(&self, parents: &[u32], selectors: &[Selector], out: &mut Vec<u32>) {
        // Selectors no entry uses cannot be part of a match: drop them before enumerating.
        let mut known: Vec<u32> = selectors
            .iter()
            .filter_map(|s| self.selectors.get(s))
            .collect();
        if known.is_empty() {
            return;
        }
        known.sort_unstable();
        known.dedup();
        let terms: Vec<u64> = known.iter().map(|&s| selector_term(s)).collect();
        let max_size = self.max_set_size();
        for &p in parents {
            if !self.by_parent.contains_key(&p) {
                continue;
            }
            if self.subsets_are_cheaper(p, &known) {
                self.probe_subsets(p, &known, &terms, max_size, out);
            } else {
                self.scan_postings(p, &known, out);
            }
        }
    }

    fn subsets_are_cheaper(&self, parent: u32, known: &[u32]) -> bool {
        if known.len() <= ALWAYS_SUBSETS {
            return true;
        }
        if known.len() > MAX_SUBSET_BITS {
            return false;
        }
        let postings: usize = known
            .iter()
            .map(|&s| {
                self.by_first
                    .get(&pair_key(parent, s))
                    .map_or(0, |b| b.as_slice().len())
            })
            .sum();
        // A probe and a posting check cost about the same; the sum stops early in spirit.
        (1usize << known.len()) <= postings
    }

    /// Probes the key of every non-empty subset of `known` (of at most `max_size` elements)
    /// under `parent`, visiting subsets in Gray-code order so each key is one addition or
    /// subtraction away from the previous.
    fn probe_subsets(
        &self,
        parent: u32,
        known: &[u32],
        terms: &[u64],
        max_size: usize,
        out: &mut Vec<u32>,
    ) {
        let base = parent_term(parent);
        let mut mask: u32 = 0;
        let mut key = base;
        for i in 1u32..(1u32 << known.len()) {
            let bit = i.trailing_zeros();
            mask ^= 1 << bit;
            if mask & (1 << bit) != 0 {
                key = key.wrapping_add(terms[bit as usize]);
            } else {
                key = key.wrapping_sub(terms[bit as usize]);
            }
            if mask.count_ones() as usize > max_size {
                continue;
            }
            let Some(candidates) = self.by_set.get(&key) else {
                continue;
            };
            for &slot in candidates.as_slice() {
                if let Some(s) = self.slot(slot) {
                    if s.parent == parent && same_set(s.selectors.as_slice(), known, mask) {
                        out.push(slot);
                    }
                }
            }
        }
    }

    /// For each known selector, checks the entries under `parent` whose smallest selector it
    /// is; each entry is reached at most once (through its smallest selector).
    fn scan_postings(&self, parent: u32, known: &[u32], out: &mut Vec<u32>) {
        for &first in known {
            let Some(candidates) = self.by_first.get(&pair_key(parent, first)) else {
                continue;
            };
            for &slot in candidates.as_slice() {
                if let Some(s) = self.slot(slot) {
                    if is_subset(s.selectors.as_slice(), known) {
                        out.push(slot);
                    }
                }
            }
        }
    }
}

/// Whether the ascending `set` equals the elements of the ascending `known` picked by `mask`.
fn same_set(set: &[u32], known: &[u32], mask: u32) -> bool {
    if set.len() != mask.count_ones() as usize {
        return false;
    }
    let mut rest = mask;
    set.iter().all(|&s| {
        let bit = rest.trailing_zeros();
        rest &= rest - 1;
        known[bit as usize] == s
    })
}

/// Whether every element of the ascending `set` is in the ascending `known`.
fn is_subset(set: &[u32], known: &[u32]) -> bool {
    let mut k = known.iter();
    set.iter().all(|s| k.any(|x| x == s))
}

/// Authorized parents in discovery order, with membership by linear search while few.
#[derive(Default)]
struct Visited {
    order: Vec<u32>,
    set: Option<HashSet<u32, IntBuild>>,
}

impl Visited {
    fn insert(&mut self, p: u32) {
        let seen = match &self.set {
            Some(set) => set.contains(&p),
            None => self.order.contains(&p),
        };
        if seen {
            return;
        }
        self.order.push(p);
        if let Some(set) = &mut self.set {
            set.insert(p);
        } else if self.order.len() > LINEAR_VISITED {
            self.set = Some(self.order.iter().copied().collect());
        }
    }
}
