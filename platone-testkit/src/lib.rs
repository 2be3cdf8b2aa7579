//! Test harnesses of the Platone SDK, for tests and benchmarks only (a dev-dependency; this
//! crate is not published).
//!
//! - [`Mosquitto`]: a real `mosquitto` broker (Debian package `mosquitto`) on a free loopback
//!   port in a temporary directory; stop, restart on the same port with its persistence, kill,
//!   pause and resume it to test failures. See the [`mosquitto`] module.
//! - [`DynsecMosquitto`]: Mosquitto with the dynamic-security plugin (an administrator
//!   account, receiving denied by default) and optionally a TLS listener that requires a client
//!   certificate, with certificates made by rcgen. See the [`dynsec`] module.
//! - [`TempPostgres`]: a throwaway PostgreSQL server (Debian package `postgresql`) on a free
//!   loopback port. See the [`pg_server`] module.
//! - [`Anvil`]: a real local Ethereum node (`anvil`, from the npm package pinned in the
//!   repository) on a free loopback port, with a state file so that it can be restarted.
//! - [`reference_dir`] and [`python`]: where the shared reference data and the test Python
//!   are, with one rule when they are missing (fail under `CI`, else skip saying so). See the
//!   [`paths`] module.
//!
//! Every harness says which Debian package to install when its binary is missing, and stops
//! its server and removes its directory when the handle is dropped.
//!
//! ```
//! use platone_bus::{Message, MqttBus, Publisher, QoS};
//! use platone_testkit::Mosquitto;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = Mosquitto::start()?; // blocks until the broker listens
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let bus = MqttBus::connect(broker.mqtt_config("device-1"))?;
//! bus.publish(Message::new("platone/bal/x", "1"), QoS::AtLeastOnce).await?;
//! # Ok::<(), platone_bus::BusError>(()) })?;
//! drop(broker); // the broker is stopped, its directory removed
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod anvil;
pub mod dynsec;
mod error;
pub mod mosquitto;
pub mod oidc;
pub mod paths;
pub mod pg_server;
mod process;
mod schemathesis;
pub mod tls;

pub use anvil::{ANVIL_KEYS, Anvil, AnvilOptions, find_anvil};
pub use dynsec::{DynsecMosquitto, DynsecOptions, find_dynsec_plugin};
pub use error::{Result, TestkitError};
pub use mosquitto::{Mosquitto, MosquittoOptions, find_mosquitto};
pub use oidc::{OidcClient, OidcProvider, SigningKeyFiles};
pub use paths::{python, reference_dir};
pub use pg_server::{Durability, TempPostgres, find_bin_dir};
pub use schemathesis::{
    CHECKS as SCHEMATHESIS_CHECKS, run_schemathesis, run_schemathesis_with_tokens,
};
pub use tls::{CertificateFiles, TestCa};
