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
/// out of range. Written digit by digit: listings render three per image.
pub(crate) fn write_micros(out: &mut Vec<u8>, t: Micros) {
    use chrono::{Datelike, Timelike};
    let Some(dt) = DateTime::<Utc>::from_timestamp_micros(t) else {
        return;
    };
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(dt.format("%Y-%m-%d %H:%M:%S").to_string().as_bytes());
        return;
    }
    let two = |out: &mut Vec<u8>, n: u32| {
        out.push(b'0' + (n / 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    let y = year as u32;
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, dt.month());
    out.push(b'-');
    two(out, dt.day());
    out.push(b' ');
    two(out, dt.hour());
    out.push(b':');
    two(out, dt.minute());
    out.push(b':');
    two(out, dt.second());
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
