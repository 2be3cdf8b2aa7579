//! Property tests on random radial and meshed networks, and arbitrary case bytes.

mod common;

use platone_grid::{
    Branch, Bus, BusType, EstimationOptions, Generator, Network, PowerFlowOptions, estimate,
    parse_case_bytes, run_ac, run_dc,
};
use proptest::prelude::*;

/// A random network: a tree (each bus hangs on an earlier one) plus `extra` meshing branches.
fn network() -> impl Strategy<Value = Network> {
    (3usize..30, 0usize..10, any::<u64>()).prop_map(|(n, extra, seed)| {
        let mut s = seed | 1;
        let mut u = || (common::noise(&mut s) + 1.0) / 2.0;
        let buses = (0..n)
            .map(|i| Bus {
                number: (i as u64 + 1) * 3,
                kind: if i == 0 {
                    BusType::Slack
                } else if i % 7 == 3 {
                    BusType::Pv
                } else {
                    BusType::Pq
                },
                pd: if i == 0 { 0.0 } else { 5.0 + 20.0 * u() },
                qd: 5.0 * u(),
                gs: 0.0,
                bs: if i % 5 == 4 { 2.0 } else { 0.0 },
                area: 1.0,
                vm: 1.0,
                va: 0.0,
                base_kv: 20.0,
                zone: 1.0,
                vmax: 1.1,
                vmin: 0.9,
            })
            .collect::<Vec<_>>();
        let generators = buses
            .iter()
            .filter(|b| b.kind != BusType::Pq)
            .map(|b| Generator {
                bus: b.number,
                pg: if b.kind == BusType::Slack { 0.0 } else { 10.0 },
                qg: 0.0,
                qmax: 100.0,
                qmin: -100.0,
                vg: if b.kind == BusType::Slack { 1.02 } else { 1.0 },
                mbase: 100.0,
                in_service: true,
                pmax: 100.0,
                pmin: 0.0,
            })
            .collect();
        let mut branches = Vec::new();
        let line = |from: usize, to: usize, u: &mut dyn FnMut() -> f64| Branch {
            from: buses[from].number,
            to: buses[to].number,
            r: 0.002 + 0.01 * u(),
            x: 0.01 + 0.03 * u(),
            b: 0.01 * u(),
            rate_a: 0.0,
            rate_b: 0.0,
            rate_c: 0.0,
            ratio: if to % 4 == 2 { 0.97 + 0.06 * u() } else { 0.0 },
            shift: if to % 9 == 5 { 3.0 } else { 0.0 },
            in_service: true,
        };
        for i in 1..n {
            let parent = ((u() * i as f64) as usize).min(i - 1);
            branches.push(line(parent, i, &mut u));
        }
        for _ in 0..extra {
            let (a, b) = ((u() * n as f64) as usize % n, (u() * n as f64) as usize % n);
            if a != b {
                branches.push(line(a, b, &mut u));
            }
        }
        Network::new(100.0, buses, generators, branches).expect("valid network")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Power balance: injections equal the sum of branch flows at every bus, and the slack
    /// covers load plus losses.
    #[test]
    fn power_flow_balances(net in network()) {
        let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
        prop_assert!(flow.converged);
        let mut sum = vec![(0.0, 0.0); net.buses.len()];
        for (br, f) in net.branches.iter().zip(&flow.branches) {
            let (a, b) = (net.bus_index(br.from).unwrap(), net.bus_index(br.to).unwrap());
            sum[a].0 += f.pf; sum[a].1 += f.qf;
            sum[b].0 += f.pt; sum[b].1 += f.qt;
        }
        for (i, bus) in flow.buses.iter().enumerate() {
            let shunt_q = net.buses[i].bs * bus.vm * bus.vm;
            prop_assert!((bus.p - sum[i].0).abs() < 1e-6, "bus {} p {} vs {}", bus.bus, bus.p, sum[i].0);
            prop_assert!((bus.q + shunt_q - sum[i].1).abs() < 1e-6, "bus {} q", bus.bus);
        }
        let dc = run_dc(&net).unwrap();
        prop_assert!(dc.converged);
    }

    /// Noise-free measurements give back the power-flow state.
    #[test]
    fn estimation_recovers_the_state(net in network()) {
        let flow = run_ac(&net, &PowerFlowOptions { tolerance: 1e-12, ..PowerFlowOptions::default() }).unwrap();
        let set = common::full_set(&net, &flow, 0.0, 3);
        let est = estimate(&net, &set, &EstimationOptions::default()).unwrap();
        prop_assert!(est.converged);
        for (e, t) in est.buses.iter().zip(&flow.buses) {
            prop_assert!((e.vm - t.vm).abs() < 1e-8);
            prop_assert!((e.va - t.va).to_radians().abs() < 1e-8);
        }
    }

    /// The case reader returns a value or an error for any bytes, never panics.
    #[test]
    fn arbitrary_case_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_case_bytes(&bytes);
    }

    /// Nor for mutations of a valid case.
    #[test]
    fn mutated_cases_do_not_panic(position in 0usize..400, byte in any::<u8>()) {
        let mut case = b"mpc.baseMVA = 100;\nmpc.bus = [1 3 0 0 0 0 1 1 0 230 1 1.1 0.9; 2 1 50 10 0 0 1 1 0 230 1 1.1 0.9];\nmpc.gen = [1 0 0 100 -100 1.02 100 1 200 0];\nmpc.branch = [1 2 0.01 0.1 0.02 100 100 100 0 0 1 -360 360];\n".to_vec();
        let p = position % case.len();
        case[p] = byte;
        if let Ok(net) = parse_case_bytes(&case) {
            let _ = run_ac(&net, &PowerFlowOptions::default());
            let _ = run_dc(&net);
        }
    }
}
