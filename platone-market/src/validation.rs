//! Technical validation of a clearing result by the DSO: a traffic light per accepted order.
//!
//! A red verdict removes the order, or curtails it to a smaller quantity. What happens next is
//! the operator's choice ([`AfterValidation`]): clear the book again without the rejected
//! orders, or keep the remaining accepted orders with welfare, balances, prices and matches
//! recomputed for what remains ([`validate_result`]).

mod after;
mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clearing::{ClearingResult, QUANTITY_EPSILON};
use crate::order::Direction;
use crate::scenario::Scenario;

pub use after::{AfterValidation, ValidationOutcome, apply_cuts, validate_result};
pub use wire::{VALIDATION_FORMAT, ValidationRequest, ValidationResponse};

/// The traffic light of one accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    /// Technically fine.
    Green,
    /// Fine, but close to a limit.
    Amber,
    /// Violates a limit: removed before publication.
    Red,
}

/// Which order a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    /// A flexibility request.
    Request,
    /// A flexibility offer.
    Offer,
}

impl OrderKind {
    /// `request` or `offer`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Request => "request",
            OrderKind::Offer => "offer",
        }
    }
}

/// The validator's verdict on one accepted order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Request or offer.
    pub kind: OrderKind,
    /// The order id.
    pub order: String,
    /// Green, amber or red.
    pub light: Light,
    /// Why (empty for green).
    pub reason: String,
    /// For a red order: the quantity the DSO still allows, to which the order is curtailed
    /// instead of being removed (`None`: removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curtail_to: Option<f64>,
}

/// What a red verdict does to an order: it may keep at most `keep` (0: removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// Request or offer.
    pub kind: OrderKind,
    /// The order id.
    pub order: String,
    /// The most of the order that may remain accepted (0 when it is removed).
    pub keep: f64,
}

