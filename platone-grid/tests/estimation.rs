//! State estimation: exact recovery, observability, bad data.

mod common;

use platone_grid::{
    EstimationOptions, GridError, GridMeasurement, Location, PowerFlowOptions, Quantity, Side,
    estimate, parse_case, run_ac,
};

fn case(name: &str) -> Option<platone_grid::Network> {
    let dir = common::grid_reference()?;
    Some(
        parse_case(&std::fs::read_to_string(dir.join(format!("pglib_opf_{name}.m"))).unwrap())
            .unwrap(),
    )
}

#[test]
fn noise_free_measurements_give_the_true_state() {
    for name in ["case14_ieee", "case57_ieee", "case1354_pegase"] {
        let Some(net) = case(name) else { return };
        let flow = run_ac(
            &net,
            &PowerFlowOptions {
                tolerance: 1e-12,
                ..PowerFlowOptions::default()
            },
        )
        .unwrap();
        let set = common::full_set(&net, &flow, 0.0, 1);
        let est = estimate(&net, &set, &EstimationOptions::default()).unwrap();
        assert!(est.converged && est.bad_data.is_empty(), "{name}");
        for (e, t) in est.buses.iter().zip(&flow.buses) {
            assert!(
                (e.vm - t.vm).abs() < 1e-8,
                "{name} bus {}: {} vs {}",
                e.bus,
                e.vm,
                t.vm
            );
            assert!(
                (e.va - t.va).to_radians().abs() < 1e-8,
                "{name} bus {}: {} vs {}",
                e.bus,
                e.va,
                t.va
            );
        }
    }
}

#[test]
fn current_magnitudes_give_the_true_state_noise_free() {
    for name in ["case14_ieee", "case57_ieee", "case1354_pegase"] {
        let Some(net) = case(name) else { return };
        let flow = run_ac(
            &net,
            &PowerFlowOptions {
                tolerance: 1e-12,
                ..PowerFlowOptions::default()
            },
        )
        .unwrap();
        // The full set and current magnitudes at both ends of every line, all exact: the
        // currents must leave J = 0. (Without reactive measurements, |I| alone makes the
        // problem non-convex: from a flat start Gauss–Newton may stop in another minimum.)
        let mut set = common::full_set(&net, &flow, 0.0, 1);
        let currents = common::line_currents(&net, &flow, 1e-3, 0.0, 1);
        assert!(currents.len() > 10, "{name}");
        set.extend(currents);
        let est = estimate(&net, &set, &EstimationOptions::default()).unwrap();
        assert!(est.converged && est.bad_data.is_empty(), "{name}");
        assert!(est.objective < 1e-12, "{name}: J = {}", est.objective);
        for (e, t) in est.buses.iter().zip(&flow.buses) {
            assert!((e.vm - t.vm).abs() < 1e-8, "{name} bus {}", e.bus);
            assert!(
                (e.va - t.va).to_radians().abs() < 1e-8,
                "{name} bus {}",
                e.bus
            );
        }
        // The currents are not ignored: one of them off by 2 % leaves a residual.
        let k = set
            .iter()
            .position(|m| m.quantity == Quantity::CurrentMagnitude)
            .unwrap();
        set[k].value *= 1.02;
        let off = estimate(
            &net,
            &set,
            &EstimationOptions {
                bad_data: false,
                ..EstimationOptions::default()
            },
        )
        .unwrap();
        assert!(off.objective > 1e-6, "{name}: J = {}", off.objective);
    }
}

#[test]
fn pmu_angles_are_the_reference_and_currents_count() {
    let Some(net) = case("case14_ieee") else {
        return;
    };
    let flow = run_ac(
        &net,
        &PowerFlowOptions {
            tolerance: 1e-12,
            ..PowerFlowOptions::default()
        },
    )
    .unwrap();
    let mut set = common::full_set(&net, &flow, 0.0, 1);
    // Shift every angle by 10°: PMUs are the reference now, not the slack bus.
    for b in &flow.buses {
        set.push(GridMeasurement {
            quantity: Quantity::VoltageAngle,
            location: Location::Bus(b.bus),
            value: b.va + 10.0,
            sigma: 0.01,
        });
    }
    // PMU current phasors at both ends of every line, shifted by the same 10°:
    // arg(I) = arg(V) − arg(S) at the measured end.
    for m in common::line_currents(&net, &flow, 1e-3, 0.0, 1) {
        let Location::Branch { index, side } = m.location else {
            continue;
        };
        let (br, f) = (&net.branches[index - 1], &flow.branches[index - 1]);
        let (bus, p, q) = match side {
            Side::From => (br.from, f.pf, f.qf),
            Side::To => (br.to, f.pt, f.qt),
        };
        let va = flow.buses[net.bus_index(bus).unwrap()].va;
        set.push(GridMeasurement {
            quantity: Quantity::CurrentAngle,
            location: m.location,
            value: va - q.atan2(p).to_degrees() + 10.0,
            sigma: 0.01,
        });
        set.push(m);
    }
    let est = estimate(
        &net,
        &set,
        &EstimationOptions {
            bad_data: false,
            ..EstimationOptions::default()
        },
    )
    .unwrap();
    assert!(est.converged);
    assert!(est.objective < 1e-10, "J = {}", est.objective);
    // Flows and injections say the angle differences; PMUs add 10° everywhere.
    for (e, t) in est.buses.iter().zip(&flow.buses) {
        assert!(
            (e.va - t.va - 10.0).abs() < 1e-6,
            "bus {}: {} vs {}",
            e.bus,
            e.va,
            t.va + 10.0
        );
    }
}

#[test]
fn a_thin_set_names_the_unobservable_buses() {
    let Some(net) = case("case14_ieee") else {
        return;
    };
    let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
    // No measurement on the branches of buses 13 and 14 (6-13, 12-13, 13-14, 9-14), no
    // injection at them or at their neighbours 6, 9 and 12.
    let set: Vec<GridMeasurement> = common::full_set(&net, &flow, 0.0, 1)
        .into_iter()
        .filter(|m| match m.location {
            Location::Bus(b) => ![6, 9, 12, 13, 14].contains(&b),
            Location::Branch { index, .. } => {
                let br = &net.branches[index - 1];
                ![br.from, br.to].iter().any(|b| *b == 13 || *b == 14)
            }
        })
        .collect();
    match estimate(&net, &set, &EstimationOptions::default()) {
        Err(GridError::Unobservable { buses }) => assert_eq!(buses, vec![13, 14]),
        other => panic!("expected unobservable buses, got {other:?}"),
    }
}

#[test]
fn a_gross_error_is_found_and_removed() {
    let Some(net) = case("case30_ieee") else {
        return;
    };
    let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
    let mut set = common::full_set(&net, &flow, 0.5, 11);
    let bad = set
        .iter()
        .position(|m| {
            m.quantity == Quantity::ActiveFlow
                && m.location
                    == Location::Branch {
                        index: 10,
                        side: Side::From,
                    }
        })
        .unwrap();
    set[bad].value += 25.0; // 50 sigma
    let est = estimate(&net, &set, &EstimationOptions::default()).unwrap();
    assert_eq!(est.bad_data.len(), 1, "{:?}", est.bad_data);
    assert_eq!(est.bad_data[0].index, bad);
    assert!(est.bad_data[0].normalised_residual > 10.0);
    assert!(est.objective < est.chi_square_threshold);
    for (e, t) in est.buses.iter().zip(&flow.buses) {
        assert!((e.vm - t.vm).abs() < 5e-3, "bus {}", e.bus);
    }
}
