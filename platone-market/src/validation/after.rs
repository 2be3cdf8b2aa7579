//! What follows a technical validation with red orders: clear again or keep what remains.

use serde::{Deserialize, Serialize};

use super::{Cut, GridValidator, OrderKind, Verdict, cuts};
use crate::clearing::{ClearingAlgorithm, ClearingResult, QUANTITY_EPSILON};
use crate::error::{MarketError, Result};
use crate::order::OrderBook;
use crate::scenario::Scenario;

/// The operator's choice when the validation removes or curtails orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterValidation {
    /// Clear the book again without the rejected orders (curtailed orders capped at what the
    /// DSO allows): other offers may take their place.
    Reclear,
    /// Keep the remaining accepted orders, nothing new: the result is pruned with
    /// [`ClearingAlgorithm::prune`] (counterparts lose what they were matched with, blocks
    /// go as a whole; welfare, balances, prices and matches recomputed).
    Keep,
}

impl AfterValidation {
    /// `reclear` or `keep`.
    pub fn as_str(self) -> &'static str {
        match self {
            AfterValidation::Reclear => "reclear",
            AfterValidation::Keep => "keep",
        }
    }
}

/// The outcome of [`validate_result`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationOutcome {
    /// The validated result: the validator reports no red on it.
    pub result: ClearingResult,
    /// The scenario with the cuts applied to its book (see [`apply_cuts`]).
    pub scenario: Scenario,
    /// The verdicts of every round, the last one without red.
    pub rounds: Vec<Vec<Verdict>>,
    /// Every cut applied, in order.
    pub cuts: Vec<Cut>,
}

/// Applies cuts to a book: an order cut to 0 is removed, a curtailed order's quantity is capped
/// at what it may keep, and a block with a cut member is removed as a whole (its offers are
/// accepted in full or not at all).
pub fn apply_cuts(book: &mut OrderBook, cuts: &[Cut]) {
    let cut_of = |kind: OrderKind, id: &str| {
        cuts.iter()
            .filter(|c| c.kind == kind && c.order == id)
            .map(|c| c.keep)
            .reduce(f64::min)
    };
    let cut_blocks: Vec<String> = book
        .offers
        .iter()
        .filter(|o| cut_of(OrderKind::Offer, &o.id).is_some())
        .filter_map(|o| o.block.clone())
        .collect();
    book.offers.retain_mut(|o| {
        if o.block.as_ref().is_some_and(|b| cut_blocks.contains(b)) {
            return false;
        }
        match cut_of(OrderKind::Offer, &o.id) {
            Some(keep) if keep <= QUANTITY_EPSILON => false,
            Some(keep) => {
                o.quantity = o.quantity.min(keep);
                true
            }
            None => true,
        }
    });
    book.requests
        .retain_mut(|r| match cut_of(OrderKind::Request, &r.id) {
            Some(keep) if keep <= QUANTITY_EPSILON => false,
            Some(keep) => {
                r.quantity = r.quantity.min(keep);
                true
            }
            None => true,
        });
}

/// Validates `result` (cleared from `scenario` with `algorithm`) with `validator` until no red
/// remains, for at most `max_rounds` validations. After each round with red orders the cuts are
/// applied to the book and, as the operator chose, the book is cleared again
/// ([`AfterValidation::Reclear`]) or the result is pruned to what remains
/// ([`AfterValidation::Keep`]).
pub fn validate_result(
    scenario: &Scenario,
    result: ClearingResult,
    validator: &dyn GridValidator,
    algorithm: &dyn ClearingAlgorithm,
    after: AfterValidation,
    max_rounds: usize,
) -> Result<ValidationOutcome> {
    let mut outcome = ValidationOutcome {
        result,
        scenario: scenario.clone(),
        rounds: Vec::new(),
        cuts: Vec::new(),
    };
    for _ in 0..max_rounds.max(1) {
        let verdicts = validator.validate(&outcome.scenario, &outcome.result);
        let round_cuts = cuts(&verdicts);
        outcome.rounds.push(verdicts);
        if round_cuts.is_empty() {
            return Ok(outcome);
        }
        let before = outcome.scenario.clone();
        apply_cuts(&mut outcome.scenario.book, &round_cuts);
        outcome.result = match after {
            AfterValidation::Reclear => algorithm.clear(&outcome.scenario)?,
            AfterValidation::Keep => algorithm.prune(&before, &outcome.result, &round_cuts)?,
        };
        outcome.cuts.extend(round_cuts);
    }
    let red: Vec<String> = outcome
        .rounds
        .last()
        .map(|v| {
            cuts(v)
                .into_iter()
                .map(|c| format!("{} {:?}", c.kind.as_str(), c.order))
                .collect()
        })
        .unwrap_or_default();
    Err(MarketError::Validation(format!(
        "red orders remain after {} rounds ({}): {}",
        outcome.rounds.len(),
        after.as_str(),
        red.join(", ")
    )))
}
