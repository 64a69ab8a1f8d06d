//! [`Latest`]: the newest snapshot of one source's material and the background task that keeps
//! it current; the part the three sources share.

use std::future::Future;
use std::sync::Arc;

use spiffe_core::BundleSet;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{ClientError, Watch};
use crate::provider::X509Context;

/// The newest `T` of a source, behind a `watch` channel that a background task feeds. The task
/// stops when the holder is dropped (the last clone of its source) or closed.
pub(super) struct Latest<T> {
    updates: watch::Receiver<Arc<T>>,
    task: JoinHandle<()>,
}

/// Material the agent takes away by answering PERMISSION_DENIED: redacted SVIDs must no longer
/// be used (WAPI-16), and bundles go with them (WAPI-18, WAPI-21).
pub(super) trait Redact {
    /// Nothing held.
    fn redacted() -> Self;
    /// Whether nothing is held.
    fn is_redacted(&self) -> bool;
}

// === impl Latest ===

impl<T: Redact + Send + Sync + 'static> Latest<T> {
    /// Holds `first`, then every change `watch` brings.
    pub(super) fn follow(first: T, mut watch: Watch<T>) -> Self {
        Self::spawn(first, |sender| async move {
            while let Some(item) = watch.next().await {
                sender.send_if_modified(|held| match next_value(&**held, item) {
                    Some(value) => {
                        *held = Arc::new(value);
                        true
                    }
                    None => false,
                });
            }
        })
    }
}

impl<T> Latest<T> {
    /// Holds `first`; `run` publishes later values on the sender it is given.
    pub(super) fn spawn<F, Fut>(first: T, run: F) -> Self
    where
        F: FnOnce(watch::Sender<Arc<T>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (sender, updates) = watch::channel(Arc::new(first));
        Self {
            updates,
            task: tokio::spawn(run(sender)),
        }
    }

    /// The newest value.
    pub(super) fn get(&self) -> Arc<T> {
        self.updates.borrow().clone()
    }

    /// The newest value, borrowed (hold it briefly: it blocks the next update).
    pub(super) fn borrow(&self) -> watch::Ref<'_, Arc<T>> {
        self.updates.borrow()
    }

    /// A receiver that sees every later value; the current one is marked seen.
    pub(super) fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        let mut receiver = self.updates.clone();
        receiver.mark_unchanged();
        receiver
    }

    /// Stops the background task; the value held stays.
    pub(super) fn close(&self) {
        self.task.abort();
    }

    /// Whether the task stopped (closed, or ended by a final error).
    pub(super) fn is_closed(&self) -> bool {
        self.task.is_finished()
    }
}

impl<T> Drop for Latest<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Takes one stream item into `held`; whether `held` changed.
pub(super) fn apply<T: Redact>(held: &mut T, item: Result<T, ClientError>) -> bool {
    match next_value(held, item) {
        Some(value) => {
            *held = value;
            true
        }
        None => false,
    }
}

/// What `held` becomes after one stream item: an update replaces it, PERMISSION_DENIED takes
/// it away (WAPI-16); `None` when it stays (any other error is retried by the watch, and what
/// is held stays valid).
fn next_value<T: Redact>(held: &T, item: Result<T, ClientError>) -> Option<T> {
    match item {
        Ok(update) => Some(update),
        Err(error) if error.is_permission_denied() && !held.is_redacted() => Some(T::redacted()),
        Err(_) => None,
    }
}

impl Redact for X509Context {
    fn redacted() -> Self {
        Self::default()
    }

    fn is_redacted(&self) -> bool {
        self.svids.is_empty() && self.bundles.is_empty()
    }
}

impl Redact for BundleSet {
    fn redacted() -> Self {
        Self::new()
    }

    fn is_redacted(&self) -> bool {
        self.is_empty()
    }
}
