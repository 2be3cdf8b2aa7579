//! Settlement (FR-MP-SET-03..06): the aggregators declare a baseline for each accepted offer,
//! the operator brings the metered values, and every accepted offer is settled the USEF way
//! (`platone_market::settlement`): delivered flexibility paid at the cleared price, the
//! deficiency against the adjusted baseline penalised; tokens are minted to the delivering
//! aggregators (`platone_market::token::TokenLedger`, one token per unit delivered by
//! default).

use platone_market::settlement::{BaselineMethod, OrderSettlement, SameDayAdjustment};
use serde::{Deserialize, Serialize};

/// What `POST /api/sessions/{id}/baselines` takes: an aggregator's baselines for its accepted
/// offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineDeclaration {
    /// One per offer.
    pub baselines: Vec<DeclaredBaseline>,
}

/// One offer's baseline: what its resource would have used (or produced) without the
/// flexibility, over the offer's slot, in the session's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredBaseline {
    /// The offer's id.
    pub order: String,
    /// The baseline.
    pub baseline: f64,
}

/// What `POST /api/sessions/{id}/settle` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementInput {
    /// The metered value of each accepted offer's resource over its slot (its allocation);
    /// leave out with `from_scd`.
    #[serde(default)]
    pub metered: Vec<MeteredValue>,
    /// Read the metered values from the SCD instead (the platform must be configured with
    /// one): each accepted offer's PoD (its location) over its slot (slots named by their
    /// start, `slot_minutes` set).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub from_scd: Option<ScdSettlement>,
    /// The penalty per unit of deficiency.
    #[serde(default)]
    pub penalty: Penalty,
    /// Tokens minted per unit of flexibility delivered (default 1).
    #[serde(default = "default_tokens_per_unit")]
    pub tokens_per_unit: f64,
}

fn default_tokens_per_unit() -> f64 {
    1.0
}

/// One accepted offer's metered value, and its baseline when the aggregator declared none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeteredValue {
    /// The offer's id.
    pub order: String,
    /// The metered value.
    pub actual: f64,
    /// The baseline, when computed by the operator rather than declared by the aggregator.
    #[serde(default)]
    pub baseline: Option<f64>,
}

/// Settlement from the SCD's metered data: the baselines are the declared ones, or computed
/// from each PoD's metered history with `baseline` where none was declared.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScdSettlement {
    /// How baselines not declared are computed (none: every offer needs a declared one).
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
}

/// A baseline method of `platone_market::settlement` (docs/market.md), over the PoD's metered
/// history in intervals of the session's slot length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum BaselineSpec {
    /// The middle `x` of the previous `y` days, with an optional same-day adjustment over the
    /// `adjustment_intervals` before the slot, capped at `adjustment_cap` × the baseline.
    XOfY {
        /// Days kept.
        x: usize,
        /// Days considered.
        y: usize,
        /// Intervals of the same-day adjustment (none: no adjustment).
        #[serde(default)]
        adjustment_intervals: Option<usize>,
        /// Cap of the adjustment.
        #[serde(default)]
        adjustment_cap: Option<f64>,
    },
    /// The highest `x` of the previous `y` days, adjusted like `x-of-y`.
    HighXOfY {
        /// Days kept.
        x: usize,
        /// Days considered.
        y: usize,
        /// Intervals of the same-day adjustment (none: no adjustment).
        #[serde(default)]
        adjustment_intervals: Option<usize>,
        /// Cap of the adjustment.
        #[serde(default)]
        adjustment_cap: Option<f64>,
    },
    /// A line from the interval before the slot to the interval after it.
    MeterBeforeMeterAfter,
    /// The same interval of the previous `days` working days.
    RollingWorkingDays {
        /// Working days averaged.
        days: usize,
    },
}

impl BaselineSpec {
    /// The method of `platone-market`.
    pub fn method(&self) -> BaselineMethod {
        let adjustment = |intervals: &Option<usize>, cap: &Option<f64>| {
            intervals.map(|intervals| SameDayAdjustment {
                intervals,
                cap: *cap,
            })
        };
        match self {
            BaselineSpec::XOfY {
                x,
                y,
                adjustment_intervals,
                adjustment_cap,
            } => BaselineMethod::XOfY {
                x: *x,
                y: *y,
                adjustment: adjustment(adjustment_intervals, adjustment_cap),
            },
            BaselineSpec::HighXOfY {
                x,
                y,
                adjustment_intervals,
                adjustment_cap,
            } => BaselineMethod::HighXOfY {
                x: *x,
                y: *y,
                adjustment: adjustment(adjustment_intervals, adjustment_cap),
            },
            BaselineSpec::MeterBeforeMeterAfter => BaselineMethod::MeterBeforeMeterAfter,
            BaselineSpec::RollingWorkingDays { days } => {
                BaselineMethod::RollingWorkingDays { days: *days }
            }
        }
    }

    /// How many whole days of history before the slot the method reads.
    pub fn history_days(&self) -> i64 {
        let days = match self {
            BaselineSpec::XOfY { y, .. } | BaselineSpec::HighXOfY { y, .. } => *y,
            BaselineSpec::MeterBeforeMeterAfter => 1,
            // Weekends and a margin for holidays left out by the caller's data.
            BaselineSpec::RollingWorkingDays { days } => days * 7 / 5 + 3,
        };
        i64::try_from(days).unwrap_or(i64::MAX).min(366)
    }
}

/// How the penalty price per unit of deficiency is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Penalty {
    /// A fixed price per unit.
    Fixed(f64),
    /// The order's cleared price times this factor.
    PriceFactor(f64),
}

impl Default for Penalty {
    /// The cleared price (factor 1).
    fn default() -> Self {
        Penalty::PriceFactor(1.0)
    }
}

/// One accepted offer's settlement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AwardSettlement {
    /// The aggregator.
    pub participant: String,
    /// Baseline, ordered, metered, delivered, deficiency, payment (`flex_paid`), penalty and
    /// `settlement` (payment + penalty), as USEF defines them.
    #[schema(value_type = Object)]
    pub settlement: OrderSettlement,
    /// Tokens minted for the delivery, in base units (2 decimals: 100 is one token).
    pub tokens: u64,
}

/// What `GET /api/sessions/{id}/settlement` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettlementReport {
    /// The session.
    pub session: String,
    /// The settlements the caller may see.
    pub settlements: Vec<AwardSettlement>,
    /// The caller's token balance, in base units.
    pub balance: u64,
}
