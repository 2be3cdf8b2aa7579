//! The location rule (`same-bus`, `any`, `area`) and blocks that no request can balance, in
//! every algorithm, on small hand-computed cases.

use platone_market::clearing::{ALGORITHMS, ClearingConfig, algorithm_by_name};
use platone_market::{LocationRule, MarketError, Scenario};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn config(rule: Option<LocationRule>, area_hops: usize) -> ClearingConfig {
    ClearingConfig {
        location_rule: rule,
        area_hops,
        ..ClearingConfig::default()
    }
}

/// r1 asks 2 up in t1 at z1. o1 (1 @ 10) is a single offer; the block k1 offers 1 up in t1
/// (o2) and 1 up in t2 (o3) at 5, but nobody asks for up in t2.
const LONE_BLOCK: &str = r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1","t2"],
  "requests":[{"id":"r1","participant":"dso-1","role":"dso","location":"z1","direction":"up","slot":"t1","quantity":2,"price":50}],
  "offers":[{"id":"o1","participant":"a","location":"z1","direction":"up","slot":"t1","quantity":1,"price":10},
            {"id":"o2","participant":"b","location":"z1","direction":"up","slot":"t1","quantity":1,"price":5,"block":"k1"},
            {"id":"o3","participant":"b","location":"z1","direction":"up","slot":"t2","quantity":1,"price":5,"block":"k1"}]}"#;

#[test]
fn a_lone_unbalanceable_block_is_a_diagnostic_not_an_error() {
    let s = Scenario::from_json(LONE_BLOCK).expect("a block no request can balance is valid");
    for &name in ALGORITHMS {
        let algorithm = algorithm_by_name(name, ClearingConfig::default()).unwrap();
        let (r, d) = algorithm.clear_with_diagnostics(&s).unwrap();
        assert!(close(r.offer_quantity("o1"), 1.0), "{name}");
        assert!(close(r.offer_quantity("o2"), 0.0), "{name}");
        assert!(close(r.offer_quantity("o3"), 0.0), "{name}");
        assert!(close(r.welfare, 40.0), "{name}: {}", r.welfare);
        assert_eq!(d.unbalanceable_blocks.len(), 1, "{name}");
        let b = &d.unbalanceable_blocks[0];
        assert_eq!((b.block.as_str(), b.offer.as_str()), ("k1", "o3"), "{name}");
        assert_eq!(
            b.to_string(),
            r#"block "k1" (offer "o3"): offers up in slot "t2" but no request asks for up there, so the block is never accepted"#
        );
        // The result carries the diagnostics (and so does its JSON).
        assert_eq!(r.diagnostics, d, "{name}");
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["diagnostics"]["unbalanceable_blocks"][0]["block"],
            "k1"
        );
        assert_eq!(json["location_rule"], "any");
    }
}

#[test]
fn a_block_larger_than_what_its_compatible_requests_ask_is_never_accepted() {
    // The block's down member (3) is more than the only down request of t1 (1).
    let s = Scenario::from_json(r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1","t2"],
      "requests":[{"id":"r1","participant":"tso-1","role":"tso","location":"z1","direction":"down","slot":"t1","quantity":1,"price":50},
                  {"id":"r2","participant":"tso-1","role":"tso","location":"z1","direction":"up","slot":"t2","quantity":5,"price":50}],
      "offers":[{"id":"o1","participant":"b","location":"z1","direction":"down","slot":"t1","quantity":3,"price":5,"block":"k1"},
                {"id":"o2","participant":"b","location":"z1","direction":"up","slot":"t2","quantity":3,"price":5,"block":"k1"}]}"#).unwrap();
    for &name in ALGORITHMS {
        let (r, d) = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear_with_diagnostics(&s)
            .unwrap();
        assert_eq!(r.volume, 0.0, "{name}");
        assert_eq!(d.unbalanceable_blocks.len(), 1, "{name}");
        assert!(
            d.unbalanceable_blocks[0]
                .reason
                .contains("ask for 1 in all"),
            "{}",
            d.unbalanceable_blocks[0]
        );
    }
}

#[test]
fn a_block_up_and_down_in_one_slot_is_valid_and_balanced_per_direction() {
    // Up and down requests in t1: the block's up member serves r1, its down member r2.
    let s = Scenario::from_json(r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1"],
      "requests":[{"id":"r1","participant":"tso-1","role":"tso","location":"z1","direction":"up","slot":"t1","quantity":1,"price":50},
                  {"id":"r2","participant":"tso-1","role":"tso","location":"z1","direction":"down","slot":"t1","quantity":1,"price":50}],
      "offers":[{"id":"o1","participant":"b","location":"z1","direction":"up","slot":"t1","quantity":1,"price":5,"block":"k1"},
                {"id":"o2","participant":"b","location":"z1","direction":"down","slot":"t1","quantity":1,"price":5,"block":"k1"}]}"#).unwrap();
    for &name in ALGORITHMS {
        let (r, d) = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear_with_diagnostics(&s)
            .unwrap();
        assert!(d.unbalanceable_blocks.is_empty(), "{name}");
        assert!(close(r.welfare, 90.0), "{name}: {}", r.welfare);
    }
}

