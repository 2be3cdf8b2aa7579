//! How a [`Measurement`] is laid out in the tables: a `series` row per series key and a
//! measurement row per instant (UTC nanoseconds plus the source's offset, so the timestamp
//! comes back exactly as it was given).

use chrono::{DateTime, FixedOffset};
use platone_model::{
    Accumulation, Aggregate, ComponentId, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, PhaseSet, PodId, Quality, QualityFlag, Timestamp, Unit,
    UnitMultiplier, UsagePointId, format_timestamp,
};

use std::sync::Arc;

use crate::error::{Result, ScdError};

/// Nanoseconds in a UTC day.
pub(crate) const DAY_NS: i64 = 86_400_000_000_000;

/// The columns of a `series` row.
#[derive(Debug, Clone)]
pub(crate) struct SeriesColumns {
    pub key: String,
    pub source: String,
    pub meter: Option<String>,
    pub component: Option<String>,
    pub channel: Option<String>,
    pub kind: &'static str,
    pub unit: &'static str,
    pub phases: String,
    pub direction: &'static str,
    pub accumulation: &'static str,
    pub interval: Option<i64>,
    pub aggregate: &'static str,
}

/// The columns of a measurement row (besides its series id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueColumns {
    pub ts_ns: i64,
    pub offset_s: i32,
    pub pod: Option<String>,
    pub usage_point: Option<String>,
    pub value: f64,
    pub multiplier: i16,
    pub quality: i32,
}

/// A measurement ready to be written. Consecutive measurements of one series share their
/// series columns.
#[derive(Debug, Clone)]
pub(crate) struct EncodedMeasurement {
    pub series: Arc<SeriesColumns>,
    pub values: ValueColumns,
}

/// The UTC nanoseconds of `t`, or an error naming `record`.
pub(crate) fn to_ns(t: &Timestamp, record: impl FnOnce() -> String) -> Result<i64> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| ScdError::InvalidRecord {
            record: record(),
            reason: "timestamp outside the years 1677–2262 the store can hold".into(),
        })
}

/// The timestamp for UTC nanoseconds `ns` shown at offset `offset_s`.
pub(crate) fn from_ns(ns: i64, offset_s: i32) -> Result<Timestamp> {
    let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| ScdError::Corrupt {
        record: format!("timestamp {ns}"),
        reason: format!("UTC offset {offset_s} s out of range"),
    })?;
    Ok(DateTime::from_timestamp_nanos(ns).with_timezone(&offset))
}

/// The UTC timestamp for nanoseconds `ns`.
pub(crate) fn utc_from_ns(ns: i64) -> Timestamp {
    DateTime::from_timestamp_nanos(ns).fixed_offset()
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    chrono::Utc::now().fixed_offset()
}

pub(crate) fn quality_bits(q: Quality) -> i32 {
    q.flags()
        .map(|f| {
            let index = QualityFlag::ALL.iter().position(|x| *x == f).unwrap_or(0);
            1i32 << index
        })
        .sum()
}

fn quality_from_bits(bits: i32) -> Quality {
    let flags: Vec<QualityFlag> = QualityFlag::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, f)| *f)
        .collect();
    Quality::of(&flags)
}

/// A short name of measurement `m` for error messages.
pub(crate) fn describe(m: &Measurement) -> String {
    format!("{}@{}", m.series_key(), format_timestamp(&m.timestamp))
}

/// Whether `a` and `b` have the same series key (compared field by field, without building
/// the keys).
fn same_series(a: &Measurement, b: &Measurement) -> bool {
    a.source == b.source
        && a.meter == b.meter
        && a.component == b.component
        && a.channel == b.channel
        && a.kind == b.kind
        && a.unit == b.unit
        && a.phases == b.phases
        && a.direction == b.direction
        && a.accumulation == b.accumulation
        && a.interval == b.interval
        && a.aggregate == b.aggregate
}

