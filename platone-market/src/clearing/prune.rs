//! Keeping what remains of a result when the DSO's validation removes or curtails orders and the
//! book is not cleared again.
//!
//! Nothing new is accepted and no quantity grows. For algorithms that pair orders, the matches
//! are undone in reverse clearing order (the latest match of an order first) until every order
//! is within its cut; the counterpart of an undone match loses that quantity too, so every slot
//! and direction stays balanced. A block that loses part of one member loses all of them (and
//! their counterparts lose those matches). For algorithms that do not pair orders (`optimal`),
//! the remaining accepted orders, capped at what remains, are optimised again on their own.

use std::collections::HashMap;
use std::time::Instant;

use super::{
    ClearingAlgorithm, ClearingConfig, ClearingResult, Optimal, QUANTITY_EPSILON, RawMatch,
    assemble, average_prices,
};
use crate::error::{MarketError, Result};
use crate::order::OrderBook;
use crate::scenario::Scenario;
use crate::validation::{Cut, OrderKind};

/// Tolerance when comparing an order's accepted quantity with the sum of its matches.
const CONSISTENCY_TOLERANCE: f64 = 1e-6;

/// How the prices of the pruned result are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceRule {
    /// Every remaining match keeps its price; `prices` is the volume-weighted average.
    AsMatched,
    /// The highest offer price among the remaining matches of a slot and direction is paid for
    /// all of them (`pay-as-clear`).
    Uniform,
}

fn index_of<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    ids.enumerate().map(|(i, id)| (id, i)).collect()
}

fn unknown(kind: &'static str, id: &str, what: &str) -> MarketError {
    MarketError::Order {
        kind,
        id: id.to_string(),
        message: format!("{what} but not in the scenario"),
    }
}

/// Per-order caps: the accepted quantity of the result, lowered by the cuts.
struct Caps {
    offers: Vec<f64>,
    requests: Vec<f64>,
}

fn caps(book: &OrderBook, result: &ClearingResult, cuts: &[Cut]) -> Result<Caps> {
    let offer_ix = index_of(book.offers.iter().map(|o| o.id.as_str()));
    let request_ix = index_of(book.requests.iter().map(|r| r.id.as_str()));
    let mut offers = vec![0.0; book.offers.len()];
    let mut requests = vec![0.0; book.requests.len()];
    for a in &result.accepted_offers {
        let i = *offer_ix
            .get(a.id.as_str())
            .ok_or_else(|| unknown("offer", &a.id, "accepted in the result"))?;
        if let Some(c) = offers.get_mut(i) {
            *c = a.quantity;
        }
    }
    for a in &result.accepted_requests {
        let i = *request_ix
            .get(a.id.as_str())
            .ok_or_else(|| unknown("request", &a.id, "accepted in the result"))?;
        if let Some(c) = requests.get_mut(i) {
            *c = a.quantity;
        }
    }
    for cut in cuts {
        let (ix, caps, kind) = match cut.kind {
            OrderKind::Offer => (&offer_ix, &mut offers, "offer"),
            OrderKind::Request => (&request_ix, &mut requests, "request"),
        };
        let i = *ix
            .get(cut.order.as_str())
            .ok_or_else(|| unknown(kind, &cut.order, "cut by the validation"))?;
        if let Some(c) = caps.get_mut(i) {
            *c = c.min(cut.keep.max(0.0));
        }
    }
    // A block member below its full quantity takes the whole block out.
    for (_, members) in book.blocks() {
        let whole = members.iter().all(|&i| {
            let q = book.offers.get(i).map_or(0.0, |o| o.quantity);
            offers.get(i).is_some_and(|&c| c >= q * (1.0 - 1e-9))
        });
        if !whole {
            for i in members {
                if let Some(c) = offers.get_mut(i) {
                    *c = 0.0;
                }
            }
        }
    }
    Ok(Caps { offers, requests })
}

/// Undoes matches from the back of `list` (indexes into `matches`) until `excess` is gone.
fn trim(matches: &mut [RawMatch], list: &[usize], mut excess: f64) {
    for &k in list.iter().rev() {
        if excess <= QUANTITY_EPSILON {
            break;
        }
        if let Some(m) = matches.get_mut(k) {
            let cut = m.quantity.min(excess);
            m.quantity -= cut;
            excess -= cut;
        }
    }
}

