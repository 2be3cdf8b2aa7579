//! `platone`: the command line of the Platone SDK.
//!
//! A thin layer over the library crates: each subcommand group parses its options, calls the
//! library and prints results. Errors print `error: …` on stderr; the exit code is 0 on success,
//! 1 for invalid input and 2 for wrong usage.
#![forbid(unsafe_code)]

mod error;
mod io;
mod measurements;
// Subcommand group modules, one line each.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliResult;

/// The Platone SDK command line: standard energy-data formats, certification, the flexibility
/// market, buses and the Shared Customer Database.
#[derive(Debug, Parser)]
#[command(name = "platone", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check Measurement JSON lines (the SDK's interchange form).
    #[command(subcommand)]
    Measurements(measurements::MeasurementsCommand),
    // Subcommand groups, one variant each.
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Measurements(c) => measurements::run(c),
        // Subcommand group dispatch, one arm each.
    }
}

fn main() -> ExitCode {
    // Usage errors (unknown option, missing argument) make clap print its message and exit 2.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
