//! `spire.api.server.entry.v1.Entry`: registration entries and agents' authorized entries.

use std::sync::Arc;

use spire_api_proto::server::entry::v1::entry_server::Entry;

use crate::context::ServerContext;

/// `spire.api.server.entry.v1.Entry`: registration entries and agents' authorized entries.
#[derive(Debug)]
pub(crate) struct EntryService {
    ctx: Arc<ServerContext>,
}

impl EntryService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Entry for EntryService {}
