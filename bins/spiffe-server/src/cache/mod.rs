//! The server's in-memory view of registration entries and attested nodes, kept in step with
//! the datastore's change log (see [`crate::datastore`], "Keeping an in-memory cache in
//! sync").
//!
//! Agents' requests (authorized entries, SVID signing, the agent and admin checks of the
//! authorization layer) are answered from here, never by scanning the datastore, so their cost
//! does not grow with the number of entries. The cache is refreshed after every write this
//! server makes ([`EntryCache::refresh`]) and polled on an interval for writes made by other
//! servers sharing the database.
//!
//! Invariants: the cache holds exactly the stored records as of [`EntryCache::revision`];
//! a refresh re-reads every changed record by id (so replaying a change is harmless); a
//! pruned change log makes the next refresh reload everything.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use spiffe_attest::{EntryIndex, RegistrationEntry, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

use crate::datastore::{
    AttestedNode, ChangeFeed, ChangeKind, DataStore, DataStoreError, PageRequest,
};

/// Entries per page when loading the whole set.
const LOAD_PAGE: u32 = 5_000;
/// Changes read per datastore call when refreshing.
const CHANGES_PAGE: u32 = 1_000;

/// Entries (indexed for authorization lookups) and attested nodes, as of one revision.
pub struct EntryCache {
    datastore: Arc<dyn DataStore>,
    trust_domain: TrustDomain,
    state: RwLock<State>,
    /// Serializes refreshes so two never interleave their reads and applies.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for EntryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.read();
        f.debug_struct("EntryCache")
            .field("revision", &state.revision)
            .field("entries", &state.index.len())
            .field("nodes", &state.nodes.len())
            .finish()
    }
}

#[derive(Debug)]
struct State {
    revision: u64,
    index: EntryIndex,
    nodes: HashMap<SpiffeId, Arc<AttestedNode>>,
}

// === impl EntryCache ===

impl EntryCache {
    /// Loads every entry and node from `datastore`.
    pub async fn load(
        datastore: Arc<dyn DataStore>,
        trust_domain: TrustDomain,
    ) -> Result<Self, DataStoreError> {
        let state = load_state(datastore.as_ref(), &trust_domain).await?;
        Ok(Self {
            datastore,
            trust_domain,
            state: RwLock::new(state),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The datastore revision the cache reflects.
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// How many entries are cached.
    pub fn entry_count(&self) -> usize {
        self.read().index.len()
    }

    /// How many attested nodes are cached.
    pub fn node_count(&self) -> usize {
        self.read().nodes.len()
    }

    /// The entries the agent `agent_id` is authorized for (SPIRE's semantics: its children,
    /// children of node aliases matching its node selectors, and their descendants).
    pub fn authorized_entries(&self, agent_id: &SpiffeId) -> Vec<Arc<RegistrationEntry>> {
        let state = self.read();
        let selectors: &[Selector] = state
            .nodes
            .get(agent_id)
            .map(|node| node.selectors.as_slice())
            .unwrap_or(&[]);
        state.index.authorized_entries(agent_id, selectors)
    }

    /// The entries whose SPIFFE ID is `id` (admin and downstream checks).
    pub fn entries_with_spiffe_id(&self, id: &SpiffeId) -> Vec<Arc<RegistrationEntry>> {
        self.read().index.with_spiffe_id(id)
    }

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<Arc<RegistrationEntry>> {
        self.read().index.get(id).cloned()
    }

    /// The attested node of agent `id`.
    pub fn node(&self, id: &SpiffeId) -> Option<Arc<AttestedNode>> {
        self.read().nodes.get(id).cloned()
    }

    /// Applies every change committed since [`Self::revision`] (by this server or another on
    /// the same database). Call it after each write so the writer's next read sees it.
    pub async fn refresh(&self) -> Result<(), DataStoreError> {
        let _guard = self.refreshing.lock().await;
        loop {
            let after = self.revision();
            match self.datastore.changes_since(after, CHANGES_PAGE).await? {
                ChangeFeed::Pruned { .. } => {
                    let state = load_state(self.datastore.as_ref(), &self.trust_domain).await?;
                    *self.write() = state;
                    return Ok(());
                }
                ChangeFeed::Changes(changes) => {
                    let Some(last) = changes.last().map(|c| c.revision) else {
                        return Ok(());
                    };
                    let mut entry_ids = Vec::new();
                    let mut node_ids = Vec::new();
                    for change in &changes {
                        match change.kind {
                            ChangeKind::Entry => entry_ids.push(change.id.clone()),
                            ChangeKind::Node => node_ids.push(change.id.clone()),
                            _ => {}
                        }
                    }
                    self.apply(entry_ids, node_ids, last).await?;
                    if changes.len() < CHANGES_PAGE as usize {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn apply(
        &self,
        entry_ids: Vec<String>,
        node_ids: Vec<String>,
        revision: u64,
    ) -> Result<(), DataStoreError> {
        let mut ids = Vec::with_capacity(entry_ids.len());
        for id in &entry_ids {
            if let Ok(id) = spiffe_attest::EntryId::new(id.as_str()) {
                ids.push(id);
            }
        }
        let entries = self.datastore.get_entries(&ids).await?;
        let mut nodes = Vec::with_capacity(node_ids.len());
        for id in &node_ids {
            let Ok(spiffe_id) = SpiffeId::new(id) else {
                continue;
            };
            let node = self.datastore.get_node(&spiffe_id).await?;
            nodes.push((spiffe_id, node));
        }
        let mut state = self.write();
        for id in &entry_ids {
            state.index.remove(id);
        }
        for entry in entries {
            state.index.insert(Arc::new(entry));
        }
        for (id, node) in nodes {
            match node {
                Some(node) => state.nodes.insert(id, Arc::new(node)),
                None => state.nodes.remove(&id),
            };
        }
        state.revision = state.revision.max(revision);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock means a panic while applying plain values; the state is still whole.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn load_state(
    datastore: &dyn DataStore,
    trust_domain: &TrustDomain,
) -> Result<State, DataStoreError> {
    let revision = datastore.current_revision().await?;
    let mut index = EntryIndex::new(trust_domain);
    let mut page = PageRequest::first(LOAD_PAGE);
    loop {
        let loaded = datastore.load_entries(&page).await?;
        for entry in loaded.items {
            index.insert(Arc::new(entry));
        }
        match loaded.next {
            Some(next) => page = PageRequest::after(LOAD_PAGE, next),
            None => break,
        }
    }
    let mut nodes = HashMap::new();
    let mut page = PageRequest::first(LOAD_PAGE);
    loop {
        let loaded = datastore
            .list_nodes(&crate::datastore::NodeFilter::default(), &page)
            .await?;
        for node in loaded.items {
            nodes.insert(node.spiffe_id.clone(), Arc::new(node));
        }
        match loaded.next {
            Some(next) => page = PageRequest::after(LOAD_PAGE, next),
            None => break,
        }
    }
    Ok(State {
        revision,
        index,
        nodes,
    })
}
