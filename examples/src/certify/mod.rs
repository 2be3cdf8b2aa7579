//! `platone certify`, `platone verify` and `platone keys`: Merkle batch certification of JSON
//! records anchored in a file ledger, offline verification, and device keys.

mod batch;
mod keys;
mod verify;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use platone_certify::Scheme;

use crate::error::{CliError, CliResult};
use crate::ledgers::ChainKeyArgs;

pub use keys::KeysCommand;

/// Subcommands of `platone certify`.
#[derive(Debug, Subcommand)]
pub enum CertifyCommand {
    /// Certify every JSON line of a file as a record, in Merkle batches anchored in a ledger.
    ///
    /// Records are batched in input order: a batch closes at `--batch-size` records or, with
    /// `--window`, when a record's `timestamp` is that many seconds or more after the batch's
    /// first one. Each certificate is anchored in the ledger `--ledger` (continuing the
    /// source's chain if the ledger already has one; on chain, all of them in one
    /// transaction) and written to `DIR/certificates.jsonl`;
    /// one proof per record goes to `DIR/proofs.jsonl`, in input order. Blank lines are
    /// skipped. If any line is not a valid record, every bad line is reported and nothing is
    /// certified.
    Batch(BatchArgs),
}

/// Options of `platone certify batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The records, one JSON value per line (`-` for standard input).
    #[arg(long)]
    pub input: PathBuf,
    /// The Merkle scheme: `sha256` (RFC 6962) or `keccak` (OpenZeppelin-compatible).
    #[arg(long, value_parser = parse_scheme)]
    pub scheme: Scheme,
    /// The most records in one batch.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Also close a batch once a record's `timestamp` is this many seconds after the batch's
    /// first record.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: Option<u64>,
    /// Where to write `certificates.jsonl` and `proofs.jsonl`.
    #[arg(long)]
    pub out: PathBuf,
    /// The ledger: a file ledger's directory (created if missing), or `eth:DEPLOYMENT.json`
    /// to anchor on chain (with `--chain-key`; the certificates and the anchor journal are
    /// kept in `DEPLOYMENT.ledger/` beside the deployment file), when every certificate is
    /// anchored and each proof carries its on-chain `anchor`.
    #[arg(long)]
    pub ledger: String,
    /// The source whose chain the batches extend.
    #[arg(long, default_value = "records")]
    pub source: String,
    #[command(flatten)]
    pub chain: ChainKeyArgs,
}

/// Options of `platone verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The records, one JSON value per line, as certified.
    #[arg(long)]
    pub records: PathBuf,
    /// The proofs, one per record, in the same order.
    #[arg(long)]
    pub proofs: PathBuf,
    /// The ledger: a file ledger's directory, or `eth:DEPLOYMENT.json` to check every record
    /// against the chain alone (no key needed; the node must be reachable).
    #[arg(long)]
    pub ledger: String,
    /// Skip the consistency check of the whole file ledger (every entry, the entry chain,
    /// every source's chain, the index), whose problems are printed as warnings; each record's
    /// own batch and its link to the batch before are checked either way.
    #[arg(long)]
    pub no_ledger_check: bool,
}

fn parse_scheme(text: &str) -> Result<Scheme, String> {
    text.parse::<Scheme>().map_err(|e| e.to_string())
}

/// Runs a `platone certify` subcommand.
pub fn run(command: CertifyCommand) -> CliResult {
    match command {
        CertifyCommand::Batch(args) => batch::run(&args),
    }
}

/// Runs `platone verify`.
pub fn run_verify(args: VerifyArgs) -> CliResult {
    verify::run(&args)
}

/// Runs a `platone keys` subcommand.
pub fn run_keys(command: KeysCommand) -> CliResult {
    keys::run(command)
}

/// Runs a future from the ledger API to completion.
fn block_on<F: std::future::Future>(future: F) -> CliResult<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    Ok(runtime.block_on(future))
}
