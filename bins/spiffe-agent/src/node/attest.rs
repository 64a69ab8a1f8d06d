//! `AttestAgent` and `RenewAgent` as the agent calls them.
//!
//! The attestor's agent half may hold a device session that is not `Send` (a TPM context), so
//! it runs on a thread of its own and exchanges messages with the stream through channels.

use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::node::{check_message_len, NodeAttestorAgent, MAX_CHALLENGE_ROUNDS};
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::certification_request;
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::{Certificate, TrustDomain, X509Svid};
use spire_api_proto::server::agent::v1::agent_client::AgentClient;
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::Step as ResponseStep;
use spire_api_proto::server::agent::v1::{
    AgentX509svidParams, AttestAgentRequest, RenewAgentRequest,
};
use spire_api_proto::types::{AttestationData, X509svid};
use thiserror::Error;
use tonic::transport::Channel;

/// How long one attestation may take end to end.
const ATTEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest a `RenewAgent` call may take (a connection gone silent would otherwise hold it
/// until the HTTP/2 keepalive notices, minutes later); the renewal is retried.
const RENEW_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent key type (SPIRE's agent uses EC P-256 for its own key).
const AGENT_KEY_TYPE: KeyType = KeyType::EcP256;

/// Why attestation or renewal failed. Never carries the evidence (a join token).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The agent half of the attestor failed.
    #[error("node attestor {plugin} failed")]
    Attestor {
        /// The plugin.
        plugin: &'static str,
        /// Why.
        #[source]
        source: spiffe_attest::AttestError,
    },
    /// The server refused or could not be reached.
    #[error("{rpc} failed: {}: {}", status.code(), status.message())]
    Rpc {
        /// `AttestAgent` or `RenewAgent`.
        rpc: &'static str,
        /// The server's status.
        status: tonic::Status,
    },
    /// The server's answer is not what the protocol allows.
    #[error("{0}")]
    Protocol(&'static str),
    /// The SVID the server returned is not usable with the agent's key.
    #[error("the server returned an unusable agent SVID: {0}")]
    BadSvid(String),
    /// The key or CSR could not be made.
    #[error("unable to generate the agent key: {0}")]
    Key(String),
    /// The exchange took longer than allowed.
    #[error("attestation did not complete within {}s", ATTEST_TIMEOUT.as_secs())]
    Timeout,
}

impl AttestError {
    /// Whether the server answered that the agent must attest again instead of renewing
    /// (SPIRE's `AGENT_MUST_REATTEST`, a PERMISSION_DENIED).
    pub fn must_reattest(&self) -> bool {
        matches!(self, AttestError::Rpc { status, .. }
            if status.code() == tonic::Code::PermissionDenied
                && status.message().contains("reattest"))
    }

    /// Whether the call ran out of time (no answer within its bound, or the server's
    /// DEADLINE_EXCEEDED): the connection may have gone silent.
    pub fn timed_out(&self) -> bool {
        match self {
            AttestError::Timeout => true,
            AttestError::Rpc { status, .. } => status.code() == tonic::Code::DeadlineExceeded,
            _ => false,
        }
    }
}

/// A successful attestation.
#[derive(Debug)]
pub struct Attested {
    /// The agent's SVID and key.
    pub svid: X509Svid,
    /// Whether the server lets this agent attest again with the same kind of evidence.
    pub reattestable: bool,
}

fn new_key() -> Result<(SoftwareSigner, Vec<u8>), AttestError> {
    let signer = SoftwareSigner::generate("agent", AGENT_KEY_TYPE)
        .map_err(|e| AttestError::Key(e.to_string()))?;
    let csr = certification_request(&signer).map_err(|e| AttestError::Key(e.to_string()))?;
    Ok((signer, csr.as_ref().to_vec()))
}

fn svid_from(
    signer: &SoftwareSigner,
    svid: Option<X509svid>,
    trust_domain: &TrustDomain,
) -> Result<X509Svid, AttestError> {
    let svid = svid.ok_or(AttestError::Protocol("the server returned no SVID"))?;
    let chain = svid
        .cert_chain
        .into_iter()
        .map(|der| Certificate::from_der(CertificateDer::from(der)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AttestError::BadSvid(e.to_string()))?;
    let key = signer
        .to_pkcs8()
        .map_err(|e| AttestError::Key(e.to_string()))?;
    let svid = X509Svid::from_parts(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
        .map_err(|e| AttestError::BadSvid(e.to_string()))?;
    if &svid.spiffe_id().trust_domain() != trust_domain {
        return Err(AttestError::BadSvid(format!(
            "its SPIFFE ID {} is not of trust domain {}",
            svid.spiffe_id(),
            trust_domain
        )));
    }
    Ok(svid)
}

/// Runs `AttestAgent` over `channel` with `attestor`: a new key, its CSR and the evidence, then
/// the challenges, then the agent's SVID.
pub async fn attest(
    channel: Channel,
    attestor: Arc<dyn NodeAttestorAgent>,
    trust_domain: &TrustDomain,
) -> Result<Attested, AttestError> {
    tokio::time::timeout(
        ATTEST_TIMEOUT,
        attest_inner(channel, attestor, trust_domain),
    )
    .await
    .map_err(|_| AttestError::Timeout)?
}

async fn attest_inner(
    channel: Channel,
    attestor: Arc<dyn NodeAttestorAgent>,
    trust_domain: &TrustDomain,
) -> Result<Attested, AttestError> {
    let plugin = attestor.name();
    let (signer, csr) = tokio::task::spawn_blocking(new_key)
        .await
        .map_err(|_| AttestError::Key("key generation task failed".into()))??;

    // The attestor's thread: the payload first, then one answer per challenge.
    let (challenge_tx, challenge_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (answer_tx, mut answer_rx) =
        tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, spiffe_attest::AttestError>>();
    std::thread::Builder::new()
        .name("node-attestor".into())
        .spawn(move || {
            let mut attempt = match attestor.begin() {
                Ok(a) => a,
                Err(e) => {
                    let _ = answer_tx.send(Err(e));
                    return;
                }
            };
            if answer_tx.send(attempt.payload()).is_err() {
                return;
            }
            while let Ok(challenge) = challenge_rx.recv() {
                if answer_tx.send(attempt.respond(&challenge)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| AttestError::Key(format!("unable to start the attestor thread: {e}")))?;
    let attestor_err = |source| AttestError::Attestor { plugin, source };
    let mut next_answer = async || -> Result<Vec<u8>, AttestError> {
        let answer = answer_rx
            .recv()
            .await
            .ok_or(AttestError::Protocol("the node attestor stopped"))?
            .map_err(attestor_err)?;
        check_message_len("attestation message", &answer).map_err(attestor_err)?;
        Ok(answer)
    };
    let payload = next_answer().await?;

    let (request_tx, request_rx) = tokio::sync::mpsc::channel::<AttestAgentRequest>(2);
    let first = AttestAgentRequest {
        step: Some(RequestStep::Params(Params {
            data: Some(AttestationData {
                r#type: plugin.to_owned(),
                payload,
            }),
            params: Some(AgentX509svidParams { csr }),
        })),
    };
    request_tx
        .send(first)
        .await
        .map_err(|_| AttestError::Protocol("the request stream closed"))?;
    let rpc_err = |status| AttestError::Rpc {
        rpc: "AttestAgent",
        status,
    };
    let mut responses = AgentClient::new(channel)
        .attest_agent(tokio_stream::wrappers::ReceiverStream::new(request_rx))
        .await
        .map_err(rpc_err)?
        .into_inner();
    for _ in 0..=MAX_CHALLENGE_ROUNDS {
        let response = responses
            .message()
            .await
            .map_err(rpc_err)?
            .ok_or(AttestError::Protocol(
                "the server closed the attestation stream without a result",
            ))?;
        match response.step {
            Some(ResponseStep::Challenge(challenge)) => {
                check_message_len("challenge", &challenge).map_err(attestor_err)?;
                challenge_tx
                    .send(challenge)
                    .map_err(|_| AttestError::Protocol("the node attestor stopped"))?;
                let answer = next_answer().await?;
                request_tx
                    .send(AttestAgentRequest {
                        step: Some(RequestStep::ChallengeResponse(answer)),
                    })
                    .await
                    .map_err(|_| AttestError::Protocol("the request stream closed"))?;
            }
            Some(ResponseStep::Result(result)) => {
                let svid = svid_from(&signer, result.svid, trust_domain)?;
                return Ok(Attested {
                    svid,
                    reattestable: result.reattestable,
                });
            }
            None => {
                return Err(AttestError::Protocol(
                    "the server sent an empty attestation step",
                ))
            }
        }
    }
    Err(AttestError::Protocol("too many challenge rounds"))
}

/// Runs `RenewAgent` over the mTLS `channel`: a new key and its SVID, same SPIFFE ID.
pub async fn renew(channel: Channel, trust_domain: &TrustDomain) -> Result<X509Svid, AttestError> {
    let (signer, csr) = tokio::task::spawn_blocking(new_key)
        .await
        .map_err(|_| AttestError::Key("key generation task failed".into()))??;
    let mut client = AgentClient::new(channel);
    let call = client.renew_agent(RenewAgentRequest {
        params: Some(AgentX509svidParams { csr }),
    });
    let response = match tokio::time::timeout(RENEW_TIMEOUT, call).await {
        Ok(answer) => answer,
        Err(_) => Err(tonic::Status::deadline_exceeded(format!(
            "no answer within {}s",
            RENEW_TIMEOUT.as_secs()
        ))),
    }
    .map_err(|status| AttestError::Rpc {
        rpc: "RenewAgent",
        status,
    })?
    .into_inner();
    svid_from(&signer, response.svid, trust_domain)
}
