//! The CA journal: what a [`CaManager`](super::CaManager) must remember to resume after a
//! restart (SPIRE's `ca_journals`), and the [`Journal`] trait that stores it.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use spiffe_core::json::JsonObject;
use spiffe_core::BoxFuture;

use super::JournalError;

/// The version of the journal format written by this crate.
pub const JOURNAL_FORMAT: u32 = 1;

/// Where an authority is in its life (SPIRE's journal statuses PREPARED, ACTIVE, OLD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthorityStatus {
    /// Created and published in the bundle, not yet signing.
    Prepared,
    /// The one authority that signs new SVIDs.
    Active,
    /// Replaced by a newer active authority; kept in the bundle until it expires.
    Old,
}

impl fmt::Display for AuthorityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prepared => "prepared",
            Self::Active => "active",
            Self::Old => "old",
        })
    }
}

/// Everything a CA manager keeps across restarts. Serialized as JSON by [`FileJournal`](super::FileJournal).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JournalState {
    /// The format version ([`JOURNAL_FORMAT`]).
    pub format: u32,
    /// The trust domain the authorities belong to.
    pub trust_domain: String,
    /// The `spiffe_sequence` of the last published bundle.
    pub bundle_sequence: u64,
    /// X.509 authorities, oldest first.
    pub x509: Vec<X509AuthorityRecord>,
    /// JWT signing keys, oldest first.
    pub jwt: Vec<JwtKeyRecord>,
    /// Authority ids of revoked X.509 authorities.
    pub revoked_x509: Vec<String>,
    /// Key ids (`kid`) of revoked JWT keys.
    pub revoked_jwt: Vec<String>,
    /// Ids (subject key identifiers, lowercase hex) of tainted upstream roots: no new X.509
    /// authority may chain to them. Absent from journals written before upstream taint existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tainted_upstream_x509: Vec<String>,
    /// Ids of revoked upstream roots: they left the bundle with every authority that chained to
    /// them, and no new X.509 authority may chain to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_upstream_x509: Vec<String>,
}

impl JournalState {
    /// An empty state of `trust_domain` in the current format.
    pub fn new(trust_domain: &str) -> Self {
        Self {
            format: JOURNAL_FORMAT,
            trust_domain: trust_domain.to_owned(),
            ..Self::default()
        }
    }
}

/// One X.509 authority as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct X509AuthorityRecord {
    /// The authority id (subjectKeyIdentifier, lowercase hex).
    pub authority_id: String,
    /// The id of the CA key in the key manager.
    pub key_id: String,
    /// The CA certificate followed by upstream intermediates, DER.
    #[serde(with = "der_list")]
    pub chain: Vec<Vec<u8>>,
    /// The certificate published in the bundle (the CA's own when self-signed), DER.
    #[serde(with = "der")]
    pub trust_anchor: Vec<u8>,
    /// The CA certificate's notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// The CA certificate's notAfter, seconds since the Unix epoch.
    pub not_after: u64,
    /// Where the authority is in its life.
    pub status: AuthorityStatus,
    /// Whether the authority was tainted (SVIDs it signed should be replaced).
    pub tainted: bool,
}

/// One JWT signing key as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwtKeyRecord {
    /// The `kid` published in the bundle and JWT headers.
    pub kid: String,
    /// The id of the key in the key manager.
    pub key_id: String,
    /// The public key as a JWK (published in the bundle).
    pub public_jwk: JsonObject,
    /// The JWS algorithm the key signs with (e.g. `"PS256"`). Absent in journals written
    /// before it was recorded: such a key resumes with its key type's default (ES256, ES384,
    /// RS256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// When the key was created, seconds since the Unix epoch.
    pub not_before: u64,
    /// When the key stops being valid, seconds since the Unix epoch.
    pub not_after: u64,
    /// Where the key is in its life.
    pub status: AuthorityStatus,
    /// Whether the key was tainted.
    pub tainted: bool,
}

/// Stores a [`JournalState`]. Implementations must make [`save`](Journal::save) all-or-nothing:
/// after a crash, [`load`](Journal::load) returns either the previous state or the new one.
pub trait Journal: Send + Sync + fmt::Debug {
    /// The stored state, or `None` when nothing was ever saved. A stored state that cannot be
    /// read is an error, never `None`.
    fn load(&self) -> BoxFuture<'_, Result<Option<JournalState>, JournalError>>;

    /// Replaces the stored state with `state`.
    fn save<'a>(&'a self, state: &'a JournalState) -> BoxFuture<'a, Result<(), JournalError>>;
}

/// A journal held in memory (tests, embedders that keep nothing across restarts).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    state: Mutex<Option<JournalState>>,
}

// === impl MemoryJournal ===

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the stored state.
    pub fn snapshot(&self) -> Option<JournalState> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<JournalState>> {
        // A poisoned lock only means a panic elsewhere while holding a plain value.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Journal for MemoryJournal {
    fn load(&self) -> BoxFuture<'_, Result<Option<JournalState>, JournalError>> {
        let state = self.lock().clone();
        Box::pin(async move { Ok(state) })
    }

    fn save<'a>(&'a self, state: &'a JournalState) -> BoxFuture<'a, Result<(), JournalError>> {
        *self.lock() = Some(state.clone());
        Box::pin(async { Ok(()) })
    }
}

/// DER bytes as standard base64 strings.
mod der {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(der: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(der))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .map_err(|_| serde::de::Error::custom("invalid base64 DER"))
    }
}

/// A list of DER blobs as base64 strings.
mod der_list {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(ders: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ders.len()))?;
        for der in ders {
            seq.serialize_element(&STANDARD.encode(der))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|text| {
                STANDARD
                    .decode(text)
                    .map_err(|_| serde::de::Error::custom("invalid base64 DER"))
            })
            .collect()
    }
}
