//! Pluggable clearing algorithms and their common result.
//!
//! Every algorithm implements [`ClearingAlgorithm`]: scenario (order book + optional network) in,
//! [`ClearingResult`] out. Results are deterministic: ties between orders of equal price are
//! broken by [`tie_key`], a seeded hash of the order id, so no bidder is always favoured and
//! the same seed always gives the same result.

mod continuous;
mod dso_first;
mod merit;
mod optimal;
mod pay_as_bid;
mod pay_as_clear;
mod prune;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use continuous::Continuous;
pub use dso_first::{Coordination, DsoFirst};
pub use optimal::{Optimal, SolverBackend};
pub use pay_as_bid::PayAsBid;
pub use pay_as_clear::PayAsClear;

use crate::error::{MarketError, Result};
use crate::location::{BlockDiagnostic, LocationRule};
use crate::order::{Direction, OrderBook};
use crate::scenario::Scenario;
use crate::validation::Cut;

/// Quantities below this are treated as zero.
pub const QUANTITY_EPSILON: f64 = 1e-9;

/// Options shared by all algorithms.
#[derive(Debug, Clone, PartialEq)]
pub struct ClearingConfig {
    /// Seed of the tie-breaking hash.
    pub seed: u64,
    /// The value per unit given to requests without a price (a firm need).
    pub unpriced_request_value: f64,
    /// Which offers a local request may take by location; `None` takes the scenario's rule,
    /// else the algorithm's default (`any`; `area` for `dso-first` with a network). See
    /// [`LocationRule`].
    pub location_rule: Option<LocationRule>,
    /// Radius of an area in branch hops around a local request's bus (rule `area`, with a
    /// network; 0 = the request's own bus).
    pub area_hops: usize,
}

impl Default for ClearingConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            unpriced_request_value: 1000.0,
            location_rule: None,
            area_hops: 0,
        }
    }
}

impl ClearingConfig {
    /// The location rule used on `scenario`: this configuration's, else the scenario's, else
    /// `default`.
    pub fn location_rule_for(&self, scenario: &Scenario, default: LocationRule) -> LocationRule {
        LocationRule::resolve(self.location_rule, scenario, default)
    }
}

/// Seeded tie-breaking key of an order id (64-bit FNV-1a of the id, mixed with the seed by the
/// SplitMix64 finaliser). Among orders of equal price the smaller key goes first.
pub fn tie_key(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The accepted quantity of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// Order id.
    pub id: String,
    /// Accepted quantity (> 0).
    pub quantity: f64,
}

/// A pairing of an offer with a request made by an algorithm that matches orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// Offer id.
    pub offer: String,
    /// Request id.
    pub request: String,
    /// Slot name.
    pub slot: String,
    /// Direction.
    pub direction: Direction,
    /// Matched quantity.
    pub quantity: f64,
    /// Price per unit paid for this match.
    pub price: f64,
    /// A reliability reserve held for the request beyond its quantity (`dso-first` margin).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reserve: bool,
}

/// Prices of one slot, per direction (absent when nothing was traded in that direction).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlotPrices {
    /// Price of upward flexibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<f64>,
    /// Price of downward flexibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<f64>,
}

impl SlotPrices {
    /// The price of a direction.
    pub fn get(&self, d: Direction) -> Option<f64> {
        match d {
            Direction::Up => self.up,
            Direction::Down => self.down,
        }
    }

    fn set(&mut self, d: Direction, p: f64) {
        match d {
            Direction::Up => self.up = Some(p),
            Direction::Down => self.down = Some(p),
        }
    }
}

/// The outcome of a clearing, in the result-file shape
/// `{algorithm, location_rule, welfare, volume, accepted_offers, accepted_requests, matches,
/// prices, diagnostics, solve_ms}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearingResult {
    /// Algorithm name (`pay-as-bid`, …).
    pub algorithm: String,
    /// The location rule the result was cleared with (absent in hand-made results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_rule: Option<LocationRule>,
    /// Σ request value × accepted − Σ offer price × accepted.
    pub welfare: f64,
    /// Σ accepted offer quantity.
    pub volume: f64,
    /// Offers with an accepted quantity > 0, in book order.
    pub accepted_offers: Vec<Accepted>,
    /// Requests with an accepted quantity > 0, in book order.
    pub accepted_requests: Vec<Accepted>,
    /// Offer–request pairs (empty for `optimal`, which does not pair orders).
    pub matches: Vec<Match>,
    /// Slot name → price per direction (see each algorithm's price rule).
    pub prices: BTreeMap<String, SlotPrices>,
    /// What the clearing noticed beside the result: blocks never or not accepted, solver notes.
    #[serde(default)]
    pub diagnostics: Diagnostics,
    /// Wall time of the clearing in milliseconds.
    pub solve_ms: f64,
}

