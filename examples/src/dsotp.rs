//! `platone dsotp`: the DSO Technical Platform on embedded defaults (the in-memory databus,
//! SQLite in its data directory, the embedded token issuer) or on a broker, PostgreSQL and an
//! OpenID Connect issuer when configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use platone_dsotp::{DsotpConfig, DsotpEngines, DsotpServer};

use crate::api_args::ApiArgs;
use crate::bridge::{EndConfig, open_bus};
use crate::error::{CliError, CliResult};

/// The environment variable holding embedded issuer clients of `platone dsotp` (white-space
/// separated).
pub const CLIENTS_VAR: &str = "PLATONE_DSOTP_CLIENTS";

/// Options of `platone dsotp` (each overrides the configuration file).
#[derive(Debug, Args)]
pub struct DsotpArgs {
    /// Configuration file (TOML); the options below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The databus: memory://, mqtt://, mqtts:// or kafka:// [default: `[bus] url` of the
    /// configuration, else memory://].
    #[arg(long)]
    bus: Option<String>,
    /// The bus's CA certificate (PEM): TLS for mqtts:// and Kafka.
    #[arg(long)]
    bus_ca: Option<PathBuf>,
    /// The platform's client certificate on the bus (PEM; mutual TLS, with --bus-key).
    #[arg(long)]
    bus_cert: Option<PathBuf>,
    /// The key of --bus-cert (PEM).
    #[arg(long)]
    bus_key: Option<PathBuf>,
    /// The platform's client id on the bus (and Kafka consumer group) [default: platone-dsotp].
    #[arg(long)]
    bus_client_id: Option<String>,
    /// Address of the REST API [default: 127.0.0.1:8084].
    #[arg(long)]
    http: Option<SocketAddr>,
    /// The grid model: a MATPOWER case file (state estimation and AC validation need one).
    #[arg(long, value_name = "CASE.m")]
    grid: Option<PathBuf>,
    /// The measurement map (JSON `{"routes": [...]}`) from platform series to the estimator.
    #[arg(long, value_name = "FILE")]
    map: Option<PathBuf>,
    /// Data directory: the store, the issuer's key [default: ./platone-dsotp-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The SCD store of time series and set points: postgres://… or sqlite://PATH
    /// [default: DATA/dsotp.db].
    #[arg(long)]
    database: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

impl DsotpArgs {
    /// The configuration: the file's, then the options.
    pub fn config(&self) -> CliResult<DsotpConfig> {
        let mut config = match &self.config {
            Some(path) => DsotpConfig::from_file(path).map_err(CliError::usage)?,
            None => DsotpConfig::default(),
        };
        if let Some(http) = self.http {
            config.http = http;
        }
        if let Some(data) = &self.data {
            config.data = data.clone();
        }
        if let Some(database) = &self.database {
            config.database = Some(database.clone());
        }
        if let Some(grid) = &self.grid {
            config.grid = Some(grid.clone());
        }
        if let Some(map) = &self.map {
            config.map = Some(map.clone());
        }
        self.api.apply_checked(&mut config.api, CLIENTS_VAR)?;
        Ok(config)
    }
}

/// Serves until Ctrl-C (or SIGTERM), then stops.
pub fn run(args: DsotpArgs) -> CliResult {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let file = &config.bus;
        let url = args
            .bus
            .clone()
            .or_else(|| file.url.clone())
            .unwrap_or_else(|| "memory://".into());
        let client_id = args
            .bus_client_id
            .clone()
            .or_else(|| file.client_id.clone())
            .unwrap_or_else(|| "platone-dsotp".into());
        let end = EndConfig {
            url: Some(url.clone()),
            ca: args.bus_ca.clone().or_else(|| file.ca.clone()),
            cert: args.bus_cert.clone().or_else(|| file.cert.clone()),
            key: args.bus_key.clone().or_else(|| file.key.clone()),
            client_id: Some(client_id.clone()),
            ..EndConfig::default()
        };
        let bus = open_bus("bus", &url, &end, &client_id, Duration::ZERO)?;
        let server = DsotpServer::start(config, DsotpEngines::on_bus(bus))
            .await
            .map_err(CliError::input)?;
        eprintln!("DSO Technical Platform on {} (bus {url})", server.api_url());
        crate::signal::stop_signal().await;
        server.shutdown().await.map_err(CliError::input)
    })
}
