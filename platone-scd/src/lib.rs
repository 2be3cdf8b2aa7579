//! The Shared Customer Database (SCD) of the Platone SDK.
//!
//! Stores every measurement, set point and certification record collected from the field and
//! gives each stakeholder access to exactly the data it may see.
//!
//! **Engines and the layer above them.** A storage engine implements seven small object-safe
//! traits of raw storage operations — [`MeasurementStore`], [`PodRegistry`],
//! [`SetPointStore`], [`CertificationStore`], [`SubscriptionStore`], [`AuditLog`] and
//! [`Retention`] (together: [`Backend`]) — and never checks the access policy nor writes the
//! audit log. The crate's one policy and audit layer turns every [`Backend`] into a [`Store`],
//! the API the rest of the SDK uses, object-safe (`Arc<dyn Store>`). Two backends are built in:
//! the embedded default [`SqliteStore`] (feature `sqlite`, on by default: one SQLite file in WAL
//! mode, no server) and [`PostgresStore`] (feature `postgres`: day-partitioned tables, binary
//! `COPY` bulk loads); [`AnyStore`] picks one from a `sqlite://PATH` or `postgres://…` URL.
//!
//! - **Measurements** are stored idempotently by series key and timestamp: a repeated delivery
//!   is a duplicate and changes nothing; the same key with another value is a [`Conflict`],
//!   never an overwrite. Queries by PoD, meter, device, component, kind and time range page in
//!   time order; [`Store::aggregate_measurements`] gives sums, means, minima and maxima per
//!   15 minutes, hour or day.
//! - **The PoD registry** ([`PodRecord`], [`PodLink`]): PoD ↔ meter ↔ Light Node device ↔
//!   aggregator with validity periods, and an opaque customer reference.
//! - **Set points** with their acknowledgements, **certification references** per measurement
//!   (returned with the data), and **subscriptions** (D2.13 Table 1).
//! - **The access policy** ([`policy`]) is enforced by the store's layer: every read names a
//!   [`Principal`], is checked, and is written to the audit log — allowed or denied. Reads are
//!   limited to the validity periods of the PoD links that entitle the reader (a meter that
//!   moved to another PoD shows each PoD's customer only its own time).
//! - **Retention** ([`retention`]): a hot window (two months by default), export of whole days
//!   to compressed archives with a manifest, and restore.
//!
//! ```
//! use platone_scd::{SqliteStore, Store, MeasurementQuery, Principal, PodRecord, ScdError};
//! use platone_model::{Measurement, MeasurementKind, Unit, DeviceId, PodId, ParticipantId,
//!     parse_timestamp};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("scd.db")).await?;
//! let pod = PodId::new("IT001E00000001")?;
//! store.register_pod(&PodRecord { pod: pod.clone(), dso: ParticipantId::new("dso-rome")?,
//!     customer: Some(ParticipantId::new("cust-7f3a")?) }).await?;
//!
//! let reading = Measurement::new(DeviceId::new("ln-17")?,
//!     parse_timestamp("2021-06-30T10:15:00+02:00")?, MeasurementKind::Energy,
//!     Unit::WattHour, 312.0)?.with_pod(pod.clone());
//! let report = store.insert_measurements(&[reading.clone(), reading.clone()]).await?;
//! assert_eq!((report.inserted, report.duplicates), (1, 1));
//!
//! // The customer sees its own PoD; a stranger is denied, and both reads are audited.
//! let customer = Principal::Participant(ParticipantId::new("cust-7f3a")?);
//! let page = store.query_measurements(&customer, &MeasurementQuery::pod(pod.clone())).await?;
//! assert_eq!(page.items[0].measurement, reading);
//! let stranger = Principal::Participant(ParticipantId::new("someone")?);
//! let denied = store.query_measurements(&stranger, &MeasurementQuery::pod(pod)).await;
//! assert!(matches!(denied, Err(ScdError::AccessDenied { .. })));
//! let log = store.audit_log(0).await?;
//! assert_eq!((log[0].allowed, log[1].allowed), (true, false));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
// Without a backend feature, the code the backends share has no user in the crate.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod any;
mod backend;
mod certification;
mod error;
mod guard;
mod period;
pub mod policy;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod records;
pub mod retention;
mod row;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod subscription;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use any::AnyStore;
pub use backend::{
    AuditLog, Backend, CertificationStore, MeasurementStore, PodRegistry, Retention, SetPointStore,
    StoreFuture, SubscriptionStore,
};
pub use error::{Result, ScdError};
pub use period::Periods;
pub use policy::Decision;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use query::{
    Bucket, IntervalAggregate, MAX_PAGE, MeasurementQuery, Page, PageToken, StoredMeasurement,
};
pub use records::{
    AckOutcome, AuditEntry, CertificationRecord, CertificationRef, PodLink, PodRecord, Principal,
    Resource, SetPointAck, StoredSetPoint, Subscription, SubscriptionStatus,
};
pub use retention::{ArchiveManifest, ArchivedDay, RestoreReport, RetentionPolicy};
pub use row::check_measurement;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{Conflict, InsertReport, Store};
