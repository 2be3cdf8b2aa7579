//! The IEC 61968-9 ReadingType code: the dotted string that says what a reading measures.
//!
//! The 2013 edition (and every later one) uses 18 fields,
//! `macroPeriod.aggregate.measuringPeriod.accumulation.flowDirection.commodity.measurementKind.
//! interharmonicNumerator.interharmonicDenominator.argumentNumerator.argumentDenominator.tou.cpp.
//! consumptionTier.phases.multiplier.unit.currency`, decoded into a [`ReadingType`] with a typed
//! value for every field. [`ReadingTypeCode`] wraps a code as written and says which form it
//! has:
//!
//! * 18 fields: decoded as such;
//! * 19 fields with one surplus zero in the all-zero middle run (what some producers send, e.g.
//!   `0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0`): normalised to 18 fields in lenient mode,
//!   the original kept for writing back; rejected in strict mode;
//! * 11 fields: an edition-1 (2009) code, decoded as [`Edition1Code`] and mapped to the 18
//!   fields where a mapping exists;
//! * anything else (4- or 15-field codes, signs or letters where numbers belong, numbers too
//!   large): kept as an opaque code, never an error.
//!
//! The multiplier is a signed power of ten (−3 is milli) in every edition, so a negative
//! multiplier is decoded, not treated as opaque.
//!
//! ```
//! use platone_cim::meter_readings::{Mode, ReadingTypeCode};
//!
//! let code = ReadingTypeCode::parse("0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0", Mode::Strict)?;
//! let rt = code.reading_type().expect("an 18-field code decodes");
//! assert_eq!(rt.unit.symbol(), Some("Wh"));
//! assert_eq!(rt.to_string(), code.as_str());
//! assert_eq!(rt.description(), "15-minute forward active energy, kWh, phases ABC");
//! # Ok::<(), platone_cim::meter_readings::MeterReadingsError>(())
//! ```

mod edition1;
mod kinds;
mod measurement_kind;
mod tables;
mod units;

use std::fmt;
use std::str::FromStr;

pub use edition1::Edition1Code;
pub(crate) use kinds::code_enum as kinds_code_enum;
pub use kinds::{
    AccumulationKind, AggregateKind, CommodityKind, FlowDirectionKind, MacroPeriodKind,
    MeasuringPeriodKind,
};
pub use measurement_kind::MeasurementKindCode;
pub use units::{Currency, Multiplier, PhaseCode, UnitSymbol};

use super::{MeterReadingsError, Mode};

/// A rational number field pair (interharmonic, argument); `0/0` means not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Rational {
    /// The numerator.
    pub numerator: u32,
    /// The denominator.
    pub denominator: u32,
}

impl Rational {
    /// Whether this is the "not applicable" `0/0`.
    pub const fn is_none(self) -> bool {
        self.numerator == 0 && self.denominator == 0
    }
}

/// A decoded 18-field ReadingType. `Display` prints the 18-field dotted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ReadingType {
    /// Field 1: the period an aggregate is taken over.
    pub macro_period: MacroPeriodKind,
    /// Field 2: how values were combined.
    pub aggregate: AggregateKind,
    /// Field 3: the measuring interval.
    pub measuring_period: MeasuringPeriodKind,
    /// Field 4: how the value accumulates.
    pub accumulation: AccumulationKind,
    /// Field 5: the direction of flow.
    pub flow_direction: FlowDirectionKind,
    /// Field 6: what is measured.
    pub commodity: CommodityKind,
    /// Field 7: the physical quantity.
    pub measurement_kind: MeasurementKindCode,
    /// Fields 8–9: the (inter)harmonic.
    pub interharmonic: Rational,
    /// Fields 10–11: an extra numeric argument.
    pub argument: Rational,
    /// Field 12: the time-of-use bucket (0 = not applicable).
    pub tou: u32,
    /// Field 13: the critical-peak-period bucket (0 = not applicable).
    pub cpp: u32,
    /// Field 14: the consumption tier (0 = flat).
    pub consumption_tier: u32,
    /// Field 15: the phases.
    pub phases: PhaseCode,
    /// Field 16: the power of ten.
    pub multiplier: Multiplier,
    /// Field 17: the unit.
    pub unit: UnitSymbol,
    /// Field 18: the currency.
    pub currency: Currency,
}

