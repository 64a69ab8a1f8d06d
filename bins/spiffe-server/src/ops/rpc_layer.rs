//! The layer around every listener that counts each RPC by method and status, times it, and
//! writes the audit log line of admin calls when `audit_log_enabled`.
//!
//! The status is read from the response head: gRPC errors (and every authorization refusal)
//! come as trailers-only responses whose `grpc-status` is in the head; a response that streams
//! a body is counted `OK` (a failure reported in its trailers after data is not seen here).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::body::Body;
use tower::{Layer, Service};

use super::audit;
use crate::caller::Caller;
use crate::context::ServerContext;

/// Counts, times and audits every request of the wrapped service.
#[derive(Debug, Clone)]
pub struct RpcLayer {
    ctx: Arc<ServerContext>,
}

impl RpcLayer {
    /// A layer recording into `ctx.metrics`, auditing per `ctx.settings`.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            ctx: self.ctx.clone(),
        }
    }
}

/// The service [`RpcLayer`] produces.
#[derive(Debug, Clone)]
pub struct RpcService<S> {
    inner: S,
    ctx: Arc<ServerContext>,
}

impl<S> Service<http::Request<Body>> for RpcService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let method = request.uri().path().to_owned();
            let caller = request.extensions().get::<Caller>().cloned();
            let started = Instant::now();
            let response = inner.call(request).await?;
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map_or(tonic::Code::Ok, tonic::Code::from_i32);
            ctx.metrics.rpc(&method, code, started.elapsed());
            if ctx.settings.audit_log_enabled && audit::is_admin_method(&method) {
                let message = response
                    .headers()
                    .get("grpc-message")
                    .and_then(|v| v.to_str().ok())
                    .map(audit::percent_decode)
                    .unwrap_or_default();
                audit::log(&method, caller.as_ref(), code, &message);
            }
            Ok(response)
        })
    }
}
