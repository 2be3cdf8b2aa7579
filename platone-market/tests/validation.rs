//! After the DSO's technical validation removes or curtails orders, the operator re-clears the
//! book or keeps the remaining accepted orders; both paths by hand on a book with a rebound
//! block, for every algorithm.

use std::collections::BTreeMap;

use platone_market::Scenario;
use platone_market::clearing::{
    ClearingAlgorithm, ClearingConfig, ClearingResult, DsoFirst, Optimal, PayAsBid, PayAsClear,
    SolverBackend, algorithm_by_name,
};
use platone_market::validation::{
    AfterValidation, Cut, GridValidator, Light, LineLoadingValidator, OrderKind, Verdict,
    apply_cuts, validate_result,
};

/// Slot t1 up: r1 (2 @ 50) served by the block member o1 (1 @ 10) and o3 (1 of 2 @ 20); o4
/// (2 @ 30) is not needed. Slot t2 down: r2 (1 @ 45) served by o2 (1 @ 10), the rebound half of
/// block k1; o5 (1 @ 25) is not needed. Welfare 2×50 + 45 − 10 − 20 − 10 = 105.
const BOOK: &str = r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1","t2"],
 "requests":[
  {"id":"r1","participant":"dso-1","role":"dso","location":"z1","direction":"up","slot":"t1","quantity":2,"price":50},
  {"id":"r2","participant":"dso-1","role":"dso","location":"z1","direction":"down","slot":"t2","quantity":1,"price":45}],
 "offers":[
  {"id":"o1","participant":"agg-1","location":"z1","direction":"up","slot":"t1","quantity":1,"price":10,"block":"k1"},
  {"id":"o2","participant":"agg-1","location":"z1","direction":"down","slot":"t2","quantity":1,"price":10,"block":"k1"},
  {"id":"o3","participant":"agg-2","location":"z1","direction":"up","slot":"t1","quantity":2,"price":20},
  {"id":"o4","participant":"agg-3","location":"z1","direction":"up","slot":"t1","quantity":2,"price":30},
  {"id":"o5","participant":"agg-3","location":"z1","direction":"down","slot":"t2","quantity":1,"price":25}]}"#;

