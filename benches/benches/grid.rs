//! platone-grid: AC power flow and WLS state estimation on the PGLib cases, model build
//! (reading the case file) included. Peer: `benches/peers/grid_pandapower.py`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use platone_grid::{
    EstimationOptions, GridMeasurement, Location, PowerFlowOptions, Quantity, Side, estimate,
    parse_case, run_ac,
};

fn case_text(name: &str) -> Option<String> {
    let base = std::env::var_os("PLATONE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference")
        });
    let path = base.join("grid").join(format!("pglib_opf_{name}.m"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            eprintln!("skipped: {}: {e}", path.display());
            None
        }
    }
}

/// |V|, P, Q at every bus and P, Q at the from end of every branch, with ±1 sigma of
/// deterministic noise: the set `grid_pandapower.py` builds too.
fn measurements(text: &str) -> Vec<GridMeasurement> {
    let net = parse_case(text).expect("case");
    // The solved power flow, or, where the case's dispatch has none (case10000_goc: neither
    // pandapower nor we converge), the case's own voltages: consistent measurements either way.
    let mut flow = run_ac(&net, &PowerFlowOptions::default()).expect("power flow");
    if !flow.converged {
        let at_case_state = PowerFlowOptions {
            max_iterations: 0,
            ..PowerFlowOptions::default()
        };
        flow = run_ac(&net, &at_case_state).expect("the case state");
    }
    let mut seed = 7u64;
    let mut noise = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut set = Vec::new();
    for b in &flow.buses {
        for (quantity, value, sigma) in [
            (Quantity::VoltageMagnitude, b.vm, 0.004),
            (Quantity::ActiveInjection, b.p, 1.0),
            (Quantity::ReactiveInjection, b.q, 1.0),
        ] {
            set.push(GridMeasurement {
                quantity,
                location: Location::Bus(b.bus),
                value: value + sigma * noise(),
                sigma,
            });
        }
    }
    for (br, f) in net.branches.iter().zip(&flow.branches) {
        if br.in_service {
            let location = Location::Branch {
                index: f.index,
                side: Side::From,
            };
            for (quantity, value) in [(Quantity::ActiveFlow, f.pf), (Quantity::ReactiveFlow, f.qf)]
            {
                set.push(GridMeasurement {
                    quantity,
                    location,
                    value: value + 0.5 * noise(),
                    sigma: 0.5,
                });
            }
        }
    }
    set
}

fn power_flow(c: &mut Criterion) {
    // Not case10000_goc: its stored dispatch has no AC solution (pandapower does not converge
    // either), so a timing would time ten failed iterations.
    let name = "case1354_pegase";
    let Some(text) = case_text(name) else { return };
    c.bench_function(&format!("grid/pf/{name} (read + solve)"), |b| {
        b.iter(|| {
            let net = parse_case(black_box(&text)).expect("case");
            run_ac(&net, &PowerFlowOptions::default()).expect("power flow")
        })
    });
}

fn state_estimation(c: &mut Criterion) {
    let mut group = c.benchmark_group("grid/se");
    group.sample_size(10);
    for name in ["case1354_pegase", "case10000_goc"] {
        let Some(text) = case_text(name) else { return };
        let set = measurements(&text);
        let options = EstimationOptions {
            bad_data: false,
            ..EstimationOptions::default()
        };
        group.bench_function(format!("{name} (read + estimate)"), |b| {
            b.iter(|| {
                let net = parse_case(black_box(&text)).expect("case");
                estimate(&net, black_box(&set), &options).expect("estimate")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, power_flow, state_estimation);
criterion_main!(benches);
