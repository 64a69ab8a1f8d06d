//! What crosses the seam to the server: entry revisions, CSRs and their answers, JWT-SVIDs and
//! bundles, in library types.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use rustls_pki_types::{CertificateSigningRequestDer, UnixTime};
use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::{Certificate, JwtBundle, SpiffeId, TrustDomain, X509Bundle};

/// One authorized entry as `SyncAuthorizedEntries` first describes it (SPIRE's
/// `EntryRevision`): its id, revision number and creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryRevision {
    /// The entry's id.
    pub id: EntryId,
    /// The entry's revision number, bumped by the server on every change.
    pub revision_number: u64,
    /// When the entry was created; tells a deleted-and-recreated entry (same id, same
    /// revision) from the original. `None` when the server does not say.
    pub created_at: Option<UnixTime>,
}

impl EntryRevision {
    /// The revision of `id`.
    pub fn new(id: EntryId, revision_number: u64, created_at: Option<UnixTime>) -> Self {
        Self {
            id,
            revision_number,
            created_at,
        }
    }

    /// The revision `entry` carries.
    pub fn of(entry: &RegistrationEntry) -> Self {
        Self::new(
            entry.id().clone(),
            entry.revision_number(),
            entry.created_at(),
        )
    }
}

/// The (id, revision) pairs of the entries the agent holds: what an incremental sync compares
/// the server's revisions with, so that only new or changed entries are fetched in full.
#[derive(Debug, Clone, Default)]
pub struct KnownRevisions {
    revisions: HashMap<EntryId, (u64, Option<UnixTime>)>,
}

// === impl KnownRevisions ===

impl KnownRevisions {
    /// No entry known: the first sync fetches every entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the agent holds the entry at exactly this revision. An entry is stale when its
    /// revision number differs, or when both creation times are known and differ (the entry
    /// was deleted and created again under the same id), as SPIRE's agent decides.
    pub fn is_current(&self, revision: &EntryRevision) -> bool {
        match self.revisions.get(revision.id.as_str()) {
            None => false,
            Some((number, created_at)) => {
                *number == revision.revision_number
                    && match (created_at, revision.created_at) {
                        (Some(held), Some(theirs)) => held.as_secs() == theirs.as_secs(),
                        _ => true,
                    }
            }
        }
    }

    /// The revision held for `id`.
    pub fn get(&self, id: &str) -> Option<EntryRevision> {
        self.revisions
            .get_key_value(id)
            .map(|(id, &(number, created_at))| EntryRevision::new(id.clone(), number, created_at))
    }

    /// Whether an entry with this id is held.
    pub fn contains(&self, id: &str) -> bool {
        self.revisions.contains_key(id)
    }

    /// The ids held.
    pub fn ids(&self) -> impl Iterator<Item = &EntryId> + '_ {
        self.revisions.keys()
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// Records that `revision` is held.
    pub fn insert(&mut self, revision: EntryRevision) {
        self.revisions
            .insert(revision.id, (revision.revision_number, revision.created_at));
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: &str) -> bool {
        self.revisions.remove(id).is_some()
    }
}

/// The answer to an incremental entry sync.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizedEntries {
    /// Every entry the agent is authorized for now. An entry the agent holds whose id is not
    /// here was deleted or is no longer authorized.
    pub revisions: Vec<EntryRevision>,
    /// The full entries the agent lacked or held at another revision (SPIRE's agent asks for
    /// them by id after reading the revisions; a server may also send all entries at once when
    /// there are few). An entry here counts as authorized even if `revisions` omits it.
    pub entries: Vec<RegistrationEntry>,
}

impl AuthorizedEntries {
    /// An answer from its two parts.
    pub fn new(revisions: Vec<EntryRevision>, entries: Vec<RegistrationEntry>) -> Self {
        Self { revisions, entries }
    }
}

/// One CSR to sign for an entry (SPIRE's `NewX509SVIDParams`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct X509SvidParams {
    /// The entry whose SPIFFE ID, DNS names and TTL the SVID gets.
    pub entry_id: EntryId,
    /// A PKCS#10 request for the workload key the agent generated (only its key is used).
    pub csr: CertificateSigningRequestDer<'static>,
}

impl X509SvidParams {
    /// A request to sign `csr` for `entry_id`.
    pub fn new(entry_id: EntryId, csr: CertificateSigningRequestDer<'static>) -> Self {
        Self { entry_id, csr }
    }
}

/// Why the server refused one entry of a batch (SPIRE's per-result `types.Status`), e.g.
/// NOT_FOUND for an entry no longer authorized. The other entries of the batch are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server refused to sign (gRPC code {code}): {message}")]
#[non_exhaustive]
pub struct SvidFailure {
    /// The gRPC status code.
    pub code: i32,
    /// The server's message.
    pub message: String,
}

impl SvidFailure {
    /// gRPC `INVALID_ARGUMENT`.
    pub const INVALID_ARGUMENT: i32 = 3;
    /// gRPC `NOT_FOUND`.
    pub const NOT_FOUND: i32 = 5;

