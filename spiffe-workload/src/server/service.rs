//! The `SpiffeWorkloadAPI` gRPC service over an [`IdentityProvider`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use spiffe_core::SpiffeId;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::convert;
use super::fingerprint::Fingerprint;
use super::header::check_security_header;
use super::peer::PeerCaller;
use super::stream::{watch_stream, ResponseStream};
use crate::proto;
use crate::proto::spiffe_workload_api_server::SpiffeWorkloadApi;
use crate::provider::{IdentityProvider, ProviderError};
use crate::CallerInfo;

/// The service state shared by every request.
pub(crate) struct WorkloadApiService<P> {
    pub(crate) provider: Arc<P>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

// === impl WorkloadApiService ===

impl<P: IdentityProvider> WorkloadApiService<P> {
    /// Checks the header and finds the caller the connection was attested as when accepted:
    /// the kernel's peer credentials of a Unix socket (WEP-12), or the operator's attestation
    /// of a TCP peer address (WEP-4).
    fn caller<T>(&self, request: &Request<T>) -> Result<CallerInfo, Status> {
        check_security_header(request.metadata())?;
        match request.extensions().get::<PeerCaller>() {
            Some(PeerCaller::Attested(caller)) => Ok(*caller),
            // WEP-15: a TCP peer the operator does not know has no identity.
            Some(PeerCaller::Unknown) => Err(Status::permission_denied("caller not attested")),
            // Without peer credentials (or a start time) the caller cannot be attested.
            Some(PeerCaller::Unavailable) | None => {
                Err(Status::unavailable("caller credentials unavailable"))
            }
        }
    }

    /// Opens one server stream for `request` (the connection layer has admitted it within the
    /// stream bounds): attests the caller, subscribes to provider changes (before the first answer, so none is missed) and
    /// answers with `answer(provider, caller)` now and on every change.
    fn watch<R, T, F, Fut>(
        &self,
        request: &Request<R>,
        answer: F,
    ) -> Result<Response<ResponseStream<T>>, Status>
    where
        T: Fingerprint + Send + 'static,
        F: Fn(Arc<P>, CallerInfo) -> Fut + Send + Unpin + 'static,
        Fut: Future<Output = Result<T, Status>> + Send + 'static,
    {
        let caller = self.caller(request)?;
        let provider = self.provider.clone();
        let changes = provider.changes();
        Ok(Response::new(watch_stream(
            changes,
            self.shutdown.clone(),
            move || answer(provider.clone(), caller),
        )))
    }
}

/// The status a provider error is answered with (WEP-6, WEP-14, WEP-15, WAPI-16, WAPI-20).
fn status(error: ProviderError) -> Status {
    match error {
        ProviderError::NoIdentity => Status::permission_denied("no identity issued"),
        ProviderError::NotEntitled { .. } => Status::permission_denied(error.to_string()),
        ProviderError::Unavailable => Status::unavailable(error.to_string()),
        ProviderError::InvalidJwtSvid(source) => {
            Status::invalid_argument(format!("JWT-SVID failed validation: {source}"))
        }
        ProviderError::Internal(_) => Status::internal("identity provider failed"),
    }
}

#[tonic::async_trait]
impl<P: IdentityProvider> SpiffeWorkloadApi for WorkloadApiService<P> {
    type FetchX509SVIDStream = ResponseStream<proto::X509svidResponse>;
    type FetchX509BundlesStream = ResponseStream<proto::X509BundlesResponse>;
    type FetchJWTBundlesStream = ResponseStream<proto::JwtBundlesResponse>;
    type FetchWITSVIDStream = ResponseStream<proto::WitsvidResponse>;
    type FetchWITBundlesStream = ResponseStream<proto::WitBundlesResponse>;

    async fn fetch_x509svid(
        &self,
        request: Request<proto::X509svidRequest>,
    ) -> Result<Response<Self::FetchX509SVIDStream>, Status> {
        self.watch(&request, |provider, caller| async move {
            let context = provider.x509_context(&caller).await.map_err(status)?;
            convert::x509_svid_response(&context)
        })
    }

