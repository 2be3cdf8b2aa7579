//! The [`Store`] trait: what every backend offers, with the access policy and the audit log
//! inside the API.

use std::future::Future;
use std::path::Path;

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::query::{Bucket, IntervalAggregate, MeasurementQuery, Page};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription,
};
use crate::retention::{ArchiveManifest, RestoreReport};

/// A measurement that arrived with the key (series and timestamp) of a stored one but a
/// different value. The stored value is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Position of the offending measurement in the batch.
    pub index: usize,
    /// Its series key text.
    pub series: String,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// The stored value, in plain units.
    pub stored: f64,
    /// The offered value, in plain units.
    pub offered: f64,
}

/// What a bulk insert did. `inserted + duplicates + conflicts.len()` is the batch size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsertReport {
    /// New measurements stored.
    pub inserted: u64,
    /// Measurements already stored with the same value (a repeated delivery): nothing changed.
    pub duplicates: u64,
    /// Measurements whose key is stored with a different value: rejected, stored value kept.
    pub conflicts: Vec<Conflict>,
}

impl InsertReport {
    /// Adds another report's counts to this one.
    pub fn absorb(&mut self, other: InsertReport) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.conflicts.extend(other.conflicts);
    }
}

/// The Shared Customer Database: measurements, the PoD registry, set points, certification
/// references and subscriptions, with every read checked by the access policy and written to
/// the audit log.
///
/// Writes come from the trusted ingestion side (the BAL's bus consumers, the certifier, the
/// market) and are not policy-checked; reads name a [`Principal`] and are. Implemented by
/// [`SqliteStore`](crate::SqliteStore), [`PostgresStore`](crate::PostgresStore) and
/// [`AnyStore`](crate::AnyStore), which picks one from a URL.
pub trait Store: Send + Sync {
    /// Stores a batch of measurements in one transaction, idempotently: a measurement whose
    /// series key and timestamp are stored with the same value counts as a duplicate, one with
    /// a different value as a conflict (never overwritten). An invalid measurement fails the
    /// whole batch and nothing is written.
    fn insert_measurements(
        &self,
        batch: &[Measurement],
    ) -> impl Future<Output = Result<InsertReport>> + Send;

    /// One page of the measurements `query` selects, in time order, each with its
    /// certification reference.
    fn query_measurements(
        &self,
        who: &Principal,
        query: &MeasurementQuery,
    ) -> impl Future<Output = Result<Page>> + Send;

    /// How many measurements `query` selects (ignoring pagination).
    fn count_measurements(
        &self,
        who: &Principal,
        query: &MeasurementQuery,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Sum, mean, minimum and maximum per series and interval of everything `query` selects
    /// (ignoring pagination).
    fn aggregate_measurements(
        &self,
        who: &Principal,
        query: &MeasurementQuery,
        bucket: Bucket,
    ) -> impl Future<Output = Result<Vec<IntervalAggregate>>> + Send;

    /// Registers a PoD; registering the same record again changes nothing, a different DSO or
    /// customer for a registered PoD is a conflict.
    fn register_pod(&self, pod: &PodRecord) -> impl Future<Output = Result<()>> + Send;

    /// Records which meter, device and aggregator serve a registered PoD for a period.
    fn add_pod_link(&self, link: &PodLink) -> impl Future<Output = Result<()>> + Send;

    /// The links of a PoD (policy-checked).
    fn pod_links(
        &self,
        who: &Principal,
        pod: &PodId,
    ) -> impl Future<Output = Result<Vec<PodLink>>> + Send;

    /// Stores a set point; the same id again with the same content changes nothing, with a
    /// different content it is a conflict.
    fn put_set_point(&self, set_point: &SetPoint) -> impl Future<Output = Result<()>> + Send;

    /// Stores a device's acknowledgement of a stored set point.
    fn acknowledge_set_point(&self, ack: &SetPointAck) -> impl Future<Output = Result<()>> + Send;

    /// The set points for `pod` whose validity window overlaps `[from, to)`, with their
    /// acknowledgements (policy-checked).
    fn set_points(
        &self,
        who: &Principal,
        pod: &PodId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<StoredSetPoint>>> + Send;

    /// Attaches certification references to stored measurements, all or none. A reference for
    /// a measurement that is not stored is an error; the same reference again changes nothing
    /// and a different one is a conflict.
    fn attach_certifications(
        &self,
        records: &[CertificationRecord],
    ) -> impl Future<Output = Result<()>> + Send;

    /// `consumer` asks `provider` for access to `topic`. The provider must be entitled to the
    /// resource (its customer, aggregator or DSO).
    fn request_subscription(
        &self,
        consumer: &ParticipantId,
        provider: &ParticipantId,
        topic: &Resource,
    ) -> impl Future<Output = Result<Subscription>> + Send;

    /// The provider of subscription `id` accepts or declines it.
    fn decide_subscription(
        &self,
        provider: &ParticipantId,
        id: i64,
        accept: bool,
    ) -> impl Future<Output = Result<Subscription>> + Send;

    /// The subscriptions `who` provides or consumes.
    fn subscriptions(
        &self,
        who: &ParticipantId,
    ) -> impl Future<Output = Result<Vec<Subscription>>> + Send;

    /// The audit log after position `after_seq` (0 for all), in order.
    fn audit_log(&self, after_seq: i64) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;

    /// Exports every whole UTC day before `before` (rounded down to midnight UTC) to compressed
    /// files in `dir` with a manifest, then removes those days from the store.
    fn archive(
        &self,
        before: Timestamp,
        dir: &Path,
    ) -> impl Future<Output = Result<ArchiveManifest>> + Send;

    /// Brings an archive back: its measurements and their certification references.
    fn restore(&self, dir: &Path) -> impl Future<Output = Result<RestoreReport>> + Send;
}
