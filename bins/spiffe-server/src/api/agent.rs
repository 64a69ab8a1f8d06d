//! `spire.api.server.agent.v1.Agent`: attestation, renewal, and the agent records.

use std::sync::Arc;

use spire_api_proto::server::agent::v1::agent_server::Agent;

use crate::context::ServerContext;

/// `spire.api.server.agent.v1.Agent`: attestation, renewal, and the agent records.
#[derive(Debug)]
pub(crate) struct AgentService {
    ctx: Arc<ServerContext>,
}

impl AgentService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Agent for AgentService {}
