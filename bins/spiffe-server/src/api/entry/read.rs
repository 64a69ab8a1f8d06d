//! `CountEntries`, `ListEntries` and `GetEntry`: reads of the datastore (not the cache, so an
//! operator sees every write committed by any server sharing the database).

use spire_api_proto::server::entry::v1::{
    count_entries_request, list_entries_request, CountEntriesRequest, CountEntriesResponse,
    GetEntryRequest, ListEntriesRequest, ListEntriesResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::convert::{entry_filter, entry_id, entry_message, FilterFields};
use crate::api::status::{self, internal};
use crate::context::ServerContext;
use crate::datastore::{DataStoreError, EntryFilter, PageRequest, PageToken};

/// `CountEntries`.
pub(super) async fn count_entries(
    ctx: &ServerContext,
    request: Request<CountEntriesRequest>,
) -> Result<Response<CountEntriesResponse>, Status> {
    let request = request.into_inner();
    let filter = match &request.filter {
        Some(f) => count_filter(ctx, f)?,
        None => EntryFilter::default(),
    };
    let count = ctx
        .datastore
        .count_entries(&filter)
        .await
        .map_err(|e| internal("failed to count entries", &e))?;
    Ok(Response::new(CountEntriesResponse {
        count: i32::try_from(count).unwrap_or(i32::MAX),
    }))
}

/// `ListEntries`: a page when `page_size > 0` (the token only counts then, as in SPIRE),
/// everything otherwise.
pub(super) async fn list_entries(
    ctx: &ServerContext,
    request: Request<ListEntriesRequest>,
) -> Result<Response<ListEntriesResponse>, Status> {
    let request = request.into_inner();
    let filter = match &request.filter {
        Some(f) => list_filter(ctx, f)?,
        None => EntryFilter::default(),
    };
    let page = page_request(request.page_size, &request.page_token);
    let page = ctx
        .datastore
        .list_entries(&filter, &page)
        .await
        .map_err(|e| match e {
            DataStoreError::InvalidArgument { .. } => status::datastore(&e),
            e => internal("failed to list entries", &e),
        })?;
    let mut entries = Vec::with_capacity(page.items.len());
    for entry in &page.items {
        // As SPIRE: an entry that cannot be converted is logged and left out.
        if let Ok(message) = entry_message(entry, request.output_mask.as_ref()) {
            entries.push(message);
        }
    }
    Ok(Response::new(ListEntriesResponse {
        entries,
        next_page_token: page.next.map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }))
}

/// `GetEntry`.
pub(super) async fn get_entry(
    ctx: &ServerContext,
    request: Request<GetEntryRequest>,
) -> Result<Response<types::Entry>, Status> {
    let request = request.into_inner();
    let id = entry_id(&request.id, "missing ID", "entry not found")?;
    let entry = ctx
        .datastore
        .get_entry(&id)
        .await
        .map_err(|e| internal("failed to fetch entry", &e))?
        .ok_or_else(|| Status::not_found("entry not found"))?;
    Ok(Response::new(entry_message(
        &entry,
        request.output_mask.as_ref(),
    )?))
}

/// SPIRE's paging: `page_size <= 0` lists everything.
pub(crate) fn page_request(page_size: i32, page_token: &str) -> PageRequest {
    let size = u32::try_from(page_size).unwrap_or(0);
    if size == 0 {
        return PageRequest::all();
    }
    if page_token.is_empty() {
        PageRequest::first(size)
    } else {
        PageRequest::after(size, PageToken::new(page_token))
    }
}

fn count_filter(
    ctx: &ServerContext,
    f: &count_entries_request::Filter,
) -> Result<EntryFilter, Status> {
    entry_filter(
        &ctx.settings.trust_domain,
        FilterFields {
            by_spiffe_id: f.by_spiffe_id.as_ref(),
            by_parent_id: f.by_parent_id.as_ref(),
            by_selectors: f.by_selectors.as_ref(),
            by_federates_with: f.by_federates_with.as_ref(),
            by_hint: f.by_hint.as_ref(),
            by_downstream: f.by_downstream,
        },
    )
}

fn list_filter(
    ctx: &ServerContext,
    f: &list_entries_request::Filter,
) -> Result<EntryFilter, Status> {
    entry_filter(
        &ctx.settings.trust_domain,
        FilterFields {
            by_spiffe_id: f.by_spiffe_id.as_ref(),
            by_parent_id: f.by_parent_id.as_ref(),
            by_selectors: f.by_selectors.as_ref(),
            by_federates_with: f.by_federates_with.as_ref(),
            by_hint: f.by_hint.as_ref(),
            by_downstream: f.by_downstream,
        },
    )
}
