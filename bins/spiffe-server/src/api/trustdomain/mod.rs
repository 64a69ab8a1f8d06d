//! `spire.api.server.trustdomain.v1.TrustDomain`: federation relationships.
//!
//! - [`relationships`]: `ListFederationRelationships`, `GetFederationRelationship`,
//!   `BatchCreate/Update/DeleteFederationRelationship` (one status per item) and
//!   `RefreshBundle`.
//! - [`convert`]: SPIRE's messages to and from stored relationships, and the output mask.
//!
//! A relationship's bundle lives in the bundle store: a relationship created or updated with a
//! `trust_domain_bundle` stores it, and deleting the relationship leaves it. Changes wake the
//! federation manager ([`crate::federation`]), which polls the relationships' endpoints;
//! `RefreshBundle` asks it to fetch one now (NOT_FOUND for an unknown one, as SPIRE).

mod convert;
mod relationships;

use std::sync::Arc;

use spire_api_proto::server::trustdomain::v1::trust_domain_server::TrustDomain;
use spire_api_proto::server::trustdomain::v1::{
    BatchCreateFederationRelationshipRequest, BatchCreateFederationRelationshipResponse,
    BatchDeleteFederationRelationshipRequest, BatchDeleteFederationRelationshipResponse,
    BatchUpdateFederationRelationshipRequest, BatchUpdateFederationRelationshipResponse,
    GetFederationRelationshipRequest, ListFederationRelationshipsRequest,
    ListFederationRelationshipsResponse, RefreshBundleRequest,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use crate::context::ServerContext;

/// `spire.api.server.trustdomain.v1.TrustDomain`: federation relationships.
#[derive(Debug)]
pub(crate) struct TrustDomainService {
    ctx: Arc<ServerContext>,
}

impl TrustDomainService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl TrustDomain for TrustDomainService {
    async fn list_federation_relationships(
        &self,
        request: Request<ListFederationRelationshipsRequest>,
    ) -> Result<Response<ListFederationRelationshipsResponse>, Status> {
        relationships::list(&self.ctx, request).await
    }

    async fn get_federation_relationship(
        &self,
        request: Request<GetFederationRelationshipRequest>,
    ) -> Result<Response<types::FederationRelationship>, Status> {
        relationships::get(&self.ctx, request).await
    }

    async fn batch_create_federation_relationship(
        &self,
        request: Request<BatchCreateFederationRelationshipRequest>,
    ) -> Result<Response<BatchCreateFederationRelationshipResponse>, Status> {
        relationships::batch_create(&self.ctx, request).await
    }

    async fn batch_update_federation_relationship(
        &self,
        request: Request<BatchUpdateFederationRelationshipRequest>,
    ) -> Result<Response<BatchUpdateFederationRelationshipResponse>, Status> {
        relationships::batch_update(&self.ctx, request).await
    }

    async fn batch_delete_federation_relationship(
        &self,
        request: Request<BatchDeleteFederationRelationshipRequest>,
    ) -> Result<Response<BatchDeleteFederationRelationshipResponse>, Status> {
        relationships::batch_delete(&self.ctx, request).await
    }

    async fn refresh_bundle(
        &self,
        request: Request<RefreshBundleRequest>,
    ) -> Result<Response<()>, Status> {
        relationships::refresh_bundle(&self.ctx, request).await
    }
}
