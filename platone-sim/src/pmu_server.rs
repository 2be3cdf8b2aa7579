//! A simulated PMU/PDC over TCP: a server that answers IEEE C37.118.2 commands (header,
//! CFG-1, CFG-2, CFG-3 — fragmented if asked — and turn data on/off) and streams data frames at
//! a given rate. The values are those of the field simulator's PMUs ([`pmu_values`]): 230 V
//! phase voltages 120° apart, currents lagging by 0.3 rad (power factor 0.955), frequency
//! wandering around 50 Hz with its ROCOF, and reproducible noise from the seed. It serves
//! `platone pmu simulate`, the tests of the PMU client of `platone-cim` and load tests.
//!
//! ```
//! use platone_sim::pmu_server::{PmuServer, PmuServerOptions};
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let server = PmuServer::bind("127.0.0.1:0", PmuServerOptions::default()).await?;
//! let addr = server.local_addr()?; // a PDC or `platone pmu live` connects here
//! let task = tokio::spawn(server.run());
//! # task.abort();
//! # Ok::<(), platone_cim::pmu::PmuError>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use platone_cim::pmu::PmuError;
use platone_cim::pmu::c37118::{
    Cfg3Extras, Command, ConfigFrame, DataFormat, DataLayout, FracSec, FrameHeader, FrameKind,
    HeaderFrame, PhasorChannel, PhasorKind, PhasorScale, PmuConfig, PmuData, TimeBase, TimeQuality,
    encode_cfg3_fragments,
};
use platone_cim::pmu::c37118::{Frame, parse_frame};
use platone_cim::pmu::framer::{Framer, FramerEvent};

use crate::pmu::pmu_values;

/// What the server serves.
#[derive(Debug, Clone)]
pub struct PmuServerOptions {
    /// The stream IDCODE (PMU blocks get IDCODE, IDCODE+1, …).
    pub idcode: u16,
    /// Data frames per second (1 to 32767).
    pub rate: u16,
    /// PMU blocks per data frame.
    pub pmus: usize,
    /// Largest CFG-3 frame; bigger configurations are sent in fragments.
    pub cfg3_fragment_size: usize,
    /// Close each connection after this many data frames (to exercise reconnects).
    pub frames_per_connection: Option<u64>,
    /// The seed of the values' noise (as [`FieldPlan::seed`](crate::FieldPlan::seed)).
    pub seed: u64,
}

impl Default for PmuServerOptions {
    fn default() -> Self {
        PmuServerOptions {
            idcode: 1,
            rate: 50,
            pmus: 1,
            cfg3_fragment_size: 65_535,
            frames_per_connection: None,
            seed: 1,
        }
    }
}

fn phase_scale(kind: PhasorKind, component: u8) -> PhasorScale {
    PhasorScale {
        modification: 0,
        phasor_type: component | if kind == PhasorKind::Current { 0x08 } else { 0 },
        user: 0,
        magnitude_scale: 1.0,
        angle_offset: 0.0,
    }
}

/// The configuration the server serves, as CFG-3 (use [`ConfigFrame::with_kind`] for
/// CFG-1/2): per PMU block (stations `SIM PMU 1`, …) float polar phasors VA, VB, VC, IA, IB,
/// IC in the order of [`pmu_values`], float frequency, 50 Hz.
pub fn server_config(options: &PmuServerOptions, soc: u32) -> ConfigFrame {
    let pmus = (0..options.pmus)
        .map(|k| {
            let phasors = [
                ("VA", PhasorKind::Voltage, 4),
                ("VB", PhasorKind::Voltage, 5),
                ("VC", PhasorKind::Voltage, 6),
                ("IA", PhasorKind::Current, 4),
                ("IB", PhasorKind::Current, 5),
                ("IC", PhasorKind::Current, 6),
            ]
            .map(|(name, kind, comp)| PhasorChannel {
                name: name.to_string(),
                kind,
                unit_scale: 0,
                scale: Some(phase_scale(kind, comp)),
            })
            .to_vec();
            PmuConfig {
                station: format!("SIM PMU {}", k + 1),
                idcode: options.idcode.wrapping_add(k as u16),
                format: DataFormat(0x000F),
                phasors,
                analogs: Vec::new(),
                digitals: Vec::new(),
                fnom: 1,
                cfgcnt: 1,
                cfg3: Some(Cfg3Extras {
                    global_pmu_id: [k as u8; 16],
                    latitude: 50.78,
                    longitude: 6.05,
                    elevation: 170.0,
                    service_class: b'P',
                    window: 40_000,
                    group_delay: 20_000,
                }),
            }
        })
        .collect();
    ConfigFrame {
        header: FrameHeader::new(FrameKind::Cfg3, 2, options.idcode, soc, FracSec(0)),
        time_base: TimeBase::MICROSECONDS,
        pmus,
        data_rate: options.rate.min(i16::MAX as u16) as i16,
    }
}

