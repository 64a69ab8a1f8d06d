//! Answers per selector set: every caller with the same selectors shares one [`SelectorSet`],
//! and each set computes its answer once per cache generation, however many streams ask.
//!
//! A set's last answer holds the SVIDs it served (`Arc`s), which is what marks them in use for
//! the manager's cache: they are not evicted while a live caller's set holds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use spiffe_attest::{EntryId, Selector};
use spiffe_workload::{X509Context, X509SvidEntry};

use crate::manager::{AgentManager, WorkloadView};

/// What callers with one set of selectors are served, at one generation.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) view: WorkloadView,
    /// The X.509 answer, built once.
    pub(crate) x509: X509Context,
    /// Matching entries without an SVID yet.
    pub(crate) pending: Vec<EntryId>,
}

impl Answer {
    fn new(view: WorkloadView) -> Self {
        let svids = view
            .svids()
            .map(|(entry, svid)| {
                X509SvidEntry::new(svid.clone()).with_hint(entry.hint().unwrap_or_default())
            })
            .collect();
        let pending = view.pending().map(|e| e.id().clone()).collect();
        let x509 = X509Context {
            svids,
            bundles: view.x509_bundles.clone(),
        };
        Self {
            view,
            x509,
            pending,
        }
    }
}

/// A distinct set of selectors (sorted, without duplicates) and its last answer.
#[derive(Debug)]
pub(crate) struct SelectorSet {
    selectors: Arc<[Selector]>,
    answer: Mutex<Option<Arc<Answer>>>,
}

// === impl SelectorSet ===

impl SelectorSet {
    /// The answer at the manager's current generation, computed by the first caller to ask
    /// after a change and shared by the others.
    pub(crate) fn answer(&self, manager: &AgentManager) -> Arc<Answer> {
        let mut slot = self.answer.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = manager.generation();
        if let Some(answer) = slot.as_ref() {
            if answer.view.generation == generation {
                return answer.clone();
            }
        }
        let answer = Arc::new(Answer::new(manager.workload_view(&self.selectors)));
        *slot = Some(answer.clone());
        answer
    }
}

/// The distinct selector sets of live callers. Sets are held by the callers' attestation
/// results; a set no caller holds is dropped (and with it its answer).
#[derive(Debug, Default)]
pub(crate) struct SelectorSets {
    sets: Mutex<HashMap<Arc<[Selector]>, Weak<SelectorSet>>>,
}

// === impl SelectorSets ===

impl SelectorSets {
    /// The shared set for `selectors` (any order, duplicates allowed).
    pub(crate) fn intern(&self, mut selectors: Vec<Selector>) -> Arc<SelectorSet> {
        selectors.sort_unstable();
        selectors.dedup();
        let key: Arc<[Selector]> = selectors.into();
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = sets.get(&key).and_then(Weak::upgrade) {
            return set;
        }
        let set = Arc::new(SelectorSet {
            selectors: key.clone(),
            answer: Mutex::new(None),
        });
        sets.insert(key, Arc::downgrade(&set));
        set
    }

    /// Forgets sets no caller holds.
    pub(crate) fn prune(&self) {
        self.sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, set| set.strong_count() > 0);
    }

    /// Number of sets remembered (live or not yet pruned).
    pub(crate) fn len(&self) -> usize {
        self.sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
