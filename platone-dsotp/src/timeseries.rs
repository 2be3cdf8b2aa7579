//! Time-series storage: everything the databus carries in measurement envelopes is stored in
//! the SCD's store ([`platone_scd::Store`]: SQLite by default, PostgreSQL when configured) and
//! read back by series and time range, raw or downsampled (the role Telegraf, InfluxDB and
//! Grafana have in SOGNO).
//!
//! The [`TimeSeriesRecorder`] subscribes to its filters (by default the BAL's devices and the
//! power service's output), collects the measurements of many messages into one transaction
//! (up to [`RecorderOptions::batch_size`] measurements or [`RecorderOptions::batch_window`]),
//! and acknowledges each message only once its measurements are committed. Stores are
//! idempotent, so a message delivered again changes nothing. A store that fails is tried again
//! with back-off while the bus holds the rest (back-pressure, shown by
//! [`ServiceCounters::failing`]); a batch the store refuses as invalid is stored message by
//! message and only the refused message is dead-lettered on `{dead_letters}/timeseries`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use platone_bus::{Bus, Message, QoS, Subscription};
use platone_model::{ComponentId, DeviceId, Measurement, MeasurementKind, Timestamp};
use platone_scd::{
    Bucket, IntervalAggregate, MeasurementQuery, PageToken, Principal, ScdError, Store,
    StoredMeasurement,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::consumer::{Handled, ServiceCounters, backoff, consume};
use crate::error::{DsotpError, Result};
use crate::message::DeviceMeasurements;
use crate::topics::DsotpTopics;

/// Options of the recorder.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Topic filters to record (`None`: `{devices}/#` and `{power}/#`).
    pub filters: Option<Vec<String>>,
    /// The topics (for the defaults and the dead letters).
    pub topics: DsotpTopics,
    /// Most measurements in one transaction.
    pub batch_size: usize,
    /// Longest a measurement waits for its batch to fill.
    pub batch_window: Duration,
    /// Messages in flight (read, not yet committed).
    pub max_in_flight: usize,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            filters: None,
            topics: DsotpTopics::default(),
            // Large transactions: each commit rewrites about one page per series it touches,
            // so more rows per series per transaction is what lowers the cost per row.
            batch_size: 32_768,
            batch_window: Duration::from_millis(20),
            max_in_flight: 4096,
        }
    }
}

/// What the recorder stored.
#[derive(Debug, Default)]
pub struct RecorderCounts {
    /// Measurements newly stored.
    pub inserted: AtomicU64,
    /// Measurements that were stored already (redeliveries).
    pub duplicates: AtomicU64,
    /// Measurements whose series and time were stored with another value (the stored value
    /// is kept, each is logged).
    pub conflicts: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
}

/// A snapshot of [`RecorderCounts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecorderStatus {
    /// Measurements newly stored.
    pub inserted: u64,
    /// Measurements stored already.
    pub duplicates: u64,
    /// Measurements in conflict with stored values.
    pub conflicts: u64,
    /// Transactions committed.
    pub batches: u64,
}

impl RecorderCounts {
    /// The counts now.
    pub fn status(&self) -> RecorderStatus {
        RecorderStatus {
            inserted: self.inserted.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }
}

/// A message's measurements waiting for their transaction.
struct Pending {
    measurements: Vec<Measurement>,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

/// Records the databus's measurements in the store.
pub struct TimeSeriesRecorder {
    store: Arc<dyn Store>,
    options: RecorderOptions,
    counters: Arc<ServiceCounters>,
    counts: Arc<RecorderCounts>,
}

impl std::fmt::Debug for TimeSeriesRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeSeriesRecorder")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TimeSeriesRecorder {
    /// A recorder into `store`.
    pub fn new(store: Arc<dyn Store>, options: RecorderOptions) -> Self {
        TimeSeriesRecorder {
            store,
            options,
            counters: Arc::default(),
            counts: Arc::default(),
        }
    }

    /// Its bus counters.
    pub fn counters(&self) -> Arc<ServiceCounters> {
        self.counters.clone()
    }

