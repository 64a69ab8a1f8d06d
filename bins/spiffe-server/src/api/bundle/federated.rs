//! Reading federated bundles: `ListFederatedBundles` (every stored bundle but the server's
//! own, a page at a time) and `GetFederatedBundle` (admins, and agents for the trust domains
//! their entries federate with).

use spire_api_proto::server::bundle::v1::{
    GetFederatedBundleRequest, ListFederatedBundlesRequest, ListFederatedBundlesResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::convert::{apply_mask, bundle_to_proto, trust_domain_from_string};
use crate::api::status::internal;
use crate::context::ServerContext;
use crate::datastore::{PageRequest, PageToken};

/// `ListFederatedBundles`. As SPIRE, a `page_size` of zero or less returns everything (and
/// ignores `page_token`); the server's own bundle is left out of each page, so a page may hold
/// one bundle fewer than asked.
pub(super) async fn list_federated_bundles(
    ctx: &ServerContext,
    request: Request<ListFederatedBundlesRequest>,
) -> Result<Response<ListFederatedBundlesResponse>, Status> {
    let request = request.into_inner();
    let page = match u32::try_from(request.page_size) {
        Ok(size) if size > 0 && !request.page_token.is_empty() => {
            PageRequest::after(size, PageToken::new(request.page_token.as_str()))
        }
        Ok(size) if size > 0 => PageRequest::first(size),
        _ => PageRequest::all(),
    };
    let listed = ctx
        .datastore
        .list_bundles(&page)
        .await
        .map_err(|e| internal("failed to list bundles", &e))?;
    let bundles = listed
        .items
        .iter()
        .filter(|bundle| bundle.trust_domain != ctx.settings.trust_domain)
        .map(|bundle| {
            let mut message = bundle_to_proto(bundle);
            apply_mask(&mut message, request.output_mask.as_ref());
            message
        })
        .collect();
    Ok(Response::new(ListFederatedBundlesResponse {
        bundles,
        next_page_token: listed
            .next
            .map(|token| token.as_str().to_owned())
            .unwrap_or_default(),
    }))
}

/// `GetFederatedBundle`.
pub(super) async fn get_federated_bundle(
    ctx: &ServerContext,
    request: Request<GetFederatedBundleRequest>,
) -> Result<Response<types::Bundle>, Status> {
    let request = request.into_inner();
    let td = trust_domain_from_string(&request.trust_domain).map_err(|e| {
        Status::invalid_argument(format!("trust domain argument is not valid: {e}"))
    })?;
    if td == ctx.settings.trust_domain {
        return Err(Status::invalid_argument(
            "getting a federated bundle for the server's own trust domain is not allowed",
        ));
    }
    let bundle = ctx
        .datastore
        .get_bundle(&td)
        .await
        .map_err(|e| internal("failed to fetch bundle", &e))?
        .ok_or_else(|| Status::not_found("bundle not found"))?;
    let mut message = bundle_to_proto(&bundle);
    apply_mask(&mut message, request.output_mask.as_ref());
    Ok(Response::new(message))
}
