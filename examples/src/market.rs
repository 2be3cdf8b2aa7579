//! `platone market`: clear flexibility-market scenarios, validate results (re-clear or keep what
//! remains), settle results, generate scenarios.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use platone_market::clearing::{
    ClearingAlgorithm, ClearingConfig, ClearingResult, Continuous, Coordination, DsoFirst, Optimal,
    PayAsBid, PayAsClear, SolverBackend,
};
use platone_market::generate::{GeneratorConfig, generate};
use platone_market::settlement::{MeterReading, PenaltyRule, settle_result};
use platone_market::validation::{
    AfterValidation, Cut, LineLoadingValidator, Verdict, validate_result,
};
use platone_market::{LocationRule, Scenario};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// The clearing algorithms.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgorithmName {
    /// Merit order, each offer paid its price.
    PayAsBid,
    /// Merit order, uniform price per slot and direction.
    PayAsClear,
    /// DSO requests first in their area, then TSO requests.
    DsoFirst,
    /// Welfare-maximising MILP.
    Optimal,
    /// First come, first served in arrival order.
    Continuous,
}

/// MILP solvers for `optimal`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SolverName {
    /// Pure-Rust microlp.
    Microlp,
    /// HiGHS (needs the `highs` feature).
    Highs,
}

/// Location rules: which offers a local (DSO or role-less) request may take.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LocationRuleName {
    /// Offers at the request's own location only.
    SameBus,
    /// Offers anywhere (a copper plate without a network; the branch limits decide with one).
    Any,
    /// Offers within `--area-hops` branches of the request's bus (own location without a
    /// network).
    Area,
}

/// TSO–DSO coordination schemes for `dso-first`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CoordinationName {
    /// DSO first, TSO with what remains (the Platone rule).
    Local,
    /// One joint merit order.
    Common,
    /// TSO first, except from vetoed locations.
    TsoWithDsoVeto,
}

/// Options of the clearing algorithms.
#[derive(Debug, Args)]
pub struct AlgorithmOptions {
    /// Seed of the tie-breaking hash.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// MILP solver for `optimal` (default: highs when built with it, else microlp).
    #[arg(long, value_enum)]
    solver: Option<SolverName>,
    /// `dso-first`: coordination scheme.
    #[arg(long, value_enum, default_value = "local")]
    coordination: CoordinationName,
    /// Which offers a local (DSO or role-less) request may take: same-bus, any or area
    /// (default: the scenario's `location_rule`, else any; area for dso-first with a network).
    #[arg(long, value_enum)]
    location_rule: Option<LocationRuleName>,
    /// Area radius in branch hops around a local request's bus (location rule `area`).
    #[arg(long, default_value_t = 0)]
    area_hops: usize,
    /// `dso-first`: extra in-area reserve as a fraction of each DSO request's quantity.
    #[arg(long, default_value_t = 0.0)]
    reliability_margin: f64,
    /// `dso-first --coordination tso-with-dso-veto`: a location the DSO vetoes (repeatable).
    #[arg(long)]
    veto: Vec<String>,
}

