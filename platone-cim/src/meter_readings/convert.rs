//! Conversion between readings and [`platone_model::Measurement`].
//!
//! A reading becomes a measurement with `source` = `meter` = the meter's mRID (else its first
//! name) — or, for a reading a head-end system identifies by its usage point alone, `source` =
//! the usage point's mRID and no meter —, the usage point, the timestamp with its offset, and kind, unit, multiplier, phases,
//! direction, accumulation with interval, and aggregate decoded from the ReadingType. The
//! canonical 18-field ReadingType code goes into `channel`, so readings of distinct reading
//! types (say two TOU registers, or quadrant and forward energy, which the model's fields alone
//! cannot tell apart) never share a [`SeriesKey`](platone_model::SeriesKey). Quality flags come
//! from the reading qualities ([`ReadingQualityCode::flags`](super::ReadingQualityCode::flags)).

use std::collections::HashMap;

use platone_model::{
    Accumulation, Aggregate, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, Quality, Unit, UnitMultiplier, UsagePointId,
};

use super::model::{Meter, MeterReading, MeterReadingsDocument, Reading, UsagePoint};
use super::quality::ReadingQualityCode;
use super::reading_type::ReadingTypeCode;
use super::reading_type::{
    AccumulationKind, AggregateKind, FlowDirectionKind, MeasurementKindCode, PhaseCode,
    ReadingType, UnitSymbol,
};
use super::record::ReadingRecord;
use super::time::CimDateTime;
use super::value::ReadingValue;
use super::{MeterReadingsError, Mode};

fn kind_of(rt: &ReadingType) -> Option<MeasurementKind> {
    use MeasurementKindCode as K;
    Some(match rt.measurement_kind {
        K::Energy => MeasurementKind::Energy,
        K::Power => MeasurementKind::Power,
        K::Demand => MeasurementKind::Demand,
        K::Voltage | K::Voltage158 | K::DcVoltage => MeasurementKind::Voltage,
        K::Current => MeasurementKind::Current,
        K::VoltageAngle | K::CurrentAngle => MeasurementKind::PhaseAngle,
        K::Frequency => MeasurementKind::Frequency,
        K::PowerFactor | K::ApparentPowerFactor | K::PhasorPowerFactor => {
            MeasurementKind::PowerFactor
        }
        K::TotalHarmonicDistortion => MeasurementKind::TotalHarmonicDistortion,
        K::Temperature => MeasurementKind::Temperature,
        K::None => match rt.unit.0 {
            71..=73 => MeasurementKind::Energy,
            38 | 61 | 63 => MeasurementKind::Power,
            29 => MeasurementKind::Voltage,
            5 => MeasurementKind::Current,
            33 => MeasurementKind::Frequency,
            65 => MeasurementKind::PowerFactor,
            23 => MeasurementKind::Temperature,
            111 => MeasurementKind::Count,
            _ => return None,
        },
        _ => return None,
    })
}

fn unit_of(unit: UnitSymbol) -> Option<Unit> {
    Some(match unit.0 {
        72 => Unit::WattHour,
        73 => Unit::VarHour,
        71 => Unit::VoltAmpereHour,
        38 => Unit::Watt,
        63 => Unit::Var,
        61 => Unit::VoltAmpere,
        29 => Unit::Volt,
        5 => Unit::Ampere,
        106 => Unit::AmpereHour,
        33 => Unit::Hertz,
        75 => Unit::HertzPerSecond,
        10 => Unit::Radian,
        9 => Unit::Degree,
        27 => Unit::Second,
        23 => Unit::DegreeCelsius,
        65 => Unit::CosPhi,
        111 => Unit::Count,
        0 => Unit::None,
        _ => return None,
    })
}

fn symbol_code(unit: Unit) -> u32 {
    match unit {
        Unit::WattHour => 72,
        Unit::VarHour => 73,
        Unit::VoltAmpereHour => 71,
        Unit::Watt => 38,
        Unit::Var => 63,
        Unit::VoltAmpere => 61,
        Unit::Volt => 29,
        Unit::Ampere => 5,
        Unit::AmpereHour => 106,
        Unit::Hertz => 33,
        Unit::HertzPerSecond => 75,
        Unit::Radian => 10,
        Unit::Degree => 9,
        Unit::Second => 27,
        Unit::DegreeCelsius => 23,
        Unit::CosPhi => 65,
        Unit::Count => 111,
        // No UnitSymbol code (0, "none") for the rest.
        _ => 0,
    }
}

