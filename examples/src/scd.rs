//! `platone scd`: the Shared Customer Database from the command line — import measurements,
//! query them, archive old days and restore archives.
//!
//! Stores are named by URL: `sqlite://PATH` (the embedded store, one file) or `postgres://…`.
//! The command line acts as the store's operator: it sees everything, and its reads are
//! audited like everyone else's.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use platone_cim::meter_readings::{MeasurementConverter, Mode};
use platone_model::{Measurement, Timestamp, format_timestamp, parse_timestamp};
use platone_scd::{AnyStore, InsertReport, MeasurementQuery, Principal, ScdError, Store};

use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// Measurements written per transaction by `import`.
const IMPORT_BATCH: usize = 50_000;

/// Subcommands of `platone scd`.
#[derive(Debug, Subcommand)]
pub enum ScdCommand {
    /// Import measurements (Measurement JSON lines, or a CIM MeterReadings document); prints
    /// `imported N, duplicates D, conflicts C`.
    ///
    /// Importing is idempotent: a measurement already stored with the same value is a
    /// duplicate; one stored with a different value is a conflict (reported on stderr, the
    /// stored value kept). Invalid input lines (and readings of a MeterReadings document that
    /// cannot be converted) are reported as `error: FILE:LINE: …` and skipped; the exit code
    /// is then 1.
    Import(ImportArgs),
    /// Print the measurements selected, one Measurement JSON per line in time order, or their
    /// number with `--count`.
    Query(QueryArgs),
    /// Export every whole UTC day before `--before` (rounded down to midnight UTC) to
    /// compressed files with a manifest in `--out`, and remove them from the store.
    Archive(ArchiveArgs),
    /// Bring an archive written by `archive` back into the store.
    Restore(RestoreArgs),
}

/// Options of `platone scd import`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["input", "from_cim"])))]
pub struct ImportArgs {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long)]
    db: String,
    /// Measurement JSON lines (one per line), or `-` for standard input.
    #[arg(long)]
    input: Option<PathBuf>,
    /// An IEC 61968-9 MeterReadings XML document (read leniently, as real producers write
    /// it), or `-` for standard input; its readings are converted to measurements.
    #[arg(long, value_name = "FILE.xml")]
    from_cim: Option<PathBuf>,
}

/// Options of `platone scd query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long)]
    db: String,
    /// Only this meter.
    #[arg(long)]
    meter: Option<String>,
    /// Only this Point of Delivery.
    #[arg(long)]
    pod: Option<String>,
    /// Only this source device.
    #[arg(long)]
    device: Option<String>,
    /// From this instant (RFC 3339, inclusive).
    #[arg(long)]
    from: Option<String>,
    /// Up to this instant (RFC 3339, exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Print only the number of measurements selected.
    #[arg(long)]
    count: bool,
}

/// Options of `platone scd archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long)]
    db: String,
    /// Archive everything before this instant (RFC 3339; rounded down to midnight UTC).
    #[arg(long)]
    before: String,
    /// The archive directory (created; must not already hold an archive).
    #[arg(long)]
    out: PathBuf,
}

/// Options of `platone scd restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long)]
    db: String,
    /// The archive directory written by `platone scd archive`.
    #[arg(long)]
    from: PathBuf,
}

/// Runs a `platone scd` subcommand.
pub fn run(command: ScdCommand) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match command {
            ScdCommand::Import(a) => import(a).await,
            ScdCommand::Query(a) => query(a).await,
            ScdCommand::Archive(a) => archive(a).await,
            ScdCommand::Restore(a) => restore(a).await,
        }
    })
}

fn store_error(e: ScdError) -> CliError {
    match e {
        ScdError::InvalidUrl { .. } => CliError::usage(e),
        other => CliError::input(other),
    }
}

async fn open(url: &str) -> CliResult<AnyStore> {
    AnyStore::open(url).await.map_err(store_error)
}

fn timestamp(option: &str, text: &str) -> CliResult<Timestamp> {
    parse_timestamp(text).map_err(|e| {
        CliError::usage(format!(
            "--{option} {text:?}: not an RFC 3339 timestamp ({e})"
        ))
    })
}

