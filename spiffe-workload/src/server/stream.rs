//! One server-streaming RPC: answer at once (WAPI-7), then again with the complete state
//! (WAPI-6) whenever the provider signals a change and the answer differs.
//!
//! The stream is a hand-written [`Stream`] polled directly by the HTTP/2 stream that carries
//! it: no task and no channel per stream. An idle stream is one boxed future waiting on the
//! provider's `watch` channel and the shutdown signal; it remembers the last message sent as a
//! 64-bit keyed fingerprint, not as a copy.

use std::future::Future;
use std::hash::RandomState;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::Status;

use super::fingerprint::Fingerprint;

/// The response stream type of every streaming RPC.
pub(crate) type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The stream of `answer`s: the first at once, then one per provider change whose answer
/// differs from the last sent. `changes` must be subscribed before the call, so no change
/// between subscribing and the first answer is missed. The stream ends when the server shuts
/// down or `answer` fails (that status is its last item).
pub(crate) fn watch_stream<T, F, Fut>(
    mut changes: watch::Receiver<()>,
    shutdown: watch::Receiver<bool>,
    answer: F,
) -> ResponseStream<T>
where
    T: Fingerprint + Send + 'static,
    F: FnMut() -> Fut + Send + Unpin + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
{
    changes.mark_unchanged();
    let state = Watch {
        changes,
        shutdown,
        answer,
        keys: RandomState::new(),
        last: None,
        first: true,
        failed: false,
    };
    Box::pin(Unfold {
        state: Some(state),
        step: Watch::step,
        pending: None,
    })
}

/// The state of one stream between messages.
struct Watch<F> {
    changes: watch::Receiver<()>,
    shutdown: watch::Receiver<bool>,
    answer: F,
    keys: RandomState,
    /// The fingerprint of the last message sent.
    last: Option<u64>,
    first: bool,
    failed: bool,
}

// === impl Watch ===

impl<F> Watch<F> {
    /// Waits for the next message to send; `None` ends the stream.
    async fn step<T, Fut>(mut self) -> Option<(Result<T, Status>, Self)>
    where
        T: Fingerprint,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        loop {
            if self.failed {
                return None;
            }
            if !self.first {
                tokio::select! {
                    changed = self.changes.changed() => {
                        if changed.is_err() {
                            // The provider will never change again: hold the stream open.
                            stopped(&mut self.shutdown).await;
                            return None;
                        }
                    }
                    _ = stopped(&mut self.shutdown) => return None,
                }
            }
            self.first = false;
            match (self.answer)().await {
                Ok(message) => {
                    let fingerprint = message.fingerprint(&self.keys);
                    if self.last != Some(fingerprint) {
                        self.last = Some(fingerprint);
                        return Some((Ok(message), self));
                    }
                }
                Err(status) => {
                    // WAPI-16: redaction ends the stream with the error.
                    self.failed = true;
                    return Some((Err(status), self));
                }
            }
        }
    }
}

/// Completes once the server shuts down (or the server is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A stream driven by `step`, which consumes the state and yields an item and the next state.
struct Unfold<S, Fut> {
    state: Option<S>,
    step: fn(S) -> Fut,
    pending: Option<Pin<Box<Fut>>>,
}

// === impl Unfold ===

impl<S, T, Fut> Stream for Unfold<S, Fut>
where
    S: Unpin,
    Fut: Future<Output = Option<(T, S)>>,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let pending = match &mut this.pending {
            Some(pending) => pending,
            None => match this.state.take() {
                Some(state) => this.pending.insert(Box::pin((this.step)(state))),
                None => return Poll::Ready(None),
            },
        };
        let out = std::task::ready!(pending.as_mut().poll(cx));
        this.pending = None;
        Poll::Ready(out.map(|(item, state)| {
            this.state = Some(state);
            item
        }))
    }
}
