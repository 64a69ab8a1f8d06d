//! `spire.api.server.localauthority.v1.LocalAuthority`: manual CA rotation (prepare, activate, taint, revoke).

use std::sync::Arc;

use spire_api_proto::server::localauthority::v1::local_authority_server::LocalAuthority;

use crate::context::ServerContext;

/// `spire.api.server.localauthority.v1.LocalAuthority`: manual CA rotation (prepare, activate, taint, revoke).
#[derive(Debug)]
pub(crate) struct LocalAuthorityService {
    ctx: Arc<ServerContext>,
}

impl LocalAuthorityService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl LocalAuthority for LocalAuthorityService {}
