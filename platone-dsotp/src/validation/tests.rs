//! The AC validator on a small radial feeder written inline, and on the IEEE 14-bus case of
//! the reference data.

use platone_grid::{BusState, PowerFlowOptions, run_ac};
use platone_market::Scenario;
use platone_market::clearing::ClearingResult;
use platone_market::validation::{GridValidator, Light, OrderKind, Verdict};
use serde_json::{Value, json};

use super::flow::{self, GridState};
use super::{AcValidator, AcValidatorConfig, RequestInjection, Violation};

/// A 5-bus radial feeder on a 10 MVA base: bus 1 the substation (slack at 1.0 p.u.), buses
/// 2–5 in a chain, each with 0.5 MW + 0.1 Mvar of load (bus 5: `pd5` MW), limits 0.95–1.05
/// p.u.; every section r = x = 0.02 p.u. rated 20 MVA, the first `rate1` MVA.
fn feeder(pd5: f64, rate1: f64) -> String {
    format!(
        "mpc.baseMVA = 10;
mpc.bus = [
  1 3 0    0   0 0 1 1 0 20 1 1.1  0.9;
  2 1 0.5  0.1 0 0 1 1 0 20 1 1.05 0.95;
  3 1 0.5  0.1 0 0 1 1 0 20 1 1.05 0.95;
  4 1 0.5  0.1 0 0 1 1 0 20 1 1.05 0.95;
  5 1 {pd5} 0.1 0 0 1 1 0 20 1 1.05 0.95;
];
mpc.gen = [1 0 0 100 -100 1.0 10 1 100 0];
mpc.branch = [
  1 2 0.02 0.02 0 {rate1} {rate1} {rate1} 0 0 1 -360 360;
  2 3 0.02 0.02 0 20 20 20 0 0 1 -360 360;
  3 4 0.02 0.02 0 20 20 20 0 0 1 -360 360;
  4 5 0.02 0.02 0 20 20 20 0 0 1 -360 360;
];"
    )
}

fn validator(case: &str) -> AcValidator {
    AcValidator::from_case(case, AcValidatorConfig::default()).unwrap()
}

/// An offer `(id, bus, direction, slot, MW)`.
fn offer(id: &str, bus: &str, direction: &str, slot: &str, quantity: f64) -> Value {
    json!({"id": id, "participant": "agg-1", "location": bus, "direction": direction,
           "slot": slot, "quantity": quantity, "price": 10.0})
}

/// A TSO request at the substation (bus 1).
fn tso_request(id: &str, slot: &str, quantity: f64) -> Value {
    json!({"id": id, "participant": "tso", "role": "tso", "location": "1", "direction": "up",
           "slot": slot, "quantity": quantity, "price": 90.0})
}

fn scenario(slots: &[&str], offers: Vec<Value>, requests: Vec<Value>) -> Scenario {
    Scenario::from_file(
        serde_json::from_value(json!({
            "format": "platone-market-scenario/1", "unit": "MW", "slots": slots,
            "offers": offers, "requests": requests,
        }))
        .unwrap(),
    )
    .unwrap()
}

/// A result accepting every order of `scenario` in full.
fn accept_all(scenario: &Scenario) -> ClearingResult {
    let accepted = |id: &str, q: f64| json!({"id": id, "quantity": q});
    serde_json::from_value(json!({
        "algorithm": "hand-made", "welfare": 0.0, "volume": 0.0,
        "accepted_offers": scenario.book.offers.iter()
            .map(|o| accepted(&o.id, o.quantity)).collect::<Vec<_>>(),
        "accepted_requests": scenario.book.requests.iter()
            .map(|r| accepted(&r.id, r.quantity)).collect::<Vec<_>>(),
        "matches": [], "prices": {}, "solve_ms": 0.0,
    }))
    .unwrap()
}

fn verdict<'a>(verdicts: &'a [Verdict], id: &str) -> &'a Verdict {
    verdicts
        .iter()
        .find(|v| v.order == id)
        .unwrap_or_else(|| panic!("no verdict for {id}: {verdicts:?}"))
}