/// The values of every PMU block in data frame number `frame`, at `t` seconds since the Unix
/// epoch: block `k` measures what the field simulator's PMU number `k` does.
pub fn server_values(options: &PmuServerOptions, frame: u64, t: f64) -> Vec<PmuData> {
    (0..options.pmus)
        .map(|k| pmu_values(options.seed, k, frame, t))
        .collect()
}

/// A simulated PMU/PDC's listening socket.
#[derive(Debug)]
pub struct PmuServer {
    listener: TcpListener,
    options: PmuServerOptions,
}

impl PmuServer {
    /// Binds the server (use port 0 for a free port).
    pub async fn bind(addr: &str, options: PmuServerOptions) -> Result<Self, PmuError> {
        if options.rate == 0 || options.rate > i16::MAX as u16 || options.pmus == 0 {
            return Err(PmuError::Protocol(format!(
                "the PMU server needs a rate of 1 to 32767 frames/s and at least one PMU (rate {}, pmus {})",
                options.rate, options.pmus
            )));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io(format!("bind {addr}"), e))?;
        Ok(PmuServer { listener, options })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, PmuError> {
        self.listener
            .local_addr()
            .map_err(|e| io("local address", e))
    }

    /// Serves connections until the task is dropped; each connection runs on its own task.
    pub async fn run(self) -> Result<(), PmuError> {
        loop {
            let (stream, _) = self.listener.accept().await.map_err(|e| io("accept", e))?;
            let options = self.options.clone();
            tokio::spawn(async move {
                // A client going away is normal; the error has nowhere useful to go.
                let _ = serve(stream, options).await;
            });
        }
    }
}

fn now() -> (u32, f64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.as_secs_f64(),
    )
}

async fn serve(mut stream: TcpStream, options: PmuServerOptions) -> Result<(), PmuError> {
    stream.set_nodelay(true).ok();
    let (soc, _) = now();
    let cfg3 = server_config(&options, soc);
    let layout = DataLayout::new(&cfg3);
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    let mut streaming = false;
    let mut sent = 0u64;
    let period = Duration::from_secs_f64(1.0 / f64::from(options.rate));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => {
                let n = read.map_err(|e| io("read command", e))?;
                if n == 0 {
                    return Ok(());
                }
                framer.push(&buf[..n]);
                let mut commands = Vec::new();
                while let Some(ev) = framer.next_event() {
                    if let FramerEvent::Frame { bytes, .. } = ev
                        && let Ok(Frame::Command(c)) = parse_frame(bytes)
                    {
                        commands.push(c.command);
                    }
                }
                for command in commands {
                    out.clear();
                    let (soc, _) = now();
                    match command {
                        Command::TurnOff => streaming = false,
                        Command::TurnOn => streaming = true,
                        Command::SendHeader => HeaderFrame {
                            header: FrameHeader::new(FrameKind::Header, 2, options.idcode, soc, FracSec(0)),
                            text: format!("Platone simulated PMU: {} PMU(s) at {} frames/s", options.pmus, options.rate),
                        }
                        .encode(&mut out)?,
                        Command::SendCfg1 => cfg3.with_kind(FrameKind::Cfg1).encode(&mut out)?,
                        Command::SendCfg2 => cfg3.with_kind(FrameKind::Cfg2).encode(&mut out)?,
                        Command::SendCfg3 => {
                            for f in encode_cfg3_fragments(&cfg3, options.cfg3_fragment_size)? {
                                out.extend_from_slice(&f);
                            }
                        }
                        _ => {}
                    }
                    if !out.is_empty() {
                        stream.write_all(&out).await.map_err(|e| io("send", e))?;
                    }
                }
            }
            _ = ticker.tick(), if streaming => {
                let (soc, t) = now();
                let frac = t.fract();
                let slot = (frac * f64::from(options.rate)).floor();
                let count = (slot / f64::from(options.rate) * 1e6) as u32;
                let t = f64::from(soc) + f64::from(count) / 1e6;
                let header = FrameHeader::new(FrameKind::Data, 2, options.idcode, soc, FracSec::new(TimeQuality(0), count));
                out.clear();
                layout.encode(header, &server_values(&options, sent, t), &mut out)?;
                stream.write_all(&out).await.map_err(|e| io("send data", e))?;
                sent += 1;
                if options.frames_per_connection.is_some_and(|max| sent >= max) {
                    return Ok(());
                }
            }
        }
    }
}

fn io(context: impl Into<String>, source: std::io::Error) -> PmuError {
    PmuError::Io {
        context: context.into(),
        source,
    }
}
