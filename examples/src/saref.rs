//! `platone saref`: measurements as SAREF / SAREF4GRID / SARGON linked data, and back.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use platone_cim::meter_readings::{MeterReadingsStream, Mode, Record};
use platone_cim::pmu::c37118::{Decoded, Decoder};
use platone_cim::pmu::channel_map::ChannelMap;
use platone_cim::pmu::convert::data_to_measurements;
use platone_cim::pmu::framer::{FramerEvent, frames_in};
use platone_cim::pmu::pcap::{PcapEvent, read_pcap};
use platone_cim::pmu::sogno::SognoMessage;
use platone_model::Measurement;
use platone_saref::{Base, DeviceRole, Format, MappingOptions, Pattern, RdfWriter};

use crate::error::{CliError, CliResult};
use crate::io::{open_input, open_output, write_failed};

/// What `platone saref map` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// An IEC 61968-9 MeterReadings document, in or out of its envelope (streamed).
    Cim,
    /// SOGNO/LOCO PMU JSON: one message, an array of messages, or one message per line.
    PmuJson,
    /// An IEEE C37.118.2 capture with its configuration frames (`.hex`, `.pcap` or raw bytes).
    C37118,
    /// Measurement JSON lines, as the other commands print them.
    Measurements,
}

/// An RDF serialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RdfFormat {
    /// Turtle with prefixes.
    Turtle,
    /// N-Triples.
    Ntriples,
    /// Compact JSON-LD with the context inline.
    Jsonld,
}

impl RdfFormat {
    fn format(self) -> Format {
        match self {
            RdfFormat::Turtle => Format::Turtle,
            RdfFormat::Ntriples => Format::NTriples,
            RdfFormat::Jsonld => Format::JsonLd,
        }
    }
}

/// What `platone saref read` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Measurement JSON lines.
    Measurements,
    /// SetPoint JSON lines.
    SetPoints,
}

/// Subcommands of `platone saref`.
#[derive(Debug, Subcommand)]
pub enum SarefCommand {
    /// Map readings to SAREF core 3.1.1 / SAREF4GRID / SARGON RDF (mapping in docs/saref.md).
    ///
    /// Writes in constant memory per reading. On bad input prints a located error, exits 1 and
    /// writes nothing.
    Map {
        /// The input file, or `-` for standard input.
        input: PathBuf,
        /// The input's form.
        #[arg(long, value_enum)]
        from: Source,
        /// The RDF serialisation.
        #[arg(long, value_enum, default_value = "turtle")]
        to: RdfFormat,
        /// The base IRI of minted IRIs (ends with `/` or `#`).
        #[arg(long, default_value = platone_saref::DEFAULT_BASE)]
        base: String,
        /// Where to write (standard output by default).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Follow SAREF core 4's Observation/PropertyValue pattern instead of 3.1.1's Measurement.
        #[arg(long)]
        saref4: bool,
        /// CIM: accept what real producers get wrong, with warnings.
        #[arg(long)]
        lenient: bool,
        /// C37.118: a channel map (JSON) naming devices and grid components.
        #[arg(long)]
        map: Option<PathBuf>,
    },
    /// Read RDF that follows the mapping back into JSON lines.
    Read {
        /// The RDF file, or `-` for standard input.
        file: PathBuf,
        /// The serialisation (guessed from the extension: .ttl, .nt, .jsonld/.json).
        #[arg(long, value_enum)]
        format: Option<RdfFormat>,
        /// What to print.
        #[arg(long, value_enum, default_value = "measurements")]
        to: Target,
    },
}

/// Runs a `platone saref` subcommand.
pub fn run(command: SarefCommand) -> CliResult {
    match command {
        SarefCommand::Map {
            input,
            from,
            to,
            base,
            out,
            saref4,
            lenient,
            map,
        } => {
            let base = Base::new(base).map_err(|e| CliError::usage(format!("--base: {e}")))?;
            let options = MappingOptions {
                base,
                pattern: if saref4 {
                    Pattern::Saref4Observation
                } else {
                    Pattern::Saref3Measurement
                },
                device_role: match from {
                    Source::PmuJson | Source::C37118 => DeviceRole::Pmu,
                    _ => DeviceRole::Auto,
                },
                ..MappingOptions::default()
            };
            let channel_map = load_map(map.as_deref())?;
            map_file(
                &input,
                from,
                to.format(),
                options,
                lenient,
                channel_map.as_ref(),
                out.as_deref(),
            )
        }
        SarefCommand::Read { file, format, to } => read(&file, format, to),
    }
}