/// Why a string is not a plain 18-field code (see [`ReadingType::from_str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Wrong number of fields.
    Fields(usize),
    /// Field `n` (1-based) is not a number of the expected kind.
    Field(usize),
}

fn parse_u32(field: &str) -> Option<u32> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

fn parse_i32(field: &str) -> Option<i32> {
    let digits = field.strip_prefix('-').unwrap_or(field);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

impl ReadingType {
    /// Decodes exactly 18 numeric fields.
    pub(crate) fn from_fields(fields: &[&str]) -> Result<Self, Shape> {
        if fields.len() != 18 {
            return Err(Shape::Fields(fields.len()));
        }
        let mut n = [0u32; 18];
        for (i, f) in fields.iter().enumerate() {
            if i == 15 {
                continue;
            }
            let slot = n.get_mut(i).ok_or(Shape::Field(i + 1))?;
            *slot = parse_u32(f).ok_or(Shape::Field(i + 1))?;
        }
        let multiplier = fields
            .get(15)
            .and_then(|f| parse_i32(f))
            .ok_or(Shape::Field(16))?;
        let [
            mp,
            ag,
            me,
            ac,
            fd,
            co,
            mk,
            ihn,
            ihd,
            an,
            ad,
            tou,
            cpp,
            tier,
            ph,
            _,
            unit,
            cur,
        ] = n;
        Ok(ReadingType {
            macro_period: MacroPeriodKind::from_code(mp),
            aggregate: AggregateKind::from_code(ag),
            measuring_period: MeasuringPeriodKind::from_code(me),
            accumulation: AccumulationKind::from_code(ac),
            flow_direction: FlowDirectionKind::from_code(fd),
            commodity: CommodityKind::from_code(co),
            measurement_kind: MeasurementKindCode::from_code(mk),
            interharmonic: Rational {
                numerator: ihn,
                denominator: ihd,
            },
            argument: Rational {
                numerator: an,
                denominator: ad,
            },
            tou,
            cpp,
            consumption_tier: tier,
            phases: PhaseCode(ph),
            multiplier: Multiplier(multiplier),
            unit: UnitSymbol(unit),
            currency: Currency(cur),
        })
    }

    /// The measuring period's length in seconds, when it names a fixed length (fixed and
    /// rolling blocks give their block length).
    pub fn interval_seconds(&self) -> Option<u32> {
        let minutes = match self.measuring_period.code() {
            1 => 10,
            2 => 15,
            3 => 1,
            4 => 1440,
            5 => 30,
            6 => 5,
            7 => 60,
            10 => 2,
            14 => 3,
            31 => 20,
            50 => 60,
            51 => 30,
            52 => 20,
            53 => 15,
            54 => 10,
            55 => 5,
            56 => 1,
            57..=64 => 60,
            65..=70 => 30,
            71..=73 => 15,
            74..=76 => 10,
            77 => 5,
            78 => 12,
            79 => 120,
            80 => 240,
            81 => 360,
            82 => 720,
            83 => 180,
            _ => return None,
        };
        Some(minutes * 60)
    }

    /// A human description, e.g. "15-minute forward active energy, kWh, phases ABC".
    pub fn description(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        if let Some(d) = self
            .macro_period
            .description()
            .filter(|_| !self.macro_period.is_none())
        {
            words.push(d.to_lowercase());
        }
        if let Some(d) = self
            .aggregate
            .description()
            .filter(|_| !self.aggregate.is_none())
        {
            words.push(format!("{} of", d.to_lowercase()));
        }
        if let Some(d) = self
            .measuring_period
            .description()
            .filter(|_| !self.measuring_period.is_none())
        {
            words.push(
                d.replace("-minutes", "-minute")
                    .replace("-hours", "-hour")
                    .to_lowercase(),
            );
        }
        match self.accumulation {
            AccumulationKind::None | AccumulationKind::DeltaData => {}
            AccumulationKind::BulkQuantity => words.push("bulk".into()),
            other => words.push(match other.description() {
                Some(d) => d.to_lowercase(),
                None => format!("accumulation {}", other.code()),
            }),
        }
        if !self.flow_direction.is_none() {
            words.push(match self.flow_direction.description() {
                Some(d) => d.to_lowercase(),
                None => format!("flow direction {}", self.flow_direction.code()),
            });
        }
        match self.commodity.code() {
            0 | 1 => {}
            2 => words.push("primary-metered".into()),
            _ => words.push(match self.commodity.description() {
                Some(d) => d.to_lowercase(),
                None => format!("commodity {}", self.commodity.code()),
            }),
        }
        match self.unit.0 {
            72 | 38 => words.push("active".into()),
            73 | 63 => words.push("reactive".into()),
            71 | 61 => words.push("apparent".into()),
            _ => {}
        }
        words.push(match self.measurement_kind.description() {
            Some(_) if self.measurement_kind.is_none() => "quantity".into(),
            Some(d) => d.to_string(),
            None => format!("measurement kind {}", self.measurement_kind.code()),
        });
        let mut text = words.join(" ");
        if !self.interharmonic.is_none() {
            let Rational {
                numerator: n,
                denominator: d,
            } = self.interharmonic;
            text.push_str(&if d == 1 {
                format!(", harmonic {n}")
            } else {
                format!(", interharmonic {n}/{d}")
            });
        }
        if !self.argument.is_none() {
            let Rational {
                numerator: n,
                denominator: d,
            } = self.argument;
            text.push_str(&format!(", argument {n}/{d}"));
        }
        let unit = match (self.multiplier.prefix(), self.unit.symbol()) {
            (Some(p), Some(u)) if self.unit.0 != 0 => format!("{p}{u}"),
            (_, Some(_)) if self.unit.0 == 0 && self.multiplier.0 == 0 => String::new(),
            (_, Some(u)) => format!("10^{} {u}", self.multiplier.0),
            (_, None) => format!("10^{} × unit {}", self.multiplier.0, self.unit.0),
        };
        if !unit.is_empty() {
            text.push_str(", ");
            text.push_str(&unit);
        }
        if self.phases.0 != 0 {
            text.push_str(&format!(", phases {}", self.phases.phase_set()));
        }
        for (label, value) in [
            ("TOU", self.tou),
            ("CPP", self.cpp),
            ("tier", self.consumption_tier),
        ] {
            if value != 0 {
                text.push_str(&format!(", {label} {value}"));
            }
        }
        if self.currency.0 != 0 {
            match self.currency.alpha() {
                Some(alpha) => text.push_str(&format!(", in {alpha}")),
                None => text.push_str(&format!(", currency {}", self.currency.0)),
            }
        }
        text
    }
}

impl fmt::Display for ReadingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}.{}",
            self.macro_period,
            self.aggregate,
            self.measuring_period,
            self.accumulation,
            self.flow_direction,
            self.commodity,
            self.measurement_kind,
            self.interharmonic.numerator,
            self.interharmonic.denominator,
            self.argument.numerator,
            self.argument.denominator,
            self.tou,
            self.cpp,
            self.consumption_tier,
            self.phases,
            self.multiplier,
            self.unit,
            self.currency
        )
    }
}

