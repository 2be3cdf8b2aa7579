//! The log subscriber of the `platone` binary: the libraries' `tracing` events on stderr.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

use crate::error::{CliError, CliResult};

/// The filter when `RUST_LOG` is unset or empty: `info` for the platone crates (the target
/// `platone` is a prefix of every `platone_*` crate and of the binary), `warn` for the rest.
pub const DEFAULT_FILTER: &str = "warn,platone=info";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event (colours only on a terminal).
    Human,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, …).
    Json,
}

/// Installs the subscriber: `RUST_LOG` (else [`DEFAULT_FILTER`]) in the given format, written
/// to stderr. An invalid `RUST_LOG` is a usage error.
pub fn install(format: LogFormat) -> CliResult {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| CliError::usage(format!("RUST_LOG={spec}: {e}")))?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| CliError::input(format!("cannot install the log subscriber: {e}")))
}