/// Subcommands of `platone market`.
#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Serve the Market Platform: sessions, order intake, clearing at gate closure,
    /// validation, registration of results and awards (REST over HTTPS with OAuth 2.0 tokens;
    /// see docs/market-platform.md).
    Serve(Box<crate::market_serve::ServeArgs>),
    /// Clear a `platone-market-scenario/1` file and write the result JSON.
    ///
    /// The result is `{algorithm, location_rule, welfare, volume, accepted_offers: [{id,
    /// quantity}], accepted_requests: [{id, quantity}], matches: [...], prices: {...},
    /// diagnostics: {rejected_blocks, unbalanceable_blocks, notes}, solve_ms}`. A block no
    /// request can balance is a diagnostic, not an error.
    Clear {
        /// The scenario file, or `-` for standard input.
        scenario: PathBuf,
        /// The clearing algorithm.
        #[arg(long, value_enum)]
        algorithm: AlgorithmName,
        /// Where to write the result (standard output if absent).
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        options: AlgorithmOptions,
    },
    /// Technical validation of a result by the DSO, then re-clear or keep what remains.
    ///
    /// Every accepted order gets green / amber / red from the DC line loading (with the
    /// scenario's network) and the per-area limits. Red orders are removed (or curtailed with
    /// `--curtail`); then `--reclear` clears the book again without them, `--no-reclear` keeps
    /// the remaining accepted orders (counterparts lose their matches, blocks go as a whole;
    /// welfare, prices and matches recomputed). Repeats until no red remains. Writes the
    /// validated result in the `clear` format.
    #[command(group = clap::ArgGroup::new("after").required(true).args(["reclear", "no_reclear"]))]
    Validate {
        /// The scenario file, or `-` for standard input.
        scenario: PathBuf,
        /// The result file written by `platone market clear`.
        #[arg(long)]
        result: PathBuf,
        /// Clear the book again without the rejected orders.
        #[arg(long)]
        reclear: bool,
        /// Keep the remaining accepted orders; nothing new is accepted.
        #[arg(long)]
        no_reclear: bool,
        /// The algorithm that re-clears or prunes (default: the one named in the result).
        #[arg(long, value_enum)]
        algorithm: Option<AlgorithmName>,
        #[command(flatten)]
        options: AlgorithmOptions,
        /// Largest accepted offer quantity at a location in one slot, `LOCATION=QUANTITY`
        /// (repeatable).
        #[arg(long, value_parser = parse_area_limit)]
        area_limit: Vec<(String, f64)>,
        /// Curtail the offers of an area over its limit instead of removing them.
        #[arg(long)]
        curtail: bool,
        /// Branch loading (fraction of the limit) from which orders get amber.
        #[arg(long, default_value_t = 0.9)]
        amber_loading: f64,
        /// Most validation rounds before giving up (exit 1).
        #[arg(long, default_value_t = 5)]
        max_rounds: usize,
        /// Where to write the verdicts of every round and the cuts applied (JSON).
        #[arg(long)]
        verdicts: Option<PathBuf>,
        /// Where to write the validated result (standard output if absent).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Settle a clearing result against metered data (USEF one-sided settlement).
    ///
    /// The metered file is CSV with the header `order,baseline,actual` or a JSON array of
    /// `{"order", "baseline", "actual"}`, one entry per accepted offer. Writes
    /// `{orders: [...], total}`.
    Settle {
        /// The scenario file.
        scenario: PathBuf,
        /// The result file written by `platone market clear`.
        #[arg(long)]
        result: PathBuf,
        /// Metered data, CSV or JSON (by extension; `.json` is JSON, anything else CSV).
        #[arg(long)]
        metered: PathBuf,
        /// Penalty per unit of deficiency (default: the order's cleared price).
        #[arg(long)]
        penalty_price: Option<f64>,
        /// Where to write the settlement (standard output if absent).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Generate a synthetic scenario.
    Generate {
        /// Number of offers.
        #[arg(long)]
        offers: usize,
        /// Number of requests.
        #[arg(long)]
        requests: usize,
        /// Number of slots.
        #[arg(long)]
        slots: usize,
        /// A random radial network, `radial:N` with N buses.
        #[arg(long, value_parser = parse_network)]
        network: Option<usize>,
        /// Seed.
        #[arg(long)]
        seed: u64,
        /// Share of offers generated as two-slot rebound blocks.
        #[arg(long, default_value_t = 0.1)]
        block_fraction: f64,
        /// Where to write the scenario (standard output if absent).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn parse_network(text: &str) -> Result<usize, String> {
    let n = text
        .strip_prefix("radial:")
        .ok_or_else(|| format!("expected radial:N, got {text:?}"))?;
    let n: usize = n.parse().map_err(|e| format!("radial:N: {e}"))?;
    if n < 2 {
        return Err("a radial network needs at least 2 buses".into());
    }
    Ok(n)
}

fn parse_area_limit(text: &str) -> Result<(String, f64), String> {
    let (location, quantity) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("expected LOCATION=QUANTITY, got {text:?}"))?;
    let quantity: f64 = quantity
        .parse()
        .map_err(|e| format!("{text:?}: quantity: {e}"))?;
    if location.is_empty() || !(quantity.is_finite() && quantity >= 0.0) {
        return Err(format!(
            "{text:?}: expected a location and a finite quantity >= 0"
        ));
    }
    Ok((location.to_string(), quantity))
}

/// The algorithm `name` with `options`.
fn algorithm(name: AlgorithmName, options: AlgorithmOptions) -> Box<dyn ClearingAlgorithm> {
    let config = ClearingConfig {
        seed: options.seed,
        location_rule: options.location_rule.map(|r| match r {
            LocationRuleName::SameBus => LocationRule::SameBus,
            LocationRuleName::Any => LocationRule::Any,
            LocationRuleName::Area => LocationRule::Area,
        }),
        area_hops: options.area_hops,
        ..ClearingConfig::default()
    };
    match name {
        AlgorithmName::PayAsBid => Box::new(PayAsBid { config }),
        AlgorithmName::PayAsClear => Box::new(PayAsClear { config }),
        AlgorithmName::Continuous => Box::new(Continuous { config }),
        AlgorithmName::Optimal => Box::new(Optimal {
            config,
            backend: match options.solver {
                None => SolverBackend::default(),
                Some(SolverName::Microlp) => SolverBackend::MicroLp,
                Some(SolverName::Highs) => SolverBackend::Highs,
            },
        }),
        AlgorithmName::DsoFirst => Box::new(DsoFirst {
            config,
            coordination: match options.coordination {
                CoordinationName::Local => Coordination::Local,
                CoordinationName::Common => Coordination::Common,
                CoordinationName::TsoWithDsoVeto => Coordination::TsoWithDsoVeto {
                    vetoed: options.veto.into_iter().collect::<HashSet<_>>(),
                },
            },
            reliability_margin: options.reliability_margin,
        }),
    }
}

/// Runs a `platone market` subcommand.
pub fn run(command: MarketCommand) -> CliResult {
    match command {
        MarketCommand::Serve(args) => crate::market_serve::run(*args),
        MarketCommand::Clear {
            scenario,
            algorithm: name,
            output,
            options,
        } => {
            let s = read_scenario(&scenario)?;
            let result = algorithm(name, options)
                .clear(&s)
                .map_err(|e| CliError::input(format!("{}: {e}", scenario.display())))?;
            write_json(output.as_deref(), &result)
        }
        MarketCommand::Validate {
            scenario,
            result,
            reclear,
            no_reclear: _,
            algorithm: name,
            options,
            area_limit,
            curtail,
            amber_loading,
            max_rounds,
            verdicts,
            output,
        } => {
            if !(amber_loading.is_finite() && amber_loading > 0.0) {
                return Err(CliError::input(format!(
                    "--amber-loading {amber_loading} must be finite and > 0"
                )));
            }
            let s = read_scenario(&scenario)?;
            let r = ClearingResult::from_json(&read_text(&result)?)
                .map_err(|e| CliError::input(format!("{}: {e}", result.display())))?;
            let name = match name {
                Some(n) => n,
                None => AlgorithmName::from_str(&r.algorithm, false).map_err(|_| {
                    CliError::input(format!(
                        "{}: the result's algorithm {:?} is not a provided one; pass --algorithm",
                        result.display(),
                        r.algorithm
                    ))
                })?,
            };
            let validator = LineLoadingValidator {
                amber_loading,
                area_limits: area_limit.into_iter().collect(),
                curtail_areas: curtail,
                ..LineLoadingValidator::default()
            };
            let after = if reclear {
                AfterValidation::Reclear
            } else {
                AfterValidation::Keep
            };
            let outcome = validate_result(
                &s,
                r,
                &validator,
                algorithm(name, options).as_ref(),
                after,
                max_rounds,
            )
            .map_err(|e| CliError::input(format!("{}: {e}", result.display())))?;
            if let Some(path) = verdicts {
                #[derive(Serialize)]
                struct Report<'a> {
                    after: AfterValidation,
                    rounds: &'a [Vec<Verdict>],
                    cuts: &'a [Cut],
                }
                write_json(
                    Some(&path),
                    &Report {
                        after,
                        rounds: &outcome.rounds,
                        cuts: &outcome.cuts,
                    },
                )?;
            }
            write_json(output.as_deref(), &outcome.result)
        }
        MarketCommand::Settle {
            scenario,
            result,
            metered,
            penalty_price,
            output,
        } => {
            let s = read_scenario(&scenario)?;
            let r = ClearingResult::from_json(&read_text(&result)?)
                .map_err(|e| CliError::input(format!("{}: {e}", result.display())))?;
            let readings = read_metered(&metered)?;
            let penalty = match penalty_price {
                Some(p) if p.is_finite() && p >= 0.0 => PenaltyRule::Fixed(p),
                Some(p) => {
                    return Err(CliError::input(format!(
                        "--penalty-price {p} must be finite and >= 0"
                    )));
                }
                None => PenaltyRule::PriceFactor(1.0),
            };
            let orders = settle_result(&s, &r, &readings, penalty)
                .map_err(|e| CliError::input(format!("{}: {e}", metered.display())))?;
            #[derive(Serialize)]
            struct Out<T> {
                orders: T,
                total: f64,
            }
            let total = orders.iter().map(|o| o.settlement).sum();
            write_json(output.as_deref(), &Out { orders, total })
        }
        MarketCommand::Generate {
            offers,
            requests,
            slots,
            network,
            seed,
            block_fraction,
            output,
        } => {
            let s = generate(&GeneratorConfig {
                offers,
                requests,
                slots,
                network,
                seed,
                block_fraction,
                ..GeneratorConfig::default()
            })
            .map_err(CliError::input)?;
            let mut out = open_output(output.as_deref())?;
            writeln!(out, "{}", s.to_json()).map_err(write_failed)?;
            out.flush().map_err(write_failed)
        }
    }
}

