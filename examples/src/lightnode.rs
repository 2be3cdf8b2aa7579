//! `platone lightnode`: one Light Node — set points for its PoD from the DSOTP's broker,
//! acknowledged and served to the customer's EMS over HTTP and Modbus TCP; with `--bal-mqtt`,
//! also its BAL side: the PoD's meter read every `--interval`, signed with `--key`, buffered on
//! disk (`--buffer`) through outages and delivered to the BAL's broker oldest first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use platone_bus::Bus;
use platone_certify::DeviceKey;
use platone_model::{DeviceId, MeterId, PodId};
use platone_sim::Signing;
use platone_sim::lightnode::{
    BAL_DEVICE_PREFIX, BalSide, DEFAULT_HTTP_PORT, DEFAULT_MODBUS_PORT, LightNode, OUTAGE, Outbox,
    OutboxConfig, SetPointBoard, SetPointTopics, SharedBoard, SharedOutbox, serve_http,
    serve_modbus,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bridge::{EndConfig, open_bus};
use crate::error::{CliError, CliResult};

/// Options of `platone lightnode`.
#[derive(Debug, Args)]
pub struct LightNodeArgs {
    /// The PoD the Light Node serves.
    #[arg(long)]
    pod: String,
    /// The Light Node's device id (in its acknowledgements, its BAL topic and documents)
    /// [default: ln-POD].
    #[arg(long)]
    device: Option<String>,
    /// The DSOTP's broker the set points come from: mqtt://, mqtts:// (with --dsotp-ca) or
    /// memory://.
    #[arg(long, value_name = "URL")]
    dsotp_mqtt: String,
    /// The DSOTP broker's CA certificate (PEM), for mqtts://.
    #[arg(long, visible_alias = "ca", value_name = "FILE")]
    dsotp_ca: Option<PathBuf>,
    /// The Light Node's client certificate for the DSOTP's broker (PEM; mutual TLS, with
    /// --dsotp-key).
    #[arg(
        long,
        visible_alias = "cert",
        value_name = "FILE",
        requires = "dsotp_key"
    )]
    dsotp_cert: Option<PathBuf>,
    /// The key of --dsotp-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "dsotp_cert")]
    dsotp_key: Option<PathBuf>,
    /// The prefix of set-point topics (`PREFIX/POD`, acknowledgements on `PREFIX/POD/ack`).
    #[arg(long, default_value = platone_sim::lightnode::SET_POINT_PREFIX)]
    topic_prefix: String,
    /// The EMS interface over HTTP (`GET /`).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_HTTP_PORT)))]
    http: SocketAddr,
    /// The EMS interface over Modbus TCP (holding registers 1000, 1100, 2000, 2100).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_MODBUS_PORT)))]
    modbus: SocketAddr,
    /// The BAL's broker the measurements go to: mqtt://, mqtts:// (with --bal-ca) or
    /// memory:// (needs --key). Without it the node runs its set-point side only.
    #[arg(long, value_name = "URL", requires = "key")]
    bal_mqtt: Option<String>,
    /// The device's signing key: a file holding the secp256k1 secret as hex (`platone keys
    /// generate --out FILE`); its address is registered for the PoD in the BAL.
    #[arg(long, value_name = "KEYFILE", requires = "bal_mqtt")]
    key: Option<PathBuf>,
    /// The BAL broker's CA certificate (PEM), for mqtts://.
    #[arg(long, value_name = "FILE", requires = "bal_mqtt")]
    bal_ca: Option<PathBuf>,
    /// The Light Node's client certificate for the BAL's broker (PEM; mutual TLS, with
    /// --bal-key).
    #[arg(long, value_name = "FILE", requires_all = ["bal_mqtt", "bal_key"])]
    bal_cert: Option<PathBuf>,
    /// The key of --bal-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "bal_cert")]
    bal_key: Option<PathBuf>,
    /// The meter the node reads (one of the PoD's meters in the BAL) [default: MTR-POD].
    #[arg(long, value_name = "ID")]
    meter: Option<String>,
    /// How packets are signed: eip191, eip712 (the BAL accepts its claimed time only within
    /// its signature skew, 300 s by default: not through a long outage) or none.
    #[arg(long, value_name = "SCHEME", default_value = "eip191")]
    sign: String,
    /// Chain id of EIP-712 signatures (the BAL's `chain_id`).
    #[arg(long, value_name = "ID", default_value_t = 1)]
    chain_id: u64,
    /// The prefix of the BAL's device topics: packets go to PREFIX/DEVICE/cim.
    #[arg(long, value_name = "PREFIX", default_value = BAL_DEVICE_PREFIX)]
    bal_prefix: String,
    /// Seconds between two meter readings.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    interval: f64,
    /// The disk buffer of BAL-bound packets [default: ./platone-data/lightnode/POD].
    #[arg(long, value_name = "DIR")]
    buffer: Option<PathBuf>,
    /// Bound of the disk buffer in bytes; the oldest packets are dropped (and counted) beyond
    /// it [default: 48 hours of readings at --interval, plus a quarter].
    #[arg(long, value_name = "BYTES")]
    buffer_max_bytes: Option<u64>,
    /// Largest number of packets awaiting the BAL broker's acknowledgement.
    #[arg(long, value_name = "N", default_value_t = 16)]
    in_flight: usize,
}

