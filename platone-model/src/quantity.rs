//! What a value measures: kind, unit and multiplier, phases, flow direction, accumulation,
//! measuring interval and aggregation.
//!
//! The names follow IEC 61968-9 (ReadingType) where it has one. Whether an energy value is
//! active, reactive or apparent is told by its [`Unit`] (Wh, VArh, VAh), as in the standard.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::named::named_enum;

named_enum! {
    /// The physical quantity a value measures (IEC 61968-9 `MeasurementKind`, reduced to what
    /// the Platone platforms exchange).
    #[non_exhaustive]
    pub enum MeasurementKind {
        /// Energy over an interval or as a register (Wh, VArh, VAh).
        Energy => "energy",
        /// Instantaneous or averaged power (W, VAr, VA).
        Power => "power",
        /// Demand: average power over a demand interval.
        Demand => "demand",
        /// Voltage (V).
        Voltage => "voltage",
        /// Current (A).
        Current => "current",
        /// Phase angle of a voltage or current phasor (rad or deg).
        PhaseAngle => "phase_angle",
        /// Frequency (Hz).
        Frequency => "frequency",
        /// Rate of change of frequency (Hz/s).
        RateOfChangeOfFrequency => "rate_of_change_of_frequency",
        /// Power factor (cos φ, dimensionless).
        PowerFactor => "power_factor",
        /// Total harmonic distortion (%).
        TotalHarmonicDistortion => "total_harmonic_distortion",
        /// Temperature (°C).
        Temperature => "temperature",
        /// A count of events or pulses.
        Count => "count",
    }
}

named_enum! {
    /// A unit symbol as IEC 61968-9 (`UnitSymbol`) writes it.
    #[non_exhaustive]
    pub enum Unit {
        /// Watt-hour (active energy).
        WattHour => "Wh",
        /// Volt-ampere reactive hour (reactive energy).
        VarHour => "VArh",
        /// Volt-ampere hour (apparent energy).
        VoltAmpereHour => "VAh",
        /// Watt (active power).
        Watt => "W",
        /// Volt-ampere reactive (reactive power).
        Var => "VAr",
        /// Volt-ampere (apparent power).
        VoltAmpere => "VA",
        /// Volt.
        Volt => "V",
        /// Ampere.
        Ampere => "A",
        /// Ampere-hour.
        AmpereHour => "Ah",
        /// Hertz.
        Hertz => "Hz",
        /// Hertz per second (rate of change of frequency).
        HertzPerSecond => "Hz/s",
        /// Radian.
        Radian => "rad",
        /// Degree of angle.
        Degree => "deg",
        /// Second.
        Second => "s",
        /// Degree Celsius.
        DegreeCelsius => "degC",
        /// Power factor, cos φ (dimensionless).
        CosPhi => "cosPhi",
        /// Percent.
        Percent => "%",
        /// A count (dimensionless).
        Count => "count",
        /// No unit (dimensionless ratio).
        None => "none",
    }
}

impl Unit {
    /// The factor that takes a value in this unit to its coherent SI unit, and that unit's
    /// symbol: hour-based energy units become joule-like units (×3600), degrees become
    /// radians; all other units already are coherent SI units and have factor 1.
    pub fn coherent_si(self) -> (f64, &'static str) {
        match self {
            Unit::WattHour => (3600.0, "J"),
            Unit::VarHour => (3600.0, "VAr.s"),
            Unit::VoltAmpereHour => (3600.0, "VA.s"),
            Unit::AmpereHour => (3600.0, "C"),
            Unit::Degree => (std::f64::consts::PI / 180.0, "rad"),
            other => (1.0, other.as_str()),
        }
    }
}

/// A power-of-ten multiplier on a unit (IEC 61968-9 `UnitMultiplier`): `3` is kilo, `-3` milli.
///
/// Serialised as its exponent, e.g. `3`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i8", into = "i8")]
pub struct UnitMultiplier(i8);