/// A technical check of a clearing result against the grid.
pub trait GridValidator {
    /// One verdict per accepted order, in the result's order (offers, then requests).
    fn validate(&self, scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict>;
}

/// Checks branch loading with the DC network model and accepted flexibility per area.
#[derive(Debug, Clone, PartialEq)]
pub struct LineLoadingValidator {
    /// Loading (fraction of the limit) from which an order pushing a branch gets amber.
    pub amber_loading: f64,
    /// Largest accepted offer quantity per location and slot (per-area limits).
    pub area_limits: BTreeMap<String, f64>,
    /// Absolute tolerance on limits.
    pub tolerance: f64,
    /// Curtail the offers of an area over its limit (each scaled by limit / accepted total)
    /// instead of removing them. Branch overloads always remove the orders blamed.
    pub curtail_areas: bool,
}

impl Default for LineLoadingValidator {
    fn default() -> Self {
        Self {
            amber_loading: 0.9,
            area_limits: BTreeMap::new(),
            tolerance: 1e-6,
            curtail_areas: false,
        }
    }
}

impl GridValidator for LineLoadingValidator {
    fn validate(&self, scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        let book = &scenario.book;
        let offer_index: BTreeMap<&str, usize> = book
            .offers
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.as_str(), i))
            .collect();
        let request_index: BTreeMap<&str, usize> = book
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        // (kind, id, slot, location, signed injection change)
        let mut changes = Vec::new();
        for a in &result.accepted_offers {
            if let Some(o) = offer_index
                .get(a.id.as_str())
                .and_then(|&i| book.offers.get(i))
            {
                let sign = if o.direction == Direction::Up {
                    1.0
                } else {
                    -1.0
                };
                changes.push((
                    OrderKind::Offer,
                    a.id.as_str(),
                    o.slot,
                    o.location.as_str(),
                    sign * a.quantity,
                ));
            }
        }
        for a in &result.accepted_requests {
            if let Some(r) = request_index
                .get(a.id.as_str())
                .and_then(|&i| book.requests.get(i))
            {
                let sign = if r.direction == Direction::Up {
                    -1.0
                } else {
                    1.0
                };
                changes.push((
                    OrderKind::Request,
                    a.id.as_str(),
                    r.slot,
                    r.location.as_str(),
                    sign * a.quantity,
                ));
            }
        }
        let mut worst: Vec<(Light, String, Option<f64>)> =
            vec![(Light::Green, String::new(), None); changes.len()];
        let mut raise = |k: usize, light: Light, reason: String, curtail: Option<f64>| {
            let Some(w) = worst.get_mut(k) else { return };
            if light > w.0 {
                *w = (light, reason, curtail);
            } else if light == Light::Red && w.0 == Light::Red {
                // Two red reasons: removal wins over curtailment, else the smaller quantity.
                w.2 = match (w.2, curtail) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                };
                w.1 = format!("{}; {reason}", w.1);
            }
        };
        if let Some(net) = &scenario.network {
            for t in 0..book.slots.len() {
                let mut inj = net.baseline(t);
                for c in changes.iter().filter(|c| c.2 == t) {
                    if let Some(b) = net.bus(c.3).and_then(|b| inj.get_mut(b)) {
                        *b += c.4;
                    }
                }
                let flows = net.flows(&inj);
                let slot = book.slots.get(t).map_or("?", |s| s.as_str());
                for (l, (&f, br)) in flows.iter().zip(net.branches()).enumerate() {
                    let (lo, hi) = net.bounds(t, l);
                    let over = f > hi + self.tolerance || f < lo - self.tolerance;
                    let loading = f.abs() / br.limit;
                    let light = if over {
                        Light::Red
                    } else if loading >= self.amber_loading {
                        Light::Amber
                    } else {
                        continue;
                    };
                    let row = net.ptdf().get(l);
                    for (k, c) in changes.iter().enumerate().filter(|(_, c)| c.2 == t) {
                        let p = net
                            .bus(c.3)
                            .and_then(|b| row.and_then(|r| r.get(b)))
                            .copied()
                            .unwrap_or(0.0);
                        // Only orders pushing the flow further in its direction are blamed.
                        if p * c.4 * f.signum() > QUANTITY_EPSILON {
                            raise(
                                k,
                                light,
                                format!(
                                    "branch {:?} in slot {slot:?} loaded at {:.1}% of its limit {}",
                                    br.id,
                                    loading * 100.0,
                                    br.limit
                                ),
                                None,
                            );
                        }
                    }
                }
            }
        }
        for (area, &limit) in &self.area_limits {
            for t in 0..book.slots.len() {
                let total: f64 = changes
                    .iter()
                    .filter(|c| c.0 == OrderKind::Offer && c.2 == t && c.3 == area)
                    .map(|c| c.4.abs())
                    .sum();
                if total > limit + self.tolerance {
                    let slot = book.slots.get(t).map_or("?", |s| s.as_str());
                    let scale = (limit / total).clamp(0.0, 1.0);
                    for (k, c) in changes.iter().enumerate() {
                        if c.0 == OrderKind::Offer && c.2 == t && c.3 == area {
                            let curtail = self.curtail_areas.then(|| c.4.abs() * scale);
                            let action = match curtail {
                                Some(q) => format!("curtailed to {q}"),
                                None => "removed".to_string(),
                            };
                            raise(
                                k,
                                Light::Red,
                                format!(
                                    "area {area:?} in slot {slot:?}: {total} accepted, limit {limit}: {action}"
                                ),
                                curtail,
                            );
                        }
                    }
                }
            }
        }
        changes
            .iter()
            .zip(worst)
            .map(|(c, (light, reason, curtail_to))| Verdict {
                kind: c.0,
                order: c.1.to_string(),
                light,
                reason,
                curtail_to: if light == Light::Red {
                    curtail_to
                } else {
                    None
                },
            })
            .collect()
    }
}

/// The ids of the orders a validator put on red.
pub fn red_orders(verdicts: &[Verdict]) -> Vec<(OrderKind, String)> {
    verdicts
        .iter()
        .filter(|v| v.light == Light::Red)
        .map(|v| (v.kind, v.order.clone()))
        .collect()
}

/// The cuts the red verdicts ask for: curtailed orders keep `curtail_to`, the others are removed.
/// An order with several red verdicts gets the strictest cut.
pub fn cuts(verdicts: &[Verdict]) -> Vec<Cut> {
    let mut out: Vec<Cut> = Vec::new();
    for v in verdicts.iter().filter(|v| v.light == Light::Red) {
        let keep = v
            .curtail_to
            .map_or(0.0, |q| if q.is_finite() { q.max(0.0) } else { 0.0 });
        match out
            .iter_mut()
            .find(|c| c.kind == v.kind && c.order == v.order)
        {
            Some(c) => c.keep = c.keep.min(keep),
            None => out.push(Cut {
                kind: v.kind,
                order: v.order.clone(),
                keep,
            }),
        }
    }
    out
}