fn id<T: std::str::FromStr<Err = platone_model::ModelError>>(
    option: &str,
    text: &Option<String>,
) -> CliResult<Option<T>> {
    text.as_deref()
        .map(|t| {
            t.parse::<T>()
                .map_err(|e| CliError::usage(format!("--{option} {t:?}: {e}")))
        })
        .transpose()
}

async fn flush(
    store: &AnyStore,
    batch: &mut Vec<Measurement>,
    lines: &mut Vec<usize>,
    file: &Path,
    total: &mut InsertReport,
) -> CliResult {
    if batch.is_empty() {
        return Ok(());
    }
    let report = store
        .insert_measurements(batch)
        .await
        .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    for c in &report.conflicts {
        let line = lines.get(c.index).copied().unwrap_or(0);
        eprintln!(
            "conflict: {}:{line}: {}@{} is stored as {}, not {} (kept)",
            file.display(),
            c.series,
            format_timestamp(&c.timestamp),
            c.stored,
            c.offered
        );
    }
    total.absorb(report);
    batch.clear();
    lines.clear();
    Ok(())
}

async fn import(args: ImportArgs) -> CliResult {
    if let Some(xml) = &args.from_cim {
        return import_cim(&args.db, xml).await;
    }
    let Some(file) = args.input.as_deref() else {
        return Err(CliError::usage("give --input or --from-cim"));
    };
    let store = open(&args.db).await?;
    let input = open_input(file)?;
    let mut total = InsertReport::default();
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    let mut lines = Vec::with_capacity(IMPORT_BATCH);
    let mut invalid = 0u64;
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let line =
            line.map_err(|e| CliError::input(format!("{}:{line_no}: {e}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Measurement>(&line) {
            Ok(m) => {
                batch.push(m);
                lines.push(line_no);
            }
            Err(e) => {
                invalid += 1;
                eprintln!("error: {}:{line_no}: {e}", file.display());
            }
        }
        if batch.len() == IMPORT_BATCH {
            flush(&store, &mut batch, &mut lines, file, &mut total).await?;
        }
    }
    flush(&store, &mut batch, &mut lines, file, &mut total).await?;
    println!(
        "imported {}, duplicates {}, conflicts {}",
        total.inserted,
        total.duplicates,
        total.conflicts.len()
    );
    if invalid > 0 {
        return Err(CliError::input(format!(
            "{}: {invalid} invalid measurement line(s) skipped",
            file.display()
        )));
    }
    Ok(())
}

/// Converted readings on their way from the parsing thread to the store: the measurements
/// and, for each, its reading number in the document (for messages).
struct ConvertedBatch {
    measurements: Vec<Measurement>,
    numbers: Vec<usize>,
}

/// Parses and converts a MeterReadings document on the thread that calls it, sending batches
/// of [`IMPORT_BATCH`] measurements to the store as they are ready (so conversion and storage
/// overlap). A document that cannot be read at all fails before anything is sent. Returns the
/// number of readings skipped.
fn convert_cim(
    bytes: &[u8],
    label: &str,
    out: &tokio::sync::mpsc::Sender<CliResult<ConvertedBatch>>,
) -> CliResult<u64> {
    let parsed = platone_cim::meter_readings::parse_slice(bytes, Mode::Lenient)
        .map_err(|e| CliError::input(format!("{label}:{e}")))?;
    for w in &parsed.warnings {
        eprintln!("warning: {label}:{w}");
    }
    let mut invalid = 0u64;
    for s in &parsed.skipped {
        invalid += 1;
        eprintln!("error: {label}:{s}");
    }
    let mut converter = MeasurementConverter::new();
    let mut results = Vec::new();
    let mut batch = ConvertedBatch {
        measurements: Vec::with_capacity(IMPORT_BATCH),
        numbers: Vec::with_capacity(IMPORT_BATCH),
    };
    let mut number = 0usize;
    for mr in &parsed.document.meter_readings {
        converter.convert(mr, &mut results);
        for m in results.drain(..) {
            number += 1;
            match m {
                Ok(m) => {
                    batch.measurements.push(m);
                    batch.numbers.push(number);
                }
                Err(e) => {
                    invalid += 1;
                    eprintln!("error: {label}: reading {number}: {e}");
                }
            }
        }
        if batch.measurements.len() >= IMPORT_BATCH {
            let full = std::mem::replace(
                &mut batch,
                ConvertedBatch {
                    measurements: Vec::with_capacity(IMPORT_BATCH),
                    numbers: Vec::with_capacity(IMPORT_BATCH),
                },
            );
            if out.blocking_send(Ok(full)).is_err() {
                // The store side stopped (and reports why).
                return Ok(invalid);
            }
        }
    }
    if !batch.measurements.is_empty() {
        let _ = out.blocking_send(Ok(batch));
    }
    Ok(invalid)
}

/// Imports a MeterReadings document: one thread parses and converts, this one stores, batch
/// by batch, so the two overlap.
async fn import_cim(db: &str, file: &Path) -> CliResult {
    let mut bytes = Vec::new();
    open_input(file)?
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", file.display())))?;
    let label = file.display().to_string();
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let converter = std::thread::Builder::new()
        .name("cim-convert".into())
        .spawn(move || {
            let outcome = convert_cim(&bytes, &label, &tx);
            // A document that cannot be read is reported first and ends the import.
            match outcome {
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    0
                }
                Ok(invalid) => invalid,
            }
        })
        .map_err(|e| CliError::input(format!("cannot start the converting thread: {e}")))?;
    let first = rx.recv().await;
    if let Some(Err(e)) = first {
        return Err(e);
    }
    let mut total = InsertReport::default();
    if let Some(Ok(first)) = first {
        let store = open(db).await?;
        let mut next = Some(first);
        while let Some(mut batch) = next {
            flush(
                &store,
                &mut batch.measurements,
                &mut batch.numbers,
                file,
                &mut total,
            )
            .await?;
            next = match rx.recv().await {
                Some(Ok(b)) => Some(b),
                Some(Err(e)) => return Err(e),
                None => None,
            };
        }
    } else {
        // No readings: the store is still opened (created if new), as every import does.
        open(db).await?;
    }
    let invalid = converter
        .join()
        .map_err(|_| CliError::input("the converting thread failed"))?;
    println!(
        "imported {}, duplicates {}, conflicts {}",
        total.inserted,
        total.duplicates,
        total.conflicts.len()
    );
    if invalid > 0 {
        return Err(CliError::input(format!(
            "{}: {invalid} reading(s) skipped",
            file.display()
        )));
    }
    Ok(())
}

