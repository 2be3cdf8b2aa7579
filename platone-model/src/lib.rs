//! The shared vocabulary of the Platone SDK: identifiers, time stamps, quantities,
//! [`Measurement`]s, [`Phasor`]s and [`SetPoint`]s.
//!
//! Every other Platone crate speaks these types: the CIM and PMU readers produce
//! [`Measurement`]s, the certifier hashes them, the Shared Customer Database stores them by
//! [`SeriesKey`], and the market settles against them. The crate does no I/O; its JSON form
//! (serde, `snake_case` field names) is the SDK's interchange format.
//!
//! ```
//! use platone_model::{Measurement, MeasurementKind, Unit, UnitMultiplier, FlowDirection,
//!     DeviceId, PodId, parse_timestamp};
//!
//! let reading = Measurement::new(
//!     DeviceId::new("meter-42")?,
//!     parse_timestamp("2020-10-01T00:15:00+03:00")?,
//!     MeasurementKind::Energy,
//!     Unit::WattHour,
//!     1.21716,
//! )?
//! .with_multiplier(UnitMultiplier::KILO)
//! .with_direction(FlowDirection::Forward)
//! .with_pod(PodId::new("GR-POD-0001")?);
//!
//! let json = serde_json::to_string(&reading)?;
//! let back: Measurement = serde_json::from_str(&json)?;
//! assert_eq!(back, reading);
//! assert_eq!(back.base_value(), 1217.16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Validation happens on construction and on deserialisation: empty identifiers and non-finite
//! values are rejected with a [`ModelError`] that names the field.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod id;
mod measurement;
mod named;
#[cfg(feature = "openapi")]
mod openapi;
mod phasor;
mod quality;
mod quantity;
mod setpoint;
mod time;

pub use error::{ModelError, Result};
pub use id::{ComponentId, DeviceId, MAX_ID_LEN, MeterId, ParticipantId, PodId, UsagePointId};
pub use measurement::{Measurement, SeriesKey};
pub use phasor::{Phasor, PhasorMeasurement};
pub use quality::{Quality, QualityFlag};
pub use quantity::{
    Accumulation, Aggregate, FlowDirection, MeasurementKind, MeasuringPeriod, Phase, PhaseSet,
    Unit, UnitMultiplier,
};
pub use setpoint::SetPoint;
pub use time::{Timestamp, format_timestamp, parse_timestamp, same_instant};
