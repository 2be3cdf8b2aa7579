//! [`AnyStore`]: a store chosen at run time from a URL.

use std::path::Path;

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};

use crate::error::{Result, ScdError};
use crate::postgres::PostgresStore;
use crate::query::{Bucket, IntervalAggregate, MeasurementQuery, Page};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription,
};
use crate::retention::{ArchiveManifest, RestoreReport};
use crate::sqlite::SqliteStore;
use crate::store::{InsertReport, Store};

/// Either backend, chosen from a URL: `sqlite://PATH` (a file path, relative or absolute) or
/// `postgres://…` / `postgresql://…`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded store.
    Sqlite(SqliteStore),
    /// The PostgreSQL store.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the store `url` names.
    pub async fn open(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ScdError::InvalidUrl {
                    url: url.into(),
                    reason: "sqlite:// needs a file path",
                });
            }
            return Ok(AnyStore::Sqlite(SqliteStore::open(Path::new(path)).await?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(AnyStore::Postgres(PostgresStore::connect(url).await?));
        }
        Err(ScdError::InvalidUrl {
            url: url.into(),
            reason: "expected sqlite://PATH or postgres://…",
        })
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Postgres($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn insert_measurements(&self, batch: &[Measurement]) -> Result<InsertReport> {
        delegate!(self, s => s.insert_measurements(batch))
    }
    async fn query_measurements(&self, who: &Principal, query: &MeasurementQuery) -> Result<Page> {
        delegate!(self, s => s.query_measurements(who, query))
    }
    async fn count_measurements(&self, who: &Principal, query: &MeasurementQuery) -> Result<u64> {
        delegate!(self, s => s.count_measurements(who, query))
    }
    async fn aggregate_measurements(
        &self,
        who: &Principal,
        query: &MeasurementQuery,
        bucket: Bucket,
    ) -> Result<Vec<IntervalAggregate>> {
        delegate!(self, s => s.aggregate_measurements(who, query, bucket))
    }
    async fn register_pod(&self, pod: &PodRecord) -> Result<()> {
        delegate!(self, s => s.register_pod(pod))
    }
    async fn add_pod_link(&self, link: &PodLink) -> Result<()> {
        delegate!(self, s => s.add_pod_link(link))
    }
    async fn pod_links(&self, who: &Principal, pod: &PodId) -> Result<Vec<PodLink>> {
        delegate!(self, s => s.pod_links(who, pod))
    }
    async fn put_set_point(&self, set_point: &SetPoint) -> Result<()> {
        delegate!(self, s => s.put_set_point(set_point))
    }
    async fn acknowledge_set_point(&self, ack: &SetPointAck) -> Result<()> {
        delegate!(self, s => s.acknowledge_set_point(ack))
    }
    async fn set_points(
        &self,
        who: &Principal,
        pod: &PodId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredSetPoint>> {
        delegate!(self, s => s.set_points(who, pod, from, to))
    }
    async fn attach_certifications(&self, records: &[CertificationRecord]) -> Result<()> {
        delegate!(self, s => s.attach_certifications(records))
    }
    async fn request_subscription(
        &self,
        consumer: &ParticipantId,
        provider: &ParticipantId,
        topic: &Resource,
    ) -> Result<Subscription> {
        delegate!(self, s => s.request_subscription(consumer, provider, topic))
    }
    async fn decide_subscription(
        &self,
        provider: &ParticipantId,
        id: i64,
        accept: bool,
    ) -> Result<Subscription> {
        delegate!(self, s => s.decide_subscription(provider, id, accept))
    }
    async fn subscriptions(&self, who: &ParticipantId) -> Result<Vec<Subscription>> {
        delegate!(self, s => s.subscriptions(who))
    }
    async fn audit_log(&self, after_seq: i64) -> Result<Vec<AuditEntry>> {
        delegate!(self, s => s.audit_log(after_seq))
    }
    async fn archive(&self, before: Timestamp, dir: &Path) -> Result<ArchiveManifest> {
        delegate!(self, s => s.archive(before, dir))
    }
    async fn restore(&self, dir: &Path) -> Result<RestoreReport> {
        delegate!(self, s => s.restore(dir))
    }
}