/// A DSO that puts the listed orders on red while they are accepted (curtailed to the given
/// quantity, or removed).
struct Rejects(Vec<(OrderKind, &'static str, Option<f64>)>);

impl GridValidator for Rejects {
    fn validate(&self, _scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        let accepted = result
            .accepted_offers
            .iter()
            .map(|a| (OrderKind::Offer, a))
            .chain(
                result
                    .accepted_requests
                    .iter()
                    .map(|a| (OrderKind::Request, a)),
            );
        accepted
            .map(|(kind, a)| {
                let rule = self
                    .0
                    .iter()
                    .find(|(k, id, _)| *k == kind && *id == a.id)
                    .filter(|(_, _, to)| to.is_none_or(|q| a.quantity > q + 1e-9));
                Verdict {
                    kind,
                    order: a.id.clone(),
                    light: if rule.is_some() {
                        Light::Red
                    } else {
                        Light::Green
                    },
                    reason: if rule.is_some() {
                        "rejected by the DSO".into()
                    } else {
                        String::new()
                    },
                    curtail_to: rule.and_then(|r| r.2),
                }
            })
            .collect()
    }
}

fn scenario() -> Scenario {
    Scenario::from_json(BOOK).unwrap()
}

/// (id, accepted quantity) of the accepted offers and of the accepted requests.
type Accepted<'a> = (Vec<(&'a str, f64)>, Vec<(&'a str, f64)>);

fn quantities(r: &ClearingResult) -> Accepted<'_> {
    (
        r.accepted_offers
            .iter()
            .map(|a| (a.id.as_str(), a.quantity))
            .collect(),
        r.accepted_requests
            .iter()
            .map(|a| (a.id.as_str(), a.quantity))
            .collect(),
    )
}

fn run(
    algorithm: &dyn ClearingAlgorithm,
    validator: &dyn GridValidator,
    after: AfterValidation,
) -> ClearingResult {
    let s = scenario();
    let first = algorithm.clear(&s).unwrap();
    assert_eq!(first.welfare, 105.0, "{}", algorithm.name());
    let outcome = validate_result(&s, first, validator, algorithm, after, 3).unwrap();
    assert_eq!(outcome.rounds.len(), 2, "{}", algorithm.name());
    assert!(
        outcome
            .rounds
            .last()
            .unwrap()
            .iter()
            .all(|v| v.light != Light::Red)
    );
    outcome.result
}

fn optimal() -> Optimal {
    Optimal {
        backend: SolverBackend::MicroLp,
        ..Optimal::default()
    }
}

#[test]
fn removing_a_block_member_keep_drops_the_block_and_its_counterparts() {
    let red_o2 = Rejects(vec![(OrderKind::Offer, "o2", None)]);
    let algorithms: Vec<Box<dyn ClearingAlgorithm>> = vec![
        Box::new(PayAsBid::default()),
        Box::new(PayAsClear::default()),
        Box::new(DsoFirst::default()),
        Box::new(optimal()),
        algorithm_by_name("continuous", ClearingConfig::default()).unwrap(),
    ];
    for a in &algorithms {
        let r = run(a.as_ref(), &red_o2, AfterValidation::Keep);
        // o2 out takes o1 (its block) out; r2 loses o2, r1 loses o1: only o3 → r1 remains.
        assert_eq!(
            quantities(&r),
            (vec![("o3", 1.0)], vec![("r1", 1.0)]),
            "{}",
            a.name()
        );
        assert_eq!(r.welfare, 50.0 - 20.0, "{}", a.name());
        assert_eq!(r.volume, 1.0);
        assert_eq!(r.algorithm, a.name());
        assert_eq!(r.prices.keys().collect::<Vec<_>>(), ["t1"], "{}", a.name());
        if a.name() != "optimal" {
            assert_eq!(r.matches.len(), 1, "{}", a.name());
            let m = &r.matches[0];
            assert_eq!(
                (m.offer.as_str(), m.request.as_str(), m.quantity, m.price),
                ("o3", "r1", 1.0, 20.0)
            );
            assert_eq!(r.prices["t1"].up, Some(20.0), "{}", a.name());
        }
    }
}

#[test]
fn removing_a_block_member_reclear_takes_other_offers() {
    let red_o2 = Rejects(vec![(OrderKind::Offer, "o2", None)]);
    for a in [&PayAsBid::default() as &dyn ClearingAlgorithm, &optimal()] {
        let r = run(a, &red_o2, AfterValidation::Reclear);
        // Without block k1: r1 takes 2 of o3, r2 takes o5.
        assert_eq!(
            quantities(&r),
            (
                vec![("o3", 2.0), ("o5", 1.0)],
                vec![("r1", 2.0), ("r2", 1.0)]
            ),
            "{}",
            a.name()
        );
        assert_eq!(r.welfare, 100.0 + 45.0 - 40.0 - 25.0, "{}", a.name());
    }
}

#[test]
fn curtailing_an_offer_keep_versus_reclear() {
    let curtail_o3 = Rejects(vec![(OrderKind::Offer, "o3", Some(0.5))]);
    // Keep: o3's match with r1 shrinks to 0.5; r1 is served 1.5; the block stays.
    let r = run(&PayAsBid::default(), &curtail_o3, AfterValidation::Keep);
    assert_eq!(
        quantities(&r),
        (
            vec![("o1", 1.0), ("o2", 1.0), ("o3", 0.5)],
            vec![("r1", 1.5), ("r2", 1.0)]
        )
    );
    assert_eq!(r.welfare, 1.5 * 50.0 + 45.0 - 10.0 - 10.0 - 0.5 * 20.0);
    assert_eq!(r.prices["t1"].up, Some((10.0 + 0.5 * 20.0) / 1.5));
    // Re-clear: o3 is capped at 0.5 in the book and o4 fills the rest of r1.
    let r = run(&PayAsBid::default(), &curtail_o3, AfterValidation::Reclear);
    assert_eq!(
        quantities(&r),
        (
            vec![("o1", 1.0), ("o2", 1.0), ("o3", 0.5), ("o4", 0.5)],
            vec![("r1", 2.0), ("r2", 1.0)]
        )
    );
    assert_eq!(r.welfare, 145.0 - 10.0 - 10.0 - 10.0 - 15.0);
}

#[test]
fn pay_as_clear_keep_reprices_at_the_remaining_marginal_offer() {
    let red_o3 = Rejects(vec![(OrderKind::Offer, "o3", None)]);
    let r = run(&PayAsClear::default(), &red_o3, AfterValidation::Keep);
    assert_eq!(
        quantities(&r),
        (
            vec![("o1", 1.0), ("o2", 1.0)],
            vec![("r1", 1.0), ("r2", 1.0)]
        )
    );
    // o3 (20) set the t1 up price; with it gone o1 (10) is the marginal offer.
    assert_eq!(r.prices["t1"].up, Some(10.0));
    assert!(r.matches.iter().all(|m| m.price == 10.0));
    assert_eq!(r.welfare, 50.0 + 45.0 - 10.0 - 10.0);
}

#[test]
fn curtailing_a_request_shrinks_its_matches_and_reserve() {
    // dso-first with a 50 % reliability margin holds 1 of o3 in reserve beyond r1's 2.
    let dso_first = DsoFirst {
        reliability_margin: 0.5,
        ..DsoFirst::default()
    };
    let s = scenario();
    let first = dso_first.clear(&s).unwrap();
    assert_eq!(first.offer_quantity("o3"), 2.0, "{first:?}");
    let cut = [Cut {
        kind: OrderKind::Request,
        order: "r1".into(),
        keep: 1.0,
    }];
    let r = dso_first.prune(&s, &first, &cut).unwrap();
    // r1 keeps its first (cheapest) match: o1; o3's match is undone; the reserve halves.
    assert_eq!(r.request_quantity("r1"), 1.0);
    assert_eq!(r.offer_quantity("o1"), 1.0);
    assert_eq!(r.offer_quantity("o3"), 0.5);
    let reserve: f64 = r
        .matches
        .iter()
        .filter(|m| m.reserve && m.request == "r1")
        .map(|m| m.quantity)
        .sum();
    assert_eq!(reserve, 0.5);
    // Prices leave the reserve out: t1 up is o1's 10.
    assert_eq!(r.prices["t1"].up, Some(10.0));
}

#[test]
fn area_curtailment_by_the_line_loading_validator() {
    // z1 may deliver at most 1.5 upward in a slot: o1 and o3 (1 each) are curtailed to 0.75;
    // o1 is a block member, so its block goes; o3 keeps 0.75.
    let validator = LineLoadingValidator {
        area_limits: BTreeMap::from([("z1".to_string(), 1.5)]),
        curtail_areas: true,
        ..LineLoadingValidator::default()
    };
    let s = scenario();
    let first = PayAsBid::default().clear(&s).unwrap();
    let verdicts = validator.validate(&s, &first);
    let o3 = verdicts.iter().find(|v| v.order == "o3").unwrap();
    assert_eq!((o3.light, o3.curtail_to), (Light::Red, Some(0.75)));
    assert!(o3.reason.contains("curtailed to 0.75"), "{}", o3.reason);
    let outcome = validate_result(
        &s,
        first,
        &validator,
        &PayAsBid::default(),
        AfterValidation::Keep,
        3,
    )
    .unwrap();
    assert_eq!(
        quantities(&outcome.result),
        (vec![("o3", 0.75)], vec![("r1", 0.75)])
    );
    // The book the session keeps: block k1 out, o3 capped at 0.75.
    let offers: Vec<(&str, f64)> = outcome
        .scenario
        .book
        .offers
        .iter()
        .map(|o| (o.id.as_str(), o.quantity))
        .collect();
    assert_eq!(offers, [("o3", 0.75), ("o4", 2.0), ("o5", 1.0)]);
    assert_eq!(outcome.cuts.len(), 2);
}

#[test]
fn apply_cuts_removes_whole_blocks_and_caps_quantities() {
    let mut book = scenario().book;
    apply_cuts(
        &mut book,
        &[
            Cut {
                kind: OrderKind::Offer,
                order: "o1".into(),
                keep: 0.5,
            },
            Cut {
                kind: OrderKind::Request,
                order: "r2".into(),
                keep: 0.0,
            },
            Cut {
                kind: OrderKind::Request,
                order: "r1".into(),
                keep: 1.5,
            },
        ],
    );
    let ids: Vec<&str> = book.offers.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["o3", "o4", "o5"]);
    assert_eq!(book.requests.len(), 1);
    assert_eq!(book.requests[0].quantity, 1.5);
}

