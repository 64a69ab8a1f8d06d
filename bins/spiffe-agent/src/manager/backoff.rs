//! The wait between sync attempts: the sync interval while the server answers, growing
//! exponentially while it does not (SPIRE's `pkg/common/backoff`: from the interval, ×1.5 per
//! attempt, ±10% jitter, capped).

use std::time::Duration;

use super::jitter;

/// Growth per failed attempt (cenkalti/backoff's default multiplier, which SPIRE uses).
const MULTIPLIER: f64 = 1.5;
/// Relative jitter of each wait.
const JITTER: f64 = 0.10;

/// Sync delays: [`next`](Self::next) after a failure, [`reset`](Self::reset) after a success.
#[derive(Debug, Clone)]
pub(crate) struct SyncBackoff {
    interval: Duration,
    max: Duration,
    current: Duration,
}

// === impl SyncBackoff ===

impl SyncBackoff {
    /// Waits of `interval` growing to at most `max` (before jitter).
    pub(crate) fn new(interval: Duration, max: Duration) -> Self {
        Self {
            interval,
            max: max.max(interval),
            current: interval,
        }
    }

    /// The wait after one more failure: the current wait with jitter; the next one grows.
    pub(crate) fn next(&mut self) -> Duration {
        self.next_with(jitter::unit())
    }

    fn next_with(&mut self, unit: f64) -> Duration {
        let wait = jitter::spread(self.current, JITTER, unit);
        self.current = self.current.mul_f64(MULTIPLIER).min(self.max);
        wait
    }

    /// Back to the plain interval.
    pub(crate) fn reset(&mut self) {
        self.current = self.interval;
    }
}

/// A retry's wait bounded by the life an SVID has left: never more than a quarter of it (at
/// least a second), so that retries close in on the expiry instead of sleeping past it, and
/// come often enough near it that a network working for a few seconds between outages (or
/// slowly: a round then takes seconds) is not missed.
pub(crate) fn within_life(wait: Duration, left: Duration) -> Duration {
    wait.min((left / LIFE_FRACTION).max(Duration::from_secs(1)))
}

/// [`within_life`]'s bound, as a fraction of the life left.
const LIFE_FRACTION: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_never_waits_past_a_quarter_of_the_life_left() {
        let s = Duration::from_secs;
        assert_eq!(within_life(s(5), s(1800)), s(5));
        assert_eq!(within_life(s(10), s(10)), Duration::from_millis(2500));
        // The case of the flaky-network fault test: a 30 s SVID with 13 s left after a failed
        // round, a backoff grown to 5 s: the next attempt within 3.25 s.
        assert_eq!(within_life(s(5), s(13)), Duration::from_millis(3250));
        assert_eq!(within_life(s(20), s(1)), s(1));
        assert_eq!(within_life(s(20), Duration::ZERO), s(1));
        // A wait already shorter is left alone.
        assert_eq!(
            within_life(Duration::from_millis(200), s(1)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn grows_by_half_up_to_the_cap_then_resets() {
        let mut backoff = SyncBackoff::new(Duration::from_secs(5), Duration::from_secs(240));
        let waits: Vec<u64> = (0..12)
            .map(|_| backoff.next_with(0.0).as_millis() as u64)
            .collect();
        assert_eq!(&waits[..4], &[5000, 7500, 11_250, 16_875]);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().expect("waits"), 240_000);
        backoff.reset();
        assert_eq!(backoff.next_with(0.0), Duration::from_secs(5));
        // Jitter moves a wait by at most 10%.
        assert_eq!(backoff.next_with(1.0), Duration::from_millis(8250));
        assert_eq!(backoff.next_with(-1.0), Duration::from_millis(10_125));
    }
}
