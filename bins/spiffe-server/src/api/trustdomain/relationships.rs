//! The TrustDomain RPCs, with SPIRE's checks and texts. Each batch item gets its own status;
//! the server's own trust domain cannot be federated with.

use spiffe_core::TrustDomain;
use spire_api_proto::server::trustdomain::v1::{
    batch_create_federation_relationship_response, batch_delete_federation_relationship_response,
    batch_update_federation_relationship_response, BatchCreateFederationRelationshipRequest,
    BatchCreateFederationRelationshipResponse, BatchDeleteFederationRelationshipRequest,
    BatchDeleteFederationRelationshipResponse, BatchUpdateFederationRelationshipRequest,
    BatchUpdateFederationRelationshipResponse, GetFederationRelationshipRequest,
    ListFederationRelationshipsRequest, ListFederationRelationshipsResponse, RefreshBundleRequest,
};
use spire_api_proto::types;
use tonic::{Code, Request, Response, Status};

use super::convert::{input_mask, relationship_from_request, relationship_message};
use crate::api::bundle::convert::trust_domain_from_string;
use crate::api::entry::page_request;
use crate::api::status::{self, chain, internal};
use crate::context::ServerContext;
use crate::datastore::{DataStoreError, FederationRelationship};
use crate::federation::RefreshError;

/// `ListFederationRelationships`: ordered by trust domain; a page when `page_size > 0`.
pub(super) async fn list(
    ctx: &ServerContext,
    request: Request<ListFederationRelationshipsRequest>,
) -> Result<Response<ListFederationRelationshipsResponse>, Status> {
    let request = request.into_inner();
    let page = page_request(request.page_size, &request.page_token);
    let page = ctx
        .datastore
        .list_federation_relationships(&page)
        .await
        .map_err(|e| match e {
            DataStoreError::InvalidArgument { .. } => status::datastore(&e),
            e => internal("failed to list federation relationships", &e),
        })?;
    Ok(Response::new(ListFederationRelationshipsResponse {
        federation_relationships: page
            .items
            .iter()
            .map(|r| relationship_message(r, request.output_mask.as_ref()))
            .collect(),
        next_page_token: page.next.map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }))
}

/// `GetFederationRelationship`.
pub(super) async fn get(
    ctx: &ServerContext,
    request: Request<GetFederationRelationshipRequest>,
) -> Result<Response<types::FederationRelationship>, Status> {
    let request = request.into_inner();
    let td = parse_trust_domain(&request.trust_domain)?;
    let relationship = ctx
        .datastore
        .get_federation_relationship(&td)
        .await
        .map_err(|e| internal("failed to fetch federation relationship", &e))?
        .ok_or_else(|| Status::not_found("federation relationship does not exist"))?;
    Ok(Response::new(relationship_message(
        &relationship,
        request.output_mask.as_ref(),
    )))
}

/// `BatchCreateFederationRelationship`.
pub(super) async fn batch_create(
    ctx: &ServerContext,
    request: Request<BatchCreateFederationRelationshipRequest>,
) -> Result<Response<BatchCreateFederationRelationshipResponse>, Status> {
    let request = request.into_inner();
    let mut results = Vec::with_capacity(request.federation_relationships.len());
    for message in &request.federation_relationships {
        let outcome = match relationship_from_request(message) {
            Ok(r) if r.trust_domain == ctx.settings.trust_domain => Err(Status::invalid_argument(
                "unable to create federation relationship for server trust domain",
            )),
            Ok(r) => ctx
                .datastore
                .create_federation_relationship(r)
                .await
                .map_err(|e| item_error("failed to create federation relationship", &e)),
            Err(status) => Err(status),
        };
        let (status, federation_relationship) = item(outcome, request.output_mask.as_ref());
        results.push(batch_create_federation_relationship_response::Result {
            status,
            federation_relationship,
        });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchCreateFederationRelationshipResponse {
        results,
    }))
}

