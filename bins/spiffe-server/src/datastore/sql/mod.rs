//! [`SqlDataStore`]: the [`DataStore`] on SQLite or PostgreSQL.

mod bundles;
mod changes;
mod db;
mod dsn;
mod entries;
mod entry_create;
mod entry_read;
mod errors;
mod federation;
mod filter_sql;
mod migrate;
mod nodes;
mod pool;
mod secrets;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spiffe_attest::node::join_token::JoinToken;
use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

pub use migrate::SCHEMA_VERSION;

use self::pool::Pools;
use super::store::BoxFuture;
use super::{
    AttestedNode, Backend, Bundle, BundleDeleteMode, BundleMask, ChangeFeed, DataStore,
    DataStoreError, EntryFilter, EntryMask, FederationMask, FederationRelationship, JoinTokenUse,
    NodeFilter, NodeMask, Page, PageRequest, SqlSettings,
};

/// The datastore on SQLite or PostgreSQL (SPIRE's `DataStore "sql"`).
///
/// Cloning is cheap and shares the connection pools.
#[derive(Debug, Clone)]
pub struct SqlDataStore {
    pools: Pools,
}

// === impl SqlDataStore ===

impl SqlDataStore {
    /// Connects (creating the SQLite file if missing) and brings the schema to
    /// [`SCHEMA_VERSION`], unless `disable_migration` is set, in which case the schema must
    /// already be there.
    pub async fn open(settings: &SqlSettings) -> Result<Self, DataStoreError> {
        let pools = Pools::open(settings).await?;
        if let Err(e) = migrate::run(&pools, settings.disable_migration).await {
            pools.close().await;
            return Err(e);
        }
        Ok(Self { pools })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.pools.backend()
    }

    /// Closes every connection; calls made afterwards fail as unavailable.
    pub async fn close(&self) {
        self.pools.close().await;
    }
}

/// The current time in whole seconds since the Unix epoch.
pub(super) fn now_secs() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A time as stored: whole seconds, saturating.
pub(super) fn to_secs(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

/// A duration as stored: whole seconds, saturating.
pub(super) fn duration_secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A stored time; negative is corrupt.
pub(super) fn from_secs(secs: i64, what: &'static str) -> Result<UnixTime, DataStoreError> {
    let secs = u64::try_from(secs).map_err(|_| DataStoreError::corrupt(what))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// A stored revision; negative is corrupt.
pub(super) fn revision(value: i64) -> Result<u64, DataStoreError> {
    u64::try_from(value).map_err(|_| DataStoreError::corrupt("revision"))
}

/// Runs `work` on a task of its own and waits for it: a caller that goes away mid-way (a
/// dropped RPC) cannot cut it short, so work that leaves a connection in a temporary state
/// (relaxed syncing, a transaction opened by its own `BEGIN`) always puts it back.
pub(super) async fn detached<T, F>(backend: Backend, work: F) -> Result<T, DataStoreError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, DataStoreError>> + Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| DataStoreError::Internal {
            backend,
            source: Box::new(e),
        })?
}

