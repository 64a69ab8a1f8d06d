//! RFC 5280 §4.1.2.5 certificate times: `UTCTime` (`YYMMDDHHMMSSZ`) and `GeneralizedTime`
//! (`YYYYMMDDHHMMSSZ`), both in the strict DER profile (UTC, seconds, no fractions).

use crate::der::{tag, DerError, Reader};

/// Reads one `Time` (either choice) and returns seconds since the Unix epoch.
pub(crate) fn read_time(reader: &mut Reader<'_>) -> Result<u64, DerError> {
    match reader.peek_tag() {
        Some(tag::UTC_TIME) => parse_utc_time(reader.read(tag::UTC_TIME)?),
        Some(tag::GENERALIZED_TIME) => parse_generalized_time(reader.read(tag::GENERALIZED_TIME)?),
        Some(_) => Err(DerError::UnexpectedTag),
        None => Err(DerError::Truncated),
    }
}

/// `YYMMDDHHMMSSZ`; years 50..99 are 1950..1999 (RFC 5280 §4.1.2.5.1).
fn parse_utc_time(value: &[u8]) -> Result<u64, DerError> {
    let [y1, y2, rest @ .., b'Z'] = value else {
        return Err(DerError::InvalidValue);
    };
    if rest.len() != 10 {
        return Err(DerError::InvalidValue);
    }
    let yy = two_digits(*y1, *y2)?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    seconds(year, rest)
}

/// `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2: no fractional seconds, always Zulu).
fn parse_generalized_time(value: &[u8]) -> Result<u64, DerError> {
    let [y1, y2, y3, y4, rest @ .., b'Z'] = value else {
        return Err(DerError::InvalidValue);
    };
    if rest.len() != 10 {
        return Err(DerError::InvalidValue);
    }
    let year = two_digits(*y1, *y2)? * 100 + two_digits(*y3, *y4)?;
    seconds(year, rest)
}

/// Converts `MMDDHHMMSS` of `year` to Unix seconds, checking every field's range.
fn seconds(year: u64, mmddhhmmss: &[u8]) -> Result<u64, DerError> {
    let field = |i: usize| two_digits(mmddhhmmss[i], mmddhhmmss[i + 1]);
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if year < 1970 {
        return Err(DerError::InvalidValue); // before the epoch: not representable as UnixTime
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(DerError::InvalidValue);
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(DerError::InvalidValue);
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn two_digits(a: u8, b: u8) -> Result<u64, DerError> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Ok(u64::from(a - b'0') * 10 + u64::from(b - b'0'))
    } else {
        Err(DerError::InvalidValue)
    }
}

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date with `year >= 1970`.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Howard Hinnant's algorithm, restricted to non-negative years.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Result<u64, DerError> {
        parse_utc_time(s.as_bytes())
    }

    fn gen(s: &str) -> Result<u64, DerError> {
        parse_generalized_time(s.as_bytes())
    }

    #[test]
    fn known_instants() {
        assert_eq!(utc("700101000000Z"), Ok(0));
        assert_eq!(utc("000229120000Z"), Ok(951_825_600));
        assert_eq!(gen("20500101000000Z"), Ok(2_524_608_000));
        assert_eq!(utc("491231235959Z"), Ok(2_524_607_999));
        assert_eq!(gen("99991231235959Z"), Ok(253_402_300_799));
    }

    #[test]
    fn strict_formats() {
        for bad in [
            "7001010000Z",  // no seconds
            "700101000000", // no Z
            "700101000000+0100",
            "701301000000Z", // month 13
            "700132000000Z", // day 32
            "010229000000Z", // 2001 is not a leap year
            "700101240000Z", // hour 24
            "700101006000Z", // minute 60
            "700101000060Z", // second 60
            "7001010000 0Z",
        ] {
            assert!(utc(bad).is_err(), "{bad}");
        }
        for bad in ["20500101000000.5Z", "2050010100000Z", "19690101000000Z"] {
            assert!(gen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_either_choice() {
        let mut r = Reader::new(b"\x17\x0d700101000001Z\x18\x0f19700101000002Z");
        assert_eq!(read_time(&mut r), Ok(1));
        assert_eq!(read_time(&mut r), Ok(2));
        assert!(r.is_empty());
        assert_eq!(
            read_time(&mut Reader::new(b"\x04\x00")),
            Err(DerError::UnexpectedTag)
        );
    }
}