fn series_columns(m: &Measurement) -> SeriesColumns {
    let key = m.series_key();
    SeriesColumns {
        key: key.to_string(),
        source: key.source.into_inner(),
        meter: key.meter.map(MeterId::into_inner),
        component: key.component.map(ComponentId::into_inner),
        channel: key.channel,
        kind: key.kind.as_str(),
        unit: key.unit.as_str(),
        phases: key.phases.to_string(),
        direction: key.direction.as_str(),
        accumulation: key.accumulation.as_str(),
        interval: key.interval.map(|p| i64::from(p.seconds())),
        aggregate: key.aggregate.as_str(),
    }
}

/// Checks that every backend can store `m` (a valid measurement whose timestamp lies in the
/// years 1677–2262) and gives its UTC nanoseconds; `index` is its position in the batch, named
/// in the error. A pipeline calls this before a bulk insert, to set aside (dead-letter) a
/// measurement that would fail the whole batch.
pub fn check_measurement(index: usize, m: &Measurement) -> Result<i64> {
    m.validate().map_err(|e| ScdError::InvalidRecord {
        record: format!("measurement {index} ({})", describe(m)),
        reason: e.to_string(),
    })?;
    to_ns(&m.timestamp, || {
        format!("measurement {index} ({})", describe(m))
    })
}

/// Splits `m` into its series and value columns; `index` is its position in the batch.
#[cfg(test)]
pub(crate) fn encode(index: usize, m: &Measurement) -> Result<EncodedMeasurement> {
    encode_with(index, m, Arc::new(series_columns(m)))
}

fn encode_with(
    index: usize,
    m: &Measurement,
    series: Arc<SeriesColumns>,
) -> Result<EncodedMeasurement> {
    let ts_ns = check_measurement(index, m)?;
    Ok(EncodedMeasurement {
        series,
        values: ValueColumns {
            ts_ns,
            offset_s: m.timestamp.offset().local_minus_utc(),
            pod: m.pod.as_ref().map(|p| p.as_str().to_owned()),
            usage_point: m.usage_point.as_ref().map(|u| u.as_str().to_owned()),
            value: m.value,
            multiplier: i16::from(i8::from(m.multiplier)),
            quality: quality_bits(m.quality),
        },
    })
}

/// Encodes a batch; a run of measurements of one series shares one set of series columns
/// (the series key is built once per run, not once per measurement).
pub(crate) fn encode_batch(batch: &[Measurement]) -> Result<Vec<EncodedMeasurement>> {
    let mut out: Vec<EncodedMeasurement> = Vec::with_capacity(batch.len());
    for (index, m) in batch.iter().enumerate() {
        let series = match (index.checked_sub(1).and_then(|i| batch.get(i)), out.last()) {
            (Some(prev), Some(e)) if same_series(prev, m) => Arc::clone(&e.series),
            _ => Arc::new(series_columns(m)),
        };
        out.push(encode_with(index, m, series)?);
    }
    Ok(out)
}

/// The value in plain units, as [`Measurement::base_value`] computes it.
pub(crate) fn base_value(value: f64, multiplier: i16) -> f64 {
    let m = i8::try_from(multiplier)
        .ok()
        .and_then(|e| UnitMultiplier::new(e).ok())
        .unwrap_or(UnitMultiplier::NONE);
    value * m.factor()
}

fn corrupt(key: &str, reason: impl std::fmt::Display) -> ScdError {
    ScdError::Corrupt {
        record: format!("series {key}"),
        reason: reason.to_string(),
    }
}

/// The stored series columns, as read back.
#[derive(Debug, Clone)]
pub(crate) struct StoredSeries {
    pub key: String,
    pub source: String,
    pub meter: Option<String>,
    pub component: Option<String>,
    pub channel: Option<String>,
    pub kind: String,
    pub unit: String,
    pub phases: String,
    pub direction: String,
    pub accumulation: String,
    pub interval: Option<i64>,
    pub aggregate: String,
}

