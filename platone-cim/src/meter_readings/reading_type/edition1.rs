//! Edition-1 (IEC 61968-9:2009) ReadingType codes: 11 numbers.
//!
//! The 2009 code was built from nine attributes — timeAttribute, dataQualifier,
//! accumulationBehaviour, flowDirection, uomCategory (two numbers), measurementCategory (two
//! numbers), phase, multiplier and unit — e.g. `7.6.7.20.0.12.0.0.0.3.72` (60-minute total
//! energy, kWh). Edition 2 kept the numbers: timeAttribute was split into macroPeriod (8, 11,
//! 13, 22, 24) and measuringPeriod (1–7, 10, 14, 15, 16), dataQualifier became aggregate and
//! the uomCategory index became measurementKind.

use super::{
    AccumulationKind, AggregateKind, CommodityKind, Currency, FlowDirectionKind, MacroPeriodKind,
    MeasurementKindCode, MeasuringPeriodKind, Multiplier, PhaseCode, Rational, ReadingType,
    UnitSymbol, parse_i32, parse_u32,
};

/// The 11 numbers of an edition-1 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Edition1Code {
    /// The time attribute (period, or 12 = instantaneous).
    pub time_attribute: u32,
    /// The data qualifier (became `aggregate`).
    pub data_qualifier: u32,
    /// The accumulation behaviour (7 = interval data exists only in edition 1).
    pub accumulation_behaviour: u32,
    /// The flow direction.
    pub flow_direction: u32,
    /// The unit-of-measure category: class and index (the index became `measurementKind`).
    pub uom_category: (u32, u32),
    /// The measurement category: class and index (harmonics, TOU, currencies).
    pub measurement_category: (u32, u32),
    /// The phase code.
    pub phase: u32,
    /// The power of ten.
    pub multiplier: i32,
    /// The unit symbol code.
    pub unit: u32,
}

impl Edition1Code {
    pub(super) fn from_fields(fields: &[&str]) -> Option<Self> {
        if fields.len() != 11 {
            return None;
        }
        let n = |i: usize| fields.get(i).and_then(|f| parse_u32(f));
        Some(Edition1Code {
            time_attribute: n(0)?,
            data_qualifier: n(1)?,
            accumulation_behaviour: n(2)?,
            flow_direction: n(3)?,
            uom_category: (n(4)?, n(5)?),
            measurement_category: (n(6)?, n(7)?),
            phase: n(8)?,
            multiplier: fields.get(9).and_then(|f| parse_i32(f))?,
            unit: n(10)?,
        })
    }

    /// The edition-2 fields, when every attribute maps: the time attribute must be a period
    /// (or 0, or 12 = instantaneous), the unit category class 0 and the measurement category
    /// `0.0` (edition 1 packed harmonics and tariffs there in ways that have no one-to-one
    /// edition-2 form). Accumulation 7 (edition-1 "interval data") becomes deltaData.
    pub fn to_edition2(&self) -> Option<ReadingType> {
        if self.uom_category.0 != 0 || self.measurement_category != (0, 0) {
            return None;
        }
        let (macro_period, measuring_period) = match self.time_attribute {
            0 | 12 => (0, 0),
            8 | 11 | 13 | 22 | 24 => (self.time_attribute, 0),
            1..=7 | 10 | 14 | 15 | 16 => (0, self.time_attribute),
            _ => return None,
        };
        let accumulation = match self.accumulation_behaviour {
            7 => 4,
            other => other,
        };
        Some(ReadingType {
            macro_period: MacroPeriodKind::from_code(macro_period),
            aggregate: AggregateKind::from_code(self.data_qualifier),
            measuring_period: MeasuringPeriodKind::from_code(measuring_period),
            accumulation: AccumulationKind::from_code(accumulation),
            flow_direction: FlowDirectionKind::from_code(self.flow_direction),
            commodity: CommodityKind::from_code(0),
            measurement_kind: MeasurementKindCode::from_code(self.uom_category.1),
            interharmonic: Rational::default(),
            argument: Rational::default(),
            tou: 0,
            cpp: 0,
            consumption_tier: 0,
            phases: PhaseCode(self.phase),
            multiplier: Multiplier(self.multiplier),
            unit: UnitSymbol(self.unit),
            currency: Currency(0),
        })
    }
}
