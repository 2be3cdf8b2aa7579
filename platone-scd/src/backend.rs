//! The storage traits a backend implements: raw operations only.
//!
//! The store is split by concern, each trait small and object-safe (usable as
//! `Arc<dyn MeasurementStore>` and so on): [`MeasurementStore`], [`PodRegistry`],
//! [`SetPointStore`], [`CertificationStore`], [`SubscriptionStore`], [`AuditLog`] and
//! [`Retention`]. A type implementing all seven is a [`Backend`], and every backend is a
//! [`Store`](crate::Store) through the crate's one policy and audit layer: a backend never checks
//! the access policy and never writes the audit log for a read, it stores and fetches what it is
//! told to. Reads here are **not** policy-checked; serve participants through
//! [`Store`](crate::Store).
//!
//! Every method returns a [`StoreFuture`]: a boxed future, one allocation per call, which keeps
//! the traits object-safe.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};

use crate::error::Result;
use crate::period::Periods;
use crate::policy::Decision;
use crate::query::{MeasurementQuery, Page, StoredMeasurement};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription, SubscriptionStatus,
};
use crate::retention::ArchiveManifest;
use crate::store::InsertReport;

/// The future every storage operation returns: boxed, `Send`, borrowing its arguments for
/// `'a`, resolving to a [`Result`]. Boxing keeps the traits usable as trait objects; an
/// implementation typically writes `Box::pin(async move { … })`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Measurements, stored idempotently by series key and timestamp.
///
/// Contract for implementers:
/// - [`write_measurements`](Self::write_measurements) stores a batch all or nothing (one
///   transaction). A measurement whose series key and timestamp are stored with the same value
///   is counted as a duplicate, with a different value as a [`Conflict`](crate::Conflict) (the
///   stored value is kept, never overwritten); `inserted + duplicates + conflicts` is the batch
///   size. An invalid measurement (e.g. a timestamp outside 1677–2262) fails the whole batch
///   with [`ScdError::InvalidRecord`](crate::ScdError::InvalidRecord) and nothing is written.
/// - The reads return only measurements whose timestamp lies in `within` (the periods the
///   policy layer granted; [`Periods::is_all`] for an unrestricted read), in time order (then by
///   series), each with its certification reference.
pub trait MeasurementStore: Send + Sync {
    /// Stores a batch, idempotently, in one transaction.
    fn write_measurements<'a>(&'a self, batch: &'a [Measurement]) -> StoreFuture<'a, InsertReport>;

    /// One page (at most the query's `limit` of items) of what `query` selects within
    /// `within`, with the token of the next page when there is more.
    fn read_page<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Page>;

    /// Everything `query` selects within `within`, ignoring pagination.
    fn read_all<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Vec<StoredMeasurement>>;

    /// How many measurements `query` selects within `within`, ignoring pagination.
    fn read_count<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, u64>;
}

/// The PoD registry: PoDs and the links PoD ↔ meter ↔ device ↔ aggregator.
///
/// Contract for implementers:
/// - [`write_pod`](Self::write_pod): the same record again changes nothing; a different DSO or
///   customer for a registered PoD is [`ScdError::Conflict`](crate::ScdError::Conflict).
/// - [`write_pod_link`](Self::write_pod_link) validates the link ([`PodLink::validate`]) and
///   fails with [`ScdError::NotFound`](crate::ScdError::NotFound) when its PoD is not
///   registered; links are kept in the order they were added.
/// - [`links_of`](Self::links_of) gives the links whose PoD, meter or device (by the
///   resource's kind) is the resource, in the order they were added.
pub trait PodRegistry: Send + Sync {
    /// Registers a PoD.
    fn write_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()>;

    /// Adds a link of a registered PoD.
    fn write_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()>;

    /// The registry record of `pod`, if registered.
    fn pod_record<'a>(&'a self, pod: &'a PodId) -> StoreFuture<'a, Option<PodRecord>>;

    /// The links naming `resource`.
    fn links_of<'a>(&'a self, resource: &'a Resource) -> StoreFuture<'a, Vec<PodLink>>;
}

