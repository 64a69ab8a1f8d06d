//! One connection's life: HTTP/2 over the (rewritten) socket until the client closes it, or
//! until the server closes it for one of these reasons:
//!
//! - no HTTP/2 preface within the handshake timeout (a silent or slow-loris client): closed at
//!   once;
//! - evicted by the registry to make room (it had no open stream): closed at once;
//! - idle (no open stream) for the idle timeout: closed gracefully (GOAWAY), and at once if
//!   the client does not finish within [`CLOSE_GRACE`];
//! - server shutdown: closed gracefully, after the streams the service ends.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};
use tokio::time::{sleep, Instant};

use super::authority::{Mode, RewritingStream, MAX_FRAME_SIZE};
use super::handler::{Handler, Refusing};
use super::limits::Limits;
use super::registry::ConnectionSlot;

/// How long an idle connection told to go away may take to close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long a refused connection is kept to answer UNAVAILABLE.
const REFUSAL_LIFETIME: Duration = Duration::from_secs(2);

fn builder(limits: &Limits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection)
        // The authority rewriter re-frames header blocks within this size.
        .max_frame_size(MAX_FRAME_SIZE as u32);
    builder
}

/// Serves one admitted connection until it ends.
pub(crate) async fn serve<IO, S>(
    io: IO,
    mode: Mode,
    handler: Handler<S>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Handler<S>: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<super::handler::GuardedBody>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    <Handler<S> as hyper::service::Service<hyper::Request<hyper::body::Incoming>>>::Future:
        Send + 'static,
{
    let slot: Arc<ConnectionSlot> = handler.slot.clone();
    let shared = slot.shared().clone();
    let (handshake_tx, mut handshake_rx) = oneshot::channel();
    let io = RewritingStream::new(io, mode, handshake_tx);
    let connection = builder(&limits).serve_connection(TokioIo::new(io), handler);
    tokio::pin!(connection);

    let handshake_deadline = sleep(limits.handshake_timeout);
    tokio::pin!(handshake_deadline);
    let mut handshake_done = false;
    let mut active = shared.active.subscribe();
    let idle = sleep(limits.idle_timeout);
    tokio::pin!(idle);
    let close_deadline = sleep(CLOSE_GRACE);
    tokio::pin!(close_deadline);
    let mut closing = false;
    let mut idle_closing = false;
    loop {
        tokio::select! {
            _ = &mut connection => return,
            _ = &mut handshake_deadline, if !handshake_done => return,
            _ = &mut handshake_rx, if !handshake_done => {
                handshake_done = true;
                slot.handshake_done();
            }
            () = shared.evicted.notified() => return,
            changed = active.changed() => {
                if changed.is_ok() && *active.borrow_and_update() == 0 {
                    idle.as_mut().reset(Instant::now() + limits.idle_timeout);
                }
            }
            () = &mut idle, if !closing && *active.borrow() == 0 => {
                connection.as_mut().graceful_shutdown();
                closing = true;
                idle_closing = true;
                close_deadline.as_mut().reset(Instant::now() + CLOSE_GRACE);
            }
            () = &mut close_deadline, if idle_closing => return,
            _ = shutdown.wait_for(|stop| *stop), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Answers the requests of a refused connection with UNAVAILABLE for a short while, then
/// closes it. `_permit` bounds how many refused connections are kept at once.
pub(crate) async fn refuse<IO>(io: IO, mode: Mode, limits: Limits, _permit: OwnedSemaphorePermit)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (handshake_tx, _handshake_rx) = oneshot::channel();
    let io = RewritingStream::new(io, mode, handshake_tx);
    let connection = builder(&limits).serve_connection(TokioIo::new(io), Refusing);
    let lifetime = REFUSAL_LIFETIME.min(limits.handshake_timeout);
    let _ = tokio::time::timeout(lifetime, connection).await;
}
