//! Properties of every algorithm on random small books: no order over-accepted, per-slot
//! balance, blocks all-or-nothing, line limits hold, local requests served where the location
//! rule allows, and `optimal` welfare at least every other algorithm's. Over arbitrary valid
//! scenarios (any blocks, roles, prices, networks) every algorithm clears without error under
//! every location rule. After random validation cuts without
//! re-clearing, the same invariants hold (but line limits, which removing orders may break and
//! the next validation round checks), nothing grows and welfare does not rise.

mod common;

use std::collections::HashMap;

use platone_market::clearing::{
    ALGORITHMS, ClearingConfig, ClearingResult, algorithm_by_name, tie_key,
};
use platone_market::generate::{GeneratorConfig, generate};
use platone_market::validation::{Cut, OrderKind};
use platone_market::{Direction, LocationRule, Scenario};
use proptest::prelude::*;

const TOL: f64 = 1e-6;

fn check(s: &Scenario, r: &ClearingResult) -> Result<(), String> {
    check_with(s, r, true)
}

fn check_with(s: &Scenario, r: &ClearingResult, lines: bool) -> Result<(), String> {
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
    if let Some(n) = s.network.as_ref().filter(|_| lines) {
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
    }
    // With `area_hops` 0 (these tests), `same-bus` and `area` both keep a local request at its
    // own location, with or without a network.
    if matches!(
        r.location_rule,
        Some(LocationRule::SameBus | LocationRule::Area)
    ) {
        for m in &r.matches {
            let q = requests[m.request.as_str()];
            if q.is_local() && offers[m.offer.as_str()].location != q.location {
                return Err(format!(
                    "{}: local request {} served from elsewhere under {:?}",
                    r.algorithm, q.id, r.location_rule
                ));
            }
        }
    }
    let welfare: f64 = r
        .accepted_requests
        .iter()
        .map(|a| requests[a.id.as_str()].price.unwrap_or(1000.0) * a.quantity)
        .sum::<f64>()
        - r.accepted_offers
            .iter()
            .map(|a| offers[a.id.as_str()].price * a.quantity)
            .sum::<f64>();
    if (welfare - r.welfare).abs() > 1e-6 * welfare.abs().max(1.0) {
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
        for &name in ALGORITHMS {
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

fn config(rule: LocationRule, area_hops: usize) -> ClearingConfig {
    ClearingConfig {
        location_rule: Some(rule),
        area_hops,
        ..ClearingConfig::default()
    }
}

/// An arbitrary scenario valid by the documented format (see `common::random_scenario_json`).
fn arbitrary() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("same-bus")),
            Just(Some("any")),
            Just(Some("area"))
        ],
    )
        .prop_map(|(seed, network, rule)| {
            let text = common::random_scenario_json(seed, network, rule);
            Scenario::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_scenario_clears_under_every_algorithm_and_rule(s in arbitrary()) {
        // The scenario's own rule, else the documented default.
        for &name in ALGORITHMS {
            let r = algorithm_by_name(name, ClearingConfig::default()).unwrap().clear(&s);
            let r = r.map_err(|e| TestCaseError::fail(format!("{name}: {e}\n{}", s.to_json())))?;
            let default = if name == "dso-first" && s.network.is_some() {
                LocationRule::Area
            } else {
                LocationRule::Any
            };
            prop_assert_eq!(r.location_rule, Some(s.location_rule.unwrap_or(default)));
        }
        for rule in LocationRule::ALL {
            for hops in [0, 1] {
                let mut welfare = HashMap::new();
                for &name in ALGORITHMS {
                    let algorithm = algorithm_by_name(name, config(rule, hops)).unwrap();
                    let (r, d) = algorithm.clear_with_diagnostics(&s).map_err(|e| {
                        TestCaseError::fail(format!("{name} {rule}: {e}\n{}", s.to_json()))
                    })?;
                    prop_assert_eq!(r.location_rule, Some(rule));
                    prop_assert_eq!(&r.diagnostics, &d);
                    let checked = if hops == 0 { check(&s, &r) } else {
                        let mut plain = r.clone();
                        plain.location_rule = None;
                        check(&s, &plain)
                    };
                    if let Err(e) = checked {
                        prop_assert!(false, "{} ({rule}, {hops} hops)\n{}", e, s.to_json());
                    }
                    // A block no request can balance is never accepted.
                    for b in &d.unbalanceable_blocks {
                        for o in s.book.offers.iter().filter(|o| o.block.as_deref() == Some(&b.block)) {
                            prop_assert!(r.offer_quantity(&o.id) == 0.0, "{name}: {} accepted", o.id);
                        }
                    }
                    welfare.insert(name, r.welfare);
                }
                let best = welfare["optimal"];
                for (name, w) in &welfare {
                    prop_assert!(
                        best >= w - 1e-6 * w.abs().max(1.0),
                        "{rule} ({hops} hops): optimal {} < {} {}\n{}", best, name, w, s.to_json()
                    );
                }
            }
        }
    }
}

/// Cuts derived from a seed: each accepted order is removed, halved or left alone.
fn random_cuts(r: &ClearingResult, seed: u64) -> Vec<Cut> {
    let offers = r.accepted_offers.iter().map(|a| (OrderKind::Offer, a));
    let requests = r.accepted_requests.iter().map(|a| (OrderKind::Request, a));
    offers
        .chain(requests)
        .filter_map(|(kind, a)| match tie_key(seed, &a.id) % 5 {
            0 => Some(Cut {
                kind,
                order: a.id.clone(),
                keep: 0.0,
            }),
            1 => Some(Cut {
                kind,
                order: a.id.clone(),
                keep: a.quantity / 2.0,
            }),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn keeping_what_remains_after_cuts_keeps_the_invariants(s in book(), seed in any::<u64>()) {
        for &name in ALGORITHMS {
            let algorithm = algorithm_by_name(name, ClearingConfig::default()).unwrap();
            let r = algorithm.clear(&s).unwrap();
            let cuts = random_cuts(&r, seed);
            let p = algorithm.prune(&s, &r, &cuts).unwrap();
            if let Err(e) = check_with(&s, &p, false) {
                prop_assert!(false, "{}\n{}", e, s.to_json());
            }
            prop_assert!(p.welfare <= r.welfare + 1e-6, "{name}: welfare rose");
            for a in &p.accepted_offers {
                prop_assert!(a.quantity <= r.offer_quantity(&a.id) + 1e-9, "{name}: {} grew", a.id);
            }
            for a in &p.accepted_requests {
                prop_assert!(a.quantity <= r.request_quantity(&a.id) + 1e-9, "{name}: {} grew", a.id);
            }
            for c in &cuts {
                let q = match c.kind {
                    OrderKind::Offer => p.offer_quantity(&c.order),
                    OrderKind::Request => p.request_quantity(&c.order),
                };
                prop_assert!(q <= c.keep + 1e-9, "{name}: {} over its cut", c.order);
            }
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
        for &name in ALGORITHMS {
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
