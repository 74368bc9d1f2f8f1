//! Points in time as stored (microseconds since the Unix epoch, UTC) and as DRF writes and
//! reads them (`2026-04-20T08:47:25.123456Z`). The type itself is the query vocabulary's
//! (`query::time`), so filters can compare against it; what it means to the directory is here.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use std::sync::OnceLock;

pub use crate::query::time::Timestamp;

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// This time plus `seconds`.
    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// As a chrono UTC date-time (clamped to chrono's range).
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// DRF's rendering: ISO 8601 in UTC with `Z`, microseconds only when non-zero.
    pub fn to_drf(self) -> String {
        let dt = self.to_datetime();
        let micros = self.0.rem_euclid(1_000_000);
        if !(0..=9999).contains(&dt.year()) {
            return if micros == 0 {
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            };
        }
        // Written digit by digit: answers render thousands of these, and strftime parses its
        // pattern on every call.
        let mut out = String::with_capacity(27);
        push_digits(&mut out, dt.year() as u32, 4);
        out.push('-');
        push_digits(&mut out, dt.month(), 2);
        out.push('-');
        push_digits(&mut out, dt.day(), 2);
        out.push('T');
        push_digits(&mut out, dt.hour(), 2);
        out.push(':');
        push_digits(&mut out, dt.minute(), 2);
        out.push(':');
        push_digits(&mut out, dt.second(), 2);
        if micros != 0 {
            out.push('.');
            push_digits(&mut out, micros as u32, 6);
        }
        out.push('Z');
        out
    }

    /// Python's `str(datetime)` with a UTC offset, as authentik prints in some messages.
    pub fn to_python_str(self) -> String {
        let dt = self.to_datetime();
        if self.0.rem_euclid(1_000_000) == 0 {
            dt.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
        } else {
            dt.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
        }
    }

    /// Parses Django's `parse_datetime` formats: `YYYY-MM-DD[T ]hh:mm[:ss[.ffffff]][Z|±HH[:MM]]`,
    /// a date alone meaning midnight; no offset means UTC.
    pub fn parse(input: &str) -> Option<Timestamp> {
        static RE: OnceLock<regex::Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            regex::Regex::new(
                r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d*)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$",
            )
            .expect("static regex")
        });
        let caps = re.captures(input.trim())?;
        let num = |i: usize| -> Option<u32> {
            caps.get(i)
                .map(|m| m.as_str().parse().ok())
                .unwrap_or(Some(0))
        };
        let year: i32 = caps.get(1)?.as_str().parse().ok()?;
        let date = NaiveDate::from_ymd_opt(year, num(2)?, num(3)?)?;
        let micros = match caps.get(7) {
            Some(m) => {
                let digits = m.as_str();
                let value: u32 = digits.parse().ok()?;
                value * 10u32.pow(6 - digits.len() as u32)
            }
            None => 0,
        };
        let time = NaiveTime::from_hms_micro_opt(num(4)?, num(5)?, num(6)?, micros)?;
        let naive = NaiveDateTime::new(date, time);
        let offset_seconds: i64 = match caps.get(8).map(|m| m.as_str()) {
            None | Some("Z") => 0,
            Some(tz) => {
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                let digits: String = tz[1..].chars().filter(|c| c.is_ascii_digit()).collect();
                let hours: i64 = digits.get(0..2)?.parse().ok()?;
                let minutes: i64 = digits
                    .get(2..4)
                    .map(|m| m.parse().unwrap_or(0))
                    .unwrap_or(0);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                sign * (hours * 3600 + minutes * 60)
            }
        };
        let utc = Timestamp(naive.and_utc().timestamp_micros() - offset_seconds * 1_000_000);
        // Python's datetime (and so every client) only knows years 1–9999.
        let year = chrono::Datelike::year(&utc.to_datetime());
        (1..=9999).contains(&year).then_some(utc)
    }
}

/// Appends `value` as exactly `width` decimal digits (zero-padded; `value` fits by contract).
fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + ((value / divisor) % 10) as u8));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_drf() {
        let t = Timestamp::parse("2026-11-22T15:19:30.263387Z").expect("parses");
        assert_eq!(t.to_drf(), "2026-11-22T15:19:30.263387Z");
        let t = Timestamp::parse("2026-11-22T15:19:30Z").expect("parses");
        assert_eq!(t.to_drf(), "2026-11-22T15:19:30Z");
    }

    #[test]
    fn renders_like_strftime_across_the_range() {
        let strftime = |t: Timestamp| {
            let dt = t.to_datetime();
            if t.0.rem_euclid(1_000_000) == 0 {
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            }
        };
        let mut micros: i64 = -62_135_596_800_000_000; // 0001-01-01
        while micros < 253_402_300_799_000_000 {
            // 9999-12-31
            for t in [micros, micros + 1, micros + 999_999, micros + 7_000_000] {
                assert_eq!(Timestamp(t).to_drf(), strftime(Timestamp(t)));
            }
            micros += 3_333_333_333_337;
        }
        assert_eq!(Timestamp(0).to_drf(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(-1).to_drf(), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parses_offsets_and_short_forms() {
        let a = Timestamp::parse("2026-01-01T02:00+02:00").expect("parses");
        let b = Timestamp::parse("2026-01-01T00:00:00Z").expect("parses");
        assert_eq!(a, b);
        assert_eq!(Timestamp::parse("2026-01-01"), Some(b));
        assert_eq!(
            Timestamp::parse("2026-01-01T00:00:00.5Z").map(|t| t.0 - b.0),
            Some(500_000)
        );
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::parse("2026-13-01T00:00Z").is_none());
    }
}
