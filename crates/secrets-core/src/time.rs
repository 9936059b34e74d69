//! Timestamps as sops and go-yaml v3 see them.
//!
//! sops stores `lastmodified` as RFC 3339 text and YAML timestamps as Go
//! `time.Time` values, printed with `Time.MarshalText` (RFC 3339 with
//! nanoseconds, trailing zeros trimmed). This module parses the layouts Go's
//! `time.Parse` accepts for those uses and prints Go's text forms. The
//! calendar arithmetic is done by hand (proleptic Gregorian, days from the
//! civil date), so no date crate is needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant with the UTC offset it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    secs: i64,
    /// Nanoseconds within the second (`0..1_000_000_000`).
    nanos: u32,
    /// Offset from UTC in seconds (east positive).
    offset: i32,
}

impl Timestamp {
    /// The current time in UTC, with nanoseconds.
    pub fn now_utc() -> Timestamp {
        let (secs, nanos) = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            // A clock before 1970: count backwards.
            Err(e) => {
                let d = e.duration();
                let mut secs = -(d.as_secs() as i64);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                (secs, nanos)
            }
        };
        Timestamp {
            secs,
            nanos,
            offset: 0,
        }
    }

    /// The instant `secs` seconds after the Unix epoch, in UTC.
    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp {
            secs,
            nanos: 0,
            offset: 0,
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn nanoseconds(&self) -> u32 {
        self.nanos
    }

    /// The UTC offset in seconds.
    pub fn offset_seconds(&self) -> i32 {
        self.offset
    }

    /// Parses what Go's `time.Parse(time.RFC3339, s)` accepts:
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)`, two-digit fields except
    /// the hour, which Go's `15` reads from one or two digits.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let mut p = Cursor::new(s);
        let year = p.fixed(4)?;
        p.expect(b'-')?;
        let month = p.fixed(2)?;
        p.expect(b'-')?;
        let day = p.fixed(2)?;
        p.expect(b'T')?;
        let hour = p.short()?;
        p.expect(b':')?;
        let minute = p.fixed(2)?;
        p.expect(b':')?;
        let second = p.fixed(2)?;
        let nanos = p.fraction()?;
        let offset = p.zone()?;
        // Go's RFC 3339 parser rejects offsets past 23:59.
        if !p.at_end() || offset.unsigned_abs() >= 24 * 3600 || offset % 3600 / 60 >= 60 {
            return None;
        }
        build(year, month, day, hour, minute, second, nanos, offset)
    }

    /// Parses a plain YAML scalar the way go-yaml v3 resolves timestamps.
    ///
    /// go-yaml tries these Go layouts in order (resolve.go
    /// `allowedTimestampFormats`): `2006-1-2T15:4:5.999999999Z07:00`, the
    /// same with a lower-case `t`, `2006-1-2 15:4:5.999999999` (UTC), and
    /// `2006-1-2`. Month, day, hour, minute and second take one or two
    /// digits; the year exactly four.
    pub fn parse_yaml(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        // go-yaml's quick check: four digits and a dash.
        if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
            return None;
        }
        let mut p = Cursor::new(s);
        let year = p.fixed(4)?;
        p.expect(b'-')?;
        let month = p.short()?;
        p.expect(b'-')?;
        let day = p.short()?;
        if p.at_end() {
            return build(year, month, day, 0, 0, 0, 0, 0);
        }
        let sep = p.next()?;
        let zoned = match sep {
            b'T' | b't' => true,
            b' ' => {
                // Go's parser matches a run of spaces to a layout space.
                while p.peek() == Some(b' ') {
                    p.i += 1;
                }
                false
            }
            _ => return None,
        };
        let hour = p.short()?;
        p.expect(b':')?;
        let minute = p.short()?;
        p.expect(b':')?;
        let second = p.short()?;
        let nanos = p.fraction()?;
        let offset = if zoned { p.zone()? } else { 0 };
        if !p.at_end() {
            return None;
        }
        build(year, month, day, hour, minute, second, nanos, offset)
    }

    /// Go `Time.MarshalText` (`time.RFC3339Nano`): fraction with trailing
    /// zeros trimmed (none when zero), `Z` for a zero offset, else `±hh:mm`.
    pub fn to_go_text(&self) -> String {
        let mut out = self.format_base();
        if self.nanos != 0 {
            let digits = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        self.push_zone(&mut out);
        out
    }

    /// Go `t.Format(time.RFC3339)`: no fraction.
    pub fn to_rfc3339_seconds(&self) -> String {
        let mut out = self.format_base();
        self.push_zone(&mut out);
        out
    }

    /// `YYYY-MM-DDTHH:MM:SS` in local (offset) time.
    fn format_base(&self) -> String {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }

    fn push_zone(&self, out: &mut String) {
        if self.offset == 0 {
            out.push('Z');
            return;
        }
        let sign = if self.offset < 0 { '-' } else { '+' };
        let abs = self.offset.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
    }
}

/// Validates the fields as Go's `time.Parse` does and builds the instant.
#[allow(clippy::too_many_arguments)]
fn build(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: u32,
    offset: i32,
) -> Option<Timestamp> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(Timestamp {
        secs: local - i64::from(offset),
        nanos,
        offset,
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` for a count of days since 1970-01-01 (proleptic Gregorian).
pub fn date_from_days(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A byte cursor over the text being parsed.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.i == self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn digit(&mut self) -> Option<i64> {
        let c = self.peek()?;
        if c.is_ascii_digit() {
            self.i += 1;
            Some(i64::from(c - b'0'))
        } else {
            None
        }
    }

    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<i64> {
        let mut v = 0;
        for _ in 0..n {
            v = v * 10 + self.digit()?;
        }
        Some(v)
    }

    /// One or two digits (Go's non-padded layout fields).
    fn short(&mut self) -> Option<i64> {
        let first = self.digit()?;
        match self.digit() {
            Some(second) => Some(first * 10 + second),
            None => Some(first),
        }
    }

    /// An optional `.digits` or `,digits` fraction; digits past the ninth
    /// are dropped, as Go does.
    fn fraction(&mut self) -> Option<u32> {
        let has = matches!(self.peek(), Some(b'.' | b','))
            && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit);
        if !has {
            return Some(0);
        }
        self.i += 1;
        let mut nanos: u32 = 0;
        let mut count = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if count < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
                count += 1;
            }
            self.i += 1;
        }
        while count < 9 {
            nanos *= 10;
            count += 1;
        }
        Some(nanos)
    }

    /// `Z` or `±hh:mm`, as Go's `Z07:00` layout element.
    fn zone(&mut self) -> Option<i32> {
        match self.next()? {
            b'Z' => Some(0),
            sign @ (b'+' | b'-') => {
                let h = self.fixed(2)?;
                self.expect(b':')?;
                let m = self.fixed(2)?;
                if h > 24 || m > 60 {
                    return None;
                }
                let secs = (h * 3600 + m * 60) as i32;
                Some(if sign == b'-' { -secs } else { secs })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_forms() {
        let cases = [
            ("2024-01-02", "2024-01-02T00:00:00Z"),
            ("2024-1-2", "2024-01-02T00:00:00Z"),
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02 03:04:05", "2024-01-02T03:04:05Z"),
            ("2024-01-02 3:4:5.5", "2024-01-02T03:04:05.5Z"),
            ("2024-01-02   03:04:05", "2024-01-02T03:04:05Z"),
            (
                "2024-01-02T03:04:05.123456789+02:00",
                "2024-01-02T03:04:05.123456789+02:00",
            ),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            ("2024-01-02T03:04:05.500Z", "2024-01-02T03:04:05.5Z"),
            ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
            ("2024-02-29", "2024-02-29T00:00:00Z"),
            (
                "1960-06-30T23:59:59.1234567891Z",
                "1960-06-30T23:59:59.123456789Z",
            ),
        ];
        for (input, want) in cases {
            let ts = Timestamp::parse_yaml(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(ts.to_go_text(), want, "{input}");
        }
    }

    #[test]
    fn yaml_rejects() {
        for input in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05Z",
            "2024-01-02T03:04",
            "24-01-02",
            "2024-01-02x",
            "2024-001-02",
            "2024-01-02T25:00:00Z",
        ] {
            assert!(Timestamp::parse_yaml(input).is_none(), "{input}");
        }
    }

    #[test]
    fn rfc3339() {
        let ts = Timestamp::parse_rfc3339("2026-11-26T02:43:32Z").unwrap();
        assert_eq!(ts.to_rfc3339_seconds(), "2026-11-26T02:43:32Z");
        assert_eq!(ts.unix_seconds(), 1_795_661_012);
        let ts = Timestamp::parse_rfc3339("2024-01-02T03:04:05.25+05:30").unwrap();
        assert_eq!(ts.to_go_text(), "2024-01-02T03:04:05.25+05:30");
        assert_eq!(ts.to_rfc3339_seconds(), "2024-01-02T03:04:05+05:30");
        assert_eq!(ts.offset_seconds(), 19_800);
        assert!(Timestamp::parse_rfc3339("2024-1-02T03:04:05Z").is_none());
        assert!(Timestamp::parse_rfc3339("2024-01-02 03:04:05Z").is_none());
        assert!(Timestamp::parse_rfc3339("2024-01-02T03:04:05").is_none());
        assert!(Timestamp::parse_rfc3339("2024-01-02T03:04:05+24:00").is_none());
        assert!(Timestamp::parse_yaml("2024-01-02T03:04:05+24:00").is_some());
    }

    #[test]
    fn calendar_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let now = Timestamp::now_utc();
        let text = now.to_go_text();
        let back = Timestamp::parse_rfc3339(&text).unwrap();
        assert_eq!(back, now);
    }
}
