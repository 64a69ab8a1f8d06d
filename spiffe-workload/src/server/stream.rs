//! One server-streaming RPC: answer at once (WAPI-7), then again with the complete state
//! (WAPI-6) whenever the provider signals a change and the answer differs.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::Status;

/// The response stream type of every streaming RPC.
pub(crate) type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Spawns the task feeding one stream. `changes` must be subscribed before the first call of
/// `answer`, so no change between the two is missed. The stream ends when the client goes away,
/// the server shuts down, or `answer` fails (that status is the stream's last item).
pub(crate) fn spawn_watch<T, F, Fut>(
    mut changes: watch::Receiver<()>,
    mut shutdown: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
    mut answer: F,
) -> ResponseStream<T>
where
    T: PartialEq + Clone + Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Status>> + Send,
{
    let (tx, rx) = mpsc::channel(1);
    changes.mark_unchanged();
    tokio::spawn(async move {
        let _permit = permit;
        let mut last: Option<T> = None;
        loop {
            match answer().await {
                Ok(message) => {
                    if last.as_ref() != Some(&message) {
                        if tx.send(Ok(message.clone())).await.is_err() {
                            return;
                        }
                        last = Some(message);
                    }
                }
                Err(status) => {
                    // WAPI-16: redaction ends the stream with the error.
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        // The provider will never change again: hold the stream open.
                        tokio::select! {
                            _ = tx.closed() => {}
                            _ = stopped(&mut shutdown) => {}
                        }
                        return;
                    }
                }
                _ = tx.closed() => return,
                _ = stopped(&mut shutdown) => return,
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Completes once the server shuts down (or the server is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