fn direction_of(d: FlowDirectionKind) -> FlowDirection {
    match d {
        FlowDirectionKind::Forward => FlowDirection::Forward,
        FlowDirectionKind::Reverse => FlowDirection::Reverse,
        FlowDirectionKind::Net => FlowDirection::Net,
        FlowDirectionKind::Total => FlowDirection::Total,
        _ => FlowDirection::NotApplicable,
    }
}

fn accumulation_of(a: AccumulationKind) -> Accumulation {
    match a {
        AccumulationKind::BulkQuantity => Accumulation::BulkQuantity,
        AccumulationKind::ContinuousCumulative | AccumulationKind::Cumulative => {
            Accumulation::Cumulative
        }
        AccumulationKind::DeltaData => Accumulation::Delta,
        AccumulationKind::Indicating => Accumulation::Indicating,
        AccumulationKind::Summation => Accumulation::Summation,
        AccumulationKind::Instantaneous => Accumulation::Instantaneous,
        _ => Accumulation::NotApplicable,
    }
}

fn aggregate_of(a: AggregateKind) -> Aggregate {
    match a {
        AggregateKind::Average => Aggregate::Average,
        AggregateKind::Sum => Aggregate::Sum,
        AggregateKind::Minimum => Aggregate::Minimum,
        AggregateKind::Maximum => Aggregate::Maximum,
        AggregateKind::Normal => Aggregate::Normal,
        AggregateKind::Nominal => Aggregate::Nominal,
        _ => Aggregate::None,
    }
}

impl ReadingRecord {
    /// This reading as a [`Measurement`] (see the module docs for the mapping). Fails when
    /// the reading names neither a meter nor a usage point, or has no valid timestamp, no number, or a ReadingType whose
    /// quantity or unit the SDK model has no name for.
    pub fn to_measurement(&self) -> Result<Measurement, MeterReadingsError> {
        let ids = Identities::of(self.meter.as_deref(), self.usage_point.as_deref());
        let fields = self.reading_type.as_deref().map(CodeFields::decode);
        convert(
            &ReadingView {
                meter: self.meter.as_deref(),
                timestamp: self.timestamp.as_ref(),
                value: &self.value,
                reading_type: self.reading_type.as_deref(),
            },
            &ids,
            fields.as_ref(),
            self.qualities.iter().map(String::as_str),
        )
    }
}

/// What the conversion reads of one reading, borrowed from a record or a document.
struct ReadingView<'a> {
    meter: Option<&'a str>,
    timestamp: Option<&'a CimDateTime>,
    value: &'a ReadingValue,
    reading_type: Option<&'a str>,
}

impl ReadingView<'_> {
    fn fail(&self, reason: String) -> MeterReadingsError {
        MeterReadingsError::Conversion {
            at: format!(
                "meter {}, {}, ReadingType {}",
                self.meter.unwrap_or("?"),
                self.timestamp
                    .map_or_else(|| "no timestamp".to_string(), ToString::to_string),
                self.reading_type.unwrap_or("?")
            ),
            reason,
        }
    }
}

/// The identifiers of one `MeterReading` (or record), checked once for all its readings.
/// `None` when it names neither a meter nor a usage point.
struct Identities {
    ids: Option<IdResults>,
}

struct IdResults {
    source: Result<DeviceId, platone_model::ModelError>,
    meter: Option<Result<MeterId, platone_model::ModelError>>,
    usage_point: Option<Result<UsagePointId, platone_model::ModelError>>,
}

impl Identities {
    fn of(meter: Option<&str>, usage_point: Option<&str>) -> Self {
        // A reading identified by its usage point alone is still a measurement of that usage
        // point: the usage point is then its source, and it has no meter.
        let source = match (meter, usage_point) {
            (Some(meter), _) => meter,
            (None, Some(usage_point)) => usage_point,
            (None, None) => return Identities { ids: None },
        };
        Identities {
            ids: Some(IdResults {
                source: DeviceId::new(source),
                meter: meter.map(MeterId::new),
                usage_point: usage_point.map(UsagePointId::new),
            }),
        }
    }
}