#[test]
fn prune_rejects_results_that_do_not_fit_the_scenario() {
    let s = scenario();
    let mut r = PayAsBid::default().clear(&s).unwrap();
    let cut = |id: &str| Cut {
        kind: OrderKind::Offer,
        order: id.into(),
        keep: 0.0,
    };
    let err = PayAsBid::default().prune(&s, &r, &[cut("o9")]).unwrap_err();
    assert!(err.to_string().contains("offer \"o9\""), "{err}");
    // Matches that do not account for an accepted quantity cannot be pruned.
    r.matches.pop();
    let err = PayAsBid::default().prune(&s, &r, &[cut("o3")]).unwrap_err();
    assert!(err.to_string().contains("must account"), "{err}");
}

#[test]
fn red_remaining_after_the_last_round_is_an_error() {
    struct AlwaysRed;
    impl GridValidator for AlwaysRed {
        fn validate(&self, _: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
            // Curtails every accepted offer by a tenth, forever.
            result
                .accepted_offers
                .iter()
                .map(|a| Verdict {
                    kind: OrderKind::Offer,
                    order: a.id.clone(),
                    light: Light::Red,
                    reason: "never enough".into(),
                    curtail_to: Some(a.quantity * 0.9),
                })
                .collect()
        }
    }
    let s = scenario();
    let r = PayAsBid::default().clear(&s).unwrap();
    let err = validate_result(
        &s,
        r,
        &AlwaysRed,
        &PayAsBid::default(),
        AfterValidation::Keep,
        2,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("validation: red orders remain after 2 rounds (keep)"),
        "{err}"
    );
}
