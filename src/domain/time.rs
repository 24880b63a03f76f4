//! Timestamps: kept as microseconds since the epoch, shown as `YYYY-MM-DD HH:MM:SS` UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Microseconds since the Unix epoch, UTC.
pub(crate) type Micros = i64;

/// The current time in microseconds.
pub(crate) fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

/// Renders a stored time as the API shows it, to the second.
pub(crate) fn format_micros(t: Micros) -> String {
    let mut out = Vec::with_capacity(19);
    write_micros(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `YYYY-MM-DD HH:MM:SS` (UTC) for a stored time; nothing for a time
/// out of range. Written digit by digit, the date from the day number by
/// integer arithmetic (listings render three per image; chrono's calendar
/// cost more than the rest of the field): chrono only for years outside
/// 0-9999.
pub(crate) fn write_micros(out: &mut Vec<u8>, t: Micros) {
    let secs = t.div_euclid(1_000_000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil(days);
    if !(0..=9999).contains(&year) {
        if let Some(dt) = DateTime::<Utc>::from_timestamp_micros(t) {
            out.extend_from_slice(dt.format("%Y-%m-%d %H:%M:%S").to_string().as_bytes());
        }
        return;
    }
    let two = |out: &mut Vec<u8>, n: i64| {
        out.push(b'0' + (n / 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b' ');
    two(out, of_day / 3600);
    out.push(b':');
    two(out, of_day / 60 % 60);
    out.push(b':');
    two(out, of_day % 60);
}

/// The proleptic Gregorian (year, month, day) of a day counted from
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a `changes-since` value: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (UTC),
/// or ISO 8601 with an optional fraction and zone. `None` if it is none of these.
pub(crate) fn parse_since(s: &str) -> Option<Micros> {
    let s = s.trim();
    if let Some(t) = parse_zoned(s) {
        return Some(t);
    }
    // A `+` zone sent unencoded in a query string arrives as a space.
    // (`get` rather than indexing: byte 19 may fall inside a character.)
    if let Some(tail) = s.get(19..) {
        if let Some(pos) = tail.rfind(' ') {
            let mut fixed = s.to_string();
            fixed.replace_range(19 + pos..20 + pos, "+");
            if let Some(t) = parse_zoned(&fixed) {
                return Some(t);
            }
        }
    }
    None
}

fn parse_zoned(s: &str) -> Option<Micros> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_micros());
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    if let Some(naive) = s.strip_suffix('Z') {
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
                return Some(dt.and_utc().timestamp_micros());
            }
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt.and_utc().timestamp_micros());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_times_are_chronos_to_the_second() {
        let chrono_of = |t: Micros| {
            DateTime::<Utc>::from_timestamp_micros(t)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        };
        let mut t: i64 = -62_167_219_200_000_000 - 86_400_000_000 * 3;
        // Every ~3.7 days from just before year 0 to past 9999, and around
        // each second of a day's edges.
        while t < 253_402_300_800_000_000 + 86_400_000_000 * 3 {
            for dt in [-1_000_001, -1, 0, 1, 999_999] {
                assert_eq!(format_micros(t + dt), chrono_of(t + dt), "{}", t + dt);
            }
            t += 321_234_567_891;
        }
        for t in [
            i64::MIN,
            i64::MAX,
            0,
            -1,
            951_782_400_000_000,
            4_107_542_400_000_000,
        ] {
            assert_eq!(format_micros(t), chrono_of(t), "{t}");
        }
    }

    #[test]
    fn formats_to_the_second() {
        assert_eq!(format_micros(1_364_566_474_999_999), "2013-03-29 14:14:34");
        assert_eq!(format_micros(0), "1970-01-01 00:00:00");
        assert_eq!(format_micros(-1), "1969-12-31 23:59:59");
        assert_eq!(
            format_micros(253_402_300_799_000_000),
            "9999-12-31 23:59:59"
        );
    }

    #[test]
    fn parses_every_documented_form() {
        let base = 1_364_566_474_000_000;
        assert_eq!(parse_since("2013-03-29 14:14:34"), Some(base));
        assert_eq!(parse_since("2013-03-29T14:14:34"), Some(base));
        assert_eq!(parse_since("2013-03-29T14:14:34Z"), Some(base));
        assert_eq!(parse_since("2013-03-29T14:14:34.5Z"), Some(base + 500_000));
        assert_eq!(parse_since("2013-03-29T16:14:34+02:00"), Some(base));
        assert_eq!(parse_since("2013-03-29T16:14:34+0200"), Some(base));
        assert_eq!(parse_since("2013-03-29T16:14:34 02:00"), Some(base));
        assert_eq!(
            parse_since("2013-03-29"),
            Some(base - 14 * 3_600_000_000 - 14 * 60_000_000 - 34_000_000)
        );
        assert_eq!(parse_since("yesterday"), None);
        assert_eq!(parse_since("2013-03-29 14:14:3\u{e9} 02:00"), None);
        assert_eq!(parse_since("2013-13-29"), None);
        assert_eq!(parse_since(""), None);
    }
}
