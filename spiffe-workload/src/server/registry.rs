//! The open connections and streams of one server, counted per caller.
//!
//! Invariants a reviewer should check:
//! - A caller is its uid ([`CallerKey`]); connections whose caller could not be attested share
//!   one key (`None`), so unattested peers together get one caller's share.
//! - Admission never lets the number of connections pass `max_connections` or a caller's pass
//!   `max_connections_per_caller`. When a bound is reached an *idle* connection (no open
//!   stream; this includes one that has not finished its preface) is evicted to make room: of
//!   the same caller when its share is full, else of the caller holding the most connections;
//!   among those, one still in its HTTP/2 handshake first (oldest first), then one that never
//!   carried a stream, else the one whose last stream began longest ago. An idle connection carries no call, so evicting it loses nothing; a flood of
//!   connections that never call displaces only itself, and a workload that calls keeps its
//!   connection. With nothing idle to evict, the
//!   new connection is refused (and answered UNAVAILABLE by the caller of [`Registry::admit`]).
//! - A stream (one RPC in flight) is admitted only within `max_streams` in all and
//!   `max_streams_per_caller` for its caller; its [`StreamPermit`] gives both back on drop,
//!   whatever way the RPC ends.
//! - Every count is changed under one lock, and every slot and permit releases what it took
//!   exactly once (on drop, or at eviction for a connection).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::limits::Fitted;

/// Who a connection's limits are counted for: the caller's uid, `None` when unattested.
pub(crate) type CallerKey = Option<u32>;

/// What one connection shares with its task and its requests.
#[derive(Debug)]
pub(crate) struct ConnectionShared {
    /// Streams open on this connection; the connection is idle at zero.
    pub(crate) active: watch::Sender<usize>,
    /// Notified when the registry evicted this connection.
    pub(crate) evicted: Notify,
}

#[derive(Debug)]
struct Entry {
    key: CallerKey,
    shared: Arc<ConnectionShared>,
    /// Whether the client has sent its HTTP/2 preface.
    handshaken: bool,
    /// When its last stream began; `None` if it never carried one.
    last_stream: Option<Instant>,
}

#[derive(Debug, Default, Clone, Copy)]
struct CallerCounts {
    connections: usize,
    streams: usize,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// By admission order: the first idle entry is the oldest idle connection.
    connections: BTreeMap<u64, Entry>,
    callers: HashMap<CallerKey, CallerCounts>,
    streams: usize,
}

