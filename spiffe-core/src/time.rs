//! Calendar time: [`UnixTime`] to and from UTC calendar fields ([`CivilTime`]), and RFC 3339
//! timestamps (`2026-01-02T03:04:05Z`).
//!
//! One implementation of the proleptic Gregorian calendar for the workspace: the X.509 time
//! formats (read by this crate, written by a CA) and the command line's timestamps are built
//! on it. Times are whole seconds from 1970 on, like [`UnixTime`].
//!
//! ```
//! use spiffe_core::pki_types::UnixTime;
//! use spiffe_core::time::{format_rfc3339, parse_rfc3339, CivilTime};
//!
//! let t = parse_rfc3339("2024-02-29T12:34:56Z")?;
//! assert_eq!(t.as_secs(), 1_709_210_096);
//! assert_eq!(format_rfc3339(t), "2024-02-29T12:34:56Z");
//!
//! let civil = CivilTime::from_unix(t);
//! assert_eq!((civil.year(), civil.month(), civil.day()), (2024, 2, 29));
//! assert_eq!(CivilTime::new(2024, 2, 29, 12, 34, 56)?.to_unix(), t);
//! # Ok::<(), spiffe_core::time::TimeError>(())
//! ```

use std::fmt;
use std::time::Duration;

use rustls_pki_types::UnixTime;
use thiserror::Error;

const SECS_PER_DAY: u64 = 86_400;

/// A date and time of day in UTC, to the second, from 1970-01-01T00:00:00 on.
///
/// [`new`](Self::new) checks every field (no leap seconds), so a `CivilTime` always names one
/// instant; [`Display`](fmt::Display) writes it as RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilTime {
    year: u64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

/// Why a time was rejected. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text does not have the syntax of an RFC 3339 `date-time`.
    #[error("not an RFC 3339 date-time")]
    Malformed,
    /// A field is out of range (month 13, February 30, hour 24, ...).
    #[error("date or time field out of range")]
    OutOfRange,
    /// The time is before 1970-01-01T00:00:00Z, which [`UnixTime`] cannot represent.
    #[error("time before 1970")]
    BeforeEpoch,
}

// === impl CivilTime ===

