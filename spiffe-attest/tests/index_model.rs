//! The main correctness test of the entry index: random inserts, updates and removals, then
//! every query compared with a naive linear scan that states SPIRE's semantics directly.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use spiffe_attest::entry::{EntryId, RegistrationEntry};
use spiffe_attest::{EntryIndex, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

const SERVER: &str = "spiffe://example.org/spire/server";

/// IDs that entries use as parents and SPIFFE IDs: two agents, the server, and workloads that
/// nest under each other (and may form cycles).
const IDS: &[&str] = &[
    "spiffe://example.org/spire/agent/a0",
    "spiffe://example.org/spire/agent/a1",
    SERVER,
    "spiffe://example.org/w0",
    "spiffe://example.org/w1",
    "spiffe://example.org/w2",
    "spiffe://example.org/w3",
    "spiffe://example.org/node-group",
];

/// Enough selectors that a workload can carry more than the index's subset limit, so both
/// lookup strategies run.
const SELECTORS: usize = 14;

fn selector(i: usize) -> Selector {
    Selector::parse(&format!("t{}:v{i}", i % 3)).unwrap()
}

fn id(i: usize) -> SpiffeId {
    SpiffeId::new(IDS[i % IDS.len()]).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        entry: u8,
        spiffe: usize,
        parent: usize,
        selectors: Vec<usize>,
    },
    Remove {
        entry: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, 3..IDS.len(), 0..IDS.len(), prop::collection::vec(0..SELECTORS, 1..6))
            .prop_map(|(entry, spiffe, parent, selectors)| Op::Insert { entry, spiffe, parent, selectors }),
        1 => (0u8..24).prop_map(|entry| Op::Remove { entry }),
    ]
}

fn build(entry: u8, spiffe: usize, parent: usize, selectors: &[usize]) -> RegistrationEntry {
    RegistrationEntry::builder(
        EntryId::new(&format!("e{entry}")).unwrap(),
        id(spiffe),
        id(parent),
    )
    .selectors(selectors.iter().map(|&s| selector(s)))
    .build()
    .unwrap()
}

fn is_subset(entry: &RegistrationEntry, have: &[Selector]) -> bool {
    entry.selectors().iter().all(|s| have.contains(s))
}

/// SPIRE's rule, as a fixpoint over all entries.
fn naive_authorized(
    entries: &BTreeMap<String, Arc<RegistrationEntry>>,
    agent: &SpiffeId,
    node: &[Selector],
) -> BTreeSet<String> {
    let mut parents: BTreeSet<String> = BTreeSet::new();
    parents.insert(agent.to_string());
    for e in entries.values() {
        if e.parent_id().as_str() == SERVER && is_subset(e, node) {
            parents.insert(e.spiffe_id().to_string());
        }
    }
    loop {
        let before = parents.len();
        for e in entries.values() {
            if parents.contains(e.parent_id().as_str()) {
                parents.insert(e.spiffe_id().to_string());
            }
        }
        if parents.len() == before {
            break;
        }
    }
    entries
        .values()
        .filter(|e| parents.contains(e.parent_id().as_str()))
        .map(|e| e.id().to_string())
        .collect()
}

fn ids(found: Vec<Arc<RegistrationEntry>>) -> Vec<String> {
    let mut v: Vec<String> = found.iter().map(|e| e.id().to_string()).collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_a_linear_scan(
        ops in prop::collection::vec(op(), 1..60),
        queries in prop::collection::vec(
            (0usize..2,
             prop::collection::vec(0..SELECTORS, 0..5),
             prop::collection::vec(0..SELECTORS, 0..20)),
            1..8),
    ) {
        let mut index = EntryIndex::new(&TrustDomain::new("example.org").unwrap());
        let mut model: BTreeMap<String, Arc<RegistrationEntry>> = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Insert { entry, spiffe, parent, selectors } => {
                    let e = Arc::new(build(*entry, *spiffe, *parent, selectors));
                    let replaced = index.insert(e.clone());
                    let expected = model.insert(e.id().to_string(), e);
                    prop_assert_eq!(replaced, expected);
                }
                Op::Remove { entry } => {
                    let key = format!("e{entry}");
                    prop_assert_eq!(index.remove(&key), model.remove(&key));
                }
            }
            prop_assert_eq!(index.len(), model.len());
        }
        for e in model.values() {
            prop_assert_eq!(index.get(e.id().as_str()), Some(e));
        }
        for i in 0..IDS.len() {
            let spiffe = id(i);
            let issuing: Vec<String> = model
                .values()
                .filter(|e| e.spiffe_id() == &spiffe)
                .map(|e| e.id().to_string())
                .collect();
            prop_assert_eq!(ids(index.with_spiffe_id(&spiffe)), issuing);
        }

        for (agent, node, workload) in &queries {
            let agent = id(*agent);
            let node: Vec<Selector> = node.iter().map(|&s| selector(s)).collect();
            let workload: Vec<Selector> = workload.iter().map(|&s| selector(s)).collect();

            let authorized = naive_authorized(&model, &agent, &node);
            prop_assert_eq!(
                ids(index.authorized_entries(&agent, &node)),
                authorized.iter().cloned().collect::<Vec<_>>()
            );

            let expected: Vec<String> = authorized
                .iter()
                .filter(|id| is_subset(&model[*id], &workload))
                .cloned()
                .collect();
            prop_assert_eq!(ids(index.lookup(&agent, &node, &workload)), expected);

            let aliases: Vec<String> = model
                .values()
                .filter(|e| e.parent_id().as_str() == SERVER && is_subset(e, &node))
                .map(|e| e.id().to_string())
                .collect();
            prop_assert_eq!(ids(index.node_aliases(&node)), aliases);

            let matching: Vec<String> = model
                .values()
                .filter(|e| is_subset(e, &workload))
                .map(|e| e.id().to_string())
                .collect();
            prop_assert_eq!(ids(index.matching(&workload)), matching);
        }

        // Emptying the index releases everything it interned.
        for key in model.keys() {
            prop_assert!(index.remove(key).is_some());
        }
        prop_assert!(index.is_empty());
        prop_assert_eq!(index.interned_counts(), (0, 0));
    }
}