#[test]
fn an_award_pushing_the_feeder_end_above_vmax_is_red_naming_the_bus() {
    let v = validator(&feeder(0.5, 20.0));
    let s = scenario(
        &["t1"],
        vec![
            offer("o-up", "5", "up", "t1", 10.0),
            offer("o-relief", "4", "down", "t1", 1.0),
        ],
        vec![tso_request("r1", "t1", 9.0)],
    );
    let report = v.check(&s, &accept_all(&s));
    let up = verdict(&report.verdicts, "o-up");
    assert_eq!(up.light, Light::Red, "{up:?}");
    assert!(up.reason.contains("voltage at bus 5 1.0"), "{}", up.reason);
    assert!(up.reason.contains("above Vmax 1.05"), "{}", up.reason);
    assert!(up.reason.contains("slot \"t1\""), "{}", up.reason);
    // More load at bus 4 pulls the voltage down: it relieves, so it is not blamed.
    let relief = verdict(&report.verdicts, "o-relief");
    assert_eq!(relief.light, Light::Green, "{relief:?}");
    // The TSO's request at the substation moves no feeder voltage.
    assert_eq!(verdict(&report.verdicts, "r1").light, Light::Green);
    // One verdict per accepted order, offers then requests.
    let order: Vec<_> = report
        .verdicts
        .iter()
        .map(|v| (v.kind, v.order.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            (OrderKind::Offer, "o-up"),
            (OrderKind::Offer, "o-relief"),
            (OrderKind::Request, "r1")
        ]
    );
    assert!(report.base_violations.is_empty(), "{report:?}");
    let slot = &report.slots[0];
    assert!(slot.converged);
    assert!(
        slot.violations
            .iter()
            .any(|x| matches!(x, Violation::Overvoltage { bus: 5, vm, .. } if *vm > 1.05)),
        "{slot:?}"
    );
    // Base case, the slot with the awards, then one power flow per order of the slot.
    assert_eq!(report.power_flows, 1 + 1 + 3);
    // The trait gives the same verdicts.
    assert_eq!(v.validate(&s, &accept_all(&s)), report.verdicts);
}

#[test]
fn small_awards_are_green_and_near_limits_amber() {
    let v = validator(&feeder(0.5, 20.0));
    let s = scenario(&["t1"], vec![offer("o1", "5", "up", "t1", 1.0)], vec![]);
    let report = v.check(&s, &accept_all(&s));
    assert_eq!(report.verdicts[0].light, Light::Green, "{report:?}");
    assert_eq!(report.verdicts[0].reason, "");
    // No limit approached: no power flow per order.
    assert_eq!(report.power_flows, 2);
    // 7.5 MW at the end brings bus 5 within 0.01 p.u. of Vmax without crossing it.
    let s = scenario(&["t1"], vec![offer("o1", "5", "up", "t1", 7.5)], vec![]);
    let report = v.check(&s, &accept_all(&s));
    let o1 = &report.verdicts[0];
    assert_eq!(o1.light, Light::Amber, "{report:?}");
    assert!(o1.reason.contains("bus 5") && o1.reason.contains("within 0.01 p.u. of Vmax"));
    assert!(report.slots[0].violations.is_empty());
}

#[test]
fn a_base_case_violation_blames_only_the_awards_that_worsen_it() {
    // A 11 MW PV plant at bus 5 already holds it above Vmax without any award.
    let v = validator(&feeder(-11.0, 20.0));
    let s = scenario(
        &["t1"],
        vec![
            offer("o-relief", "5", "down", "t1", 1.0),
            offer("o-worse", "3", "up", "t1", 1.0),
            offer("o-elsewhere", "2", "down", "t1", 0.2),
        ],
        vec![],
    );
    let report = v.check(&s, &accept_all(&s));
    assert!(
        report
            .base_violations
            .iter()
            .any(|x| x.bus() == Some(5) && matches!(x, Violation::Overvoltage { .. })),
        "{report:?}"
    );
    assert!(!report.estimated_base);
    assert_eq!(
        verdict(&report.verdicts, "o-relief").light,
        Light::Green,
        "{report:?}"
    );
    assert_eq!(verdict(&report.verdicts, "o-elsewhere").light, Light::Green);
    let worse = verdict(&report.verdicts, "o-worse");
    assert_eq!(worse.light, Light::Red, "{worse:?}");
    assert!(worse.reason.contains("bus 5"), "{}", worse.reason);
    assert!(
        worse.reason.contains("without the awards"),
        "{}",
        worse.reason
    );
}

