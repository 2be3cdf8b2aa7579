//! ReadingQualityType codes: `<systemId>.<category>.<subCategory>` (IEC 61968-9 Annex D).

use std::fmt;

use platone_model::{Quality, QualityFlag};

use super::reading_type::kinds_code_enum as code_enum;

code_enum! {
    /// Which system set the quality (`systemId`).
    pub enum QualitySystem {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// The end device (meter).
        EndDevice = 1 => "endDevice", "end device";
        /// The metering system (data collection, head-end).
        MeteringSystem = 2 => "meteringSystem", "metering system";
        /// The meter data management system.
        DataManagement = 3 => "dataManagement", "meter data management system";
        /// Another system.
        OtherSystem = 4 => "otherSystem", "other system";
        /// Externally specified.
        ExternallySpecified = 5 => "externallySpecified", "externally specified";
    }
}

code_enum! {
    /// What kind of quality statement it is (`category`).
    pub enum QualityCategory {
        /// Valid data.
        Valid = 0 => "valid", "valid";
        /// Diagnostics condition.
        Diagnostics = 1 => "diagnostics", "diagnostics";
        /// Power quality.
        PowerQuality = 2 => "powerQuality", "power quality";
        /// Tamper or revenue protection.
        Tamper = 3 => "tamper", "tamper / revenue protection";
        /// Data collection.
        DataCollection = 4 => "dataCollection", "data collection";
        /// Reasonability check.
        Reasonability = 5 => "reasonability", "reasonability";
        /// Validation.
        Validation = 6 => "validation", "validation";
        /// Edited.
        Edited = 7 => "edited", "edited";
        /// Estimated.
        Estimated = 8 => "estimated", "estimated";
        /// Oscillatory (obsolete).
        Oscillatory = 9 => "oscillatory", "oscillatory (obsolete)";
        /// Questionable.
        Questionable = 10 => "questionable", "questionable";
        /// Derived.
        Derived = 11 => "derived", "derived";
        /// Projected.
        Projected = 12 => "projected", "projected";
    }
}

/// A decoded ReadingQualityType code, or the text as written when it is not three numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadingQualityCode {
    original: String,
    decoded: Option<(QualitySystem, QualityCategory, u32)>,
}

fn sub_category_name(category: u32, sub: u32) -> Option<&'static str> {
    Some(match (category, sub) {
        (0, 0) => "data valid",
        (0, 1) => "validated",
        (1, 0) => "diagnostics flag",
        (1, 1) => "battery low",
        (1, 2) => "sensor failure",
        (1, 3) => "watchdog flag",
        (1, 4) => "parity error",
        (1, 5) => "checksum error",
        (1, 6) => "RAM checksum error",
        (1, 7) => "ROM checksum error",
        (1, 8) => "clear alarm",
        (1, 9) => "clock error",
        (2, 32) => "power fail",
        (2, 1001) => "power down",
        (2, 1002) => "power up",
        (2, 1003) => "phase failure",
        (3, 0) => "tamper flag",
        (3, 1) => "cover opened",
        (3, 4) => "reverse rotation",
        (4, 1) => "overflow",
        (4, 2) => "partial interval",
        (4, 3) => "long interval",
        (4, 4) => "skipped interval",
        (4, 5) => "test data",
        (4, 6) => "configuration changed",
        (4, 7) => "not recording",
        (4, 8) => "reset occurred",
        (4, 9) => "clock changed",
        (4, 16) => "daylight saving time in effect",
        (4, 64) => "clock set forward",
        (4, 128) => "clock set backward",
        (4, 131) => "manual read",
        (4, 259) => "daylight saving time change",
        (5, 256) => "outside expected range",
        (5, 257) => "error code",
        (5, 258) => "suspect",
        (5, 259) => "known missing read",
        (6, 0) => "validation, generic",
        (6, 1) => "zero usage",
        (6, 3) => "usage above",
        (6, 4) => "usage below",
        (6, 9) => "TOU sum check",
        (7, 0) => "edited, generic",
        (7, 1) => "added",
        (7, 3) => "rejected",
        (8, 0) => "estimated, generic",
        (10, 0) => "indeterminate",
        (11, 0) => "deterministic",
        (11, 1) => "inferred",
        (12, 0) => "projected, generic",
        _ => return None,
    })
}

