//! The Shared Customer Database (SCD) of the Platone SDK.
//!
//! Stores every measurement, set point and certification record collected from the field and
//! gives each stakeholder access to exactly the data it may see: a `Store` trait with an
//! embedded SQLite default and a PostgreSQL backend, the PoD registry, subscriptions and data
//! access policies, and retention with archive and restore.
//!
//! ```
//! use platone_model::PodId;
//! assert!(PodId::new("IT001E00000001").is_ok());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
