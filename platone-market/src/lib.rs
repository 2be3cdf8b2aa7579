//! The flexibility market of the Platone SDK.
//!
//! DSOs and TSOs post flexibility requests, aggregators post offers; market sessions clear them
//! with a pluggable clearing algorithm, a grid validator checks the result, and settlement
//! compares metered data with a baseline.
//!
//! ```
//! use platone_market::clearing::{ClearingAlgorithm, PayAsBid};
//! use platone_market::Scenario;
//!
//! let scenario = Scenario::from_json(r#"{
//!   "format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
//!   "requests": [{"id": "r1", "participant": "dso-1", "role": "dso", "location": "n5",
//!                 "direction": "up", "slot": "t1", "quantity": 2.0, "price": 50.0}],
//!   "offers": [{"id": "o1", "participant": "agg-1", "location": "n5", "direction": "up",
//!               "slot": "t1", "quantity": 1.5, "price": 20.0}]
//! }"#)?;
//! let result = PayAsBid::default().clear(&scenario)?;
//! assert_eq!(result.offer_quantity("o1"), 1.5);
//! assert_eq!(result.welfare, 1.5 * (50.0 - 20.0));
//! # Ok::<(), platone_market::MarketError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod clearing;
pub mod error;
pub mod generate;
pub mod location;
pub mod network;
pub mod order;
pub mod participant;
pub mod scenario;
pub mod session;
pub mod settlement;
pub mod token;
pub mod validation;

pub use error::{MarketError, Result};
pub use location::LocationRule;
pub use order::{Direction, FlexOffer, FlexRequest, OrderBook, QuantityUnit, RequestRole};
pub use participant::{MarketRole, Participant};
pub use scenario::{SCENARIO_FORMAT, Scenario, ScenarioFile};
