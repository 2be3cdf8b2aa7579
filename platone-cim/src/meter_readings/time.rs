//! `xs:dateTime` values as MeterReadings carry them, kept so that they write back unchanged.

use std::fmt::{self, Write as _};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use platone_model::Timestamp;

/// An `xs:dateTime` from a document: the instant with the offset the source gave, and enough
/// of its spelling (fraction digits, `Z` or `+00:00`) to write the same text back. Text that is
/// not an RFC 3339 date-time with an offset is kept as written, without an instant.
///
/// `Display` gives back the text as written; equality compares that text.
#[derive(Debug, Clone)]
pub struct CimDateTime {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)` with at most 9 fraction digits.
    Canonical {
        time: Timestamp,
        fraction_digits: u8,
        zulu: bool,
    },
    /// Another spelling chrono accepts as RFC 3339 (boxed: rare, and it keeps the common
    /// case small).
    Other(Box<(Timestamp, Box<str>)>),
    /// Not a date-time with an offset.
    Invalid(Box<str>),
}

fn digits(b: &[u8], from: usize, len: usize) -> Option<u32> {
    let mut n = 0u32;
    for &c in b.get(from..from + len)? {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn expect(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

/// The last calendar date read, so that the many timestamps of one day share the work.
#[derive(Debug, Default)]
pub(crate) struct DateCache {
    key: [u8; 10],
    date: Option<NaiveDate>,
}

fn parse_canonical(text: &str, cache: &mut DateCache) -> Option<Repr> {
    let b = text.as_bytes();
    let key = b.get(..10)?;
    let date = match cache.date {
        Some(date) if key == cache.key => date,
        _ => {
            let year = digits(b, 0, 4)?;
            expect(b, 4, b'-')?;
            let month = digits(b, 5, 2)?;
            expect(b, 7, b'-')?;
            let day = digits(b, 8, 2)?;
            let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
            cache.key.copy_from_slice(key);
            cache.date = Some(date);
            date
        }
    };
    expect(b, 10, b'T')?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    if second > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    let mut fraction_digits = 0u8;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if fraction_digits == 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(c - b'0');
            fraction_digits += 1;
            i += 1;
        }
        if fraction_digits == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - u32::from(fraction_digits));
    }
    let (offset_seconds, zulu) = match b.get(i)? {
        b'Z' if b.len() == i + 1 => (0, true),
        sign @ (b'+' | b'-') if b.len() == i + 6 => {
            let hh = digits(b, i + 1, 2)?;
            expect(b, i + 3, b':')?;
            let mm = digits(b, i + 4, 2)?;
            let seconds = i32::try_from(hh * 3600 + mm * 60).ok()?;
            if *sign == b'-' {
                if seconds == 0 {
                    return None;
                }
                (-seconds, false)
            } else {
                (seconds, false)
            }
        }
        _ => return None,
    };
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let naive = NaiveDateTime::new(
        date,
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?,
    );
    let time = DateTime::from_naive_utc_and_offset(naive.checked_sub_offset(offset)?, offset);
    Some(Repr::Canonical {
        time,
        fraction_digits,
        zulu,
    })
}

impl CimDateTime {
    /// Reads `text` as written in a document.
    pub fn parse(text: &str) -> Self {
        Self::parse_with(text, &mut DateCache::default())
    }

    /// [`CimDateTime::parse`] reusing the date of the previous call when it is the same.
    pub(crate) fn parse_with(text: &str, cache: &mut DateCache) -> Self {
        if let Some(repr) = parse_canonical(text, cache) {
            return CimDateTime { repr };
        }
        let repr = match DateTime::parse_from_rfc3339(text) {
            Ok(time) => Repr::Other(Box::new((time, text.into()))),
            Err(_) => Repr::Invalid(text.into()),
        };
        CimDateTime { repr }
    }

    /// A date-time for `time`, written with as many fraction digits as it needs (0, 3, 6 or
    /// 9) and `Z` for UTC, as [`platone_model::format_timestamp`] does.
    pub fn from_timestamp(time: Timestamp) -> Self {
        let nanos = time.nanosecond() % 1_000_000_000;
        let fraction_digits = match nanos {
            0 => 0,
            n if n % 1_000_000 == 0 => 3,
            n if n % 1_000 == 0 => 6,
            _ => 9,
        };
        CimDateTime {
            repr: Repr::Canonical {
                time,
                fraction_digits,
                zulu: time.offset().local_minus_utc() == 0,
            },
        }
    }

    /// The instant with its offset, when the text is a valid date-time with an offset.
    pub fn time(&self) -> Option<Timestamp> {
        match &self.repr {
            Repr::Canonical { time, .. } => Some(*time),
            Repr::Other(other) => Some(other.0),
            Repr::Invalid(_) => None,
        }
    }

    /// Whether the text is a valid date-time with an offset.
    pub fn is_valid(&self) -> bool {
        self.time().is_some()
    }
}

impl fmt::Display for CimDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Canonical {
                time,
                fraction_digits,
                zulu,
            } => {
                let local = time.naive_local();
                let date = local.date();
                write!(
                    f,
                    "{}T{:02}:{:02}:{:02}",
                    date.format("%Y-%m-%d"),
                    local.hour(),
                    local.minute(),
                    local.second()
                )?;
                if *fraction_digits > 0 {
                    let nanos = local.nanosecond() % 1_000_000_000;
                    let scaled = nanos / 10u32.pow(9 - u32::from(*fraction_digits));
                    write!(
                        f,
                        ".{scaled:0width$}",
                        width = usize::from(*fraction_digits)
                    )?;
                }
                if *zulu {
                    f.write_char('Z')
                } else {
                    let secs = time.offset().local_minus_utc();
                    let sign = if secs < 0 { '-' } else { '+' };
                    let abs = secs.unsigned_abs();
                    write!(f, "{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
                }
            }
            Repr::Other(other) => f.write_str(&other.1),
            Repr::Invalid(text) => f.write_str(text),
        }
    }
}

impl PartialEq for CimDateTime {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (
                Repr::Canonical {
                    time: a,
                    fraction_digits: fa,
                    zulu: za,
                },
                Repr::Canonical {
                    time: b,
                    fraction_digits: fb,
                    zulu: zb,
                },
            ) => a == b && a.offset() == b.offset() && fa == fb && za == zb,
            (Repr::Other(a), Repr::Other(b)) => a.1 == b.1,
            (Repr::Invalid(a), Repr::Invalid(b)) => a == b,
            _ => false,
        }
    }
}

impl serde::Serialize for CimDateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_write_back_unchanged() {
        for text in [
            "2019-09-13T15:30:00+03:00",
            "2019-09-13T15:30:00Z",
            "2019-09-13T15:30:00+00:00",
            "2019-09-13T15:30:00.1234567+02:00",
            "2019-09-13T15:30:00.5Z",
            "2019-09-13T15:30:00-00:00",
            "2019-09-13 15:30:00+03:00",
            "2019-09-13T15:30:00",
            "yesterday",
            "",
        ] {
            let t = CimDateTime::parse(text);
            assert_eq!(t.to_string(), text);
            assert_eq!(CimDateTime::parse(&t.to_string()), t);
        }
        assert!(!CimDateTime::parse("2019-09-13T15:30:00").is_valid());
        assert!(!CimDateTime::parse("2019-02-30T15:30:00Z").is_valid());
        let seven = CimDateTime::parse("2019-09-13T15:30:00.1234567+02:00");
        assert_eq!(seven.time().unwrap().nanosecond(), 123_456_700);
        assert_eq!(seven.time().unwrap().offset().local_minus_utc(), 7200);
    }

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<Option<CimDateTime>>() <= 24);
    }

    #[test]
    fn equality_sees_offsets() {
        let a = CimDateTime::parse("2019-09-13T15:30:00+03:00");
        let b = CimDateTime::parse("2019-09-13T12:30:00Z");
        assert_eq!(a.time(), b.time());
        assert_ne!(a, b);
    }

    #[test]
    fn from_timestamp_matches_the_model_format() {
        let t = platone_model::parse_timestamp("2021-01-01T00:00:00.5+00:00").unwrap();
        let c = CimDateTime::from_timestamp(t);
        assert_eq!(c.to_string(), platone_model::format_timestamp(&t));
    }
}