async fn query(args: QueryArgs) -> CliResult {
    let mut q = MeasurementQuery {
        meter: id("meter", &args.meter)?,
        pod: id("pod", &args.pod)?,
        device: id("device", &args.device)?,
        from: args
            .from
            .as_deref()
            .map(|t| timestamp("from", t))
            .transpose()?,
        to: args.to.as_deref().map(|t| timestamp("to", t)).transpose()?,
        limit: Some(10_000),
        ..MeasurementQuery::default()
    };
    let store = open(&args.db).await?;
    let mut out = open_output(None)?;
    if args.count {
        let n = store
            .count_measurements(&Principal::Operator, &q)
            .await
            .map_err(store_error)?;
        writeln!(out, "{n}").map_err(write_failed)?;
        return out.flush().map_err(write_failed);
    }
    loop {
        let page = store
            .query_measurements(&Principal::Operator, &q)
            .await
            .map_err(store_error)?;
        for item in &page.items {
            serde_json::to_writer(&mut out, &item.measurement)
                .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
            out.write_all(b"\n").map_err(write_failed)?;
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    out.flush().map_err(write_failed)
}

async fn archive(args: ArchiveArgs) -> CliResult {
    let before = timestamp("before", &args.before)?;
    let store = open(&args.db).await?;
    let manifest = store
        .archive(before, &args.out)
        .await
        .map_err(store_error)?;
    println!(
        "archived {} measurements of {} days before {} to {}",
        manifest.rows(),
        manifest.days.len(),
        format_timestamp(&manifest.before),
        args.out.display()
    );
    Ok(())
}

async fn restore(args: RestoreArgs) -> CliResult {
    let store = open(&args.db).await?;
    let report = store.restore(&args.from).await.map_err(store_error)?;
    println!(
        "restored {} days: imported {}, duplicates {}, conflicts {}, certifications {}",
        report.days,
        report.measurements.inserted,
        report.measurements.duplicates,
        report.measurements.conflicts.len(),
        report.certifications
    );
    Ok(())
}
