//! `NewJWTSVID` (an agent, for an entry it is authorized for) and `MintJWTSVID` (an admin, for
//! a SPIFFE ID of the trust domain): JWT-SVIDs signed by the active JWT authority, with
//! `iss` = `jwt_issuer` when configured.
//!
//! The lifetime is the entry's `jwt_svid_ttl` (NewJWTSVID) or the request's `ttl`
//! (MintJWTSVID), else `default_jwt_svid_ttl`, capped by the CA.
//!
//! A token minted by NewJWTSVID for an entry with `jwt_svid_include_jti` carries a fresh `jti`
//! ([`spiffe_ca::jwt::new_jti`]), as SPIRE's; no other token has one (MintJWTSVID never adds
//! one, as SPIRE).

use std::time::Duration;

use spiffe_core::json::JsonObject;
use spiffe_core::{SpiffeId, UnverifiedJwtSvid};
use spire_api_proto::convert::{spiffe_id_from_proto, spiffe_id_to_proto};
use spire_api_proto::server::svid::v1::{
    MintJwtsvidRequest, MintJwtsvidResponse, NewJwtsvidRequest, NewJwtsvidResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::ids::{check_workload_id, ttl_or};
use crate::api::status::chain;
use crate::caller::Caller;
use crate::context::ServerContext;

/// `NewJWTSVID`.
pub(super) async fn new_jwt_svid(
    ctx: &ServerContext,
    request: Request<NewJwtsvidRequest>,
) -> Result<Response<NewJwtsvidResponse>, Status> {
    let caller = Caller::of(&request);
    let Some(agent_id) = caller.spiffe_id().cloned() else {
        return Err(Status::internal("caller ID missing from request context"));
    };
    let request = request.into_inner();
    let entry = ctx
        .cache
        .authorized_entries(&agent_id)
        .into_iter()
        .find(|entry| entry.id().as_str() == request.entry_id)
        .ok_or_else(|| Status::not_found("entry not found or not authorized"))?;
    let ttl = entry
        .jwt_svid_ttl()
        .unwrap_or(ctx.settings.default_jwt_svid_ttl);
    let svid = mint(
        ctx,
        entry.spiffe_id(),
        &request.audience,
        ttl,
        entry.jwt_svid_include_jti(),
    )
    .await?;
    Ok(Response::new(NewJwtsvidResponse { svid: Some(svid) }))
}

/// `MintJWTSVID`.
pub(super) async fn mint_jwt_svid(
    ctx: &ServerContext,
    request: Request<MintJwtsvidRequest>,
) -> Result<Response<MintJwtsvidResponse>, Status> {
    let request = request.into_inner();
    let id = request.id.as_ref().ok_or_else(|| {
        Status::invalid_argument("invalid SPIFFE ID: request must specify SPIFFE ID")
    })?;
    let id = spiffe_id_from_proto(id)
        .map_err(|e| Status::invalid_argument(format!("invalid SPIFFE ID: {e}")))?;
    let ttl = ttl_or(request.ttl, ctx.settings.default_jwt_svid_ttl);
    let svid = mint(ctx, &id, &request.audience, ttl, false).await?;
    Ok(Response::new(MintJwtsvidResponse { svid: Some(svid) }))
}

/// Checks the ID and audience, then signs (off the async threads: the signer may be an HSM),
/// with a unique `jti` when `include_jti`.
async fn mint(
    ctx: &ServerContext,
    id: &SpiffeId,
    audience: &[String],
    ttl: Duration,
    include_jti: bool,
) -> Result<types::Jwtsvid, Status> {
    check_workload_id(&ctx.settings.trust_domain, id)
        .map_err(|e| Status::invalid_argument(format!("invalid SPIFFE ID: {e}")))?;
    if audience.is_empty() {
        return Err(Status::invalid_argument(
            "at least one audience is required",
        ));
    }
    let mut claims = JsonObject::new();
    if let Some(issuer) = &ctx.settings.jwt_issuer {
        claims.insert_str("iss", issuer.as_str());
    }
    if include_jti {
        let jti = spiffe_ca::jwt::new_jti()
            .map_err(|e| Status::internal(format!("failed to generate jti: {e}")))?;
        claims.insert_str("jti", jti);
    }
    let (subject, audience) = (id.clone(), audience.to_vec());
    let token = ctx
        .sign(move |ca| {
            let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
            ca.mint_jwt_svid(&subject, &audience, ttl, &claims)
        })
        .await
        .ok_or_else(|| Status::internal("failed to sign JWT-SVID: signing task failed"))?
        .map_err(|e| {
            let cause = chain(&e);
            tracing::error!(spiffe_id = %id, error = %cause, "Failed to sign JWT-SVID");
            Status::internal(format!("failed to sign JWT-SVID: {cause}"))
        })?;
    let parsed = UnverifiedJwtSvid::parse_insecure(&token)
        .map_err(|e| Status::internal(format!("failed to get JWT-SVID expiry: {e}")))?;
    let issued_at = parsed.claims().get_i64("iat").unwrap_or_default();
    let expires_at = i64::try_from(parsed.expiry().as_secs()).unwrap_or(i64::MAX);
    tracing::debug!(spiffe_id = %id, audience = ?parsed.audience(), expires_at, "Server CA successfully signed JWT SVID");
    Ok(types::Jwtsvid {
        token,
        id: Some(spiffe_id_to_proto(id)),
        expires_at,
        issued_at,
        hint: String::new(),
    })
}
