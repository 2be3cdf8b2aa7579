//! The PostgreSQL backend for deployments.
//!
//! Measurements live in a table partitioned by UTC day on `ts_ns` (one partition per day,
//! created on first use), so retention drops whole partitions. Bulk loads use binary `COPY`:
//! rows of series the loading transaction creates go straight into the table (they cannot
//! meet a stored row); the others go into a session staging table, then one
//! `INSERT … ON CONFLICT DO NOTHING`, and those not inserted are compared with the stored rows.

mod certifications;
mod ops;
mod schema;
mod set_points;
mod subscriptions;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::backend::{
    AuditLog, CertificationStore, MeasurementStore, PodRegistry, Retention, SetPointStore,
    StoreFuture, SubscriptionStore,
};
use crate::error::{PgContext, Result, ScdError};
use crate::period::Periods;
use crate::policy::Decision;
use crate::query::{MeasurementQuery, Page, StoredMeasurement};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription, SubscriptionStatus,
};
use crate::retention::{ArchiveManifest, ArchiveWriter, cutoff_ns};
use crate::row::{DAY_NS, day_of, encode_batch, to_ns, utc_from_ns};
use crate::store::InsertReport;

struct Inner {
    pool: Pool,
    series: Mutex<HashMap<String, i64>>,
    partitions: Mutex<HashSet<i64>>,
}

/// The PostgreSQL store. Cheap to clone (shared pool).
///
/// ```no_run
/// use platone_scd::{PostgresStore, Store};
/// # async fn run() -> Result<(), platone_scd::ScdError> {
/// let store = PostgresStore::connect("postgres://scd@127.0.0.1:5432/scd").await?;
/// let report = store.insert_measurements(&[]).await?;
/// assert_eq!(report.inserted, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ScdError::Task("a store lock was poisoned by a panic".into()))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, as
    /// libpq accepts it) and creates the schema if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(|_| ScdError::InvalidUrl {
            url: url.into(),
            reason: "not a PostgreSQL connection string",
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| ScdError::Pool(e.to_string()))?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                series: Mutex::new(HashMap::new()),
                partitions: Mutex::new(HashSet::new()),
            }),
        };
        let mut client = store.client().await?;
        let tx = client.transaction().await.pg("beginning schema creation")?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::DDL_LOCK])
            .await
            .pg("locking for schema creation")?;
        certifications::create_schema(&tx, schema::SCHEMA).await?;
        tx.commit().await.pg("committing the schema")?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| ScdError::Pool(e.to_string()))
    }

    /// Runs `f` with a pooled connection.
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T>,
    ) -> Result<T> {
        let client = self.client().await?;
        f(&client).await
    }

    async fn insert_once(
        &self,
        encoded: &[crate::row::EncodedMeasurement],
    ) -> Result<InsertReport> {
        let days: BTreeSet<i64> = {
            let known = lock(&self.inner.partitions)?;
            encoded
                .iter()
                .map(|e| day_of(e.values.ts_ns))
                .filter(|d| !known.contains(d))
                .collect()
        };
        let mut client = self.client().await?;
        if !days.is_empty() {
            ops::ensure_partitions(&mut client, &days).await?;
            lock(&self.inner.partitions)?.extend(days);
        }
        let cache = lock(&self.inner.series)?.clone();
        let tx = client.transaction().await.pg("beginning the insert")?;
        let (report, new_series) = ops::insert(&tx, encoded, &cache).await?;
        tx.commit().await.pg("committing the insert")?;
        lock(&self.inner.series)?.extend(new_series);
        Ok(report)
    }
}

fn is_missing_partition(e: &ScdError) -> bool {
    matches!(e, ScdError::Postgres { source, .. }
        if source.code() == Some(&SqlState::CHECK_VIOLATION))
}

impl MeasurementStore for PostgresStore {
    fn write_measurements<'a>(&'a self, batch: &'a [Measurement]) -> StoreFuture<'a, InsertReport> {
        Box::pin(async move {
            let encoded = encode_batch(batch)?;
            if encoded.is_empty() {
                return Ok(InsertReport::default());
            }
            match self.insert_once(&encoded).await {
                // Another process archived (dropped) a partition this one thought existed.
                Err(e) if is_missing_partition(&e) => {
                    lock(&self.inner.partitions)?.clear();
                    self.insert_once(&encoded).await
                }
                other => other,
            }
        })
    }

    fn read_page<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Page> {
        Box::pin(self.with(async |c| ops::fetch(c, query, within, true).await))
    }

    fn read_all<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Vec<StoredMeasurement>> {
        Box::pin(self.with(async |c| Ok(ops::fetch(c, query, within, false).await?.items)))
    }

    fn read_count<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, u64> {
        Box::pin(self.with(async |c| ops::count(c, query, within).await))
    }
}

impl PodRegistry for PostgresStore {
    fn write_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.with(async |c| ops::register_pod(c, pod).await))
    }

    fn write_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()> {
        Box::pin(self.with(async |c| ops::add_pod_link(c, link).await))
    }

    fn pod_record<'a>(&'a self, pod: &'a PodId) -> StoreFuture<'a, Option<PodRecord>> {
        Box::pin(self.with(async |c| ops::pod_record(c, pod.as_str()).await))
    }

    fn links_of<'a>(&'a self, resource: &'a Resource) -> StoreFuture<'a, Vec<PodLink>> {
        Box::pin(self.with(async |c| match resource {
            Resource::Pod(p) => ops::links_by(c, "pod", p.as_str()).await,
            Resource::Meter(m) => ops::links_by(c, "meter", m.as_str()).await,
            Resource::Device(d) => ops::links_by(c, "device", d.as_str()).await,
        }))
    }
}