#[test]
fn a_thermal_overload_names_the_branch() {
    // The first section is rated 5 MVA; 6 MW more load at bus 3 overload it.
    let v = validator(&feeder(0.5, 5.0));
    let s = scenario(
        &["t1"],
        vec![offer("o-load", "3", "down", "t1", 6.0)],
        vec![],
    );
    let report = v.check(&s, &accept_all(&s));
    let o = &report.verdicts[0];
    assert_eq!(o.light, Light::Red, "{report:?}");
    assert!(
        o.reason.contains("branch 1 (bus 1 → 2) loaded at"),
        "{}",
        o.reason
    );
    assert!(o.reason.contains("of rateA 5 MVA"), "{}", o.reason);
    assert!(
        report.slots[0]
            .violations
            .iter()
            .any(|x| x.branch() == Some(1)),
        "{report:?}"
    );
}

#[test]
fn a_power_flow_that_does_not_converge_is_red_for_its_slot_only() {
    let v = validator(&feeder(0.5, 20.0));
    let s = scenario(
        &["t1", "t2"],
        vec![
            offer("o-huge", "5", "down", "t1", 500.0),
            offer("o-same-slot", "2", "up", "t1", 0.1),
            offer("o-other-slot", "5", "up", "t2", 1.0),
        ],
        vec![],
    );
    let report = v.check(&s, &accept_all(&s));
    for id in ["o-huge", "o-same-slot"] {
        let o = verdict(&report.verdicts, id);
        assert_eq!(o.light, Light::Red, "{o:?}");
        assert!(
            o.reason.contains("AC power flow of slot \"t1\""),
            "{}",
            o.reason
        );
    }
    assert_eq!(
        verdict(&report.verdicts, "o-other-slot").light,
        Light::Green
    );
    assert!(!report.slots[0].converged);
    assert!(report.slots[0].note.is_some());
    assert!(report.slots[1].converged);
}

#[test]
fn the_estimated_state_is_the_base_of_the_check() {
    let mut v = validator(&feeder(0.5, 20.0));
    let s = scenario(&["t1"], vec![offer("o1", "5", "up", "t1", 2.0)], vec![]);
    assert_eq!(v.check(&s, &accept_all(&s)).verdicts[0].light, Light::Green);
    // The estimator sees the feeder end at 1.045 p.u. (a PV plant the case does not know):
    // the same award now pushes it above Vmax.
    let state: Vec<BusState> = [(1, 1.0), (2, 1.02), (3, 1.03), (4, 1.04), (5, 1.045)]
        .into_iter()
        .map(|(bus, vm)| BusState { bus, vm, va: 0.0 })
        .collect();
    v.set_operating_point(&state).unwrap();
    assert!(v.has_operating_point());
    let report = v.check(&s, &accept_all(&s));
    assert!(report.estimated_base);
    assert!(report.base_violations.is_empty(), "{report:?}");
    let o1 = &report.verdicts[0];
    assert_eq!(o1.light, Light::Red, "{report:?}");
    assert!(o1.reason.contains("voltage at bus 5"), "{}", o1.reason);
    v.clear_operating_point();
    assert_eq!(v.check(&s, &accept_all(&s)).verdicts[0].light, Light::Green);
    // An estimate of a bus the case does not have is refused.
    let bad = [BusState {
        bus: 99,
        vm: 1.0,
        va: 0.0,
    }];
    let e = v.set_operating_point(&bad).unwrap_err();
    assert!(e.to_string().contains("bus 99"), "{e}");
    assert!(!v.has_operating_point());
}

