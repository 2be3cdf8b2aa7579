//! `continuous`: first-come-first-served matching in arrival order, as in the local flexibility
//! market of Prat et al. (IEEE PowerTech 2021).
//!
//! Location: a local (DSO or role-less) request takes the offers the location rule allows
//! (default `any`; with a network the branch limits decide what can be delivered).
//!
//! Offers are taken in arrival order (by `arrival`, offers without one first, then file order).
//! Each arriving offer is compared with the open requests of its slot and direction, highest
//! value first (ties by arrival, then file order), stopping at the first request whose value is
//! below the offer's price. The matched quantity is `min(offer rest, request rest)`, cut so that
//! no branch leaves its bounds given the flows so far (every match updates the flows at once).
//! The unmatched rest of an offer waits in an order book sorted by price (ties by the seeded
//! key); after an arrival that matched, the book is re-checked until nothing more matches. A
//! block is matched only if all its members can be matched in full at once, else it waits in
//! the book. Each match is paid the offer's price.

use std::time::Instant;

use super::merit::transfer_buses;
use super::prune::{PriceRule, prune_matched};
use super::{
    ClearingAlgorithm, ClearingConfig, ClearingResult, Diagnostics, QUANTITY_EPSILON, RawMatch,
    assemble, average_prices, request_value, tie_key, with_diagnostics,
};
use crate::error::Result;
use crate::location::{Locality, LocationRule, unbalanceable_blocks};
use crate::network::{FlowState, Network};
use crate::order::OrderBook;
use crate::scenario::Scenario;
use crate::validation::Cut;

/// Continuous first-come-first-served clearing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Continuous {
    /// Shared options.
    pub config: ClearingConfig,
}

#[derive(Clone)]
struct State {
    request_left: Vec<f64>,
    flows: Option<FlowState>,
    matches: Vec<RawMatch>,
}

struct Market<'a> {
    book: &'a OrderBook,
    network: Option<&'a Network>,
    config: &'a ClearingConfig,
    locality: &'a Locality<'a>,
    /// Request indexes per slot and direction in visiting order.
    requests: Vec<Vec<usize>>,
}

impl Market<'_> {
    /// Matches up to `quantity` of offer `i`; returns what is left of it.
    fn match_offer(&self, state: &mut State, i: usize, quantity: f64) -> f64 {
        let Some(offer) = self.book.offers.get(i) else {
            return quantity;
        };
        let mut rest = quantity;
        let Some(list) = self.requests.get(offer.slot * 2 + offer.direction.index()) else {
            return rest;
        };
        for &r in list {
            if rest <= QUANTITY_EPSILON {
                break;
            }
            let Some(req) = self.book.requests.get(r) else {
                continue;
            };
            if !self.locality.allows(offer, req) {
                continue;
            }
            let open = state.request_left.get(r).copied().unwrap_or(0.0);
            if open <= QUANTITY_EPSILON {
                continue;
            }
            let value = request_value(self.book, r, self.config);
            if offer.price > value {
                break;
            }
            let mut q = rest.min(open);
            if let (Some(net), Some(fs)) = (self.network, state.flows.as_mut()) {
                let (inc, dec) = transfer_buses(net, offer, req);
                q = fs.max_transfer(net, offer.slot, inc, dec, q);
                if q <= QUANTITY_EPSILON {
                    continue;
                }
                fs.apply(net, offer.slot, inc, dec, q);
            }
            if let Some(l) = state.request_left.get_mut(r) {
                *l -= q;
            }
            rest -= q;
            state.matches.push(RawMatch {
                offer: i,
                request: r,
                quantity: q,
                price: offer.price,
                reserve: false,
            });
        }
        rest
    }

    /// Tries a whole block; commits only if every member is matched in full.
    fn match_block(&self, state: &mut State, members: &[usize]) -> bool {
        let mut trial = state.clone();
        for &i in members {
            let q = self.book.offers.get(i).map_or(0.0, |o| o.quantity);
            if self.match_offer(&mut trial, i, q) > QUANTITY_EPSILON {
                return false;
            }
        }
        *state = trial;
        true
    }
}

enum Pending {
    Single {
        offer: usize,
        rest: f64,
        key: (f64, u64),
    },
    Block {
        members: Vec<usize>,
    },
}

