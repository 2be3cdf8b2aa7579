//! Measurement queries, pages and interval aggregates.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use platone_model::{
    ComponentId, DeviceId, Measurement, MeasurementKind, MeterId, PodId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ScdError};
use crate::records::{CertificationRef, Resource};
use crate::row::{to_ns, utc_from_ns};

/// Largest page a query returns.
pub const MAX_PAGE: usize = 100_000;

/// Which measurements to read: any combination of PoD, meter, device (source), grid component
/// and kind, a half-open time range `[from, to)`, and pagination. Results come in time order.
///
/// A participant's query must name at least one of PoD, meter or device; each one named is
/// checked against the access policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasurementQuery {
    /// Only this PoD.
    pub pod: Option<PodId>,
    /// Only this meter.
    pub meter: Option<MeterId>,
    /// Only this source device.
    pub device: Option<DeviceId>,
    /// Only this grid component.
    pub component: Option<ComponentId>,
    /// Only this kind.
    pub kind: Option<MeasurementKind>,
    /// From this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Up to this instant (exclusive).
    pub to: Option<Timestamp>,
    /// Continue after this position (from a previous [`Page::next`]).
    pub after: Option<PageToken>,
    /// At most this many results (default and maximum [`MAX_PAGE`]).
    pub limit: Option<usize>,
}

impl MeasurementQuery {
    /// A query for one PoD.
    pub fn pod(pod: PodId) -> Self {
        MeasurementQuery {
            pod: Some(pod),
            ..Self::default()
        }
    }

    /// A query for one meter.
    pub fn meter(meter: MeterId) -> Self {
        MeasurementQuery {
            meter: Some(meter),
            ..Self::default()
        }
    }

    /// A query for one device.
    pub fn device(device: DeviceId) -> Self {
        MeasurementQuery {
            device: Some(device),
            ..Self::default()
        }
    }

    /// Restricts to `[from, to)`.
    #[must_use]
    pub fn between(mut self, from: Timestamp, to: Timestamp) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The resources the query names, each checked by the access policy.
    pub fn resources(&self) -> Vec<Resource> {
        let mut r = Vec::new();
        if let Some(p) = &self.pod {
            r.push(Resource::Pod(p.clone()));
        }
        if let Some(m) = &self.meter {
            r.push(Resource::Meter(m.clone()));
        }
        if let Some(d) = &self.device {
            r.push(Resource::Device(d.clone()));
        }
        r
    }

    /// A text description of the query scope for the audit log.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.resources().iter().map(ToString::to_string).collect();
        if let Some(c) = &self.component {
            parts.push(format!("component/{c}"));
        }
        if let Some(k) = self.kind {
            parts.push(format!("kind={k}"));
        }
        if let Some(f) = &self.from {
            parts.push(format!("from={}", platone_model::format_timestamp(f)));
        }
        if let Some(t) = &self.to {
            parts.push(format!("to={}", platone_model::format_timestamp(t)));
        }
        if parts.is_empty() {
            "all measurements".into()
        } else {
            parts.join(" ")
        }
    }

    /// The bounds in UTC nanoseconds: `[from, to)`.
    pub(crate) fn bounds(&self) -> Result<(i64, i64)> {
        let from = match &self.from {
            Some(t) => to_ns(t, || "query bound `from`".into())?,
            None => i64::MIN,
        };
        let to = match &self.to {
            Some(t) => to_ns(t, || "query bound `to`".into())?,
            None => i64::MAX,
        };
        Ok((from, to))
    }

    /// The page size to use.
    pub(crate) fn page_size(&self) -> usize {
        self.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE)
    }
}

/// Where a page ended: the next query continues after it. Its text form is opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageToken {
    pub(crate) ts_ns: i64,
    pub(crate) series_id: i64,
}

impl fmt::Display for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.ts_ns, self.series_id)
    }
}

impl FromStr for PageToken {
    type Err = ScdError;
    fn from_str(text: &str) -> Result<Self> {
        let bad = || ScdError::InvalidRecord {
            record: format!("page token {text:?}"),
            reason: "expected NANOS.SERIES".into(),
        };
        let (a, b) = text.split_once('.').ok_or_else(bad)?;
        Ok(PageToken {
            ts_ns: a.parse().map_err(|_| bad())?,
            series_id: b.parse().map_err(|_| bad())?,
        })
    }
}

/// A measurement as read back, with its certification reference when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMeasurement {
    /// The measurement, exactly as stored.
    pub measurement: Measurement,
    /// Where it is certified, once a certificate has been attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification: Option<CertificationRef>,
}

/// One page of query results, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The measurements.
    pub items: Vec<StoredMeasurement>,
    /// Set when more results may follow: pass it as [`MeasurementQuery::after`].
    pub next: Option<PageToken>,
}

/// The width of an aggregation interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// 15 minutes.
    FifteenMinutes,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
    /// Any whole number of seconds (downsampling of PMU and power series; intervals are
    /// aligned on the Unix epoch).
    Seconds(std::num::NonZeroU32),
}

impl Bucket {
    /// The width in nanoseconds.
    pub fn nanos(self) -> i64 {
        match self {
            Bucket::FifteenMinutes => 900_000_000_000,
            Bucket::Hour => 3_600_000_000_000,
            Bucket::Day => crate::row::DAY_NS,
            Bucket::Seconds(s) => i64::from(s.get()) * 1_000_000_000,
        }
    }
}

/// Sum, mean, minimum and maximum of one series over one interval, in plain units (multiplier
/// applied). Intervals are `(start, end]`, matching interval data stamped at its end (as in
/// CIM): the four quarter-hours stamped 00:15 … 01:00 make the hour that starts at 00:00.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalAggregate {
    /// The series key text.
    pub series: String,
    /// Start of the interval (exclusive), UTC.
    pub start: Timestamp,
    /// End of the interval (inclusive), UTC.
    pub end: Timestamp,
    /// How many values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Their mean.
    pub mean: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

/// Aggregates `items` per series and interval.
pub(crate) fn aggregate(items: &[StoredMeasurement], bucket: Bucket) -> Vec<IntervalAggregate> {
    let width = bucket.nanos();
    let mut groups: BTreeMap<(String, i64), (u64, f64, f64, f64)> = BTreeMap::new();
    for item in items {
        let m = &item.measurement;
        let Some(ns) = m.timestamp.timestamp_nanos_opt() else {
            continue;
        };
        let start = (ns - 1).div_euclid(width) * width;
        let v = m.base_value();
        let entry = groups
            .entry((m.series_key().to_string(), start))
            .or_insert((0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        entry.0 += 1;
        entry.1 += v;
        entry.2 = entry.2.min(v);
        entry.3 = entry.3.max(v);
    }
    groups
        .into_iter()
        .map(
            |((series, start), (count, sum, min, max))| IntervalAggregate {
                series,
                start: utc_from_ns(start),
                end: utc_from_ns(start + width),
                count,
                sum,
                mean: sum / count as f64,
                min,
                max,
            },
        )
        .collect()
}