impl SetPointStore for PostgresStore {
    fn write_set_point<'a>(&'a self, set_point: &'a SetPoint) -> StoreFuture<'a, ()> {
        Box::pin(self.with(async |c| set_points::put_set_point(c, set_point).await))
    }

    fn write_set_point_ack<'a>(&'a self, ack: &'a SetPointAck) -> StoreFuture<'a, ()> {
        Box::pin(self.with(async |c| set_points::acknowledge(c, ack).await))
    }

    fn set_points_overlapping<'a>(
        &'a self,
        pod: &'a PodId,
        from: &'a Timestamp,
        to: &'a Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>> {
        Box::pin(async move {
            let from = to_ns(from, || "set point query bound `from`".into())?;
            let to = to_ns(to, || "set point query bound `to`".into())?;
            self.with(async |c| set_points::set_points(c, pod, from, to).await)
                .await
        })
    }
}

impl CertificationStore for PostgresStore {
    fn write_certifications<'a>(
        &'a self,
        records: &'a [CertificationRecord],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client
                .transaction()
                .await
                .pg("beginning the certification insert")?;
            certifications::attach(&*tx, records).await?;
            tx.commit().await.pg("committing certifications")
        })
    }
}

impl SubscriptionStore for PostgresStore {
    fn add_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Subscription> {
        Box::pin(self.with(async |c| {
            subscriptions::add_subscription(c, consumer, provider, topic, at).await
        }))
    }

    fn subscription(&self, id: i64) -> StoreFuture<'_, Option<Subscription>> {
        Box::pin(self.with(async move |c| subscriptions::subscription(c, id).await))
    }

    fn decide<'a>(
        &'a self,
        id: i64,
        expected: SubscriptionStatus,
        status: SubscriptionStatus,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Option<Subscription>> {
        Box::pin(self.with(async move |c| subscriptions::decide(c, id, expected, status, at).await))
    }

    fn subscriptions_involving<'a>(
        &'a self,
        who: &'a ParticipantId,
    ) -> StoreFuture<'a, Vec<Subscription>> {
        Box::pin(self.with(async |c| subscriptions::subscriptions(c, who).await))
    }

    fn subscriptions_to<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        topics: &'a [Resource],
    ) -> StoreFuture<'a, Vec<Subscription>> {
        Box::pin(self.with(async |c| subscriptions::subscriptions_to(c, consumer, topics).await))
    }
}

impl AuditLog for PostgresStore {
    fn append_audit<'a>(
        &'a self,
        at: &'a Timestamp,
        who: &'a Principal,
        action: &'a str,
        what: &'a str,
        decision: &'a Decision,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.with(async |c| ops::audit(c, at, who, action, what, decision).await))
    }

    fn audit_entries(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>> {
        Box::pin(self.with(async move |c| ops::audit_log(c, after_seq).await))
    }
}

impl Retention for PostgresStore {
    fn archive_days<'a>(
        &'a self,
        before: &'a Timestamp,
        dir: &'a Path,
    ) -> StoreFuture<'a, ArchiveManifest> {
        Box::pin(self.export_and_drop(before, dir))
    }
}

impl PostgresStore {
    /// Exports every whole UTC day before `before` and drops its partitions, in one
    /// transaction holding the DDL lock.
    async fn export_and_drop(&self, before: &Timestamp, dir: &Path) -> Result<ArchiveManifest> {
        let cutoff = cutoff_ns(before)?;
        let mut writer = ArchiveWriter::create(dir)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.pg("beginning the archive")?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::DDL_LOCK])
            .await
            .pg("locking for the archive")?;
        let old: Vec<(i64, String)> = ops::partition_days(&*tx)
            .await?
            .into_iter()
            .filter(|(day, _)| (day + 1).saturating_mul(DAY_NS) <= cutoff)
            .collect();
        for (day, name) in &old {
            // No writer may add to the partition between its export and its drop.
            tx.batch_execute(&format!("LOCK TABLE {name} IN SHARE MODE"))
                .await
                .pg(&format!("locking partition {name}"))?;
            let q = MeasurementQuery {
                from: Some(utc_from_ns(day.saturating_mul(DAY_NS))),
                to: Some(utc_from_ns((day + 1).saturating_mul(DAY_NS))),
                ..MeasurementQuery::default()
            };
            let rows = ops::fetch(&*tx, &q, &Periods::all(), false).await?;
            if !rows.items.is_empty() {
                writer.write_day(*day, &rows.items)?;
            }
        }
        let manifest = writer.finish(cutoff)?;
        for (_, name) in &old {
            tx.batch_execute(&format!("DROP TABLE {name}"))
                .await
                .pg(&format!("dropping partition {name}"))?;
        }
        certifications::delete_before(&*tx, cutoff).await?;
        tx.commit().await.pg("committing the archive")?;
        let mut known = lock(&self.inner.partitions)?;
        for (day, _) in &old {
            known.remove(day);
        }
        Ok(manifest)
    }
}