fn load_map(path: Option<&Path>) -> CliResult<Option<ChannelMap>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?;
    ChannelMap::from_json(&text)
        .map(Some)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// Writes the document to a temporary file first, so nothing is written when the input fails.
fn map_file(
    input: &Path,
    from: Source,
    format: Format,
    options: MappingOptions,
    lenient: bool,
    channel_map: Option<&ChannelMap>,
    out: Option<&Path>,
) -> CliResult {
    let dir = match out {
        Some(p) if p.as_os_str() != "-" => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        _ => std::env::temp_dir(),
    };
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        CliError::input(format!(
            "{}: cannot create a temporary file: {e}",
            dir.display()
        ))
    })?;
    let file = tmp
        .reopen()
        .map_err(|e| CliError::input(format!("cannot reopen the temporary file: {e}")))?;
    let buffered = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut writer =
        RdfWriter::new(buffered, format, options).map_err(|e| CliError::input(e.to_string()))?;
    let name = input.display().to_string();
    let mut count = 0u64;
    let mut emit = |m: &Measurement| -> CliResult {
        count += 1;
        writer
            .write_measurement(m, None)
            .map_err(|e| CliError::input(format!("cannot write output: {e}")))
    };
    match from {
        Source::Cim => {
            let mode = if lenient { Mode::Lenient } else { Mode::Strict };
            let mut records = MeterReadingsStream::new(open_input(input)?, mode).records();
            while let Some(item) = records.next() {
                for w in records.take_warnings() {
                    eprintln!("warning: {name}:{w}");
                }
                match item.map_err(|e| CliError::input(format!("{name}:{e}")))? {
                    Record::Reading(r) => {
                        let m = r
                            .to_measurement()
                            .map_err(|e| CliError::input(format!("{name}: {e}")))?;
                        emit(&m)?;
                    }
                    Record::Event(_) => {}
                }
            }
        }
        Source::Measurements => {
            for (i, line) in open_input(input)?.lines().enumerate() {
                let line = line.map_err(|e| CliError::input(format!("{name}:{}: {e}", i + 1)))?;
                if line.trim().is_empty() {
                    continue;
                }
                let m: Measurement = serde_json::from_str(&line)
                    .map_err(|e| CliError::input(format!("{name}:{}: {e}", i + 1)))?;
                emit(&m)?;
            }
        }
        Source::PmuJson => {
            let text = read_text(input)?;
            let trimmed = text.trim_start();
            let messages: Vec<SognoMessage> = if trimmed.starts_with('[') {
                serde_json::from_str(trimmed).map_err(|e| CliError::input(format!("{name}:{e}")))?
            } else if let Ok(one) = serde_json::from_str::<SognoMessage>(trimmed) {
                vec![one]
            } else {
                let mut all = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    all.push(
                        SognoMessage::from_json(line)
                            .map_err(|e| CliError::input(format!("{name}:{}: {e}", i + 1)))?,
                    );
                }
                all
            };
            for (i, message) in messages.iter().enumerate() {
                for m in message
                    .to_measurements()
                    .map_err(|e| CliError::input(format!("{name}: message {}: {e}", i + 1)))?
                {
                    emit(&m)?;
                }
            }
        }
        Source::C37118 => {
            let bytes = read_bytes(input)?;
            let mut decoder = Decoder::new();
            let mut frame = |what: String, bytes: &[u8]| -> CliResult {
                match decoder.decode(bytes) {
                    Ok(Decoded::Data(data, config)) => {
                        for m in data_to_measurements(&data, &config, channel_map)
                            .map_err(|e| CliError::input(format!("{name}: {what}: {e}")))?
                        {
                            emit(&m)?;
                        }
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(CliError::input(format!("{name}: {what}: {e}"))),
                }
            };
            match input.extension().and_then(|e| e.to_str()) {
                Some("hex") => {
                    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let clean: String = line.chars().filter(|c| !c.is_whitespace()).collect();
                        let raw = hex_bytes(&clean)
                            .map_err(|e| CliError::input(format!("{name}:{}: {e}", i + 1)))?;
                        frame(format!("line {}", i + 1), &raw)?;
                    }
                }
                Some("pcap") => {
                    for ev in read_pcap(&bytes[..])
                        .map_err(|e| CliError::input(format!("{name}: {e}")))?
                    {
                        match ev {
                            PcapEvent::Frame { offset, bytes, .. } => {
                                frame(format!("byte {offset}"), &bytes)?
                            }
                            PcapEvent::Corrupt { offset, error, .. } => {
                                return Err(CliError::input(format!(
                                    "{name}: byte {offset}: {error}"
                                )));
                            }
                        }
                    }
                }
                _ => {
                    for ev in frames_in(&bytes) {
                        match ev {
                            FramerEvent::Frame { offset, bytes } => {
                                frame(format!("byte {offset}"), bytes)?
                            }
                            FramerEvent::Corrupt { offset, error } => {
                                return Err(CliError::input(format!(
                                    "{name}: byte {offset}: {error}"
                                )));
                            }
                            FramerEvent::Skipped { offset, len } => {
                                return Err(CliError::input(format!(
                                    "{name}: byte {offset}: {len} byte(s) that start no frame"
                                )));
                            }
                        }
                    }
                }
            }
        }
    }
    let buffered = writer
        .finish()
        .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
    buffered
        .into_inner()
        .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
    match out {
        Some(p) if p.as_os_str() != "-" => {
            tmp.persist(p)
                .map_err(|e| CliError::input(format!("{}: cannot write: {e}", p.display())))?;
        }
        _ => {
            let mut file = tmp
                .reopen()
                .map_err(|e| CliError::input(format!("cannot reopen the temporary file: {e}")))?;
            let mut stdout = open_output(None)?;
            std::io::copy(&mut file, &mut stdout).map_err(write_failed)?;
            stdout.flush().map_err(write_failed)?;
        }
    }
    eprintln!("measurements {count}");
    Ok(())
}