    /// What it stored.
    pub fn counts(&self) -> Arc<RecorderCounts> {
        self.counts.clone()
    }

    /// The filters it records.
    pub fn filters(&self) -> Vec<String> {
        let t = &self.options.topics;
        self.options
            .filters
            .clone()
            .unwrap_or_else(|| vec![format!("{}/#", t.devices), format!("{}/#", t.power)])
    }

    /// Subscribes to the filters on `bus` and records until the subscriptions end.
    pub async fn run(&self, bus: Arc<dyn Bus>) -> Result<()> {
        let subscriptions = self.subscribe(bus.as_ref()).await?;
        self.serve(bus, subscriptions).await;
        Ok(())
    }

    /// Subscribes, then records on a task: once this returns, nothing published to the
    /// filters is missed.
    pub async fn start(self: Arc<Self>, bus: Arc<dyn Bus>) -> Result<JoinHandle<()>> {
        let subscriptions = self.subscribe(bus.as_ref()).await?;
        Ok(tokio::spawn(
            async move { self.serve(bus, subscriptions).await },
        ))
    }

    async fn subscribe(&self, bus: &dyn Bus) -> Result<Vec<Subscription>> {
        let mut subscriptions = Vec::new();
        // A group per filter: on Kafka the filters may share a topic.
        for (k, filter) in self.filters().iter().enumerate() {
            let parsed = self
                .options
                .topics
                .subscription(&format!("timeseries-{}", k + 1), filter)?;
            subscriptions.push(
                bus.subscribe(parsed, QoS::AtLeastOnce)
                    .await
                    .map_err(DsotpError::bus)?,
            );
        }
        Ok(subscriptions)
    }

    async fn serve(&self, bus: Arc<dyn Bus>, readers: Vec<Subscription>) {
        let (tx, rx) = mpsc::channel::<Pending>(self.options.max_in_flight.max(1));
        let writer = tokio::spawn(write_batches(
            self.store.clone(),
            rx,
            self.options.batch_size.max(1),
            self.options.batch_window,
            self.counters.clone(),
            self.counts.clone(),
        ));
        let dead_letters = format!("{}/timeseries", self.options.topics.dead_letters);
        let reads = readers.into_iter().map(|subscription| {
            let tx = tx.clone();
            let bus = bus.clone();
            let dead_letters = dead_letters.clone();
            async move {
                let handler = |message: Message| {
                    let tx = tx.clone();
                    async move {
                        let envelope = match DeviceMeasurements::from_json(&message.payload) {
                            Ok(m) => m,
                            Err(e) => return Handled::Unusable(e.to_string()),
                        };
                        if envelope.measurements.is_empty() {
                            return Handled::Done;
                        }
                        let (done, committed) = oneshot::channel();
                        let pending = Pending {
                            measurements: envelope.measurements,
                            done,
                        };
                        if tx.send(pending).await.is_err() {
                            // The writer has stopped: leave the message unacknowledged.
                            std::future::pending::<()>().await;
                        }
                        match committed.await {
                            Ok(Ok(())) => Handled::Done,
                            Ok(Err(reason)) => Handled::Unusable(reason),
                            Err(_) => std::future::pending().await,
                        }
                    }
                };
                consume(
                    subscription,
                    self.options.max_in_flight,
                    bus.as_ref(),
                    &dead_letters,
                    &self.counters,
                    handler,
                )
                .await;
            }
        });
        futures::future::join_all(reads).await;
        drop(tx);
        let _ = writer.await;
    }
}

/// Whether a store error is about the data (never tried again) rather than the store.
fn refuses_data(e: &ScdError) -> bool {
    matches!(
        e,
        ScdError::InvalidRecord { .. } | ScdError::Conflict { .. }
    )
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Pending>,
    batch_size: usize,
    window: Duration,
    counters: Arc<ServiceCounters>,
    counts: Arc<RecorderCounts>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut size = batch[0].measurements.len();
        let deadline = tokio::time::Instant::now() + window;
        while size < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => {
                    size += p.measurements.len();
                    batch.push(p);
                }
                _ => break,
            }
        }
        // The power service republishes each PMU message's measurements with the power it
        // computed, so a batch often holds a measurement twice: it goes to the store once
        // (and is counted as a duplicate, as the store would count it).
        let (all, repeated) = distinct(&batch);
        counts.duplicates.fetch_add(repeated, Ordering::Relaxed);
        match insert(&*store, &all, &counters, &counts).await {
            Ok(()) => {
                for p in batch {
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(_) => {
                // One message spoils the batch: store them one by one, refuse only the bad.
                for p in batch {
                    let answer = insert(&*store, &p.measurements, &counters, &counts)
                        .await
                        .map_err(|e| format!("refused by the store: {e}"));
                    let _ = p.done.send(answer);
                }
            }
        }
    }
}