#[test]
fn orders_off_the_grid_or_out_of_the_book_are_judged_not_dropped() {
    let v = validator(&feeder(0.5, 20.0));
    let s = scenario(
        &["t1"],
        vec![offer("o-far", "pod-somewhere", "up", "t1", 1.0)],
        vec![],
    );
    let mut result = accept_all(&s);
    let ghost: platone_market::clearing::Accepted =
        serde_json::from_value(json!({"id": "o-ghost", "quantity": 1.0})).unwrap();
    result.accepted_offers.push(ghost);
    let report = v.check(&s, &result);
    let far = verdict(&report.verdicts, "o-far");
    assert_eq!(far.light, Light::Amber);
    assert!(
        far.reason
            .contains("\"pod-somewhere\" is not on the grid model")
    );
    let ghost = verdict(&report.verdicts, "o-ghost");
    assert_eq!(ghost.light, Light::Red);
    assert!(ghost.reason.contains("not in the book"));
    // A mapped PoD is checked at its bus.
    let config = AcValidatorConfig {
        locations: [("pod-somewhere".to_string(), 5)].into_iter().collect(),
        ..AcValidatorConfig::default()
    };
    let mapped = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap();
    let s = scenario(
        &["t1"],
        vec![offer("o-far", "pod-somewhere", "up", "t1", 10.0)],
        vec![],
    );
    let far = &mapped.check(&s, &accept_all(&s)).verdicts[0];
    assert_eq!(far.light, Light::Red);
    assert!(far.reason.contains("bus 5"), "{}", far.reason);
    // A map to a bus the case does not have is refused.
    let config = AcValidatorConfig {
        locations: [("pod".to_string(), 42)].into_iter().collect(),
        ..AcValidatorConfig::default()
    };
    let e = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap_err();
    assert!(e.to_string().contains("bus 42"), "{e}");
}

#[test]
fn requests_count_as_counterparts_or_not_at_all() {
    // A DSO request at the feeder end matched by an offer there: as counterparts they cancel.
    let s = scenario(
        &["t1"],
        vec![offer("o1", "5", "up", "t1", 10.0)],
        vec![
            json!({"id": "r1", "participant": "dso", "role": "dso", "location": "5",
                    "direction": "up", "slot": "t1", "quantity": 10.0, "price": 90.0}),
        ],
    );
    let counter = validator(&feeder(0.5, 20.0));
    assert!(
        counter
            .check(&s, &accept_all(&s))
            .verdicts
            .iter()
            .all(|v| v.light == Light::Green)
    );
    let config = AcValidatorConfig {
        requests: RequestInjection::Ignore,
        ..AcValidatorConfig::default()
    };
    let physical = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap();
    let report = physical.check(&s, &accept_all(&s));
    assert_eq!(verdict(&report.verdicts, "o1").light, Light::Red);
    assert_eq!(verdict(&report.verdicts, "r1").light, Light::Green);
}

#[test]
fn kilowatts_and_a_power_factor_are_scaled() {
    let config = AcValidatorConfig {
        power_factor: Some(0.9),
        ..AcValidatorConfig::default()
    };
    let v = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap();
    let mut file: platone_market::ScenarioFile = serde_json::from_value(json!({
        "format": "platone-market-scenario/1", "unit": "kW", "slots": ["t1"],
        "offers": [offer("o1", "5", "up", "t1", 10_000.0)],
    }))
    .unwrap();
    let s = Scenario::from_file(file.clone()).unwrap();
    let report = v.check(&s, &accept_all(&s));
    assert_eq!(report.verdicts[0].light, Light::Red, "{report:?}");
    file.offers[0].quantity = 1_000.0;
    let s = Scenario::from_file(file).unwrap();
    assert_eq!(v.check(&s, &accept_all(&s)).verdicts[0].light, Light::Green);
    // A power factor outside (0, 1] is refused.
    let config = AcValidatorConfig {
        power_factor: Some(1.5),
        ..AcValidatorConfig::default()
    };
    let e = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap_err();
    assert!(e.to_string().contains("power_factor"), "{e}");
}

