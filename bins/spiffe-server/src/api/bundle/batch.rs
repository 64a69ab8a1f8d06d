//! Writing federated bundles, each item with its own status as SPIRE answers it:
//! `BatchCreateFederatedBundle`, `BatchUpdateFederatedBundle`, `BatchSetFederatedBundle`,
//! `BatchDeleteFederatedBundle`. No item may name the server's own trust domain (its bundle is
//! the CA's, changed through `AppendBundle` and the local authority operations).

use spiffe_core::TrustDomain;
use spire_api_proto::server::bundle::v1::{
    batch_create_federated_bundle_response, batch_delete_federated_bundle_response,
    batch_set_federated_bundle_response, batch_update_federated_bundle_response,
    BatchCreateFederatedBundleRequest, BatchCreateFederatedBundleResponse,
    BatchDeleteFederatedBundleRequest, BatchDeleteFederatedBundleResponse,
    BatchSetFederatedBundleRequest, BatchSetFederatedBundleResponse,
    BatchUpdateFederatedBundleRequest, BatchUpdateFederatedBundleResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::convert::{apply_mask, bundle_from_request, bundle_to_proto, trust_domain_from_string};
use crate::api::status::{self, chain, internal};
use crate::context::ServerContext;
use crate::datastore::{Bundle, BundleDeleteMode, BundleMask, DataStoreError};

/// What a batch writes, for the "… for the server's own trust domain is not allowed" texts.
#[derive(Clone, Copy)]
enum Write {
    Create,
    Update,
    Set,
}

impl Write {
    fn verb(self) -> &'static str {
        match self {
            Write::Create => "creating",
            Write::Update => "updating",
            Write::Set => "setting",
        }
    }
}

/// `BatchCreateFederatedBundle`.
pub(super) async fn batch_create(
    ctx: &ServerContext,
    request: Request<BatchCreateFederatedBundleRequest>,
) -> Result<Response<BatchCreateFederatedBundleResponse>, Status> {
    let request = request.into_inner();
    let mut results = Vec::with_capacity(request.bundle.len());
    for message in &request.bundle {
        let outcome = match checked(ctx, message, Write::Create) {
            Ok(bundle) => match ctx.datastore.create_bundle(bundle).await {
                Ok(stored) => Ok(stored),
                Err(DataStoreError::AlreadyExists { .. }) => {
                    Err(Status::already_exists("bundle already exists"))
                }
                Err(e) => Err(internal("unable to create bundle", &e)),
            },
            Err(status) => Err(status),
        };
        let (status, bundle) = item(outcome, request.output_mask.as_ref());
        results.push(batch_create_federated_bundle_response::Result { status, bundle });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchCreateFederatedBundleResponse {
        results,
    }))
}

/// `BatchUpdateFederatedBundle`: replaces the fields `input_mask` selects (all without one).
pub(super) async fn batch_update(
    ctx: &ServerContext,
    request: Request<BatchUpdateFederatedBundleRequest>,
) -> Result<Response<BatchUpdateFederatedBundleResponse>, Status> {
    let request = request.into_inner();
    let mask = request
        .input_mask
        .as_ref()
        .map_or_else(BundleMask::all, |m| BundleMask {
            x509_authorities: m.x509_authorities,
            jwt_authorities: m.jwt_authorities,
            refresh_hint: m.refresh_hint,
            sequence_number: m.sequence_number,
        });
    let mut results = Vec::with_capacity(request.bundle.len());
    for message in &request.bundle {
        let outcome = match checked(ctx, message, Write::Update) {
            Ok(bundle) => match ctx.datastore.update_bundle(bundle, mask).await {
                Ok(stored) => Ok(stored),
                Err(DataStoreError::NotFound { .. }) => Err(Status::not_found("bundle not found")),
                Err(e) => Err(internal("failed to update bundle", &e)),
            },
            Err(status) => Err(status),
        };
        let (status, bundle) = item(outcome, request.output_mask.as_ref());
        results.push(batch_update_federated_bundle_response::Result { status, bundle });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchUpdateFederatedBundleResponse {
        results,
    }))
}