    /// A refusal with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A JWT-SVID the server minted (SPIRE's `types.JWTSVID`). `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MintedJwtSvid {
    /// The token, JWS compact serialization.
    pub token: String,
    /// Its subject.
    pub spiffe_id: SpiffeId,
    /// `iat`.
    pub issued_at: UnixTime,
    /// `exp`.
    pub expires_at: UnixTime,
}

impl MintedJwtSvid {
    /// A token with its subject and validity.
    pub fn new(
        token: String,
        spiffe_id: SpiffeId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> Self {
        Self {
            token,
            spiffe_id,
            issued_at,
            expires_at,
        }
    }
}

impl fmt::Debug for MintedJwtSvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedJwtSvid")
            .field("spiffe_id", &self.spiffe_id)
            .field("token", &"<redacted>")
            .field("issued_at", &self.issued_at.as_secs())
            .field("expires_at", &self.expires_at.as_secs())
            .finish()
    }
}

/// A trust domain's bundle as the server keeps it (SPIRE's `types.Bundle`): X.509 and JWT
/// authorities, which of them are tainted (being rotated out: SVIDs they issued must be
/// replaced), and the sequence number.
///
/// The authorities are held in `Arc`s so every workload answer shares one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBundle {
    x509: Arc<X509Bundle>,
    jwt: Arc<JwtBundle>,
    tainted_x509: Vec<Certificate>,
    tainted_jwt: BTreeSet<String>,
    sequence_number: u64,
}

// === impl ServerBundle ===

impl ServerBundle {
    /// A bundle of these authorities, none tainted. Both must be of the same trust domain;
    /// the X.509 bundle's names it.
    pub fn new(x509: impl Into<Arc<X509Bundle>>, jwt: impl Into<Arc<JwtBundle>>) -> Self {
        Self {
            x509: x509.into(),
            jwt: jwt.into(),
            tainted_x509: Vec::new(),
            tainted_jwt: BTreeSet::new(),
            sequence_number: 0,
        }
    }

    /// Marks the X.509 authority `authority` (one of the bundle's) tainted.
    #[must_use]
    pub fn with_tainted_x509(mut self, authority: Certificate) -> Self {
        if !self.tainted_x509.contains(&authority) {
            self.tainted_x509.push(authority);
        }
        self
    }

    /// Marks the JWT authority `kid` tainted.
    #[must_use]
    pub fn with_tainted_jwt(mut self, kid: impl Into<String>) -> Self {
        self.tainted_jwt.insert(kid.into());
        self
    }

    /// Sets the sequence number.
    #[must_use]
    pub fn with_sequence_number(mut self, sequence_number: u64) -> Self {
        self.sequence_number = sequence_number;
        self
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        self.x509.trust_domain()
    }

    /// The X.509 authorities (tainted ones included: they are still trusted).
    pub fn x509(&self) -> &Arc<X509Bundle> {
        &self.x509
    }

    /// The JWT authorities (tainted ones included).
    pub fn jwt(&self) -> &Arc<JwtBundle> {
        &self.jwt
    }

    /// The tainted X.509 authorities.
    pub fn tainted_x509(&self) -> &[Certificate] {
        &self.tainted_x509
    }

    /// Whether the X.509 authority `authority` is tainted.
    pub fn is_x509_tainted(&self, authority: &Certificate) -> bool {
        self.tainted_x509.contains(authority)
    }

    /// The `kid`s of the tainted JWT authorities.
    pub fn tainted_jwt(&self) -> &BTreeSet<String> {
        &self.tainted_jwt
    }

    /// The sequence number.
    pub fn sequence_number(&self) -> u64 {
        self.sequence_number
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn id(s: &str) -> EntryId {
        EntryId::new(s).expect("valid id")
    }

    fn at(secs: u64) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }

    #[test]
    fn staleness_follows_revision_and_creation_time() {
        let mut known = KnownRevisions::new();
        assert!(!known.is_current(&EntryRevision::new(id("a"), 1, None)));
        known.insert(EntryRevision::new(id("a"), 1, at(100)));
        assert!(known.is_current(&EntryRevision::new(id("a"), 1, at(100))));
        // A server that does not send creation times compares revisions only.
        assert!(known.is_current(&EntryRevision::new(id("a"), 1, None)));
        assert!(!known.is_current(&EntryRevision::new(id("a"), 2, at(100))));
        // Deleted and created again under the same id: same revision, another creation time.
        assert!(!known.is_current(&EntryRevision::new(id("a"), 1, at(200))));
        assert_eq!(known.get("a").map(|r| r.revision_number), Some(1));
        assert!(known.remove("a"));
        assert!(known.is_empty());
    }

    #[test]
    fn jwt_svid_debug_hides_the_token() {
        let svid = MintedJwtSvid::new(
            "eyJhbGciOiJFUzI1NiJ9.secret.sig".into(),
            SpiffeId::new("spiffe://example.org/w").expect("id"),
            UnixTime::since_unix_epoch(Duration::from_secs(1)),
            UnixTime::since_unix_epoch(Duration::from_secs(2)),
        );
        let debug = format!("{svid:?}");
        assert!(
            !debug.contains("secret") && debug.contains("redacted"),
            "{debug}"
        );
    }
}
