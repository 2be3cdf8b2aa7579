//! `platone verify`.

use std::io::{BufRead, Write};

use platone_certify::{FileLedger, Ledger, LedgerVerifier, Proof, Verification, canonicalize_json};

use super::{VerifyArgs, block_on};
use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// Non-blank lines of a file with their line numbers.
fn records(path: &std::path::Path) -> CliResult<impl Iterator<Item = CliResult<(usize, String)>>> {
    let display = path.display().to_string();
    Ok(open_input(path)?
        .lines()
        .enumerate()
        .map(move |(i, l)| {
            l.map(|l| (i + 1, l))
                .map_err(|e| CliError::input(format!("{display}:{}: {e}", i + 1)))
        })
        .filter(|r| r.as_ref().map_or(true, |(_, l)| !l.trim().is_empty())))
}

pub fn run(args: &VerifyArgs) -> CliResult {
    let ledger = FileLedger::open_read_only(&args.ledger)
        .map_err(|e| CliError::input(format!("ledger: {e}")))?;
    let problems = if args.no_ledger_check {
        ledger.problems()
    } else {
        block_on(ledger.check_consistency())?
            .map_err(|e| CliError::input(format!("ledger: {e}")))?
            .problems
    };
    for problem in problems {
        eprintln!("warning: ledger {}: {problem}", ledger.path().display());
    }
    let mut verifier = LedgerVerifier::new(&ledger);
    let mut out = open_output(None)?;
    let mut record_lines = records(&args.records)?;
    let mut proof_lines = records(&args.proofs)?;
    let (mut verified, mut failed) = (0u64, 0u64);
    let mut canonical = Vec::with_capacity(512);
    loop {
        let (record, proof) = match (
            record_lines.next().transpose()?,
            proof_lines.next().transpose()?,
        ) {
            (None, None) => break,
            (Some(r), Some(p)) => (r, p),
            (Some((line, _)), None) => {
                failed += 1;
                writeln!(out, "line {line}: FAILED: no proof for this record")
                    .map_err(write_failed)?;
                continue;
            }
            (None, Some((line, _))) => {
                failed += 1;
                writeln!(out, "proof line {line}: FAILED: proof without a record")
                    .map_err(write_failed)?;
                continue;
            }
        };
        let (line, text) = record;
        let outcome = match Proof::from_json(proof.1.as_bytes()) {
            Err(e) => Err(format!("path: proof line {}: {e}", proof.0)),
            Ok(p) => {
                canonical.clear();
                match canonicalize_json(&text, &mut canonical) {
                    Err(e) => Err(format!("content: {e}")),
                    Ok(()) => match block_on(verifier.verify_canonical(&canonical, &p))? {
                        Ok(Verification::Verified) => Ok(()),
                        Ok(Verification::Mismatch { reason }) => Err(reason.to_string()),
                        Err(e) => Err(format!("anchor: {e}")),
                    },
                }
            }
        };
        match outcome {
            Ok(()) => verified += 1,
            Err(reason) => {
                failed += 1;
                writeln!(out, "line {line}: FAILED: {reason}").map_err(write_failed)?;
            }
        }
    }
    writeln!(out, "verified {verified}, failed {failed}").map_err(write_failed)?;
    out.flush().map_err(write_failed)?;
    if failed > 0 {
        return Err(CliError::input(format!(
            "{failed} of {} records failed verification",
            verified + failed
        )));
    }
    Ok(())
}