    async fn fetch_x509_bundles(
        &self,
        request: Request<proto::X509BundlesRequest>,
    ) -> Result<Response<Self::FetchX509BundlesStream>, Status> {
        self.watch(&request, |provider, caller| async move {
            let context = provider.x509_context(&caller).await.map_err(status)?;
            convert::x509_bundles_response(&context)
        })
    }

    async fn fetch_jwtsvid(
        &self,
        request: Request<proto::JwtsvidRequest>,
    ) -> Result<Response<proto::JwtsvidResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        // WAPI-10/19: `audience` is mandatory.
        if request.audience.is_empty() {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        let wanted = match request.spiffe_id.as_str() {
            "" => None,
            id => Some(
                SpiffeId::new(id)
                    .map_err(|_| Status::invalid_argument("requested SPIFFE ID is malformed"))?,
            ),
        };
        let svids = self
            .provider
            .jwt_svids(&caller, &request.audience, wanted.as_ref())
            .await
            .map_err(status)?;
        let mut hints = HashSet::new();
        let svids: Vec<_> = svids
            .into_iter()
            .filter(|svid| wanted.as_ref().is_none_or(|id| svid.spiffe_id == *id))
            // WAPI-15/25: non-empty hints unique and at most 1024 bytes.
            .filter(|svid| {
                svid.hint.len() <= convert::MAX_HINT_LEN
                    && (svid.hint.is_empty() || hints.insert(svid.hint.clone()))
            })
            .map(|svid| proto::Jwtsvid {
                spiffe_id: svid.spiffe_id.as_str().to_owned(),
                svid: svid.token,
                hint: svid.hint,
            })
            .collect();
        // WAPI-19/20: at least one SVID, else the caller is not entitled.
        if svids.is_empty() {
            return Err(Status::permission_denied("no identity issued"));
        }
        Ok(Response::new(proto::JwtsvidResponse { svids }))
    }

    async fn fetch_jwt_bundles(
        &self,
        request: Request<proto::JwtBundlesRequest>,
    ) -> Result<Response<Self::FetchJWTBundlesStream>, Status> {
        self.watch(&request, |provider, caller| async move {
            let bundles = provider.jwt_bundles(&caller).await.map_err(status)?;
            convert::jwt_bundles_response(&bundles)
        })
    }

    async fn validate_jwtsvid(
        &self,
        request: Request<proto::ValidateJwtsvidRequest>,
    ) -> Result<Response<proto::ValidateJwtsvidResponse>, Status> {
        let caller = self.caller(&request)?;
        let request = request.into_inner();
        // WAPI-22: both request fields are mandatory.
        if request.audience.is_empty() {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        if request.svid.is_empty() {
            return Err(Status::invalid_argument("svid must be specified"));
        }
        let svid = self
            .provider
            .validate_jwt_svid(&caller, &request.audience, &request.svid)
            .await
            .map_err(status)?;
        // WAPI-22: `claims` is always filled (the `spiffe` crate rejects an answer without it).
        Ok(Response::new(proto::ValidateJwtsvidResponse {
            spiffe_id: svid.spiffe_id().as_str().to_owned(),
            claims: Some(convert::claims_object_struct(svid.claims())),
        }))
    }

    async fn fetch_witsvid(
        &self,
        request: Request<proto::WitsvidRequest>,
    ) -> Result<Response<Self::FetchWITSVIDStream>, Status> {
        check_security_header(request.metadata())?;
        // WAPI-2: the WIT-SVID profile is not implemented.
        Err(Status::unimplemented("WIT-SVID profile not supported"))
    }

    async fn fetch_wit_bundles(
        &self,
        request: Request<proto::WitBundlesRequest>,
    ) -> Result<Response<Self::FetchWITBundlesStream>, Status> {
        check_security_header(request.metadata())?;
        // WAPI-2: the WIT-SVID profile is not implemented.
        Err(Status::unimplemented("WIT-SVID profile not supported"))
    }
}
