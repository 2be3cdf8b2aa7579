//! Settlement (FR-MP-SET-03..06): the aggregators declare a baseline for each accepted offer,
//! the operator brings the metered values, and every accepted offer is settled the USEF way
//! (`platone_market::settlement`): delivered flexibility paid at the cleared price, the
//! deficiency against the adjusted baseline penalised; tokens are minted to the delivering
//! aggregators (`platone_market::token::TokenLedger`, one token per unit delivered by
//! default).

use platone_market::settlement::OrderSettlement;
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
    /// The metered value of each accepted offer's resource over its slot (its allocation).
    pub metered: Vec<MeteredValue>,
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
