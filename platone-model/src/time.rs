//! Time stamps.
//!
//! A [`Timestamp`] keeps the UTC offset the source gave (`+02:00` from a Greek head-end, `Z` from
//! a PMU), so that writing a value back produces the same text. Two timestamps of the same
//! instant with different offsets compare equal as instants; use [`same_instant`] to say so.

use chrono::{DateTime, FixedOffset, SecondsFormat};

/// An instant with the UTC offset the source gave.
pub type Timestamp = DateTime<FixedOffset>;

/// Parses an RFC 3339 timestamp, keeping its offset.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text)
}

/// Formats `t` as RFC 3339 with its own offset and only as many fractional digits as it needs
/// (none, 3, 6 or 9); UTC is written `Z`.
pub fn format_timestamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Whether two timestamps denote the same instant, whatever their offsets.
pub fn same_instant(a: &Timestamp, b: &Timestamp) -> bool {
    a.timestamp() == b.timestamp() && a.timestamp_subsec_nanos() == b.timestamp_subsec_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_kept_through_a_round_trip() {
        let t = parse_timestamp("2020-10-01T00:15:00+03:00").unwrap();
        assert_eq!(format_timestamp(&t), "2020-10-01T00:15:00+03:00");
        let u = parse_timestamp("2020-09-30T21:15:00Z").unwrap();
        assert_eq!(format_timestamp(&u), "2020-09-30T21:15:00Z");
        assert!(same_instant(&t, &u));
        let f = parse_timestamp("2021-01-01T00:00:00.5+00:00").unwrap();
        assert_eq!(format_timestamp(&f), "2021-01-01T00:00:00.500Z");
    }
}
