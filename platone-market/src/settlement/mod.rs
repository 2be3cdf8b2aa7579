//! Settlement: baselines computed from metered series, and USEF one-sided settlement of
//! delivered flexibility.

pub mod baseline;
pub mod usef;

pub use baseline::{BaselineMethod, Event, MeteredSeries, SameDayAdjustment, compute_baseline};
pub use usef::{MeterReading, OrderSettlement, PenaltyRule, settle_order, settle_result};