/// A DSO request at z1 and one cheap offer at z2, no network.
const OTHER_BUS: &str = r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1"],
  "requests":[{"id":"r1","participant":"dso-1","role":"dso","location":"z1","direction":"up","slot":"t1","quantity":2,"price":60}],
  "offers":[{"id":"o1","participant":"a","location":"z2","direction":"up","slot":"t1","quantity":3,"price":10}]}"#;

#[test]
fn without_a_network_a_dso_request_is_served_from_another_bus_by_default() {
    let s = Scenario::from_json(OTHER_BUS).unwrap();
    for &name in ALGORITHMS {
        let r = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        assert_eq!(r.location_rule, Some(LocationRule::Any), "{name}");
        assert!(close(r.offer_quantity("o1"), 2.0), "{name}");
        assert!(close(r.request_quantity("r1"), 2.0), "{name}");
        assert!(close(r.welfare, 100.0), "{name}: {}", r.welfare);
        // Today's rule stays available: same-bus (and area, without a network) serve nothing.
        for rule in [LocationRule::SameBus, LocationRule::Area] {
            let r = algorithm_by_name(name, config(Some(rule), 0))
                .unwrap()
                .clear(&s)
                .unwrap();
            assert_eq!(r.location_rule, Some(rule), "{name}");
            assert_eq!(r.volume, 0.0, "{name} {rule}");
        }
    }
}

#[test]
fn the_configured_rule_wins_over_the_scenarios_and_the_result_reports_it() {
    let text = OTHER_BUS.replacen('{', r#"{"location_rule":"same-bus","#, 1);
    let s = Scenario::from_json(&text).unwrap();
    assert_eq!(s.location_rule, Some(LocationRule::SameBus));
    // The rule survives writing the scenario back.
    assert_eq!(
        Scenario::from_json(&s.to_json()).unwrap().location_rule,
        Some(LocationRule::SameBus)
    );
    for &name in ALGORITHMS {
        let r = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        assert_eq!(r.location_rule, Some(LocationRule::SameBus), "{name}");
        assert_eq!(r.volume, 0.0, "{name}");
        let r = algorithm_by_name(name, config(Some(LocationRule::Any), 0))
            .unwrap()
            .clear(&s)
            .unwrap();
        assert_eq!(r.location_rule, Some(LocationRule::Any), "{name}");
        assert!(close(r.welfare, 100.0), "{name}");
    }
}

#[test]
fn an_unknown_location_rule_is_a_syntax_error_that_says_where() {
    let text = OTHER_BUS.replacen('{', "{\n\"location_rule\": \"nearby\",", 1);
    match Scenario::from_json(&text) {
        Err(MarketError::Syntax { message, line, .. }) => {
            assert_eq!(line, 2);
            assert!(message.contains("nearby"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A line n1 – n2 – n3 with ample limits; a DSO request at n1, offers at n2 (1 @ 10) and n3
/// (1 @ 20).
const LINE: &str = r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1"],
  "requests":[{"id":"r1","participant":"dso-1","role":"dso","location":"n1","direction":"up","slot":"t1","quantity":2,"price":60}],
  "offers":[{"id":"o1","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":1,"price":10},
            {"id":"o2","participant":"a","location":"n3","direction":"up","slot":"t1","quantity":1,"price":20}],
  "network":{"base_mva":100,"slack":"n1","buses":["n1","n2","n3"],
    "branches":[{"id":"l1","from":"n1","to":"n2","x":0.1,"limit":10},{"id":"l2","from":"n2","to":"n3","x":0.1,"limit":10}]}}"#;

#[test]
fn with_a_network_the_area_rule_takes_offers_within_its_hops() {
    let s = Scenario::from_json(LINE).unwrap();
    let cases = [
        (LocationRule::SameBus, 0, 0.0),
        (LocationRule::Area, 0, 0.0),
        (LocationRule::Area, 1, 50.0),
        (LocationRule::Area, 2, 90.0),
        (LocationRule::Any, 0, 90.0),
    ];
    for &name in ALGORITHMS {
        for (rule, hops, welfare) in cases {
            let r = algorithm_by_name(name, config(Some(rule), hops))
                .unwrap()
                .clear(&s)
                .unwrap();
            assert!(
                close(r.welfare, welfare),
                "{name} {rule} {hops}: {}",
                r.welfare
            );
        }
        // Defaults with a network: `any`, but `area` (the congested area) for dso-first.
        let r = algorithm_by_name(name, ClearingConfig::default())
            .unwrap()
            .clear(&s)
            .unwrap();
        let expected = if name == "dso-first" {
            LocationRule::Area
        } else {
            LocationRule::Any
        };
        assert_eq!(r.location_rule, Some(expected), "{name}");
    }
}
