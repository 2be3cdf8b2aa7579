//! Quality flags carried with a value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::named::named_enum;

named_enum! {
    /// One thing known to be wrong with, or special about, a value.
    ///
    /// The flags unify what CIM reading qualities and the C37.118 STAT word say; formats map
    /// their own codes onto them and may keep the original codes themselves.
    #[non_exhaustive]
    pub enum QualityFlag {
        /// The value is missing; the number carried is a placeholder.
        Missing => "missing",
        /// The value was estimated rather than measured.
        Estimated => "estimated",
        /// The value replaced a measured one (substituted, manually edited).
        Substituted => "substituted",
        /// The value failed validation and should not be used.
        Invalid => "invalid",
        /// The value passed validation with doubts.
        Questionable => "questionable",
        /// The measuring device's clock was not synchronised.
        TimeNotSynchronised => "time_not_synchronised",
        /// A register overflowed or a value was out of the measurable range.
        Overflow => "overflow",
        /// The device reported an error for the value.
        DeviceError => "device_error",
        /// The device was tested or in test mode.
        Test => "test",
        /// The value was changed after measurement (C37.118 "data modified").
        Modified => "modified",
    }
}

impl QualityFlag {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The set of [`QualityFlag`]s of a value; empty means good.
///
/// Serialised as a list of flag names in a fixed order, e.g. `["estimated"]`; `[]` is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quality(u16);

impl Quality {
    /// A good value: no flag set.
    pub const GOOD: Quality = Quality(0);

    /// The set of the given flags.
    pub fn of(flags: &[QualityFlag]) -> Self {
        Quality(flags.iter().fold(0, |bits, f| bits | f.bit()))
    }

    /// Whether no flag is set.
    pub const fn is_good(self) -> bool {
        self.0 == 0
    }

    /// Whether `flag` is set.
    pub const fn has(self, flag: QualityFlag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// The set with `flag` added.
    #[must_use]
    pub const fn with(self, flag: QualityFlag) -> Self {
        Quality(self.0 | flag.bit())
    }

    /// The flags set, in declaration order.
    pub fn flags(self) -> impl Iterator<Item = QualityFlag> {
        QualityFlag::ALL
            .iter()
            .copied()
            .filter(move |f| self.has(*f))
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_good() {
            return f.write_str("good");
        }
        for (i, flag) in self.flags().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(flag.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for Quality {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.flags())
    }
}

impl<'de> Deserialize<'de> for Quality {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let flags = Vec::<QualityFlag>::deserialize(deserializer)?;
        Ok(Quality::of(&flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_and_serialise_in_order() {
        let q = Quality::GOOD
            .with(QualityFlag::Test)
            .with(QualityFlag::Estimated);
        assert!(q.has(QualityFlag::Estimated) && !q.has(QualityFlag::Missing));
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"["estimated","test"]"#
        );
        assert_eq!(q.to_string(), "estimated,test");
        let back: Quality = serde_json::from_str(r#"["test","estimated","test"]"#).unwrap();
        assert_eq!(back, q);
        assert_eq!(serde_json::to_string(&Quality::GOOD).unwrap(), "[]");
        assert!(serde_json::from_str::<Quality>(r#"["bogus"]"#).is_err());
    }

    #[test]
    fn all_flags_fit_the_bitset() {
        assert!(QualityFlag::ALL.len() <= 16);
        let all = Quality::of(QualityFlag::ALL);
        assert_eq!(all.flags().count(), QualityFlag::ALL.len());
    }
}
