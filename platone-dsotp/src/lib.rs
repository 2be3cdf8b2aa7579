//! # platone-dsotp
//!
//! The DSO Technical Platform (DSOTP) of the Platone SDK as library services a vendor can run
//! in its own process, each on any [`platone_bus::Bus`] (in memory, MQTT, Kafka):
//!
//! - [`power`] — the PMU power calculation service;
//! - [`timeseries`] — everything on the databus stored in the SCD's store and read back by
//!   series and time range, downsampled;
//! - [`estimation`] — the state estimation service on the grid model (`platone-grid`);
//! - [`validation`] — the Market Platform's validation requests answered with DC line loading
//!   and AC voltage and thermal limits;
//! - [`dispatch`] — activations split per PoD and sent as set points to Light Nodes, with
//!   their acknowledgements stored and certified.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
mod consumer;
pub mod dead_letter;
pub mod dispatch;
mod error;
pub mod estimation;
pub mod message;
pub mod platform;
pub mod power;
pub mod server;
pub mod timeseries;
pub mod topics;
pub mod validation;

pub use config::DsotpConfig;
pub use consumer::{ServiceCounters, ServiceStatus};
pub use error::{DsotpError, Result};
pub use platform::{Dsotp, DsotpHealth, DsotpParts};
pub use server::{DsotpEngines, DsotpServer};
pub use topics::DsotpTopics;