#[test]
fn the_dc_check_is_combined_when_the_book_has_a_network() {
    let v = validator(&feeder(0.5, 20.0));
    // The DC model's branch 4–5 is limited to 0.5: a 1 MW offer at bus 5 overloads it
    // there, while the AC model (20 MVA) sees nothing.
    let s = Scenario::from_file(
        serde_json::from_value(json!({
            "format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
            "offers": [offer("o1", "5", "up", "t1", 1.0)],
            "requests": [tso_request("r1", "t1", 1.0)],
            "network": {"base_mva": 10.0, "slack": "1", "buses": ["1", "2", "3", "4", "5"],
                "branches": [
                    {"id": "l12", "from": "1", "to": "2", "x": 0.02, "limit": 20.0},
                    {"id": "l23", "from": "2", "to": "3", "x": 0.02, "limit": 20.0},
                    {"id": "l34", "from": "3", "to": "4", "x": 0.02, "limit": 20.0},
                    {"id": "l45", "from": "4", "to": "5", "x": 0.02, "limit": 0.5}]},
        }))
        .unwrap(),
    )
    .unwrap();
    let report = v.check(&s, &accept_all(&s));
    let o1 = verdict(&report.verdicts, "o1");
    assert_eq!(o1.light, Light::Red, "{report:?}");
    assert!(o1.reason.contains("l45"), "{}", o1.reason);
    // Without the DC check, the AC model alone finds it fine.
    let config = AcValidatorConfig {
        dc_line_loading: false,
        ..AcValidatorConfig::default()
    };
    let ac_only = AcValidator::from_case(&feeder(0.5, 20.0), config).unwrap();
    let report = ac_only.check(&s, &accept_all(&s));
    assert_eq!(verdict(&report.verdicts, "o1").light, Light::Green);
}

#[test]
fn loadings_from_voltages_match_the_power_flow() {
    let net = platone_grid::parse_case(&feeder(-3.0, 4.0)).unwrap();
    let pf = run_ac(&net, &PowerFlowOptions::default()).unwrap();
    let state = GridState {
        vm: pf.buses.iter().map(|b| b.vm).collect(),
        va: pf.buses.iter().map(|b| b.va.to_radians()).collect(),
    };
    let ours = flow::loadings(&net, &state);
    for (b, l) in pf.branches.iter().zip(ours) {
        let (theirs, ours) = (b.loading.unwrap(), l.unwrap());
        assert!((theirs - ours).abs() < 1e-9, "{theirs} vs {ours}");
    }
}

/// The reference data's IEEE 14-bus case (pglib-opf); the test fails when it is absent.
fn case14() -> String {
    let dir = std::env::var_os("PLATONE_REFERENCE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference")
        });
    let path = dir.join("grid/pglib_opf_case14_ieee.m");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "this test needs the reference data: {} ({e}); put the shared reference data at \
             ../shared/reference or set PLATONE_REFERENCE",
            path.display()
        )
    })
}

#[test]
fn ieee14_from_the_reference_data() {
    let v = validator(&case14());
    let s = scenario(
        &["t1"],
        vec![
            offer("o-small", "14", "up", "t1", 1.0),
            offer("o-big", "14", "down", "t1", 60.0),
        ],
        vec![],
    );
    let report = v.check(&s, &accept_all(&s));
    assert!(report.base_violations.is_empty(), "{report:?}");
    assert_eq!(verdict(&report.verdicts, "o-small").light, Light::Green);
    // 60 MW more load at bus 14 pull its voltage below Vmin (0.94).
    let big = verdict(&report.verdicts, "o-big");
    assert_eq!(big.light, Light::Red, "{report:?}");
    assert!(
        big.reason.contains("voltage at bus 14") && big.reason.contains("below Vmin 0.94"),
        "{}",
        big.reason
    );
}