/// The batch's measurements, each identical one once, and how many were left out.
fn distinct(batch: &[Pending]) -> (Vec<Measurement>, u64) {
    let size = batch.iter().map(|p| p.measurements.len()).sum();
    let mut seen = std::collections::HashSet::with_capacity(size);
    let mut all = Vec::with_capacity(size);
    let mut repeated = 0u64;
    for m in batch.iter().flat_map(|p| &p.measurements) {
        if seen.insert(Identical(m)) {
            all.push(m.clone());
        } else {
            repeated += 1;
        }
    }
    (all, repeated)
}

/// A measurement equal only to an identical one (values are finite, so `==` is an
/// equivalence), hashed by its source, channel, component, kind and time.
struct Identical<'a>(&'a Measurement);

impl PartialEq for Identical<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Identical<'_> {}

impl std::hash::Hash for Identical<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let m = self.0;
        m.source.as_str().hash(state);
        m.channel.hash(state);
        m.component.as_ref().map(|c| c.as_str()).hash(state);
        m.kind.hash(state);
        m.timestamp.hash(state);
    }
}

/// Inserts, trying again while the store fails; `Err` only when the store refuses the data.
async fn insert(
    store: &dyn Store,
    batch: &[Measurement],
    counters: &ServiceCounters,
    counts: &RecorderCounts,
) -> std::result::Result<(), ScdError> {
    let mut attempt = 0u32;
    loop {
        match store.insert_measurements(batch).await {
            Ok(report) => {
                if attempt > 0 {
                    counters.recovered();
                }
                counts.batches.fetch_add(1, Ordering::Relaxed);
                counts
                    .inserted
                    .fetch_add(report.inserted, Ordering::Relaxed);
                counts
                    .duplicates
                    .fetch_add(report.duplicates, Ordering::Relaxed);
                for c in &report.conflicts {
                    tracing::warn!(
                        "{} at {}: stored {} kept, {} refused",
                        c.series,
                        c.timestamp,
                        c.stored,
                        c.offered
                    );
                }
                counts
                    .conflicts
                    .fetch_add(report.conflicts.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) if refuses_data(&e) => return Err(e),
            Err(e) => {
                tracing::warn!("storing {} measurements: {e} (trying again)", batch.len());
                counters.retrying(format!("store: {e}"));
                tokio::time::sleep(backoff(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// The longest range a downsampled query may span, days.
pub const MAX_DOWNSAMPLED_DAYS: i64 = 31;

/// A time-series query: which series, which time range, raw or downsampled (`every`: then
/// `from` and `to` are required and at most [`MAX_DOWNSAMPLED_DAYS`] apart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// Only this source device.
    #[serde(default)]
    pub device: Option<String>,
    /// Only this grid component.
    #[serde(default)]
    pub component: Option<String>,
    /// Only this kind (`voltage`, `power`…).
    #[serde(default)]
    pub kind: Option<String>,
    /// From (inclusive, RFC 3339).
    #[serde(default)]
    pub from: Option<String>,
    /// To (exclusive, RFC 3339).
    #[serde(default)]
    pub to: Option<String>,
    /// Downsample into intervals of this many seconds (mean, min, max, count per series).
    #[serde(default)]
    pub every: Option<u32>,
    /// Continue after this page token (raw queries).
    #[serde(default)]
    pub after: Option<String>,
    /// Page size (raw queries).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The answer to a [`SeriesQuery`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SeriesAnswer {
    /// Raw measurements, in time order.
    Raw {
        /// The measurements.
        items: Vec<StoredMeasurement>,
        /// The token for the next page, when more may follow.
        next: Option<String>,
    },
    /// Intervals per series.
    Downsampled {
        /// The intervals, per series then time.
        intervals: Vec<IntervalAggregate>,
    },
}

impl SeriesQuery {
    /// The store query it makes; errors name the parameter.
    pub fn to_store_query(&self) -> Result<MeasurementQuery> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<Timestamp>> {
            v.as_deref()
                .map(|t| {
                    platone_model::parse_timestamp(t).map_err(|e| DsotpError::invalid(name, e))
                })
                .transpose()
        };
        let mut q = MeasurementQuery {
            device: self
                .device
                .as_deref()
                .map(|d| DeviceId::new(d).map_err(|e| DsotpError::invalid("device", e)))
                .transpose()?,
            component: self
                .component
                .as_deref()
                .map(|c| ComponentId::new(c).map_err(|e| DsotpError::invalid("component", e)))
                .transpose()?,
            kind: self
                .kind
                .as_deref()
                .map(|k| {
                    serde_json::from_value::<MeasurementKind>(serde_json::Value::String(k.into()))
                        .map_err(|e| DsotpError::invalid("kind", e))
                })
                .transpose()?,
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            limit: self.limit,
            ..MeasurementQuery::default()
        };
        if let (Some(f), Some(t)) = (&q.from, &q.to)
            && f >= t
        {
            return Err(DsotpError::invalid("to", "not after from"));
        }
        if let Some(a) = &self.after {
            q.after = Some(
                a.parse::<PageToken>()
                    .map_err(|e| DsotpError::invalid("after", e))?,
            );
        }
        Ok(q)
    }

    /// Runs the query on `store` as `who`.
    pub async fn run(&self, store: &dyn Store, who: &Principal) -> Result<SeriesAnswer> {
        let q = self.to_store_query()?;
        match self.every {
            Some(seconds) => {
                let every = NonZeroU32::new(seconds)
                    .ok_or_else(|| DsotpError::invalid("every", "must be at least 1 second"))?;
                // Downsampling reads the whole range: it must be given, and bounded.
                let (Some(from), Some(to)) = (q.from, q.to) else {
                    return Err(DsotpError::invalid(
                        if q.from.is_none() { "from" } else { "to" },
                        "a downsampled query (every) needs from and to",
                    ));
                };
                if to - from > chrono::TimeDelta::days(MAX_DOWNSAMPLED_DAYS) {
                    return Err(DsotpError::invalid(
                        "to",
                        format!("a downsampled query spans at most {MAX_DOWNSAMPLED_DAYS} days"),
                    ));
                }
                let intervals = store
                    .aggregate_measurements(who, &q, Bucket::Seconds(every))
                    .await
                    .map_err(DsotpError::store)?;
                Ok(SeriesAnswer::Downsampled { intervals })
            }
            None => {
                let page = store
                    .query_measurements(who, &q)
                    .await
                    .map_err(DsotpError::store)?;
                Ok(SeriesAnswer::Raw {
                    items: page.items,
                    next: page.next.map(|t| t.to_string()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::{DeviceId, Unit};

    #[test]
    fn identical_measurements_in_a_batch_are_stored_once() {
        let m = |value: f64| {
            Measurement::new(
                DeviceId::new("pmu-1").unwrap(),
                platone_model::parse_timestamp("2024-01-01T00:00:00Z").unwrap(),
                MeasurementKind::Voltage,
                Unit::Volt,
                value,
            )
            .unwrap()
        };
        let pending = |measurements| Pending {
            measurements,
            done: oneshot::channel().0,
        };
        let batch = vec![pending(vec![m(230.0)]), pending(vec![m(230.0), m(231.0)])];
        let (all, repeated) = distinct(&batch);
        // The conflicting value is left to the store, which keeps the first and reports it.
        assert_eq!(all, vec![m(230.0), m(231.0)]);
        assert_eq!(repeated, 1);
    }
}
