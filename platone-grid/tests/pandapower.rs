//! Power flow and state estimation against pandapower on the PGLib cases.

mod common;

use platone_grid::{EstimationOptions, PowerFlowOptions, estimate, parse_case, run_ac, run_dc};

const CASES: [&str; 5] = [
    "case5_pjm",
    "case14_ieee",
    "case30_ieee",
    "case57_ieee",
    "case1354_pegase",
];

fn compare_buses(
    case: &str,
    ours: &[(u64, f64, f64)],
    reference: &serde_json::Value,
    vm_tol: f64,
    va_tol: f64,
) {
    let buses = reference["buses"].as_array().expect("buses");
    assert_eq!(buses.len(), ours.len(), "{case}: bus count");
    for (b, r) in ours.iter().zip(buses) {
        assert_eq!(b.0, r["bus"].as_u64().unwrap(), "{case}: bus order");
        let (vm, va) = (r["vm"].as_f64().unwrap(), r["va"].as_f64().unwrap());
        assert!(
            (b.1 - vm).abs() < vm_tol,
            "{case} bus {}: vm {} vs pandapower {vm}",
            b.0,
            b.1
        );
        assert!(
            (b.2 - va).abs() < va_tol,
            "{case} bus {}: va {} vs pandapower {va}",
            b.0,
            b.2
        );
    }
}

