//! RFC 5280 §4.1.2.5 certificate times: `UTCTime` (`YYMMDDHHMMSSZ`) and `GeneralizedTime`
//! (`YYYYMMDDHHMMSSZ`), both in the strict DER profile (UTC, seconds, no fractions). The
//! calendar arithmetic is [`CivilTime`]'s.

use crate::der::{tag, DerError, Reader};
use crate::time::CivilTime;

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

/// Converts `MMDDHHMMSS` of `year` to Unix seconds, checking every field's range (years
/// before 1970 are not representable as `UnixTime`).
fn seconds(year: u64, mmddhhmmss: &[u8]) -> Result<u64, DerError> {
    let field = |i: usize| two_digits(mmddhhmmss[i], mmddhhmmss[i + 1]).map(|v| v as u8);
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    CivilTime::new(year, month, day, hour, minute, second)
        .map(|civil| civil.to_unix().as_secs())
        .map_err(|_| DerError::InvalidValue)
}

fn two_digits(a: u8, b: u8) -> Result<u64, DerError> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Ok(u64::from(a - b'0') * 10 + u64::from(b - b'0'))
    } else {
        Err(DerError::InvalidValue)
    }
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
