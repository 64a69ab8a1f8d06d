//! The authorization layer: a tower layer around the API routes that finds the method's row
//! in [`super::POLICY`], decides whether the request's [`Caller`] holds one of its roles, and
//! either records the role ([`Authorized`]) for the handler or answers PERMISSION_DENIED
//! without calling it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::Status;
use tower::{Layer, Service};

use super::roles::decide;
use crate::caller::{Authorized, Caller};
use crate::context::ServerContext;

/// Applies the authorization policy to every request of the wrapped service.
#[derive(Debug, Clone)]
pub struct AuthorizeLayer {
    ctx: Arc<ServerContext>,
}

impl AuthorizeLayer {
    /// A layer deciding with `ctx`'s settings, entry cache and datastore.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            ctx: self.ctx.clone(),
        }
    }
}

/// The service [`AuthorizeLayer`] produces.
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
    ctx: Arc<ServerContext>,
}

impl<S> Service<http::Request<Body>> for Authorize<S>
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

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is the one that is ready; keep it (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let method = request.uri().path().to_owned();
            let Some(caller) = request.extensions().get::<Caller>().cloned() else {
                return Ok(Status::permission_denied("caller not identified").into_http());
            };
            match decide(&ctx, &method, &caller).await {
                Ok(role) => {
                    request.extensions_mut().insert(Authorized(role));
                    inner.call(request).await
                }
                Err(status) => {
                    tracing::debug!(%method, %caller, reason = %status.message(), "request refused");
                    Ok(status.into_http())
                }
            }
        })
    }
}
