//! `spire.api.server.entry.v1.Entry`: registration entries and agents' authorized entries.
//!
//! The trait implementation only delegates, one line per RPC, to a module per concern:
//!
//! - [`read`]: `CountEntries`, `ListEntries` (SPIRE's filters, paging, output mask), `GetEntry`.
//! - [`batch`]: `BatchCreateEntry`, `BatchUpdateEntry`, `BatchDeleteEntry`, one status per
//!   item; each batch is one datastore transaction (an item that fails changes nothing).
//! - [`authorized`]: `GetAuthorizedEntries` and the `SyncAuthorizedEntries` stream, answered
//!   from the entry cache for the calling agent.
//! - [`convert`]: request fields to datastore filters and entries, entries to messages through
//!   the output mask.
//!
//! Authorization happened before a handler runs ([`crate::authz`]): the admin RPCs are for
//! local and admin callers, the authorized-entry RPCs for active agents.

mod authorized;
mod batch;
mod convert;
mod read;

pub(crate) use convert::member_id;
pub(crate) use read::page_request;

use std::sync::Arc;

use spire_api_proto::server::entry::v1::entry_server::Entry;
use spire_api_proto::server::entry::v1::{
    BatchCreateEntryRequest, BatchCreateEntryResponse, BatchDeleteEntryRequest,
    BatchDeleteEntryResponse, BatchUpdateEntryRequest, BatchUpdateEntryResponse,
    CountEntriesRequest, CountEntriesResponse, GetAuthorizedEntriesRequest,
    GetAuthorizedEntriesResponse, GetEntryRequest, ListEntriesRequest, ListEntriesResponse,
    SyncAuthorizedEntriesRequest, SyncAuthorizedEntriesResponse,
};
use spire_api_proto::types;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

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
impl Entry for EntryService {
    async fn count_entries(
        &self,
        request: Request<CountEntriesRequest>,
    ) -> Result<Response<CountEntriesResponse>, Status> {
        read::count_entries(&self.ctx, request).await
    }

    async fn list_entries(
        &self,
        request: Request<ListEntriesRequest>,
    ) -> Result<Response<ListEntriesResponse>, Status> {
        read::list_entries(&self.ctx, request).await
    }

    async fn get_entry(
        &self,
        request: Request<GetEntryRequest>,
    ) -> Result<Response<types::Entry>, Status> {
        read::get_entry(&self.ctx, request).await
    }

    async fn batch_create_entry(
        &self,
        request: Request<BatchCreateEntryRequest>,
    ) -> Result<Response<BatchCreateEntryResponse>, Status> {
        batch::batch_create(&self.ctx, request).await
    }

    async fn batch_update_entry(
        &self,
        request: Request<BatchUpdateEntryRequest>,
    ) -> Result<Response<BatchUpdateEntryResponse>, Status> {
        batch::batch_update(&self.ctx, request).await
    }

    async fn batch_delete_entry(
        &self,
        request: Request<BatchDeleteEntryRequest>,
    ) -> Result<Response<BatchDeleteEntryResponse>, Status> {
        batch::batch_delete(&self.ctx, request).await
    }

    async fn get_authorized_entries(
        &self,
        request: Request<GetAuthorizedEntriesRequest>,
    ) -> Result<Response<GetAuthorizedEntriesResponse>, Status> {
        authorized::get_authorized_entries(&self.ctx, request).await
    }

    async fn sync_authorized_entries(
        &self,
        request: Request<Streaming<SyncAuthorizedEntriesRequest>>,
    ) -> Result<Response<BoxStream<SyncAuthorizedEntriesResponse>>, Status> {
        authorized::sync_authorized_entries(self.ctx.clone(), request).await
    }
}
