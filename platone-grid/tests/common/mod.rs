//! Shared helpers of the integration tests: reference data, the Python peer, measurement sets.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use platone_grid::{GridMeasurement, Location, Network, PowerFlowResult, Quantity, Side};

/// The directory of the PGLib cases, or `None` (with a skip message; a failure under `CI`).
pub fn grid_reference() -> Option<PathBuf> {
    let base = std::env::var_os("PLATONE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference")
        });
    let dir = base.join("grid");
    if dir.join("pglib_opf_case14_ieee.m").exists() {
        return Some(dir);
    }
    let message = format!("reference cases not found in {}", dir.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// The Python interpreter with pandapower, or `None` (a failure under `CI`).
pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PLATONE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/platone-venv/bin/python")
        });
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "no Python with pandapower at {} (set PLATONE_PYTHON or run scripts/test)",
        path.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// Runs the pandapower peer script and parses its JSON output.
pub fn pandapower(python: &PathBuf, args: &[&str]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pandapower_ref.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(out.status.success(), "pandapower failed: …{tail}");
    serde_json::from_slice(&out.stdout).expect("pandapower JSON")
}

/// A deterministic pseudo-random number in [-1, 1).
pub fn noise(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// A fully measured set from a solved power flow: |V|, P and Q at every bus, P and Q flows at
/// the from end of every in-service branch; `noise` scales a uniform error of ±sigma.
pub fn full_set(
    net: &Network,
    flow: &PowerFlowResult,
    noise_scale: f64,
    seed: u64,
) -> Vec<GridMeasurement> {
    let mut seed = seed.max(1);
    let mut out = Vec::new();
    let mut push = |quantity, location, value: f64, sigma: f64, seed: &mut u64| {
        out.push(GridMeasurement {
            quantity,
            location,
            value: value + noise_scale * sigma * noise(seed),
            sigma,
        });
    };
    for b in &flow.buses {
        push(
            Quantity::VoltageMagnitude,
            Location::Bus(b.bus),
            b.vm,
            0.004,
            &mut seed,
        );
        push(
            Quantity::ActiveInjection,
            Location::Bus(b.bus),
            b.p,
            1.0,
            &mut seed,
        );
        push(
            Quantity::ReactiveInjection,
            Location::Bus(b.bus),
            b.q,
            1.0,
            &mut seed,
        );
    }
    for (br, f) in net.branches.iter().zip(&flow.branches) {
        if br.in_service {
            let at = Location::Branch {
                index: f.index,
                side: Side::From,
            };
            push(Quantity::ActiveFlow, at, f.pf, 0.5, &mut seed);
            push(Quantity::ReactiveFlow, at, f.qf, 0.5, &mut seed);
        }
    }
    out
}

/// The measurement file JSON of a set.
pub fn measurement_file(set: &[GridMeasurement]) -> String {
    let entries: Vec<serde_json::Value> = set
        .iter()
        .map(|m| {
            let kind = match m.quantity {
                Quantity::VoltageMagnitude => "vm",
                Quantity::VoltageAngle => "va",
                Quantity::ActiveInjection => "p",
                Quantity::ReactiveInjection => "q",
                Quantity::ActiveFlow => "pf",
                Quantity::ReactiveFlow => "qf",
                Quantity::CurrentMagnitude => "im",
                Quantity::CurrentAngle => "ia",
            };
            match m.location {
                Location::Bus(b) => serde_json::json!({"kind": kind, "bus": b, "value": m.value, "sigma": m.sigma}),
                Location::Branch { index, side } => serde_json::json!({"kind": kind, "branch": index,
                    "side": if side == Side::From { "from" } else { "to" }, "value": m.value, "sigma": m.sigma}),
            }
        })
        .collect();
    serde_json::json!({"format": "platone-grid-measurements/1", "measurements": entries})
        .to_string()
}

/// Current magnitudes (p.u. of the system base) at both ends of every in-service line (no tap,
/// no phase shift, one voltage level: the branches pandapower converts to lines), from a
/// solved power flow: `|I| = |S| / |V|`; `noise` scales a uniform error of ±sigma.
pub fn line_currents(
    net: &Network,
    flow: &PowerFlowResult,
    sigma: f64,
    noise_scale: f64,
    seed: u64,
) -> Vec<GridMeasurement> {
    let mut seed = seed.max(1);
    let mut out = Vec::new();
    for (br, f) in net.branches.iter().zip(&flow.branches) {
        let (a, b) = (
            net.bus_index(br.from).unwrap(),
            net.bus_index(br.to).unwrap(),
        );
        if !br.in_service
            || br.ratio != 0.0
            || br.shift != 0.0
            || net.buses[a].base_kv != net.buses[b].base_kv
        {
            continue;
        }
        for (side, p, q, bus) in [(Side::From, f.pf, f.qf, a), (Side::To, f.pt, f.qt, b)] {
            let im = (p * p + q * q).sqrt() / net.base_mva / flow.buses[bus].vm;
            out.push(GridMeasurement {
                quantity: Quantity::CurrentMagnitude,
                location: Location::Branch {
                    index: f.index,
                    side,
                },
                value: im + noise_scale * sigma * noise(&mut seed),
                sigma,
            });
        }
    }
    out
}
