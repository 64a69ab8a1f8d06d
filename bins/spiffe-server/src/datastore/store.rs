use std::future::Future;
use std::pin::Pin;

use spiffe_attest::node::join_token::JoinToken;
use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

use super::{
    AttestedNode, Bundle, BundleDeleteMode, BundleMask, ChangeFeed, DataStoreError, EntryFilter,
    EntryMask, FederationMask, FederationRelationship, JoinTokenUse, NodeFilter, NodeMask, Page,
    PageRequest,
};

/// A boxed, sendable future: what the [`DataStore`] methods return, so the trait is object-safe
/// (`Arc<dyn DataStore>`). The same type as `spiffe_attest::BoxFuture`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a datastore call.
type Res<'a, T> = BoxFuture<'a, Result<T, DataStoreError>>;

/// Everything the server stores (SPIRE's `DataStore` interface, trimmed to what the server
/// uses). See the [module documentation](super) for the transaction, revision and secrecy
/// rules every implementation keeps.
///
/// Batch operations return `Err` only when the whole batch failed (nothing was stored);
/// otherwise one result per input item, in input order.
pub trait DataStore: Send + Sync {
    // --- registration entries ---

    /// Creates entries (`BatchCreateEntry`). Each stored entry gets the next revision as its
    /// `revision_number` and the current time as `created_at`; the returned entries carry them.
    /// An entry whose id exists, or whose SPIFFE ID, parent ID and selector set equal an
    /// existing entry's, is [`AlreadyExists`](DataStoreError::AlreadyExists); one that
    /// federates with a trust domain that has no stored bundle is an invalid
    /// `federates_with`. Use [`new_entry_id`](super::new_entry_id) for entries the operator
    /// gave no id.
    fn create_entries(
        &self,
        entries: Vec<RegistrationEntry>,
    ) -> Res<'_, Vec<Result<RegistrationEntry, DataStoreError>>>;

    /// The entry with this id, if any.
    fn get_entry<'a>(&'a self, id: &'a EntryId) -> Res<'a, Option<RegistrationEntry>>;

    /// The entries with these ids that exist, in storage order.
    fn get_entries<'a>(&'a self, ids: &'a [EntryId]) -> Res<'a, Vec<RegistrationEntry>>;

    /// Updates entries (`BatchUpdateEntry`): for each given entry, the stored entry with its id
    /// gets the fields selected by `mask` from it, and the next revision. Unknown id:
    /// [`NotFound`](DataStoreError::NotFound); an invalid result:
    /// [`InvalidEntry`](DataStoreError::InvalidEntry); a collision with another entry's
    /// SPIFFE ID, parent ID and selectors: `AlreadyExists`.
    fn update_entries(
        &self,
        entries: Vec<RegistrationEntry>,
        mask: EntryMask,
    ) -> Res<'_, Vec<Result<RegistrationEntry, DataStoreError>>>;

    /// Deletes entries by id (`BatchDeleteEntry`); an unknown id is `NotFound`.
    fn delete_entries(&self, ids: Vec<EntryId>) -> Res<'_, Vec<Result<(), DataStoreError>>>;

    /// How many entries match `filter` (`CountEntries`).
    fn count_entries<'a>(&'a self, filter: &'a EntryFilter) -> Res<'a, u64>;

