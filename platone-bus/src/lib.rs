//! Transport-agnostic publish/subscribe for the Platone SDK.
//!
//! One way to publish and subscribe whatever the broker: an in-memory bus by default, MQTT and
//! Kafka adapters for deployments, MQTT topic filters and bridge-style topic remapping, and a
//! bridge that forwards between any two buses without losing messages. A bus carries bytes with
//! a topic, a key and headers; decoding happens where messages are consumed.
//!
//! ```
//! use platone_model::DeviceId;
//! assert!(DeviceId::new("pmu-1").is_ok());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
