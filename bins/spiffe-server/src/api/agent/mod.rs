//! `spire.api.server.agent.v1.Agent`: attestation, renewal, and the agent records.
//!
//! The trait implementation only delegates, one line per RPC, to a module per concern:
//! [`attest`] (`AttestAgent`), [`renew`] (`RenewAgent`), [`post_status`] (`PostStatus`); the
//! admin RPCs (Count, List, Get, Ban, Delete, CreateJoinToken) live beside them.

mod agent_svid;
mod attest;
mod errors;
mod post_status;
mod renew;

use std::sync::Arc;

use spire_api_proto::server::agent::v1::agent_server::Agent;
use spire_api_proto::server::agent::v1::{
    AttestAgentRequest, AttestAgentResponse, PostStatusRequest, PostStatusResponse,
    RenewAgentRequest, RenewAgentResponse,
};
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