impl FromStr for ReadingType {
    type Err = MeterReadingsError;
    /// Parses exactly an 18-field code (what [`Mode::Strict`] accepts as decodable).
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = code.split('.').collect();
        ReadingType::from_fields(&fields).map_err(|shape| MeterReadingsError::ReadingType {
            code: code.chars().take(80).collect(),
            reason: match shape {
                Shape::Fields(n) => format!("has {n} fields, an IEC 61968-9 code has 18"),
                Shape::Field(i) => format!("field {i} is not a valid number"),
            },
        })
    }
}

/// Which form a [`ReadingTypeCode`] was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeForm {
    /// The 18-field code of the 2013 and later editions.
    Edition2,
    /// A 19-field code with a surplus zero, normalised to 18 fields (lenient mode only).
    Normalised19,
    /// An 11-field edition-1 (2009) code.
    Edition1,
    /// Anything else, kept as written.
    Opaque,
}

/// A ReadingType code as written, with what could be decoded from it.
///
/// `Display` and [`ReadingTypeCode::as_str`] always give back the original string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadingTypeCode {
    original: String,
    decoded: Decoded,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Decoded {
    Edition2(ReadingType),
    Normalised19(ReadingType),
    Edition1(Edition1Code, Option<ReadingType>),
    Opaque,
}

