//! The server's own trust bundle: `GetBundle` (anyone, agents bootstrapping included),
//! `AppendBundle` (admins add authorities, e.g. an upstream root), and `CountBundles`.

use spire_api_proto::convert::{jwt_authority_from_proto, x509_authority_from_proto, FieldPath};
use spire_api_proto::server::bundle::v1::{
    AppendBundleRequest, CountBundlesRequest, CountBundlesResponse, GetBundleRequest,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::convert::{apply_mask, bundle_to_proto};
use crate::api::status::{chain, internal};
use crate::context::ServerContext;
use crate::datastore::{Bundle, JwtAuthority, X509Authority};

/// `GetBundle`: the trust domain's bundle as stored (every server's authorities).
pub(super) async fn get_bundle(
    ctx: &ServerContext,
    request: Request<GetBundleRequest>,
) -> Result<Response<types::Bundle>, Status> {
    let td = &ctx.settings.trust_domain;
    let bundle = ctx
        .datastore
        .get_bundle(td)
        .await
        .map_err(|e| internal("failed to fetch bundle", &e))?
        .ok_or_else(|| Status::not_found("bundle not found"))?;
    let mut message = bundle_to_proto(&bundle);
    apply_mask(&mut message, request.get_ref().output_mask.as_ref());
    Ok(Response::new(message))
}

/// `AppendBundle`: adds the given authorities the bundle lacks.
pub(super) async fn append_bundle(
    ctx: &ServerContext,
    request: Request<AppendBundleRequest>,
) -> Result<Response<types::Bundle>, Status> {
    let request = request.into_inner();
    if request.jwt_authorities.is_empty() && request.x509_authorities.is_empty() {
        return Err(Status::invalid_argument("no authorities to append"));
    }
    let mut bundle = Bundle::new(ctx.settings.trust_domain.clone());
    for (i, key) in request.jwt_authorities.iter().enumerate() {
        let (_, state) = jwt_authority_from_proto(key).map_err(|e| {
            let e = e.within(FieldPath::new("jwt_authorities").at(i));
            Status::invalid_argument(format!("failed to convert JWT authority: {e}"))
        })?;
        let mut stored =
            JwtAuthority::new(key.key_id.clone(), key.public_key.clone(), state.expires_at);
        stored.tainted = state.tainted;
        bundle.jwt_authorities.push(stored);
    }
    for (i, authority) in request.x509_authorities.iter().enumerate() {
        x509_authority_from_proto(authority).map_err(|e| {
            let e = e.within(FieldPath::new("x509_authorities").at(i));
            Status::invalid_argument(format!("failed to convert X.509 authority: {e}"))
        })?;
        let mut stored = X509Authority::new(authority.asn1.clone());
        stored.tainted = authority.tainted;
        bundle.x509_authorities.push(stored);
    }
    let stored = ctx
        .datastore
        .append_bundle(bundle)
        .await
        .map_err(|e| internal("failed to append bundle", &e))?;
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
    let mut message = bundle_to_proto(&stored);
    apply_mask(&mut message, request.output_mask.as_ref());
    Ok(Response::new(message))
}

/// `CountBundles`: the server's and every federated bundle.
pub(super) async fn count_bundles(
    ctx: &ServerContext,
    _request: Request<CountBundlesRequest>,
) -> Result<Response<CountBundlesResponse>, Status> {
    let count = ctx
        .datastore
        .count_bundles()
        .await
        .map_err(|e| internal("failed to count bundles", &e))?;
    Ok(Response::new(CountBundlesResponse {
        count: i32::try_from(count).unwrap_or(i32::MAX),
    }))
}
