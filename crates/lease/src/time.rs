//! UTC calendar conversions for the lease file's dates, without a time crate.
//!
//! ISC writes times as `W YYYY/MM/DD HH:MM:SS;` in UTC, where W is the day of
//! the week (0 = Sunday), or `never;` for the infinite time
//! (`print_time`, `common/print.c`).

use crate::{Time, INFINITE};

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The date `(year, month 1-12, day 1-31)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are range-limited by construction above.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Number of days in a month of a year.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A UTC date and time broken down the way the lease file writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Day of the week, 0 = Sunday (strftime `%w`).
    pub weekday: u32,
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcTime {
    pub fn from_time(t: Time) -> Self {
        let secs = i64::try_from(t).unwrap_or(i64::MAX);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (4).
        let weekday = u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
        let part = |v: i64| u32::try_from(v).unwrap_or(0);
        UtcTime {
            weekday,
            year,
            month,
            day,
            hour: part(rem / 3600),
            minute: part(rem / 60 % 60),
            second: part(rem % 60),
        }
    }
}

/// Append a time as ISC's `print_time` does in UTC mode, semicolon included:
/// `3 2026/11/22 01:29:05;`, or `never;` for [`INFINITE`] (and anything
/// beyond it, which ISC cannot represent).
pub fn write_time(t: Time, out: &mut String) {
    use std::fmt::Write;
    if t >= INFINITE {
        out.push_str("never;");
        return;
    }
    let u = UtcTime::from_time(t);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{} {:04}/{:02}/{:02} {:02}:{:02}:{:02};",
        u.weekday, u.year, u.month, u.day, u.hour, u.minute, u.second
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let mut s = String::new();
        write_time(1_795_310_945, &mut s);
        assert_eq!(s, "0 2026/11/22 01:29:05;");
        s.clear();
        write_time(0, &mut s);
        assert_eq!(s, "4 1970/01/01 00:00:00;");
        s.clear();
        write_time(INFINITE, &mut s);
        assert_eq!(s, "never;");
        s.clear();
        write_time(INFINITE - 1, &mut s);
        assert_eq!(s, "2 2038/01/19 03:14:06;");
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for d in (-800_000..800_000).step_by(97) {
            let (y, m, dd) = civil_from_days(d);
            assert!(dd >= 1 && dd <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
