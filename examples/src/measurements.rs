//! `platone measurements`: tools for the SDK's `Measurement` JSON interchange form.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Subcommand;
use platone_model::Measurement;

use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// Subcommands of `platone measurements`.
#[derive(Debug, Subcommand)]
pub enum MeasurementsCommand {
    /// Validate Measurement JSON lines and print each one's series key.
    ///
    /// Reads one `Measurement` JSON object per line (blank lines skipped). Prints
    /// `LINE<TAB>SERIES-KEY<TAB>TIMESTAMP` for every valid line; every invalid line is reported
    /// on stderr as `error: FILE:LINE: message`. Exit code 1 if any line was invalid.
    Check {
        /// The JSON-lines file, or `-` for standard input.
        file: PathBuf,
        /// Print only the summary.
        #[arg(long)]
        quiet: bool,
    },
}

/// Runs a `platone measurements` subcommand.
pub fn run(command: MeasurementsCommand) -> CliResult {
    match command {
        MeasurementsCommand::Check { file, quiet } => check(&file, quiet),
    }
}

fn check(file: &std::path::Path, quiet: bool) -> CliResult {
    let input = open_input(file)?;
    let mut out = open_output(None)?;
    let (mut valid, mut invalid) = (0u64, 0u64);
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let line =
            line.map_err(|e| CliError::input(format!("{}:{line_no}: {e}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Measurement>(&line) {
            Ok(m) => {
                valid += 1;
                if !quiet {
                    writeln!(
                        out,
                        "{line_no}\t{}\t{}",
                        m.series_key(),
                        platone_model::format_timestamp(&m.timestamp)
                    )
                    .map_err(write_failed)?;
                }
            }
            Err(e) => {
                invalid += 1;
                eprintln!("error: {}:{line_no}: {e}", file.display());
            }
        }
    }
    out.flush().map_err(write_failed)?;
    eprintln!("valid {valid}, invalid {invalid}");
    if invalid > 0 {
        return Err(CliError::input(format!(
            "{}: {invalid} invalid measurement line(s)",
            file.display()
        )));
    }
    Ok(())
}
