//! STAT: the per-PMU status word of a data frame.

use serde::Serialize;

/// STAT bits 15-14.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataError {
    /// 00: good measurement data, no errors.
    Good,
    /// 01: PMU error, no information about the data.
    PmuError,
    /// 10: PMU in test mode or absent data inserted by a PDC (do not use the values).
    TestModeOrAbsent,
    /// 11: PMU error (do not use the values).
    PmuErrorDoNotUse,
}

/// The STAT word of one PMU block, every bit decoded.
///
/// ```
/// use platone_cim::pmu::c37118::{DataError, Stat};
/// let s = Stat(0x21F0); // a PMU without GPS
/// assert!(s.sync_error());
/// assert_eq!(s.pmu_time_quality(), 7);
/// assert_eq!(s.unlocked_time(), 3);
/// assert_eq!(s.data_error(), DataError::Good);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stat(pub u16);

impl Stat {
    /// Bits 15-14.
    pub const fn data_error(self) -> DataError {
        match self.0 >> 14 {
            0 => DataError::Good,
            1 => DataError::PmuError,
            2 => DataError::TestModeOrAbsent,
            _ => DataError::PmuErrorDoNotUse,
        }
    }

    /// Bit 13: the PMU is not synchronised to UTC.
    pub const fn sync_error(self) -> bool {
        self.0 & 0x2000 != 0
    }

    /// Bit 12: data sorted by arrival (`false`: by time stamp).
    pub const fn sorted_by_arrival(self) -> bool {
        self.0 & 0x1000 != 0
    }

    /// Bit 11: a PMU trigger was detected.
    pub const fn trigger(self) -> bool {
        self.0 & 0x0800 != 0
    }

    /// Bit 10: a configuration change is pending (re-fetch the configuration).
    pub const fn config_change(self) -> bool {
        self.0 & 0x0400 != 0
    }

    /// Bit 9: data modified by post-processing.
    pub const fn data_modified(self) -> bool {
        self.0 & 0x0200 != 0
    }

    /// Bits 8-6, PMU_TQ: 0 not used; 1 < 100 ns; 2 < 1 µs; 3 < 10 µs; 4 < 100 µs; 5 < 1 ms;
    /// 6 < 10 ms; 7 > 10 ms or unknown.
    pub const fn pmu_time_quality(self) -> u8 {
        ((self.0 >> 6) & 0x7) as u8
    }

    /// Bits 5-4, unlocked time: 0 < 10 s; 1 10-100 s; 2 100-1000 s; 3 > 1000 s.
    pub const fn unlocked_time(self) -> u8 {
        ((self.0 >> 4) & 0x3) as u8
    }

    /// Bits 3-0, trigger reason: 0 manual; 1 magnitude low; 2 magnitude high; 3 phase-angle
    /// difference; 4 frequency high or low; 5 df/dt high; 7 digital; 8-15 user-defined.
    pub const fn trigger_reason(self) -> u8 {
        (self.0 & 0x0F) as u8
    }

    /// Whether the values may be used (data error 00 or 01).
    pub const fn usable(self) -> bool {
        (self.0 >> 15) == 0
    }
}

/// The decoded STAT word as the CLI's JSON shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StatView {
    /// The word.
    pub raw: u16,
    /// Bits 15-14.
    pub data_error: DataError,
    /// Bit 13.
    pub sync_error: bool,
    /// Bit 12.
    pub sorted_by_arrival: bool,
    /// Bit 11.
    pub trigger: bool,
    /// Bit 10.
    pub config_change: bool,
    /// Bit 9.
    pub data_modified: bool,
    /// Bits 8-6.
    pub time_quality: u8,
    /// Bits 5-4.
    pub unlocked_time: u8,
    /// Bits 3-0.
    pub trigger_reason: u8,
}

impl From<Stat> for StatView {
    fn from(s: Stat) -> Self {
        StatView {
            raw: s.0,
            data_error: s.data_error(),
            sync_error: s.sync_error(),
            sorted_by_arrival: s.sorted_by_arrival(),
            trigger: s.trigger(),
            config_change: s.config_change(),
            data_modified: s.data_modified(),
            time_quality: s.pmu_time_quality(),
            unlocked_time: s.unlocked_time(),
            trigger_reason: s.trigger_reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bit() {
        let s = Stat(0b1011_1111_0110_0111); // 10 1 1 1 1 1 101 10 0111
        assert_eq!(s.data_error(), DataError::TestModeOrAbsent);
        assert!(s.sync_error() && s.sorted_by_arrival() && s.trigger());
        assert!(s.config_change() && s.data_modified());
        assert_eq!(s.pmu_time_quality(), 5);
        assert_eq!(s.unlocked_time(), 2);
        assert_eq!(s.trigger_reason(), 7);
        assert!(!s.usable());
        assert_eq!(Stat(0x4000).data_error(), DataError::PmuError);
        assert_eq!(Stat(0xC000).data_error(), DataError::PmuErrorDoNotUse);
        assert!(Stat(0x4000).usable());
    }
}
