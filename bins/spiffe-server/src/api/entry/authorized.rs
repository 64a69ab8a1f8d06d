//! The entries an agent is authorized for, from the entry cache: `GetAuthorizedEntries` (all
//! of them, every time) and `SyncAuthorizedEntries` (SPIRE's incremental protocol).
//!
//! `SyncAuthorizedEntries`, as SPIRE speaks it on the wire:
//!
//! ```text
//! agent                                         server
//!   | -- request { output_mask, ids: [] } -------> |   ids must be empty; the mask, if
//!   |                                              |   given, must keep revision_number
//!   | <-- { entries: all }  (n <= page size) ----- |   then the server ends the stream
//!   |   or                                         |
//!   | <-- { entry_revisions: page, more: true } -- |   (id, revision_number, created_at)
//!   | <-- { entry_revisions: last, more: false } - |   of every authorized entry
//!   | -- request { ids: changed or unknown } ----> |   the agent compares revisions with
//!   | <-- { entries: page, more: true } ---------- |   what it holds and asks only for
//!   | <-- { entries: rest, more: false } --------- |   entries that changed
//!   | -- … more requests, or close --------------> |
//! ```
//!
//! So after one change among many entries, the full entry sent is that one: the cost in full
//! entries is proportional to what changed, and the rest costs one small revision record each.
//! The output mask of the first request applies to every entry sent; later requests' masks
//! are ignored (as SPIRE).

use std::sync::Arc;

use spiffe_attest::RegistrationEntry;
use spiffe_core::SpiffeId;
use spire_api_proto::server::entry::v1::{
    EntryRevision, GetAuthorizedEntriesRequest, GetAuthorizedEntriesResponse,
    SyncAuthorizedEntriesRequest, SyncAuthorizedEntriesResponse,
};
use spire_api_proto::types;
use tokio::sync::mpsc;
use tonic::codegen::BoxStream;
use tonic::{Code, Request, Response, Status, Streaming};

use super::batch::refresh;
use super::convert::entry_message;
use crate::caller::Caller;
use crate::context::ServerContext;

/// SPIRE's `defaultEntryPageSize`: up to this many authorized entries are sent in full in one
/// response; beyond it the server sends revisions and pages of requested entries.
pub(crate) const ENTRY_PAGE_SIZE: usize = 500;

type Outbound = mpsc::Sender<Result<SyncAuthorizedEntriesResponse, Status>>;

/// `GetAuthorizedEntries`.
pub(super) async fn get_authorized_entries(
    ctx: &ServerContext,
    request: Request<GetAuthorizedEntriesRequest>,
) -> Result<Response<GetAuthorizedEntriesResponse>, Status> {
    let agent_id = caller_id(&Caller::of(&request))?;
    let mask = request.into_inner().output_mask;
    let entries = authorized(ctx, &agent_id).await;
    let mut messages = Vec::with_capacity(entries.len());
    for entry in &entries {
        // As SPIRE: an entry that cannot be converted is logged and left out.
        if let Ok(message) = entry_message(entry, mask.as_ref()) {
            messages.push(message);
        }
    }
    Ok(Response::new(GetAuthorizedEntriesResponse {
        entries: messages,
    }))
}

/// `SyncAuthorizedEntries`: the protocol runs in a task feeding the response stream.
pub(super) async fn sync_authorized_entries(
    ctx: Arc<ServerContext>,
    request: Request<Streaming<SyncAuthorizedEntriesRequest>>,
) -> Result<Response<BoxStream<SyncAuthorizedEntriesResponse>>, Status> {
    let agent_id = caller_id(&Caller::of(&request))?;
    let mut inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(status) = serve_sync(&ctx, &agent_id, &mut inbound, &tx).await {
            // The agent may be gone already; nothing else to tell.
            let _ = tx.send(Err(status)).await;
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

async fn serve_sync(
    ctx: &ServerContext,
    agent_id: &SpiffeId,
    inbound: &mut Streaming<SyncAuthorizedEntriesRequest>,
    tx: &Outbound,
) -> Result<(), Status> {
    let Some(first) = inbound.message().await? else {
        return Ok(());
    };
    if !first.ids.is_empty() {
        return Err(Status::invalid_argument(
            "specifying IDs on initial request is not supported",
        ));
    }
    // The agent needs the revision to decide what to ask for.
    if first
        .output_mask
        .as_ref()
        .is_some_and(|m| !m.revision_number)
    {
        return Err(Status::invalid_argument("revision number cannot be masked"));
    }
    let mask = first.output_mask;
    let mut entries = authorized(ctx, agent_id).await;
    entries.sort_unstable_by(|a, b| a.id().as_str().cmp(b.id().as_str()));

    if entries.len() <= ENTRY_PAGE_SIZE {
        let response = SyncAuthorizedEntriesResponse {
            entries: messages(entries.iter(), mask.as_ref()),
            ..Default::default()
        };
        let _ = tx.send(Ok(response)).await;
        return Ok(());
    }

    let mut pages = entries.chunks(ENTRY_PAGE_SIZE).peekable();
    while let Some(page) = pages.next() {
        let response = SyncAuthorizedEntriesResponse {
            entry_revisions: page.iter().map(|e| revision(e)).collect(),
            more: pages.peek().is_some(),
            ..Default::default()
        };
        if tx.send(Ok(response)).await.is_err() {
            return Ok(());
        }
    }

    loop {
        let request = match inbound.message().await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(status) if status.code() == Code::Cancelled => return Ok(()),
            Err(status) => return Err(status),
        };
        let mut ids = request.ids;
        ids.sort_unstable();
        ids.dedup();
        // Both lists are sorted: one pass over the entries finds every requested id.
        let mut found = Vec::new();
        let mut rest = entries.as_slice();
        for id in &ids {
            match rest.binary_search_by(|e| e.id().as_str().cmp(id.as_str())) {
                Ok(i) => {
                    found.push(&rest[i]);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        let mut pages = found.chunks(ENTRY_PAGE_SIZE).peekable();
        if pages.peek().is_none() {
            // Nothing found still gets its (empty) last page.
            if tx
                .send(Ok(SyncAuthorizedEntriesResponse::default()))
                .await
                .is_err()
            {
                return Ok(());
            }
            continue;
        }
        while let Some(page) = pages.next() {
            let response = SyncAuthorizedEntriesResponse {
                entries: messages(page.iter().copied(), mask.as_ref()),
                more: pages.peek().is_some(),
                ..Default::default()
            };
            if tx.send(Ok(response)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// The agent's authorized entries, after catching the cache up with the change log (a read of
/// the changes since its revision, not of the entries).
async fn authorized(ctx: &ServerContext, agent_id: &SpiffeId) -> Vec<Arc<RegistrationEntry>> {
    refresh(ctx).await;
    ctx.cache.authorized_entries(agent_id)
}

fn caller_id(caller: &Caller) -> Result<SpiffeId, Status> {
    caller
        .spiffe_id()
        .cloned()
        .ok_or_else(|| Status::internal("caller ID missing from request context"))
}

fn revision(entry: &RegistrationEntry) -> EntryRevision {
    EntryRevision {
        id: entry.id().as_str().to_owned(),
        revision_number: i64::try_from(entry.revision_number()).unwrap_or(i64::MAX),
        created_at: entry
            .created_at()
            .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)),
    }
}

fn messages<'a>(
    entries: impl Iterator<Item = &'a Arc<RegistrationEntry>>,
    mask: Option<&types::EntryMask>,
) -> Vec<types::Entry> {
    entries
        .filter_map(|entry| entry_message(entry, mask).ok())
        .collect()
}