/// `BatchUpdateFederationRelationship`: the fields `input_mask` selects (all without one).
pub(super) async fn batch_update(
    ctx: &ServerContext,
    request: Request<BatchUpdateFederationRelationshipRequest>,
) -> Result<Response<BatchUpdateFederationRelationshipResponse>, Status> {
    let request = request.into_inner();
    let mask = input_mask(request.input_mask.as_ref());
    let mut results = Vec::with_capacity(request.federation_relationships.len());
    for message in &request.federation_relationships {
        let outcome = match relationship_from_request(message) {
            Ok(r) => ctx
                .datastore
                .update_federation_relationship(r, mask)
                .await
                .map_err(|e| item_error("failed to update federation relationship", &e)),
            Err(status) => Err(status),
        };
        let (status, federation_relationship) = item(outcome, request.output_mask.as_ref());
        results.push(batch_update_federation_relationship_response::Result {
            status,
            federation_relationship,
        });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchUpdateFederationRelationshipResponse {
        results,
    }))
}

/// `BatchDeleteFederationRelationship`: the trust domain's bundle stays.
pub(super) async fn batch_delete(
    ctx: &ServerContext,
    request: Request<BatchDeleteFederationRelationshipRequest>,
) -> Result<Response<BatchDeleteFederationRelationshipResponse>, Status> {
    let request = request.into_inner();
    let mut results = Vec::with_capacity(request.trust_domains.len());
    for name in request.trust_domains {
        let outcome = if name.is_empty() {
            Err(Status::invalid_argument("missing trust domain"))
        } else {
            match parse_trust_domain(&name) {
                Ok(td) => match ctx.datastore.delete_federation_relationship(&td).await {
                    Ok(()) => Ok(()),
                    Err(DataStoreError::NotFound { .. }) => {
                        Err(Status::not_found("federation relationship not found"))
                    }
                    Err(e) => Err(internal("failed to delete federation relationship", &e)),
                },
                Err(status) => Err(status),
            }
        };
        results.push(batch_delete_federation_relationship_response::Result {
            status: Some(match &outcome {
                Ok(()) => status::item_ok(),
                Err(status) => status::item(status),
            }),
            trust_domain: name,
        });
    }
    if let Some(manager) = ctx.federation.get() {
        manager.reconcile_soon();
    }
    Ok(Response::new(BatchDeleteFederationRelationshipResponse {
        results,
    }))
}

/// `RefreshBundle`: fetches the relationship's bundle now (configured or stored); NOT_FOUND
/// without a relationship, INTERNAL naming the failure when the fetch fails (the stored bundle
/// is then unchanged).
pub(super) async fn refresh_bundle(
    ctx: &ServerContext,
    request: Request<RefreshBundleRequest>,
) -> Result<Response<()>, Status> {
    let td = parse_trust_domain(&request.get_ref().trust_domain)?;
    let Some(manager) = ctx.federation.get() else {
        return Err(Status::unimplemented(
            "failed to refresh bundle: this server runs no federation",
        ));
    };
    match manager.refresh_now(&td).await {
        Ok(_) => Ok(Response::new(())),
        Err(RefreshError::NotFound(_)) => Err(Status::not_found(format!(
            "no relationship with trust domain \"{}\"",
            td.as_str()
        ))),
        Err(e) => Err(Status::internal(format!("failed to refresh bundle: {e}"))),
    }
}

fn parse_trust_domain(name: &str) -> Result<TrustDomain, Status> {
    trust_domain_from_string(name)
        .map_err(|e| Status::invalid_argument(format!("failed to parse trust domain: {e}")))
}

/// A datastore failure for an item: not found and already exists keep their codes, the rest is
/// logged and INTERNAL, with SPIRE's leading text.
fn item_error(what: &str, err: &DataStoreError) -> Status {
    let code = status::datastore(err).code();
    if !matches!(
        code,
        Code::NotFound | Code::AlreadyExists | Code::InvalidArgument
    ) {
        tracing::error!(error = %chain(err), "{what}");
    }
    Status::new(code, format!("{what}: {err}"))
}

fn item(
    outcome: Result<FederationRelationship, Status>,
    mask: Option<&types::FederationRelationshipMask>,
) -> (Option<types::Status>, Option<types::FederationRelationship>) {
    match outcome {
        Ok(relationship) => (
            Some(status::item_ok()),
            Some(relationship_message(&relationship, mask)),
        ),
        Err(status) => (Some(status::item(&status)), None),
    }
}

/// Relationships may store bundles, which the cache's trust bundles follow.
async fn refresh(ctx: &ServerContext) {
    if let Some(manager) = ctx.federation.get() {
        manager.reconcile_soon();
    }
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
}
