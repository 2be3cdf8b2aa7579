//! Times power flow and state estimation (model build included) on a MATPOWER case, with the
//! measurement set of `benches/benches/grid.rs`, and splits the time into its stages; a
//! target for `perf record` too. The criterion figures are the reference ones.
//!
//! ```text
//! cargo run --release -p platone-grid --example grid_timing -- CASE.m [RUNS] [all|pf|se]
//! ```
//!
//! With `pf` or `se` only that stage (with the case read) is repeated, so that the process's
//! CPU time (`/usr/bin/time`) divided by the runs is its cost.

use std::time::{Duration, Instant};

use platone_grid::{
    EstimationOptions, GridMeasurement, Location, PowerFlowOptions, Quantity, Side, Start,
    estimate, parse_case, run_ac,
};

/// |V|, P, Q at every bus and P, Q at the from end of every branch, ±1 σ of noise.
fn measurements(net: &platone_grid::Network) -> Result<Vec<GridMeasurement>, String> {
    // The solved power flow, or, where the case's dispatch has none (case10000_goc), the
    // case's own voltages: measurements consistent with one state either way.
    let mut flow = run_ac(net, &pf_options()).map_err(|e| e.to_string())?;
    if !flow.converged {
        let at_case_state = PowerFlowOptions {
            max_iterations: 0,
            ..PowerFlowOptions::default()
        };
        flow = run_ac(net, &at_case_state).map_err(|e| e.to_string())?;
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
    Ok(set)
}

/// The power-flow options; `GRID_START=dc|flat` changes the start, `GRID_MAX_IT` the limit.
fn pf_options() -> PowerFlowOptions {
    let start = match std::env::var("GRID_START").as_deref() {
        Ok("dc") => Start::Dc,
        Ok("flat") => Start::Flat,
        _ => Start::Case,
    };
    let max_iterations = std::env::var("GRID_MAX_IT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    PowerFlowOptions {
        start,
        max_iterations,
        ..PowerFlowOptions::default()
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: grid_timing CASE.m [RUNS]")?;
    let runs: usize = args
        .next()
        .map_or(Ok(10), |r| r.parse())
        .map_err(|e| format!("{e}"))?;
    let stage = args.next().unwrap_or_else(|| "all".into());
    let (do_pf, do_se) = (stage != "se", stage != "pf");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let net = parse_case(&text).map_err(|e| e.to_string())?;
    let set = measurements(&net)?;
    let options = EstimationOptions {
        bad_data: false,
        ..EstimationOptions::default()
    };
    let (mut read, mut pf, mut se) = (Vec::new(), Vec::new(), Vec::new());
    let mut iterations = (0, 0);
    let mut converged = (true, true);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let net = parse_case(&text).map_err(|e| e.to_string())?;
        read.push(t.elapsed());
        if do_pf {
            let t = Instant::now();
            let flow = run_ac(&net, &pf_options()).map_err(|e| e.to_string())?;
            pf.push(t.elapsed());
            iterations.0 = flow.iterations;
            converged.0 = flow.converged;
        }
        if do_se {
            let t = Instant::now();
            let est = estimate(&net, &set, &options).map_err(|e| e.to_string())?;
            se.push(t.elapsed());
            iterations.1 = est.iterations;
            converged.1 = est.converged;
        }
    }
    println!(
        "{path}: {} buses, {} branches, {} measurements",
        net.buses.len(),
        net.branches.len(),
        set.len()
    );
    println!(
        "read case        {:>10.3?} (median of {runs})",
        median(read)
    );
    println!(
        "power flow       {:>10.3?} ({} Newton iterations, converged {})",
        median(pf),
        iterations.0,
        converged.0
    );
    println!(
        "state estimation {:>10.3?} ({} Gauss-Newton iterations, converged {})",
        median(se),
        iterations.1,
        converged.1
    );
    Ok(())
}