/// The connection and stream counts of one server.
#[derive(Debug)]
pub(crate) struct Registry {
    limits: Fitted,
    state: Mutex<State>,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamRefused {
    /// The server holds `max_streams` streams.
    Server,
    /// The caller holds its share.
    Caller,
}

// === impl Registry ===

impl Registry {
    pub(crate) fn new(limits: Fitted) -> Arc<Self> {
        Arc::new(Self {
            limits,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The counts stay consistent across a panic elsewhere: every change is one statement.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection of `key`, evicting an idle one if a bound is reached; `None` when
    /// nothing can be evicted.
    pub(crate) fn admit(self: &Arc<Self>, key: CallerKey) -> Option<ConnectionSlot> {
        let mut state = self.lock();
        let own = state.callers.get(&key).map_or(0, |c| c.connections);
        if own >= self.limits.max_connections_per_caller {
            let victim = state.oldest_idle(|k| k == key)?;
            state.evict(victim);
        } else if state.connections.len() >= self.limits.max_connections {
            let heaviest = state.heaviest_with_idle()?;
            let victim = state.oldest_idle(|k| k == heaviest)?;
            state.evict(victim);
        }
        let id = state.next_id;
        state.next_id += 1;
        let shared = Arc::new(ConnectionShared {
            active: watch::channel(0).0,
            evicted: Notify::new(),
        });
        state.connections.insert(
            id,
            Entry {
                key,
                shared: shared.clone(),
                handshaken: false,
                last_stream: None,
            },
        );
        state.callers.entry(key).or_default().connections += 1;
        Some(ConnectionSlot {
            registry: self.clone(),
            id,
            key,
            shared,
        })
    }

    /// Evicts the oldest idle connection of any caller (to free a descriptor after an accept
    /// failed for want of one); whether there was one.
    pub(crate) fn shed_idle(&self) -> bool {
        let mut state = self.lock();
        match state.oldest_idle(|_| true) {
            Some(victim) => {
                state.evict(victim);
                true
            }
            None => false,
        }
    }

    /// The number of open connections (admitted and not yet closed or evicted).
    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.lock().connections.len()
    }
}

impl State {
    /// The idle connection to evict among those of the callers `wanted` accepts: one still in
    /// its handshake, else one that never carried a stream (oldest first), else the least
    /// recently used.
    fn oldest_idle(&self, mut wanted: impl FnMut(CallerKey) -> bool) -> Option<u64> {
        self.connections
            .iter()
            .filter(|(_, e)| wanted(e.key) && *e.shared.active.borrow() == 0)
            .min_by_key(|(id, e)| (e.handshaken, e.last_stream, **id))
            .map(|(id, _)| *id)
    }

    /// The caller with the most connections among those with an idle one.
    fn heaviest_with_idle(&self) -> Option<CallerKey> {
        let mut best: Option<(usize, CallerKey)> = None;
        for entry in self.connections.values() {
            if *entry.shared.active.borrow() != 0 {
                continue;
            }
            let count = self.callers.get(&entry.key).map_or(0, |c| c.connections);
            if best.is_none_or(|(n, _)| count > n) {
                best = Some((count, entry.key));
            }
        }
        best.map(|(_, key)| key)
    }

    fn evict(&mut self, id: u64) {
        if let Some(entry) = self.remove(id) {
            entry.shared.evicted.notify_one();
        }
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.connections.remove(&id)?;
        self.release(entry.key, |c| c.connections -= 1);
        Some(entry)
    }

    fn release(&mut self, key: CallerKey, f: impl FnOnce(&mut CallerCounts)) {
        if let Some(counts) = self.callers.get_mut(&key) {
            f(counts);
            if counts.connections == 0 && counts.streams == 0 {
                self.callers.remove(&key);
            }
        }
    }
}

/// One admitted connection; dropping it gives its place back (unless it was evicted).
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    registry: Arc<Registry>,
    id: u64,
    key: CallerKey,
    shared: Arc<ConnectionShared>,
}

// === impl ConnectionSlot ===

impl ConnectionSlot {
    pub(crate) fn shared(&self) -> &Arc<ConnectionShared> {
        &self.shared
    }

    /// Records that the client has sent its HTTP/2 preface.
    pub(crate) fn handshake_done(&self) {
        if let Some(entry) = self.registry.lock().connections.get_mut(&self.id) {
            entry.handshaken = true;
        }
    }

