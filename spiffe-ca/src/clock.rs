//! Where the CA reads the time: the system clock in production, a manual one in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

/// A clock that moves only when told to, shared by its clones (whole seconds).
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

// === impl ManualClock ===

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: UnixTime) -> Self {
        Self(Arc::new(AtomicU64::new(now.as_secs())))
    }

    /// Sets the time.
    pub fn set(&self, now: UnixTime) {
        self.0.store(now.as_secs(), Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.0.load(Ordering::SeqCst)))
    }
}
