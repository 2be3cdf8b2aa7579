//! `platone grid`: power flow and state estimation on MATPOWER cases.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use platone_grid::{
    EstimationOptions, GridError, MarketNetwork, PowerFlowOptions, estimate, parse_case_bytes,
    parse_measurement_file, run_ac, run_dc,
};
use serde_json::json;

use crate::error::{CliError, CliResult};

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON document.
    Json,
}

/// Subcommands of `platone grid`.
#[derive(Debug, Subcommand)]
pub enum GridCommand {
    /// AC (Newton–Raphson) or DC power flow of a MATPOWER case, or DC power flow of a
    /// market scenario's network (a `.json` `platone-market-scenario/1` file).
    ///
    /// Prints `{"converged", "iterations", "buses": [{"bus", "vm", "va"}],
    /// "branches": [{"index", "pf", "qf", "pt", "qt"}]}` (p.u., degrees, MW, Mvar); for a
    /// market network buses and branches carry their `name`/`id` too.
    Pf {
        /// The MATPOWER case file (`.m`, version 2) or a market scenario (`.json`).
        case: PathBuf,
        /// Solve the DC power flow instead (the only one a market network supports).
        #[arg(long)]
        dc: bool,
        /// With a market scenario: the slot whose baseline injections to use (default: the
        /// first slot).
        #[arg(long)]
        slot: Option<String>,
        /// Switch PV buses whose generators leave their reactive limits to PQ.
        #[arg(long)]
        enforce_q_limits: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// WLS state estimation from a `platone-grid-measurements/1` file.
    ///
    /// Prints `{"converged", "iterations", "objective", "buses": [{"bus", "vm", "va"}],
    /// "bad_data": [{"index", "normalised_residual"}], "unobservable": [bus numbers]}`.
    Se {
        /// The MATPOWER case file.
        case: PathBuf,
        /// The measurement file.
        #[arg(long)]
        measurements: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
}

fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))
}

fn load_case(path: &Path) -> CliResult<platone_grid::Network> {
    parse_case_bytes(&read(path)?).map_err(|e| CliError::input(format!("{}:{e}", path.display())))
}

/// DC power flow on a market scenario's network, at one slot's baseline injections.
fn market_pf(
    path: &Path,
    dc: bool,
    slot: Option<&str>,
    enforce_q_limits: bool,
) -> CliResult<serde_json::Value> {
    let located = |e: GridError| CliError::input(format!("{}: {e}", path.display()));
    if !dc || enforce_q_limits {
        return Err(CliError::input(format!(
            "{}: a market network is a DC model (no resistance, no reactive data): use --dc",
            path.display()
        )));
    }
    let market = MarketNetwork::from_scenario_json(&read(path)?).map_err(located)?;
    let slot = match slot {
        Some(s) => s.to_string(),
        None => market.slots.first().cloned().ok_or_else(|| {
            CliError::input(format!("{}: the scenario has no slot", path.display()))
        })?,
    };
    let flow = run_dc(&market.baseline_network(&slot).map_err(located)?).map_err(located)?;
    Ok(json!({
        "converged": flow.converged,
        "iterations": flow.iterations,
        "slot": slot,
        "buses": flow.buses.iter().zip(&market.buses).map(|(b, name)| json!({"bus": b.bus, "name": name, "vm": b.vm, "va": b.va})).collect::<Vec<_>>(),
        "branches": flow.branches.iter().zip(&market.branch_ids).map(|(b, id)| json!({"index": b.index, "id": id, "pf": b.pf, "qf": b.qf, "pt": b.pt, "qt": b.qt})).collect::<Vec<_>>(),
    }))
}

/// Runs a `platone grid` subcommand.
pub fn run(command: GridCommand) -> CliResult {
    let out = match command {
        GridCommand::Pf {
            case,
            dc,
            slot,
            enforce_q_limits,
            format: Format::Json,
        } if case.extension().is_some_and(|e| e == "json") => {
            market_pf(&case, dc, slot.as_deref(), enforce_q_limits)?
        }
        GridCommand::Pf {
            case,
            dc,
            slot: _,
            enforce_q_limits,
            format: Format::Json,
        } => {
            let net = load_case(&case)?;
            let options = PowerFlowOptions {
                enforce_q_limits,
                ..PowerFlowOptions::default()
            };
            let flow = if dc {
                run_dc(&net)
            } else {
                run_ac(&net, &options)
            };
            let flow = flow.map_err(|e| CliError::input(format!("{}: {e}", case.display())))?;
            json!({
                "converged": flow.converged,
                "iterations": flow.iterations,
                "buses": flow.buses.iter().map(|b| json!({"bus": b.bus, "vm": b.vm, "va": b.va})).collect::<Vec<_>>(),
                "branches": flow.branches.iter().map(|b| json!({"index": b.index, "pf": b.pf, "qf": b.qf, "pt": b.pt, "qt": b.qt})).collect::<Vec<_>>(),
            })
        }
        GridCommand::Se {
            case,
            measurements,
            format: Format::Json,
        } => {
            let net = load_case(&case)?;
            let set = parse_measurement_file(&read(&measurements)?)
                .map_err(|e| CliError::input(format!("{}: {e}", measurements.display())))?;
            match estimate(&net, &set, &EstimationOptions::default()) {
                Ok(est) => json!({
                    "converged": est.converged,
                    "iterations": est.iterations,
                    "objective": est.objective,
                    "buses": est.buses.iter().map(|b| json!({"bus": b.bus, "vm": b.vm, "va": b.va})).collect::<Vec<_>>(),
                    "bad_data": est.bad_data.iter().map(|b| json!({"index": b.index, "normalised_residual": b.normalised_residual})).collect::<Vec<_>>(),
                    "unobservable": [],
                }),
                Err(GridError::Unobservable { buses }) => json!({
                    "converged": false, "iterations": 0, "objective": null, "buses": [], "bad_data": [],
                    "unobservable": buses,
                }),
                Err(e) => return Err(CliError::input(format!("{}: {e}", measurements.display()))),
            }
        }
    };
    println!("{out}");
    Ok(())
}
