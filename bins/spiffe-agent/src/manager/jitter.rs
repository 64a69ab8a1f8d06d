//! Randomness for spreading work in time: rotation deadlines and retry delays, so that
//! thousands of SVIDs or agents do not hit the server at the same instant.

use std::time::Duration;

use rustls_pki_types::UnixTime;

/// A uniform value in `[-1, 1]` from the system random generator (0 if it fails: no jitter is
/// better than no rotation).
pub(crate) fn unit() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.0;
    }
    // 53 random bits give a uniform double in [0, 1).
    let bits = u64::from_le_bytes(bytes) >> 11;
    let fraction = bits as f64 / (1u64 << 53) as f64;
    fraction * 2.0 - 1.0
}

/// `base` spread by ±`fraction` × `base`, with `unit` in `[-1, 1]` choosing where.
pub(crate) fn spread(base: Duration, fraction: f64, unit: f64) -> Duration {
    base.mul_f64((1.0 + fraction * unit.clamp(-1.0, 1.0)).max(0.0))
}

/// The relative jitter around an SVID's half-life (SPIRE: ±10%).
pub(crate) const ROTATION_JITTER: f64 = 0.10;

/// When an SVID valid `[not_before, not_after)` is rotated: at half its lifetime, moved by
/// ±[`ROTATION_JITTER`] of the half-life as `unit` in `[-1, 1]` says (so between 45% and 55%
/// of the lifetime).
pub(crate) fn rotation_time(not_before: UnixTime, not_after: UnixTime, unit: f64) -> UnixTime {
    let start = Duration::from_secs(not_before.as_secs());
    let lifetime = Duration::from_secs(not_after.as_secs().saturating_sub(not_before.as_secs()));
    let half = spread(lifetime / 2, ROTATION_JITTER, unit);
    UnixTime::since_unix_epoch(start + half)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    #[test]
    fn unit_stays_in_range_and_varies() {
        let values: Vec<f64> = (0..1000).map(|_| unit()).collect();
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(values.iter().any(|v| *v < -0.5) && values.iter().any(|v| *v > 0.5));
    }

    #[test]
    fn rotation_is_at_half_life_within_ten_percent() {
        // Lifetime 3600 s from t=1000: half-life 1800 s, ±180 s.
        assert_eq!(rotation_time(at(1000), at(4600), 0.0).as_secs(), 2800);
        assert_eq!(rotation_time(at(1000), at(4600), -1.0).as_secs(), 2620);
        assert_eq!(rotation_time(at(1000), at(4600), 1.0).as_secs(), 2980);
        // Out-of-range units are clamped.
        assert_eq!(rotation_time(at(1000), at(4600), 7.0).as_secs(), 2980);
    }
}
