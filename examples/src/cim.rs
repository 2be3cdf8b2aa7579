//! `platone cim`: IEC 61968-9 MeterReadings and ReadingType codes.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use platone_cim::meter_readings::{
    CodeForm, MeterReadingsError, MeterReadingsStream, Mode, RecordInput, StreamItem, WriteOptions,
    document_from_records, write_document_to,
};

use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// Output forms of `platone cim parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
}

/// Subcommands of `platone cim`.
#[derive(Debug, Subcommand)]
pub enum CimCommand {
    /// Read a MeterReadings document and print one JSON object per reading and per event.
    ///
    /// Objects carry `record` ("reading" or "event"), `meter`, `usage_point`, `timestamp`,
    /// `value`, `raw_value`, `reading_type`, `reading_type_decoded`, `source` ("Readings" or
    /// "IntervalBlocks") and `qualities`; events carry `event_type`, `created` and `details`.
    /// A summary (counts, warnings) goes to stderr. Exit code 1 if the input is invalid
    /// (`error: FILE:LINE:COL: message`).
    Parse {
        /// The XML file, or `-` for standard input.
        file: PathBuf,
        /// Accept what real producers get wrong (decimal commas, values that are not numbers,
        /// 19-field ReadingType codes …) with warnings; go on after a bad MeterReading.
        #[arg(long)]
        lenient: bool,
        /// Output form.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Print only the number of readings.
        #[arg(long, conflicts_with = "format")]
        count: bool,
    },
    /// Print a decoded ReadingType code as JSON.
    Describe {
        /// The dotted code, e.g. `0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0`.
        code: String,
        /// Normalise a 19-field code instead of rejecting it.
        #[arg(long)]
        lenient: bool,
    },
    /// Read JSON lines as `platone cim parse` prints them and write a MeterReadings document.
    Write {
        /// The JSON-lines file, or `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Wrap the document in an IEC 61968-100 EventMessage (verb `created`, noun
        /// `MeterReadings`).
        #[arg(long)]
        envelope: bool,
        /// Where to write the XML (standard output by default).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Runs a `platone cim` subcommand.
pub fn run(command: CimCommand) -> CliResult {
    match command {
        CimCommand::Parse {
            file,
            lenient,
            format,
            count,
        } => {
            let mode = if lenient { Mode::Lenient } else { Mode::Strict };
            if count {
                count_readings(&file, mode)
            } else {
                parse(&file, mode, format)
            }
        }
        CimCommand::Describe { code, lenient } => describe(&code, lenient),
        CimCommand::Write {
            file,
            envelope,
            output,
        } => write(&file, envelope, output.as_deref()),
    }
}

fn located(file: &Path, e: &MeterReadingsError) -> String {
    match e.location() {
        Some(_) => format!("{}:{e}", file.display()),
        None => format!("{}: {e}", file.display()),
    }
}

fn print_warnings(file: &Path, warnings: Vec<platone_cim::meter_readings::Warning>) -> usize {
    let n = warnings.len();
    for w in warnings {
        eprintln!("warning: {}:{w}", file.display());
    }
    n
}

fn parse(file: &Path, mode: Mode, format: Format) -> CliResult {
    let input = open_input(file)?;
    let mut out = open_output(None)?;
    let mut records = MeterReadingsStream::new(input, mode).records();
    let (mut readings, mut events, mut warnings, mut errors) = (0u64, 0u64, 0usize, 0u64);
    if format == Format::Json {
        out.write_all(b"[").map_err(write_failed)?;
    }
    let mut first = true;
    while let Some(item) = records.next() {
        warnings += print_warnings(file, records.take_warnings());
        match item {
            Ok(record) => {
                match record {
                    platone_cim::meter_readings::Record::Reading(_) => readings += 1,
                    platone_cim::meter_readings::Record::Event(_) => events += 1,
                }
                if format == Format::Json && !first {
                    out.write_all(b",").map_err(write_failed)?;
                }
                first = false;
                serde_json::to_writer(&mut out, &record)
                    .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
                if format == Format::Jsonl {
                    out.write_all(b"\n").map_err(write_failed)?;
                }
            }
            Err(e) => {
                errors += 1;
                eprintln!("error: {}", located(file, &e));
            }
        }
    }
    warnings += print_warnings(file, records.take_warnings());
    if format == Format::Json {
        out.write_all(b"]\n").map_err(write_failed)?;
    }
    out.flush().map_err(write_failed)?;
    eprintln!("readings {readings}, events {events}, warnings {warnings}, errors {errors}");
    if errors > 0 {
        return Err(CliError::input(format!(
            "{}: {errors} invalid part(s) of the input (see above)",
            file.display()
        )));
    }
    Ok(())
}

fn count_readings(file: &Path, mode: Mode) -> CliResult {
    let input = open_input(file)?;
    let mut stream = MeterReadingsStream::new(input, mode);
    let mut count = 0usize;
    let mut first_error = None;
    for item in stream.by_ref() {
        match item {
            Ok(StreamItem::MeterReading(mr)) => count += mr.reading_count(),
            Ok(_) => {}
            Err(e) => {
                let message = located(file, &e);
                if first_error.is_none() {
                    first_error = Some(message);
                }
            }
        }
    }
    stream.take_warnings();
    let mut out = open_output(None)?;
    writeln!(out, "{count}").map_err(write_failed)?;
    out.flush().map_err(write_failed)?;
    match first_error {
        Some(message) => Err(CliError::input(message)),
        None => Ok(()),
    }
}

fn describe(code: &str, lenient: bool) -> CliResult {
    let mode = if lenient { Mode::Lenient } else { Mode::Strict };
    let parsed = platone_cim::meter_readings::ReadingTypeCode::parse(code, mode)
        .map_err(|e| CliError::input(format!("{code}: {e}")))?;
    if parsed.form() == CodeForm::Opaque {
        let fields = code.split('.').count();
        return Err(CliError::input(format!(
            "{code}: not a ReadingType code this SDK can decode ({fields} fields; IEC 61968-9 codes have 18, edition-1 codes 11)"
        )));
    }
    let json = serde_json::json!({
        "code": parsed.as_str(),
        "form": parsed.form(),
        "canonical": parsed.reading_type().map(|rt| rt.to_string()),
        "description": parsed.description(),
        "reading_type": parsed.reading_type(),
        "edition1": parsed.edition1(),
    });
    let mut out = open_output(None)?;
    serde_json::to_writer_pretty(&mut out, &json)
        .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
    writeln!(out).map_err(write_failed)?;
    out.flush().map_err(write_failed)?;
    Ok(())
}

fn write(file: &Path, envelope: bool, output: Option<&Path>) -> CliResult {
    let input = open_input(file)?;
    let mut records = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let line =
            line.map_err(|e| CliError::input(format!("{}:{line_no}: {e}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: RecordInput = serde_json::from_str(&line).map_err(|e| {
            CliError::input(format!("{}:{line_no}:{}: {e}", file.display(), e.column()))
        })?;
        if record.record != "reading" && record.record != "event" {
            return Err(CliError::input(format!(
                "{}:{line_no}:1: `record` is `{}`, expected `reading` or `event`",
                file.display(),
                record.record
            )));
        }
        records.push(record);
    }
    let doc = document_from_records(records)
        .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    let options = if envelope {
        WriteOptions::event_message()
    } else {
        WriteOptions {
            envelope: None,
            indent: true,
        }
    };
    let mut out = open_output(output)?;
    write_document_to(&doc, &options, &mut out)
        .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
    out.flush().map_err(write_failed)?;
    Ok(())
}