#[test]
fn ac_and_dc_power_flow_match_pandapower() {
    let (Some(dir), Some(python)) = (common::grid_reference(), common::python()) else {
        return;
    };
    for case in CASES {
        let path = dir.join(format!("pglib_opf_{case}.m"));
        let net = parse_case(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for dc in [false, true] {
            let ours = if dc {
                run_dc(&net).unwrap()
            } else {
                run_ac(&net, &PowerFlowOptions::default()).unwrap()
            };
            assert!(ours.converged, "{case}");
            let mut args = vec!["pf", path.to_str().unwrap()];
            if dc {
                args.push("--dc");
            }
            let reference = common::pandapower(&python, &args);
            assert!(
                reference["converged"].as_bool().unwrap(),
                "{case}: pandapower did not converge"
            );
            let buses: Vec<_> = ours.buses.iter().map(|b| (b.bus, b.vm, b.va)).collect();
            compare_buses(case, &buses, &reference, 1e-6, 1e-4);
            for (b, r) in ours
                .branches
                .iter()
                .zip(reference["branches"].as_array().unwrap())
            {
                for (key, value) in [("pf", b.pf), ("qf", b.qf), ("pt", b.pt), ("qt", b.qt)] {
                    let expected = r[key].as_f64().unwrap();
                    assert!(
                        (value - expected).abs() < 1e-4 * net.base_mva,
                        "{case} dc={dc} branch {} {key}: {value} vs pandapower {expected}",
                        b.index
                    );
                }
            }
        }
    }
}

#[test]
fn noisy_estimate_matches_pandapower_wls() {
    let (Some(dir), Some(python)) = (common::grid_reference(), common::python()) else {
        return;
    };
    for case in ["case14_ieee", "case57_ieee", "case1354_pegase"] {
        let path = dir.join(format!("pglib_opf_{case}.m"));
        let net = parse_case(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
        let set = common::full_set(&net, &flow, 1.0, 7);
        let options = EstimationOptions {
            bad_data: false,
            ..EstimationOptions::default()
        };
        let ours = estimate(&net, &set, &options).unwrap();
        assert!(ours.converged, "{case}");
        let file = std::env::temp_dir().join(format!(
            "platone-grid-se-{case}-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, common::measurement_file(&set)).unwrap();
        let reference = common::pandapower(
            &python,
            &["se", path.to_str().unwrap(), file.to_str().unwrap()],
        );
        let _ = std::fs::remove_file(&file);
        assert!(
            reference["converged"].as_bool().unwrap(),
            "{case}: pandapower estimate did not converge"
        );
        let buses: Vec<_> = ours.buses.iter().map(|b| (b.bus, b.vm, b.va)).collect();
        compare_buses(case, &buses, &reference, 1e-6, 1e-4);
    }
}

#[test]
fn q_limit_enforcement_matches_pandapower() {
    let (Some(dir), Some(python)) = (common::grid_reference(), common::python()) else {
        return;
    };
    // Limits bind on these cases: pandapower ends with generators of buses 2 and 3 (case14),
    // 2, 5 and 8 (case30) and five buses of case57 at a reactive limit.
    for case in ["case14_ieee", "case30_ieee", "case57_ieee"] {
        let path = dir.join(format!("pglib_opf_{case}.m"));
        let net = parse_case(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let options = PowerFlowOptions {
            enforce_q_limits: true,
            ..PowerFlowOptions::default()
        };
        let ours = run_ac(&net, &options).unwrap();
        assert!(ours.converged, "{case}");
        let reference = common::pandapower(
            &python,
            &["pf", path.to_str().unwrap(), "--enforce-q-limits"],
        );
        assert!(reference["converged"].as_bool().unwrap(), "{case}");
        let mut switched = ours.switched_to_pq.clone();
        switched.sort_unstable();
        let at_limit: Vec<u64> = reference["at_q_limit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .collect();
        assert!(!switched.is_empty(), "{case}: no limit binds");
        assert_eq!(switched, at_limit, "{case}: buses held at a Q limit");
        // Without enforcement the solution is a different one.
        let free = run_ac(&net, &PowerFlowOptions::default()).unwrap();
        assert!(
            free.buses
                .iter()
                .zip(&ours.buses)
                .any(|(a, b)| (a.vm - b.vm).abs() > 1e-4),
            "{case}: enforcing the limits changed nothing"
        );
        // The generators of switched buses sit at their limit.
        for &bus in &switched {
            let i = net.bus_index(bus).unwrap();
            let (qmin, qmax) = net
                .generators
                .iter()
                .filter(|g| g.in_service && g.bus == bus)
                .fold((0.0, 0.0), |(lo, hi), g| (lo + g.qmin, hi + g.qmax));
            let qg = ours.buses[i].q + net.buses[i].qd;
            assert!(
                (qg - qmin).abs() < 1e-6 || (qg - qmax).abs() < 1e-6,
                "{case} bus {bus}: Qg {qg} not at [{qmin}, {qmax}]"
            );
        }
        let buses: Vec<_> = ours.buses.iter().map(|b| (b.bus, b.vm, b.va)).collect();
        compare_buses(case, &buses, &reference, 1e-6, 1e-4);
    }
}

#[test]
fn current_magnitude_estimate_matches_pandapower_wls() {
    let (Some(dir), Some(python)) = (common::grid_reference(), common::python()) else {
        return;
    };
    for case in ["case14_ieee", "case57_ieee"] {
        let path = dir.join(format!("pglib_opf_{case}.m"));
        let net = parse_case(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
        let mut set = common::full_set(&net, &flow, 1.0, 5);
        let currents = common::line_currents(&net, &flow, 0.002, 1.0, 9);
        assert!(currents.len() > 10, "{case}");
        set.extend(currents);
        let options = EstimationOptions {
            bad_data: false,
            ..EstimationOptions::default()
        };
        let ours = estimate(&net, &set, &options).unwrap();
        assert!(ours.converged, "{case}");
        let file = std::env::temp_dir().join(format!(
            "platone-grid-se-im-{case}-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, common::measurement_file(&set)).unwrap();
        let reference = common::pandapower(
            &python,
            &["se", path.to_str().unwrap(), file.to_str().unwrap()],
        );
        let _ = std::fs::remove_file(&file);
        assert!(reference["converged"].as_bool().unwrap(), "{case}");
        let buses: Vec<_> = ours.buses.iter().map(|b| (b.bus, b.vm, b.va)).collect();
        compare_buses(case, &buses, &reference, 1e-6, 1e-4);
    }
}
