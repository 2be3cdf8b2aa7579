//! The [`Store`] trait: the Shared Customer Database as its users see it, with the access
//! policy and the audit log inside the API.

use std::path::Path;

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};
use serde::{Deserialize, Serialize};

use crate::backend::StoreFuture;
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
/// market) and are not policy-checked; reads name a [`Principal`] and are: the policy decides,
/// the decision (allowed or denied) is appended to the audit log, and only then is the data
/// read, limited to the periods the decision grants.
///
/// `Store` is implemented for every [`Backend`](crate::Backend) by the crate's one policy and
/// audit layer, so a storage engine implements only the raw storage traits
/// ([`MeasurementStore`](crate::MeasurementStore), [`PodRegistry`](crate::PodRegistry), …) and
/// gets the checks and the audit log from here: [`SqliteStore`](crate::SqliteStore),
/// [`PostgresStore`](crate::PostgresStore), [`AnyStore`](crate::AnyStore) (picked from a URL),
/// `Arc<B>` of any of them, or your own. It is object-safe: hand `Arc<dyn Store>` to code that
/// serves participants and it cannot bypass the policy.
///
/// Contract (what every caller may rely on, for any backend):
/// - a denied read fails with [`ScdError::AccessDenied`](crate::ScdError::AccessDenied) and
///   reads nothing; an allowed read returns only data from the granted periods;
/// - every policy-checked read appends exactly one audit entry, before the data is read;
/// - writes keep the idempotence rules of the storage traits (a repeated delivery changes
///   nothing, a different value for a stored key is a conflict, never an overwrite).
pub trait Store: Send + Sync {
    /// Stores a batch of measurements in one transaction, idempotently: a measurement whose
    /// series key and timestamp are stored with the same value counts as a duplicate, one with
    /// a different value as a conflict (never overwritten). An invalid measurement fails the
    /// whole batch and nothing is written.
    fn insert_measurements<'a>(&'a self, batch: &'a [Measurement])
    -> StoreFuture<'a, InsertReport>;

    /// One page of the measurements `query` selects, in time order, each with its
    /// certification reference (policy-checked, audited).
    fn query_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
    ) -> StoreFuture<'a, Page>;

    /// How many measurements `query` selects, ignoring pagination (policy-checked, audited).
    fn count_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
    ) -> StoreFuture<'a, u64>;

    /// Sum, mean, minimum and maximum per series and interval of everything `query` selects,
    /// ignoring pagination (policy-checked, audited).
    fn aggregate_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
        bucket: Bucket,
    ) -> StoreFuture<'a, Vec<IntervalAggregate>>;

    /// Registers a PoD; registering the same record again changes nothing, a different DSO or
    /// customer for a registered PoD is a conflict.
    fn register_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()>;

    /// Records which meter, device and aggregator serve a registered PoD for a period.
    fn add_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()>;

    /// The links of a PoD valid during the granted periods (policy-checked, audited).
    fn pod_links<'a>(&'a self, who: &'a Principal, pod: &'a PodId)
    -> StoreFuture<'a, Vec<PodLink>>;

    /// Stores a set point; the same id again with the same content changes nothing, with a
    /// different content it is a conflict.
    fn put_set_point<'a>(&'a self, set_point: &'a SetPoint) -> StoreFuture<'a, ()>;

    /// Stores a device's acknowledgement of a stored set point.
    fn acknowledge_set_point<'a>(&'a self, ack: &'a SetPointAck) -> StoreFuture<'a, ()>;

    /// The set points for `pod` whose validity window overlaps `[from, to)` and the granted
    /// periods, with their acknowledgements (policy-checked, audited).
    fn set_points<'a>(
        &'a self,
        who: &'a Principal,
        pod: &'a PodId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>>;

    /// Attaches certification references to stored measurements, all or none. A reference for
    /// a measurement that is not stored is an error; the same reference again changes nothing
    /// and a different one is a conflict.
    fn attach_certifications<'a>(
        &'a self,
        records: &'a [CertificationRecord],
    ) -> StoreFuture<'a, ()>;

    /// `consumer` asks `provider` for access to `topic`. The provider must be entitled to the
    /// resource (its customer, aggregator or DSO).
    fn request_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
    ) -> StoreFuture<'a, Subscription>;

    /// The provider of subscription `id` accepts or declines it.
    fn decide_subscription<'a>(
        &'a self,
        provider: &'a ParticipantId,
        id: i64,
        accept: bool,
    ) -> StoreFuture<'a, Subscription>;

    /// The subscriptions `who` provides or consumes.
    fn subscriptions<'a>(&'a self, who: &'a ParticipantId) -> StoreFuture<'a, Vec<Subscription>>;

    /// The audit log after position `after_seq` (0 for all), in order.
    fn audit_log(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>>;

    /// Exports every whole UTC day before `before` (rounded down to midnight UTC) to compressed
    /// files in `dir` with a manifest, then removes those days from the store.
    fn archive<'a>(&'a self, before: Timestamp, dir: &'a Path) -> StoreFuture<'a, ArchiveManifest>;

    /// Brings an archive back: its measurements and their certification references.
    fn restore<'a>(&'a self, dir: &'a Path) -> StoreFuture<'a, RestoreReport>;
}