/// Set points and their acknowledgements.
///
/// Contract for implementers:
/// - [`write_set_point`](Self::write_set_point) validates the set point
///   ([`SetPoint::validate`], else [`ScdError::InvalidRecord`](crate::ScdError::InvalidRecord));
///   the same id again with the same content changes nothing, with another content it is
///   [`ScdError::Conflict`](crate::ScdError::Conflict).
/// - [`write_set_point_ack`](Self::write_set_point_ack) fails with
///   [`ScdError::NotFound`](crate::ScdError::NotFound) when the set point is not stored; the
///   same acknowledgement (set point, device, time) again changes nothing.
/// - [`set_points_overlapping`](Self::set_points_overlapping) gives the set points of `pod`
///   whose window `[valid_from, valid_to)` overlaps `[from, to)`, ordered by `valid_from` then
///   id, each with its acknowledgements in time order.
pub trait SetPointStore: Send + Sync {
    /// Stores a set point.
    fn write_set_point<'a>(&'a self, set_point: &'a SetPoint) -> StoreFuture<'a, ()>;

    /// Stores a device's acknowledgement of a stored set point.
    fn write_set_point_ack<'a>(&'a self, ack: &'a SetPointAck) -> StoreFuture<'a, ()>;

    /// The set points of `pod` overlapping `[from, to)`, with their acknowledgements.
    fn set_points_overlapping<'a>(
        &'a self,
        pod: &'a PodId,
        from: &'a Timestamp,
        to: &'a Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>>;
}

/// Certification references of stored measurements.
///
/// Contract for implementers: [`write_certifications`](Self::write_certifications) attaches
/// all references or none (one transaction). A reference for a measurement that is not stored
/// is [`ScdError::NotFound`](crate::ScdError::NotFound); the same reference again changes
/// nothing; a different one for a measurement that has one is
/// [`ScdError::Conflict`](crate::ScdError::Conflict). The reads of [`MeasurementStore`] return
/// each measurement's reference exactly as attached.
pub trait CertificationStore: Send + Sync {
    /// Attaches certification references to stored measurements.
    fn write_certifications<'a>(
        &'a self,
        records: &'a [CertificationRecord],
    ) -> StoreFuture<'a, ()>;
}

/// Subscriptions (D2.13 Table 1): a consumer asks a provider for a resource's data.
///
/// Contract for implementers: ids are assigned by the store, positive and increasing; lists
/// are in id order. [`decide`](Self::decide) is a compare-and-set: it changes the status only
/// when the stored one is still `expected`, so two concurrent decisions cannot both win.
pub trait SubscriptionStore: Send + Sync {
    /// Stores a new subscription in status Requested, requested at `at`, and returns it with
    /// its id.
    fn add_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Subscription>;

    /// Subscription `id`, if stored.
    fn subscription(&self, id: i64) -> StoreFuture<'_, Option<Subscription>>;

    /// Sets subscription `id` to `status`, decided at `at`, if its stored status is `expected`;
    /// gives the updated subscription, or `None` when the stored status was not `expected` (or
    /// the subscription does not exist).
    fn decide<'a>(
        &'a self,
        id: i64,
        expected: SubscriptionStatus,
        status: SubscriptionStatus,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Option<Subscription>>;

    /// The subscriptions `who` provides or consumes.
    fn subscriptions_involving<'a>(
        &'a self,
        who: &'a ParticipantId,
    ) -> StoreFuture<'a, Vec<Subscription>>;

    /// `consumer`'s subscriptions whose topic is one of `topics`, whatever their status.
    fn subscriptions_to<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        topics: &'a [Resource],
    ) -> StoreFuture<'a, Vec<Subscription>>;
}

