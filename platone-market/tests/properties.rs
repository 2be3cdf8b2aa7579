//! Properties of every algorithm on random small books: no order over-accepted, per-slot
//! balance, blocks all-or-nothing, line limits hold, local requests served locally, and
//! `optimal` welfare at least every other algorithm's.

use std::collections::HashMap;

use platone_market::clearing::{ALGORITHMS, ClearingConfig, ClearingResult, algorithm_by_name};
use platone_market::generate::{GeneratorConfig, generate};
use platone_market::{Direction, Scenario};
use proptest::prelude::*;

const TOL: f64 = 1e-6;

fn check(s: &Scenario, r: &ClearingResult) -> Result<(), String> {
    let book = &s.book;
    let offers: HashMap<&str, _> = book.offers.iter().map(|o| (o.id.as_str(), o)).collect();
    let requests: HashMap<&str, _> = book.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut balance: HashMap<(usize, Direction), f64> = HashMap::new();
    let mut injections =
        vec![vec![0.0; s.network.as_ref().map_or(0, |n| n.buses().len())]; book.slots.len()];
    for a in &r.accepted_offers {
        let o = offers[a.id.as_str()];
        if a.quantity > o.quantity + TOL || a.quantity < 0.0 {
            return Err(format!("{}: offer {} over-accepted", r.algorithm, a.id));
        }
        *balance.entry((o.slot, o.direction)).or_default() += a.quantity;
        if let Some(n) = &s.network {
            let sign = if o.direction == Direction::Up {
                1.0
            } else {
                -1.0
            };
            injections[o.slot][n.bus(&o.location).unwrap()] += sign * a.quantity;
        }
    }
    for a in &r.accepted_requests {
        let q = requests[a.id.as_str()];
        if a.quantity > q.quantity + TOL || a.quantity < 0.0 {
            return Err(format!("{}: request {} over-accepted", r.algorithm, a.id));
        }
        *balance.entry((q.slot, q.direction)).or_default() -= a.quantity;
        if let Some(n) = &s.network {
            let sign = if q.direction == Direction::Up {
                -1.0
            } else {
                1.0
            };
            injections[q.slot][n.bus(&q.location).unwrap()] += sign * a.quantity;
        }
    }
    for (k, v) in &balance {
        if v.abs() > TOL {
            return Err(format!(
                "{}: slot {} {:?} unbalanced by {v}",
                r.algorithm, k.0, k.1
            ));
        }
    }
    for (block, members) in book.blocks() {
        let full = members
            .iter()
            .all(|&i| (r.offer_quantity(&book.offers[i].id) - book.offers[i].quantity).abs() < TOL);
        let none = members
            .iter()
            .all(|&i| r.offer_quantity(&book.offers[i].id) < TOL);
        if !(full || none) {
            return Err(format!("{}: block {block} partially accepted", r.algorithm));
        }
    }
    if let Some(n) = &s.network {
        for (t, delta) in injections.iter().enumerate() {
            let mut inj = n.baseline(t);
            for (a, d) in inj.iter_mut().zip(delta) {
                *a += d;
            }
            for (l, f) in n.flows(&inj).iter().enumerate() {
                let (lo, hi) = n.bounds(t, l);
                if *f > hi + TOL || *f < lo - TOL {
                    return Err(format!(
                        "{}: branch {l} in slot {t} at {f}, bounds [{lo}, {hi}]",
                        r.algorithm
                    ));
                }
            }
        }
    } else {
        for m in &r.matches {
            let q = requests[m.request.as_str()];
            if q.is_local() && offers[m.offer.as_str()].location != q.location {
                return Err(format!(
                    "{}: local request {} served from elsewhere",
                    r.algorithm, q.id
                ));
            }
        }
    }
    let welfare: f64 = r
        .accepted_requests
        .iter()
        .map(|a| requests[a.id.as_str()].price.unwrap() * a.quantity)
        .sum::<f64>()
        - r.accepted_offers
            .iter()
            .map(|a| offers[a.id.as_str()].price * a.quantity)
            .sum::<f64>();
    if (welfare - r.welfare).abs() > 1e-6 {
        return Err(format!(
            "{}: welfare {} reported, {welfare} computed",
            r.algorithm, r.welfare
        ));
    }
    Ok(())
}

fn book() -> impl Strategy<Value = Scenario> {
    (
        1usize..12,
        1usize..6,
        1usize..4,
        prop_oneof![Just(None), (3usize..7).prop_map(Some)],
        any::<u64>(),
        0usize..4,
    )
        .prop_map(|(offers, requests, slots, network, seed, locations)| {
            generate(&GeneratorConfig {
                offers,
                requests,
                slots,
                network,
                seed,
                block_fraction: 0.3,
                locations: locations + 1,
            })
            .unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_algorithm_keeps_the_invariants(s in book()) {
        let mut welfare = HashMap::new();
        for name in ALGORITHMS {
            let r = algorithm_by_name(name, ClearingConfig::default()).unwrap().clear(&s).unwrap();
            if let Err(e) = check(&s, &r) {
                prop_assert!(false, "{}\n{}", e, s.to_json());
            }
            welfare.insert(name, r.welfare);
        }
        let best = welfare["optimal"];
        for (name, w) in &welfare {
            prop_assert!(best >= w - 1e-6, "optimal {} < {} {}\n{}", best, name, w, s.to_json());
        }
    }
}

/// The same invariants over a fixed sweep of seeds, also checking that the sweep exercises
/// trades, accepted blocks and binding branch limits (so the properties are not vacuous).
#[test]
fn seed_sweep_exercises_trades_blocks_and_congestion() {
    let (mut traded, mut blocks, mut congested) = (0, 0, 0);
    for seed in 0..120u64 {
        let s = generate(&GeneratorConfig {
            offers: 10,
            requests: 5,
            slots: 2,
            network: if seed % 2 == 0 { Some(5) } else { None },
            seed,
            block_fraction: 0.4,
            locations: 2,
        })
        .unwrap();
        let mut welfare = HashMap::new();
        for name in ALGORITHMS {
            let r = algorithm_by_name(name, ClearingConfig::default())
                .unwrap()
                .clear(&s)
                .unwrap();
            check(&s, &r).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            welfare.insert(name, r.welfare);
            if name == "optimal" {
                traded += usize::from(r.volume > 0.0);
                blocks += usize::from(
                    s.book
                        .offers
                        .iter()
                        .any(|o| o.block.is_some() && r.offer_quantity(&o.id) > 0.0),
                );
            }
            if name == "pay-as-bid" && s.network.is_some() {
                // A request left short although a cheaper offer of its slot and direction is left.
                let short = s.book.requests.iter().any(|q| {
                    r.request_quantity(&q.id) < q.quantity - 1e-9
                        && s.book.offers.iter().any(|o| {
                            o.slot == q.slot
                                && o.direction == q.direction
                                && o.block.is_none()
                                && o.price <= q.price.unwrap()
                                && r.offer_quantity(&o.id) < o.quantity - 1e-9
                        })
                });
                congested += usize::from(short);
            }
        }
        for (name, w) in &welfare {
            assert!(
                welfare["optimal"] >= w - 1e-6,
                "seed {seed}: optimal below {name}"
            );
        }
    }
    assert!(traded > 80, "{traded}");
    assert!(blocks > 5, "{blocks}");
    assert!(congested > 3, "{congested}");
}
