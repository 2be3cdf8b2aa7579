//! `platone pmu`: IEEE C37.118.2 frames from files, captures and live PMUs, and a simulator.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use platone_cim::pmu::PmuError;
use platone_cim::pmu::c37118::{DataFrame, Decoded, Decoder, FrameKind, check_frame};
use platone_cim::pmu::channel_map::ChannelMap;
use platone_cim::pmu::client::{ClientEvent, ClientOptions, spawn};
use platone_cim::pmu::framer::{FramerEvent, frames_in};
use platone_cim::pmu::json::decoded_json;
use platone_cim::pmu::pcap::{PcapEvent, read_pcap};
use platone_sim::pmu_server::{PmuServer, PmuServerOptions};
use serde_json::Value;

use crate::error::{CliError, CliResult};
use crate::io::{open_output, write_failed};

/// Output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
}

/// Subcommands of `platone pmu`.
#[derive(Debug, Subcommand)]
pub enum PmuCommand {
    /// Decode IEEE C37.118.2 frames and print them as JSON.
    ///
    /// Input is `--hex` (one frame per line, `#` lines ignored; offset = line number), `--raw`
    /// (a byte stream; offset = byte offset) or `--pcap` (a classic capture; TCP reassembled per
    /// flow, UDP whole; offset = byte offset in the flow). Without a flag, `.hex` and `.pcap`
    /// files are recognised by name and anything else is raw. Configuration frames are
    /// remembered, so data frames after them decode. A frame that cannot be decoded is reported
    /// on stderr with its offset and skipped; the exit code is then 1.
    Decode {
        /// The file, or `-` for standard input.
        file: PathBuf,
        /// One frame per line in hex.
        #[arg(long, group = "input")]
        hex: bool,
        /// A raw byte stream.
        #[arg(long, group = "input")]
        raw: bool,
        /// A classic pcap capture.
        #[arg(long, group = "input")]
        pcap: bool,
        /// Output layout.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// A channel map (JSON) naming phases, kinds and grid components of phasors.
        #[arg(long, value_name = "MAP")]
        channels: Option<PathBuf>,
        /// Print only the number of frames decoded.
        #[arg(long)]
        count: bool,
    },
    /// Connect to a PMU or PDC over TCP, run the handshake (turn off, send CFG-2, turn on) and
    /// print decoded frames as JSON lines; reconnects with backoff.
    Connect {
        /// `HOST:PORT` of the PMU or PDC (C37.118 uses TCP 4712 by default).
        addr: String,
        /// The IDCODE commands are addressed to.
        #[arg(long)]
        idcode: u16,
        /// Also ask for CFG-3.
        #[arg(long)]
        cfg3: bool,
        /// Stop after this many data frames.
        #[arg(long)]
        frames: Option<u64>,
        /// Give up after this many consecutive failed connections.
        #[arg(long)]
        max_attempts: Option<u32>,
        /// A channel map (JSON).
        #[arg(long, value_name = "MAP")]
        channels: Option<PathBuf>,
    },
    /// Serve a simulated PMU/PDC stream (configuration and three-phase data) over TCP.
    Simulate {
        /// The address to listen on (port 0 picks a free port; the address is printed on
        /// stderr).
        #[arg(long, default_value = "127.0.0.1:4712")]
        listen: String,
        /// Data frames per second.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=32767))]
        rate: u16,
        /// PMU blocks per data frame.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        pmus: u16,
        /// The stream IDCODE.
        #[arg(long, default_value_t = 1)]
        idcode: u16,
    },
}