/// The BAL side, ready to run: its settings, its buffer, its bus.
struct BalPlan {
    side: BalSide,
    outbox: SharedOutbox,
    bus: Arc<dyn Bus>,
    url: String,
}

fn bal_plan(args: &LightNodeArgs, pod: &PodId, device: &DeviceId) -> CliResult<Option<BalPlan>> {
    let (Some(url), Some(key_path)) = (&args.bal_mqtt, &args.key) else {
        return Ok(None);
    };
    let key = DeviceKey::load(key_path)
        .map_err(|e| CliError::input(format!("--key {}: {e}", key_path.display())))?;
    let meter = args.meter.clone().unwrap_or_else(|| format!("MTR-{pod}"));
    let meter = MeterId::new(&meter).map_err(|e| CliError::usage(format!("--meter: {e}")))?;
    let mut side = BalSide::new(device.clone(), meter, key);
    side.signing = args
        .sign
        .parse::<Signing>()
        .map_err(|e| CliError::usage(format!("--sign: {e}")))?;
    side.chain_id = args.chain_id;
    side.topic_prefix = args.bal_prefix.clone();
    side.interval = Duration::try_from_secs_f64(args.interval)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::usage(format!(
                "--interval {}: give a positive number of seconds",
                args.interval
            ))
        })?;
    side.max_in_flight = args.in_flight;
    side.validate().map_err(CliError::usage)?;
    let max_bytes = match args.buffer_max_bytes {
        Some(bytes) => bytes,
        None => side
            .buffer_bytes_for(pod, OUTAGE)
            .map_err(CliError::input)?,
    };
    let dir = args
        .buffer
        .clone()
        .unwrap_or_else(|| PathBuf::from("./platone-data/lightnode").join(pod.as_str()));
    let config = OutboxConfig::new(max_bytes);
    config
        .validate()
        .map_err(|e| CliError::usage(format!("--buffer-max-bytes: {e}")))?;
    let outbox = Outbox::open(&dir, config).map_err(CliError::input)?;
    let end = EndConfig {
        url: Some(url.clone()),
        ca: args.bal_ca.clone(),
        cert: args.bal_cert.clone(),
        key: args.bal_key.clone(),
        ..EndConfig::default()
    };
    // Its own persistent session, apart from the DSOTP side's (the brokers may be one).
    let bus = open_bus(
        "bal-mqtt",
        url,
        &end,
        &format!("{device}-bal"),
        Duration::ZERO,
    )?;
    Ok(Some(BalPlan {
        side,
        outbox: Arc::new(Mutex::new(outbox)),
        bus,
        url: url.clone(),
    }))
}

