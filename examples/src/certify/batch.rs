//! `platone certify batch`: reads the records, hands them to
//! [`platone_certify::certify_json_lines`], anchors the certificates and writes the results.

use std::io::Write;

use platone_certify::{
    AnchorStatus, BatchCertificate, CertifyError, FileLedger, Ledger, SealedTree, StreamOptions,
    certify_json_lines, write_proof_lines,
};
use platone_model::Timestamp;

use super::{BatchArgs, block_on};
use crate::error::{CliError, CliResult};
use crate::io::{open_input, write_failed};
use crate::ledgers::LedgerChoice;

pub fn run(args: &BatchArgs) -> CliResult {
    certify_at(args, platone_certify::now())
}

/// Certifies `args.input` with every certificate created at `created_at`.
fn certify_at(args: &BatchArgs, created_at: Timestamp) -> CliResult {
    match LedgerChoice::parse(&args.ledger)? {
        LedgerChoice::File(dir) => {
            let ledger =
                FileLedger::open(&dir).map_err(|e| CliError::input(format!("ledger: {e}")))?;
            let batches = certify(args, created_at, ledger.last_certificate(&args.source))?;
            let anchors = block_on(ledger.anchor_all(&batches.certificates))?
                .map_err(|e| CliError::input(format!("ledger: {e}")))?;
            write_outputs(
                args,
                &batches,
                &anchors,
                &ledger.path().display().to_string(),
            )
        }
        #[cfg(feature = "chain")]
        LedgerChoice::Eth(deployment) => certify_on_chain(args, created_at, &deployment),
        #[cfg(not(feature = "chain"))]
        LedgerChoice::Eth(_) => Err(crate::ledgers::no_chain_support()),
    }
}

/// Certifies on the chain of `deployment`: every certificate is anchored (in one
/// transaction) before the outputs are written, so each proof carries its on-chain anchor.
#[cfg(feature = "chain")]
fn certify_on_chain(
    args: &BatchArgs,
    created_at: Timestamp,
    deployment: &std::path::Path,
) -> CliResult {
    /// How long the anchors may take to be mined and confirmed.
    const ANCHOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
    let key = args.chain.require_key(deployment)?;
    let local = LedgerChoice::eth_local_dir(deployment);
    crate::ledgers::io_runtime()?.block_on(async {
        let ledger = crate::ledgers::open_eth(deployment, &local, key, &args.chain.gas).await?;
        let ledger_error = |e: CertifyError| CliError::input(format!("ledger: {e}"));
        let last = ledger
            .last_certificate(&args.source)
            .await
            .map_err(ledger_error)?;
        let batches = certify(args, created_at, last)?;
        ledger
            .anchor_all(&batches.certificates)
            .await
            .map_err(ledger_error)?;
        ledger
            .flush(ANCHOR_TIMEOUT)
            .await
            .map_err(crate::chain::chain_error)?;
        let mut anchors = Vec::with_capacity(batches.certificates.len());
        for certificate in &batches.certificates {
            let status = ledger
                .status(&certificate.batch_id)
                .await
                .map_err(ledger_error)?;
            anchors.push(status.unwrap_or(AnchorStatus::Pending));
        }
        write_outputs(args, &batches, &anchors, &ledger.name())
    })
}

/// What one run certified.
struct Certified {
    records: u64,
    batches: Vec<SealedTree>,
    certificates: Vec<BatchCertificate>,
}

/// Reads and certifies the records, continuing the chain that ends at `last`.
fn certify(
    args: &BatchArgs,
    created_at: Timestamp,
    last: Option<BatchCertificate>,
) -> CliResult<Certified> {
    let max_records = usize::try_from(args.batch_size)
        .map_err(|_| CliError::usage("--batch-size is too large"))?;
    let mut options = StreamOptions::new(args.scheme, args.source.clone(), max_records, created_at);
    if let Some(window) = args.window {
        options = options.with_window(
            i64::try_from(window)
                .ok()
                .and_then(chrono::TimeDelta::try_seconds)
                .unwrap_or(chrono::TimeDelta::MAX),
        );
    }
    let input_name = args.input.display();
    let certified = certify_json_lines(
        open_input(&args.input)?,
        &options,
        last.as_ref(),
        |line, e| eprintln!("error: {input_name}:{line}: {e}"),
    )
    .map_err(|e| match e {
        CertifyError::ReadRecords { line, source } => {
            CliError::input(format!("{input_name}:{line}: {source}"))
        }
        CertifyError::InvalidRecords { count } => CliError::input(format!(
            "{count} invalid record(s) in {input_name}; nothing was certified"
        )),
        CertifyError::NoRecords => CliError::input(format!("{input_name}: no records to certify")),
        other => CliError::input(other.to_string()),
    })?;
    let certificates = certified
        .batches
        .iter()
        .map(|b| b.certificate.clone())
        .collect();
    Ok(Certified {
        records: certified.records,
        batches: certified.batches,
        certificates,
    })
}