impl CivilTime {
    /// The calendar time with these fields, each checked: `year >= 1970`, `month` 1–12, `day`
    /// within the month, `hour` 0–23, `minute` and `second` 0–59.
    ///
    /// Errors: [`TimeError::BeforeEpoch`] for a year before 1970, [`TimeError::OutOfRange`]
    /// for any other field out of range.
    pub fn new(
        year: u64,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, TimeError> {
        if year < 1970 {
            return Err(TimeError::BeforeEpoch);
        }
        if !valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59 {
            return Err(TimeError::OutOfRange);
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The calendar time of `time`.
    pub fn from_unix(time: UnixTime) -> Self {
        let secs = time.as_secs();
        let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
        let rem = secs % SECS_PER_DAY;
        Self {
            year,
            month,
            day,
            hour: (rem / 3_600) as u8,
            minute: (rem % 3_600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The instant this calendar time names.
    pub fn to_unix(&self) -> UnixTime {
        let days = days_from_civil(self.year as i64, self.month, self.day);
        let secs = days as u64 * SECS_PER_DAY
            + u64::from(self.hour) * 3_600
            + u64::from(self.minute) * 60
            + u64::from(self.second);
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    /// The year (1970 or later).
    pub fn year(&self) -> u64 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0–23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0–59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0–59.
    pub fn second(&self) -> u8 {
        self.second
    }
}

impl fmt::Display for CivilTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

// === RFC 3339 ===

/// Parses an RFC 3339 `date-time` (`2026-01-02T03:04:05Z`, `2026-01-02t03:04:05.5+01:00`; a
/// space may separate date and time). Fractions of a second are dropped and a leap second
/// (`:60`) counts as `:59`.
///
/// Errors: [`TimeError::Malformed`] for text of another shape, [`TimeError::OutOfRange`] for a
/// field out of range, [`TimeError::BeforeEpoch`] for an instant before 1970.
pub fn parse_rfc3339(text: &str) -> Result<UnixTime, TimeError> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(TimeError::Malformed);
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])? as u8, digits(&b[8..10])? as u8);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !valid_date(year, month, day) || hour > 23 || minute > 59 || second > 60 {
        return Err(TimeError::OutOfRange);
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return Err(TimeError::Malformed);
        }
        rest = &fraction[count..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return Err(TimeError::OutOfRange);
            }
            let offset = (h * 3_600 + m * 60) as i64;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return Err(TimeError::Malformed),
    };
    let secs = days_from_civil(year as i64, month, day) * SECS_PER_DAY as i64
        + (hour * 3_600 + minute * 60 + second.min(59)) as i64
        - offset;
    u64::try_from(secs)
        .map(|secs| UnixTime::since_unix_epoch(Duration::from_secs(secs)))
        .map_err(|_| TimeError::BeforeEpoch)
}

/// Formats `time` as RFC 3339 in UTC, to the second: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(time: UnixTime) -> String {
    CivilTime::from_unix(time).to_string()
}

// --- the calendar ---

/// The value of a run of ASCII digits.
fn digits(text: &[u8]) -> Result<u64, TimeError> {
    text.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + u64::from(c - b'0'))
        } else {
            Err(TimeError::Malformed)
        }
    })
}

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn valid_date(year: u64, month: u8, day: u8) -> bool {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`, for days >= 0).
fn civil_from_days(days: u64) -> (u64, u8, u8) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    #[test]
    fn civil_round_trips() {
        for (secs, fields) in [
            (0, (1970, 1, 1, 0, 0, 0)),
            (951_825_600, (2000, 2, 29, 12, 0, 0)),
            (2_524_607_999, (2049, 12, 31, 23, 59, 59)),
            (2_524_608_000, (2050, 1, 1, 0, 0, 0)),
            (253_402_300_799, (9999, 12, 31, 23, 59, 59)),
        ] {
            let (y, mo, d, h, mi, s) = fields;
            let civil = CivilTime::new(y, mo, d, h, mi, s).expect("valid");
            assert_eq!(CivilTime::from_unix(at(secs)), civil, "{secs}");
            assert_eq!(civil.to_unix().as_secs(), secs, "{civil}");
        }
        // Every day boundary over several leap cycles, including 2100 (not a leap year).
        for days in (0..60_000u64).step_by(7) {
            let t = at(days * SECS_PER_DAY + 43_210);
            assert_eq!(CivilTime::from_unix(t).to_unix(), t);
        }
    }

    #[test]
    fn new_checks_fields() {
        assert_eq!(
            CivilTime::new(1969, 12, 31, 0, 0, 0),
            Err(TimeError::BeforeEpoch)
        );
        for (y, mo, d, h, mi, s) in [
            (2026, 13, 1, 0, 0, 0),
            (2026, 0, 1, 0, 0, 0),
            (2026, 2, 29, 0, 0, 0),
            (2100, 2, 29, 0, 0, 0),
            (2026, 4, 31, 0, 0, 0),
            (2026, 1, 0, 0, 0, 0),
            (2026, 1, 1, 24, 0, 0),
            (2026, 1, 1, 0, 60, 0),
            (2026, 1, 1, 0, 0, 60),
        ] {
            assert_eq!(
                CivilTime::new(y, mo, d, h, mi, s),
                Err(TimeError::OutOfRange),
                "{y}-{mo}-{d} {h}:{mi}:{s}"
            );
        }
        assert!(CivilTime::new(2000, 2, 29, 0, 0, 0).is_ok());
    }

    #[test]
    fn rfc3339_parse_and_format() {
        for (text, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2026-11-23T00:00:00Z", 1_795_392_000),
        ] {
            assert_eq!(parse_rfc3339(text).map(|t| t.as_secs()), Ok(secs), "{text}");
            assert_eq!(format_rfc3339(at(secs)), text);
        }
        for (text, secs) in [
            ("2026-11-23T01:00:00.250+01:00", 1_795_392_000),
            ("2026-11-22t23:30:00-00:30", 1_795_392_000),
            ("2026-11-23 00:00:00z", 1_795_392_000),
            ("2016-12-31T23:59:60Z", 1_483_228_799),
            // Before 1970 in its own offset, after in UTC.
            ("1969-12-31T23:30:00-01:00", 1_800),
        ] {
            assert_eq!(parse_rfc3339(text).map(|t| t.as_secs()), Ok(secs), "{text}");
        }
    }

    #[test]
    fn rfc3339_rejects() {
        for (text, error) in [
            ("", TimeError::Malformed),
            ("2026-11-23", TimeError::Malformed),
            ("2026-11-23T00:00:00", TimeError::Malformed),
            ("2026-11-23T00:00:00+1:00", TimeError::Malformed),
            ("2026-11-23T00:00:00++1:00", TimeError::Malformed),
            ("2026-11-23T00:00:00.Z", TimeError::Malformed),
            ("2026-11-2éT00:00:00Z", TimeError::Malformed),
            ("2026-13-01T00:00:00Z", TimeError::OutOfRange),
            ("2026-02-30T00:00:00Z", TimeError::OutOfRange),
            ("2026-11-23T00:00:00+24:00", TimeError::OutOfRange),
            ("1969-12-31T23:59:59Z", TimeError::BeforeEpoch),
            ("1970-01-01T00:30:00+01:00", TimeError::BeforeEpoch),
        ] {
            assert_eq!(parse_rfc3339(text), Err(error), "{text}");
        }
    }
}
