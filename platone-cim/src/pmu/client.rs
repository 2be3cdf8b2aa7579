//! A tokio client for a PMU or PDC over TCP: connect, send *turn off*, ask for CFG-2 (and CFG-3
//! if wanted), wait for a configuration, send *turn on*, then stream decoded frames; on any
//! failure reconnect with exponential backoff.
//!
//! ```no_run
//! # async fn demo() -> Result<(), platone_cim::pmu::PmuError> {
//! use platone_cim::pmu::client::{ClientEvent, ClientOptions, spawn};
//! let (mut events, _task) = spawn("192.0.2.10:4712".into(), ClientOptions::new(7734));
//! while let Some(event) = events.recv().await {
//!     if let ClientEvent::Data(frame, _config) = event {
//!         println!("{:?}", frame.pmus[0].frequency);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::PmuError;
use super::c37118::{
    Command, CommandFrame, ConfigFrame, ConfigUpdate, DataFrame, Decoded, Decoder, HeaderFrame,
};
use super::c37118::{FracSec, FrameHeader, FrameKind};
use super::framer::{Framer, FramerEvent};

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The IDCODE commands are addressed to.
    pub idcode: u16,
    /// Also ask for CFG-3 (optional in the standard; many PMUs ignore it).
    pub request_cfg3: bool,
    /// How long to wait for a configuration before reconnecting.
    pub config_timeout: Duration,
    /// First reconnect delay; doubled after each failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Give up after this many consecutive failed connections (`None`: never).
    pub max_attempts: Option<u32>,
}

impl ClientOptions {
    /// Defaults for a stream: CFG-2 only, 5 s configuration timeout, backoff 100 ms to 10 s.
    pub fn new(idcode: u16) -> Self {
        ClientOptions {
            idcode,
            request_cfg3: false,
            config_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            max_attempts: None,
        }
    }
}

/// What the client reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Connected and the turn-off / send-configuration commands sent.
    Connected {
        /// The peer.
        addr: String,
    },
    /// A configuration arrived.
    Config(Arc<ConfigFrame>, ConfigUpdate),
    /// A decoded data frame.
    Data(DataFrame, Arc<ConfigFrame>),
    /// A header frame.
    Header(HeaderFrame),
    /// A command frame from the peer (unusual).
    Command(CommandFrame),
    /// A frame that could not be used (bad CHK, no configuration, size mismatch); skipped.
    Rejected {
        /// Byte offset in this connection's stream.
        offset: u64,
        /// Why.
        error: PmuError,
    },
    /// The connection failed or ended; the client retries after `retry_in`.
    Disconnected {
        /// What happened.
        reason: String,
        /// The delay before the next attempt (`None`: giving up).
        retry_in: Option<Duration>,
    },
}

/// Starts the client on the current tokio runtime. Events arrive on the receiver; dropping
/// it stops the client. The task ends with an error when `max_attempts` is exhausted.
pub fn spawn(
    addr: String,
    options: ClientOptions,
) -> (
    mpsc::Receiver<ClientEvent>,
    JoinHandle<Result<(), PmuError>>,
) {
    let (tx, rx) = mpsc::channel(1024);
    let task = tokio::spawn(run(addr, options, tx));
    (rx, task)
}

/// Whether the receiver went away (then the client stops).
struct Closed;

async fn run(
    addr: String,
    options: ClientOptions,
    tx: mpsc::Sender<ClientEvent>,
) -> Result<(), PmuError> {
    let mut delay = options.backoff_initial;
    let mut failures = 0u32;
    loop {
        let outcome = session(&addr, &options, &tx).await;
        let (reason, productive) = match outcome {
            Ok(Ok(productive)) => ("connection closed by the peer".to_string(), productive),
            Ok(Err(e)) => (e.to_string(), false),
            Err(Closed) => return Ok(()),
        };
        if productive {
            failures = 0;
            delay = options.backoff_initial;
        } else {
            failures += 1;
        }
        let give_up = options.max_attempts.is_some_and(|m| failures >= m);
        let retry_in = (!give_up).then_some(delay);
        if tx
            .send(ClientEvent::Disconnected {
                reason: reason.clone(),
                retry_in,
            })
            .await
            .is_err()
        {
            return Ok(());
        }
        if give_up {
            return Err(PmuError::Protocol(format!(
                "{addr}: gave up after {failures} failed attempt(s): {reason}"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(options.backoff_max);
    }
}

/// One connection. `Ok(Ok(true))` when it delivered data before ending.
async fn session(
    addr: &str,
    options: &ClientOptions,
    tx: &mpsc::Sender<ClientEvent>,
) -> Result<Result<bool, PmuError>, Closed> {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(PmuError::io(format!("connect {addr}"), e))),
    };
    stream.set_nodelay(true).ok();
    let id = options.idcode;
    let mut handshake = vec![Command::TurnOff, Command::SendCfg2];
    if options.request_cfg3 {
        handshake.push(Command::SendCfg3);
    }
    for c in handshake {
        if let Err(e) = send_command(&mut stream, id, c).await {
            return Ok(Err(e));
        }
    }
    send(
        tx,
        ClientEvent::Connected {
            addr: addr.to_string(),
        },
    )
    .await?;
    let mut decoder = Decoder::new();
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut turned_on = false;
    let mut productive = false;
    let deadline = tokio::time::Instant::now() + options.config_timeout;
    loop {
        let read = if turned_on {
            stream.read(&mut buf).await
        } else {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    return Ok(Err(PmuError::Protocol(format!(
                        "{addr}: no configuration within {:?}",
                        options.config_timeout
                    ))));
                }
            }
        };
        let n = match read {
            Ok(0) => return Ok(Ok(productive)),
            Ok(n) => n,
            Err(e) => return Ok(Err(PmuError::io(format!("read {addr}"), e))),
        };
        framer.push(&buf[..n]);
        let mut events = Vec::new();
        while let Some(ev) = framer.next_event() {
            match ev {
                FramerEvent::Frame { offset, bytes } => match decoder.decode(bytes) {
                    Ok(Decoded::Data(frame, config)) => {
                        events.push(ClientEvent::Data(frame, config))
                    }
                    Ok(Decoded::Config(config, update)) => {
                        events.push(ClientEvent::Config(config, update))
                    }
                    Ok(Decoded::Header(h)) => events.push(ClientEvent::Header(h)),
                    Ok(Decoded::Command(c)) => events.push(ClientEvent::Command(c)),
                    Ok(Decoded::Cfg3Fragment { .. }) => {}
                    Err(error) => events.push(ClientEvent::Rejected { offset, error }),
                },
                FramerEvent::Corrupt { offset, error } => {
                    events.push(ClientEvent::Rejected { offset, error })
                }
                FramerEvent::Skipped { .. } => {}
            }
        }
        for ev in events {
            match &ev {
                ClientEvent::Config(..) if !turned_on => {
                    turned_on = true;
                    if let Err(e) = send_command(&mut stream, id, Command::TurnOn).await {
                        return Ok(Err(e));
                    }
                }
                ClientEvent::Data(..) => productive = true,
                _ => {}
            }
            send(tx, ev).await?;
        }
    }
}

async fn send(tx: &mpsc::Sender<ClientEvent>, ev: ClientEvent) -> Result<(), Closed> {
    tx.send(ev).await.map_err(|_| Closed)
}

/// Sends one command frame on a stream, stamped with the current second.
async fn send_command(
    stream: &mut (impl AsyncWriteExt + Unpin),
    idcode: u16,
    command: Command,
) -> Result<(), PmuError> {
    let soc = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0);
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
