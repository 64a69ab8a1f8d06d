//! When to prepare and activate the next authority, and how long SVIDs may live (SPIRE's
//! fractions, `spec/SPIRE-REFERENCE.md` §2.3).

use std::time::Duration;

const DAY: u64 = 86_400;
/// Prepare the next authority at 1/2 of the current one's lifetime ...
const PREPARATION_DIVISOR: u64 = 2;
/// ... but no earlier than 30 days before it expires.
const PREPARATION_CAP: u64 = 30 * DAY;
/// Activate the next authority at 5/6 of the current one's lifetime ...
const ACTIVATION_DIVISOR: u64 = 6;
/// ... but no earlier than 7 days before it expires.
const ACTIVATION_CAP: u64 = 7 * DAY;
/// An SVID lives at most 1/6 of the CA's lifetime ...
const MAX_SVID_TTL_DIVISOR: u32 = 6;
/// ... and at most 7 days.
const MAX_SVID_TTL_CAP: Duration = Duration::from_secs(7 * DAY);

/// Whether the authority valid over `[not_before, not_after]` is far enough into its life at
/// `now` (seconds) that its successor should be prepared:
/// `now > not_after - min(lifetime / 2, 30 d)`.
pub(crate) fn should_prepare(not_before: u64, not_after: u64, now: u64) -> bool {
    past_threshold(
        not_before,
        not_after,
        now,
        PREPARATION_DIVISOR,
        PREPARATION_CAP,
    )
}

/// Whether the successor of the authority valid over `[not_before, not_after]` should be
/// activated at `now`: `now > not_after - min(lifetime / 6, 7 d)`.
pub(crate) fn should_activate(not_before: u64, not_after: u64, now: u64) -> bool {
    past_threshold(
        not_before,
        not_after,
        now,
        ACTIVATION_DIVISOR,
        ACTIVATION_CAP,
    )
}

fn past_threshold(not_before: u64, not_after: u64, now: u64, divisor: u64, cap: u64) -> bool {
    let lifetime = not_after.saturating_sub(not_before);
    let before_expiry = (lifetime / divisor).min(cap);
    now > not_after.saturating_sub(before_expiry)
}

/// The longest SVID lifetime an authority with lifetime `ca_ttl` should issue, so that SVIDs
/// signed just before a rotation expire no later than their CA: `min(ca_ttl / 6, 7 d)`.
pub fn max_svid_ttl(ca_ttl: Duration) -> Duration {
    (ca_ttl / MAX_SVID_TTL_DIVISOR).min(MAX_SVID_TTL_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_of_a_day() {
        // 24 h CA from t=0: prepare after 12 h, activate after 20 h.
        let end = DAY;
        assert!(!should_prepare(0, end, 12 * 3600));
        assert!(should_prepare(0, end, 12 * 3600 + 1));
        assert!(!should_activate(0, end, 20 * 3600));
        assert!(should_activate(0, end, 20 * 3600 + 1));
    }

    #[test]
    fn caps_for_long_lifetimes() {
        // 1 year CA: prepare 30 d before expiry, activate 7 d before.
        let end = 365 * DAY;
        assert!(!should_prepare(0, end, end - 30 * DAY));
        assert!(should_prepare(0, end, end - 30 * DAY + 1));
        assert!(!should_activate(0, end, end - 7 * DAY));
        assert!(should_activate(0, end, end - 7 * DAY + 1));
    }

    #[test]
    fn max_ttl() {
        assert_eq!(
            max_svid_ttl(Duration::from_secs(DAY)),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(
            max_svid_ttl(Duration::from_secs(365 * DAY)),
            Duration::from_secs(7 * DAY)
        );
    }
}
