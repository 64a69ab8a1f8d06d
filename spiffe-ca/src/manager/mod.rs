//! CA rotation: a [`CaManager`] keeps the current and next X.509 and JWT authorities of a trust
//! domain, rotates them at SPIRE's fractions of their lifetime, offers SPIRE's local-authority
//! operations (prepare, activate, taint, revoke; for intermediates, taint and revoke of the
//! upstream root), publishes the trust bundle, and journals its
//! state so a restart resumes where it stopped.

mod ca_manager;
mod config;
mod error;
mod file_journal;
mod journal;
mod local_authority;
mod minting;
mod resume;
mod schedule;
mod snapshot;
mod state;
mod threshold;
mod upstream_authority;

pub use ca_manager::{AuthorityInfo, CaManager};
pub use config::{CaManagerConfig, DEFAULT_CA_TTL};
pub use error::{AuthorityKind, JournalError, ManagerError};
pub use file_journal::FileJournal;
pub use journal::{
    AuthorityStatus, Journal, JournalState, JwtKeyRecord, MemoryJournal, X509AuthorityRecord,
    JOURNAL_FORMAT,
};
pub use threshold::max_svid_ttl;
pub use upstream_authority::UpstreamAuthorityInfo;
