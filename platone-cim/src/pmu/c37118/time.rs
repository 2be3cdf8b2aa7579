//! Time: SOC, FRACSEC, the time-quality byte and TIME_BASE.

use chrono::{DateTime, SecondsFormat, Utc};
use platone_model::Timestamp;
use serde::Serialize;

/// FRACSEC: the time-quality byte (bits 31-24) and the 24-bit fraction-of-second count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FracSec(pub u32);

impl FracSec {
    /// Builds FRACSEC from a time-quality byte and a count (only its low 24 bits are kept).
    pub const fn new(quality: TimeQuality, count: u32) -> Self {
        FracSec(((quality.0 as u32) << 24) | (count & 0x00FF_FFFF))
    }

    /// The fraction-of-second count (all 24 bits).
    pub const fn count(self) -> u32 {
        self.0 & 0x00FF_FFFF
    }

    /// The time-quality byte.
    pub const fn quality(self) -> TimeQuality {
        TimeQuality((self.0 >> 24) as u8)
    }
}

/// The message time-quality byte (FRACSEC bits 31-24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimeQuality(pub u8);

impl TimeQuality {
    /// Bit 6: the pending or past leap second deletes a second (0 adds one).
    pub const fn leap_second_delete(self) -> bool {
        self.0 & 0x40 != 0
    }

    /// Bit 5: a leap second occurred (set for 24 hours after it).
    pub const fn leap_second_occurred(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// Bit 4: a leap second is pending (set 1 to 60 s before it).
    pub const fn leap_second_pending(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Bits 3-0, MSG_TQ: 0 locked to UTC; 1..=9 within 10^(n-10) s; 0xA within 1 s; 0xB within
    /// 10 s; 0xF clock failure.
    pub const fn message_time_quality(self) -> u8 {
        self.0 & 0x0F
    }

    /// The clock's worst-case error in seconds, from MSG_TQ: `Some(0.0)` when locked, `None` for
    /// a failed clock or an unused code.
    pub fn max_error_seconds(self) -> Option<f64> {
        match self.message_time_quality() {
            0 => Some(0.0),
            n @ 1..=0xB => Some(10f64.powi(i32::from(n) - 10)),
            _ => None,
        }
    }
}

/// The decoded time-quality byte as the CLI's JSON shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeQualityView {
    /// The byte.
    pub raw: u8,
    /// Leap second direction: `true` = delete.
    pub leap_second_delete: bool,
    /// Leap second occurred.
    pub leap_second_occurred: bool,
    /// Leap second pending.
    pub leap_second_pending: bool,
    /// MSG_TQ code.
    pub message_time_quality: u8,
}

impl From<TimeQuality> for TimeQualityView {
    fn from(q: TimeQuality) -> Self {
        TimeQualityView {
            raw: q.0,
            leap_second_delete: q.leap_second_delete(),
            leap_second_occurred: q.leap_second_occurred(),
            leap_second_pending: q.leap_second_pending(),
            message_time_quality: q.message_time_quality(),
        }
    }
}

/// TIME_BASE from a configuration frame: flags (bits 31-24) and the FRACSEC divisor (u24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeBase(pub u32);

impl TimeBase {
    /// One microsecond per count, the most common value.
    pub const MICROSECONDS: TimeBase = TimeBase(1_000_000);

    /// The divisor of the FRACSEC count (bits 23-0); 0xFFFFFF is legal and used.
    pub const fn divisor(self) -> u32 {
        self.0 & 0x00FF_FFFF
    }

    /// The reserved flag bits 31-24.
    pub const fn flags(self) -> u8 {
        (self.0 >> 24) as u8
    }
}

/// The instant of SOC + FRACSEC count / TIME_BASE in UTC, with nanosecond resolution (rounded
/// to nearest). `None` when TIME_BASE is 0.
pub fn frame_time(soc: u32, fracsec: FracSec, time_base: TimeBase) -> Option<Timestamp> {
    let divisor = u64::from(time_base.divisor());
    if divisor == 0 {
        return None;
    }
    let count = u64::from(fracsec.count());
    let total_nanos = (count * 1_000_000_000 + divisor / 2) / divisor;
    let secs = i64::from(soc) + (total_nanos / 1_000_000_000) as i64;
    let nanos = (total_nanos % 1_000_000_000) as u32;
    DateTime::<Utc>::from_timestamp(secs, nanos).map(|t| t.fixed_offset())
}

/// RFC 3339 with microseconds and `Z`, as the CLI prints frame times.
pub fn format_micros(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// SOC and a FRACSEC count for an instant, given a TIME_BASE (the inverse of [`frame_time`]).
pub fn soc_fracsec(t: &Timestamp, time_base: TimeBase) -> (u32, u32) {
    let soc = u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX);
    let divisor = u64::from(time_base.divisor());
    let count = (u64::from(t.timestamp_subsec_nanos()) * divisor + 500_000_000) / 1_000_000_000;
    (soc, count.min(divisor.saturating_sub(1)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_d_time_and_full_24_bit_counts() {
        let t = frame_time(1_149_580_800, FracSec(16817), TimeBase::MICROSECONDS).unwrap();
        assert_eq!(format_micros(&t), "2006-06-06T08:00:00.016817Z");
        // TIME_BASE 0xFFFFFF and a count above 2^23 (pypmu masks it to 23 bits).
        let tb = TimeBase(0x00FF_FFFF);
        let t = frame_time(0, FracSec(0x00C0_0000), tb).unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 750_000_045);
        assert!(frame_time(0, FracSec(1), TimeBase(0)).is_none());
        let q = TimeQuality(0x56);
        assert!(q.leap_second_delete() && q.leap_second_pending() && !q.leap_second_occurred());
        assert_eq!(q.message_time_quality(), 6);
        assert_eq!(FracSec(0x5600_41B1).quality(), q);
        let (soc, count) = soc_fracsec(&t, tb);
        assert_eq!((soc, count), (0, 0x00C0_0000));
    }
}