fn read_text(path: &Path) -> CliResult<String> {
    let mut text = String::new();
    open_input(path)?
        .read_to_string(&mut text)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    Ok(text)
}

fn read_scenario(path: &Path) -> CliResult<Scenario> {
    Scenario::from_json(&read_text(path)?)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn read_metered(path: &Path) -> CliResult<Vec<MeterReading>> {
    let text = read_text(path)?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text)
            .map_err(|e| CliError::input(format!("{}: {e}", path.display())));
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim() == "order,baseline,actual" => {}
        _ => {
            return Err(CliError::input(format!(
                "{}:1: expected the header order,baseline,actual",
                path.display()
            )));
        }
    }
    lines
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |m: &str| CliError::input(format!("{}:{}: {m}", path.display(), i + 1));
            let [order, baseline, actual] = cells[..] else {
                return Err(bad("expected 3 columns: order,baseline,actual"));
            };
            Ok(MeterReading {
                order: order.to_string(),
                baseline: baseline
                    .parse()
                    .map_err(|_| bad("baseline is not a number"))?,
                actual: actual.parse().map_err(|_| bad("actual is not a number"))?,
            })
        })
        .collect()
}

fn write_json<T: Serialize>(output: Option<&Path>, value: &T) -> CliResult {
    let mut out = open_output(output)?;
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
    writeln!(out).map_err(write_failed)?;
    out.flush().map_err(write_failed)
}
