//! The merit-order engine shared by `pay-as-bid`, `pay-as-clear` and `dso-first`.
//!
//! Requests are served in economic order (highest value first, ties by [`tie_key`]); each takes
//! the cheapest compatible offers of its slot and direction (ties by [`tie_key`]) whose price
//! does not exceed its value. With a network every transfer is cut to what the branch limits
//! allow. Blocks: after a pass, every block not accepted in full is withdrawn and the book is
//! cleared again, until every block is either fully accepted or out.

use std::collections::{HashMap, HashSet};

use std::time::Instant;

use super::{
    ClearingConfig, ClearingResult, Diagnostics, QUANTITY_EPSILON, RawMatch, assemble,
    request_value, tie_key, with_diagnostics,
};
use crate::location::{Locality, unbalanceable_blocks};
use crate::network::{FlowState, Network};
use crate::order::{Direction, FlexOffer, FlexRequest, OrderBook};
use crate::scenario::Scenario;

/// Transfers the network allows below this are treated as blocked.
const TRANSFER_EPSILON: f64 = 1e-9;

/// Which offers a request of a phase may take.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    /// Local (DSO or role-less) requests: the offers the location rule allows; TSO requests:
    /// any location.
    Located,
    /// Any location except the listed ones (a DSO veto on TSO procurement).
    AnyExcept(HashSet<String>),
}

/// One phase: the requests it serves (already filtered) and its rule.
#[derive(Debug, Clone)]
pub(crate) struct Phase {
    pub requests: Vec<usize>,
    pub rule: Rule,
}

/// The outcome of a greedy clearing by index.
#[derive(Debug, Clone, Default)]
pub(crate) struct GreedyOutcome {
    pub offer_q: Vec<f64>,
    pub request_q: Vec<f64>,
    pub matches: Vec<RawMatch>,
    pub rejected_blocks: Vec<String>,
}

impl GreedyOutcome {
    /// The public result and diagnostics of algorithm `name`, with `prices` per slot and
    /// direction.
    pub(crate) fn finish(
        self,
        name: &str,
        book: &OrderBook,
        config: &ClearingConfig,
        locality: &Locality<'_>,
        prices: Vec<[Option<f64>; 2]>,
        started: Instant,
    ) -> (ClearingResult, Diagnostics) {
        let result = assemble(
            name,
            Some(locality.rule()),
            book,
            config,
            &self.offer_q,
            &self.request_q,
            &self.matches,
            prices,
            started,
        );
        let diagnostics = Diagnostics {
            rejected_blocks: self.rejected_blocks,
            unbalanceable_blocks: unbalanceable_blocks(book, locality),
            notes: Vec::new(),
        };
        with_diagnostics(result, diagnostics)
    }
}

/// Plain merit order: every request in economic order, each taking any location-compatible
/// offer, no reliability margin. The acceptance of `pay-as-bid` and `pay-as-clear`.
pub(crate) fn merit_order(
    scenario: &Scenario,
    config: &ClearingConfig,
    locality: &Locality<'_>,
) -> GreedyOutcome {
    let book = &scenario.book;
    let mut requests: Vec<usize> = (0..book.requests.len()).collect();
    economic_order(book, config, &mut requests);
    let phases = [Phase {
        requests,
        rule: Rule::Located,
    }];
    clear_greedy(
        book,
        scenario.network.as_ref(),
        config,
        locality,
        &phases,
        0.0,
    )
}

struct Group<'a> {
    all: Vec<usize>,
    all_cursor: usize,
    by_location: HashMap<&'a str, (Vec<usize>, usize)>,
}

fn group_index(slot: usize, d: Direction) -> usize {
    slot * 2 + d.index()
}

