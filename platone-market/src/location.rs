//! The location rule: which offers a request may take, by location.
//!
//! A TSO request takes offers at any location under every rule. A local request (DSO, or
//! without a role) takes, under
//!
//! - [`LocationRule::Any`]: offers at any location (a copper plate without a network; with one
//!   the branch limits decide);
//! - [`LocationRule::SameBus`]: only offers at its own location;
//! - [`LocationRule::Area`]: offers within `area_hops` branches of its bus (with a network), or
//!   at its own location (without one, where a location names an area).
//!
//! The rule is a field of the scenario (`"location_rule"`) and of
//! [`ClearingConfig`](crate::clearing::ClearingConfig); the configuration wins over the
//! scenario. When neither sets it, it is `any`, except for `dso-first` on a scenario with a
//! network, whose congested-area rule is `area`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::network::Network;
use crate::order::{FlexOffer, FlexRequest, OrderBook};
use crate::scenario::Scenario;

/// Which offers a local (DSO or role-less) request may take, by location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocationRule {
    /// `same-bus`: offers at the request's own location only.
    SameBus,
    /// `any`: offers at any location (the branch limits decide with a network).
    Any,
    /// `area`: offers within `area_hops` branches of the request's bus; without a network, at
    /// the request's own location.
    Area,
}

impl LocationRule {
    /// All rules, in their documented order.
    pub const ALL: [LocationRule; 3] =
        [LocationRule::SameBus, LocationRule::Any, LocationRule::Area];

    /// The rule's name in scenario and result files (`same-bus`, `any`, `area`).
    pub fn as_str(self) -> &'static str {
        match self {
            LocationRule::SameBus => "same-bus",
            LocationRule::Any => "any",
            LocationRule::Area => "area",
        }
    }

    /// The rule an algorithm clears `scenario` with: `explicit` (the configuration's) if set,
    /// else the scenario's, else `default`.
    pub fn resolve(
        explicit: Option<LocationRule>,
        scenario: &Scenario,
        default: LocationRule,
    ) -> LocationRule {
        explicit.or(scenario.location_rule).unwrap_or(default)
    }
}

impl fmt::Display for LocationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LocationRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LocationRule::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown location rule {s:?} (expected same-bus, any or area)"))
    }
}

/// A location rule applied to one scenario: answers whether an offer's location suits a
/// request.
#[derive(Debug, Clone)]
pub(crate) struct Locality<'a> {
    rule: LocationRule,
    hops: usize,
    network: Option<&'a Network>,
    /// Hop distances from each local request's bus (rule `area` with a network).
    distances: HashMap<usize, Vec<usize>>,
}

impl<'a> Locality<'a> {
    /// The rule on the scenario's network, with `hops` for `area`.
    pub(crate) fn new(rule: LocationRule, hops: usize, scenario: &'a Scenario) -> Self {
        let network = scenario.network.as_ref();
        let mut distances = HashMap::new();
        if let (LocationRule::Area, Some(net)) = (rule, network)
            && hops > 0
        {
            for r in scenario.book.requests.iter().filter(|r| r.is_local()) {
                if let Some(b) = net.bus(&r.location) {
                    distances.entry(b).or_insert_with(|| net.hops_from(b));
                }
            }
        }
        Self {
            rule,
            hops,
            network,
            distances,
        }
    }

    /// The rule applied.
    pub(crate) fn rule(&self) -> LocationRule {
        self.rule
    }

    /// Whether `request` only takes offers at its own location.
    pub(crate) fn same_location_only(&self, request: &FlexRequest) -> bool {
        request.is_local()
            && match self.rule {
                LocationRule::Any => false,
                LocationRule::SameBus => true,
                LocationRule::Area => self.network.is_none() || self.hops == 0,
            }
    }

    /// Whether `request` may take `offer` by location (slot and direction not checked).
    pub(crate) fn allows(&self, offer: &FlexOffer, request: &FlexRequest) -> bool {
        if !request.is_local() || self.rule == LocationRule::Any {
            return true;
        }
        if self.same_location_only(request) {
            return offer.location == request.location;
        }
        match (
            self.network,
            self.network.and_then(|n| n.bus(&request.location)),
        ) {
            (Some(net), Some(rb)) => net
                .bus(&offer.location)
                .and_then(|ob| self.distances.get(&rb).and_then(|d| d.get(ob)))
                .is_some_and(|&d| d <= self.hops),
            _ => offer.location == request.location,
        }
    }
}

/// Why a block can never be accepted: one of its members has no request to take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDiagnostic {
    /// The block id.
    pub block: String,
    /// The member that cannot be placed.
    pub offer: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for BlockDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "block {:?} (offer {:?}): {}",
            self.block, self.offer, self.reason
        )
    }
}

/// The blocks no request can balance under `locality`: a member whose slot and direction no
/// location-compatible request asks for, or asks for less than the member's quantity. Such a
/// block is never accepted (every algorithm); the scenario is still valid.
pub(crate) fn unbalanceable_blocks(
    book: &OrderBook,
    locality: &Locality<'_>,
) -> Vec<BlockDiagnostic> {
    let mut out = Vec::new();
    for (block, members) in book.blocks() {
        for &i in &members {
            let Some(o) = book.offers.get(i) else {
                continue;
            };
            let same_slot = || {
                book.requests
                    .iter()
                    .filter(|r| r.slot == o.slot && r.direction == o.direction)
            };
            let slot = book.slots.get(o.slot).map_or("?", |s| s.as_str());
            let d = o.direction.as_str();
            let reason = if same_slot().next().is_none() {
                format!("offers {d} in slot {slot:?} but no request asks for {d} there")
            } else {
                let demand: f64 = same_slot()
                    .filter(|r| locality.allows(o, r))
                    .map(|r| r.quantity)
                    .sum();
                if demand <= 0.0 {
                    format!(
                        "offers {d} in slot {slot:?} at {:?} but no request there may take it \
                         under the location rule {}",
                        o.location,
                        locality.rule()
                    )
                } else if demand < o.quantity * (1.0 - 1e-9) {
                    format!(
                        "offers {} {d} in slot {slot:?} at {:?} but the requests that may take it \
                         (location rule {}) ask for {demand} in all",
                        o.quantity,
                        o.location,
                        locality.rule()
                    )
                } else {
                    continue;
                }
            };
            out.push(BlockDiagnostic {
                block: block.clone(),
                offer: o.id.clone(),
                reason: format!("{reason}, so the block is never accepted"),
            });
            break;
        }
    }
    out
}