/// Runs a `platone pmu` subcommand.
pub fn run(command: PmuCommand) -> CliResult {
    match command {
        PmuCommand::Decode {
            file,
            hex,
            raw,
            pcap,
            format,
            channels,
            count,
        } => {
            let mode = if hex {
                Mode::Hex
            } else if pcap {
                Mode::Pcap
            } else if raw {
                Mode::Raw
            } else {
                Mode::guess(&file)
            };
            let map = load_map(channels.as_deref())?;
            decode(&file, mode, format, map.as_ref(), count)
        }
        PmuCommand::Connect {
            addr,
            idcode,
            cfg3,
            frames,
            max_attempts,
            channels,
        } => {
            let map = load_map(channels.as_deref())?;
            runtime()?.block_on(connect(addr, idcode, cfg3, frames, max_attempts, map))
        }
        PmuCommand::Simulate {
            listen,
            rate,
            pmus,
            idcode,
        } => runtime()?.block_on(simulate(listen, rate, pmus, idcode)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hex,
    Raw,
    Pcap,
}

impl Mode {
    fn guess(path: &Path) -> Mode {
        match path.extension().and_then(|e| e.to_str()) {
            Some("hex") => Mode::Hex,
            Some("pcap") => Mode::Pcap,
            _ => Mode::Raw,
        }
    }
}

fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the async runtime: {e}")))
}

fn load_map(path: Option<&Path>) -> CliResult<Option<ChannelMap>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?;
    ChannelMap::from_json(&text)
        .map(Some)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn read_all(path: &Path) -> CliResult<Vec<u8>> {
    let mut bytes = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    result.map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?;
    Ok(bytes)
}

/// Decodes frames one by one and prints them; counts rejects.
struct Printer<'a> {
    decoder: Decoder,
    scratch: DataFrame,
    map: Option<&'a ChannelMap>,
    format: Format,
    count_only: bool,
    out: Box<dyn Write>,
    decoded: u64,
    rejected: u64,
    first: bool,
    file: String,
}

impl Printer<'_> {
    fn reject(&mut self, offset: u64, what: &str, error: &dyn std::fmt::Display) {
        self.rejected += 1;
        eprintln!("error: {}: {what} {offset}: {error}", self.file);
    }

    fn frame(
        &mut self,
        offset: u64,
        what: &str,
        bytes: &[u8],
        extra: Option<(u64, &str)>,
    ) -> CliResult {
        if self.count_only {
            // The fast path: data frames decode into one reused value.
            if let Ok((header, frame)) = check_frame(bytes)
                && header.kind == FrameKind::Data
            {
                return match self.decoder.registry().decode_data_into(
                    header,
                    frame,
                    &mut self.scratch,
                ) {
                    Ok(()) => {
                        self.decoded += 1;
                        Ok(())
                    }
                    Err(e) => {
                        self.reject(offset, what, &e);
                        Ok(())
                    }
                };
            }
        }
        match self.decoder.decode(bytes) {
            Ok(decoded) => {
                self.decoded += 1;
                if !self.count_only {
                    let mut value =
                        decoded_json(&decoded, offset, self.decoder.registry(), self.map);
                    if let (Some((packet, flow)), Some(o)) = (extra, value.as_object_mut()) {
                        o.insert("packet".into(), Value::from(packet));
                        o.insert("flow".into(), Value::from(flow));
                    }
                    self.print(&value)?;
                }
            }
            Err(e) => self.reject(offset, what, &e),
        }
        Ok(())
    }

    fn print(&mut self, value: &Value) -> CliResult {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, value)
                    .map_err(|e| CliError::input(e.to_string()))?;
                self.out.write_all(b"\n").map_err(write_failed)
            }
            Format::Json => {
                let sep: &[u8] = if self.first { b"[\n" } else { b",\n" };
                self.first = false;
                self.out.write_all(sep).map_err(write_failed)?;
                serde_json::to_writer(&mut self.out, value)
                    .map_err(|e| CliError::input(e.to_string()))
            }
        }
    }

    fn finish(mut self) -> CliResult {
        if self.count_only {
            writeln!(self.out, "{}", self.decoded).map_err(write_failed)?;
        } else if self.format == Format::Json {
            let end: &[u8] = if self.first { b"[]\n" } else { b"\n]\n" };
            self.out.write_all(end).map_err(write_failed)?;
        }
        self.out.flush().map_err(write_failed)?;
        if self.rejected > 0 {
            return Err(CliError::input(format!(
                "{}: {} frame(s) rejected, {} decoded",
                self.file, self.rejected, self.decoded
            )));
        }
        Ok(())
    }
}