/// Starts the BAL side: readings into the buffer, the buffer to the BAL's broker.
fn start_bal(plan: BalPlan, board: SharedBoard) -> CliResult<JoinHandle<platone_sim::Result<()>>> {
    let stats = plan
        .outbox
        .lock()
        .map_err(|_| CliError::input("the buffer's lock is poisoned"))?
        .stats();
    let dir = plan
        .outbox
        .lock()
        .map(|o| o.dir().display().to_string())
        .unwrap_or_default();
    eprintln!(
        "Light Node {}: meter {} every {:?} to {} on {} ({}), buffer {dir}: {} packet(s) \
         pending, {} dropped so far, bound {} bytes",
        plan.side.device,
        plan.side.meter,
        plan.side.interval,
        plan.side.topic(),
        plan.url,
        plan.side.signing,
        stats.pending,
        stats.dropped,
        plan.outbox
            .lock()
            .map(|o| o.config().max_bytes)
            .unwrap_or_default(),
    );
    let BalPlan {
        side, outbox, bus, ..
    } = plan;
    Ok(tokio::spawn(
        async move { side.run(board, outbox, bus).await },
    ))
}

/// Runs the Light Node until SIGINT or SIGTERM.
pub fn run(args: LightNodeArgs) -> CliResult {
    let pod = PodId::new(&args.pod).map_err(|e| CliError::usage(format!("--pod: {e}")))?;
    let device = args.device.clone().unwrap_or_else(|| format!("ln-{pod}"));
    let device = DeviceId::new(&device).map_err(|e| CliError::usage(format!("--device: {e}")))?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        // Checked (key, buffer) before anything listens.
        let bal = bal_plan(&args, &pod, &device)?;
        let end = EndConfig {
            url: Some(args.dsotp_mqtt.clone()),
            ca: args.dsotp_ca.clone(),
            cert: args.dsotp_cert.clone(),
            key: args.dsotp_key.clone(),
            ..EndConfig::default()
        };
        let bus = open_bus(
            "dsotp-mqtt",
            &args.dsotp_mqtt,
            &end,
            device.as_ref(),
            Duration::ZERO,
        )?;
        let bind = |what: &str, address: SocketAddr| {
            let what = what.to_owned();
            async move {
                tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|e| CliError::input(format!("--{what} {address}: {e}")))
            }
        };
        let http = bind("http", args.http).await?;
        let modbus = bind("modbus", args.modbus).await?;
        let board = Arc::new(Mutex::new(SetPointBoard::new(pod.clone())));
        let node = LightNode {
            device,
            topics: SetPointTopics {
                prefix: args.topic_prefix.clone(),
                ..SetPointTopics::default()
            },
            board: board.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let until = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.changed().await;
        };
        eprintln!(
            "Light Node {} of PoD {pod}: set points on {}, EMS on http://{} and modbus://{}",
            node.device,
            node.topics.set_points(&pod),
            http.local_addr()
                .map_err(|e| CliError::input(e.to_string()))?,
            modbus
                .local_addr()
                .map_err(|e| CliError::input(e.to_string()))?,
        );
        let bal = match bal {
            Some(plan) => Some(start_bal(plan, board.clone())?),
            None => None,
        };
        let http = tokio::spawn(serve_http(http, board.clone(), until(stopped.clone())));
        let modbus = tokio::spawn(serve_modbus(modbus, board, until(stopped)));
        let set_points = tokio::spawn(async move { node.run(bus).await });
        let bal_failed = async {
            match bal {
                Some(task) => match task.await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(e.to_string()),
                },
                None => std::future::pending().await,
            }
        };
        let failure = tokio::select! {
            () = crate::signal::stop_signal() => None,
            failure = bal_failed => failure,
        };
        let _ = stop.send(true);
        set_points.abort();
        if let Some(failure) = failure {
            return Err(CliError::input(format!("the BAL side stopped: {failure}")));
        }
        for server in [http, modbus] {
            match server.await {
                Ok(result) => result.map_err(CliError::input)?,
                Err(e) => return Err(CliError::input(format!("an EMS interface stopped: {e}"))),
            }
        }
        Ok(())
    })
}
