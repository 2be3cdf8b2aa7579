//! The market's DC network JSON as a model source: our DC power flow on it gives the flows of
//! the market's own PTDF computation.

mod common;

use platone_grid::{GridError, MarketNetwork, run_dc};
use platone_market::Scenario;
use platone_market::generate::{GeneratorConfig, generate};

/// Compares, slot by slot, our DC flows on a scenario's network with the market's baseline
/// flows (PTDF × baseline injections), and the flows of some other injections too.
fn same_flows(text: &str, label: &str) {
    let market = Scenario::from_json(text).expect("market scenario");
    let theirs = market.network.as_ref().expect("a network");
    let ours = MarketNetwork::from_scenario_json(text.as_bytes()).expect("grid reads it");
    let unit = ours.megawatts_per_unit();
    assert_eq!(ours.buses, theirs.buses(), "{label}");
    assert_eq!(ours.slots, market.book.slots, "{label}");
    let scale = theirs
        .branches()
        .iter()
        .map(|b| b.limit)
        .fold(1.0, f64::max);
    for (t, slot) in ours.slots.iter().enumerate() {
        let flow = run_dc(&ours.baseline_network(slot).unwrap()).unwrap();
        let expected = theirs.base_flows(t);
        assert_eq!(flow.branches.len(), expected.len(), "{label}");
        for (l, (f, e)) in flow.branches.iter().zip(&expected).enumerate() {
            assert!(
                (f.pf / unit - e).abs() < 1e-9 * scale,
                "{label} slot {slot} branch {}: {} vs market {e}",
                theirs.branches()[l].id,
                f.pf / unit
            );
            assert_eq!(
                ours.network().branches[l].rate_a,
                theirs.branches()[l].limit * unit,
                "{label}"
            );
        }
    }
    // Any injections: one unit at each bus in turn (withdrawn at the slack) is a PTDF column.
    for bus in 0..ours.buses.len() {
        let mut injections = vec![0.0; ours.buses.len()];
        injections[bus] = unit;
        let flow = run_dc(&ours.with_injections(&injections).unwrap()).unwrap();
        for (l, f) in flow.branches.iter().enumerate() {
            let e = theirs.ptdf()[l][bus];
            assert!(
                (f.pf / unit - e).abs() < 1e-9,
                "{label} PTDF[{l}][{bus}]: {} vs market {e}",
                f.pf / unit
            );
        }
    }
}

#[test]
fn generated_radial_scenarios_give_the_market_flows() {
    for (seed, buses) in [(1, 6), (2, 15), (3, 40)] {
        let scenario = generate(&GeneratorConfig {
            network: Some(buses),
            seed,
            slots: 3,
            ..GeneratorConfig::default()
        })
        .unwrap();
        same_flows(&scenario.to_json(), &format!("generated seed {seed}"));
    }
}

#[test]
fn a_meshed_network_in_kw_gives_the_market_flows() {
    // Two loops, parallel branches, the slack not first, kW.
    let text = r#"{"format": "platone-market-scenario/1", "unit": "kW", "slots": ["t1", "t2"],
      "offers": [{"id": "o1", "participant": "agg", "location": "b", "direction": "up",
                  "slot": "t1", "quantity": 10, "price": 3}],
      "network": {"base_mva": 10, "slack": "c", "buses": ["a", "b", "c", "d", "e"],
        "branches": [
          {"id": "ab", "from": "a", "to": "b", "x": 0.05, "limit": 500},
          {"id": "bc", "from": "b", "to": "c", "x": 0.03, "limit": 500},
          {"id": "ca", "from": "c", "to": "a", "x": 0.04, "limit": 500},
          {"id": "cd", "from": "c", "to": "d", "x": 0.02, "limit": 500},
          {"id": "cd2", "from": "c", "to": "d", "x": 0.06, "limit": 500},
          {"id": "de", "from": "d", "to": "e", "x": 0.01, "limit": 500},
          {"id": "eb", "from": "e", "to": "b", "x": 0.07, "limit": 500}],
        "baseline": {"t1": {"a": -120, "b": 80, "d": -200, "e": -35, "c": 275},
                     "t2": {"a": 40, "e": -90}}}}"#;
    same_flows(text, "meshed");
}

#[test]
fn the_prat2021_case_gives_the_market_flows() {
    let Some(dir) = common::grid_reference() else {
        return;
    };
    let dir = dir.join("../market/prat2021_lfm_15bus");
    let rows = |name: &str| -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
            .collect()
    };
    // Baseline nodal injections of the authors' script (ORIGIN.md), in p.u.
    const SET_POINT: [f64; 15] = [
        1.21, -0.04, -0.07, -0.14, -0.04, -0.14, -0.14, -0.07, -0.07, -0.04, -0.14, -0.07, -0.04,
        -0.07, -0.14,
    ];
    let base_mva = std::fs::read_to_string(dir.join("baseMVA.csv")).unwrap();
    let buses: Vec<String> = rows("bus.csv")
        .iter()
        .map(|b| format!("\"n{}\"", b[0]))
        .collect();
    let branches: Vec<String> = rows("branch.csv")
        .iter()
        .enumerate()
        .map(|(i, b)| {
            format!(
                r#"{{"id": "l{}", "from": "n{}", "to": "n{}", "x": {}, "limit": {}}}"#,
                i + 1,
                b[0],
                b[1],
                b[3],
                b[5]
            )
        })
        .collect();
    let baseline: Vec<String> = SET_POINT
        .iter()
        .enumerate()
        .map(|(i, v)| format!("\"n{}\": {v}", i + 1))
        .collect();
    let text = format!(
        r#"{{"format": "platone-market-scenario/1", "unit": "pu", "slots": ["t1"],
        "network": {{"base_mva": {}, "slack": "n1", "buses": [{}], "branches": [{}],
        "baseline": {{"t1": {{{}}}}}}}}}"#,
        base_mva.trim(),
        buses.join(", "),
        branches.join(", "),
        baseline.join(", ")
    );
    same_flows(&text, "prat2021");
    // The authors' PTDF file, through our flows: one p.u. at bus n, flows in p.u.
    let ours = MarketNetwork::from_scenario_json(text.as_bytes()).unwrap();
    let expected = rows("PTDF.csv");
    for bus in 0..ours.buses.len() {
        let mut injections = vec![0.0; ours.buses.len()];
        injections[bus] = ours.megawatts_per_unit();
        let flow = run_dc(&ours.with_injections(&injections).unwrap()).unwrap();
        for (l, f) in flow.branches.iter().enumerate() {
            let e: f64 = expected[l][bus].parse().unwrap();
            assert!((f.pf / ours.megawatts_per_unit() - e).abs() < 1e-9);
        }
    }
}

#[test]
fn a_scenario_the_market_rejects_is_rejected_with_the_same_field() {
    let text = r#"{"format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
      "network": {"slack": "a", "buses": ["a", "b", "c"],
        "branches": [{"id": "ab", "from": "a", "to": "b", "x": 0.1, "limit": 5}]}}"#;
    assert!(Scenario::from_json(text).is_err());
    match MarketNetwork::from_scenario_json(text.as_bytes()) {
        Err(GridError::Network { place, message }) => {
            assert_eq!(place, "network.buses[2]");
            assert!(message.contains("not connected"), "{message}");
        }
        other => panic!("expected a located error, got {other:?}"),
    }
}
