//! What the platform reads from the Shared Customer Database: the PoD registry, to check the
//! location of every order (D2.2 FR_MP_I_1), and metered data, to settle accepted offers and
//! compute their baselines (FR-MP-SET-03..06).
//!
//! [`GridData`] is the platform's own small trait; [`ScdGridData`] implements it over any
//! `platone-scd` backend (SQLite or PostgreSQL).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use platone_model::{FlowDirection, MeasurementKind, PodId, Unit};
use platone_scd::{Backend, MeasurementQuery, Principal, Resource, Store};

use crate::error::{PlatformError, Result};

/// A PoD as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEntry {
    /// The DSO operating the grid the PoD is connected to.
    pub dso: String,
    /// The aggregators serving the PoD, each with its validity `[from, to)`.
    pub aggregators: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl PodEntry {
    /// Whether `aggregator` serves the PoD at `at`.
    pub fn served_by(&self, aggregator: &str, at: DateTime<Utc>) -> bool {
        self.aggregators
            .iter()
            .any(|(a, from, to)| a == aggregator && *from <= at && to.is_none_or(|to| at < to))
    }
}

/// The PoD registry and metered data, as the platform reads them.
///
/// The contract an implementer keeps: [`GridData::pod`] answers `None` for a PoD that is not
/// registered (an error is for a registry that cannot be read); [`GridData::net_consumption`]
/// gives, per interval of `step_minutes` from `from`, the PoD's mean net active power drawn
/// from the grid in watts (import positive, export negative), `None` for an interval without
/// readings; both may be called concurrently.
pub trait GridData: Send + Sync {
    /// The PoD's registry entry, if registered.
    fn pod<'a>(&'a self, pod: &'a str) -> BoxFuture<'a, Result<Option<PodEntry>>>;

    /// Mean net consumption (W) of `pod` per interval.
    fn net_consumption<'a>(
        &'a self,
        pod: &'a str,
        from: DateTime<Utc>,
        step_minutes: u32,
        intervals: usize,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>>>;
}

/// [`GridData`] over a `platone-scd` backend, read as the store's operator.
///
/// Energy interval readings (Wh with their interval, time-stamped at the interval's end, as
/// CIM has them) are summed per interval and divided by its length; where an interval has
/// none, power readings (W) in it are averaged. `forward` is import, `reverse` export, `net`
/// and `not_applicable` are taken as signed net import; `total` readings are left out.
#[derive(Clone)]
pub struct ScdGridData {
    store: Arc<dyn Backend>,
}

impl std::fmt::Debug for ScdGridData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScdGridData").finish_non_exhaustive()
    }
}

impl ScdGridData {
    /// Reads `store`.
    pub fn new(store: Arc<dyn Backend>) -> Self {
        ScdGridData { store }
    }
}

fn scd(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::GridData(e.to_string())
}

fn pod_id(pod: &str) -> Result<PodId> {
    PodId::new(pod).map_err(|e| PlatformError::invalid("location", format!("{pod:?}: {e}")))
}

fn utc(t: &platone_model::Timestamp) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

impl GridData for ScdGridData {
    fn pod<'a>(&'a self, pod: &'a str) -> BoxFuture<'a, Result<Option<PodEntry>>> {
        Box::pin(async move {
            let id = pod_id(pod)?;
            let Some(record) = self.store.pod_record(&id).await.map_err(scd)? else {
                return Ok(None);
            };
            let links = self.store.links_of(&Resource::Pod(id)).await.map_err(scd)?;
            let aggregators = links
                .into_iter()
                .filter_map(|l| {
                    let a = l.aggregator?;
                    Some((
                        a.as_str().to_owned(),
                        utc(&l.valid_from),
                        l.valid_to.as_ref().map(utc),
                    ))
                })
                .collect();
            Ok(Some(PodEntry {
                dso: record.dso.as_str().to_owned(),
                aggregators,
            }))
        })
    }

    fn net_consumption<'a>(
        &'a self,
        pod: &'a str,
        from: DateTime<Utc>,
        step_minutes: u32,
        intervals: usize,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>>> {
        Box::pin(async move {
            let step = TimeDelta::minutes(i64::from(step_minutes.max(1)));
            let count = i32::try_from(intervals).map_err(scd)?;
            let to = from + step * count;
            let mut energy = vec![(0.0, false); intervals];
            let mut power = vec![(0.0, 0usize); intervals];
            let mut query = MeasurementQuery {
                pod: Some(pod_id(pod)?),
                from: Some(from.fixed_offset()),
                // Interval readings are stamped at their end: the last one ends at `to`.
                to: Some((to + TimeDelta::seconds(1)).fixed_offset()),
                ..MeasurementQuery::default()
            };
            loop {
                let page = self
                    .store
                    .query_measurements(&Principal::Operator, &query)
                    .await
                    .map_err(scd)?;
                for stored in &page.items {
                    let m = &stored.measurement;
                    let sign = match m.direction {
                        FlowDirection::Forward
                        | FlowDirection::Net
                        | FlowDirection::NotApplicable => 1.0,
                        FlowDirection::Reverse => -1.0,
                        _ => continue,
                    };
                    let value = sign * m.value * m.multiplier.factor();
                    let at = utc(&m.timestamp);
                    match (m.kind, m.unit, m.interval) {
                        (MeasurementKind::Energy, Unit::WattHour, Some(period)) => {
                            let seconds = i64::from(period.seconds());
                            let start = at - TimeDelta::seconds(seconds);
                            if start < from || at > to {
                                continue;
                            }
                            let slot = (start - from).num_seconds() / step.num_seconds();
                            let end_slot = (at - from - TimeDelta::seconds(1)).num_seconds()
                                / step.num_seconds();
                            if slot != end_slot {
                                continue; // spans two intervals: not attributable
                            }
                            if let Some(e) =
                                usize::try_from(slot).ok().and_then(|i| energy.get_mut(i))
                            {
                                e.0 += value;
                                e.1 = true;
                            }
                        }
                        (MeasurementKind::Power | MeasurementKind::Demand, Unit::Watt, _) => {
                            if at < from || at >= to {
                                continue;
                            }
                            let slot = (at - from).num_seconds() / step.num_seconds();
                            if let Some(p) =
                                usize::try_from(slot).ok().and_then(|i| power.get_mut(i))
                            {
                                p.0 += value;
                                p.1 += 1;
                            }
                        }
                        _ => {}
                    }
                }
                match page.next {
                    Some(next) => query.after = Some(next),
                    None => break,
                }
            }
            let hours = step.num_seconds() as f64 / 3600.0;
            Ok(energy
                .into_iter()
                .zip(power)
                .map(|((wh, has_energy), (w, n))| {
                    if has_energy {
                        Some(wh / hours)
                    } else if n > 0 {
                        Some(w / n as f64)
                    } else {
                        None
                    }
                })
                .collect())
        })
    }
}