/// Sorts request indexes into economic order.
pub(crate) fn economic_order(book: &OrderBook, config: &ClearingConfig, requests: &mut [usize]) {
    let mut keyed: Vec<(f64, u64, usize)> = requests
        .iter()
        .map(|&r| {
            let id = book.requests.get(r).map_or("", |x| x.id.as_str());
            (request_value(book, r, config), tie_key(config.seed, id), r)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (slot, k) in requests.iter_mut().zip(keyed) {
        *slot = k.2;
    }
}

/// Runs the phases, withdrawing partially accepted blocks until none remain.
pub(crate) fn clear_greedy(
    book: &OrderBook,
    network: Option<&Network>,
    config: &ClearingConfig,
    locality: &Locality<'_>,
    phases: &[Phase],
    reserve_margin: f64,
) -> GreedyOutcome {
    let sorted = sorted_groups(book, config);
    let blocks = book.blocks();
    let mut active = vec![true; book.offers.len()];
    let mut rejected = Vec::new();
    loop {
        let mut outcome = run_once(
            book,
            network,
            config,
            locality,
            phases,
            reserve_margin,
            &sorted,
            &active,
        );
        let mut withdrew = false;
        for (block, members) in &blocks {
            let full = |i: &usize| {
                let q = book.offers.get(*i).map_or(0.0, |o| o.quantity);
                outcome.offer_q.get(*i).copied().unwrap_or(0.0) >= q * (1.0 - 1e-9)
            };
            let none =
                |i: &usize| outcome.offer_q.get(*i).copied().unwrap_or(0.0) <= QUANTITY_EPSILON;
            if !(members.iter().all(full) || members.iter().all(none)) {
                for &i in members {
                    if let Some(a) = active.get_mut(i) {
                        *a = false;
                    }
                }
                rejected.push(block.clone());
                withdrew = true;
            }
        }
        if !withdrew {
            outcome.rejected_blocks = rejected;
            return outcome;
        }
    }
}

/// Offer indexes per slot and direction, cheapest first (ties by the seeded key).
fn sorted_groups(book: &OrderBook, config: &ClearingConfig) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<(f64, u64, usize)>> = vec![Vec::new(); book.slots.len() * 2];
    for (i, o) in book.offers.iter().enumerate() {
        if let Some(g) = groups.get_mut(group_index(o.slot, o.direction)) {
            g.push((o.price, tie_key(config.seed, &o.id), i));
        }
    }
    groups
        .into_iter()
        .map(|mut g| {
            g.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            g.into_iter().map(|k| k.2).collect()
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_once(
    book: &OrderBook,
    network: Option<&Network>,
    config: &ClearingConfig,
    locality: &Locality<'_>,
    phases: &[Phase],
    reserve_margin: f64,
    sorted: &[Vec<usize>],
    active: &[bool],
) -> GreedyOutcome {
    let mut left: Vec<f64> = book
        .offers
        .iter()
        .zip(active)
        .map(|(o, &a)| if a { o.quantity } else { 0.0 })
        .collect();
    let mut request_q = vec![0.0; book.requests.len()];
    let mut matches = Vec::new();
    let mut groups: Vec<Group<'_>> = sorted
        .iter()
        .map(|all| {
            let mut by_location: HashMap<&str, (Vec<usize>, usize)> = HashMap::new();
            for &i in all {
                if let Some(o) = book.offers.get(i) {
                    by_location
                        .entry(o.location.as_str())
                        .or_default()
                        .0
                        .push(i);
                }
            }
            Group {
                all: all.clone(),
                all_cursor: 0,
                by_location,
            }
        })
        .collect();
    let mut flows = network.map(|n| FlowState::new(n, book.slots.len()));

    for phase in phases {
        for &r in &phase.requests {
            let Some(req) = book.requests.get(r) else {
                continue;
            };
            let Some(group) = groups.get_mut(group_index(req.slot, req.direction)) else {
                continue;
            };
            let value = request_value(book, r, config);
            let same_location = phase.rule == Rule::Located && locality.same_location_only(req);
            let compatible = |o: &FlexOffer| -> bool {
                match &phase.rule {
                    Rule::AnyExcept(excluded) => !excluded.contains(&o.location),
                    Rule::Located => locality.allows(o, req),
                }
            };
            let (list, cursor) = if same_location {
                match group.by_location.get_mut(req.location.as_str()) {
                    Some((l, c)) => (&*l, c),
                    None => continue,
                }
            } else {
                (&group.all, &mut group.all_cursor)
            };
            while list
                .get(*cursor)
                .is_some_and(|&i| left.get(i).is_none_or(|&q| q <= QUANTITY_EPSILON))
            {
                *cursor += 1;
            }
            let mut need = req.quantity;
            let mut filled = 0.0;
            let mut position = *cursor;
            while need > QUANTITY_EPSILON {
                let Some(&i) = list.get(position) else { break };
                position += 1;
                let Some(offer) = book.offers.get(i) else {
                    continue;
                };
                let available = left.get(i).copied().unwrap_or(0.0);
                if available <= QUANTITY_EPSILON {
                    continue;
                }
                if offer.price > value {
                    break;
                }
                if !compatible(offer) {
                    continue;
                }
                let mut q = available.min(need);
                if let (Some(net), Some(fs)) = (network, flows.as_mut()) {
                    let (inc, dec) = transfer_buses(net, offer, req);
                    q = fs.max_transfer(net, req.slot, inc, dec, q);
                    if q <= TRANSFER_EPSILON {
                        continue;
                    }
                    fs.apply(net, req.slot, inc, dec, q);
                }
                if let Some(l) = left.get_mut(i) {
                    *l -= q;
                }
                need -= q;
                filled += q;
                matches.push(RawMatch {
                    offer: i,
                    request: r,
                    quantity: q,
                    price: offer.price,
                    reserve: false,
                });
            }
            if let Some(a) = request_q.get_mut(r) {
                *a = filled;
            }
            if reserve_margin > 0.0 && filled > QUANTITY_EPSILON {
                let mut reserve_need = reserve_margin * filled;
                let mut position = *cursor;
                while reserve_need > QUANTITY_EPSILON {
                    let Some(&i) = list.get(position) else { break };
                    position += 1;
                    let Some(offer) = book.offers.get(i) else {
                        continue;
                    };
                    let available = left.get(i).copied().unwrap_or(0.0);
                    if available <= QUANTITY_EPSILON || offer.block.is_some() {
                        continue;
                    }
                    if offer.price > value {
                        break;
                    }
                    if !compatible(offer) {
                        continue;
                    }
                    let q = available.min(reserve_need);
                    if let Some(l) = left.get_mut(i) {
                        *l -= q;
                    }
                    reserve_need -= q;
                    matches.push(RawMatch {
                        offer: i,
                        request: r,
                        quantity: q,
                        price: offer.price,
                        reserve: true,
                    });
                }
            }
        }
    }
    let offer_q = book
        .offers
        .iter()
        .zip(active)
        .zip(&left)
        .map(|((o, &a), &l)| if a { (o.quantity - l).max(0.0) } else { 0.0 })
        .map(|q| if q <= QUANTITY_EPSILON { 0.0 } else { q })
        .collect();
    GreedyOutcome {
        offer_q,
        request_q,
        matches,
        rejected_blocks: Vec::new(),
    }
}

/// The bus whose injection rises and the one whose injection falls when `offer` serves `req`:
/// upward flexibility raises injection at the offer and lowers it at the request; downward the
/// reverse.
pub(crate) fn transfer_buses(
    net: &Network,
    offer: &FlexOffer,
    req: &FlexRequest,
) -> (usize, usize) {
    let ob = net.bus(&offer.location).unwrap_or(usize::MAX);
    let rb = net.bus(&req.location).unwrap_or(usize::MAX);
    match offer.direction {
        Direction::Up => (ob, rb),
        Direction::Down => (rb, ob),
    }
}
