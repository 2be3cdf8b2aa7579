//! Standard energy-data formats for the Platone SDK.
//!
//! This crate reads and writes the formats field devices and head-end systems send to the
//! Blockchain Access Layer: IEC 61968-9 MeterReadings XML (with its IEC 61968-100 envelopes and
//! ReadingType codes) and PMU data (IEEE C37.118.2 frames, SOGNO/LOCO JSON), and converts them to
//! and from [`platone_model::Measurement`]. Formats know nothing of transports.
//!
//! ```
//! use platone_model::MeasurementKind;
//! assert_eq!(MeasurementKind::Energy.as_str(), "energy");
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
pub mod meter_readings;
pub mod pmu;

pub use error::CimError;
