//! `spire.api.server.debug.v1.Debug`: the server's state for operators (admin socket only).
//!
//! `GetInfo` answers as SPIRE does: uptime in seconds, the number of attested agents, of
//! registration entries and of stored bundles (SPIRE's `federated_bundles_count` is
//! `CountBundles`, which includes the server's own bundle), and the server SVID's chain as
//! verified against the trust domain's stored bundle (leaf first, the bundle's root last).
//! As SPIRE, the answer is computed at most every 5 seconds and cached in between, so operators
//! polling it do not load the datastore.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spiffe_core::pki_types::CertificateDer;
use spiffe_core::x509::verify_parsed;
use spiffe_core::{Certificate, X509Bundle};
use spire_api_proto::convert::spiffe_id_to_proto;
use spire_api_proto::server::debug::v1::debug_server::Debug;
use spire_api_proto::server::debug::v1::{get_info_response, GetInfoRequest, GetInfoResponse};
use tonic::{Request, Response, Status};

use crate::api::status::internal;
use crate::context::ServerContext;

/// SPIRE's `cacheExpiry` for `GetInfo`.
const CACHE_EXPIRY: Duration = Duration::from_secs(5);

/// `spire.api.server.debug.v1.Debug`: the server's state for operators.
#[derive(Debug)]
pub(crate) struct DebugService {
    ctx: Arc<ServerContext>,
    cached: Mutex<Option<(Instant, GetInfoResponse)>>,
}

impl DebugService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self {
            ctx,
            cached: Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<GetInfoResponse> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_EXPIRY)
            .map(|(_, response)| response.clone())
    }
}

#[tonic::async_trait]
impl Debug for DebugService {
    async fn get_info(
        &self,
        _request: Request<GetInfoRequest>,
    ) -> Result<Response<GetInfoResponse>, Status> {
        if let Some(response) = self.cached() {
            return Ok(Response::new(response));
        }
        let ctx = &self.ctx;
        let agents = ctx
            .datastore
            .count_nodes(&Default::default())
            .await
            .map_err(|e| internal("failed to count agents", &e))?;
        let entries = ctx
            .datastore
            .count_entries(&Default::default())
            .await
            .map_err(|e| internal("failed to count entries", &e))?;
        let bundles = ctx
            .datastore
            .count_bundles()
            .await
            .map_err(|e| internal("failed to count bundles", &e))?;
        let svid_chain = svid_chain(ctx).await?;
        let response = GetInfoResponse {
            svid_chain,
            uptime: i32::try_from(ctx.started.elapsed().as_secs()).unwrap_or(i32::MAX),
            agents_count: count(agents),
            federated_bundles_count: count(bundles),
            entries_count: count(entries),
        };
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), response.clone()));
        Ok(Response::new(response))
    }
}

/// The server SVID's verified chain (empty when the server has none, as in a context that
/// serves no TLS).
async fn svid_chain(ctx: &ServerContext) -> Result<Vec<get_info_response::Cert>, Status> {
    let Some(svid) = ctx.server_svid.get() else {
        return Ok(Vec::new());
    };
    let td = &ctx.settings.trust_domain;
    let bundle = ctx
        .datastore
        .get_bundle(td)
        .await
        .map_err(|e| internal("failed to fetch trust domain bundle", &e))?
        .ok_or_else(|| Status::not_found("trust domain bundle not found"))?;
    let roots = bundle
        .x509_authorities
        .iter()
        .map(|a| Certificate::from_der(CertificateDer::from(a.der.clone())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal("failed to parse bundle", &e))?;
    let bundle = Arc::new(X509Bundle::from_authorities(td.clone(), roots));
    let current = svid.current();
    let verified = verify_parsed(current.chain(), &bundle, ctx.clock.now())
        .map_err(|e| internal("failed verification against bundle", &e))?;
    Ok(verified
        .chain()
        .iter()
        .map(|cert| get_info_response::Cert {
            id: cert
                .spiffe_id()
                .ok()
                .flatten()
                .map(|id| spiffe_id_to_proto(&id)),
            expires_at: i64::try_from(cert.not_after().as_secs()).unwrap_or(i64::MAX),
            subject: cert.subject(),
        })
        .collect())
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
