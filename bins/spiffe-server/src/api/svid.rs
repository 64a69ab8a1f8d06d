//! `spire.api.server.svid.v1.SVID`: minting X.509- and JWT-SVIDs for agents and operators.

use std::sync::Arc;

use spire_api_proto::server::svid::v1::svid_server::Svid;

use crate::context::ServerContext;

/// `spire.api.server.svid.v1.SVID`: minting X.509- and JWT-SVIDs for agents and operators.
#[derive(Debug)]
pub(crate) struct SvidService {
    ctx: Arc<ServerContext>,
}

impl SvidService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Svid for SvidService {}
