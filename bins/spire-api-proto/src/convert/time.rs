//! SPIRE's whole-second numbers, where 0 means "unset", to and from `Option<Duration>` and
//! `Option<UnixTime>`.
//!
//! Because 0 means unset, a library value that would encode as 0 (a zero TTL, an instant at
//! the epoch) is refused rather than silently turned into "unset".

use std::time::Duration;

use spiffe_core::pki_types::UnixTime;

use super::{ConvertError, FieldPath};

/// An `int32` TTL in seconds: 0 is the server's default (`None`); negative is an error.
pub(super) fn ttl_from_secs(
    secs: i32,
    field: &'static str,
) -> Result<Option<Duration>, ConvertError> {
    match u64::try_from(secs) {
        Ok(0) => Ok(None),
        Ok(secs) => Ok(Some(Duration::from_secs(secs))),
        Err(_) => Err(out_of_range(field)),
    }
}

/// A TTL as `int32` seconds: `None` is 0.
pub(super) fn ttl_to_secs(ttl: Option<Duration>, field: &'static str) -> Result<i32, ConvertError> {
    let Some(ttl) = ttl else { return Ok(0) };
    if ttl.subsec_nanos() != 0 {
        return Err(ConvertError::FractionalSeconds {
            field: FieldPath::new(field),
        });
    }
    match i32::try_from(ttl.as_secs()) {
        Ok(0) | Err(_) => Err(out_of_range(field)),
        Ok(secs) => Ok(secs),
    }
}

/// An `int64` time in seconds since the epoch: 0 is unset; negative is an error.
pub(super) fn time_from_secs(
    secs: i64,
    field: &'static str,
) -> Result<Option<UnixTime>, ConvertError> {
    match u64::try_from(secs) {
        Ok(0) => Ok(None),
        Ok(secs) => Ok(Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))),
        Err(_) => Err(out_of_range(field)),
    }
}

/// A time as `int64` seconds since the epoch: `None` is 0.
pub(super) fn time_to_secs(
    time: Option<UnixTime>,
    field: &'static str,
) -> Result<i64, ConvertError> {
    let Some(time) = time else { return Ok(0) };
    match i64::try_from(time.as_secs()) {
        Ok(0) | Err(_) => Err(out_of_range(field)),
        Ok(secs) => Ok(secs),
    }
}

pub(super) fn out_of_range(field: &'static str) -> ConvertError {
    ConvertError::OutOfRange {
        field: FieldPath::new(field),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_unset_both_ways() {
        assert_eq!(ttl_from_secs(0, "ttl"), Ok(None));
        assert_eq!(ttl_to_secs(None, "ttl"), Ok(0));
        assert_eq!(time_from_secs(0, "at"), Ok(None));
        assert_eq!(time_to_secs(None, "at"), Ok(0));
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(
            ttl_from_secs(3600, "ttl"),
            Ok(Some(Duration::from_secs(3600)))
        );
        assert_eq!(
            ttl_to_secs(Some(Duration::from_secs(3600)), "ttl"),
            Ok(3600)
        );
        assert_eq!(
            ttl_to_secs(Some(Duration::from_secs(i32::MAX as u64)), "ttl"),
            Ok(i32::MAX)
        );
        let at = time_from_secs(1_700_000_000, "at").expect("in range");
        assert_eq!(at.map(|t| t.as_secs()), Some(1_700_000_000));
        assert_eq!(time_to_secs(at, "at"), Ok(1_700_000_000));
    }

    #[test]
    fn refuses_what_the_other_side_cannot_hold() {
        let range = |field| out_of_range(field);
        assert_eq!(
            ttl_from_secs(-1, "x509_svid_ttl").unwrap_err(),
            range("x509_svid_ttl")
        );
        assert_eq!(
            time_from_secs(-5, "expires_at").unwrap_err(),
            range("expires_at")
        );
        assert_eq!(
            ttl_to_secs(Some(Duration::ZERO), "ttl").unwrap_err(),
            range("ttl")
        );
        assert_eq!(
            ttl_to_secs(Some(Duration::from_secs(i32::MAX as u64 + 1)), "ttl").unwrap_err(),
            range("ttl")
        );
        assert_eq!(
            ttl_to_secs(Some(Duration::from_millis(1500)), "ttl").unwrap_err(),
            ConvertError::FractionalSeconds {
                field: FieldPath::new("ttl")
            }
        );
        let epoch = UnixTime::since_unix_epoch(Duration::ZERO);
        assert_eq!(time_to_secs(Some(epoch), "at").unwrap_err(), range("at"));
        let far = UnixTime::since_unix_epoch(Duration::from_secs(u64::MAX));
        assert_eq!(time_to_secs(Some(far), "at").unwrap_err(), range("at"));
    }
}
