//! Exponential backoff with jitter for reconnecting to the Workload API (WEP-14, WEP-15,
//! WAPI-5): a pure type, deterministic for a given seed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How long to wait between attempts: `initial`, multiplied by `multiplier` after each
/// failure up to `max`, each delay spread by ± `jitter` (a fraction) so that a fleet of
/// workloads does not reconnect in lockstep.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay before jitter.
    pub max: Duration,
    /// The growth factor per failed attempt (at least 1).
    pub multiplier: f64,
    /// The relative spread of each delay, in `0.0..=1.0` (0.2 means ± 20 %).
    pub jitter: f64,
}

/// The delays of one retry sequence, from a [`BackoffConfig`].
///
/// ```
/// use std::time::Duration;
/// use spiffe_workload::{Backoff, BackoffConfig};
///
/// let config = BackoffConfig::new(Duration::from_millis(100), Duration::from_secs(30))
///     .with_jitter(0.0);
/// let mut backoff = Backoff::with_seed(config, 7);
/// assert_eq!(backoff.next_delay(), Duration::from_millis(100));
/// assert_eq!(backoff.next_delay(), Duration::from_millis(200));
/// backoff.reset();
/// assert_eq!(backoff.next_delay(), Duration::from_millis(100));
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: SplitMix64,
}

// === impl BackoffConfig ===

impl BackoffConfig {
    /// Delays from `initial`, doubling up to `max`, ± 20 % jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }

    /// The same configuration with growth factor `multiplier` (values below 1 count as 1).
    #[must_use]
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            2.0
        };
        self
    }

    /// The same configuration with relative spread `jitter`, clamped to `0.0..=1.0`.
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The delay before jitter for the attempt numbered `attempt` (0 for the first retry).
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let max = self.max.as_secs_f64();
        let factor = self.multiplier.powi(attempt.min(1024) as i32);
        let secs = (self.initial.as_secs_f64() * factor).min(max);
        Duration::from_secs_f64(if secs.is_finite() { secs } else { max })
    }
}

/// 100 ms doubling to 30 s, ± 20 %.
impl Default for BackoffConfig {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(30))
    }
}

// === impl Backoff ===

impl Backoff {
    /// A sequence seeded from the process's random hash keys.
    pub fn new(config: BackoffConfig) -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x5b1f_fe00);
        Self::with_seed(config, hasher.finish())
    }

    /// A sequence with a fixed seed: the same seed gives the same delays.
    pub fn with_seed(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            attempt: 0,
            rng: SplitMix64(seed),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// How many delays were handed out since the last [`reset`](Self::reset).
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay to wait before the next attempt; grows with each call.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.config.base_delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = self.config.jitter;
        if jitter == 0.0 {
            return base;
        }
        // A factor uniform in [1 - jitter, 1 + jitter).
        let factor = 1.0 + jitter * (2.0 * self.rng.next_unit() - 1.0);
        Duration::from_secs_f64(base.as_secs_f64() * factor)
    }

    /// Starts over from the initial delay, after a success (as go-spiffe resets after each
    /// received message).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A tiny, well-mixed PRNG (SplitMix64); jitter needs spread, not secrecy.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_max_without_jitter() {
        let config = BackoffConfig::new(ms(100), ms(1000)).with_jitter(0.0);
        let mut backoff = Backoff::with_seed(config, 1);
        let delays: Vec<_> = (0..7).map(|_| backoff.next_delay()).collect();
        assert_eq!(
            delays,
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000),
                ms(1000)
            ]
        );
        assert_eq!(backoff.attempts(), 7);
        backoff.reset();
        assert_eq!(backoff.next_delay(), ms(100));
    }

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let config = BackoffConfig::new(ms(100), Duration::from_secs(30)).with_jitter(0.2);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200 {
            let mut backoff = Backoff::with_seed(config, seed);
            let first = backoff.next_delay();
            assert!(first >= ms(80) && first < ms(120), "{first:?}");
            seen.insert(first.as_micros());
            let second = backoff.next_delay();
            assert!(second >= ms(160) && second < ms(240), "{second:?}");
        }
        assert!(seen.len() > 150, "jitter spreads delays: {}", seen.len());
    }

    #[test]
    fn same_seed_same_delays() {
        let config = BackoffConfig::default();
        let a: Vec<_> = {
            let mut b = Backoff::with_seed(config, 42);
            (0..20).map(|_| b.next_delay()).collect()
        };
        let b: Vec<_> = {
            let mut b = Backoff::with_seed(config, 42);
            (0..20).map(|_| b.next_delay()).collect()
        };
        let c: Vec<_> = {
            let mut b = Backoff::with_seed(config, 43);
            (0..20).map(|_| b.next_delay()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn default_is_100ms_to_30s_and_caps_many_attempts() {
        let config = BackoffConfig::default();
        assert_eq!(config.base_delay(0), ms(100));
        assert_eq!(config.base_delay(8), Duration::from_secs(25) + ms(600));
        assert_eq!(config.base_delay(9), Duration::from_secs(30));
        assert_eq!(config.base_delay(u32::MAX), Duration::from_secs(30));
        let mut backoff = Backoff::with_seed(config, 9);
        for _ in 0..10_000 {
            assert!(backoff.next_delay() <= Duration::from_secs(36));
        }
    }

    #[test]
    fn odd_settings_are_tamed() {
        let config = BackoffConfig::new(ms(50), ms(10))
            .with_multiplier(f64::NAN)
            .with_jitter(7.0);
        assert_eq!(config.max, ms(50));
        assert_eq!(config.multiplier, 2.0);
        assert_eq!(config.jitter, 1.0);
        let config = BackoffConfig::new(ms(50), ms(500)).with_multiplier(0.5);
        assert_eq!(config.base_delay(3), ms(50));
    }
}