fn totals(matches: &[RawMatch], list: &[usize]) -> f64 {
    list.iter()
        .filter_map(|&k| matches.get(k))
        .map(|m| m.quantity)
        .sum()
}

/// Prunes a result whose matches account for every accepted quantity (the merit-order
/// algorithms and `continuous`).
pub(crate) fn prune_matched(
    scenario: &Scenario,
    config: &ClearingConfig,
    result: &ClearingResult,
    cuts: &[Cut],
    rule: PriceRule,
) -> Result<ClearingResult> {
    let started = Instant::now();
    let book = &scenario.book;
    let caps = caps(book, result, cuts)?;
    let offer_ix = index_of(book.offers.iter().map(|o| o.id.as_str()));
    let request_ix = index_of(book.requests.iter().map(|r| r.id.as_str()));
    let mut matches = Vec::with_capacity(result.matches.len());
    for m in &result.matches {
        let offer = *offer_ix
            .get(m.offer.as_str())
            .ok_or_else(|| unknown("offer", &m.offer, "matched in the result"))?;
        let request = *request_ix
            .get(m.request.as_str())
            .ok_or_else(|| unknown("request", &m.request, "matched in the result"))?;
        matches.push(RawMatch {
            offer,
            request,
            quantity: m.quantity,
            price: m.price,
            reserve: m.reserve,
        });
    }
    // Match indexes per offer (all), per request (served) and per request (reserve), in
    // clearing order.
    let mut by_offer = vec![Vec::new(); book.offers.len()];
    let mut by_request = vec![Vec::new(); book.requests.len()];
    let mut reserve_of = vec![Vec::new(); book.requests.len()];
    for (k, m) in matches.iter().enumerate() {
        if let Some(l) = by_offer.get_mut(m.offer) {
            l.push(k);
        }
        let per_request = if m.reserve {
            &mut reserve_of
        } else {
            &mut by_request
        };
        if let Some(l) = per_request.get_mut(m.request) {
            l.push(k);
        }
    }
    // The matches must account for the accepted quantities, or there is no pairing to prune.
    let checks = [
        ("offer", &offer_ix, &by_offer, &result.accepted_offers),
        (
            "request",
            &request_ix,
            &by_request,
            &result.accepted_requests,
        ),
    ];
    for (kind, ix, lists, accepted) in checks {
        for a in accepted {
            let matched = ix
                .get(a.id.as_str())
                .and_then(|&i| lists.get(i))
                .map_or(0.0, |l| totals(&matches, l));
            if (matched - a.quantity).abs() > CONSISTENCY_TOLERANCE * a.quantity.max(1.0) {
                return Err(MarketError::Order {
                    kind,
                    id: a.id.clone(),
                    message: format!(
                        "accepted {} in the result but matched {matched}: the matches must \
                         account for every accepted quantity",
                        a.quantity
                    ),
                });
            }
        }
    }
    let served: Vec<f64> = by_request.iter().map(|l| totals(&matches, l)).collect();
    let reserve_ratio: Vec<f64> = reserve_of
        .iter()
        .zip(&served)
        .map(|(l, &s)| {
            if s > QUANTITY_EPSILON {
                totals(&matches, l) / s
            } else {
                0.0
            }
        })
        .collect();
    let mut offer_caps = caps.offers;
    let blocks = book.blocks();
    loop {
        for (i, list) in by_offer.iter().enumerate() {
            let cap = offer_caps.get(i).copied().unwrap_or(0.0);
            let excess = totals(&matches, list) - cap;
            if excess > QUANTITY_EPSILON {
                trim(&mut matches, list, excess);
            }
        }
        for (r, list) in by_request.iter().enumerate() {
            let cap = caps.requests.get(r).copied().unwrap_or(0.0);
            let excess = totals(&matches, list) - cap;
            if excess > QUANTITY_EPSILON {
                trim(&mut matches, list, excess);
            }
        }
        // A reserve held for a request shrinks with what the request is still served.
        for (r, list) in reserve_of.iter().enumerate() {
            let served = by_request.get(r).map_or(0.0, |l| totals(&matches, l));
            let cap = reserve_ratio.get(r).copied().unwrap_or(0.0) * served;
            let excess = totals(&matches, list) - cap;
            if excess > QUANTITY_EPSILON {
                trim(&mut matches, list, excess);
            }
        }
        let mut withdrew = false;
        for (_, members) in &blocks {
            let got = |i: usize| by_offer.get(i).map_or(0.0, |l| totals(&matches, l));
            let full = members
                .iter()
                .all(|&i| got(i) >= book.offers.get(i).map_or(0.0, |o| o.quantity) * (1.0 - 1e-9));
            let none = members.iter().all(|&i| got(i) <= QUANTITY_EPSILON);
            if !(full || none) {
                for &i in members {
                    if let Some(c) = offer_caps.get_mut(i) {
                        *c = 0.0;
                    }
                }
                withdrew = true;
            }
        }
        if !withdrew {
            break;
        }
    }
    let clean = |q: f64| if q <= QUANTITY_EPSILON { 0.0 } else { q };
    let offer_q: Vec<f64> = by_offer
        .iter()
        .map(|l| clean(totals(&matches, l)))
        .collect();
    let request_q: Vec<f64> = by_request
        .iter()
        .map(|l| clean(totals(&matches, l)))
        .collect();
    matches.retain(|m| m.quantity > QUANTITY_EPSILON);
    let prices = match rule {
        PriceRule::AsMatched => average_prices(book, &matches),
        PriceRule::Uniform => super::pay_as_clear::uniform_prices(book, &mut matches),
    };
    let mut pruned = assemble(
        &result.algorithm,
        result.location_rule,
        book,
        config,
        &offer_q,
        &request_q,
        &matches,
        prices,
        started,
    );
    pruned.solve_ms += result.solve_ms;
    Ok(pruned)
}