fn decode(
    file: &Path,
    mode: Mode,
    format: Format,
    map: Option<&ChannelMap>,
    count_only: bool,
) -> CliResult {
    let bytes = read_all(file)?;
    let mut p = Printer {
        decoder: Decoder::new(),
        scratch: DataFrame::default(),
        map,
        format,
        count_only,
        out: open_output(None)?,
        decoded: 0,
        rejected: 0,
        first: true,
        file: file.display().to_string(),
    };
    match mode {
        Mode::Hex => {
            let text = String::from_utf8_lossy(&bytes);
            for (i, line) in text.lines().enumerate() {
                let line_no = i as u64 + 1;
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let clean: String = line.chars().filter(|c| !c.is_whitespace()).collect();
                match hex_bytes(&clean) {
                    Ok(frame) => p.frame(line_no, "line", &frame, None)?,
                    Err(e) => p.reject(line_no, "line", &e),
                }
            }
        }
        Mode::Raw => {
            for ev in frames_in(&bytes) {
                match ev {
                    FramerEvent::Frame { offset, bytes } => p.frame(offset, "byte", bytes, None)?,
                    FramerEvent::Corrupt { offset, error } => p.reject(offset, "byte", &error),
                    FramerEvent::Skipped { offset, len } => {
                        p.reject(
                            offset,
                            "byte",
                            &format!("{len} byte(s) that start no frame skipped"),
                        );
                    }
                }
            }
        }
        Mode::Pcap => {
            let events = read_pcap(&bytes[..])
                .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
            for ev in events {
                match ev {
                    PcapEvent::Frame {
                        packet,
                        flow,
                        offset,
                        bytes,
                    } => {
                        p.frame(offset, "byte", &bytes, Some((packet, flow.as_str())))?;
                    }
                    PcapEvent::Corrupt {
                        packet,
                        flow,
                        offset,
                        error,
                    } => {
                        p.reject(
                            offset,
                            "byte",
                            &format!("packet {packet} ({flow}): {error}"),
                        );
                    }
                }
            }
        }
    }
    p.finish()
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

async fn connect(
    addr: String,
    idcode: u16,
    cfg3: bool,
    frames: Option<u64>,
    max_attempts: Option<u32>,
    map: Option<ChannelMap>,
) -> CliResult {
    let mut options = ClientOptions::new(idcode);
    options.request_cfg3 = cfg3;
    options.max_attempts = max_attempts;
    let (mut rx, task) = spawn(addr.clone(), options);
    let mut out = open_output(None)?;
    let mut registry = platone_cim::pmu::c37118::ConfigRegistry::new();
    let mut data = 0u64;
    let mut offset = 0u64;
    while let Some(ev) = rx.recv().await {
        let decoded = match ev {
            ClientEvent::Connected { addr } => {
                eprintln!("connected to {addr}");
                continue;
            }
            ClientEvent::Disconnected { reason, retry_in } => {
                match retry_in {
                    Some(d) => eprintln!("error: {addr}: {reason}; reconnecting in {d:?}"),
                    None => eprintln!("error: {addr}: {reason}"),
                }
                continue;
            }
            ClientEvent::Rejected { offset, error } => {
                eprintln!("error: {addr}: byte {offset}: {error}");
                continue;
            }
            ClientEvent::Config(c, u) => {
                registry.insert(c.clone());
                Decoded::Config(c, u)
            }
            ClientEvent::Data(d, c) => Decoded::Data(d, c),
            ClientEvent::Header(h) => Decoded::Header(h),
            ClientEvent::Command(c) => Decoded::Command(c),
            // Events a newer client may add say nothing about the stream's frames.
            _ => continue,
        };
        offset += 1;
        let value = decoded_json(&decoded, offset, &registry, map.as_ref());
        serde_json::to_writer(&mut out, &value).map_err(|e| CliError::input(e.to_string()))?;
        out.write_all(b"\n").map_err(write_failed)?;
        out.flush().map_err(write_failed)?;
        if matches!(decoded, Decoded::Data(..)) {
            data += 1;
            if frames.is_some_and(|n| data >= n) {
                task.abort();
                return Ok(());
            }
        }
    }
    match task.await {
        Ok(Err(e)) => Err(CliError::input(e)),
        _ => Ok(()),
    }
}

async fn simulate(listen: String, rate: u16, pmus: u16, idcode: u16) -> CliResult {
    let options = PmuServerOptions {
        idcode,
        rate,
        pmus: usize::from(pmus),
        ..PmuServerOptions::default()
    };
    let sim = PmuServer::bind(&listen, options).await.map_err(pmu_error)?;
    let addr = sim.local_addr().map_err(pmu_error)?;
    eprintln!("listening on {addr}");
    sim.run().await.map_err(pmu_error)
}

fn pmu_error(e: PmuError) -> CliError {
    CliError::input(e)
}
