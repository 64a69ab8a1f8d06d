//! `BatchCreateEntry`, `BatchUpdateEntry`, `BatchDeleteEntry`: one status per item, in request
//! order, as SPIRE answers them. The items that pass the request checks go to the datastore in
//! one call, so a batch is one transaction in which an item that fails changes nothing.

use std::collections::HashMap;

use spiffe_attest::entry::EntryRules;
use spiffe_attest::{EntryId, RegistrationEntry};
use spire_api_proto::server::entry::v1::{
    batch_create_entry_response, batch_delete_entry_response, batch_update_entry_response,
    BatchCreateEntryRequest, BatchCreateEntryResponse, BatchDeleteEntryRequest,
    BatchDeleteEntryResponse, BatchUpdateEntryRequest, BatchUpdateEntryResponse,
};
use spire_api_proto::types;
use tonic::{Code, Request, Response, Status};

use super::convert::{entry_id, entry_message, entry_to_create, entry_to_update, input_mask};
use crate::api::status::{self, chain};
use crate::context::ServerContext;
use crate::datastore::DataStoreError;

/// `BatchCreateEntry`. An entry with the same SPIFFE ID, parent ID and selectors as a stored
/// one is ALREADY_EXISTS and, as in SPIRE, the result carries the stored entry.
pub(super) async fn batch_create(
    ctx: &ServerContext,
    request: Request<BatchCreateEntryRequest>,
) -> Result<Response<BatchCreateEntryResponse>, Status> {
    let request = request.into_inner();
    let rules = EntryRules::new(ctx.settings.trust_domain.clone());
    let mut outcomes: Vec<Result<(RegistrationEntry, bool), Status>> =
        Vec::with_capacity(request.entries.len());
    let mut valid = Vec::new();
    let mut slots = Vec::new();
    for message in &request.entries {
        match entry_to_create(&rules, message) {
            Ok(entry) => {
                slots.push(outcomes.len());
                valid.push(entry);
                outcomes.push(Err(Status::internal("not stored")));
            }
            Err(status) => outcomes.push(Err(status)),
        }
    }
    if !valid.is_empty() {
        let created = ctx.datastore.create_entries(valid).await.map_err(|e| {
            let code = status::datastore(&e).code();
            Status::new(code, format!("failed to create entry: {e}"))
        })?;
        for (slot, result) in slots.into_iter().zip(created) {
            outcomes[slot] = match result {
                Ok(entry) => Ok((entry, false)),
                Err(DataStoreError::AlreadyExists {
                    existing: Some(id), ..
                }) => existing(ctx, &id).await,
                Err(e) => Err(item_error("failed to create entry", &e)),
            };
        }
        refresh(ctx).await;
    }
    let mask = request.output_mask.as_ref();
    let results = outcomes
        .into_iter()
        .map(|outcome| {
            let (status, entry) = item(outcome, mask);
            batch_create_entry_response::Result { status, entry }
        })
        .collect();
    Ok(Response::new(BatchCreateEntryResponse { results }))
}

/// `BatchUpdateEntry`: the fields `input_mask` selects (all without one) replace the stored
/// entry's; the result is checked as a whole before it is stored.
pub(super) async fn batch_update(
    ctx: &ServerContext,
    request: Request<BatchUpdateEntryRequest>,
) -> Result<Response<BatchUpdateEntryResponse>, Status> {
    let request = request.into_inner();
    let rules = EntryRules::new(ctx.settings.trust_domain.clone());
    let mask = input_mask(request.input_mask.as_ref());
    // The stored entries, read in one call and indexed by id.
    let known: Vec<EntryId> = request
        .entries
        .iter()
        .filter_map(|m| EntryId::new(&m.id).ok())
        .collect();
    let stored: HashMap<EntryId, RegistrationEntry> = ctx
        .datastore
        .get_entries(&known)
        .await
        .map_err(|e| status::internal("failed to fetch entries", &e))?
        .into_iter()
        .map(|e| (e.id().clone(), e))
        .collect();
    let mut outcomes: Vec<Result<(RegistrationEntry, bool), Status>> =
        Vec::with_capacity(request.entries.len());
    let mut valid = Vec::new();
    let mut slots = Vec::new();
    for message in &request.entries {
        let checked = entry_id(
            &message.id,
            "failed to convert entry: missing entry ID",
            "failed to update entry: entry not found",
        )
        .and_then(|id| {
            stored
                .get(&id)
                .ok_or_else(|| Status::not_found("failed to update entry: entry not found"))
        })
        .and_then(|current| entry_to_update(&rules, current, message, &mask));
        match checked {
            Ok(entry) => {
                slots.push(outcomes.len());
                valid.push(entry);
                outcomes.push(Err(Status::internal("not stored")));
            }
            Err(status) => outcomes.push(Err(status)),
        }
    }
    if !valid.is_empty() {
        let updated = ctx
            .datastore
            .update_entries(valid, mask)
            .await
            .map_err(|e| {
                let code = status::datastore(&e).code();
                Status::new(code, format!("failed to update entry: {e}"))
            })?;
        for (slot, result) in slots.into_iter().zip(updated) {
            outcomes[slot] = result
                .map(|entry| (entry, false))
                .map_err(|e| item_error("failed to update entry", &e));
        }
        refresh(ctx).await;
    }
    let out = request.output_mask.as_ref();
    let results = outcomes
        .into_iter()
        .map(|outcome| {
            let (status, entry) = item(outcome, out);
            batch_update_entry_response::Result { status, entry }
        })
        .collect();
    Ok(Response::new(BatchUpdateEntryResponse { results }))
}

