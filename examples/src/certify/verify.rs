//! `platone verify`.

use std::io::{BufRead, Write};

use platone_certify::{
    FileLedger, Ledger, LedgerVerifier, MismatchReason, Proof, Verification, canonicalize_json,
};

use super::{VerifyArgs, block_on};
use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};
use crate::ledgers::LedgerChoice;

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
    match LedgerChoice::parse(&args.ledger)? {
        LedgerChoice::File(dir) => verify_with_file_ledger(args, &dir),
        #[cfg(feature = "chain")]
        LedgerChoice::Eth(deployment) => crate::ledgers::io_runtime()?.block_on(async {
            let mut verifier = crate::ledgers::chain_verifier(&deployment).await?;
            verify_lines(args, async |canonical, proof| {
                verifier
                    .verify_canonical(canonical, proof)
                    .await
                    .map_err(crate::chain::chain_error)
            })
            .await
        }),
        #[cfg(not(feature = "chain"))]
        LedgerChoice::Eth(_) => Err(crate::ledgers::no_chain_support()),
    }
}

fn verify_with_file_ledger(args: &VerifyArgs, dir: &std::path::Path) -> CliResult {
    let ledger =
        FileLedger::open_read_only(dir).map_err(|e| CliError::input(format!("ledger: {e}")))?;
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
    // A ledger that cannot answer for one record fails that record.
    block_on(verify_lines(args, async |canonical, proof| {
        Ok(verifier
            .verify_canonical(canonical, proof)
            .await
            .unwrap_or_else(|e| Verification::Mismatch {
                reason: MismatchReason::Anchor(e.to_string()),
            }))
    }))?
}

/// Checks each record line against the proof line beside it with `check`, printing each
/// failure with its line and a summary; fails when any record failed. An error of `check`
/// (a ledger or node that cannot answer) stops the command.
async fn verify_lines(
    args: &VerifyArgs,
    mut check: impl AsyncFnMut(&[u8], &Proof) -> CliResult<Verification>,
) -> CliResult {
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
                    Ok(()) => match check(&canonical, &p).await? {
                        Verification::Verified => Ok(()),
                        Verification::Mismatch { reason } => Err(reason.to_string()),
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
