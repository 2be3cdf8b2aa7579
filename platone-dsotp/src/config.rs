//! The DSOTP's configuration (TOML), as `platone dsotp --config FILE` reads it.
//!
//! ```toml
//! data = "platone-dsotp-data"   # the SQLite store, the set-point ledger, the issuer's key
//! http = "127.0.0.1:8084"
//! # database = "postgres://dsotp@127.0.0.1:5432/platone"   # the SCD store instead of DATA/dsotp.db
//! grid = "case33bw.m"           # the MATPOWER case of the grid model
//! map = "measurement-map.json"  # platform series → estimator measurements (MeasurementMap)
//! [bus]                         # memory:// by default
//! url = "mqtts://dsotp-broker:8883"
//! ca = "ca.pem"
//! cert = "dsotp.pem"
//! key = "dsotp.key"
//! [estimation]
//! period_ms = 1000              # 0: on demand only
//! max_age_ms = 10000
//! [validation]                  # AcValidatorConfig: market locations → buses, margins
//! locations = { "IT001E00000012" = 12 }
//! [dispatch]                    # DispatchConfig: retries, concurrency, report topic
//! ack_timeout_ms = 2000
//! max_attempts = 4
//! [topics]                      # DsotpTopics; these are the defaults
//! devices = "platone/dsotp/devices"
//! [api]                         # platone-service: TLS, OIDC issuer, embedded clients
//! clients = ["dso=change-me:dso"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dispatch::DispatchConfig;
use crate::error::{DsotpError, Result};
use crate::topics::DsotpTopics;
use crate::validation::AcValidatorConfig;

/// The DSOTP's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsotpConfig {
    /// The data directory.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Where the API listens.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// The databus (`platone dsotp` connects to it; the library takes any bus).
    #[serde(default)]
    pub bus: BusSettings,
    /// The SCD store of the time series and set points (`postgres://…`, `sqlite://PATH` or a
    /// path); by default `dsotp.db` in the data directory.
    #[serde(default)]
    pub database: Option<String>,
    /// The MATPOWER case of the grid model (`None`: no estimation and no AC validation).
    #[serde(default)]
    pub grid: Option<PathBuf>,
    /// The measurement map (JSON `{"routes": [...]}`, see `platone_grid::MeasurementMap`).
    #[serde(default)]
    pub map: Option<PathBuf>,
    /// The estimator's timing.
    #[serde(default)]
    pub estimation: EstimationSettings,
    /// The AC validation of market results (market locations → buses, limits, margins).
    #[serde(default)]
    pub validation: AcValidatorConfig,
    /// Set-point dispatch: retries, concurrency, the report topic.
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// The databus topics.
    #[serde(default)]
    pub topics: DsotpTopics,
    /// The listener and the token issuers.
    #[serde(default)]
    pub api: platone_service::ServiceSecurity,
}

/// Where the databus is and how to connect to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    /// `memory://` (the default), `mqtt://`, `mqtts://` or `kafka://`.
    #[serde(default)]
    pub url: Option<String>,
    /// The CA certificate (PEM) of an `mqtts://` broker or a Kafka cluster with TLS.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The platform's client certificate (PEM; mutual TLS, with `key`).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// The key (PEM) of `cert`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The client id on the broker (and the Kafka consumer group of plain subscriptions).
    #[serde(default)]
    pub client_id: Option<String>,
}

/// When the estimator runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EstimationSettings {
    /// Estimate this often, ms (0: only on demand).
    pub period_ms: u64,
    /// Leave out series older than this behind the newest, ms.
    pub max_age_ms: u64,
    /// Estimations kept for the API.
    pub history: usize,
}

impl Default for EstimationSettings {
    fn default() -> Self {
        EstimationSettings {
            period_ms: 1000,
            max_age_ms: 10_000,
            history: 100,
        }
    }
}

fn default_data() -> PathBuf {
    PathBuf::from("platone-dsotp-data")
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8084))
}

impl Default for DsotpConfig {
    fn default() -> Self {
        DsotpConfig {
            data: default_data(),
            http: default_http(),
            bus: BusSettings::default(),
            database: None,
            grid: None,
            map: None,
            estimation: EstimationSettings::default(),
            validation: AcValidatorConfig::default(),
            dispatch: DispatchConfig::default(),
            topics: DsotpTopics::default(),
            api: platone_service::ServiceSecurity::default(),
        }
    }
}

impl DsotpConfig {
    /// Reads a TOML configuration and checks its sections; errors name the line and the key.
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: DsotpConfig =
            toml::from_str(text).map_err(|e| DsotpError::invalid("configuration", e))?;
        config.validation.check()?;
        config.dispatch.validate()?;
        Ok(config)
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| DsotpError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| DsotpError::invalid(path.display().to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_example_reads() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let config = DsotpConfig::from_toml(&example).unwrap();
        assert_eq!(config.bus.url.as_deref(), Some("mqtts://dsotp-broker:8883"));
        assert_eq!(config.grid.as_deref(), Some(Path::new("case33bw.m")));
    }

    #[test]
    fn reads_the_documented_example_and_names_unknown_keys() {
        let config = DsotpConfig::from_toml(
            "grid = \"case33bw.m\"\n[estimation]\nperiod_ms = 500\n[validation]\nlocations = { POD-7 = 7 }\n[topics]\ndevices = \"/bal/devices\"\n",
        )
        .unwrap();
        assert_eq!(config.estimation.period_ms, 500);
        assert_eq!(config.estimation.max_age_ms, 10_000);
        assert_eq!(config.topics.devices, "/bal/devices");
        assert_eq!(config.topics.power, "platone/dsotp/power");
        let e = DsotpConfig::from_toml("[estimation]\nperiod = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("period"), "{e}");
        assert_eq!(config.validation.locations["POD-7"], 7);
        let e = DsotpConfig::from_toml("[dispatch]\nmax_attempts = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dispatch.max_attempts"), "{e}");
    }
}
