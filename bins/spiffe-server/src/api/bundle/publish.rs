//! `PublishJWTAuthority`: a nested (downstream) server publishes its JWT signing key into this
//! server's bundle, so JWT-SVIDs it mints validate everywhere in the trust domain.
//!
//! Only callers whose entry is marked `downstream` reach this handler (the authorization
//! table's `Downstream` role). As SPIRE's: the key is required ("missing JWT authority") and
//! must convert ("invalid JWT authority": a key id, a PKIX public key, an expiry); it is
//! appended to the trust domain's bundle (appending a key already there changes nothing); the
//! answer is every JWT authority of the bundle after the append. A key that does not convert
//! is refused with nothing stored.

use spire_api_proto::convert::{jwt_authority_from_proto, FieldPath};
use spire_api_proto::server::bundle::v1::{
    PublishJwtAuthorityRequest, PublishJwtAuthorityResponse,
};
use tonic::{Request, Response, Status};

use super::convert::bundle_to_proto;
use crate::api::status::{chain, internal};
use crate::caller::Caller;
use crate::context::ServerContext;
use crate::datastore::{Bundle, JwtAuthority};

/// `PublishJWTAuthority`.
pub(super) async fn publish_jwt_authority(
    ctx: &ServerContext,
    request: Request<PublishJwtAuthorityRequest>,
) -> Result<Response<PublishJwtAuthorityResponse>, Status> {
    let caller = Caller::of(&request)
        .spiffe_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    let Some(key) = request.into_inner().jwt_authority else {
        return Err(Status::invalid_argument("missing JWT authority"));
    };
    let (_, state) = jwt_authority_from_proto(&key).map_err(|e| {
        let e = e.within(FieldPath::new("jwt_authority"));
        Status::invalid_argument(format!("invalid JWT authority: {e}"))
    })?;
    let mut bundle = Bundle::new(ctx.settings.trust_domain.clone());
    let mut stored =
        JwtAuthority::new(key.key_id.clone(), key.public_key.clone(), state.expires_at);
    stored.tainted = state.tainted;
    bundle.jwt_authorities.push(stored);
    let stored = ctx
        .datastore
        .append_bundle(bundle)
        .await
        .map_err(|e| internal("failed to publish JWT key", &e))?;
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
    tracing::info!(caller = %caller, key_id = %key.key_id, "Published downstream JWT authority");
    Ok(Response::new(PublishJwtAuthorityResponse {
        jwt_authorities: bundle_to_proto(&stored).jwt_authorities,
    }))
}
