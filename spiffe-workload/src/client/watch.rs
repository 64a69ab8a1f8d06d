//! A streaming RPC kept open: re-opened at once when it ends after delivering (WAPI-5), with
//! backoff when it fails (WEP-14, WEP-15), given up only on a final error (WEP-13, WEP-16).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::Stream;

use super::backoff::{Backoff, BackoffConfig};
use super::error::{ClientError, MalformedResponse};

/// The updates of one Workload API stream, re-opened across disconnections and agent
/// restarts. Each item is the complete new state (WAPI-6) or an error; the stream ends after a
/// final error ([`ClientError::is_retryable`] is false). Dropping it stops watching.
#[derive(Debug)]
pub struct Watch<T> {
    updates: mpsc::Receiver<Result<T, ClientError>>,
    task: JoinHandle<()>,
}

// === impl Watch ===

impl<T> Watch<T> {
    /// The next update or error; `None` once the stream ended for good.
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        self.updates.recv().await
    }
}

impl<T> Stream for Watch<T> {
    type Item = Result<T, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.updates.poll_recv(cx)
    }
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Spawns the task that keeps a stream open: `open` starts the RPC, `convert` parses each
/// message (a malformed message is reported and skipped, WAPI-10).
pub(crate) fn spawn<M, T, F, Fut>(
    config: BackoffConfig,
    mut open: F,
    convert: fn(M) -> Result<T, MalformedResponse>,
) -> Watch<T>
where
    M: Send + 'static,
    T: Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<tonic::Streaming<M>, ClientError>> + Send,
{
    let (tx, updates) = mpsc::channel(4);
    let task = tokio::spawn(async move {
        let mut backoff = Backoff::new(config);
        loop {
            let opened = tokio::select! {
                opened = open() => opened,
                () = tx.closed() => return,
            };
            let failure = match opened {
                Err(error) => Some(error),
                Ok(mut stream) => {
                    let mut delivered = false;
                    let failure = loop {
                        let next = tokio::select! {
                            next = stream.message() => next,
                            () = tx.closed() => return,
                        };
                        let item = match next {
                            Ok(Some(message)) => match convert(message) {
                                Ok(update) => {
                                    delivered = true;
                                    backoff.reset();
                                    Ok(update)
                                }
                                Err(malformed) => Err(ClientError::Malformed(malformed)),
                            },
                            Ok(None) => break None,
                            Err(status) => break Some(ClientError::from_status(&status)),
                        };
                        if tx.send(item).await.is_err() {
                            return;
                        }
                    };
                    // WAPI-5: a stream that ended after delivering is re-opened immediately.
                    if failure.is_none() && delivered {
                        continue;
                    }
                    failure
                }
            };
            if let Some(error) = failure {
                let retryable = error.is_retryable();
                if tx.send(Err(error)).await.is_err() || !retryable {
                    // WEP-13, WEP-16: INVALID_ARGUMENT and UNIMPLEMENTED are not retried.
                    return;
                }
            }
            let delay = backoff.next_delay();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return,
            }
        }
    });
    Watch { updates, task }
}
