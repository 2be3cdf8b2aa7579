//! The PostgreSQL backend for deployments.
//!
//! Measurements live in a table partitioned by UTC day on `ts_ns` (one partition per day,
//! created on first use), so retention drops whole partitions. Bulk loads go through a binary
//! `COPY` into a session staging table, then one `INSERT … ON CONFLICT DO NOTHING`.

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

use crate::error::{PgContext, Result, ScdError};
use crate::period::Periods;
use crate::query::{Bucket, IntervalAggregate, MeasurementQuery, Page, aggregate};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription,
};
use crate::retention::{ArchiveManifest, ArchiveWriter, RestoreReport, cutoff_ns};
use crate::row::{DAY_NS, day_of, encode_batch, to_ns, utc_from_ns};
use crate::store::{InsertReport, Store};

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

    /// Checks `resources` for `who` and writes the audit entry (see [`ops::audit`] for its
    /// durability); gives the granted data periods, or an error when denied.
    async fn guard(
        &self,
        client: &deadpool_postgres::Object,
        who: &Principal,
        action: &str,
        what: String,
        resources: &[Resource],
    ) -> Result<Periods> {
        let c: &tokio_postgres::Client = client;
        let grant = ops::check(c, who, resources).await?;
        ops::audit(c, who, action, &what, &grant.decision).await?;
        if grant.decision.allowed {
            Ok(grant.periods)
        } else {
            Err(ScdError::AccessDenied {
                who: who.to_string(),
                what,
                reason: grant.decision.reason,
            })
        }
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

impl Store for PostgresStore {
    async fn insert_measurements(&self, batch: &[Measurement]) -> Result<InsertReport> {
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
    }

    async fn query_measurements(&self, who: &Principal, query: &MeasurementQuery) -> Result<Page> {
        let client = self.client().await?;
        let within = self
            .guard(
                &client,
                who,
                "query_measurements",
                query.describe(),
                &query.resources(),
            )
            .await?;
        let c: &tokio_postgres::Client = &client;
        ops::fetch(c, query, &within, true).await
    }

    async fn count_measurements(&self, who: &Principal, query: &MeasurementQuery) -> Result<u64> {
        let client = self.client().await?;
        let within = self
            .guard(
                &client,
                who,
                "count_measurements",
                query.describe(),
                &query.resources(),
            )
            .await?;
        let c: &tokio_postgres::Client = &client;
        ops::count(c, query, &within).await
    }

    async fn aggregate_measurements(
        &self,
        who: &Principal,
        query: &MeasurementQuery,
        bucket: Bucket,
    ) -> Result<Vec<IntervalAggregate>> {
        let client = self.client().await?;
        let within = self
            .guard(
                &client,
                who,
                "aggregate_measurements",
                query.describe(),
                &query.resources(),
            )
            .await?;
        let c: &tokio_postgres::Client = &client;
        Ok(aggregate(
            &ops::fetch(c, query, &within, false).await?.items,
            bucket,
        ))
    }

    async fn register_pod(&self, pod: &PodRecord) -> Result<()> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        ops::register_pod(c, pod).await
    }

    async fn add_pod_link(&self, link: &PodLink) -> Result<()> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        ops::add_pod_link(c, link).await
    }

    async fn pod_links(&self, who: &Principal, pod: &PodId) -> Result<Vec<PodLink>> {
        let client = self.client().await?;
        let r = Resource::Pod(pod.clone());
        let within = self
            .guard(&client, who, "pod_links", r.to_string(), &[r])
            .await?;
        let c: &tokio_postgres::Client = &client;
        ops::pod_links(c, pod, &within).await
    }

    async fn put_set_point(&self, set_point: &SetPoint) -> Result<()> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        set_points::put_set_point(c, set_point).await
    }

    async fn acknowledge_set_point(&self, ack: &SetPointAck) -> Result<()> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        set_points::acknowledge(c, ack).await
    }

    async fn set_points(
        &self,
        who: &Principal,
        pod: &PodId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredSetPoint>> {
        let from = to_ns(&from, || "set point query bound `from`".into())?;
        let to = to_ns(&to, || "set point query bound `to`".into())?;
        let client = self.client().await?;
        let r = Resource::Pod(pod.clone());
        let within = self
            .guard(&client, who, "set_points", r.to_string(), &[r])
            .await?;
        let c: &tokio_postgres::Client = &client;
        set_points::set_points(c, pod, from, to, &within).await
    }

    async fn attach_certifications(&self, records: &[CertificationRecord]) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .pg("beginning the certification insert")?;
        certifications::attach(&*tx, records).await?;
        tx.commit().await.pg("committing certifications")
    }

    async fn request_subscription(
        &self,
        consumer: &ParticipantId,
        provider: &ParticipantId,
        topic: &Resource,
    ) -> Result<Subscription> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        subscriptions::request_subscription(c, consumer, provider, topic).await
    }

    async fn decide_subscription(
        &self,
        provider: &ParticipantId,
        id: i64,
        accept: bool,
    ) -> Result<Subscription> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        subscriptions::decide_subscription(c, provider, id, accept).await
    }

    async fn subscriptions(&self, who: &ParticipantId) -> Result<Vec<Subscription>> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        subscriptions::subscriptions(c, who).await
    }

    async fn audit_log(&self, after_seq: i64) -> Result<Vec<AuditEntry>> {
        let client = self.client().await?;
        let c: &tokio_postgres::Client = &client;
        ops::audit_log(c, after_seq).await
    }

    async fn archive(&self, before: Timestamp, dir: &Path) -> Result<ArchiveManifest> {
        let cutoff = cutoff_ns(&before)?;
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

    async fn restore(&self, dir: &Path) -> Result<RestoreReport> {
        crate::retention::restore_into(self, dir).await
    }
}