impl ReadingQualityCode {
    /// Decodes `code`; anything that is not three non-negative numbers is kept opaque.
    pub fn parse(code: &str) -> Self {
        let mut parts = code.trim().split('.');
        let num = |p: Option<&str>| {
            p.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u32>().ok())
        };
        let (s, c, sub) = (num(parts.next()), num(parts.next()), num(parts.next()));
        let decoded = match (s, c, sub, parts.next()) {
            (Some(s), Some(c), Some(sub), None) => Some((
                QualitySystem::from_code(s),
                QualityCategory::from_code(c),
                sub,
            )),
            _ => None,
        };
        ReadingQualityCode {
            original: code.to_string(),
            decoded,
        }
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The system, when decoded.
    pub fn system(&self) -> Option<QualitySystem> {
        self.decoded.map(|d| d.0)
    }

    /// The category, when decoded.
    pub fn category(&self) -> Option<QualityCategory> {
        self.decoded.map(|d| d.1)
    }

    /// The sub-category number, when decoded.
    pub fn sub_category(&self) -> Option<u32> {
        self.decoded.map(|d| d.2)
    }

    /// A human description (`"estimated, generic (meter data management system)"`), or `None`
    /// when the code does not decode.
    pub fn description(&self) -> Option<String> {
        let (system, category, sub) = self.decoded?;
        let what = match sub_category_name(category.code(), sub) {
            Some(name) => name.to_string(),
            None => format!("{} {sub}", category.description().unwrap_or("category")),
        };
        Some(match system.description() {
            Some(s) if !system.is_none() => format!("{what} ({s})"),
            Some(_) => what,
            None => format!("{what} (system {})", system.code()),
        })
    }

    /// The SDK quality flags the code stands for: estimated and projected data is
    /// `estimated`; edited data `substituted` (rejected: `invalid`); known missing reads and
    /// skipped intervals `missing`; overflow `overflow`; test data `test`; clock changes and
    /// clock errors `time_not_synchronised`; diagnostics `device_error`; validation,
    /// reasonability, tamper, questionable and oscillatory data `questionable`; derived data
    /// `modified`. Valid data and power-quality notes add nothing.
    pub fn flags(&self) -> Quality {
        let Some((_, category, sub)) = self.decoded else {
            return Quality::GOOD;
        };
        let flag = match (category.code(), sub) {
            (0, _) | (2, _) => return Quality::GOOD,
            (1, 9) => QualityFlag::TimeNotSynchronised,
            (1, _) => QualityFlag::DeviceError,
            (4, 1) => QualityFlag::Overflow,
            (4, 4) | (4, 7) | (5, 259) => QualityFlag::Missing,
            (4, 5) => QualityFlag::Test,
            (4, 9) | (4, 64) | (4, 128) => QualityFlag::TimeNotSynchronised,
            (4, _) => return Quality::GOOD,
            (7, 3) => QualityFlag::Invalid,
            (7, _) => QualityFlag::Substituted,
            (8, _) | (12, _) => QualityFlag::Estimated,
            (11, _) => QualityFlag::Modified,
            _ => QualityFlag::Questionable,
        };
        Quality::GOOD.with(flag)
    }
}

impl fmt::Display for ReadingQualityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_flags() {
        let q = ReadingQualityCode::parse("3.8.0");
        assert_eq!(q.system(), Some(QualitySystem::DataManagement));
        assert_eq!(q.category(), Some(QualityCategory::Estimated));
        assert_eq!(q.sub_category(), Some(0));
        assert!(q.flags().has(QualityFlag::Estimated));
        assert_eq!(
            q.description().unwrap(),
            "estimated, generic (meter data management system)"
        );
        assert!(ReadingQualityCode::parse("1.0.0").flags().is_good());
        assert!(
            ReadingQualityCode::parse("2.5.259")
                .flags()
                .has(QualityFlag::Missing)
        );
        let odd = ReadingQualityCode::parse("3.6.4001");
        assert_eq!(
            odd.description().unwrap(),
            "validation 4001 (meter data management system)"
        );
        let opaque = ReadingQualityCode::parse("?");
        assert_eq!(opaque.category(), None);
        assert_eq!(opaque.to_string(), "?");
        assert!(ReadingQualityCode::parse("1.2").category().is_none());
        assert!(ReadingQualityCode::parse("1.2.3.4").category().is_none());
    }
}
