//! [`FakeServer`]: an in-process stand-in for the SPIRE server, minting with `spiffe-ca`, for
//! tests and benchmarks (feature `fake-server`).
//!
//! It keeps registration entries (authorized for one agent as SPIRE's server decides, through
//! an [`EntryIndex`]), a self-signed X.509 CA (or an intermediate under an upstream root) and a
//! JWT signing key with SPIRE's rotation steps, and federated bundles. Faults are injected with
//! [`FakeServer::set_failing`], [`FakeServer::set_delay`] and [`FakeServer::refuse_entry`];
//! [`FakeServer::stats`] counts what it did.
//!
//! ```
//! use std::sync::Arc;
//! use spiffe_agent::clock::SystemClock;
//! use spiffe_agent::server::fake::FakeServer;
//! use spiffe_core::{SpiffeId, TrustDomain};
//!
//! let td = TrustDomain::new("example.org")?;
//! let agent = SpiffeId::new("spiffe://example.org/spire/agent/join_token/abc")?;
//! let server = FakeServer::new(td, agent, Arc::new(SystemClock))?;
//! let entry = server.put_workload_entry("web", "/web", &["unix:uid:1000"])?;
//! assert_eq!(entry.revision_number(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod authorities;
mod faults;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use spiffe_attest::{EntryId, EntryIndex, RegistrationEntry, Selector};
use spiffe_ca::x509::X509SvidRequest;
use spiffe_ca::{CaError, Clock};
use spiffe_core::jwt::UnverifiedJwtSvid;
use spiffe_core::{SpiffeId, TrustDomain};

use super::{
    AuthorizedEntries, BoxFuture, EntryRevision, KnownRevisions, MintedJwtSvid, ServerBundle,
    ServerClient, ServerError, SignedX509Svid, SvidFailure, X509SvidParams, MAX_CSRS_PER_BATCH,
};
use authorities::Authorities;
use faults::Faults;

pub use faults::{FakeCall, FakeStats};

/// The X.509-SVID lifetime for entries without one (SPIRE's `default_x509_svid_ttl`).
pub const DEFAULT_X509_SVID_TTL: Duration = Duration::from_secs(3600);
/// The JWT-SVID lifetime for entries without one (SPIRE's `default_jwt_svid_ttl`).
pub const DEFAULT_JWT_SVID_TTL: Duration = Duration::from_secs(300);

/// An in-process SPIRE server for one agent. See the [module docs](self).
pub struct FakeServer {
    trust_domain: TrustDomain,
    agent_id: SpiffeId,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    faults: Faults,
}

struct State {
    entries: EntryIndex,
    revision: u64,
    authorities: Authorities,
    bundle_sequence: u64,
    federated: BTreeMap<TrustDomain, ServerBundle>,
    x509_ttl: Duration,
    jwt_ttl: Duration,
}

