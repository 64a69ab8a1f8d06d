//! `AttestAgent`: node attestation over a bidirectional stream, carrying the exchange of a
//! `spiffe-attest` node attestor, then the agent's first X.509-SVID.
//!
//! ```text
//!   agent                                         server
//!   params { data { type, payload }, params { csr } } ─▶ check, NodeAttestorServer::begin,
//!                                                     ServerAttestation::step(payload)
//!                                ◀─ challenge         (zero or more rounds, at most
//!   challenge_response         ─▶                      MAX_CHALLENGE_ROUNDS)
//!                                ◀─ result { svid, reattestable }
//! ```
//!
//! Limits: every payload, challenge and response is at most
//! [`MAX_MESSAGE_LEN`](spiffe_attest::node::MAX_MESSAGE_LEN) bytes; the whole exchange,
//! minting included, must end within [`ATTEST_TIMEOUT`]. The CSR is checked (proof of
//! possession) before the attestor runs, so a bad CSR never consumes one-time evidence such as
//! a join token.
//!
//! On success: a banned agent is refused; an agent that already has a record is refused unless
//! its attestor allows re-attestation (trust on first use, SPIRE's message); otherwise the node
//! is created or updated (attestation type, node selectors, certificate serial and expiry,
//! `can_reattest`) and put in the entry cache
//! ([`EntryCache::put_node`](crate::cache::EntryCache::put_node)).
//!
//! The attestor is found by the type the agent names, in
//! [`ServerContext::node_attestors`]; `join_token` must be there too (SPIRE always has it).

use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::node::{self, ServerAttestation, ServerStep, MAX_CHALLENGE_ROUNDS};
use spire_api_proto::server::agent::v1::attest_agent_request::{Params, Step as RequestStep};
use spire_api_proto::server::agent::v1::attest_agent_response::{
    Result as AttestResult, Step as ResponseStep,
};
use spire_api_proto::server::agent::v1::{AttestAgentRequest, AttestAgentResponse};
use tokio::time::Instant;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::agent_svid::{self, CheckedCsr};
use super::errors::attest_status;
use crate::api::status::internal;
use crate::caller::Caller;
use crate::context::ServerContext;
use crate::datastore::{AttestedNode, NodeMask};

/// How long one attestation may take, from the stream's start to the result.
pub(crate) const ATTEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `AttestAgent`.
pub(super) async fn attest_agent(
    ctx: &Arc<ServerContext>,
    request: Request<Streaming<AttestAgentRequest>>,
) -> Result<Response<BoxStream<AttestAgentResponse>>, Status> {
    let deadline = Instant::now() + ATTEST_TIMEOUT;
    let caller = Caller::of(&request);
    let mut inbound = request.into_inner();
    let first = within(deadline, inbound.message())
        .await?
        .map_err(|e| {
            Status::invalid_argument(format!(
                "failed to receive request from stream: {}",
                e.message()
            ))
        })?
        .ok_or_else(|| Status::invalid_argument("failed to receive request from stream: EOF"))?;
    let params = match first.step {
        Some(RequestStep::Params(params)) => Some(params),
        _ => None,
    };
    let (attestor_type, payload, csr) =
        validate(params).map_err(|m| Status::invalid_argument(format!("malformed param: {m}")))?;
    node::check_message_len("attestation data payload", &payload)
        .map_err(|e| Status::invalid_argument(format!("malformed param: {e}")))?;
    let csr = agent_svid::check_csr(&csr)?;
    let Some(attestor) = ctx.node_attestors.get(&attestor_type) else {
        return Err(Status::failed_precondition(format!(
            "error getting node attestor: could not find node attestor type {attestor_type:?}"
        )));
    };

    let mut attempt = attestor.begin();
    let step = within(deadline, attempt.step(&payload))
        .await?
        .map_err(|e| attest_status(&attestor_type, &e))?;
    let attestation = Attestation {
        ctx: ctx.clone(),
        caller,
        attestor_type,
        csr,
    };
    match step {
        // One message each way (join_token): answered without a task.
        ServerStep::Attested(node) => {
            let response = within(deadline, attestation.complete(node)).await??;
            Ok(Response::new(Box::pin(tokio_stream::once(Ok(response)))))
        }
        ServerStep::Challenge(challenge) => {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tokio::spawn(async move {
                let exchange = attestation.exchange(attempt, inbound, challenge, &tx);
                let outcome = within(deadline, exchange).await.and_then(|r| r);
                // The agent may have gone; nothing is left to tell it then.
                let _ = tx.send(outcome).await;
            });
            Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            )))
        }
    }
}

