//! `RenewAgent`: a new X.509-SVID for the calling agent, same SPIFFE ID, from its CSR.
//!
//! The new certificate's serial is stored as the node's *new* serial; the current one stays
//! valid until the agent first calls with the new SVID, when the authorization layer promotes
//! it ([`crate::authz`]). An agent whose attestor can re-attest must re-attest instead (SPIRE's
//! `AGENT_MUST_REATTEST`).

use spire_api_proto::server::agent::v1::{RenewAgentRequest, RenewAgentResponse};
use spire_api_proto::types::permission_denied_details::Reason;
use tonic::{Request, Response, Status};

use super::agent_svid;
use crate::api::status::{self, chain, internal};
use crate::caller::Caller;
use crate::context::ServerContext;
use crate::datastore::{AttestedNode, DataStoreError, NodeMask};

/// `RenewAgent`.
pub(super) async fn renew_agent(
    ctx: &ServerContext,
    request: Request<RenewAgentRequest>,
) -> Result<Response<RenewAgentResponse>, Status> {
    let caller = Caller::of(&request);
    let Some(agent_id) = caller.spiffe_id().cloned() else {
        return Err(Status::internal("caller ID missing from request context"));
    };
    let node = ctx
        .datastore
        .get_node(&agent_id)
        .await
        .map_err(|e| internal("failed to fetch agent", &e))?
        .ok_or_else(|| Status::not_found("agent not found"))?;
    if node.can_reattest {
        return Err(status::agent_denied(
            Reason::AgentMustReattest,
            "agent must reattest instead of renew".into(),
        ));
    }
    tracing::info!(agent_id = %agent_id, "Renewing agent SVID");
    let params = request
        .into_inner()
        .params
        .ok_or_else(|| Status::invalid_argument("params cannot be nil"))?;
    if params.csr.is_empty() {
        return Err(Status::invalid_argument("missing CSR"));
    }
    let csr = agent_svid::check_csr(&params.csr)?;
    let svid = agent_svid::mint(ctx, &agent_id, csr).await?;

    let mut update = AttestedNode::new(agent_id.clone(), node.attestation_type);
    update.new_cert_serial_number = Some(svid.serial.clone());
    update.new_cert_not_after = Some(svid.expires_at);
    let mask = NodeMask {
        new_cert_serial_number: true,
        new_cert_not_after: true,
        ..NodeMask::default()
    };
    match ctx.datastore.update_node(update, mask).await {
        Ok(_) => {}
        Err(DataStoreError::NotFound { .. }) => return Err(Status::not_found("agent not found")),
        Err(e) => return Err(internal("failed to update agent", &e)),
    }
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
    Ok(Response::new(RenewAgentResponse {
        svid: Some(svid.to_proto(&agent_id)),
    }))
}