/// Why an entry could not be stored in the fake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeEntryError {
    /// An id, SPIFFE ID or selector is malformed.
    #[error("entry field malformed")]
    Field(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// === impl FakeServer ===

impl FakeServer {
    /// A server for `trust_domain` with a self-signed P-256 CA and a P-256 JWT key, serving the
    /// agent `agent_id`; `clock` gives the minting time.
    pub fn new(
        trust_domain: TrustDomain,
        agent_id: SpiffeId,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CaError> {
        let authorities = Authorities::self_signed(trust_domain.clone(), clock.now())?;
        Ok(Self::with_authorities(
            trust_domain,
            agent_id,
            clock,
            authorities,
        ))
    }

    /// Like [`Self::new`], but the CA is an intermediate under an upstream root: minted chains
    /// are leaf and intermediate, and the bundle holds the root. Such a fake does not rotate
    /// its CA.
    pub async fn with_upstream(
        trust_domain: TrustDomain,
        agent_id: SpiffeId,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CaError> {
        let authorities = Authorities::with_upstream(trust_domain.clone(), clock.now()).await?;
        Ok(Self::with_authorities(
            trust_domain,
            agent_id,
            clock,
            authorities,
        ))
    }

    fn with_authorities(
        trust_domain: TrustDomain,
        agent_id: SpiffeId,
        clock: Arc<dyn Clock>,
        authorities: Authorities,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                entries: EntryIndex::new(&trust_domain),
                revision: 0,
                authorities,
                bundle_sequence: 1,
                federated: BTreeMap::new(),
                x509_ttl: DEFAULT_X509_SVID_TTL,
                jwt_ttl: DEFAULT_JWT_SVID_TTL,
            }),
            trust_domain,
            agent_id,
            clock,
            faults: Faults::default(),
        }
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The agent this server serves.
    pub fn agent_id(&self) -> &SpiffeId {
        &self.agent_id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates or updates `entry` as the datastore would: a new revision number (the server's
    /// next), and the creation time kept from the stored entry (or now for a new one). Returns
    /// the entry as stored.
    pub fn put_entry(&self, entry: RegistrationEntry) -> RegistrationEntry {
        let mut state = self.state();
        state.revision += 1;
        let created_at = state
            .entries
            .get(entry.id().as_str())
            .and_then(|e| e.created_at())
            .or_else(|| Some(self.clock.now()));
        let stored = entry
            .to_builder()
            .revision_number(state.revision)
            .created_at(created_at)
            .build()
            .unwrap_or(entry);
        state.entries.insert(stored.clone());
        stored
    }

    /// Creates or updates the entry `id` for a workload of this server's agent: SPIFFE ID
    /// `spiffe://<td><path>`, the given selectors (`type:value`).
    pub fn put_workload_entry(
        &self,
        id: &str,
        path: &str,
        selectors: &[&str],
    ) -> Result<RegistrationEntry, FakeEntryError> {
        let field = |e: Box<dyn std::error::Error + Send + Sync>| FakeEntryError::Field(e);
        let spiffe_id =
            SpiffeId::from_path(&self.trust_domain, path).map_err(|e| field(e.into()))?;
        let mut builder = RegistrationEntry::builder(
            EntryId::new(id).map_err(|e| field(e.into()))?,
            spiffe_id,
            self.agent_id.clone(),
        );
        for selector in selectors {
            builder = builder.selector(Selector::parse(selector).map_err(|e| field(e.into()))?);
        }
        let entry = builder.build().map_err(|e| field(e.into()))?;
        Ok(self.put_entry(entry))
    }

    /// The stored entry `id`.
    pub fn entry(&self, id: &str) -> Option<RegistrationEntry> {
        self.state().entries.get(id).map(|e| (**e).clone())
    }

    /// Deletes the entry `id`; returns whether there was one.
    pub fn delete_entry(&self, id: &str) -> bool {
        self.state().entries.remove(id).is_some()
    }

    /// Sets the X.509-SVID lifetime of entries without their own.
    pub fn set_x509_svid_ttl(&self, ttl: Duration) {
        self.state().x509_ttl = ttl;
    }

    /// Sets the JWT-SVID lifetime of entries without their own.
    pub fn set_jwt_svid_ttl(&self, ttl: Duration) {
        self.state().jwt_ttl = ttl;
    }

    /// Publishes (or replaces) the bundle of a federated trust domain.
    pub fn set_federated_bundle(&self, bundle: ServerBundle) {
        self.state()
            .federated
            .insert(bundle.trust_domain().clone(), bundle);
    }

    /// Removes the bundle of a federated trust domain.
    pub fn remove_federated_bundle(&self, trust_domain: &TrustDomain) -> bool {
        self.state().federated.remove(trust_domain).is_some()
    }

    /// The bundle of the server's own trust domain, as `GetBundle` answers.
    pub fn bundle(&self) -> ServerBundle {
        let state = self.state();
        state.authorities.bundle(state.bundle_sequence)
    }

    /// The ids (subject key ids, hex) of the X.509 authorities in the bundle.
    pub fn x509_authority_ids(&self) -> Vec<String> {
        self.state().authorities.x509_ids()
    }

    /// The id of the X.509 authority that mints now.
    pub fn active_x509_authority_id(&self) -> String {
        self.state()
            .authorities
            .active_x509()
            .authority_id()
            .to_owned()
    }

    /// The `kid` of the JWT authority that mints now.
    pub fn active_jwt_kid(&self) -> String {
        self.state().authorities.active_jwt().kid().to_owned()
    }

    /// SPIRE's CA rotation, step 1: adds a new self-signed CA to the bundle; returns its id
    /// (`None` for a fake with an upstream root).
    pub fn prepare_x509_authority(&self) -> Result<Option<String>, CaError> {
        let now = self.clock.now();
        let mut state = self.state();
        let id = state.authorities.prepare_x509(now)?;
        state.bundle_sequence += 1;
        Ok(id)
    }

    /// Step 2: the CA `id` mints from now on.
    pub fn activate_x509_authority(&self, id: &str) -> bool {
        self.state().authorities.activate_x509(id)
    }

    /// Step 3: the CA `id` (not the active one) is tainted.
    pub fn taint_x509_authority(&self, id: &str) -> bool {
        let mut state = self.state();
        let done = state.authorities.taint_x509(id);
        state.bundle_sequence += u64::from(done);
        done
    }

    /// Step 4: the CA `id` (not the active one) leaves the bundle.
    pub fn revoke_x509_authority(&self, id: &str) -> bool {
        let mut state = self.state();
        let done = state.authorities.revoke_x509(id);
        state.bundle_sequence += u64::from(done);
        done
    }

    /// Adds a new JWT key and makes it the one that mints; returns its `kid`.
    pub fn rotate_jwt_authority(&self) -> Result<String, CaError> {
        let now = self.clock.now();
        let mut state = self.state();
        let kid = state.authorities.rotate_jwt(now)?;
        state.bundle_sequence += 1;
        Ok(kid)
    }

    /// Taints the JWT key `kid` (not the active one).
    pub fn taint_jwt_authority(&self, kid: &str) -> bool {
        let mut state = self.state();
        let done = state.authorities.taint_jwt(kid);
        state.bundle_sequence += u64::from(done);
        done
    }

    /// While `failing`, every call fails as if the server were unreachable.
    pub fn set_failing(&self, failing: bool) {
        self.faults.set_failing(failing);
    }

    /// Every call first waits `delay` (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.faults.set_delay(delay);
    }

    /// While `refuse`, signing for the entry `id` is refused (a per-entry failure).
    pub fn refuse_entry(&self, id: &str, refuse: bool) {
        self.faults.refuse(id, refuse);
    }

    /// What the server has done so far.
    pub fn stats(&self) -> FakeStats {
        self.faults.stats()
    }

    /// When each `SyncAuthorizedEntries` call arrived (tokio's clock).
    pub fn sync_times(&self) -> Vec<tokio::time::Instant> {
        self.faults.sync_times()
    }

    /// The entries authorized for the agent (its own children, and nested ones).
    fn authorized(state: &State, agent_id: &SpiffeId) -> Vec<Arc<RegistrationEntry>> {
        state.entries.authorized_entries(agent_id, &[])
    }

    fn sign(&self, params: &[X509SvidParams]) -> Result<Vec<SignedX509Svid>, ServerError> {
        if params.len() > MAX_CSRS_PER_BATCH {
            return Err(ServerError::Status {
                code: ServerError::INVALID_ARGUMENT,
                message: format!("at most {MAX_CSRS_PER_BATCH} CSRs per batch"),
            });
        }
        let now = self.clock.now();
        let state = self.state();
        let authorized: HashSet<EntryId> = Self::authorized(&state, &self.agent_id)
            .iter()
            .map(|e| e.id().clone())
            .collect();
        let authority = state.authorities.active_x509();
        let mut signed = 0;
        let results = params
            .iter()
            .map(|p| {
                let entry = authorized
                    .contains(p.entry_id.as_str())
                    .then(|| state.entries.get(p.entry_id.as_str()))
                    .flatten()
                    .filter(|_| !self.faults.is_refused(p.entry_id.as_str()))
                    .ok_or_else(|| SvidFailure::new(SvidFailure::NOT_FOUND, "entry not found"))?;
                let ttl = entry.x509_svid_ttl().unwrap_or(state.x509_ttl);
                let request =
                    X509SvidRequest::from_csr(entry.spiffe_id().clone(), p.csr.as_ref(), ttl)
                        .map_err(|e| refusal(SvidFailure::INVALID_ARGUMENT, &e))?
                        .with_dns_names(entry.dns_names().iter().cloned());
                let minted = authority
                    .mint(&request, now)
                    .map_err(|e| refusal(SvidFailure::INVALID_ARGUMENT, &e))?;
                signed += 1;
                Ok(minted.into_chain())
            })
            .collect();
        self.faults.note_signed(params.len(), signed);
        Ok(results)
    }

    fn mint_jwt(
        &self,
        entry_id: &EntryId,
        audience: &[String],
    ) -> Result<MintedJwtSvid, ServerError> {
        let now = self.clock.now();
        let state = self.state();
        let authorized = Self::authorized(&state, &self.agent_id);
        let entry = authorized
            .iter()
            .find(|e| e.id() == entry_id)
            .ok_or_else(|| ServerError::Status {
                code: SvidFailure::NOT_FOUND,
                message: "entry not found".into(),
            })?;
        let ttl = entry.jwt_svid_ttl().unwrap_or(state.jwt_ttl);
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        // As the real server: a unique `jti` for entries that ask for one.
        let mut claims = spiffe_core::json::JsonObject::new();
        if entry.jwt_svid_include_jti() {
            let jti = spiffe_ca::jwt::new_jti().map_err(|e| ServerError::Status {
                code: ServerError::UNAVAILABLE,
                message: e.to_string(),
            })?;
            claims.insert_str("jti", jti);
        }
        let token = state
            .authorities
            .active_jwt()
            .mint(entry.spiffe_id(), &audience, ttl, &claims, now)
            .map_err(|e| ServerError::Status {
                code: ServerError::INVALID_ARGUMENT,
                message: e.to_string(),
            })?;
        let expires_at = UnverifiedJwtSvid::parse_insecure(&token)
            .map_err(|_| ServerError::Malformed {
                what: "minted JWT-SVID does not parse",
            })?
            .expiry();
        self.faults.note_jwt();
        Ok(MintedJwtSvid::new(
            token,
            entry.spiffe_id().clone(),
            now,
            expires_at,
        ))
    }
}

fn refusal(code: i32, error: &CaError) -> SvidFailure {
    SvidFailure::new(code, error.to_string())
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("trust_domain", &self.trust_domain)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl ServerClient for FakeServer {
    fn sync_authorized_entries<'a>(
        &'a self,
        known: &'a KnownRevisions,
    ) -> BoxFuture<'a, Result<AuthorizedEntries, ServerError>> {
        Box::pin(async move {
            self.faults.enter(FakeCall::SyncEntries).await?;
            let state = self.state();
            let authorized = Self::authorized(&state, &self.agent_id);
            let revisions: Vec<EntryRevision> =
                authorized.iter().map(|e| EntryRevision::of(e)).collect();
            let entries: Vec<RegistrationEntry> = authorized
                .iter()
                .zip(&revisions)
                .filter(|(_, revision)| !known.is_current(revision))
                .map(|(entry, _)| (**entry).clone())
                .collect();
            self.faults.note_entries_sent(entries.len());
            Ok(AuthorizedEntries::new(revisions, entries))
        })
    }

    fn batch_new_x509_svid<'a>(
        &'a self,
        params: &'a [X509SvidParams],
    ) -> BoxFuture<'a, Result<Vec<SignedX509Svid>, ServerError>> {
        Box::pin(async move {
            self.faults.enter(FakeCall::BatchNewX509Svid).await?;
            self.sign(params)
        })
    }

    fn new_jwt_svid<'a>(
        &'a self,
        entry_id: &'a EntryId,
        audience: &'a [String],
    ) -> BoxFuture<'a, Result<MintedJwtSvid, ServerError>> {
        Box::pin(async move {
            self.faults.enter(FakeCall::NewJwtSvid).await?;
            self.mint_jwt(entry_id, audience)
        })
    }

    fn get_bundle(&self) -> BoxFuture<'_, Result<ServerBundle, ServerError>> {
        Box::pin(async move {
            self.faults.enter(FakeCall::GetBundle).await?;
            Ok(self.bundle())
        })
    }

    fn get_federated_bundles<'a>(
        &'a self,
        trust_domains: &'a [TrustDomain],
    ) -> BoxFuture<'a, Result<Vec<ServerBundle>, ServerError>> {
        Box::pin(async move {
            self.faults.enter(FakeCall::GetFederatedBundles).await?;
            let state = self.state();
            Ok(trust_domains
                .iter()
                .filter_map(|td| state.federated.get(td).cloned())
                .collect())
        })
    }
}
