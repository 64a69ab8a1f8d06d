//! `join_token` node attestation: the agent presents a one-time token an operator created on
//! the server.
//!
//! Wire format (as SPIRE): the payload is the token's bytes, nothing else; there is no
//! challenge. The agent ID is `spiffe://<td>/spire/agent/join_token/<token>`, there are no node
//! selectors, and the agent cannot re-attest (the token is gone once used).
//!
//! ```
//! # use std::sync::Arc;
//! # use spiffe_attest::node::{attest_in_process, join_token::*};
//! # use spiffe_core::TrustDomain;
//! # use spiffe_core::pki_types::UnixTime;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(InMemoryJoinTokenStore::new());
//! let server = JoinTokenServer::new(TrustDomain::new("example.org")?, store.clone());
//! let token = server.create_token(std::time::Duration::from_secs(600)).await?;
//!
//! let agent = JoinTokenAgent::new(token.clone());
//! let node = attest_in_process(&agent, &server).await?;
//! assert_eq!(
//!     node.agent_id.as_str(),
//!     format!("spiffe://example.org/spire/agent/join_token/{}", token.expose())
//! );
//! assert!(attest_in_process(&agent, &server).await.is_err()); // one time only
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

mod store;
mod token;

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

use super::{AgentAttestation, AttestedNode, NodeAttestorAgent, NodeAttestorServer};
use super::{ServerAttestation, ServerStep};
use spiffe_core::BoxFuture;

use crate::AttestError;

pub use store::{InMemoryJoinTokenStore, JoinTokenStore};
pub use token::{JoinToken, MAX_TOKEN_LEN};

/// The plugin name, which is also SPIRE's attestation data type.
pub const PLUGIN_NAME: &str = "join_token";

/// A source of the current time, replaceable in tests.
type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The server half: consumes a token from a [`JoinTokenStore`].
pub struct JoinTokenServer {
    trust_domain: TrustDomain,
    store: Arc<dyn JoinTokenStore>,
    clock: Clock,
}

// === impl JoinTokenServer ===

impl JoinTokenServer {
    /// An attestor for agents of `trust_domain`, with tokens kept in `store`.
    pub fn new(trust_domain: TrustDomain, store: Arc<dyn JoinTokenStore>) -> Self {
        Self {
            trust_domain,
            store,
            clock: Arc::new(UnixTime::now),
        }
    }

    /// Replaces the system clock (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Generates a token (see [`JoinToken::generate`]), stores it valid for `ttl`, and returns
    /// it for the operator to hand to the agent.
    pub async fn create_token(&self, ttl: Duration) -> Result<JoinToken, JoinTokenError> {
        let token = JoinToken::generate()?;
        let now = (self.clock)().as_secs();
        let expires_at = now
            .checked_add(ttl.as_secs())
            .ok_or(JoinTokenError::TtlTooLong)?;
        self.store
            .insert(
                &token,
                UnixTime::since_unix_epoch(Duration::from_secs(expires_at)),
            )
            .await?;
        Ok(token)
    }

    /// The agent ID a token attests to: `spiffe://<td>/spire/agent/join_token/<token>`.
    pub fn agent_id(&self, token: &JoinToken) -> Result<SpiffeId, JoinTokenError> {
        SpiffeId::from_segments(
            &self.trust_domain,
            ["spire", "agent", PLUGIN_NAME, token.expose()],
        )
        .map_err(|_| JoinTokenError::Malformed)
    }

    async fn attest(&self, payload: &[u8]) -> Result<AttestedNode, JoinTokenError> {
        let token = JoinToken::from_payload(payload)?;
        // Taken (deleted) before the expiry check, as SPIRE does: a token is never usable
        // twice, not even after a failed attempt.
        let expires_at = self
            .store
            .take(&token)
            .await?
            .ok_or(JoinTokenError::UnknownOrUsed)?;
        if (self.clock)() > expires_at {
            return Err(JoinTokenError::Expired);
        }
        Ok(AttestedNode::new(self.agent_id(&token)?, Vec::new()))
    }
}

impl std::fmt::Debug for JoinTokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTokenServer")
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

impl NodeAttestorServer for JoinTokenServer {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Box<dyn ServerAttestation> {
        Box::new(ServerAttempt {
            attestor: JoinTokenServer {
                trust_domain: self.trust_domain.clone(),
                store: self.store.clone(),
                clock: self.clock.clone(),
            },
            done: false,
        })
    }
}

/// One server-side attempt: a single payload, no challenge.
struct ServerAttempt {
    attestor: JoinTokenServer,
    done: bool,
}

impl ServerAttestation for ServerAttempt {
    fn step<'a>(&'a mut self, message: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>> {
        Box::pin(async move {
            if std::mem::replace(&mut self.done, true) {
                return Err(AttestError::OutOfOrder(
                    "join_token takes one payload and no challenge response",
                ));
            }
            self.attestor
                .attest(message)
                .await
                .map(ServerStep::Attested)
                .map_err(|e| AttestError::plugin(PLUGIN_NAME, e))
        })
    }
}

/// The agent half: sends the token.
#[derive(Debug, Clone)]
pub struct JoinTokenAgent {
    token: JoinToken,
}

// === impl JoinTokenAgent ===

impl JoinTokenAgent {
    /// An agent that attests with `token`.
    pub fn new(token: JoinToken) -> Self {
        Self { token }
    }
}

impl NodeAttestorAgent for JoinTokenAgent {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Result<Box<dyn AgentAttestation>, AttestError> {
        Ok(Box::new(AgentAttempt {
            token: self.token.clone(),
        }))
    }
}

struct AgentAttempt {
    token: JoinToken,
}

impl AgentAttestation for AgentAttempt {
    fn payload(&mut self) -> Result<Vec<u8>, AttestError> {
        Ok(self.token.expose().as_bytes().to_vec())
    }

    fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, AttestError> {
        Err(AttestError::OutOfOrder(
            "join_token does not answer challenges",
        ))
    }
}

/// Why a join token attestation failed. No variant carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinTokenError {
    /// The payload is empty.
    #[error("join token is empty")]
    Empty,
    /// The payload is longer than [`MAX_TOKEN_LEN`].
    #[error("join token is {len} bytes, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token has characters outside `A-Z a-z 0-9 . - _`, or is `.` or `..`.
    #[error("join token has characters not allowed in a SPIFFE ID path segment")]
    Malformed,
    /// No such token: never created, or already used.
    #[error("join token does not exist or has already been used")]
    UnknownOrUsed,
    /// The token expired (it is consumed all the same).
    #[error("join token expired")]
    Expired,
    /// The requested lifetime does not fit the clock.
    #[error("join token lifetime is too long")]
    TtlTooLong,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The token store failed.
    #[error("join token store failed")]
    Store,
}