/// The audit log of policy decisions.
///
/// Contract for implementers: [`append_audit`](Self::append_audit) stores one entry and gives it
/// the next sequence number (positive, increasing); it may trade the durability of the last
/// fraction of a second of entries for speed (no `fsync` wait per read), never their order.
/// [`audit_entries`](Self::audit_entries) gives the entries after a sequence number, in order.
pub trait AuditLog: Send + Sync {
    /// Appends the decision on `who`'s `action` on `what`, taken at `at`.
    fn append_audit<'a>(
        &'a self,
        at: &'a Timestamp,
        who: &'a Principal,
        action: &'a str,
        what: &'a str,
        decision: &'a Decision,
    ) -> StoreFuture<'a, ()>;

    /// The entries after position `after_seq` (0 for all), in order.
    fn audit_entries(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>>;
}

/// Moving old data out of the hot store.
///
/// Contract for implementers: [`archive_days`](Self::archive_days) exports every whole UTC day
/// before `before` (rounded down to midnight UTC) with [`crate::retention`]'s archive format
/// into `dir`, then removes those days' measurements and certification references — atomically
/// with the export: no write may add data to an exported day between its export and its
/// removal. Restoring is backend-independent (the layer writes the archive back through
/// [`MeasurementStore`] and [`CertificationStore`]).
pub trait Retention: Send + Sync {
    /// Archives and removes every whole UTC day before `before`.
    fn archive_days<'a>(
        &'a self,
        before: &'a Timestamp,
        dir: &'a Path,
    ) -> StoreFuture<'a, ArchiveManifest>;
}

/// Everything a storage engine offers: the seven storage traits. Implemented for every type
/// that implements them; every `Backend` is a [`Store`](crate::Store) through the crate's
/// policy and audit layer.
pub trait Backend:
    MeasurementStore
    + PodRegistry
    + SetPointStore
    + CertificationStore
    + SubscriptionStore
    + AuditLog
    + Retention
{
}

impl<B> Backend for B where
    B: MeasurementStore
        + PodRegistry
        + SetPointStore
        + CertificationStore
        + SubscriptionStore
        + AuditLog
        + Retention
        + ?Sized
{
}