/// What a ReadingType code decodes to, or why it cannot be converted. It depends on the code
/// alone, so a [`MeasurementConverter`] decodes each distinct code once.
#[derive(Debug, Clone)]
struct CodeFields(Result<DecodedFields, String>);

#[derive(Debug, Clone)]
struct DecodedFields {
    kind: MeasurementKind,
    unit: Unit,
    multiplier: UnitMultiplier,
    interval: Option<MeasuringPeriod>,
    phases: platone_model::PhaseSet,
    direction: FlowDirection,
    accumulation: Accumulation,
    aggregate: Aggregate,
    channel: String,
}

impl CodeFields {
    fn decode(text: &str) -> Self {
        CodeFields(Self::try_decode(text))
    }

    fn try_decode(text: &str) -> Result<DecodedFields, String> {
        let code = ReadingTypeCode::parse(text, Mode::Lenient)
            .map_err(|_| "no ReadingType".to_string())?;
        let rt = code
            .reading_type()
            .ok_or_else(|| format!("ReadingType `{code}` cannot be decoded"))?;
        let kind = kind_of(&rt).ok_or_else(|| {
            format!(
                "measurementKind {} has no SDK measurement kind",
                rt.measurement_kind.code()
            )
        })?;
        let unit = unit_of(rt.unit).ok_or_else(|| format!("unit {} has no SDK unit", rt.unit.0))?;
        let multiplier = i8::try_from(rt.multiplier.0)
            .ok()
            .and_then(|e| UnitMultiplier::new(e).ok())
            .ok_or_else(|| format!("multiplier {} is out of range", rt.multiplier.0))?;
        let interval = rt
            .interval_seconds()
            .map(MeasuringPeriod::from_seconds)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(DecodedFields {
            kind,
            unit,
            multiplier,
            interval,
            phases: rt.phases.phase_set(),
            direction: direction_of(rt.flow_direction),
            accumulation: accumulation_of(rt.accumulation),
            aggregate: aggregate_of(rt.aggregate),
            channel: code.canonical(),
        })
    }
}

/// Converts one reading; `fields` is the decoded ReadingType (`None` when the reading has
/// none). The checks run in the order the module documents, so the first failure is the one
/// reported.
fn convert<'q>(
    reading: &ReadingView<'_>,
    ids: &Identities,
    fields: Option<&CodeFields>,
    qualities: impl Iterator<Item = &'q str>,
) -> Result<Measurement, MeterReadingsError> {
    let Some(ids) = &ids.ids else {
        return Err(reading.fail("the MeterReading names neither a meter nor a usage point".into()));
    };
    let timestamp = reading
        .timestamp
        .and_then(CimDateTime::time)
        .ok_or_else(|| reading.fail("no valid timeStamp".into()))?;
    let value = reading
        .value
        .number()
        .ok_or_else(|| reading.fail("the value is not a number".into()))?;
    let f = match fields {
        None => return Err(reading.fail("no ReadingType".into())),
        Some(CodeFields(Err(reason))) => return Err(reading.fail(reason.clone())),
        Some(CodeFields(Ok(f))) => f,
    };
    let model = |e: &platone_model::ModelError| reading.fail(e.to_string());
    let quality = qualities
        .map(|q| ReadingQualityCode::parse(q).flags())
        .fold(Quality::GOOD, |acc, q| {
            q.flags().fold(acc, |acc, flag| acc.with(flag))
        });
    let source = ids.source.as_ref().map_err(model)?;
    let mut m = Measurement::new(source.clone(), timestamp, f.kind, f.unit, value)
        .map_err(|e| model(&e))?
        .with_multiplier(f.multiplier)
        .with_phases(f.phases)
        .with_direction(f.direction)
        .with_accumulation(f.accumulation, f.interval)
        .with_aggregate(f.aggregate)
        .with_quality(quality)
        .with_channel(f.channel.as_str())
        .map_err(|e| model(&e))?;
    if let Some(meter) = &ids.meter {
        m = m.with_meter(meter.as_ref().map_err(model)?.clone());
    }
    if let Some(up) = &ids.usage_point {
        m = m.with_usage_point(up.as_ref().map_err(model)?.clone());
    }
    Ok(m)
}

