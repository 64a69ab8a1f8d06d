//! `spire.api.server.bundle.v1.Bundle`: the trust domain's bundle and federated bundles.
//!
//! - [`own`]: `GetBundle`, `AppendBundle`, `CountBundles`.
//! - [`federated`]: `ListFederatedBundles`, `GetFederatedBundle`.
//! - [`batch`]: `BatchCreate/Update/Set/DeleteFederatedBundle`, per-item statuses.
//! - [`publish`]: `PublishJWTAuthority`, a nested server's JWT key into this bundle.
//!
//! The server's bundle is the one stored in the datastore (the CA publishes its authorities
//! there, and in HA every server's are there). `PublishWITAuthority` answers UNIMPLEMENTED.

mod batch;
pub(crate) mod convert;
mod federated;
mod own;
mod publish;

use std::sync::Arc;

use spire_api_proto::server::bundle::v1::bundle_server::Bundle;
use spire_api_proto::server::bundle::v1::{
    AppendBundleRequest, BatchCreateFederatedBundleRequest, BatchCreateFederatedBundleResponse,
    BatchDeleteFederatedBundleRequest, BatchDeleteFederatedBundleResponse,
    BatchSetFederatedBundleRequest, BatchSetFederatedBundleResponse,
    BatchUpdateFederatedBundleRequest, BatchUpdateFederatedBundleResponse, CountBundlesRequest,
    CountBundlesResponse, GetBundleRequest, GetFederatedBundleRequest, ListFederatedBundlesRequest,
    ListFederatedBundlesResponse, PublishJwtAuthorityRequest, PublishJwtAuthorityResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use crate::context::ServerContext;

/// `spire.api.server.bundle.v1.Bundle`: the trust domain's bundle and federated bundles.
#[derive(Debug)]
pub(crate) struct BundleService {
    ctx: Arc<ServerContext>,
}

impl BundleService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Bundle for BundleService {
    async fn count_bundles(
        &self,
        request: Request<CountBundlesRequest>,
    ) -> Result<Response<CountBundlesResponse>, Status> {
        own::count_bundles(&self.ctx, request).await
    }

    async fn get_bundle(
        &self,
        request: Request<GetBundleRequest>,
    ) -> Result<Response<types::Bundle>, Status> {
        own::get_bundle(&self.ctx, request).await
    }

    async fn append_bundle(
        &self,
        request: Request<AppendBundleRequest>,
    ) -> Result<Response<types::Bundle>, Status> {
        own::append_bundle(&self.ctx, request).await
    }

    async fn list_federated_bundles(
        &self,
        request: Request<ListFederatedBundlesRequest>,
    ) -> Result<Response<ListFederatedBundlesResponse>, Status> {
        federated::list_federated_bundles(&self.ctx, request).await
    }

    async fn get_federated_bundle(
        &self,
        request: Request<GetFederatedBundleRequest>,
    ) -> Result<Response<types::Bundle>, Status> {
        federated::get_federated_bundle(&self.ctx, request).await
    }

    async fn batch_create_federated_bundle(
        &self,
        request: Request<BatchCreateFederatedBundleRequest>,
    ) -> Result<Response<BatchCreateFederatedBundleResponse>, Status> {
        batch::batch_create(&self.ctx, request).await
    }

    async fn batch_update_federated_bundle(
        &self,
        request: Request<BatchUpdateFederatedBundleRequest>,
    ) -> Result<Response<BatchUpdateFederatedBundleResponse>, Status> {
        batch::batch_update(&self.ctx, request).await
    }

    async fn batch_set_federated_bundle(
        &self,
        request: Request<BatchSetFederatedBundleRequest>,
    ) -> Result<Response<BatchSetFederatedBundleResponse>, Status> {
        batch::batch_set(&self.ctx, request).await
    }

    async fn batch_delete_federated_bundle(
        &self,
        request: Request<BatchDeleteFederatedBundleRequest>,
    ) -> Result<Response<BatchDeleteFederatedBundleResponse>, Status> {
        batch::batch_delete(&self.ctx, request).await
    }

    async fn publish_jwt_authority(
        &self,
        request: Request<PublishJwtAuthorityRequest>,
    ) -> Result<Response<PublishJwtAuthorityResponse>, Status> {
        publish::publish_jwt_authority(&self.ctx, request).await
    }
}
