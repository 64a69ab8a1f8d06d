//! `spire.api.server.trustdomain.v1.TrustDomain`: federation relationships.

use std::sync::Arc;

use spire_api_proto::server::trustdomain::v1::trust_domain_server::TrustDomain;

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
impl TrustDomain for TrustDomainService {}
