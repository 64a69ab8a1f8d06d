//! `spire.api.server.debug.v1.Debug`: the server's state for operators.

use std::sync::Arc;

use spire_api_proto::server::debug::v1::debug_server::Debug;

use crate::context::ServerContext;

/// `spire.api.server.debug.v1.Debug`: the server's state for operators.
#[derive(Debug)]
pub(crate) struct DebugService {
    ctx: Arc<ServerContext>,
}

impl DebugService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Debug for DebugService {}
