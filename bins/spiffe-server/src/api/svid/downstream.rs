//! `NewDownstreamX509CA`: a nested (downstream) server asks this one to sign its X.509 CA.
//!
//! Only callers whose SPIFFE ID has an entry marked `downstream` get here (the authorization
//! table's `Downstream` role); the handler checks again, as SPIRE's does, and answers INTERNAL
//! "caller is not a downstream workload" otherwise. SPIRE's checks, in order: a CSR is given,
//! parses, and its signature verifies (proof of possession of the CA key). Beyond SPIRE, a
//! CSR that names a URI SAN must name exactly this trust domain's ID (`spiffe://<td>`): a
//! downstream CA is always for this trust domain, and a CSR asking for another is refused
//! rather than silently re-targeted.
//!
//! The CA's lifetime is the caller's `preferred_ttl`, or this server's `ca_ttl` when zero,
//! capped by this server's active CA (SPIRE's `computeX509CALifetime`). The certificate has
//! the CA profile of `spiffe-ca` (cA=TRUE with no path length, keyCertSign/cRLSign, the
//! trust domain's URI SAN), whatever the CSR asks for. The answer is the CA chain (the new CA,
//! then this server's upstream chain when it has one) and the X.509 authorities of the
//! trust domain's bundle.

use spiffe_core::x509::{CertificateRequest, X509Error};
use spire_api_proto::server::svid::v1::{NewDownstreamX509caRequest, NewDownstreamX509caResponse};
use tonic::{Request, Response, Status};

use super::ids::ttl_or;
use crate::api::status::{chain, internal};
use crate::caller::Caller;
use crate::context::ServerContext;

/// `NewDownstreamX509CA`.
pub(super) async fn new_downstream_x509_ca(
    ctx: &ServerContext,
    request: Request<NewDownstreamX509caRequest>,
) -> Result<Response<NewDownstreamX509caResponse>, Status> {
    let caller = Caller::of(&request);
    let caller_id = caller.spiffe_id().cloned();
    let is_downstream = caller_id.as_ref().is_some_and(|id| {
        ctx.cache
            .entries_with_spiffe_id(id)
            .iter()
            .any(|e| e.downstream())
    });
    let Some(caller_id) = caller_id.filter(|_| is_downstream) else {
        return Err(Status::internal("caller is not a downstream workload"));
    };
    let request = request.into_inner();
    if request.csr.is_empty() {
        return Err(Status::invalid_argument("missing CSR"));
    }
    let csr = CertificateRequest::from_der(&request.csr).map_err(|e| match e {
        X509Error::CsrSignatureInvalid => {
            Status::invalid_argument(format!("failed to verify CSR signature: {e}"))
        }
        other => Status::invalid_argument(format!("malformed CSR: {other}")),
    })?;
    let td_id = ctx.settings.trust_domain.id_str();
    let uris: Vec<&str> = csr.uri_sans().collect();
    if csr.uri_san_count() != uris.len() || uris.iter().any(|u| *u != td_id) {
        return Err(Status::invalid_argument(format!(
            "CSR URI SAN is invalid: a downstream CA may only be for trust domain ID {td_id:?}"
        )));
    }

    let ttl = ttl_or(request.preferred_ttl, ctx.ca.config().x509_ttl());
    let spki = csr.subject_public_key_info().to_vec();
    let issuer = ctx.ca.x509_svid_issuer();
    let now = ctx.clock.now();
    let minted = tokio::task::spawn_blocking(move || issuer.mint_downstream_ca(&spki, ttl, now))
        .await
        .map_err(|_| Status::internal("failed to sign downstream X.509 CA: signing task failed"))?
        .map_err(|e| {
            let cause = chain(&e);
            tracing::error!(caller = %caller_id, error = %cause, "Failed to sign downstream X.509 CA");
            Status::internal(format!("failed to sign downstream X.509 CA: {cause}"))
        })?;
    ctx.metrics.x509_svids_signed(1);

    let bundle = ctx
        .datastore
        .get_bundle(&ctx.settings.trust_domain)
        .await
        .map_err(|e| internal("failed to fetch bundle", &e))?
        .ok_or_else(|| Status::not_found("bundle not found"))?;
    tracing::info!(caller = %caller_id, ttl_secs = ttl.as_secs(), "Signed downstream X509 CA");
    Ok(Response::new(NewDownstreamX509caResponse {
        ca_cert_chain: minted.into_iter().map(|c| c.to_vec()).collect(),
        x509_authorities: bundle.x509_authorities.into_iter().map(|a| a.der).collect(),
    }))
}