impl DataStore for SqlDataStore {
    fn create_entries(
        &self,
        entries: Vec<RegistrationEntry>,
    ) -> BoxFuture<'_, Result<Vec<Result<RegistrationEntry, DataStoreError>>, DataStoreError>> {
        Box::pin(entries::create(&self.pools, entries))
    }

    fn get_entry<'a>(
        &'a self,
        id: &'a EntryId,
    ) -> BoxFuture<'a, Result<Option<RegistrationEntry>, DataStoreError>> {
        Box::pin(async move {
            let found = entry_read::get_many(&self.pools, std::slice::from_ref(id)).await?;
            Ok(found.into_iter().next())
        })
    }

    fn get_entries<'a>(
        &'a self,
        ids: &'a [EntryId],
    ) -> BoxFuture<'a, Result<Vec<RegistrationEntry>, DataStoreError>> {
        Box::pin(entry_read::get_many(&self.pools, ids))
    }

    fn update_entries(
        &self,
        entries: Vec<RegistrationEntry>,
        mask: EntryMask,
    ) -> BoxFuture<'_, Result<Vec<Result<RegistrationEntry, DataStoreError>>, DataStoreError>> {
        Box::pin(entries::update(&self.pools, entries, mask))
    }

    fn delete_entries(
        &self,
        ids: Vec<EntryId>,
    ) -> BoxFuture<'_, Result<Vec<Result<(), DataStoreError>>, DataStoreError>> {
        Box::pin(entries::delete(&self.pools, ids))
    }

    fn count_entries<'a>(
        &'a self,
        filter: &'a EntryFilter,
    ) -> BoxFuture<'a, Result<u64, DataStoreError>> {
        Box::pin(entry_read::count(&self.pools, filter))
    }

    fn list_entries<'a>(
        &'a self,
        filter: &'a EntryFilter,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<RegistrationEntry>, DataStoreError>> {
        Box::pin(entry_read::list(&self.pools, filter, page))
    }

    fn load_entries<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<RegistrationEntry>, DataStoreError>> {
        Box::pin(entry_read::load(&self.pools, page))
    }

    fn create_node(
        &self,
        node: AttestedNode,
    ) -> BoxFuture<'_, Result<AttestedNode, DataStoreError>> {
        Box::pin(nodes::create(&self.pools, node))
    }

    fn get_node<'a>(
        &'a self,
        id: &'a SpiffeId,
    ) -> BoxFuture<'a, Result<Option<AttestedNode>, DataStoreError>> {
        Box::pin(nodes::get(&self.pools, id))
    }

    fn list_nodes<'a>(
        &'a self,
        filter: &'a NodeFilter,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<AttestedNode>, DataStoreError>> {
        Box::pin(nodes::list(&self.pools, filter, page))
    }

    fn count_nodes<'a>(
        &'a self,
        filter: &'a NodeFilter,
    ) -> BoxFuture<'a, Result<u64, DataStoreError>> {
        Box::pin(nodes::count(&self.pools, filter))
    }

    fn update_node(
        &self,
        node: AttestedNode,
        mask: NodeMask,
    ) -> BoxFuture<'_, Result<AttestedNode, DataStoreError>> {
        Box::pin(nodes::update(&self.pools, node, mask))
    }

    fn ban_node<'a>(
        &'a self,
        id: &'a SpiffeId,
    ) -> BoxFuture<'a, Result<AttestedNode, DataStoreError>> {
        Box::pin(nodes::ban(&self.pools, id))
    }

    fn delete_node<'a>(&'a self, id: &'a SpiffeId) -> BoxFuture<'a, Result<(), DataStoreError>> {
        Box::pin(nodes::delete(&self.pools, id))
    }

    fn get_bundle<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
    ) -> BoxFuture<'a, Result<Option<Bundle>, DataStoreError>> {
        Box::pin(bundles::get(&self.pools, trust_domain))
    }

    fn list_bundles<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Bundle>, DataStoreError>> {
        Box::pin(bundles::list(&self.pools, page))
    }

    fn count_bundles(&self) -> BoxFuture<'_, Result<u64, DataStoreError>> {
        Box::pin(bundles::count(&self.pools))
    }

    fn create_bundle(&self, bundle: Bundle) -> BoxFuture<'_, Result<Bundle, DataStoreError>> {
        Box::pin(bundles::create(&self.pools, bundle))
    }

    fn update_bundle(
        &self,
        bundle: Bundle,
        mask: BundleMask,
    ) -> BoxFuture<'_, Result<Bundle, DataStoreError>> {
        Box::pin(bundles::update(&self.pools, bundle, mask))
    }

    fn append_bundle(&self, bundle: Bundle) -> BoxFuture<'_, Result<Bundle, DataStoreError>> {
        Box::pin(bundles::append(&self.pools, bundle))
    }

    fn set_bundle(&self, bundle: Bundle) -> BoxFuture<'_, Result<Bundle, DataStoreError>> {
        Box::pin(bundles::set(&self.pools, bundle))
    }

    fn delete_bundle<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
        mode: BundleDeleteMode,
    ) -> BoxFuture<'a, Result<(), DataStoreError>> {
        Box::pin(bundles::delete(&self.pools, trust_domain, mode))
    }

    fn create_federation_relationship(
        &self,
        relationship: FederationRelationship,
    ) -> BoxFuture<'_, Result<FederationRelationship, DataStoreError>> {
        Box::pin(federation::create(&self.pools, relationship))
    }

    fn get_federation_relationship<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
    ) -> BoxFuture<'a, Result<Option<FederationRelationship>, DataStoreError>> {
        Box::pin(federation::get(&self.pools, trust_domain))
    }

    fn list_federation_relationships<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<FederationRelationship>, DataStoreError>> {
        Box::pin(federation::list(&self.pools, page))
    }

    fn update_federation_relationship(
        &self,
        relationship: FederationRelationship,
        mask: FederationMask,
    ) -> BoxFuture<'_, Result<FederationRelationship, DataStoreError>> {
        Box::pin(federation::update(&self.pools, relationship, mask))
    }

    fn delete_federation_relationship<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
    ) -> BoxFuture<'a, Result<(), DataStoreError>> {
        Box::pin(federation::delete(&self.pools, trust_domain))
    }

    fn create_join_token<'a>(
        &'a self,
        token: &'a JoinToken,
        expires_at: UnixTime,
    ) -> BoxFuture<'a, Result<(), DataStoreError>> {
        Box::pin(secrets::create_join_token(&self.pools, token, expires_at))
    }

    fn consume_join_token<'a>(
        &'a self,
        token: &'a JoinToken,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<JoinTokenUse, DataStoreError>> {
        Box::pin(secrets::consume_join_token(&self.pools, token, now))
    }

    fn prune_join_tokens(&self, before: UnixTime) -> BoxFuture<'_, Result<u64, DataStoreError>> {
        Box::pin(secrets::prune_join_tokens(&self.pools, before))
    }

    fn load_ca_journal<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, DataStoreError>> {
        Box::pin(secrets::load_ca_journal(&self.pools, key))
    }

    fn save_ca_journal<'a>(
        &'a self,
        key: &'a str,
        journal: &'a [u8],
    ) -> BoxFuture<'a, Result<(), DataStoreError>> {
        Box::pin(secrets::save_ca_journal(&self.pools, key, journal))
    }

    fn current_revision(&self) -> BoxFuture<'_, Result<u64, DataStoreError>> {
        Box::pin(changes::current_revision(&self.pools))
    }

    fn changes_since(
        &self,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'_, Result<ChangeFeed, DataStoreError>> {
        Box::pin(changes::since(&self.pools, after, limit))
    }

    fn prune_changes(&self, before: UnixTime) -> BoxFuture<'_, Result<u64, DataStoreError>> {
        Box::pin(changes::prune(&self.pools, before))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DataStoreError>> {
        Box::pin(changes::ping(&self.pools))
    }
}
