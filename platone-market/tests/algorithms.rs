//! Small hand-computed cases for every clearing algorithm.

use std::collections::HashSet;

use platone_market::clearing::{
    ClearingAlgorithm, ClearingConfig, Continuous, Coordination, DsoFirst, Optimal, PayAsBid,
    PayAsClear, SolverBackend, algorithm_by_name, tie_key,
};
use platone_market::{LocationRule, Scenario};

fn scenario(slots: &str, requests: &str, offers: &str, network: Option<&str>) -> Scenario {
    let network = network.map_or(String::new(), |n| format!(r#","network":{n}"#));
    let text = format!(
        r#"{{"format":"platone-market-scenario/1","unit":"MW","slots":{slots},"requests":[{requests}],"offers":[{offers}]{network}}}"#
    );
    Scenario::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn req(id: &str, role: &str, loc: &str, dir: &str, slot: &str, q: f64, p: f64) -> String {
    format!(
        r#"{{"id":"{id}","participant":"{role}-1","role":"{role}","location":"{loc}","direction":"{dir}","slot":"{slot}","quantity":{q},"price":{p}}}"#
    )
}

fn off(id: &str, loc: &str, dir: &str, slot: &str, q: f64, p: f64, block: Option<&str>) -> String {
    let block = block.map_or(String::new(), |b| format!(r#","block":"{b}""#));
    format!(
        r#"{{"id":"{id}","participant":"agg-1","location":"{loc}","direction":"{dir}","slot":"{slot}","quantity":{q},"price":{p}{block}}}"#
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Two TSO requests (5 @ 50, 3 @ 30) against offers 4 @ 10, 3 @ 20, 5 @ 40 in one slot.
fn merit_case() -> Scenario {
    scenario(
        r#"["t1"]"#,
        &[
            req("r1", "tso", "z1", "up", "t1", 5.0, 50.0),
            req("r2", "tso", "z2", "up", "t1", 3.0, 30.0),
        ]
        .join(","),
        &[
            off("o1", "z1", "up", "t1", 4.0, 10.0, None),
            off("o2", "z2", "up", "t1", 3.0, 20.0, None),
            off("o3", "z3", "up", "t1", 5.0, 40.0, None),
        ]
        .join(","),
        None,
    )
}

#[test]
fn pay_as_bid_merit_order() {
    let r = PayAsBid::default().clear(&merit_case()).unwrap();
    assert_eq!(r.algorithm, "pay-as-bid");
    assert!(close(r.offer_quantity("o1"), 4.0));
    assert!(close(r.offer_quantity("o2"), 3.0));
    assert!(close(r.offer_quantity("o3"), 0.0));
    assert!(close(r.request_quantity("r1"), 5.0));
    assert!(close(r.request_quantity("r2"), 2.0));
    assert!(close(r.welfare, 210.0), "{}", r.welfare);
    assert!(close(r.volume, 7.0));
    // r1 takes o1 (4) and 1 of o2; r2 takes the other 2 of o2; each paid the offer's price.
    let m: Vec<_> = r
        .matches
        .iter()
        .map(|m| (m.offer.as_str(), m.request.as_str(), m.quantity, m.price))
        .collect();
    assert_eq!(
        m,
        vec![
            ("o1", "r1", 4.0, 10.0),
            ("o2", "r1", 1.0, 20.0),
            ("o2", "r2", 2.0, 20.0)
        ]
    );
    assert!(close(r.prices["t1"].up.unwrap(), 100.0 / 7.0));
    assert_eq!(r.prices["t1"].down, None);
}

#[test]
fn pay_as_clear_uniform_price_is_the_marginal_offer() {
    let r = PayAsClear::default().clear(&merit_case()).unwrap();
    assert!(close(r.welfare, 210.0));
    assert_eq!(r.prices["t1"].up, Some(20.0));
    assert!(r.matches.iter().all(|m| m.price == 20.0));
}

#[test]
fn optimal_matches_merit_order_without_constraints() {
    let r = Optimal {
        backend: SolverBackend::MicroLp,
        ..Optimal::default()
    }
    .clear(&merit_case())
    .unwrap();
    assert!(close(r.welfare, 210.0), "{}", r.welfare);
    assert!(close(r.request_quantity("r2"), 2.0));
    assert!(r.matches.is_empty());
    // microlp has no duals: the marginal accepted offer sets the price.
    assert_eq!(r.prices["t1"].up, Some(20.0));
}

#[cfg(feature = "highs")]
#[test]
fn optimal_with_highs_prices_from_duals() {
    let r = Optimal {
        backend: SolverBackend::Highs,
        ..Optimal::default()
    }
    .clear(&merit_case())
    .unwrap();
    assert!(close(r.welfare, 210.0), "{}", r.welfare);
    // r2 is partially served, so one more unit of supply is worth its price: 30.
    assert!(close(r.prices["t1"].up.unwrap(), 30.0), "{:?}", r.prices);
}

/// The same scenario with a `location_rule`.
fn with_rule(s: Scenario, rule: LocationRule) -> Scenario {
    Scenario {
        location_rule: Some(rule),
        ..s
    }
}

#[test]
fn local_requests_only_take_offers_at_their_location_under_same_bus() {
    let s = scenario(
        r#"["t1"]"#,
        &req("r1", "dso", "z1", "up", "t1", 2.0, 60.0),
        &[
            off("o1", "z2", "up", "t1", 1.0, 5.0, None),
            off("o2", "z1", "up", "t1", 3.0, 30.0, None),
        ]
        .join(","),
        None,
    );
    let s = with_rule(s, LocationRule::SameBus);
    for name in [
        "pay-as-bid",
        "pay-as-clear",
        "dso-first",
        "optimal",
        "continuous",
    ] {
        let r = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        assert!(close(r.offer_quantity("o1"), 0.0), "{name}");
        assert!(close(r.offer_quantity("o2"), 2.0), "{name}");
        assert!(close(r.welfare, 60.0), "{name}: {}", r.welfare);
    }
}

fn block_case(up_demand: f64) -> Scenario {
    scenario(
        r#"["t1","t2"]"#,
        &[
            req("r1", "tso", "z1", "down", "t1", 2.0, 50.0),
            req("r2", "tso", "z1", "up", "t2", up_demand, 50.0),
        ]
        .join(","),
        &[
            off("o1", "z1", "down", "t1", 2.0, 10.0, Some("k1")),
            off("o2", "z1", "up", "t2", 2.0, 10.0, Some("k1")),
            off("o3", "z1", "up", "t2", 1.0, 30.0, None),
        ]
        .join(","),
        None,
    )
}

#[test]
fn blocks_are_all_or_nothing_in_every_algorithm() {
    for name in [
        "pay-as-bid",
        "pay-as-clear",
        "dso-first",
        "optimal",
        "continuous",
    ] {
        let algorithm = algorithm_by_name(name, ClearingConfig::default()).unwrap();
        // Only 1 unit of upward demand in t2: the rebound block (2 up) cannot be placed.
        let (r, d) = algorithm.clear_with_diagnostics(&block_case(1.0)).unwrap();
        assert!(close(r.offer_quantity("o1"), 0.0), "{name}");
        assert!(close(r.offer_quantity("o2"), 0.0), "{name}");
        assert!(close(r.offer_quantity("o3"), 1.0), "{name}");
        assert!(close(r.welfare, 20.0), "{name}: {}", r.welfare);
        assert_eq!(d.rejected_blocks, vec!["k1".to_string()], "{name}");
        // With 2 units of demand the block fits and is cheaper than o3.
        let r = algorithm.clear(&block_case(2.0)).unwrap();
        assert!(close(r.offer_quantity("o1"), 2.0), "{name}");
        assert!(close(r.offer_quantity("o2"), 2.0), "{name}");
        assert!(close(r.offer_quantity("o3"), 0.0), "{name}");
        assert!(close(r.welfare, 160.0), "{name}: {}", r.welfare);
    }
}

/// A DSO request (2 @ 40 at z1) and a TSO request (3 @ 100), offers 2 @ 10 at z1 and
/// 2 @ 20 at z2.
fn coordination_case() -> Scenario {
    let s = scenario(
        r#"["t1"]"#,
        &[
            req("r1", "dso", "z1", "up", "t1", 2.0, 40.0),
            req("r2", "tso", "z9", "up", "t1", 3.0, 100.0),
        ]
        .join(","),
        &[
            off("o1", "z1", "up", "t1", 2.0, 10.0, None),
            off("o2", "z2", "up", "t1", 2.0, 20.0, None),
        ]
        .join(","),
        None,
    );
    with_rule(s, LocationRule::SameBus)
}

#[test]
fn dso_first_serves_the_dso_then_the_tso() {
    let s = coordination_case();
    let r = DsoFirst::default().clear(&s).unwrap();
    assert!(close(r.request_quantity("r1"), 2.0));
    assert!(close(r.request_quantity("r2"), 2.0));
    assert!(close(r.welfare, 80.0 + 200.0 - 20.0 - 40.0));
    // Merit order lets the TSO take the cheap local offer first.
    let pab = PayAsBid::default().clear(&s).unwrap();
    assert!(close(pab.request_quantity("r1"), 0.0));
    assert!(close(pab.welfare, 260.0));
    // Optimal finds the better split: r1 gets 1 from o1, r2 gets 3.
    let opt = Optimal::default().clear(&s).unwrap();
    assert!(close(opt.welfare, 280.0), "{}", opt.welfare);
    assert!(close(opt.request_quantity("r1"), 1.0));
}

#[test]
fn coordination_schemes() {
    let s = coordination_case();
    let common = DsoFirst {
        coordination: Coordination::Common,
        ..DsoFirst::default()
    }
    .clear(&s)
    .unwrap();
    assert!(close(common.welfare, 260.0));
    let veto = DsoFirst {
        coordination: Coordination::TsoWithDsoVeto {
            vetoed: HashSet::from(["z1".to_string()]),
        },
        ..DsoFirst::default()
    }
    .clear(&s)
    .unwrap();
    assert!(close(veto.request_quantity("r2"), 2.0));
    assert!(close(veto.request_quantity("r1"), 2.0));
    assert!(close(veto.offer_quantity("o1"), 2.0));
}

#[test]
fn dso_first_reliability_margin_reserves_more_in_area() {
    let s = scenario(
        r#"["t1"]"#,
        &req("r1", "dso", "z1", "up", "t1", 2.0, 40.0),
        &[
            off("o1", "z1", "up", "t1", 2.0, 10.0, None),
            off("o3", "z1", "up", "t1", 2.0, 15.0, None),
        ]
        .join(","),
        None,
    );
    let r = DsoFirst {
        reliability_margin: 0.5,
        ..DsoFirst::default()
    }
    .clear(&s)
    .unwrap();
    assert!(close(r.request_quantity("r1"), 2.0));
    assert!(close(r.offer_quantity("o3"), 1.0));
    let reserve: Vec<_> = r.matches.iter().filter(|m| m.reserve).collect();
    assert_eq!(reserve.len(), 1);
    assert_eq!(reserve[0].offer, "o3");
}

#[test]
fn continuous_first_come_first_served() {
    // Offers arrive o1 (too dear), o2, o3; o3's rest waits in the book.
    let s = scenario(
        r#"["t1"]"#,
        &req("r1", "dso", "z1", "up", "t1", 2.0, 50.0),
        &[
            off("o1", "z1", "up", "t1", 1.0, 60.0, None),
            off("o2", "z1", "up", "t1", 1.0, 40.0, None),
            off("o3", "z1", "up", "t1", 2.0, 45.0, None),
            off("o4", "z1", "up", "t1", 1.0, 5.0, None),
        ]
        .join(","),
        None,
    );
    let r = Continuous::default().clear(&s).unwrap();
    // The cheap o4 arrives too late: first come, first served.
    assert!(close(r.offer_quantity("o4"), 0.0));
    assert!(close(r.offer_quantity("o2"), 1.0));
    assert!(close(r.offer_quantity("o3"), 1.0));
    assert!(close(r.welfare, 100.0 - 40.0 - 45.0));
    assert_eq!(r.matches.len(), 2);
    assert!(r.matches.iter().all(|m| m.request == "r1"));
}

const LINE: &str = r#"{"base_mva":100,"slack":"n1","buses":["n1","n2","n3"],
  "branches":[{"id":"l1","from":"n1","to":"n2","x":0.1,"limit":10},
              {"id":"l2","from":"n2","to":"n3","x":0.1,"limit":1}]}"#;

#[test]
fn network_limits_cut_transfers() {
    // Upward flexibility from n3 to a request at n1 loads l2 (limit 1).
    let s = scenario(
        r#"["t1"]"#,
        &req("r1", "tso", "n1", "up", "t1", 2.0, 50.0),
        &[
            off("o1", "n3", "up", "t1", 2.0, 10.0, None),
            off("o2", "n2", "up", "t1", 2.0, 30.0, None),
        ]
        .join(","),
        Some(LINE),
    );
    for name in [
        "pay-as-bid",
        "pay-as-clear",
        "dso-first",
        "optimal",
        "continuous",
    ] {
        let r = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        if name == "dso-first" {
            // TSO request: any bus; same result.
        }
        assert!(
            close(r.offer_quantity("o1"), 1.0),
            "{name}: {:?}",
            r.accepted_offers
        );
        assert!(close(r.offer_quantity("o2"), 1.0), "{name}");
        assert!(close(r.welfare, 60.0), "{name}: {}", r.welfare);
    }
}

#[test]
fn ties_are_broken_by_a_seeded_hash_not_by_position() {
    // Two identical offers, one request for one of them.
    let s = scenario(
        r#"["t1"]"#,
        &req("r1", "tso", "z1", "up", "t1", 1.0, 50.0),
        &[
            off("a", "z1", "up", "t1", 1.0, 10.0, None),
            off("b", "z1", "up", "t1", 1.0, 10.0, None),
        ]
        .join(","),
        None,
    );
    let mut winners = HashSet::new();
    for seed in 0..16 {
        let config = ClearingConfig {
            seed,
            ..ClearingConfig::default()
        };
        let r = PayAsBid { config }.clear(&s).unwrap();
        let winner = if r.offer_quantity("a") > 0.0 {
            "a"
        } else {
            "b"
        };
        let expected = if tie_key(seed, "a") < tie_key(seed, "b") {
            "a"
        } else {
            "b"
        };
        assert_eq!(winner, expected);
        winners.insert(winner);
        // Deterministic: the same seed gives the same result.
        let again = PayAsBid {
            config: ClearingConfig {
                seed,
                ..ClearingConfig::default()
            },
        }
        .clear(&s)
        .unwrap();
        assert_eq!(r.accepted_offers, again.accepted_offers);
    }
    assert_eq!(winners.len(), 2, "both bidders win for some seed");
}

#[test]
fn unpriced_requests_are_firm_needs() {
    let s = scenario(
        r#"["t1"]"#,
        r#"{"id":"r1","participant":"dso-1","location":"z1","direction":"down","slot":"t1","quantity":1.0}"#,
        &off("o1", "z1", "down", "t1", 2.0, 500.0, None),
        None,
    );
    let r = PayAsBid::default().clear(&s).unwrap();
    assert!(close(r.request_quantity("r1"), 1.0));
    assert!(close(r.welfare, 1000.0 - 500.0));
}

#[test]
fn every_algorithm_clears_a_book_without_orders() {
    let s = Scenario::from_json(
        r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1"],"requests":[],"offers":[]}"#,
    )
    .unwrap();
    for &name in platone_market::clearing::ALGORITHMS {
        let r = platone_market::clearing::algorithm_by_name(name, Default::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        assert_eq!((r.welfare, r.volume), (0.0, 0.0), "{name}");
        assert!(
            r.accepted_offers.is_empty() && r.prices.is_empty(),
            "{name}"
        );
    }
}