/// Converts the readings of `MeterReading`s to measurements, decoding each distinct
/// ReadingType code once and checking each meter's identifiers once per `MeterReading`
/// (rather than once per reading, as [`ReadingRecord::to_measurement`] does). The results
/// are exactly those of [`ReadingRecord::to_measurement`] on the records of the
/// `MeterReading`, in the same order.
///
/// ```
/// use platone_cim::meter_readings::{parse_str, Mode, MeasurementConverter};
/// use platone_cim::meter_readings::generate::dump_document;
///
/// let doc = parse_str(&dump_document(2), Mode::Strict)?.document;
/// let mut converter = MeasurementConverter::new();
/// let mut out = Vec::new();
/// for mr in &doc.meter_readings {
///     converter.convert(mr, &mut out);
/// }
/// assert_eq!(out.len(), 216);
/// assert!(out.iter().all(Result::is_ok));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MeasurementConverter {
    codes: HashMap<String, CodeFields>,
}

/// The quality codes of a reading, as written.
fn quality_codes(qualities: &[super::model::ReadingQuality]) -> impl Iterator<Item = &str> + '_ {
    qualities
        .iter()
        .filter_map(|q| q.reading_quality_type.as_deref())
}

/// Distinct ReadingType codes a [`MeasurementConverter`] remembers; past this it starts over
/// (a hostile document cannot grow the cache without bound).
const MAX_CACHED_CODES: usize = 4096;

impl MeasurementConverter {
    /// A converter with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn fields(&mut self, code: Option<&str>) -> Option<CodeFields> {
        let code = code?;
        if let Some(f) = self.codes.get(code) {
            return Some(f.clone());
        }
        if self.codes.len() >= MAX_CACHED_CODES {
            self.codes.clear();
        }
        let f = CodeFields::decode(code);
        self.codes.insert(code.to_string(), f.clone());
        Some(f)
    }

    /// Appends one result per reading and interval reading of `mr` to `out` (readings, then
    /// the interval readings of each block, in document order).
    pub fn convert(
        &mut self,
        mr: &MeterReading,
        out: &mut Vec<Result<Measurement, MeterReadingsError>>,
    ) {
        let meter = mr.meter_id();
        let ids = Identities::of(meter, mr.usage_point_id());
        out.reserve(mr.reading_count());
        for r in &mr.readings {
            let fields = self.fields(r.reading_type.as_deref());
            let view = ReadingView {
                meter,
                timestamp: r.time_stamp.as_ref(),
                value: &r.value,
                reading_type: r.reading_type.as_deref(),
            };
            out.push(convert(
                &view,
                &ids,
                fields.as_ref(),
                quality_codes(&r.qualities),
            ));
        }
        for block in &mr.interval_blocks {
            let fields = self.fields(block.reading_type.as_deref());
            for r in &block.interval_readings {
                let view = ReadingView {
                    meter,
                    timestamp: r.time_stamp.as_ref(),
                    value: &r.value,
                    reading_type: block.reading_type.as_deref(),
                };
                out.push(convert(
                    &view,
                    &ids,
                    fields.as_ref(),
                    quality_codes(&r.qualities),
                ));
            }
        }
    }
}