/// SPIRE's checks of the first message; the error is the text after "malformed param: ".
fn validate(params: Option<Params>) -> Result<(String, Vec<u8>, Vec<u8>), &'static str> {
    let params = params.ok_or("missing params")?;
    let data = params.data.ok_or("missing attestation data")?;
    let svid_params = params.params.ok_or("missing X509-SVID parameters")?;
    if svid_params.csr.is_empty() {
        return Err("missing CSR");
    }
    if data.r#type.is_empty() {
        return Err("missing attestation data type");
    }
    if data.payload.is_empty() {
        return Err("missing attestation data payload");
    }
    Ok((data.r#type, data.payload, svid_params.csr))
}

/// `fut`, or DEADLINE_EXCEEDED at `deadline`.
async fn within<F: std::future::Future>(deadline: Instant, fut: F) -> Result<F::Output, Status> {
    tokio::time::timeout_at(deadline, fut).await.map_err(|_| {
        Status::deadline_exceeded(format!(
            "attestation did not complete within {}s",
            ATTEST_TIMEOUT.as_secs()
        ))
    })
}

/// One attestation in progress, after its first message was checked.
struct Attestation {
    ctx: Arc<ServerContext>,
    caller: Caller,
    attestor_type: String,
    csr: CheckedCsr,
}

// === impl Attestation ===

impl Attestation {
    /// The challenge rounds: sends `challenge`, feeds the agent's response to the attestor,
    /// until it attests or refuses, or the rounds run out.
    async fn exchange(
        self,
        mut attempt: Box<dyn ServerAttestation>,
        mut inbound: Streaming<AttestAgentRequest>,
        mut challenge: Vec<u8>,
        outbound: &tokio::sync::mpsc::Sender<Result<AttestAgentResponse, Status>>,
    ) -> Result<AttestAgentResponse, Status> {
        for _ in 0..MAX_CHALLENGE_ROUNDS {
            node::check_message_len("challenge", &challenge)
                .map_err(|e| attest_status(&self.attestor_type, &e))?;
            let message = AttestAgentResponse {
                step: Some(ResponseStep::Challenge(challenge)),
            };
            outbound
                .send(Ok(message))
                .await
                .map_err(|_| Status::internal("failed to send challenge to agent"))?;
            let response = inbound
                .message()
                .await
                .map_err(|e| {
                    Status::internal(format!(
                        "failed to receive challenge from agent: {}",
                        e.message()
                    ))
                })?
                .ok_or_else(|| Status::internal("failed to receive challenge from agent: EOF"))?;
            let Some(RequestStep::ChallengeResponse(response)) = response.step else {
                return Err(Status::invalid_argument(
                    "malformed param: expected a challenge response",
                ));
            };
            node::check_message_len("challenge response", &response)
                .map_err(|e| Status::invalid_argument(format!("malformed param: {e}")))?;
            match attempt
                .step(&response)
                .await
                .map_err(|e| attest_status(&self.attestor_type, &e))?
            {
                ServerStep::Attested(node) => return self.complete(node).await,
                ServerStep::Challenge(next) => challenge = next,
            }
        }
        Err(Status::permission_denied(format!(
            "nodeattestor({}): more than {MAX_CHALLENGE_ROUNDS} challenge rounds",
            self.attestor_type
        )))
    }

    /// After a successful attestation: the checks on the agent's record, its SVID, the record.
    async fn complete(self, attested: node::AttestedNode) -> Result<AttestAgentResponse, Status> {
        let ctx = &*self.ctx;
        let agent_id = attested.agent_id;
        let td = &ctx.settings.trust_domain;
        if !agent_id.is_member_of(td) {
            return Err(Status::internal(format!(
                "invalid agent ID: {:?} is not a member of trust domain {:?}",
                agent_id.as_str(),
                td.as_str()
            )));
        }
        if agent_id == ctx.settings.server_id {
            return Err(Status::internal(
                "agent ID cannot collide with the server ID",
            ));
        }
        let existing = ctx
            .datastore
            .get_node(&agent_id)
            .await
            .map_err(|e| internal("failed to fetch agent", &e))?;
        if let Some(existing) = &existing {
            if existing.banned || existing.cert_serial_number.is_none() {
                return Err(Status::permission_denied(
                    "failed to attest: agent is banned",
                ));
            }
            // Trust on first use: evidence that cannot re-attest attests an agent once.
            if !attested.can_reattest {
                tracing::error!(agent_id = %agent_id, "Attestation data has already been used to attest an agent");
                return Err(Status::permission_denied(
                    "attestation data has already been used to attest an agent",
                ));
            }
        }

        let svid = agent_svid::mint(ctx, &agent_id, self.csr).await?;
        let mut record = AttestedNode::new(agent_id.clone(), self.attestor_type.as_str());
        record.selectors = attested.selectors;
        record.cert_serial_number = Some(svid.serial.clone());
        record.cert_not_after = Some(svid.expires_at);
        record.can_reattest = attested.can_reattest;
        let stored = match existing {
            None => ctx
                .datastore
                .create_node(record)
                .await
                .map_err(|e| internal("failed to create attested agent", &e))?,
            Some(_) => {
                let mask = NodeMask {
                    selectors: true,
                    can_reattest: true,
                    ..NodeMask::certificates()
                };
                ctx.datastore
                    .update_node(record, mask)
                    .await
                    .map_err(|e| internal("failed to update attested agent", &e))?
            }
        };
        ctx.cache.put_node(stored).await;
        tracing::info!(
            agent_id = %agent_id,
            node_attestor_type = %self.attestor_type,
            caller = %self.caller,
            "Agent attestation request completed"
        );
        Ok(AttestAgentResponse {
            step: Some(ResponseStep::Result(AttestResult {
                svid: Some(svid.to_proto(&agent_id)),
                reattestable: attested.can_reattest,
            })),
        })
    }
}
