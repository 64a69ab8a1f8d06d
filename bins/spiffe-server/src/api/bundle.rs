//! `spire.api.server.bundle.v1.Bundle`: the trust domain's bundle and federated bundles.

use std::sync::Arc;

use spire_api_proto::server::bundle::v1::bundle_server::Bundle;

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
impl Bundle for BundleService {}