/// The 18-field code for a measurement: its `channel` when that is a decodable code,
/// otherwise one built from its fields.
fn code_for(m: &Measurement) -> String {
    if let Some(channel) = &m.channel
        && channel.parse::<ReadingType>().is_ok()
    {
        return channel.clone();
    }
    let measuring_period = match m.interval.map(MeasuringPeriod::seconds) {
        Some(600) => 1,
        Some(900) => 2,
        Some(60) => 3,
        Some(86_400) => 4,
        Some(1800) => 5,
        Some(300) => 6,
        Some(3600) => 7,
        Some(120) => 10,
        Some(180) => 14,
        Some(1200) => 31,
        _ => 0,
    };
    let aggregate = match m.aggregate {
        Aggregate::None => 0,
        Aggregate::Average => 2,
        Aggregate::Maximum => 8,
        Aggregate::Minimum => 9,
        Aggregate::Nominal => 11,
        Aggregate::Normal => 12,
        Aggregate::Sum => 26,
    };
    let accumulation = match m.accumulation {
        Accumulation::NotApplicable => 0,
        Accumulation::BulkQuantity => 1,
        Accumulation::Cumulative => 3,
        Accumulation::Delta => 4,
        Accumulation::Indicating => 6,
        Accumulation::Summation => 9,
        Accumulation::Instantaneous => 12,
    };
    let direction = match m.direction {
        FlowDirection::NotApplicable => 0,
        FlowDirection::Forward => 1,
        FlowDirection::Net => 4,
        FlowDirection::Reverse => 19,
        FlowDirection::Total => 20,
    };
    let kind = match m.kind {
        MeasurementKind::Energy => 12,
        MeasurementKind::Power => 37,
        MeasurementKind::Demand => 8,
        MeasurementKind::Voltage => 54,
        MeasurementKind::Current => 4,
        MeasurementKind::PhaseAngle => 55,
        MeasurementKind::Frequency => 15,
        MeasurementKind::RateOfChangeOfFrequency => 15,
        MeasurementKind::PowerFactor => 38,
        MeasurementKind::TotalHarmonicDistortion => 47,
        MeasurementKind::Temperature => 46,
        // No MeasurementKind code (0, "none") for the rest.
        _ => 0,
    };
    format!(
        "0.{aggregate}.{measuring_period}.{accumulation}.{direction}.1.{kind}.0.0.0.0.0.0.0.{}.{}.{}.0",
        PhaseCode::from_phase_set(m.phases),
        m.multiplier.exponent(),
        symbol_code(m.unit)
    )
}

/// Builds a MeterReadings document from measurements, grouped by meter (the measurement's
/// `meter`, else its `source`) in order of first appearance: one `Readings` per measurement,
/// with the ReadingType from its `channel` (when that is an 18-field code) or from its fields,
/// and its timestamp and value. This is what a DSO Data Server sends every 15 minutes.
pub fn measurements_to_document(measurements: &[Measurement]) -> MeterReadingsDocument {
    let mut doc = MeterReadingsDocument::default();
    let mut meters: Vec<(String, Option<String>)> = Vec::new();
    for m in measurements {
        let meter = m
            .meter
            .as_ref()
            .map_or_else(|| m.source.as_str(), MeterId::as_str)
            .to_string();
        let usage_point = m.usage_point.as_ref().map(|u| u.as_str().to_string());
        let key = (meter, usage_point);
        let slot = match meters.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                doc.meter_readings.push(MeterReading {
                    meter: Some(Meter {
                        mrid: Some(key.0.clone()),
                        ..Meter::default()
                    }),
                    usage_point: key.1.clone().map(|id| UsagePoint {
                        mrid: Some(id),
                        names: Vec::new(),
                    }),
                    ..MeterReading::default()
                });
                meters.push(key);
                meters.len() - 1
            }
        };
        if let Some(mr) = doc.meter_readings.get_mut(slot) {
            mr.readings.push(Reading {
                time_stamp: Some(CimDateTime::from_timestamp(m.timestamp)),
                value: ReadingValue::from_number(m.value),
                reading_type: Some(code_for(m)),
                ..Reading::default()
            });
        }
    }
    doc
}

impl MeterReading {
    /// The readings of this `MeterReading` as measurements, one result per reading and
    /// interval reading.
    pub fn measurements(&self) -> Vec<Result<Measurement, MeterReadingsError>> {
        let mut out = Vec::new();
        MeasurementConverter::new().convert(self, &mut out);
        out
    }
}