/// Rebuilds a measurement from its stored columns.
#[cfg(test)]
pub(crate) fn decode(s: &StoredSeries, v: &ValueColumns) -> Result<Measurement> {
    SeriesTemplate::of(s)?.measurement(v)
}

/// A stored series, decoded once: every measurement of the series is this template with its
/// own instant, value, PoD, usage point, multiplier and quality.
#[derive(Debug, Clone)]
pub(crate) struct SeriesTemplate {
    key: String,
    template: Measurement,
}

impl SeriesTemplate {
    /// Decodes the series columns.
    pub fn of(s: &StoredSeries) -> Result<Self> {
        let key = s.key.as_str();
        let c = |e: platone_model::ModelError| corrupt(key, e);
        let interval = match s.interval {
            None => None,
            Some(secs) => Some(
                u32::try_from(secs)
                    .map_err(|e| corrupt(key, e))
                    .and_then(|secs| MeasuringPeriod::from_seconds(secs).map_err(c))?,
            ),
        };
        let template = Measurement {
            source: DeviceId::new(s.source.as_str()).map_err(c)?,
            meter: s
                .meter
                .as_deref()
                .map(MeterId::new)
                .transpose()
                .map_err(c)?,
            pod: None,
            usage_point: None,
            component: s
                .component
                .as_deref()
                .map(ComponentId::new)
                .transpose()
                .map_err(c)?,
            channel: s.channel.clone(),
            timestamp: utc_from_ns(0),
            kind: s.kind.parse::<MeasurementKind>().map_err(c)?,
            phases: s.phases.parse::<PhaseSet>().map_err(c)?,
            direction: s.direction.parse::<FlowDirection>().map_err(c)?,
            accumulation: s.accumulation.parse::<Accumulation>().map_err(c)?,
            interval,
            aggregate: s.aggregate.parse::<Aggregate>().map_err(c)?,
            unit: s.unit.parse::<Unit>().map_err(c)?,
            multiplier: UnitMultiplier::NONE,
            value: 0.0,
            quality: quality_from_bits(0),
        };
        Ok(SeriesTemplate {
            key: s.key.clone(),
            template,
        })
    }

    /// The measurement of this series with value columns `v`.
    pub fn measurement(&self, v: &ValueColumns) -> Result<Measurement> {
        let key = self.key.as_str();
        let c = |e: platone_model::ModelError| corrupt(key, e);
        let mut m = self.template.clone();
        m.multiplier = i8::try_from(v.multiplier)
            .map_err(|e| corrupt(key, e))
            .and_then(|e| UnitMultiplier::new(e).map_err(c))?;
        m.pod = v.pod.as_deref().map(PodId::new).transpose().map_err(c)?;
        m.usage_point = v
            .usage_point
            .as_deref()
            .map(UsagePointId::new)
            .transpose()
            .map_err(c)?;
        m.timestamp = from_ns(v.ts_ns, v.offset_s)?;
        m.value = v.value;
        m.quality = quality_from_bits(v.quality);
        m.validate().map_err(c)?;
        Ok(m)
    }
}

/// The UTC day (days since 1970-01-01) of nanoseconds `ns`.
#[cfg(any(feature = "postgres", test))]
pub(crate) fn day_of(ns: i64) -> i64 {
    ns.div_euclid(DAY_NS)
}

