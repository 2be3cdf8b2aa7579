//! `platone`: the command line of the Platone SDK.
//!
//! A thin layer over the library crates: each subcommand group parses its options, calls the
//! library and prints results. Errors print `error: …` on stderr; the exit code is 0 on success,
//! 1 for invalid input and 2 for wrong usage.
//!
//! The libraries' logs (warnings about retries, dead letters, forwarding failures…) go to
//! stderr, so stdout carries only data: filtered by `RUST_LOG` (default: `info` for the platone
//! crates, `warn` for the others), human-readable by default, one JSON object per line with
//! `--log-format json` or `PLATONE_LOG_FORMAT=json`.
#![forbid(unsafe_code)]

mod api_args;
mod bal;
mod bridge;
mod bridge_jsonld;
mod certify;
#[cfg(feature = "chain")]
mod chain;
mod cim;
mod demo;
#[cfg(feature = "chain")]
mod demo_chain;
mod demo_market;
mod demo_platform;
mod dsotp;
mod error;
mod grid;
mod io;
mod ledgers;
mod lightnode;
mod logging;
mod market;
mod market_serve;
mod measurements;
mod pmu;
mod saref;
mod scd;
mod signal;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliResult;

/// The BAL moves many small allocations between threads (measurements, proofs, deliveries);
/// mimalloc frees them without glibc's consolidation passes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Platone SDK command line: standard energy-data formats, certification, the flexibility
/// market, buses and the Shared Customer Database.
#[derive(Debug, Parser)]
#[command(name = "platone", version, propagate_version = true)]
struct Cli {
    /// How log lines on stderr look: `human` or `json` (one object per line). `RUST_LOG`
    /// filters them (default `warn,platone=info`).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "PLATONE_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check Measurement JSON lines (the SDK's interchange form).
    #[command(subcommand)]
    Measurements(measurements::MeasurementsCommand),
    /// IEC 61968-9 MeterReadings: parse to JSON lines, describe ReadingType codes, write XML.
    #[command(subcommand)]
    Cim(cim::CimCommand),
    /// IEEE C37.118.2 PMU frames: decode files and captures, connect to a PMU, simulate one.
    #[command(subcommand)]
    Pmu(pmu::PmuCommand),
    /// Certify JSON records in Merkle batches anchored in a file ledger.
    #[command(subcommand)]
    Certify(certify::CertifyCommand),
    /// Ethereum contracts: deploy, grant roles, the on-chain device registry.
    #[cfg(feature = "chain")]
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Verify records against their proofs and the ledger.
    Verify(certify::VerifyArgs),
    /// Device keys: generate, show the address, sign (EIP-191 / EIP-712), verify.
    #[command(subcommand)]
    Keys(certify::KeysCommand),
    /// The Shared Customer Database: import, query, archive and restore measurements.
    #[command(subcommand)]
    Scd(scd::ScdCommand),
    /// Flexibility market: clear scenarios, validate, settle results, generate scenarios.
    #[command(subcommand)]
    Market(market::MarketCommand),
    /// Power flow and state estimation on MATPOWER cases.
    #[command(subcommand)]
    Grid(grid::GridCommand),
    /// SAREF / SAREF4GRID / SARGON linked data: map readings to Turtle, N-Triples or JSON-LD,
    /// and read it back.
    #[command(subcommand)]
    Saref(saref::SarefCommand),
    /// Forward topics between two buses (MQTT, Kafka, memory), remapped like a mosquitto bridge.
    Bridge(bridge::BridgeArgs),
    /// Simulate field devices (PMUs, a DSO data server) publishing to a BAL's MQTT broker.
    Sim(sim::SimArgs),
    /// Run a Light Node's set-point side: set points for its PoD from the DSOTP's broker,
    /// acknowledged, and served to the EMS over HTTP (`GET /`) and Modbus TCP.
    Lightnode(Box<lightnode::LightNodeArgs>),
    /// Run the DSO Technical Platform: PMU power, time series, state estimation, market
    /// validation and set-point dispatch on a databus, with its REST API.
    Dsotp(Box<dsotp::DsotpArgs>),
    /// Run the Blockchain Access Layer: MQTT ingest, signatures, SCD, certification, REST API.
    Bal(Box<bal::BalArgs>),
    /// The BAL end to end on embedded defaults with simulated devices, then a report.
    Demo(demo::DemoArgs),
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Measurements(c) => measurements::run(c),
        Command::Cim(c) => cim::run(c),
        Command::Pmu(c) => pmu::run(c),
        Command::Certify(c) => certify::run(c),
        #[cfg(feature = "chain")]
        Command::Chain(c) => chain::run(c),
        Command::Verify(a) => certify::run_verify(a),
        Command::Keys(c) => certify::run_keys(c),
        Command::Scd(c) => scd::run(c),
        Command::Market(c) => market::run(c),
        Command::Grid(c) => grid::run(c),
        Command::Saref(c) => saref::run(c),
        Command::Bridge(a) => bridge::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Lightnode(a) => lightnode::run(*a),
        Command::Dsotp(a) => dsotp::run(*a),
        Command::Bal(a) => bal::run(*a),
        Command::Demo(a) => demo::run(a),
    }
}

fn main() -> ExitCode {
    // Usage errors (unknown option, missing argument) make clap print its message and exit 2.
    let cli = Cli::parse();
    if let Err(e) = logging::install(cli.log_format) {
        eprintln!("error: {e}");
        return ExitCode::from(e.exit_code());
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