/// Writes `certificates.jsonl` and `proofs.jsonl` with each batch's anchor.
fn write_outputs(
    args: &BatchArgs,
    certified: &Certified,
    anchors: &[AnchorStatus],
    ledger: &str,
) -> CliResult {
    let batches = &certified.batches;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::input(format!("{}: cannot create: {e}", args.out.display())))?;
    write_certificates(args, batches, anchors)?;
    let mut proofs = create(&args.out.join("proofs.jsonl"))?;
    write_proof_lines(batches, anchors, &mut proofs).map_err(write_failed)?;
    proofs.flush().map_err(write_failed)?;
    eprintln!(
        "certified {} records in {} batches ({}), ledger {ledger}",
        certified.records,
        batches.len(),
        args.scheme,
    );
    Ok(())
}

fn write_certificates(
    args: &BatchArgs,
    batches: &[SealedTree],
    anchors: &[AnchorStatus],
) -> CliResult {
    let path = args.out.join("certificates.jsonl");
    let mut out = create(&path)?;
    for (batch, anchor) in batches.iter().zip(anchors) {
        let mut value = serde_json::to_value(&batch.certificate)
            .map_err(|e| CliError::input(format!("certificate: {e}")))?;
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "certificate_hash".into(),
                batch.certificate_hash.to_string().into(),
            );
            object.insert(
                "anchor".into(),
                serde_json::to_value(anchor)
                    .map_err(|e| CliError::input(format!("anchor: {e}")))?,
            );
        }
        serde_json::to_writer(&mut out, &value)
            .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
        out.write_all(b"\n").map_err(write_failed)?;
    }
    out.flush().map_err(write_failed)
}

fn create(path: &std::path::Path) -> CliResult<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::input(format!("{}: cannot create: {e}", path.display())))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_certify::{Digest, Scheme};

    /// Records with timestamps out of order, some without one, and blank lines.
    fn input() -> String {
        let mut text = String::new();
        for i in 0..1000u32 {
            let line = match i % 13 {
                0 => format!("{{\"value\":{i},\"note\":\"no time\"}}"),
                5 => format!(
                    "{{\"timestamp\":\"2024-01-01T00:{:02}:{:02}.5Z\",\"value\":{i}}}",
                    (i / 2) / 60,
                    (i / 2) % 60
                ),
                _ => format!(
                    "{{\"value\":{i}.25,\"timestamp\":\"2024-01-01T00:{:02}:{:02}Z\"}}",
                    i / 60,
                    i % 60
                ),
            };
            text.push_str(&line);
            text.push('\n');
            if i % 97 == 0 {
                text.push_str("  \n");
            }
        }
        text
    }

    /// The output files with each anchor (whose entry hash and time depend on when and where
    /// the ledger wrote it) replaced by `{}`.
    fn digest_of_outputs(out: &std::path::Path) -> String {
        let mut all = Vec::new();
        for name in ["certificates.jsonl", "proofs.jsonl"] {
            let text = std::fs::read_to_string(out.join(name)).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find("\"anchor\":{") {
                let (head, tail) = rest.split_at(at + "\"anchor\":{".len());
                all.extend_from_slice(head.as_bytes());
                let end = tail.find('}').unwrap();
                rest = &tail[end..];
            }
            all.extend_from_slice(rest.as_bytes());
        }
        Digest::sha256(&all).to_string()
    }

    /// The files written for one input and one `created_at` do not change: the digests were
    /// taken from the command's first implementation.
    #[test]
    fn output_for_a_fixed_created_at_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("records.jsonl");
        std::fs::write(&input, self::input()).unwrap();
        let created_at = platone_model::parse_timestamp("2026-01-02T03:04:05.678Z").unwrap();
        let args = |scheme, batch_size, window, out: &str| BatchArgs {
            input: input.clone(),
            scheme,
            batch_size,
            window,
            out: dir.path().join(out),
            ledger: dir.path().join("ledger").display().to_string(),
            source: "pmu-9".into(),
            chain: crate::ledgers::ChainKeyArgs {
                chain_key: None,
                gas: crate::ledgers::GasArgs::default(),
            },
        };
        let runs = [
            args(Scheme::Sha256, 180, None, "a"),
            args(Scheme::Keccak, 1000, Some(60), "b"),
            // Continues the chain the two runs above left in the ledger.
            args(Scheme::Sha256, 7, Some(30), "c"),
        ];
        let digests: Vec<String> = runs
            .iter()
            .map(|a| {
                certify_at(a, created_at).unwrap();
                digest_of_outputs(&a.out)
            })
            .collect();
        assert_eq!(
            digests,
            [
                "0x92b90c7ab806b584a9a42fce7ff490d07a1f4edc863b05bfa92c298c3870fbe2",
                "0x00b6083c8062def14fbbbcc5d71183b63fdcd0ab28f4589b06b0d50d5b18c1dd",
                "0x203f9dbc2c620f53d03dae037cd88afa5f9542de777a8d3954e7864e882d90b5",
            ]
        );
    }
}