/// Implements the seven storage traits for a wrapper type by forwarding to what `$get` (an
/// expression of `self`) gives; with `$t`, generically over the wrapped type.
macro_rules! forward_backend {
    ($ty:ty, $self:ident => $get:expr $(, $t:ident)?) => {
        impl<$($t: $crate::backend::MeasurementStore + ?Sized)?> $crate::backend::MeasurementStore for $ty {
            fn write_measurements<'a>(&'a $self, batch: &'a [platone_model::Measurement])
                -> $crate::backend::StoreFuture<'a, $crate::store::InsertReport> {
                $get.write_measurements(batch)
            }
            fn read_page<'a>(&'a $self, query: &'a $crate::query::MeasurementQuery,
                within: &'a $crate::period::Periods)
                -> $crate::backend::StoreFuture<'a, $crate::query::Page> {
                $get.read_page(query, within)
            }
            fn read_all<'a>(&'a $self, query: &'a $crate::query::MeasurementQuery,
                within: &'a $crate::period::Periods)
                -> $crate::backend::StoreFuture<'a, Vec<$crate::query::StoredMeasurement>> {
                $get.read_all(query, within)
            }
            fn read_count<'a>(&'a $self, query: &'a $crate::query::MeasurementQuery,
                within: &'a $crate::period::Periods) -> $crate::backend::StoreFuture<'a, u64> {
                $get.read_count(query, within)
            }
        }
        impl<$($t: $crate::backend::PodRegistry + ?Sized)?> $crate::backend::PodRegistry for $ty {
            fn write_pod<'a>(&'a $self, pod: &'a $crate::records::PodRecord)
                -> $crate::backend::StoreFuture<'a, ()> {
                $get.write_pod(pod)
            }
            fn write_pod_link<'a>(&'a $self, link: &'a $crate::records::PodLink)
                -> $crate::backend::StoreFuture<'a, ()> {
                $get.write_pod_link(link)
            }
            fn pod_record<'a>(&'a $self, pod: &'a platone_model::PodId)
                -> $crate::backend::StoreFuture<'a, Option<$crate::records::PodRecord>> {
                $get.pod_record(pod)
            }
            fn links_of<'a>(&'a $self, resource: &'a $crate::records::Resource)
                -> $crate::backend::StoreFuture<'a, Vec<$crate::records::PodLink>> {
                $get.links_of(resource)
            }
        }
        impl<$($t: $crate::backend::SetPointStore + ?Sized)?> $crate::backend::SetPointStore for $ty {
            fn write_set_point<'a>(&'a $self, set_point: &'a platone_model::SetPoint)
                -> $crate::backend::StoreFuture<'a, ()> {
                $get.write_set_point(set_point)
            }
            fn write_set_point_ack<'a>(&'a $self, ack: &'a $crate::records::SetPointAck)
                -> $crate::backend::StoreFuture<'a, ()> {
                $get.write_set_point_ack(ack)
            }
            fn set_points_overlapping<'a>(&'a $self, pod: &'a platone_model::PodId,
                from: &'a platone_model::Timestamp, to: &'a platone_model::Timestamp)
                -> $crate::backend::StoreFuture<'a, Vec<$crate::records::StoredSetPoint>> {
                $get.set_points_overlapping(pod, from, to)
            }
        }
        impl<$($t: $crate::backend::CertificationStore + ?Sized)?> $crate::backend::CertificationStore for $ty {
            fn write_certifications<'a>(&'a $self,
                records: &'a [$crate::records::CertificationRecord])
                -> $crate::backend::StoreFuture<'a, ()> {
                $get.write_certifications(records)
            }
        }
        impl<$($t: $crate::backend::SubscriptionStore + ?Sized)?> $crate::backend::SubscriptionStore for $ty {
            fn add_subscription<'a>(&'a $self, consumer: &'a platone_model::ParticipantId,
                provider: &'a platone_model::ParticipantId,
                topic: &'a $crate::records::Resource, at: &'a platone_model::Timestamp)
                -> $crate::backend::StoreFuture<'a, $crate::records::Subscription> {
                $get.add_subscription(consumer, provider, topic, at)
            }
            fn subscription(&$self, id: i64)
                -> $crate::backend::StoreFuture<'_, Option<$crate::records::Subscription>> {
                $get.subscription(id)
            }
            fn decide<'a>(&'a $self, id: i64, expected: $crate::records::SubscriptionStatus,
                status: $crate::records::SubscriptionStatus, at: &'a platone_model::Timestamp)
                -> $crate::backend::StoreFuture<'a, Option<$crate::records::Subscription>> {
                $get.decide(id, expected, status, at)
            }
            fn subscriptions_involving<'a>(&'a $self, who: &'a platone_model::ParticipantId)
                -> $crate::backend::StoreFuture<'a, Vec<$crate::records::Subscription>> {
                $get.subscriptions_involving(who)
            }
            fn subscriptions_to<'a>(&'a $self, consumer: &'a platone_model::ParticipantId,
                topics: &'a [$crate::records::Resource])
                -> $crate::backend::StoreFuture<'a, Vec<$crate::records::Subscription>> {
                $get.subscriptions_to(consumer, topics)
            }
        }
        impl<$($t: $crate::backend::AuditLog + ?Sized)?> $crate::backend::AuditLog for $ty {
            fn append_audit<'a>(&'a $self, at: &'a platone_model::Timestamp,
                who: &'a $crate::records::Principal, action: &'a str, what: &'a str,
                decision: &'a $crate::policy::Decision) -> $crate::backend::StoreFuture<'a, ()> {
                $get.append_audit(at, who, action, what, decision)
            }
            fn audit_entries(&$self, after_seq: i64)
                -> $crate::backend::StoreFuture<'_, Vec<$crate::records::AuditEntry>> {
                $get.audit_entries(after_seq)
            }
        }
        impl<$($t: $crate::backend::Retention + ?Sized)?> $crate::backend::Retention for $ty {
            fn archive_days<'a>(&'a $self, before: &'a platone_model::Timestamp,
                dir: &'a std::path::Path)
                -> $crate::backend::StoreFuture<'a, $crate::retention::ArchiveManifest> {
                $get.archive_days(before, dir)
            }
        }
    };
}
pub(crate) use forward_backend;

forward_backend!(Arc<T>, self => (**self), T);
