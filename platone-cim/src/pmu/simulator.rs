//! A PMU/PDC simulator: a TCP server that answers C37.118.2 commands (header, CFG-1, CFG-2,
//! CFG-3 — fragmented if asked — and turn data on/off) and streams data frames at a given rate
//! with realistic three-phase values: 230 V phase voltages 120° apart, currents lagging by
//! about 17° (power factor 0.955), frequency wandering around 50 Hz and its ROCOF. Used by the
//! tests and for load tests.

use std::f64::consts::PI;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::PmuError;
use super::c37118::{
    Cfg3Extras, Command, CommandFrame, ConfigFrame, DataFormat, DataLayout, FracSec, FrameHeader,
    FrameKind, HeaderFrame, PhasorChannel, PhasorKind, PhasorScale, PhasorValue, PmuConfig,
    PmuData, Stat, TimeBase, TimeQuality, encode_cfg3_fragments,
};
use super::framer::{Framer, FramerEvent};

/// What the simulator serves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
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
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        SimulatorOptions {
            idcode: 1,
            rate: 50,
            pmus: 1,
            cfg3_fragment_size: 65_535,
            frames_per_connection: None,
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

/// The configuration the simulator serves, as CFG-3 (use [`ConfigFrame::with_kind`] for
/// CFG-1/2): float polar phasors VA, VB, VC, IA, IB, IC per PMU, float frequency, 50 Hz.
pub fn simulator_config(options: &SimulatorOptions, soc: u32) -> ConfigFrame {
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

/// The values of every PMU block at `t` seconds (since the Unix epoch).
pub fn simulated_values(options: &SimulatorOptions, t: f64) -> Vec<PmuData> {
    (0..options.pmus)
        .map(|k| {
            let k = k as f64;
            let df = 0.02 * (2.0 * PI * 0.1 * t).sin();
            let rocof = 0.02 * 2.0 * PI * 0.1 * (2.0 * PI * 0.1 * t).cos();
            let base = (2.0 * PI * df * (t % 10.0)) + 0.05 * k;
            let v = 230.0 * (1.0 + 0.005 * (2.0 * PI * 0.05 * t + k).sin());
            let i = 100.0 * (1.0 + 0.1 * k) * (1.0 + 0.05 * (2.0 * PI * 0.02 * t).sin());
            let lag = 0.3;
            let mut phasors = Vec::with_capacity(6);
            for (mag, shift) in [(v, 0.0), (v, -2.0 * PI / 3.0), (v, 2.0 * PI / 3.0)] {
                phasors.push(Some(PhasorValue::Polar {
                    magnitude: mag,
                    angle: wrap(base + shift),
                }));
            }
            for shift in [0.0, -2.0 * PI / 3.0, 2.0 * PI / 3.0] {
                phasors.push(Some(PhasorValue::Polar {
                    magnitude: i,
                    angle: wrap(base + shift - lag),
                }));
            }
            PmuData {
                stat: Stat(0),
                phasors,
                frequency: Some(50.0 + df),
                rocof: Some(rocof),
                analogs: Vec::new(),
                digitals: Vec::new(),
            }
        })
        .collect()
}

fn wrap(a: f64) -> f64 {
    (a + PI).rem_euclid(2.0 * PI) - PI
}

/// A running simulator's listening socket.
#[derive(Debug)]
pub struct Simulator {
    listener: TcpListener,
    options: SimulatorOptions,
}

impl Simulator {
    /// Binds the server (use port 0 for a free port).
    pub async fn bind(addr: &str, options: SimulatorOptions) -> Result<Self, PmuError> {
        if options.rate == 0 || options.rate > i16::MAX as u16 || options.pmus == 0 {
            return Err(PmuError::Protocol(format!(
                "simulator needs a rate of 1 to 32767 frames/s and at least one PMU (rate {}, pmus {})",
                options.rate, options.pmus
            )));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| PmuError::io(format!("bind {addr}"), e))?;
        Ok(Simulator { listener, options })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, PmuError> {
        self.listener
            .local_addr()
            .map_err(|e| PmuError::io("local address", e))
    }

    /// Serves connections until the task is dropped; each connection runs on its own task.
    pub async fn run(self) -> Result<(), PmuError> {
        loop {
            let (stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| PmuError::io("accept", e))?;
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

async fn serve(mut stream: TcpStream, options: SimulatorOptions) -> Result<(), PmuError> {
    stream.set_nodelay(true).ok();
    let (soc, _) = now();
    let cfg3 = simulator_config(&options, soc);
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
                let n = read.map_err(|e| PmuError::io("read command", e))?;
                if n == 0 {
                    return Ok(());
                }
                framer.push(&buf[..n]);
                let mut commands = Vec::new();
                while let Some(ev) = framer.next_event() {
                    if let FramerEvent::Frame { bytes, .. } = ev
                        && let Ok(super::c37118::Frame::Command(c)) = super::c37118::parse_frame(bytes)
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
                            text: format!("Platone PMU simulator: {} PMU(s) at {} frames/s", options.pmus, options.rate),
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
                        stream.write_all(&out).await.map_err(|e| PmuError::io("send", e))?;
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
                layout.encode(header, &simulated_values(&options, t), &mut out)?;
                stream.write_all(&out).await.map_err(|e| PmuError::io("send data", e))?;
                sent += 1;
                if options.frames_per_connection.is_some_and(|max| sent >= max) {
                    return Ok(());
                }
            }
        }
    }
}

/// Sends one command frame on a stream (a helper for clients and tests).
pub(crate) async fn send_command(
    stream: &mut (impl AsyncWriteExt + Unpin),
    idcode: u16,
    command: Command,
) -> Result<(), PmuError> {
    let (soc, _) = now();
    let mut out = Vec::with_capacity(18);
    CommandFrame {
        header: FrameHeader::new(FrameKind::Command, 1, idcode, soc, FracSec(0)),
        command,
    }
    .encode(&mut out)?;
    stream
        .write_all(&out)
        .await
        .map_err(|e| PmuError::io("send command", e))
}
