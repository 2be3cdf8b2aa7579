//! Market validation (FR-MP-MOMV-02/03): the Market Platform's validation requests answered
//! on the bus with a traffic light per accepted order.
//!
//! - [`AcValidator`] checks a clearing result with `platone-grid`'s AC power flow against
//!   each bus's voltage limits and each branch's thermal limit (`rateA`), on the latest
//!   estimated state when one is set, and adds the DC line-loading check of
//!   `platone-market` when the book carries a DC network. A red verdict names the violated
//!   bus or branch: `voltage at bus 18 1.062 p.u. above Vmax 1.05 in slot "t1"`.
//! - [`ValidationService`] answers [`ValidationRequest`](platone_market::validation::ValidationRequest)s
//!   on [`DsotpTopics::validation_requests`](crate::DsotpTopics::validation_requests) with
//!   the validator's verdicts, dead-lettering what it cannot read.
//!
//! ```
//! use platone_dsotp::validation::{AcValidator, AcValidatorConfig};
//! use platone_market::clearing::{ClearingAlgorithm, PayAsBid};
//! use platone_market::Scenario;
//! use platone_market::validation::{GridValidator, Light};
//!
//! // A three-bus feeder; 8 MW more generation at its end raise the voltage above 1.05 p.u.
//! let case = "mpc.baseMVA = 10;
//! mpc.bus = [1 3 0 0 0 0 1 1 0 20 1 1.1 0.9; 2 1 0.5 0 0 0 1 1 0 20 1 1.05 0.95;
//!            3 1 0.5 0 0 0 1 1 0 20 1 1.05 0.95];
//! mpc.gen = [1 0 0 100 -100 1.0 100 1 200 0];
//! mpc.branch = [1 2 0.05 0.05 0 0 0 0 0 0 1 -360 360; 2 3 0.05 0.05 0 0 0 0 0 0 1 -360 360];";
//! let validator = AcValidator::from_case(case, AcValidatorConfig::default())?;
//! let scenario = Scenario::from_json(r#"{
//!   "format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
//!   "requests": [{"id": "r1", "participant": "tso", "role": "tso", "location": "1",
//!                 "direction": "up", "slot": "t1", "quantity": 8.0, "price": 50.0}],
//!   "offers": [{"id": "o1", "participant": "agg-1", "location": "3", "direction": "up",
//!               "slot": "t1", "quantity": 8.0, "price": 20.0}]
//! }"#)?;
//! let result = PayAsBid::default().clear(&scenario)?;
//! let verdicts = validator.validate(&scenario, &result);
//! assert_eq!(verdicts[0].light, Light::Red);
//! assert!(verdicts[0].reason.contains("bus 3"), "{}", verdicts[0].reason);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ac;
mod config;
mod flow;
mod report;
mod service;
#[cfg(test)]
mod tests;

pub use ac::AcValidator;
pub use config::{AcValidatorConfig, RequestInjection};
pub use report::{AcReport, SlotReport, Violation};
pub use service::{SharedValidator, ValidationCounters, ValidationService, ValidationStats};
