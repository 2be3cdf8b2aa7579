//! The Blockchain Access Layer (BAL) of the Platone SDK.
//!
//! Field devices publish measurements over MQTT; the BAL checks the sending device's
//! signature against the device registry, decodes the packet (SOGNO/LOCO JSON or IEEE C37.118
//! frames from PMUs, IEC 61968-9 MeterReadings from meter data servers), stores the
//! measurements in the Shared Customer Database, forwards them to the DSO Technical Platform's
//! topics, certifies them in Merkle batches anchored on a ledger and serves them through a REST
//! API with their proofs to those allowed to read them.
//!
//! ```text
//! platone/bal/devices/{device}/{pmu|cim} ──▶ envelope + signature ──▶ decode ──▶ SCD
//!        │ failure: platone/bal/dlq/{device}                 platone/dsotp/… ◀──┤
//!        └─ acknowledged once stored and journaled             batch ─▶ anchor ─▶ references in the SCD
//! ```
//!
//! Against Mosquitto, the BAL connects with a client certificate and keeps the broker's access
//! control in step with the subscriptions: an accepted subscription lets the consumer read its
//! topics, a declined one no longer, and each device writes only its own topic
//! ([`broker_access`]).
//!
//! Everything runs on embedded defaults on one machine — the embedded broker, SQLite, the file
//! ledger — or against Mosquitto and PostgreSQL when configured ([`BalConfig`]).
//!
//! ```
//! use platone_bal::{Bal, BalConfig};
//! use platone_bus::{Message, MqttBus, MqttConfig, Publisher, QoS};
//! use platone_scd::{MeasurementQuery, Principal, Store};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let config = BalConfig::from_toml(&format!(
//!     "embedded_broker = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\ndata = {:?}\n\
//!      [api]\ninsecure_http = true\n",
//!     dir.path()
//! ))?;
//! let bal = Bal::start(config).await?;
//!
//! // A PMU publishes one SOGNO device message.
//! let url = bal.mqtt_url().trim_start_matches("mqtt://").to_owned();
//! let (host, port) = url.rsplit_once(':').unwrap();
//! let pmu = MqttBus::connect(MqttConfig::new(host, port.parse()?, "pmu-1"))?;
//! pmu.wait_connected(std::time::Duration::from_secs(5)).await?;
//! let packet = r#"{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[
//!     {"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.4}]}"#;
//! pmu.publish(Message::new("platone/bal/devices/pmu-1/pmu", packet), QoS::AtLeastOnce).await?;
//!
//! while bal.metrics().measurements_batched < 1 {
//!     tokio::time::sleep(std::time::Duration::from_millis(20)).await;
//! }
//! bal.flush().await?; // seal and anchor now rather than after 180 records or 3 minutes
//! let page = bal.context().store
//!     .query_measurements(&Principal::Operator, &MeasurementQuery::device("pmu-1".parse()?))
//!     .await?;
//! assert_eq!(page.items[0].measurement.value, 230.4);
//! assert!(page.items[0].certification.is_some()); // with its proof, anchored
//! bal.shutdown().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod broker;
pub mod broker_access;
mod certifier;
pub mod config;
pub mod context;
pub mod decode;
pub mod directory;
mod error;
pub mod health;
mod ingest;
pub mod journal;
pub mod metrics;
mod recorder;
mod runtime;
pub mod security;
mod supervise;

pub use api::router;
pub use config::BalConfig;
pub use context::{BalContext, CertifiedRecord, RecordCertifier};
pub use error::{BalError, Result};
pub use health::{Health, HealthReport};
pub use ingest::Rejection;
pub use metrics::{Metrics, MetricsSnapshot};
pub use runtime::{Bal, MqttUrl};
pub use security::{ApiSecurity, static_tokens};