impl ClearingResult {
    /// The accepted quantity of an offer (0 if not accepted).
    pub fn offer_quantity(&self, id: &str) -> f64 {
        self.accepted_offers
            .iter()
            .find(|a| a.id == id)
            .map_or(0.0, |a| a.quantity)
    }

    /// The accepted quantity of a request (0 if not accepted).
    pub fn request_quantity(&self, id: &str) -> f64 {
        self.accepted_requests
            .iter()
            .find(|a| a.id == id)
            .map_or(0.0, |a| a.quantity)
    }

    /// The price an accepted offer is paid per unit: the volume-weighted price of its matches,
    /// else the price of its slot and direction.
    pub fn offer_price(&self, book: &OrderBook, id: &str) -> Option<f64> {
        let (mut q, mut v) = (0.0, 0.0);
        for m in self.matches.iter().filter(|m| m.offer == id) {
            q += m.quantity;
            v += m.quantity * m.price;
        }
        if q > QUANTITY_EPSILON {
            return Some(v / q);
        }
        let o = book.offers.iter().find(|o| o.id == id)?;
        let slot = book.slots.get(o.slot)?;
        self.prices.get(slot)?.get(o.direction)
    }

    /// Parses a result file.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| MarketError::Syntax {
            message: format!("result: {e}"),
            line: e.line(),
            column: e.column(),
        })
    }
}

/// Diagnostics an algorithm reports beside its result (also the result's `diagnostics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Blocks rejected because they could not be accepted in full.
    #[serde(default)]
    pub rejected_blocks: Vec<String>,
    /// Blocks no request can balance under the location rule (a member whose slot and
    /// direction no compatible request asks for, or asks for less than the member): never
    /// accepted, not an error.
    #[serde(default)]
    pub unbalanceable_blocks: Vec<BlockDiagnostic>,
    /// Free-form notes (solver status, iterations, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A clearing algorithm: book + network in, result out. Implementations are deterministic.
///
/// Contract: every scenario that [`Scenario::from_json`] accepts clears without error (a block
/// that cannot be accepted is a diagnostic, not an error); the result reports the location rule
/// it was cleared with ([`ClearingConfig::location_rule_for`]) and carries the diagnostics
/// that [`ClearingAlgorithm::clear_with_diagnostics`] returns beside it.
pub trait ClearingAlgorithm {
    /// The algorithm's name as used on the command line.
    fn name(&self) -> &'static str;

    /// Clears the scenario, with diagnostics.
    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)>;

    /// Clears the scenario.
    fn clear(&self, scenario: &Scenario) -> Result<ClearingResult> {
        self.clear_with_diagnostics(scenario).map(|(r, _)| r)
    }

    /// What remains of `result` (cleared from `scenario` by this algorithm) when the DSO's
    /// validation cuts orders and the book is **not** cleared again: nothing new is accepted and
    /// no quantity grows; welfare, volume, balances, matches and prices are recomputed for what
    /// remains. A block that loses part of one member loses all of them.
    ///
    /// For results that pair orders, matches are undone in reverse clearing order (an order's
    /// latest match first) until every order is within its cut, the counterparts losing the same
    /// quantity; the algorithm's price rule is applied to the remaining matches. For results
    /// without matches, the remaining accepted orders, capped at what remains of each, are
    /// optimised again on their own. The provided algorithms value requests without a price with
    /// their own configuration; this default uses [`ClearingConfig::default`].
    fn prune(
        &self,
        scenario: &Scenario,
        result: &ClearingResult,
        cuts: &[Cut],
    ) -> Result<ClearingResult> {
        prune::prune_default(scenario, &ClearingConfig::default(), result, cuts)
    }
}

/// The names of the provided algorithms.
pub const ALGORITHMS: &[&str] = &[
    "pay-as-bid",
    "pay-as-clear",
    "dso-first",
    "optimal",
    "continuous",
];