impl UnitMultiplier {
    /// No multiplier (10⁰).
    pub const NONE: UnitMultiplier = UnitMultiplier(0);
    /// Kilo (10³).
    pub const KILO: UnitMultiplier = UnitMultiplier(3);
    /// Mega (10⁶).
    pub const MEGA: UnitMultiplier = UnitMultiplier(6);
    /// Giga (10⁹).
    pub const GIGA: UnitMultiplier = UnitMultiplier(9);
    /// Milli (10⁻³).
    pub const MILLI: UnitMultiplier = UnitMultiplier(-3);

    /// A multiplier of 10^`exponent`; exponents from −24 to 24 are accepted.
    pub fn new(exponent: i8) -> Result<Self> {
        if (-24..=24).contains(&exponent) {
            Ok(Self(exponent))
        } else {
            Err(ModelError::OutOfRange {
                field: "multiplier",
                reason: format!("power of ten {exponent} is outside -24..=24"),
            })
        }
    }

    /// The power of ten.
    pub const fn exponent(self) -> i8 {
        self.0
    }

    /// The factor itself, 10^exponent.
    pub fn factor(self) -> f64 {
        10f64.powi(i32::from(self.0))
    }

    /// The SI prefix symbol (`"k"`, `"M"`, `"m"`, …), empty for no multiplier, `None` where
    /// the exponent has no prefix.
    pub fn prefix(self) -> Option<&'static str> {
        Some(match self.0 {
            -24 => "y",
            -21 => "z",
            -18 => "a",
            -15 => "f",
            -12 => "p",
            -9 => "n",
            -6 => "µ",
            -3 => "m",
            -2 => "c",
            -1 => "d",
            0 => "",
            1 => "da",
            2 => "h",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            21 => "Z",
            24 => "Y",
            _ => return None,
        })
    }
}

impl TryFrom<i8> for UnitMultiplier {
    type Error = ModelError;
    fn try_from(exponent: i8) -> Result<Self> {
        Self::new(exponent)
    }
}

impl From<UnitMultiplier> for i8 {
    fn from(m: UnitMultiplier) -> i8 {
        m.0
    }
}

named_enum! {
    /// One conductor.
    pub enum Phase {
        /// Phase A (L1).
        A => "A",
        /// Phase B (L2).
        B => "B",
        /// Phase C (L3).
        C => "C",
        /// Neutral.
        N => "N",
        /// Split-phase secondary 1.
        S1 => "S1",
        /// Split-phase secondary 2.
        S2 => "S2",
    }
}

impl Phase {
    const fn bit(self) -> u8 {
        match self {
            Phase::A => 1,
            Phase::B => 2,
            Phase::C => 4,
            Phase::N => 8,
            Phase::S1 => 16,
            Phase::S2 => 32,
        }
    }
}

/// The conductors a value refers to: one phase (`A`), a pair for phase-to-phase or
/// phase-to-neutral quantities (`AB`, `AN`), all three (`ABC`, `ABCN`), or none
/// (not applicable, e.g. frequency).
///
/// The set is unordered; its text form lists phases in the order A, B, C, N, S1, S2
/// (so the C-to-A pair is written `AC`), and the empty set is written `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhaseSet(u8);

impl PhaseSet {
    /// No phase: the quantity has none (frequency, a whole-meter total).
    pub const NONE: PhaseSet = PhaseSet(0);
    /// Phase A alone.
    pub const A: PhaseSet = PhaseSet(1);
    /// Phase B alone.
    pub const B: PhaseSet = PhaseSet(2);
    /// Phase C alone.
    pub const C: PhaseSet = PhaseSet(4);
    /// Neutral alone.
    pub const N: PhaseSet = PhaseSet(8);
    /// Phases A, B and C.
    pub const ABC: PhaseSet = PhaseSet(7);
    /// Phases A, B, C and neutral.
    pub const ABCN: PhaseSet = PhaseSet(15);

