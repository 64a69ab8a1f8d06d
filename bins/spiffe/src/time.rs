//! RFC 3339 timestamps for `--at` and for printing validity periods: the command line's messages
//! around [`spiffe_core::time`].

use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::time::{self, TimeError};

/// Parses an RFC 3339 timestamp (`2026-01-02T03:04:05Z`, `…T03:04:05.5+01:00`); fractions of a
/// second are dropped. Times before 1970 are refused.
pub(crate) fn parse_rfc3339(s: &str) -> Result<UnixTime, String> {
    time::parse_rfc3339(s).map_err(|e| match e {
        TimeError::BeforeEpoch => format!("`{s}` is before 1970"),
        _ => format!("`{s}` is not an RFC 3339 time such as 2026-01-02T03:04:05Z"),
    })
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_rfc3339(secs: u64) -> String {
    time::format_rfc3339(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (s, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2026-11-23T00:00:00Z", 1_795_392_000),
        ] {
            assert_eq!(parse_rfc3339(s).map(|t| t.as_secs()), Ok(secs), "{s}");
            assert_eq!(format_rfc3339(secs), s);
        }
        assert_eq!(
            parse_rfc3339("2026-11-23T01:00:00.250+01:00").map(|t| t.as_secs()),
            Ok(1_795_392_000)
        );
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-23T00:00:00",
            "1969-12-31T23:59:59Z",
            "2026-11-23T00:00:00+1:00",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
    }
}