/// A provided algorithm by name, with default options and the given shared configuration.
pub fn algorithm_by_name(name: &str, config: ClearingConfig) -> Result<Box<dyn ClearingAlgorithm>> {
    Ok(match name {
        "pay-as-bid" => Box::new(PayAsBid { config }),
        "pay-as-clear" => Box::new(PayAsClear { config }),
        "dso-first" => Box::new(DsoFirst {
            config,
            ..DsoFirst::default()
        }),
        "optimal" => Box::new(Optimal {
            config,
            ..Optimal::default()
        }),
        "continuous" => Box::new(Continuous { config }),
        other => {
            return Err(MarketError::Config(format!(
                "unknown algorithm {other:?} (expected one of {})",
                ALGORITHMS.join(", ")
            )));
        }
    })
}

/// Value per unit of a request for clearing and welfare.
pub(crate) fn request_value(book: &OrderBook, r: usize, config: &ClearingConfig) -> f64 {
    book.requests
        .get(r)
        .and_then(|r| r.price)
        .unwrap_or(config.unpriced_request_value)
}

/// A match by index, before ids are attached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RawMatch {
    pub offer: usize,
    pub request: usize,
    pub quantity: f64,
    pub price: f64,
    pub reserve: bool,
}

/// Builds the public result from per-order accepted quantities.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    algorithm: &str,
    location_rule: Option<LocationRule>,
    book: &OrderBook,
    config: &ClearingConfig,
    offer_q: &[f64],
    request_q: &[f64],
    matches: &[RawMatch],
    prices: Vec<[Option<f64>; 2]>,
    started: Instant,
) -> ClearingResult {
    let mut welfare = 0.0;
    let mut volume = 0.0;
    let mut accepted_offers = Vec::new();
    for (o, &q) in book.offers.iter().zip(offer_q) {
        if q > QUANTITY_EPSILON {
            welfare -= o.price * q;
            volume += q;
            accepted_offers.push(Accepted {
                id: o.id.clone(),
                quantity: q,
            });
        }
    }
    let mut accepted_requests = Vec::new();
    for (i, (r, &q)) in book.requests.iter().zip(request_q).enumerate() {
        if q > QUANTITY_EPSILON {
            welfare += request_value(book, i, config) * q;
            accepted_requests.push(Accepted {
                id: r.id.clone(),
                quantity: q,
            });
        }
    }
    let slot_name = |t: usize| book.slots.get(t).cloned().unwrap_or_default();
    let matches = matches
        .iter()
        .filter_map(|m| {
            let o = book.offers.get(m.offer)?;
            let r = book.requests.get(m.request)?;
            Some(Match {
                offer: o.id.clone(),
                request: r.id.clone(),
                slot: slot_name(o.slot),
                direction: o.direction,
                quantity: m.quantity,
                price: m.price,
                reserve: m.reserve,
            })
        })
        .collect();
    let mut price_map = BTreeMap::new();
    for (t, p) in prices.into_iter().enumerate() {
        let mut sp = SlotPrices::default();
        for d in [Direction::Up, Direction::Down] {
            if let Some(v) = p[d.index()] {
                sp.set(d, v);
            }
        }
        if sp.up.is_some() || sp.down.is_some() {
            price_map.insert(slot_name(t), sp);
        }
    }
    ClearingResult {
        algorithm: algorithm.to_string(),
        location_rule,
        welfare,
        volume,
        accepted_offers,
        accepted_requests,
        matches,
        prices: price_map,
        diagnostics: Diagnostics::default(),
        solve_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}

/// Puts `diagnostics` into the result as well and returns both.
pub(crate) fn with_diagnostics(
    mut result: ClearingResult,
    diagnostics: Diagnostics,
) -> (ClearingResult, Diagnostics) {
    result.diagnostics = diagnostics.clone();
    (result, diagnostics)
}

/// Volume-weighted average match price per slot and direction.
pub(crate) fn average_prices(book: &OrderBook, matches: &[RawMatch]) -> Vec<[Option<f64>; 2]> {
    let mut acc = vec![[(0.0f64, 0.0f64); 2]; book.slots.len()];
    for m in matches.iter().filter(|m| !m.reserve) {
        if let Some(o) = book.offers.get(m.offer)
            && let Some(a) = acc.get_mut(o.slot)
        {
            let e = &mut a[o.direction.index()];
            e.0 += m.quantity;
            e.1 += m.quantity * m.price;
        }
    }
    acc.into_iter()
        .map(|a| a.map(|(q, v)| (q > QUANTITY_EPSILON).then(|| v / q)))
        .collect()
}
