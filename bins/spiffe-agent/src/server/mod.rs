//! The seam between the agent and the SPIRE server: [`ServerClient`], what the agent needs of
//! the server's APIs, in library types. [`GrpcServerClient`] implements it over SPIRE's
//! `spire.api.server.*.v1` services on an mTLS channel with the agent's SVID; the manager and
//! its tests see only this trait. `fake::FakeServer` (feature `fake-server`) is an in-process
//! implementation that mints with `spiffe-ca`.
//!
//! One sync round, as the manager drives it:
//!
//! ```text
//! agent (manager)                                    server
//!   | sync_authorized_entries(known revisions) -->    |  SyncAuthorizedEntries: revisions of
//!   |                                                 |  every authorized entry, then the full
//!   | <-- AuthorizedEntries { revisions, entries }    |  entries the agent lacks or holds stale
//!   | get_bundle, get_federated_bundles(tds) ------>  |  GetBundle, GetFederatedBundle
//!   | <-- ServerBundle (authorities, tainted flags)   |
//!   | (generates a key per entry to (re)sign,         |
//!   |  writes a CSR for it)                           |
//!   | batch_new_x509_svid(<= 500 CSRs) ------------>  |  BatchNewX509SVID
//!   | <-- per entry: chain DER, or a refusal          |
//! ```
//!
//! JWT-SVIDs are minted on demand, outside the round: [`ServerClient::new_jwt_svid`]
//! (`NewJWTSVID`).

mod error;
#[cfg(feature = "fake-server")]
pub mod fake;
mod grpc;
mod types;

use rustls_pki_types::CertificateDer;
use spiffe_attest::EntryId;
use spiffe_core::TrustDomain;

pub use error::ServerError;
pub use grpc::{GrpcServerClient, SharedChannel};
pub use spiffe_core::BoxFuture;
pub use types::{
    AuthorizedEntries, EntryRevision, KnownRevisions, MintedJwtSvid, ServerBundle, SvidFailure,
    X509SvidParams,
};

/// The most CSRs the agent sends in one `BatchNewX509SVID` call (SPIRE's `SignLimitPerIP`,
/// which its server also enforces per call).
pub const MAX_CSRS_PER_BATCH: usize = 500;

/// The result of signing one CSR: the SVID's chain (leaf first, then any intermediates up to,
/// not including, the trust anchor), or why the server refused.
pub type SignedX509Svid = Result<Vec<CertificateDer<'static>>, SvidFailure>;

/// What the agent needs from the server. Object-safe (`Arc<dyn ServerClient>`), with boxed
/// futures; every method may be called concurrently.
pub trait ServerClient: Send + Sync {
    /// `SyncAuthorizedEntries`: the revisions of every entry the agent is authorized for, and
    /// the full entries among them that `known` does not hold at that revision
    /// ([`KnownRevisions::is_current`]). A gRPC implementation reads the revision pages first,
    /// then asks for the stale ids, exactly as SPIRE's agent does; a server that sends all
    /// entries at once when there are few may return them all.
    fn sync_authorized_entries<'a>(
        &'a self,
        known: &'a KnownRevisions,
    ) -> BoxFuture<'a, Result<AuthorizedEntries, ServerError>>;

    /// `BatchNewX509SVID`: signs at most [`MAX_CSRS_PER_BATCH`] CSRs, one result per request,
    /// in request order.
    fn batch_new_x509_svid<'a>(
        &'a self,
        params: &'a [X509SvidParams],
    ) -> BoxFuture<'a, Result<Vec<SignedX509Svid>, ServerError>>;

    /// `NewJWTSVID`: a JWT-SVID for the entry `entry_id` with `audience` (never empty).
    fn new_jwt_svid<'a>(
        &'a self,
        entry_id: &'a EntryId,
        audience: &'a [String],
    ) -> BoxFuture<'a, Result<MintedJwtSvid, ServerError>>;

    /// `GetBundle`: the bundle of the agent's own trust domain.
    fn get_bundle(&self) -> BoxFuture<'_, Result<ServerBundle, ServerError>>;

    /// `GetFederatedBundle` for each of `trust_domains`; a trust domain the server has no
    /// bundle for is left out of the answer.
    fn get_federated_bundles<'a>(
        &'a self,
        trust_domains: &'a [TrustDomain],
    ) -> BoxFuture<'a, Result<Vec<ServerBundle>, ServerError>>;
}
