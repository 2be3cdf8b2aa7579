//! `platone lightnode`: one Light Node's set-point side — set points for its PoD from the
//! DSOTP's broker, acknowledged, and served to the customer's EMS over HTTP and Modbus TCP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use platone_model::{DeviceId, PodId};
use platone_sim::lightnode::{
    DEFAULT_HTTP_PORT, DEFAULT_MODBUS_PORT, LightNode, SetPointBoard, SetPointTopics, serve_http,
    serve_modbus,
};
use tokio::sync::watch;

use crate::bridge::{EndConfig, open_bus};
use crate::error::{CliError, CliResult};

/// Options of `platone lightnode`.
#[derive(Debug, Args)]
pub struct LightNodeArgs {
    /// The PoD the Light Node serves.
    #[arg(long)]
    pod: String,
    /// The Light Node's device id (in its acknowledgements) [default: ln-POD].
    #[arg(long)]
    device: Option<String>,
    /// The DSOTP's broker the set points come from: mqtt://, mqtts:// (with --ca) or memory://.
    #[arg(long, value_name = "URL")]
    dsotp_mqtt: String,
    /// The broker's CA certificate (PEM), for mqtts://.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The Light Node's client certificate (PEM; mutual TLS, with --key).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// The key of --cert (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The prefix of set-point topics (`PREFIX/POD`, acknowledgements on `PREFIX/POD/ack`).
    #[arg(long, default_value = platone_sim::lightnode::SET_POINT_PREFIX)]
    topic_prefix: String,
    /// The EMS interface over HTTP (`GET /`).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_HTTP_PORT)))]
    http: SocketAddr,
    /// The EMS interface over Modbus TCP (holding registers 1000, 1100, 2000, 2100).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_MODBUS_PORT)))]
    modbus: SocketAddr,
}

/// Runs the Light Node until SIGINT or SIGTERM.
pub fn run(args: LightNodeArgs) -> CliResult {
    let pod = PodId::new(&args.pod).map_err(|e| CliError::usage(format!("--pod: {e}")))?;
    let device = args.device.clone().unwrap_or_else(|| format!("ln-{pod}"));
    let device = DeviceId::new(&device).map_err(|e| CliError::usage(format!("--device: {e}")))?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let end = EndConfig {
            url: Some(args.dsotp_mqtt.clone()),
            ca: args.ca.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
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
        let http = tokio::spawn(serve_http(http, board.clone(), until(stopped.clone())));
        let modbus = tokio::spawn(serve_modbus(modbus, board, until(stopped)));
        let set_points = tokio::spawn(async move { node.run(bus).await });
        crate::signal::stop_signal().await;
        let _ = stop.send(true);
        set_points.abort();
        for server in [http, modbus] {
            match server.await {
                Ok(result) => result.map_err(CliError::input)?,
                Err(e) => return Err(CliError::input(format!("an EMS interface stopped: {e}"))),
            }
        }
        Ok(())
    })
}
