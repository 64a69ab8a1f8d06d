//! Why a CA manager or its journal failed.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::keys::KeyError;
use crate::CaError;

use super::AuthorityStatus;

/// Which kind of authority an operation concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// An X.509 CA (identified by its authority id, the SKI in hex).
    X509,
    /// A JWT signing key (identified by its `kid`).
    Jwt,
    /// An upstream root that X.509 authorities chain to (identified by its subject key
    /// identifier in hex).
    X509Upstream,
}

impl fmt::Display for AuthorityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X509 => "X.509 authority",
            Self::Jwt => "JWT authority",
            Self::X509Upstream => "upstream X.509 authority",
        })
    }
}

/// Why a journal could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing the journal's storage failed.
    #[error("journal storage: {operation} failed")]
    Io {
        /// What was being done (e.g. "rename journal").
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The journal file is not a journal: it does not parse. It is left in place; a corrupt
    /// journal is never replaced by a fresh CA.
    #[error("journal {path:?} is corrupt (line {line}, column {column})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped (1-based).
        line: usize,
        /// Where parsing stopped (1-based).
        column: usize,
    },
    /// The journal was written in a format version this crate does not read.
    #[error("journal {path:?} has unsupported format version {format}")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The version found.
        format: u32,
    },
    /// Encoding the state failed.
    #[error("encoding the journal failed")]
    Encode,
}

/// Why a [`CaManager`](super::CaManager) operation failed. Nothing is changed when an
/// operation fails: the journal and the published state stay as they were.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The journal could not be read or written.
    #[error("CA journal")]
    Journal(#[from] JournalError),
    /// A key manager operation failed.
    #[error("CA key")]
    Key(#[from] KeyError),
    /// Building an authority or minting failed.
    #[error("CA")]
    Ca(#[from] CaError),
    /// The journal names a key the key manager does not hold.
    #[error("the journal's {kind} uses key {key_id:?}, which the key manager does not hold")]
    MissingKey {
        /// The authority kind.
        kind: AuthorityKind,
        /// The key id in the key manager.
        key_id: String,
    },
    /// The key the journal names does not match the journaled public key or certificate.
    #[error("key {key_id:?} does not match the journaled {kind}")]
    KeyMismatch {
        /// The authority kind.
        kind: AuthorityKind,
        /// The key id in the key manager.
        key_id: String,
    },
    /// The journal's content is inconsistent (e.g. two active authorities, a certificate that
    /// does not parse).
    #[error("the journal is inconsistent: {reason}")]
    InconsistentJournal {
        /// What is wrong.
        reason: &'static str,
    },
    /// No authority with this id.
    #[error("no {kind} with id {id:?}")]
    UnknownAuthority {
        /// The authority kind.
        kind: AuthorityKind,
        /// The id asked for.
        id: String,
    },
    /// `activate` was called with no prepared authority.
    #[error("no prepared {kind} to activate")]
    NothingPrepared {
        /// The authority kind.
        kind: AuthorityKind,
    },
    /// The operation needs an authority in another status (taint needs an old authority,
    /// never the active or a prepared one; activating by id needs the prepared one).
    #[error("{operation} needs {kind} {id:?} to be {required}; it is {status}")]
    WrongStatus {
        /// The operation.
        operation: &'static str,
        /// The authority kind.
        kind: AuthorityKind,
        /// The authority's id.
        id: String,
        /// Its status.
        status: AuthorityStatus,
        /// The status the operation needs.
        required: AuthorityStatus,
    },
    /// The authority is already tainted.
    #[error("{kind} {id:?} is already tainted")]
    AlreadyTainted {
        /// The authority kind.
        kind: AuthorityKind,
        /// The authority's id.
        id: String,
    },
    /// Only a tainted authority can be revoked.
    #[error("{kind} {id:?} is not tainted; taint it before revoking it")]
    NotTainted {
        /// The authority kind.
        kind: AuthorityKind,
        /// The authority's id.
        id: String,
    },
    /// The journal belongs to another trust domain than the configured one.
    #[error("the journal belongs to trust domain {journal:?}, not {configured}")]
    TrustDomainMismatch {
        /// The journal's trust domain.
        journal: String,
        /// The configured trust domain.
        configured: spiffe_core::TrustDomain,
    },
    /// The X.509 authorities are intermediates under an upstream authority: one cannot be
    /// tainted or revoked alone, because the bundle holds the upstream root they all chain to,
    /// so SVIDs of a "revoked" intermediate would still verify. Taint and revoke the upstream
    /// root instead ([`taint_x509_upstream`](super::CaManager::taint_x509_upstream),
    /// [`revoke_x509_upstream`](super::CaManager::revoke_x509_upstream)).
    #[error(
        "cannot {operation} one X.509 authority under an upstream authority: the bundle holds \
         the upstream root every intermediate chains to; {operation} the upstream authority \
         instead"
    )]
    UpstreamConfigured {
        /// The operation refused (`taint` or `revoke`).
        operation: &'static str,
    },
    /// An upstream-authority operation on a self-signed CA.
    #[error("cannot {operation} an upstream X.509 authority: no upstream authority is configured")]
    NoUpstreamAuthority {
        /// The operation refused (`taint` or `revoke`).
        operation: &'static str,
    },
    /// The upstream authority signed the new X.509 authority under a root the operator tainted
    /// or revoked; nothing was changed. The upstream must move to another root first.
    #[error("the upstream authority signed under root {id:?}, which is {state}; no new X.509 authority may chain to it")]
    UpstreamRootDistrusted {
        /// The root's id (subject key identifier in hex).
        id: String,
        /// `tainted` or `revoked`.
        state: &'static str,
    },
    /// The upstream root is still the anchor of the active or a prepared X.509 authority.
    #[error("upstream X.509 authority {id:?} still anchors the {status} X.509 authority")]
    UpstreamAuthorityInUse {
        /// The root's id.
        id: String,
        /// The status of the authority chaining to it.
        status: AuthorityStatus,
    },
    /// A TTL in the configuration is zero.
    #[error("the configured {kind} TTL is zero")]
    ZeroTtl {
        /// The authority kind.
        kind: AuthorityKind,
    },
}
