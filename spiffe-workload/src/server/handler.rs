//! The per-request glue between hyper and the gRPC service: admits the request as a stream
//! (within the server's and the caller's share), hands the service the connection's caller,
//! and keeps the stream's permit until the response body ends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{Bytes, Service};
use tonic::Status;
use tower::ServiceExt;

use super::peer::PeerCaller;
use super::registry::{ConnectionSlot, StreamPermit, StreamRefused};

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

/// A response body holding its stream's permit: the stream counts until the body is done or
/// dropped (a long-lived watch stream holds it for its whole life).
pub(crate) struct GuardedBody {
    inner: tonic::body::Body,
    _permit: Option<StreamPermit>,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A trailers-only gRPC answer carrying `status`.
fn status_response(status: Status) -> Response<GuardedBody> {
    status
        .into_http::<tonic::body::Body>()
        .map(|inner| GuardedBody {
            inner,
            _permit: None,
        })
}

/// Serves the requests of one admitted connection.
pub(crate) struct Handler<S> {
    pub(crate) service: S,
    pub(crate) caller: PeerCaller,
    pub(crate) slot: Arc<ConnectionSlot>,
}

impl<S> hyper::service::Service<Request<Incoming>> for Handler<S>
where
    S: Service<Request<Incoming>, Response = Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let permit = match self.slot.open_stream() {
            Ok(permit) => permit,
            Err(refused) => {
                let status = match refused {
                    StreamRefused::Server => Status::resource_exhausted("too many open streams"),
                    StreamRefused::Caller => {
                        Status::resource_exhausted("too many open streams for this caller")
                    }
                };
                return Box::pin(std::future::ready(Ok(status_response(status))));
            }
        };
        request.extensions_mut().insert(self.caller);
        let service = self.service.clone();
        Box::pin(async move {
            let response = service.oneshot(request).await?;
            Ok(response.map(|inner| GuardedBody {
                inner,
                _permit: Some(permit),
            }))
        })
    }
}

/// Serves a connection that was refused for want of room: every request is answered
/// UNAVAILABLE (WEP-14: the client backs off and retries) instead of leaving it to hang.
#[derive(Clone, Copy)]
pub(crate) struct Refusing;

impl hyper::service::Service<Request<Incoming>> for Refusing {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _request: Request<Incoming>) -> Self::Future {
        std::future::ready(Ok(status_response(Status::unavailable(
            "Workload API server is at its connection limit",
        ))))
    }
}
