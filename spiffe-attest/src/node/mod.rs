//! Node attestation: an agent proves to the server what machine it runs on, and the server
//! answers with the agent's SPIFFE ID and the node's selectors.
//!
//! One attempt is a conversation of opaque byte messages between two halves:
//!
//! ```text
//!   agent                                   server
//!   NodeAttestorAgent::begin()              NodeAttestorServer::begin()
//!   AgentAttestation::payload()  ─────────▶ ServerAttestation::step(payload)
//!                                ◀───────── ServerStep::Challenge(challenge)   (zero or more)
//!   AgentAttestation::respond()  ─────────▶ ServerAttestation::step(response)
//!                                ◀───────── ServerStep::Attested(AttestedNode)
//! ```
//!
//! Carrying the messages is the daemons' job (SPIRE carries them in the `AttestAgent` stream);
//! [`attest_in_process`] drives both halves directly, for tests and single-process setups.
//! Every message is bounded by [`MAX_MESSAGE_LEN`]; plugins parse what they receive
//! defensively and may set tighter limits.

use spiffe_core::SpiffeId;

pub mod join_token;
pub mod k8s_psat;
pub mod x509pop;

use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

pub mod tpm;

/// The largest attestation message (payload, challenge or response) accepted, in bytes.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// The most challenge rounds [`attest_in_process`] runs before giving up.
pub const MAX_CHALLENGE_ROUNDS: usize = 8;

/// What a successful node attestation establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttestedNode {
    /// The agent's SPIFFE ID (`spiffe://example.org/spire/agent/join_token/...`).
    pub agent_id: SpiffeId,
    /// Selectors describing the node, for registration entries to match.
    pub selectors: Vec<Selector>,
    /// Whether the agent may attest again with the same evidence to renew its identity
    /// (false for one-time evidence such as a join token).
    pub can_reattest: bool,
}

impl AttestedNode {
    /// An attested node that cannot re-attest; see [`AttestedNode::reattestable`].
    pub fn new(agent_id: SpiffeId, selectors: Vec<Selector>) -> Self {
        Self {
            agent_id,
            selectors,
            can_reattest: false,
        }
    }

    /// Marks the evidence as reusable for re-attestation.
    pub fn reattestable(mut self) -> Self {
        self.can_reattest = true;
        self
    }
}

/// The server's answer to one message from the agent.
#[derive(Debug)]
pub enum ServerStep {
    /// Send these bytes to the agent and feed its response to the next
    /// [`ServerAttestation::step`].
    Challenge(Vec<u8>),
    /// The attestation succeeded.
    Attested(AttestedNode),
}

/// The server half of a node attestor: verifies evidence and names the agent.
pub trait NodeAttestorServer: Send + Sync {
    /// The plugin's name, shared with its agent half (`join_token`, `x509pop`, `tpm`).
    fn name(&self) -> &'static str;

    /// Starts one attestation attempt. The attempt holds its own state (a nonce issued, a
    /// credential secret) and is dropped when the attempt ends, successful or not.
    fn begin(&self) -> Box<dyn ServerAttestation>;
}

/// One attempt on the server side.
pub trait ServerAttestation: Send {
    /// Processes the agent's next message: first the payload, then the response to each
    /// challenge. An error ends the attempt.
    fn step<'a>(&'a mut self, message: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>>;
}

/// The agent half of a node attestor: produces evidence and answers challenges.
pub trait NodeAttestorAgent: Send + Sync {
    /// The plugin's name, shared with its server half.
    fn name(&self) -> &'static str;

    /// Starts one attestation attempt. The attempt may hold a device session (a TPM context),
    /// so it is not required to be `Send`: create and use it on one thread (for example inside
    /// `tokio::task::spawn_blocking`).
    fn begin(&self) -> Result<Box<dyn AgentAttestation>, AttestError>;
}

/// One attempt on the agent side.
pub trait AgentAttestation {
    /// The first message: the evidence.
    fn payload(&mut self) -> Result<Vec<u8>, AttestError>;

    /// Answers one challenge from the server.
    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, AttestError>;
}

/// Checks a message against [`MAX_MESSAGE_LEN`].
pub fn check_message_len(what: &'static str, message: &[u8]) -> Result<(), AttestError> {
    match message.len() > MAX_MESSAGE_LEN {
        true => Err(AttestError::TooLarge {
            what,
            len: message.len(),
            max: MAX_MESSAGE_LEN,
        }),
        false => Ok(()),
    }
}

/// Runs a whole attestation with both halves in this process: payload, up to
/// [`MAX_CHALLENGE_ROUNDS`] challenges, result. Message sizes are checked on both sides as a
/// daemon would.
///
/// The agent half runs on the calling thread; with a blocking agent (a TPM) call this from a
/// thread that may block.
pub async fn attest_in_process(
    agent: &dyn NodeAttestorAgent,
    server: &dyn NodeAttestorServer,
) -> Result<AttestedNode, AttestError> {
    let mut agent_side = agent.begin()?;
    let mut server_side = server.begin();
    let mut message = agent_side.payload()?;
    check_message_len("payload", &message)?;
    for _ in 0..=MAX_CHALLENGE_ROUNDS {
        match server_side.step(&message).await? {
            ServerStep::Attested(node) => return Ok(node),
            ServerStep::Challenge(challenge) => {
                check_message_len("challenge", &challenge)?;
                message = agent_side.respond(&challenge)?;
                check_message_len("challenge response", &message)?;
            }
        }
    }
    Err(AttestError::OutOfOrder("too many challenge rounds"))
}