/// `BatchDeleteEntry`.
pub(super) async fn batch_delete(
    ctx: &ServerContext,
    request: Request<BatchDeleteEntryRequest>,
) -> Result<Response<BatchDeleteEntryResponse>, Status> {
    let request = request.into_inner();
    let mut outcomes: Vec<Result<(), Status>> = Vec::with_capacity(request.ids.len());
    let mut valid = Vec::new();
    let mut slots = Vec::new();
    for id in &request.ids {
        match entry_id(id, "missing entry ID", "entry not found") {
            Ok(id) => {
                slots.push(outcomes.len());
                valid.push(id);
                outcomes.push(Ok(()));
            }
            Err(status) => outcomes.push(Err(status)),
        }
    }
    if !valid.is_empty() {
        let deleted = ctx.datastore.delete_entries(valid).await.map_err(|e| {
            let code = status::datastore(&e).code();
            Status::new(code, format!("failed to delete entry: {e}"))
        })?;
        for (slot, result) in slots.into_iter().zip(deleted) {
            outcomes[slot] = result.map_err(|e| match e {
                DataStoreError::NotFound { .. } => Status::not_found("entry not found"),
                e => item_error("failed to delete entry", &e),
            });
        }
        refresh(ctx).await;
    }
    let results = request
        .ids
        .into_iter()
        .zip(outcomes)
        .map(|(id, outcome)| batch_delete_entry_response::Result {
            status: Some(match &outcome {
                Ok(()) => status::item_ok(),
                Err(status) => status::item(status),
            }),
            id,
        })
        .collect();
    Ok(Response::new(BatchDeleteEntryResponse { results }))
}

/// The stored entry a create collided with: ALREADY_EXISTS with that entry.
async fn existing(ctx: &ServerContext, id: &EntryId) -> Result<(RegistrationEntry, bool), Status> {
    match ctx.datastore.get_entry(id).await {
        Ok(Some(entry)) => Ok((entry, true)),
        Ok(None) => Err(Status::already_exists("similar entry already exists")),
        Err(e) => Err(status::internal("failed to fetch entry", &e)),
    }
}

/// An item's datastore failure: the code the datastore error maps to, SPIRE's leading text.
fn item_error(what: &str, err: &DataStoreError) -> Status {
    let code = status::datastore(err).code();
    if code == Code::Internal {
        tracing::error!(error = %chain(err), "{what}");
    }
    Status::new(code, format!("{what}: {err}"))
}

/// An item's status and entry. `(entry, true)` is the stored entry a create collided with.
fn item(
    outcome: Result<(RegistrationEntry, bool), Status>,
    mask: Option<&types::EntryMask>,
) -> (Option<types::Status>, Option<types::Entry>) {
    match outcome {
        Ok((entry, collided)) => match entry_message(&entry, mask) {
            Ok(message) => {
                let status = if collided {
                    status::item(&Status::already_exists("similar entry already exists"))
                } else {
                    status::item_ok()
                };
                (Some(status), Some(message))
            }
            Err(status) => (Some(status::item(&status)), None),
        },
        Err(status) => (Some(status::item(&status)), None),
    }
}

pub(super) async fn refresh(ctx: &ServerContext) {
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
}