/// `BatchSetFederatedBundle`: creates or replaces.
pub(super) async fn batch_set(
    ctx: &ServerContext,
    request: Request<BatchSetFederatedBundleRequest>,
) -> Result<Response<BatchSetFederatedBundleResponse>, Status> {
    let request = request.into_inner();
    let mut results = Vec::with_capacity(request.bundle.len());
    for message in &request.bundle {
        let outcome = match checked(ctx, message, Write::Set) {
            Ok(bundle) => ctx
                .datastore
                .set_bundle(bundle)
                .await
                .map_err(|e| internal("failed to set bundle", &e)),
            Err(status) => Err(status),
        };
        let (status, bundle) = item(outcome, request.output_mask.as_ref());
        results.push(batch_set_federated_bundle_response::Result { status, bundle });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchSetFederatedBundleResponse { results }))
}

/// `BatchDeleteFederatedBundle`: `mode` says what happens to entries federating with a deleted
/// bundle (RESTRICT refuses while there are any).
pub(super) async fn batch_delete(
    ctx: &ServerContext,
    request: Request<BatchDeleteFederatedBundleRequest>,
) -> Result<Response<BatchDeleteFederatedBundleResponse>, Status> {
    let request = request.into_inner();
    let Some(mode) = BundleDeleteMode::from_proto(request.mode) else {
        return Err(Status::invalid_argument(format!(
            "failed to parse deletion mode: unhandled delete mode \"{}\"",
            request.mode
        )));
    };
    let mut results = Vec::with_capacity(request.trust_domains.len());
    for name in &request.trust_domains {
        let outcome = match own_or_foreign(ctx, name) {
            Ok(td) => match ctx.datastore.delete_bundle(&td, mode).await {
                Ok(()) => Ok(()),
                Err(DataStoreError::NotFound { .. }) => Err(Status::not_found("bundle not found")),
                Err(e) => {
                    let code = status::datastore(&e).code();
                    Err(Status::new(
                        code,
                        format!("failed to delete federated bundle: {e}"),
                    ))
                }
            },
            Err(OwnOrInvalid::Own) => Err(Status::invalid_argument(
                "removing the bundle for the server trust domain is not allowed",
            )),
            Err(OwnOrInvalid::Invalid(status)) => Err(status),
        };
        results.push(batch_delete_federated_bundle_response::Result {
            status: Some(match &outcome {
                Ok(()) => status::item_ok(),
                Err(status) => status::item(status),
            }),
            trust_domain: name.clone(),
        });
    }
    refresh(ctx).await;
    Ok(Response::new(BatchDeleteFederatedBundleResponse {
        results,
    }))
}

/// The item's bundle, after SPIRE's checks: a valid trust domain, not the server's own, a
/// bundle that converts.
fn checked(ctx: &ServerContext, message: &types::Bundle, write: Write) -> Result<Bundle, Status> {
    match own_or_foreign(ctx, &message.trust_domain) {
        Ok(_) => {}
        Err(OwnOrInvalid::Own) => {
            return Err(Status::invalid_argument(format!(
                "{} a federated bundle for the server's own trust domain is not allowed",
                write.verb()
            )))
        }
        Err(OwnOrInvalid::Invalid(status)) => return Err(status),
    }
    bundle_from_request(message)
        .map_err(|e| Status::invalid_argument(format!("failed to convert bundle: {e}")))
}

enum OwnOrInvalid {
    Own,
    Invalid(Status),
}

fn own_or_foreign(ctx: &ServerContext, name: &str) -> Result<TrustDomain, OwnOrInvalid> {
    let td = trust_domain_from_string(name).map_err(|e| {
        OwnOrInvalid::Invalid(Status::invalid_argument(format!(
            "trust domain argument is not valid: {e}"
        )))
    })?;
    if td == ctx.settings.trust_domain {
        return Err(OwnOrInvalid::Own);
    }
    Ok(td)
}

/// An item's status and, on success, its bundle through the output mask.
fn item(
    outcome: Result<Bundle, Status>,
    mask: Option<&types::BundleMask>,
) -> (Option<types::Status>, Option<types::Bundle>) {
    match outcome {
        Ok(bundle) => {
            let mut message = bundle_to_proto(&bundle);
            apply_mask(&mut message, mask);
            (Some(status::item_ok()), Some(message))
        }
        Err(status) => (Some(status::item(&status)), None),
    }
}

async fn refresh(ctx: &ServerContext) {
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
}
