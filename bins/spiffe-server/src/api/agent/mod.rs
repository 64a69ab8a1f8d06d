//! `spire.api.server.agent.v1.Agent`: attestation, renewal, and the agent records.
//!
//! The trait implementation only delegates, one line per RPC, to a module per concern:
//! [`attest`] (`AttestAgent`), [`renew`] (`RenewAgent`), [`post_status`] (`PostStatus`), and
//! [`admin`] (`CountAgents`, `ListAgents`, `GetAgent`, `BanAgent`, `DeleteAgent`,
//! `CreateJoinToken`).

mod admin;
mod agent_svid;
mod attest;
mod errors;
mod expires_before;
mod post_status;
mod renew;

use std::sync::Arc;

use spire_api_proto::server::agent::v1::agent_server::Agent;
use spire_api_proto::server::agent::v1::{
    AttestAgentRequest, AttestAgentResponse, BanAgentRequest, CountAgentsRequest,
    CountAgentsResponse, CreateJoinTokenRequest, DeleteAgentRequest, GetAgentRequest,
    ListAgentsRequest, ListAgentsResponse, PostStatusRequest, PostStatusResponse,
    RenewAgentRequest, RenewAgentResponse,
};
use spire_api_proto::types;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

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
impl Agent for AgentService {
    async fn count_agents(
        &self,
        request: Request<CountAgentsRequest>,
    ) -> Result<Response<CountAgentsResponse>, Status> {
        admin::count_agents(&self.ctx, request).await
    }

    async fn list_agents(
        &self,
        request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        admin::list_agents(&self.ctx, request).await
    }

    async fn get_agent(
        &self,
        request: Request<GetAgentRequest>,
    ) -> Result<Response<types::Agent>, Status> {
        admin::get_agent(&self.ctx, request).await
    }

    async fn delete_agent(
        &self,
        request: Request<DeleteAgentRequest>,
    ) -> Result<Response<()>, Status> {
        admin::delete_agent(&self.ctx, request).await
    }

    async fn ban_agent(&self, request: Request<BanAgentRequest>) -> Result<Response<()>, Status> {
        admin::ban_agent(&self.ctx, request).await
    }

    async fn create_join_token(
        &self,
        request: Request<CreateJoinTokenRequest>,
    ) -> Result<Response<types::JoinToken>, Status> {
        admin::create_join_token(&self.ctx, request).await
    }

    async fn attest_agent(
        &self,
        request: Request<Streaming<AttestAgentRequest>>,
    ) -> Result<Response<BoxStream<AttestAgentResponse>>, Status> {
        attest::attest_agent(&self.ctx, request).await
    }

    async fn renew_agent(
        &self,
        request: Request<RenewAgentRequest>,
    ) -> Result<Response<RenewAgentResponse>, Status> {
        renew::renew_agent(&self.ctx, request).await
    }

    async fn post_status(
        &self,
        request: Request<PostStatusRequest>,
    ) -> Result<Response<PostStatusResponse>, Status> {
        post_status::post_status(&self.ctx, request).await
    }
}