impl ReadingTypeCode {
    /// Classifies and decodes `code`. The only error is a 19-field code in
    /// [`Mode::Strict`]; every other shape decodes or is kept opaque.
    pub fn parse(code: &str, mode: Mode) -> Result<Self, MeterReadingsError> {
        let fields: Vec<&str> = code.trim().split('.').collect();
        let decoded = match fields.len() {
            18 => match ReadingType::from_fields(&fields) {
                Ok(rt) => Decoded::Edition2(rt),
                Err(_) => Decoded::Opaque,
            },
            19 => {
                let middle_zero = fields
                    .get(7..15)
                    .is_some_and(|m| m.iter().all(|f| parse_u32(f) == Some(0)));
                let normalised: Vec<&str> = fields
                    .iter()
                    .take(14)
                    .chain(fields.iter().skip(15))
                    .copied()
                    .collect();
                match (middle_zero, ReadingType::from_fields(&normalised)) {
                    (true, Ok(rt)) if mode == Mode::Lenient => Decoded::Normalised19(rt),
                    (true, Ok(_)) => {
                        return Err(MeterReadingsError::ReadingType {
                            code: code.chars().take(80).collect(),
                            reason: "has 19 fields (one surplus zero in fields 8-15); IEC 61968-9 codes have 18 — lenient mode normalises it".into(),
                        });
                    }
                    _ => Decoded::Opaque,
                }
            }
            11 => match Edition1Code::from_fields(&fields) {
                Some(e1) => Decoded::Edition1(e1, e1.to_edition2()),
                None => Decoded::Opaque,
            },
            _ => Decoded::Opaque,
        };
        Ok(ReadingTypeCode {
            original: code.to_string(),
            decoded,
        })
    }

    /// The code exactly as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Which form the code has.
    pub fn form(&self) -> CodeForm {
        match self.decoded {
            Decoded::Edition2(_) => CodeForm::Edition2,
            Decoded::Normalised19(_) => CodeForm::Normalised19,
            Decoded::Edition1(..) => CodeForm::Edition1,
            Decoded::Opaque => CodeForm::Opaque,
        }
    }

    /// The decoded 18 fields: of an 18-field code, of a normalised 19-field code, or of an
    /// edition-1 code that maps; `None` for opaque codes and unmappable edition-1 codes.
    pub fn reading_type(&self) -> Option<ReadingType> {
        match &self.decoded {
            Decoded::Edition2(rt) | Decoded::Normalised19(rt) => Some(*rt),
            Decoded::Edition1(_, mapped) => *mapped,
            Decoded::Opaque => None,
        }
    }

    /// The edition-1 fields, when the code is an 11-field edition-1 code.
    pub fn edition1(&self) -> Option<Edition1Code> {
        match &self.decoded {
            Decoded::Edition1(e1, _) => Some(*e1),
            _ => None,
        }
    }

    /// The 18-field form (the normalised one for a 19-field code), or the original for
    /// codes that do not decode. Distinct reading types always have distinct canonical codes.
    pub fn canonical(&self) -> String {
        match &self.decoded {
            Decoded::Edition2(rt) | Decoded::Normalised19(rt) => rt.to_string(),
            _ => self.original.clone(),
        }
    }

    /// A human description, or `None` when nothing could be decoded.
    pub fn description(&self) -> Option<String> {
        self.reading_type().map(|rt| rt.description())
    }
}

impl fmt::Display for ReadingTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// The decoded form of a code as the `platone cim` JSON shows it under
/// `reading_type_decoded`: the 18 fields with snake_case names plus `code` (canonical 18-field
/// form), `form` and `description`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecodedReadingType {
    /// The canonical 18-field code.
    pub code: String,
    /// The form the code was written in.
    pub form: CodeForm,
    /// The human description.
    pub description: String,
    /// The decoded fields.
    #[serde(flatten)]
    pub fields: ReadingType,
}

impl DecodedReadingType {
    /// The decoded form of `code`, or `None` when it cannot be decoded.
    pub fn of(code: &ReadingTypeCode) -> Option<Self> {
        code.reading_type().map(|rt| DecodedReadingType {
            code: rt.to_string(),
            form: code.form(),
            description: rt.description(),
            fields: rt,
        })
    }
}
