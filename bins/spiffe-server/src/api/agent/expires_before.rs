//! The `by_expires_before` filter of `ListAgents` and `CountAgents`: SPIRE reads it with Go's
//! layout `2006-01-02 15:04:05 -0700 -07` (SPIRE's CLI documents that format for
//! `-expiresBefore`), so that is the format read here: date, time, numeric offset, then an
//! optional zone token (`-07`, or a name as `time.Time.String()` prints, e.g. `UTC`), which is
//! not interpreted: the numeric offset decides.

use spiffe_core::pki_types::UnixTime;

/// Why a `by_expires_before` value was refused (the value is not echoed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("by_expires_before is not a time of the form \"2006-01-02 15:04:05 -0700 -07\"")]
pub(crate) struct ExpiresBeforeError;

/// Parses `YYYY-MM-DD HH:MM:SS ±hhmm[ ZONE]` into an instant.
pub(crate) fn parse(text: &str) -> Result<UnixTime, ExpiresBeforeError> {
    let mut parts = text.split(' ');
    let (Some(date), Some(time), Some(offset)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ExpiresBeforeError);
    };
    // At most a zone abbreviation follows.
    if parts.next().is_some_and(str::is_empty) || parts.next().is_some() {
        return Err(ExpiresBeforeError);
    }
    let [year, month, day] = fields::<3>(date, '-', &[4, 2, 2])?;
    let [hour, minute, second] = fields::<3>(time, ':', &[2, 2, 2])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(ExpiresBeforeError);
    }
    let (sign, digits) = match offset.as_bytes().first() {
        Some(b'+') => (1, &offset[1..]),
        Some(b'-') => (-1, &offset[1..]),
        _ => return Err(ExpiresBeforeError),
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExpiresBeforeError);
    }
    let offset_hours: i64 = digits[..2].parse().map_err(|_| ExpiresBeforeError)?;
    let offset_minutes: i64 = digits[2..].parse().map_err(|_| ExpiresBeforeError)?;
    if offset_minutes > 59 {
        return Err(ExpiresBeforeError);
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - sign * (offset_hours * 3600 + offset_minutes * 60);
    let secs = u64::try_from(utc).map_err(|_| ExpiresBeforeError)?;
    Ok(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        secs,
    )))
}

/// `N` decimal fields of the given widths separated by `sep`.
fn fields<const N: usize>(
    text: &str,
    sep: char,
    widths: &[usize; N],
) -> Result<[i64; N], ExpiresBeforeError> {
    let mut out = [0i64; N];
    let mut parts = text.split(sep);
    for (slot, width) in out.iter_mut().zip(widths) {
        let part = parts.next().ok_or(ExpiresBeforeError)?;
        if part.len() != *width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ExpiresBeforeError);
        }
        *slot = part.parse().map_err(|_| ExpiresBeforeError)?;
    }
    if parts.next().is_some() {
        return Err(ExpiresBeforeError);
    }
    Ok(out)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_gos_time_string() {
        // `date -u -d '2026-12-03 15:04:05' +%s` = 1796310245
        assert_eq!(
            parse("2026-12-03 15:04:05 +0000 UTC").unwrap().as_secs(),
            1_796_310_245
        );
        assert_eq!(
            parse("2026-12-03 16:04:05 +0100 CET").unwrap().as_secs(),
            1_796_310_245
        );
        assert_eq!(
            parse("2026-12-03 10:04:05 -0500").unwrap().as_secs(),
            1_796_310_245
        );
        assert_eq!(
            parse("2026-12-03 10:04:05 -0500 -05").unwrap().as_secs(),
            1_796_310_245
        );
        assert_eq!(parse("1970-01-01 00:00:00 +0000 UTC").unwrap().as_secs(), 0);
        assert_eq!(
            parse("2024-02-29 00:00:00 +0000 UTC").unwrap().as_secs(),
            1_709_164_800
        );
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "2026-12-03",
            "2026-12-03T15:04:05Z",
            "2026-12-03 15:04:05",
            "2026-13-03 15:04:05 +0000 UTC",
            "2025-02-29 15:04:05 +0000 UTC",
            "2026-12-03 24:00:00 +0000 UTC",
            "2026-12-03 15:04:05 0000 UTC",
            "2026-12-03 15:04:05 +00:00 UTC",
            "2026-12-03 15:04:05 +0000 UTC extra",
            "1969-12-31 23:59:59 +0000 UTC",
        ] {
            assert_eq!(parse(bad), Err(ExpiresBeforeError), "{bad:?}");
        }
    }
}