fn read_bytes(path: &Path) -> CliResult<Vec<u8>> {
    let mut bytes = Vec::new();
    open_input(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?;
    Ok(bytes)
}

fn read_text(path: &Path) -> CliResult<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|e| CliError::input(format!("{}: not UTF-8: {e}", path.display())))
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("not hex at column {}", i + 1))
        })
        .collect()
}

fn read(file: &Path, format: Option<RdfFormat>, to: Target) -> CliResult {
    let format = match format {
        Some(f) => f.format(),
        None => match file.extension().and_then(|e| e.to_str()) {
            Some("ttl") => Format::Turtle,
            Some("nt") => Format::NTriples,
            Some("jsonld" | "json") => Format::JsonLd,
            _ => {
                return Err(CliError::usage(format!(
                    "{}: cannot tell the format from the name; give --format",
                    file.display()
                )));
            }
        },
    };
    let input = open_input(file)?;
    let fail = |e: platone_saref::SarefError| CliError::input(format!("{}: {e}", file.display()));
    let mut out = open_output(None)?;
    let mut count = 0usize;
    match to {
        Target::Measurements => {
            for m in platone_saref::read_measurements(input, format).map_err(fail)? {
                serde_json::to_writer(&mut out, &m).map_err(|e| CliError::input(e.to_string()))?;
                out.write_all(b"\n").map_err(write_failed)?;
                count += 1;
            }
        }
        Target::SetPoints => {
            for sp in platone_saref::read_set_points(input, format).map_err(fail)? {
                serde_json::to_writer(&mut out, &sp).map_err(|e| CliError::input(e.to_string()))?;
                out.write_all(b"\n").map_err(write_failed)?;
                count += 1;
            }
        }
    }
    out.flush().map_err(write_failed)?;
    eprintln!("read {count}");
    Ok(())
}
