//! Go's default formats for the CLI's output: `time.Time` (`2006-01-02 15:04:05 +0000 UTC`).

use spiffe_core::pki_types::UnixTime;

/// `t` as Go prints a UTC `time.Time` with `%v`.
pub(crate) fn go_time(t: UnixTime) -> String {
    let secs = t.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_go() {
        let t = UnixTime::since_unix_epoch(Duration::from_secs(1_514_764_800));
        assert_eq!(go_time(t), "2018-01-01 00:00:00 +0000 UTC");
        let t = UnixTime::since_unix_epoch(Duration::from_secs(951_825_661));
        assert_eq!(go_time(t), "2000-02-29 12:01:01 +0000 UTC");
    }
}
