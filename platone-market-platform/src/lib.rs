//! # platone-market-platform
//!
//! The Market Platform of the Platone SDK as a service (D2.2 §3.1.2, §4.3.1; UC-IT-2):
//!
//! - **Sessions** (T-MP-02): day-ahead and real-time, opened from a [`schedule`] in the
//!   configuration (gate closures in a time zone; real-time every few minutes over the next
//!   hours, taking over the unmatched day-ahead offers) or by the market operator, each with
//!   its slots, gate closure, clearing algorithm (`dso-first` by default) and optional DC
//!   network.
//! - **Intake** (FR-MP-FSM-01/03/04): requests from DSOs and TSOs, offers from aggregators,
//!   one by one or in bulk, checked exactly as the scenario format checks them
//!   ([`platone_market::scenario::BookBuilder`]), refused after gate closure, and kept in a
//!   [`PlatformStore`] (SQLite by default, PostgreSQL with the feature `postgres`), so a
//!   restart loses no accepted order.
//! - **Gate closure** ([`run_gate_closures`], or the operator's close): clearing with the
//!   session's algorithm, the DSO's technical validation ([`SessionValidator`]: in process, or
//!   a round trip over the bus with a timeout and a fallback, [`bus::BusValidation`]; red
//!   orders cut and the book cleared again), publication — readable over REST and delivered
//!   to each participant on its own bus topic ([`MarketPlatform::deliver_outcomes`]).
//! - **Registration** (FR-MP-BC-01/02): the result's hash and every award certified as one
//!   batch and anchored on a [`platone_certify::Ledger`] (the file ledger by default); every
//!   award served with its Merkle proof ([`outcome`]).
//! - **Audit**: every state change with time and actor.
//! - **REST API** ([`api`]): OAuth 2.0 bearer tokens and roles through `platone-service`,
//!   RFC 9457 problems, an OpenAPI 3.1 document generated from the handlers.
//!
//! ```
//! use std::sync::Arc;
//! use platone_market_platform::{Caller, LineLoading, MarketPlatform, SqliteStore};
//! use platone_market::MarketRole;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let ledger = Arc::new(platone_certify::FileLedger::open(dir.path().join("ledger"))?);
//! let platform = MarketPlatform::open(
//!     Arc::new(SqliteStore::in_memory()?),
//!     ledger.clone(),
//!     Arc::new(LineLoading::default()),
//! )?;
//! let caller = |who: &str, role| Caller { participant: who.into(), roles: vec![role] };
//! let operator = caller("mo", MarketRole::MarketOperator);
//! let spec = serde_json::from_value(serde_json::json!({
//!     "id": "da-1", "kind": "day-ahead", "slots": ["t1"],
//!     "gate_closure": (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339(),
//! }))?;
//! platform.create_session(&operator, spec)?;
//! let order = |json| vec![serde_json::from_str::<serde_json::Value>(json).unwrap()];
//! platform.submit(&caller("dso-1", MarketRole::Dso), "da-1", false, order(
//!     r#"{"id": "r1", "location": "n5", "direction": "up", "slot": "t1", "quantity": 2.0,
//!         "price": 50.0}"#))?;
//! platform.submit(&caller("agg-1", MarketRole::Aggregator), "da-1", true, order(
//!     r#"{"id": "o1", "location": "n5", "direction": "up", "slot": "t1", "quantity": 1.5,
//!         "price": 20.0}"#))?;
//! platform.close_as(&operator, "da-1").await?;
//!
//! // The aggregator's award, checked against the ledger alone.
//! let award = platform.award(&caller("agg-1", MarketRole::Aggregator), "da-1", "o1")?;
//! assert_eq!(award.award.quantity, 1.5);
//! let record = serde_json::to_value(&award.award)?;
//! let check = platone_certify::verify_with_ledger(&record, &award.proof, &*ledger).await?;
//! assert!(check.is_verified());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod bus;
#[cfg(feature = "chain")]
pub mod chain;
mod clock;
mod error;
pub mod grid_data;
pub mod market_chain;
pub mod outcome;
mod platform;
mod roles;
pub mod schedule;
mod server;
pub mod session;
pub mod settlement;
mod store;

pub use clock::{TICK, run_gate_closures};
pub use error::{PlatformError, Result};
pub use outcome::{Award, CertifiedAward, Outcome, Registration};
pub use platform::{
    LineLoading, MAX_VALIDATION_ROUNDS, MarketPlatform, ParticipantOutcome, SCHEDULER,
    SessionValidator, carried_offer_id,
};
pub use roles::Caller;
pub use server::{
    DEFAULT_AUDIENCE, PlatformConfig, PlatformEngines, PlatformServer, SHUTDOWN_GRACE,
};
pub use session::{Session, SessionKind, SessionSpec, SessionStatus, StoredOrder};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
pub use store::{PlatformStore, SqliteStore, open_store};