/// Prunes a result without a pairing of orders: the remaining accepted orders, each capped at
/// what remains of it, are cleared again by `optimal` on their own (nothing else enters).
pub(crate) fn prune_by_optimisation(
    optimal: &Optimal,
    scenario: &Scenario,
    result: &ClearingResult,
    cuts: &[Cut],
) -> Result<ClearingResult> {
    let book = &scenario.book;
    let caps = caps(book, result, cuts)?;
    let keep = |q: f64, cap: f64| (cap > QUANTITY_EPSILON).then_some(q.min(cap));
    let restricted = Scenario {
        book: OrderBook {
            unit: book.unit,
            slots: book.slots.clone(),
            requests: book
                .requests
                .iter()
                .zip(&caps.requests)
                .filter_map(|(r, &cap)| {
                    keep(r.quantity, cap).map(|quantity| crate::order::FlexRequest {
                        quantity,
                        ..r.clone()
                    })
                })
                .collect(),
            offers: book
                .offers
                .iter()
                .zip(&caps.offers)
                .filter_map(|(o, &cap)| {
                    keep(o.quantity, cap).map(|quantity| crate::order::FlexOffer {
                        quantity,
                        ..o.clone()
                    })
                })
                .collect(),
        },
        network: scenario.network.clone(),
        location_rule: scenario.location_rule,
    };
    // Re-optimise under the rule the result was cleared with.
    let mut optimal = optimal.clone();
    if result.location_rule.is_some() {
        optimal.config.location_rule = result.location_rule;
    }
    let mut pruned = optimal.clear(&restricted)?;
    pruned.algorithm.clone_from(&result.algorithm);
    pruned.solve_ms += result.solve_ms;
    Ok(pruned)
}

/// The default pruning of [`ClearingAlgorithm::prune`]: by matches when the result pairs
/// orders (or accepted nothing), else by optimisation.
pub(crate) fn prune_default(
    scenario: &Scenario,
    config: &ClearingConfig,
    result: &ClearingResult,
    cuts: &[Cut],
) -> Result<ClearingResult> {
    let paired = !result.matches.is_empty()
        || (result.accepted_offers.is_empty() && result.accepted_requests.is_empty());
    if paired {
        prune_matched(scenario, config, result, cuts, PriceRule::AsMatched)
    } else {
        let optimal = Optimal {
            config: config.clone(),
            ..Optimal::default()
        };
        prune_by_optimisation(&optimal, scenario, result, cuts)
    }
}