    /// The set of the given phases.
    pub fn of(phases: &[Phase]) -> Self {
        PhaseSet(phases.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// Whether `phase` is in the set.
    pub const fn contains(self, phase: Phase) -> bool {
        self.0 & phase.bit() != 0
    }

    /// Whether the set is empty (no phase applies).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The phases in the set, in canonical order.
    pub fn phases(self) -> impl Iterator<Item = Phase> {
        Phase::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The set with `phase` added.
    #[must_use]
    pub const fn with(self, phase: Phase) -> Self {
        PhaseSet(self.0 | phase.bit())
    }
}

impl From<Phase> for PhaseSet {
    fn from(phase: Phase) -> Self {
        PhaseSet(phase.bit())
    }
}

impl fmt::Display for PhaseSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for phase in self.phases() {
            f.write_str(phase.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for PhaseSet {
    type Err = ModelError;
    fn from_str(text: &str) -> Result<Self> {
        if text == "none" || text.is_empty() {
            return Ok(PhaseSet::NONE);
        }
        let unknown = || ModelError::UnknownName {
            kind: "PhaseSet",
            value: text.chars().take(80).collect(),
        };
        let mut set = PhaseSet::NONE;
        let mut rest = text;
        while !rest.is_empty() {
            let (phase, len) = match rest.as_bytes() {
                [b'S', b'1', ..] => (Phase::S1, 2),
                [b'S', b'2', ..] => (Phase::S2, 2),
                [b'A', ..] => (Phase::A, 1),
                [b'B', ..] => (Phase::B, 1),
                [b'C', ..] => (Phase::C, 1),
                [b'N', ..] => (Phase::N, 1),
                _ => return Err(unknown()),
            };
            if set.contains(phase) {
                return Err(unknown());
            }
            set = set.with(phase);
            rest = &rest[len..];
        }
        Ok(set)
    }
}

impl Serialize for PhaseSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PhaseSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

named_enum! {
    /// Which way energy flows for the value, seen from the customer's meter
    /// (IEC 61968-9 `FlowDirectionKind`).
    pub enum FlowDirection {
        /// Direction does not apply (voltage, frequency, …).
        NotApplicable => "not_applicable",
        /// Forward: delivered to the customer, import (A+).
        Forward => "forward",
        /// Reverse: received from the customer, export (A−).
        Reverse => "reverse",
        /// Net: forward minus reverse.
        Net => "net",
        /// Total: forward plus reverse (absolute sum).
        Total => "total",
    }
}

named_enum! {
    /// How the value accumulates over time (IEC 61968-9 `AccumulationKind`).
    pub enum Accumulation {
        /// Does not apply.
        NotApplicable => "not_applicable",
        /// A value at an instant (a PMU sample, an instantaneous voltage).
        Instantaneous => "instantaneous",
        /// A register that keeps counting up (a meter's energy index).
        Cumulative => "cumulative",
        /// The change over one measuring interval (interval data, e.g. 15-minute energy).
        Delta => "delta",
        /// A value that is indicated or read at an instant from a register (a demand register).
        Indicating => "indicating",
        /// A sum over several registers or sources.
        Summation => "summation",
        /// A bulk quantity: a register value that is reset and restarts.
        BulkQuantity => "bulk_quantity",
    }
}

named_enum! {
    /// How several samples were combined into the value (IEC 61968-9 `AggregateKind`).
    pub enum Aggregate {
        /// Not aggregated.
        None => "none",
        /// Arithmetic mean.
        Average => "average",
        /// Sum.
        Sum => "sum",
        /// Minimum.
        Minimum => "minimum",
        /// Maximum.
        Maximum => "maximum",
        /// A normal (expected) value.
        Normal => "normal",
        /// A nominal (rated) value.
        Nominal => "nominal",
    }
}

/// The length of the interval a value covers (15 minutes for interval data, 1 s for a PMU
/// average), in whole seconds. Serialised as that number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MeasuringPeriod(u32);

impl MeasuringPeriod {
    /// Fifteen minutes, the smart-meter interval of the Platone field trials.
    pub const FIFTEEN_MINUTES: MeasuringPeriod = MeasuringPeriod(900);
    /// One hour.
    pub const ONE_HOUR: MeasuringPeriod = MeasuringPeriod(3600);

    /// An interval of `seconds` (> 0).
    pub fn from_seconds(seconds: u32) -> Result<Self> {
        if seconds == 0 {
            return Err(ModelError::OutOfRange {
                field: "interval",
                reason: "a measuring interval must be at least one second".into(),
            });
        }
        Ok(Self(seconds))
    }

    /// The interval in seconds.
    pub const fn seconds(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for MeasuringPeriod {
    type Error = ModelError;
    fn try_from(seconds: u32) -> Result<Self> {
        Self::from_seconds(seconds)
    }
}

impl From<MeasuringPeriod> for u32 {
    fn from(p: MeasuringPeriod) -> u32 {
        p.0
    }
}

impl fmt::Display for MeasuringPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s {
            _ if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            _ if s.is_multiple_of(3600) => write!(f, "{}h", s / 3600),
            _ if s.is_multiple_of(60) => write!(f, "{}min", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_enum_round_trips_its_text() {
        for k in MeasurementKind::ALL {
            assert_eq!(k.as_str().parse::<MeasurementKind>().unwrap(), *k);
        }
        for u in Unit::ALL {
            assert_eq!(u.as_str().parse::<Unit>().unwrap(), *u);
            let json = serde_json::to_string(u).unwrap();
            assert_eq!(json, format!("\"{}\"", u.as_str()));
        }
        for d in FlowDirection::ALL {
            assert_eq!(d.to_string().parse::<FlowDirection>().unwrap(), *d);
        }
        assert!("kWh".parse::<Unit>().is_err());
    }

    #[test]
    fn multiplier_bounds_and_prefixes() {
        assert_eq!(UnitMultiplier::KILO.factor(), 1000.0);
        assert_eq!(UnitMultiplier::MILLI.prefix(), Some("m"));
        assert_eq!(UnitMultiplier::new(4).unwrap().prefix(), None);
        assert!(UnitMultiplier::new(25).is_err());
        assert!(serde_json::from_str::<UnitMultiplier>("-30").is_err());
        assert_eq!(serde_json::to_string(&UnitMultiplier::MEGA).unwrap(), "6");
    }

    #[test]
    fn phase_sets_parse_and_print_canonically() {
        assert_eq!("ABC".parse::<PhaseSet>().unwrap(), PhaseSet::ABC);
        assert_eq!("CA".parse::<PhaseSet>().unwrap().to_string(), "AC");
        assert_eq!("S1S2N".parse::<PhaseSet>().unwrap().to_string(), "NS1S2");
        assert_eq!("none".parse::<PhaseSet>().unwrap(), PhaseSet::NONE);
        assert_eq!(PhaseSet::NONE.to_string(), "none");
        assert!("AA".parse::<PhaseSet>().is_err());
        assert!("X".parse::<PhaseSet>().is_err());
        assert!(PhaseSet::ABCN.contains(Phase::N));
    }

    #[test]
    fn coherent_si_factors() {
        assert_eq!(Unit::WattHour.coherent_si(), (3600.0, "J"));
        assert_eq!(Unit::Volt.coherent_si(), (1.0, "V"));
        let (f, s) = Unit::Degree.coherent_si();
        assert!((180.0 * f - std::f64::consts::PI).abs() < 1e-12);
        assert_eq!(s, "rad");
    }

    #[test]
    fn measuring_period_validates_and_prints() {
        assert!(MeasuringPeriod::from_seconds(0).is_err());
        assert_eq!(MeasuringPeriod::FIFTEEN_MINUTES.to_string(), "15min");
        assert_eq!(
            MeasuringPeriod::from_seconds(86_400).unwrap().to_string(),
            "1d"
        );
        assert_eq!(
            serde_json::to_string(&MeasuringPeriod::ONE_HOUR).unwrap(),
            "3600"
        );
        assert!(serde_json::from_str::<MeasuringPeriod>("0").is_err());
    }
}
