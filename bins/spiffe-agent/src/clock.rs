//! Where the agent reads the wall-clock time: certificate validity and rotation deadlines are
//! wall-clock instants ([`UnixTime`]), while waits use tokio's clock. [`TokioClock`] ties the
//! two together so a test on tokio's paused clock moves both at once.

use std::time::Duration;

use rustls_pki_types::UnixTime;

pub use spiffe_ca::{Clock, SystemClock};

/// A wall clock that advances with tokio's clock: the time it was created plus the tokio time
/// elapsed since. On a paused tokio clock (`tokio::time::pause`, `#[tokio::test(start_paused =
/// true)]`) it moves only when tokio's time does, so rotation deadlines and the agent's timers
/// agree. In production use [`SystemClock`].
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: UnixTime,
    start: tokio::time::Instant,
}

// === impl TokioClock ===

impl TokioClock {
    /// A clock showing the system time now.
    pub fn new() -> Self {
        Self::starting_at(UnixTime::now())
    }

    /// A clock showing `origin` now.
    pub fn starting_at(origin: UnixTime) -> Self {
        Self {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> UnixTime {
        let origin = self.origin.as_secs();
        let elapsed = self.start.elapsed();
        UnixTime::since_unix_epoch(Duration::from_secs(origin) + elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_tokio_clock() {
        let clock = TokioClock::starting_at(UnixTime::since_unix_epoch(Duration::from_secs(1000)));
        assert_eq!(clock.now().as_secs(), 1000);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(clock.now().as_secs(), 4600);
    }
}