    /// A page of the entries matching `filter`, in creation order (`ListEntries`). An empty
    /// selector or trust-domain set in a filter, or a foreign page token, is an invalid
    /// argument.
    fn list_entries<'a>(
        &'a self,
        filter: &'a EntryFilter,
        page: &'a PageRequest,
    ) -> Res<'a, Page<RegistrationEntry>>;

    /// A page of all entries, for loading the server's cache at start (see the module
    /// documentation for keeping it in sync). Pages of a few thousand entries are fastest.
    fn load_entries<'a>(&'a self, page: &'a PageRequest) -> Res<'a, Page<RegistrationEntry>>;

    // --- attested nodes ---

    /// Records an attested node; its SPIFFE ID must be new (`AlreadyExists`).
    fn create_node(&self, node: AttestedNode) -> Res<'_, AttestedNode>;

    /// The node with this agent SPIFFE ID, if any.
    fn get_node<'a>(&'a self, id: &'a SpiffeId) -> Res<'a, Option<AttestedNode>>;

    /// A page of the nodes matching `filter`, in creation order (`ListAgents`).
    fn list_nodes<'a>(
        &'a self,
        filter: &'a NodeFilter,
        page: &'a PageRequest,
    ) -> Res<'a, Page<AttestedNode>>;

    /// How many nodes match `filter` (`CountAgents`).
    fn count_nodes<'a>(&'a self, filter: &'a NodeFilter) -> Res<'a, u64>;

    /// Replaces the fields selected by `mask` of the node with `node`'s SPIFFE ID.
    fn update_node(&self, node: AttestedNode, mask: NodeMask) -> Res<'_, AttestedNode>;

    /// Bans the node (`BanAgent`): it is marked banned and its certificate serial numbers are
    /// cleared, so it can neither renew nor re-attest until its record is deleted.
    fn ban_node<'a>(&'a self, id: &'a SpiffeId) -> Res<'a, AttestedNode>;

    /// Deletes the node (`DeleteAgent`); it may attest again afterwards.
    fn delete_node<'a>(&'a self, id: &'a SpiffeId) -> Res<'a, ()>;

    // --- bundles ---

    /// The bundle of `trust_domain`, if stored.
    fn get_bundle<'a>(&'a self, trust_domain: &'a TrustDomain) -> Res<'a, Option<Bundle>>;

    /// A page of all bundles, ordered by trust domain.
    fn list_bundles<'a>(&'a self, page: &'a PageRequest) -> Res<'a, Page<Bundle>>;

    /// How many bundles are stored.
    fn count_bundles(&self) -> Res<'_, u64>;

    /// Stores a new bundle (`AlreadyExists` if its trust domain has one).
    fn create_bundle(&self, bundle: Bundle) -> Res<'_, Bundle>;

    /// Replaces the fields selected by `mask` of the stored bundle of `bundle`'s trust domain
    /// (`NotFound` if none).
    fn update_bundle(&self, bundle: Bundle, mask: BundleMask) -> Res<'_, Bundle>;

    /// Adds `bundle`'s authorities that the stored bundle lacks, bumping its sequence number
    /// when something was added; stores `bundle` if its trust domain has none (`AppendBundle`).
    fn append_bundle(&self, bundle: Bundle) -> Res<'_, Bundle>;

    /// Stores `bundle`, replacing any bundle of its trust domain (`BatchSetFederatedBundle`).
    fn set_bundle(&self, bundle: Bundle) -> Res<'_, Bundle>;

    /// Deletes the bundle of `trust_domain`; `mode` says what happens to entries federating
    /// with it (`BatchDeleteFederatedBundle`).
    fn delete_bundle<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
        mode: BundleDeleteMode,
    ) -> Res<'a, ()>;

    // --- federation relationships ---

    /// Stores a new relationship, and its bundle when it carries one (`AlreadyExists` if the
    /// trust domain has a relationship).
    fn create_federation_relationship(
        &self,
        relationship: FederationRelationship,
    ) -> Res<'_, FederationRelationship>;

    /// The relationship with `trust_domain`, with its stored bundle.
    fn get_federation_relationship<'a>(
        &'a self,
        trust_domain: &'a TrustDomain,
    ) -> Res<'a, Option<FederationRelationship>>;

    /// A page of relationships, ordered by trust domain, with their stored bundles.
    fn list_federation_relationships<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> Res<'a, Page<FederationRelationship>>;

    /// Replaces the fields selected by `mask` of the relationship with `relationship`'s trust
    /// domain (`NotFound` if none).
    fn update_federation_relationship(
        &self,
        relationship: FederationRelationship,
        mask: FederationMask,
    ) -> Res<'_, FederationRelationship>;

    /// Deletes the relationship with `trust_domain`; its bundle stays.
    fn delete_federation_relationship<'a>(&'a self, trust_domain: &'a TrustDomain) -> Res<'a, ()>;

    // --- join tokens ---

    /// Stores a join token (its SHA-256 digest) valid until `expires_at`; `AlreadyExists` if
    /// the same token is outstanding.
    fn create_join_token<'a>(&'a self, token: &'a JoinToken, expires_at: UnixTime) -> Res<'a, ()>;

    /// Removes the token and says whether it existed and was still valid at `now`, in one
    /// atomic step: of two concurrent uses of a token, at most one sees it. An expired token is
    /// removed too. The removal is durable no later than the store's next durable write (for
    /// an attestation, the agent's node record), not necessarily on its own: after a crash
    /// before that write, the token is back, and nothing was attested with it.
    fn consume_join_token<'a>(
        &'a self,
        token: &'a JoinToken,
        now: UnixTime,
    ) -> Res<'a, JoinTokenUse>;

    /// Removes tokens that expired before `before`; returns how many.
    fn prune_join_tokens(&self, before: UnixTime) -> Res<'_, u64>;

    // --- CA journals ---

    /// The CA journal stored under `key` (one per server instance), if any.
    fn load_ca_journal<'a>(&'a self, key: &'a str) -> Res<'a, Option<Vec<u8>>>;

    /// Stores `journal` under `key`, replacing the previous one atomically.
    fn save_ca_journal<'a>(&'a self, key: &'a str, journal: &'a [u8]) -> Res<'a, ()>;

    // --- change log ---

    /// The revision of the last committed change (0 for a new store).
    fn current_revision(&self) -> Res<'_, u64>;

    /// At most `limit` changes after revision `after`, in revision order; see [`ChangeFeed`].
    /// Its cost depends on `limit`, not on the size of the store.
    fn changes_since(&self, after: u64, limit: u32) -> Res<'_, ChangeFeed>;

    /// Deletes changes recorded before `before` (and, to keep the log a suffix, every earlier
    /// revision); returns how many were deleted.
    fn prune_changes(&self, before: UnixTime) -> Res<'_, u64>;

    // --- health ---

    /// Answers when the database does (the server's readiness check).
    fn ping(&self) -> Res<'_, ()>;
}