impl MeterReadingsDocument {
    /// Every reading of the document as a measurement, one result per reading.
    pub fn measurements(&self) -> Vec<Result<Measurement, MeterReadingsError>> {
        let mut converter = MeasurementConverter::new();
        let mut out = Vec::with_capacity(self.reading_count());
        for mr in &self.meter_readings {
            converter.convert(mr, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Mode, Record, parse_str};

    fn readings(xml: &str) -> Vec<super::ReadingRecord> {
        parse_str(xml, Mode::Strict)
            .unwrap()
            .document
            .records()
            .filter_map(|r| match r {
                Record::Reading(r) => Some(r),
                Record::Event(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_reading_identified_by_its_usage_point_alone_is_kept() {
        let xml = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
          <mr:MeterReading>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>1.234</mr:value>
              <mr:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
            <mr:UsagePoint><mr:mRID>UP-4711</mr:mRID></mr:UsagePoint>
          </mr:MeterReading>
        </mr:MeterReadings>"#;
        let records = readings(xml);
        assert_eq!(records.len(), 1);
        let m = records[0].to_measurement().unwrap();
        assert_eq!(m.source.as_str(), "UP-4711");
        assert_eq!(m.meter, None);
        assert_eq!(m.usage_point.as_ref().map(|u| u.as_str()), Some("UP-4711"));
        assert_eq!(m.base_value(), 1234.0);
        let doc = parse_str(xml, Mode::Strict).unwrap().document;
        assert!(doc.measurements().iter().all(Result::is_ok));
    }

    #[test]
    fn a_reading_with_neither_meter_nor_usage_point_is_rejected() {
        let xml = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
          <mr:MeterReading>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>1.234</mr:value>
              <mr:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
          </mr:MeterReading>
        </mr:MeterReadings>"#;
        let err = readings(xml)[0].to_measurement().unwrap_err();
        assert!(
            err.to_string()
                .contains("neither a meter nor a usage point"),
            "{err}"
        );
    }

    /// The converter gives exactly what converting the flat records one by one gives, for
    /// good readings and for every kind of failure (the messages included).
    #[test]
    fn the_converter_agrees_with_the_records() {
        let xml = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
          <mr:MeterReading>
            <mr:Meter><mr:mRID>m-1</mr:mRID></mr:Meter>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00+02:00</mr:timeStamp>
              <mr:value>1.5</mr:value>
              <mr:ReadingQualities><mr:ReadingQualityType ref="1.5.257"/></mr:ReadingQualities>
              <mr:ReadingType ref="0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>2</mr:value>
              <mr:ReadingType ref="0.0.0.1.1.1.999.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>3</mr:value>
              <mr:ReadingType ref="0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.999.0"/>
            </mr:Readings>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>4</mr:value>
            </mr:Readings>
            <mr:IntervalBlocks>
              <mr:IntervalReadings>
                <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
                <mr:value>5</mr:value>
              </mr:IntervalReadings>
              <mr:IntervalReadings>
                <mr:timeStamp>2024-05-01T10:30:00Z</mr:timeStamp>
                <mr:value>6</mr:value>
              </mr:IntervalReadings>
              <mr:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:IntervalBlocks>
            <mr:UsagePoint><mr:mRID>UP-1</mr:mRID></mr:UsagePoint>
          </mr:MeterReading>
          <mr:MeterReading>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>7</mr:value>
              <mr:ReadingType ref="0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
          </mr:MeterReading>
          <mr:MeterReading>
            <mr:Readings>
              <mr:timeStamp>2024-05-01T10:15:00Z</mr:timeStamp>
              <mr:value>8</mr:value>
              <mr:ReadingType ref="0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
            </mr:Readings>
            <mr:UsagePoint><mr:mRID>UP-2</mr:mRID></mr:UsagePoint>
          </mr:MeterReading>
        </mr:MeterReadings>"#;
        let doc = parse_str(xml, Mode::Lenient).unwrap().document;
        let one_by_one: Vec<_> = doc
            .records()
            .filter_map(|r| match r {
                Record::Reading(r) => Some(r.to_measurement()),
                Record::Event(_) => None,
            })
            .collect();
        assert_eq!(one_by_one.len(), 8);
        assert!(one_by_one.iter().any(Result::is_err));
        assert!(one_by_one.iter().filter(|r| r.is_ok()).count() >= 4);
        let mut converter = super::MeasurementConverter::new();
        let mut out = Vec::new();
        for mr in &doc.meter_readings {
            converter.convert(mr, &mut out);
        }
        let text = |v: &[Result<platone_model::Measurement, super::MeterReadingsError>]| {
            v.iter()
                .map(|r| match r {
                    Ok(m) => format!("ok {m:?}"),
                    Err(e) => format!("err {e}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(text(&out), text(&one_by_one));
        assert_eq!(text(&doc.measurements()), text(&one_by_one));
    }
}