impl ClearingAlgorithm for Continuous {
    fn name(&self) -> &'static str {
        "continuous"
    }

    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)> {
        let started = Instant::now();
        let book = &scenario.book;
        let network = scenario.network.as_ref();
        let mut requests = vec![Vec::new(); book.slots.len() * 2];
        for (r, req) in book.requests.iter().enumerate() {
            if let Some(g) = requests.get_mut(req.slot * 2 + req.direction.index()) {
                g.push(r);
            }
        }
        for g in &mut requests {
            g.sort_by(|&a, &b| {
                let (ra, rb) = (&book.requests[a], &book.requests[b]);
                request_value(book, b, &self.config)
                    .total_cmp(&request_value(book, a, &self.config))
                    .then(ra.arrival.cmp(&rb.arrival))
                    .then(a.cmp(&b))
            });
        }
        let locality = Locality::new(
            self.config.location_rule_for(scenario, LocationRule::Any),
            self.config.area_hops,
            scenario,
        );
        let market = Market {
            book,
            network,
            config: &self.config,
            locality: &locality,
            requests,
        };
        let mut state = State {
            request_left: book.requests.iter().map(|r| r.quantity).collect(),
            flows: network.map(|n| FlowState::new(n, book.slots.len())),
            matches: Vec::new(),
        };
        // Arrival order; a block arrives with its last member.
        let mut order: Vec<usize> = (0..book.offers.len()).collect();
        order.sort_by(|&a, &b| {
            book.offers[a]
                .arrival
                .cmp(&book.offers[b].arrival)
                .then(a.cmp(&b))
        });
        let blocks = book.blocks();
        let mut block_of = vec![None; book.offers.len()];
        for (k, (_, members)) in blocks.iter().enumerate() {
            for &i in members {
                if let Some(b) = block_of.get_mut(i) {
                    *b = Some(k);
                }
            }
        }
        let mut arrived_members = vec![0usize; blocks.len()];
        let mut pending: Vec<Pending> = Vec::new();
        for i in order {
            let before = state.matches.len();
            let offer = &book.offers[i];
            match block_of[i] {
                None => {
                    let rest = market.match_offer(&mut state, i, offer.quantity);
                    if rest > QUANTITY_EPSILON {
                        pending.push(Pending::Single {
                            offer: i,
                            rest,
                            key: (offer.price, tie_key(self.config.seed, &offer.id)),
                        });
                    }
                }
                Some(k) => {
                    arrived_members[k] += 1;
                    let members = &blocks[k].1;
                    if arrived_members[k] == members.len()
                        && !market.match_block(&mut state, members)
                    {
                        pending.push(Pending::Block {
                            members: members.clone(),
                        });
                    }
                }
            }
            if state.matches.len() > before {
                recheck(&market, &mut state, &mut pending);
            }
        }
        let mut offer_q = vec![0.0; book.offers.len()];
        let mut request_q = vec![0.0; book.requests.len()];
        for m in &state.matches {
            offer_q[m.offer] += m.quantity;
            request_q[m.request] += m.quantity;
        }
        let prices = average_prices(book, &state.matches);
        let result = assemble(
            self.name(),
            Some(locality.rule()),
            book,
            &self.config,
            &offer_q,
            &request_q,
            &state.matches,
            prices,
            started,
        );
        let rejected_blocks = pending
            .iter()
            .filter_map(|p| match p {
                Pending::Block { members } => members
                    .first()
                    .and_then(|&i| book.offers.get(i))
                    .and_then(|o| o.block.clone()),
                Pending::Single { .. } => None,
            })
            .collect();
        Ok(with_diagnostics(
            result,
            Diagnostics {
                rejected_blocks,
                unbalanceable_blocks: unbalanceable_blocks(book, &locality),
                notes: Vec::new(),
            },
        ))
    }

    fn prune(
        &self,
        scenario: &Scenario,
        result: &ClearingResult,
        cuts: &[Cut],
    ) -> Result<ClearingResult> {
        prune_matched(scenario, &self.config, result, cuts, PriceRule::AsMatched)
    }
}

/// Re-checks the order book (cheapest first, blocks after single offers) while matches happen.
fn recheck(market: &Market<'_>, state: &mut State, pending: &mut Vec<Pending>) {
    loop {
        pending.sort_by(|a, b| match (a, b) {
            (Pending::Single { key: ka, .. }, Pending::Single { key: kb, .. }) => {
                ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
            }
            (Pending::Single { .. }, Pending::Block { .. }) => std::cmp::Ordering::Less,
            (Pending::Block { .. }, Pending::Single { .. }) => std::cmp::Ordering::Greater,
            (Pending::Block { .. }, Pending::Block { .. }) => std::cmp::Ordering::Equal,
        });
        let mut matched = false;
        let mut keep = Vec::with_capacity(pending.len());
        for p in pending.drain(..) {
            match p {
                Pending::Single { offer, rest, key } => {
                    let before = state.matches.len();
                    let rest = market.match_offer(state, offer, rest);
                    matched |= state.matches.len() > before;
                    if rest > QUANTITY_EPSILON {
                        keep.push(Pending::Single { offer, rest, key });
                    }
                }
                Pending::Block { members } => {
                    if market.match_block(state, &members) {
                        matched = true;
                    } else {
                        keep.push(Pending::Block { members });
                    }
                }
            }
        }
        *pending = keep;
        if !matched {
            return;
        }
    }
}
