//! The server's in-memory view of registration entries and attested nodes, kept in step with
//! the datastore's change log (see [`crate::datastore`], "Keeping an in-memory cache in
//! sync").
//!
//! Agents' requests (authorized entries, SVID signing, the agent and admin checks of the
//! authorization layer) are answered from here, never by scanning the datastore, so their cost
//! does not grow with the number of entries. The cache is refreshed after every write this
//! server makes ([`EntryCache::refresh`]; an attestation puts the node it wrote instead,
//! [`EntryCache::put_node`]) and polled on an interval for writes made by other servers
//! sharing the database.
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
/// Pages read ahead of the index build while loading.
const LOAD_AHEAD: usize = 2;
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
        let state = load_state(&datastore, &trust_domain, LOAD_PAGE).await?;
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
                    let state = load_state(&self.datastore, &self.trust_domain, LOAD_PAGE).await?;
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

    /// Puts `node`, just written by this server, in the cache without a datastore read: what
    /// an attestation does instead of [`Self::refresh`] (two statements fewer on issue 12's
    /// path), so the agent's next call finds its record.
    ///
    /// `node` must be the record as its write left it, with that write's revision. It is put
    /// only while the cache has not yet applied that revision: the node's later changes, if
    /// any, are then not applied either, and the next refresh re-reads the node from the
    /// datastore (changes after [`Self::revision`] include this one), so the record put here
    /// can never hide a newer one for longer than until that refresh. When the write's
    /// revision is the very next one, the cache now holds every record as of it and moves to
    /// it (the invariant kept; the periodic refresh then has nothing to re-read). Under the
    /// refresh lock, so a refresh in progress cannot overwrite it with what it read before
    /// the write.
    pub async fn put_node(&self, node: AttestedNode) {
        let _guard = self.refreshing.lock().await;
        let mut state = self.write();
        let revision = node.revision_number;
        if state.revision < revision {
            state.nodes.insert(node.spiffe_id.clone(), Arc::new(node));
            if state.revision + 1 == revision {
                state.revision = revision;
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

/// Every entry and node, read in pages of `page_size`.
async fn load_state(
    datastore: &Arc<dyn DataStore>,
    trust_domain: &TrustDomain,
    page_size: u32,
) -> Result<State, DataStoreError> {
    let revision = datastore.current_revision().await?;
    // A pipeline: a task of its own reads and decodes the next pages while this one indexes
    // the last, so that the two (each about half of a large load's work) run on two cores
    // instead of one after the other. The channel bounds the pages read ahead.
    let (pages, mut loaded) = tokio::sync::mpsc::channel(LOAD_AHEAD);
    let _reader = AbortOnDrop(tokio::spawn(read_entries(
        datastore.clone(),
        page_size,
        pages,
    )));
    let mut index = EntryIndex::new(trust_domain);
    while let Some(page) = loaded.recv().await {
        for entry in page? {
            index.insert(Arc::new(entry));
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

/// Sends every entry, page by page, to `pages`; stops at the first error (sent too) or when
/// the receiver is gone.
async fn read_entries(
    datastore: Arc<dyn DataStore>,
    page_size: u32,
    pages: tokio::sync::mpsc::Sender<Result<Vec<RegistrationEntry>, DataStoreError>>,
) {
    let mut page = PageRequest::first(page_size);
    loop {
        let (items, next) = match datastore.load_entries(&page).await {
            Ok(loaded) => (Ok(loaded.items), loaded.next),
            Err(e) => (Err(e), None),
        };
        if pages.send(items).await.is_err() {
            return;
        }
        match next {
            Some(next) => page = PageRequest::after(page_size, next),
            None => return,
        }
    }
}

/// Aborts a task when dropped (a load given up half way stops reading).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datastore::{EntryFilter, SqlDataStore, SqlSettings};
    use spiffe_attest::EntryId;

    fn td() -> TrustDomain {
        TrustDomain::new("example.org").expect("trust domain")
    }

    fn id(path: &str) -> SpiffeId {
        SpiffeId::new(&format!("spiffe://example.org{path}")).expect("SPIFFE ID")
    }

    /// Entries `from..to`: ten per parent, selectors shared by a tenth of them.
    fn entries(from: usize, to: usize) -> Vec<RegistrationEntry> {
        (from..to)
            .map(|i| {
                RegistrationEntry::builder(
                    EntryId::new(&format!("e{i:04}")).expect("entry id"),
                    id(&format!("/w{i}")),
                    id(&format!("/agent{}", i / 10)),
                )
                .selector(Selector::parse(&format!("k8s:ns:ns{}", i % 10)).expect("selector"))
                .selector(Selector::parse(&format!("k8s:sa:sa{i}")).expect("selector"))
                .dns_name(format!("w{i}.example.org"))
                .build()
                .expect("entry")
            })
            .collect()
    }

    async fn store(dir: &std::path::Path) -> Arc<dyn DataStore> {
        let settings = SqlSettings::sqlite(dir.join("datastore.sqlite3"));
        Arc::new(SqlDataStore::open(&settings).await.expect("open"))
    }

    async fn create(store: &dyn DataStore, entries: Vec<RegistrationEntry>) {
        for result in store.create_entries(entries).await.expect("batch") {
            result.expect("create");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paged_load_holds_exactly_the_stored_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path()).await;
        create(store.as_ref(), entries(0, 250)).await;
        let stored = store
            .list_entries(&EntryFilter::default(), &PageRequest::first(1000))
            .await
            .expect("list")
            .items;
        // Pages of 7: many pages through the pipeline, the last one partial.
        for page_size in [7, 250, 1000] {
            let state = load_state(&store, &td(), page_size).await.expect("load");
            assert_eq!(state.index.len(), stored.len(), "pages of {page_size}");
            for entry in &stored {
                let cached = state.index.get(entry.id().as_str()).expect("cached");
                assert_eq!(cached.as_ref(), entry, "pages of {page_size}");
            }
            assert_eq!(state.revision, store.current_revision().await.expect("rev"));
        }
        // The index answers from what was loaded: agent 3's children are entries 30..40.
        let cache = EntryCache::load(store.clone(), td()).await.expect("load");
        let mut children: Vec<String> = cache
            .authorized_entries(&id("/agent3"))
            .iter()
            .map(|e| e.id().to_string())
            .collect();
        children.sort();
        let expected: Vec<String> = (30..40).map(|i| format!("e{i:04}")).collect();
        assert_eq!(children, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_corrupt_entry_fails_the_load() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path()).await;
        create(store.as_ref(), entries(0, 40)).await;
        // A stored selector without a type, written behind the datastore's back, in the
        // fourth page of ten.
        let mut conn = sqlx::SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("datastore.sqlite3")),
        )
        .await
        .expect("connect");
        sqlx::query(
            "UPDATE entry_selectors SET selector = 'nocolon' WHERE selector = 'k8s:sa:sa35'",
        )
        .execute(&mut conn)
        .await
        .expect("corrupt");
        conn.close().await.expect("close");
        let err = load_state(&store, &td(), 10)
            .await
            .expect_err("a corrupt entry fails the load");
        assert!(matches!(err, DataStoreError::Corrupt { .. }), "{err:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refresh_after_load_applies_later_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path()).await;
        create(store.as_ref(), entries(0, 30)).await;
        let cache = EntryCache::load(store.clone(), td()).await.expect("load");
        assert_eq!(cache.entry_count(), 30);
        create(store.as_ref(), entries(30, 35)).await;
        store
            .delete_entries(vec![EntryId::new("e0003").expect("id")])
            .await
            .expect("delete")
            .remove(0)
            .expect("deleted");
        cache.refresh().await.expect("refresh");
        assert_eq!(cache.entry_count(), 34);
        assert!(cache.entry("e0003").is_none());
        assert!(cache.entry("e0034").is_some());
        assert_eq!(
            cache.revision(),
            store.current_revision().await.expect("rev")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_written_node_is_put_only_while_its_revision_is_unapplied() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path()).await;
        let cache = EntryCache::load(store.clone(), td()).await.expect("load");

        // The very next revision: put, and the cache moves to it (nothing left to re-read).
        let first = store
            .create_node(AttestedNode::new(id("/agent/a"), "join_token"))
            .await
            .expect("create a");
        cache.put_node(first.clone()).await;
        assert_eq!(cache.node(&id("/agent/a")).as_deref(), Some(&first));
        assert_eq!(cache.revision(), first.revision_number);

        // A gap (another write first): put, but the revision stays, so the next refresh
        // re-reads both.
        create(store.as_ref(), entries(0, 1)).await;
        let second = store
            .create_node(AttestedNode::new(id("/agent/b"), "join_token"))
            .await
            .expect("create b");
        cache.put_node(second.clone()).await;
        assert_eq!(cache.node(&id("/agent/b")).as_deref(), Some(&second));
        assert_eq!(cache.revision(), first.revision_number);
        cache.refresh().await.expect("refresh");
        assert_eq!(cache.entry_count(), 1);
        assert_eq!(cache.revision(), second.revision_number);

        // A record older than what the cache applied (the agent banned since) is not put:
        // it would hide the ban until a change to that node came again.
        let banned = store.ban_node(&id("/agent/b")).await.expect("ban");
        cache.refresh().await.expect("refresh");
        cache.put_node(second).await;
        assert_eq!(cache.node(&id("/agent/b")).as_deref(), Some(&banned));
        assert!(banned.banned);
    }
}