    /// Opens a stream on this connection, within the server's and the caller's bounds.
    pub(crate) fn open_stream(&self) -> Result<StreamPermit, StreamRefused> {
        let limits = self.registry.limits;
        let mut state = self.registry.lock();
        if state.streams >= limits.max_streams {
            return Err(StreamRefused::Server);
        }
        let counts = state.callers.entry(self.key).or_default();
        if counts.streams >= limits.max_streams_per_caller {
            return Err(StreamRefused::Caller);
        }
        counts.streams += 1;
        state.streams += 1;
        if let Some(entry) = state.connections.get_mut(&self.id) {
            entry.last_stream = Some(Instant::now());
        }
        drop(state);
        self.shared.active.send_modify(|n| *n += 1);
        Ok(StreamPermit {
            registry: self.registry.clone(),
            key: self.key,
            shared: self.shared.clone(),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.registry.lock().remove(self.id);
    }
}

/// One admitted stream; dropping it gives its place back.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    registry: Arc<Registry>,
    key: CallerKey,
    shared: Arc<ConnectionShared>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        state.streams -= 1;
        state.release(self.key, |c| c.streams -= 1);
        drop(state);
        self.shared.active.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::server::limits::Limits;

    fn registry(
        connections: usize,
        per_caller: usize,
        streams: usize,
        share: usize,
    ) -> Arc<Registry> {
        Registry::new(
            Limits {
                max_connections: connections,
                max_connections_per_caller: Some(per_caller),
                max_streams: streams,
                max_streams_per_caller: Some(share),
                ..Limits::default()
            }
            .fitted_to(None),
        )
    }

    #[test]
    fn a_full_caller_displaces_its_own_oldest_idle_connection() {
        let registry = registry(10, 2, 100, 100);
        let first = registry.admit(Some(1)).unwrap();
        let second = registry.admit(Some(1)).unwrap();
        let _busy = second.open_stream().unwrap();
        let other = registry.admit(Some(2)).unwrap();
        // Caller 1 is at its share: its idle `first` goes, not the busy one nor caller 2's.
        let third = registry.admit(Some(1)).unwrap();
        assert_eq!(registry.connections(), 3);
        assert!(first.shared().evicted.notified().now_or_never().is_some());
        assert!(other.shared().evicted.notified().now_or_never().is_none());
        // Now both of caller 1's are busy: the next is refused.
        let _busy3 = third.open_stream().unwrap();
        assert!(registry.admit(Some(1)).is_none());
        // Caller 2 is unaffected.
        assert!(registry.admit(Some(2)).is_some());
        drop(first);
        assert_eq!(
            registry.connections(),
            3,
            "an evicted slot is not removed twice"
        );
    }

    #[test]
    fn connections_that_never_called_go_first_then_the_least_recently_used() {
        let registry = registry(10, 3, 100, 100);
        let worker = registry.admit(Some(1)).unwrap();
        worker.handshake_done();
        drop(worker.open_stream().unwrap());
        let silent = registry.admit(Some(1)).unwrap();
        silent.handshake_done();
        let fresh = registry.admit(Some(1)).unwrap();
        fresh.handshake_done();
        // The worker is the oldest and idle, but it has called: the oldest silent one goes.
        let mute = registry.admit(Some(1)).unwrap();
        assert!(silent.shared().evicted.notified().now_or_never().is_some());
        assert!(worker.shared().evicted.notified().now_or_never().is_none());
        // One that has not even sent its preface goes before any that has, however new.
        let _next = registry.admit(Some(1)).unwrap();
        assert!(mute.shared().evicted.notified().now_or_never().is_some());
        assert!(fresh.shared().evicted.notified().now_or_never().is_none());
    }

    #[test]
    fn a_full_server_evicts_from_the_heaviest_caller() {
        let registry = registry(4, 4, 100, 100);
        let flood: Vec<_> = (0..3).map(|_| registry.admit(Some(1)).unwrap()).collect();
        let quiet = registry.admit(Some(2)).unwrap();
        let newcomer = registry.admit(Some(3)).unwrap();
        assert!(flood[0]
            .shared()
            .evicted
            .notified()
            .now_or_never()
            .is_some());
        assert!(quiet.shared().evicted.notified().now_or_never().is_none());
        assert_eq!(registry.connections(), 4);
        drop(newcomer);
        assert_eq!(registry.connections(), 3);
        assert!(registry.shed_idle());
        assert_eq!(registry.connections(), 2);
    }

    #[test]
    fn streams_are_bounded_per_caller_and_in_all() {
        let registry = registry(10, 10, 5, 3);
        let a = registry.admit(Some(1)).unwrap();
        let b = registry.admit(Some(2)).unwrap();
        let held: Vec<_> = (0..3).map(|_| a.open_stream().unwrap()).collect();
        assert_eq!(a.open_stream().unwrap_err(), StreamRefused::Caller);
        assert_eq!(*a.shared().active.borrow(), 3);
        let b1 = b.open_stream().unwrap();
        let _b2 = b.open_stream().unwrap();
        assert_eq!(b.open_stream().unwrap_err(), StreamRefused::Server);
        drop(b1);
        let _b3 = b.open_stream().unwrap();
        drop(held);
        assert_eq!(*a.shared().active.borrow(), 0);
        let _a1 = a.open_stream().unwrap();
    }

    trait NowOrNever: std::future::Future + Sized {
        fn now_or_never(self) -> Option<Self::Output> {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut this = std::pin::pin!(self);
            match this.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            }
        }
    }
    impl<F: std::future::Future> NowOrNever for F {}
}