/// The `YYYYMMDD` name of UTC day `day`.
pub(crate) fn day_name(day: i64) -> String {
    utc_from_ns(day.saturating_mul(DAY_NS))
        .format("%Y%m%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::{PhaseSet, parse_timestamp};

    fn sample() -> Measurement {
        sample_at(
            parse_timestamp("2021-06-30T10:15:00.000000123+02:00").unwrap(),
            1.5,
        )
    }

    #[test]
    fn a_batch_shares_series_columns_per_run() {
        let a = sample();
        let mut b = sample_at(a.timestamp + chrono::Duration::minutes(15), 2.0);
        let e = encode_batch(&[a.clone(), b.clone()]).unwrap();
        assert!(Arc::ptr_eq(&e[0].series, &e[1].series));
        b.channel = Some("2.8.0".into());
        let e = encode_batch(&[a.clone(), b.clone(), a]).unwrap();
        assert_eq!(e[1].series.key, b.series_key().to_string());
        assert!(!Arc::ptr_eq(&e[0].series, &e[1].series));
        assert_eq!(e[0].series.key, e[2].series.key);
        let mut bad = sample();
        bad.value = f64::NAN;
        let err = encode_batch(&[sample(), bad]).unwrap_err();
        assert!(err.to_string().contains("measurement 1"), "{err}");
    }

    fn stored(e: &EncodedMeasurement) -> StoredSeries {
        StoredSeries {
            key: e.series.key.clone(),
            source: e.series.source.clone(),
            meter: e.series.meter.clone(),
            component: e.series.component.clone(),
            channel: e.series.channel.clone(),
            kind: e.series.kind.into(),
            unit: e.series.unit.into(),
            phases: e.series.phases.clone(),
            direction: e.series.direction.into(),
            accumulation: e.series.accumulation.into(),
            interval: e.series.interval,
            aggregate: e.series.aggregate.into(),
        }
    }

    fn sample_at(ts: Timestamp, value: f64) -> Measurement {
        Measurement::new(
            DeviceId::new("ln-1").unwrap(),
            ts,
            MeasurementKind::Energy,
            Unit::WattHour,
            value,
        )
        .unwrap()
        .with_meter(MeterId::new("m-1").unwrap())
        .with_pod(PodId::new("p-1").unwrap())
        .with_multiplier(UnitMultiplier::KILO)
        .with_phases(PhaseSet::ABC)
        .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
        .with_quality(Quality::of(&[QualityFlag::Estimated]))
        .with_channel("1.8.0")
        .unwrap()
    }

    #[test]
    fn encode_decode_round_trip_keeps_everything() {
        let m = sample();
        let e = encode(0, &m).unwrap();
        let back = decode(&stored(&e), &e.values).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            format_timestamp(&back.timestamp),
            "2021-06-30T10:15:00.000000123+02:00"
        );
    }

    #[test]
    fn day_names_are_utc() {
        let ns = to_ns(
            &parse_timestamp("2021-07-01T01:00:00+02:00").unwrap(),
            String::new,
        )
        .unwrap();
        assert_eq!(day_name(day_of(ns)), "20210630");
    }

    proptest::proptest! {
        #[test]
        fn stored_columns_round_trip(
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
            secs in -2_000_000_000i64..4_000_000_000,
            nanos in 0u32..1_000_000_000,
            offset_min in -840i32..=840,
            exponent in -12i8..=12,
            interval in proptest::option::of(1u32..100_000),
            quality_bits in 0usize..64,
        ) {
            let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
            let ts = DateTime::from_timestamp(secs, nanos).unwrap().with_timezone(&offset);
            let flags: Vec<QualityFlag> = QualityFlag::ALL.iter().enumerate()
                .filter(|(i, _)| quality_bits & (1 << (i % 6)) != 0).map(|(_, f)| *f).collect();
            let m = sample_at(ts, value)
                .with_multiplier(UnitMultiplier::new(exponent).unwrap())
                .with_accumulation(Accumulation::Delta, interval.map(|s| MeasuringPeriod::from_seconds(s).unwrap()))
                .with_quality(Quality::of(&flags));
            let e = encode(3, &m).unwrap();
            let back = decode(&stored(&e), &e.values).unwrap();
            proptest::prop_assert_eq!(&back, &m);
            proptest::prop_assert_eq!(format_timestamp(&back.timestamp), format_timestamp(&m.timestamp));
        }
    }
}
