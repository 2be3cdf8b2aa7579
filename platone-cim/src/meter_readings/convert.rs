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

use platone_model::{
    Accumulation, Aggregate, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, Quality, Unit, UnitMultiplier, UsagePointId,
};

use super::MeterReadingsError;
use super::model::{Meter, MeterReading, MeterReadingsDocument, Reading, UsagePoint};
use super::quality::ReadingQualityCode;
use super::reading_type::{
    AccumulationKind, AggregateKind, FlowDirectionKind, MeasurementKindCode, PhaseCode,
    ReadingType, UnitSymbol,
};
use super::record::ReadingRecord;
use super::time::CimDateTime;
use super::value::ReadingValue;

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
        let at = || {
            format!(
                "meter {}, {}, ReadingType {}",
                self.meter.as_deref().unwrap_or("?"),
                self.timestamp
                    .as_ref()
                    .map_or_else(|| "no timestamp".to_string(), ToString::to_string),
                self.reading_type.as_deref().unwrap_or("?")
            )
        };
        let fail = |reason: String| MeterReadingsError::Conversion { at: at(), reason };
        // A reading identified by its usage point alone is still a measurement of that usage
        // point: the usage point is then its source, and it has no meter.
        let (source, meter) = match (self.meter.as_deref(), self.usage_point.as_deref()) {
            (Some(meter), _) => (meter, Some(meter)),
            (None, Some(usage_point)) => (usage_point, None),
            (None, None) => {
                return Err(fail(
                    "the MeterReading names neither a meter nor a usage point".into(),
                ));
            }
        };
        let timestamp = self
            .timestamp
            .as_ref()
            .and_then(CimDateTime::time)
            .ok_or_else(|| fail("no valid timeStamp".into()))?;
        let value = self
            .value
            .number()
            .ok_or_else(|| fail("the value is not a number".into()))?;
        let code = self
            .reading_type_code()
            .ok_or_else(|| fail("no ReadingType".into()))?;
        let rt = code
            .reading_type()
            .ok_or_else(|| fail(format!("ReadingType `{code}` cannot be decoded")))?;
        let kind = kind_of(&rt).ok_or_else(|| {
            fail(format!(
                "measurementKind {} has no SDK measurement kind",
                rt.measurement_kind.code()
            ))
        })?;
        let unit =
            unit_of(rt.unit).ok_or_else(|| fail(format!("unit {} has no SDK unit", rt.unit.0)))?;
        let multiplier = i8::try_from(rt.multiplier.0)
            .ok()
            .and_then(|e| UnitMultiplier::new(e).ok())
            .ok_or_else(|| fail(format!("multiplier {} is out of range", rt.multiplier.0)))?;
        let model = |e: platone_model::ModelError| fail(e.to_string());
        let interval = rt
            .interval_seconds()
            .map(MeasuringPeriod::from_seconds)
            .transpose()
            .map_err(model)?;
        let quality = self
            .qualities
            .iter()
            .map(|q| ReadingQualityCode::parse(q).flags())
            .fold(Quality::GOOD, |acc, q| {
                q.flags().fold(acc, |acc, flag| acc.with(flag))
            });
        let mut m = Measurement::new(
            DeviceId::new(source).map_err(model)?,
            timestamp,
            kind,
            unit,
            value,
        )
        .map_err(model)?
        .with_multiplier(multiplier)
        .with_phases(rt.phases.phase_set())
        .with_direction(direction_of(rt.flow_direction))
        .with_accumulation(accumulation_of(rt.accumulation), interval)
        .with_aggregate(aggregate_of(rt.aggregate))
        .with_quality(quality)
        .with_channel(code.canonical())
        .map_err(model)?;
        if let Some(meter) = meter {
            m = m.with_meter(MeterId::new(meter).map_err(model)?);
        }
        if let Some(up) = &self.usage_point {
            m = m.with_usage_point(UsagePointId::new(up.as_str()).map_err(model)?);
        }
        Ok(m)
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
        super::record::records_of(self)
            .into_iter()
            .filter_map(|r| match r {
                super::record::Record::Reading(r) => Some(r.to_measurement()),
                super::record::Record::Event(_) => None,
            })
            .collect()
    }
}

impl MeterReadingsDocument {
    /// Every reading of the document as a measurement, one result per reading.
    pub fn measurements(&self) -> Vec<Result<Measurement, MeterReadingsError>> {
        self.meter_readings
            .iter()
            .flat_map(MeterReading::measurements)
            .collect()
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
}
