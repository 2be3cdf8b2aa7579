//! Technical validation of a clearing result by the DSO: a traffic light per accepted order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clearing::{ClearingResult, QUANTITY_EPSILON};
use crate::order::Direction;
use crate::scenario::Scenario;

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
}

impl Default for LineLoadingValidator {
    fn default() -> Self {
        Self {
            amber_loading: 0.9,
            area_limits: BTreeMap::new(),
            tolerance: 1e-6,
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
        let mut worst: Vec<(Light, String)> = vec![(Light::Green, String::new()); changes.len()];
        let mut raise = |k: usize, light: Light, reason: String| {
            if let Some(w) = worst.get_mut(k)
                && light > w.0
            {
                *w = (light, reason);
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
                    for (k, c) in changes.iter().enumerate() {
                        if c.0 == OrderKind::Offer && c.2 == t && c.3 == area {
                            raise(
                                k,
                                Light::Red,
                                format!(
                                    "area {area:?} in slot {slot:?}: {total} accepted, limit {limit}"
                                ),
                            );
                        }
                    }
                }
            }
        }
        changes
            .iter()
            .zip(worst)
            .map(|(c, (light, reason))| Verdict {
                kind: c.0,
                order: c.1.to_string(),
                light,
                reason,
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
