use spiffe_ca::keys::KeyError;
use spiffe_ca::CaError;
use spiffe_core::jwt::JwtSvidError as TokenError;

use crate::server::ServerError;

/// Which call of a sync round failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncStage {
    /// `SyncAuthorizedEntries`.
    Entries,
    /// `GetBundle` or `GetFederatedBundle`.
    Bundles,
    /// `BatchNewX509SVID`.
    Signing,
}

/// Why a sync round failed. What the round applied before failing stays applied (entries,
/// bundles, SVIDs of earlier batches); the next round retries the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A server call failed.
    #[error("sync failed at {stage:?}")]
    Server {
        /// The call.
        stage: SyncStage,
        /// Why.
        #[source]
        source: ServerError,
    },
    /// The server's bundle is not of the agent's trust domain.
    #[error("the server's bundle is not of the agent's trust domain")]
    ForeignBundle,
    /// `BatchNewX509SVID` answered a different number of results than CSRs sent.
    #[error("the server answered {got} results to {sent} CSRs")]
    BatchMismatch {
        /// CSRs sent.
        sent: usize,
        /// Results received.
        got: usize,
    },
    /// Generating a workload key or its CSR failed.
    #[error("generating a workload key failed")]
    KeyGeneration(#[source] KeyGenerationError),
}

/// Why a workload key or its CSR could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyGenerationError {
    /// The key itself.
    #[error("key generation failed")]
    Key(#[source] KeyError),
    /// The CSR.
    #[error("writing the CSR failed")]
    Csr(#[source] CaError),
    /// The blocking task generating keys did not complete.
    #[error("the key generation task did not complete")]
    Task,
}

impl SyncError {
    pub(crate) fn server(stage: SyncStage) -> impl FnOnce(ServerError) -> Self {
        move |source| Self::Server { stage, source }
    }
}

/// Why a JWT-SVID could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtSvidError {
    /// No audience was given (JWT-SVID §3: `aud` is required).
    #[error("a JWT-SVID needs at least one audience")]
    NoAudience,
    /// The server could not mint one, and no unexpired token is cached.
    #[error("the server could not mint a JWT-SVID")]
    Server(#[source] ServerError),
    /// The server's token does not parse.
    #[error("the server's JWT-SVID is malformed")]
    Malformed(#[source] TokenError),
    /// The server's token is for another SPIFFE ID than the entry's.
    #[error("the server's JWT-SVID is for another SPIFFE ID than the entry's")]
    WrongSubject,
}
