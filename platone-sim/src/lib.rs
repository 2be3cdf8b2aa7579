//! The field simulator of the Platone SDK: PMUs and a DSO data server publishing to the BAL
//! over a bus, the load generator behind `platone sim` and `platone demo`, and the Light
//! Node's set-point side with its EMS interface ([`lightnode`]).
//!
//! A [`FieldPlan`] describes the field: `pmus` PMUs (`pmu-1`, `pmu-2`, …) sending `rate`
//! frames per second, and `meters` smart meters (`MTR-1`, …) read by one DSO data server
//! device ([`DATA_SERVER`], `dso-ds-1`) that sends their 15-minute energy every 15 *simulated*
//! minutes (time runs [`FieldPlan::accelerate`] times faster for the meters). Each meter sits on
//! its own PoD (`POD-MTR-1`, customer `cust-1`), each PMU too (`POD-PMU-1`, customer
//! `cust-pmu-1`). Device keys are derived from the plan's seed and the device id
//! ([`device_key`]), so [`FieldPlan::bal_pods`] and [`FieldPlan::bal_devices`] give the BAL
//! configuration that matches the simulator, addresses included.
//!
//! Packets go to `{prefix}/{device}/pmu` (SOGNO/LOCO JSON device messages, or binary
//! C37.118.2 data frames after their CFG-2, which is re-sent periodically for late
//! subscribers) and `{prefix}/{device}/cim` (MeterReadings XML in an IEC 61968-100
//! `EventMessage`), each optionally wrapped in a [`SignedEnvelope`](platone_certify::SignedEnvelope)
//! (EIP-191 or EIP-712). [`run`] publishes them on schedule at QoS 1.
//!
//! ```
//! use platone_sim::{Field, FieldPlan, Signing};
//! use platone_cim::pmu::sogno::SognoMessage;
//! use platone_certify::SignedEnvelope;
//!
//! let mut plan = FieldPlan::new(2, 50, 10);
//! plan.signing = Signing::Eip191;
//! let field = Field::new(&plan)?;
//! let packet = field.pmu_frame(0, 0, 1_767_225_600)?;
//! assert_eq!(packet.topic, "platone/bal/devices/pmu-1/pmu");
//!
//! // The BAL's side: the envelope verifies with the address its configuration holds.
//! let envelope = SignedEnvelope::detect(&packet.payload).expect("signed")?;
//! let address = plan.bal_devices()[0].address.clone().unwrap();
//! assert_eq!(envelope.recover_signer(plan.chain_id)?.to_checksum(None), address);
//! let message = SognoMessage::from_json(std::str::from_utf8(&envelope.payload_bytes()?)?)?;
//! assert_eq!(message.to_measurements()?.len(), packet.measurements);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod field;
pub mod grid_field;
pub mod keys;
pub mod lightnode;
pub mod meters;
pub mod pmu;
pub mod pmu_server;
mod runner;
pub mod schedule;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use platone_certify::DeviceKey;
use serde::Serialize;

pub use error::{Result, SimError};
pub use field::{Field, Packet, PacketKind};
pub use keys::device_key;
pub use runner::{BEHIND_THRESHOLD, RunReport, SimSnapshot, SimStats, run};

use platone_bal::config::{DeviceConfig, PodConfig};

/// The DSO data server device that sends every meter's readings.
pub const DATA_SERVER: &str = "dso-ds-1";

/// How packets are signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signing {
    /// Unsigned: the payload as it is.
    #[default]
    None,
    /// EIP-191 `personal_sign` of the payload.
    Eip191,
    /// EIP-712 `DevicePacket` of the payload's hash, the device and the send time.
    Eip712,
}

impl Signing {
    /// `payload` as `device` sends it: as it is, or wrapped in a signed envelope of `key`
    /// (EIP-712: signed at `signed_at`, Unix seconds, on chain `chain_id`).
    pub fn seal(
        self,
        key: &DeviceKey,
        device: &str,
        payload: Vec<u8>,
        signed_at: u64,
        chain_id: u64,
    ) -> Result<Vec<u8>> {
        use platone_certify::SignedEnvelope;
        let envelope = match self {
            Signing::None => return Ok(payload),
            Signing::Eip191 => SignedEnvelope::sign_eip191(key, &payload)?,
            Signing::Eip712 => {
                SignedEnvelope::sign_eip712(key, device, &payload, signed_at, chain_id)?
            }
        };
        Ok(envelope.to_json()?.into_bytes())
    }

    /// `none`, `eip191` or `eip712`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signing::None => "none",
            Signing::Eip191 => "eip191",
            Signing::Eip712 => "eip712",
        }
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Signing {
    type Err = SimError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "none" => Ok(Signing::None),
            "eip191" => Ok(Signing::Eip191),
            "eip712" => Ok(Signing::Eip712),
            other => Err(SimError::config(
                "sign",
                format!("{other:?} is not none, eip191 or eip712"),
            )),
        }
    }
}

/// What the PMUs send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PmuFormat {
    /// SOGNO/LOCO JSON device messages.
    #[default]
    Sogno,
    /// Binary IEEE C37.118.2 data frames, after their CFG-2.
    C37118,
    /// Odd-numbered PMUs (`pmu-1`, `pmu-3`, …) send SOGNO JSON, even-numbered ones C37.118.
    Mixed,
}

/// The simulated field and how it sends. Build it with [`FieldPlan::new`] and adjust the
/// public fields; [`FieldPlan::validate`] says which setting is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPlan {
    /// Number of PMUs.
    pub pmus: usize,
    /// Frames per second of each PMU (1 to 32767).
    pub rate: u32,
    /// Number of smart meters the data server reads.
    pub meters: usize,
    /// How packets are signed.
    pub signing: Signing,
    /// The chain id of EIP-712 signatures (the BAL's `chain_id`).
    pub chain_id: u64,
    /// The seed of device keys and of the values' noise.
    pub seed: u64,
    /// What the PMUs send.
    pub pmu_format: PmuFormat,
    /// Meter time runs this many times faster than real time: 15 simulated minutes last
    /// 900 / `accelerate` real seconds.
    pub accelerate: f64,
    /// Topic prefix; devices publish to `{prefix}/{device}/pmu` and `{prefix}/{device}/cim`.
    pub topic_prefix: String,
    /// Largest number of meters in one MeterReadings document (more meters: more documents
    /// per interval).
    pub meters_per_packet: usize,
    /// C37.118 PMUs re-send their CFG-2 every this many real seconds (and first of all).
    pub config_every_secs: u32,
    /// Deliberately malformed packets sent at the start (for dead-letter tests and the demo).
    pub malformed: u32,
    /// Largest number of publishes awaiting the broker's acknowledgement.
    pub max_in_flight: usize,
    /// The time of the first PMU frame (whole seconds are used); `None`: now. Meter intervals
    /// start at the quarter hour before it.
    pub start: Option<DateTime<Utc>>,
}

impl FieldPlan {
    /// `pmus` PMUs at `rate` frames/s and `meters` meters, with the defaults: unsigned, chain
    /// id 1, seed 1, SOGNO JSON, real-time meters, prefix `platone/bal/devices`, 1,000 meters
    /// per document, CFG-2 every 5 s, no malformed packet, 256 publishes in flight.
    pub fn new(pmus: usize, rate: u32, meters: usize) -> Self {
        FieldPlan {
            pmus,
            rate,
            meters,
            signing: Signing::None,
            chain_id: 1,
            seed: 1,
            pmu_format: PmuFormat::Sogno,
            accelerate: 1.0,
            topic_prefix: "platone/bal/devices".into(),
            meters_per_packet: 1000,
            config_every_secs: 5,
            malformed: 0,
            max_in_flight: 256,
            start: None,
        }
    }

    /// Checks the settings; the error names the one that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.pmus > usize::from(u16::MAX) {
            return Err(SimError::config(
                "sim.pmus",
                "at most 65535 PMUs (C37.118 IDCODEs)",
            ));
        }
        if self.pmus > 0 && !(1..=32_767).contains(&self.rate) {
            return Err(SimError::config(
                "sim.rate",
                format!("{} frames/s: give 1 to 32767", self.rate),
            ));
        }
        if !(self.accelerate.is_finite() && self.accelerate > 0.0) {
            return Err(SimError::config(
                "sim.accelerate",
                format!("{}: give a positive factor", self.accelerate),
            ));
        }
        if self.meters_per_packet == 0 {
            return Err(SimError::config(
                "sim.meters_per_packet",
                "must be at least 1",
            ));
        }
        if self.max_in_flight == 0 {
            return Err(SimError::config("sim.max_in_flight", "must be at least 1"));
        }
        if self.config_every_secs == 0 {
            return Err(SimError::config(
                "sim.config_every_secs",
                "must be at least 1",
            ));
        }
        if self.pmus == 0 && self.meters == 0 {
            return Err(SimError::config(
                "sim",
                "no PMU and no meter: nothing to send",
            ));
        }
        platone_bus::validate_topic(&self.topic_prefix)
            .map_err(|e| SimError::config("sim.topic_prefix", e))?;
        Ok(())
    }

    /// The id of PMU number `index` (0-based): `pmu-1`, `pmu-2`, …
    pub fn pmu_id(index: usize) -> String {
        format!("pmu-{}", index + 1)
    }

    /// The PoD of PMU number `index`: `POD-PMU-1`, …
    pub fn pmu_pod(index: usize) -> String {
        format!("POD-PMU-{}", index + 1)
    }

    /// The customer behind PMU number `index`'s PoD: `cust-pmu-1`, …
    pub fn pmu_customer(index: usize) -> String {
        format!("cust-pmu-{}", index + 1)
    }

    /// The id of meter number `index` (0-based): `MTR-1`, …
    pub fn meter_id(index: usize) -> String {
        format!("MTR-{}", index + 1)
    }

    /// The PoD of meter number `index`: `POD-MTR-1`, …
    pub fn meter_pod(index: usize) -> String {
        format!("POD-MTR-{}", index + 1)
    }

    /// The customer behind meter number `index`'s PoD: `cust-1`, …
    pub fn meter_customer(index: usize) -> String {
        format!("cust-{}", index + 1)
    }

    /// Whether PMU number `index` sends C37.118 frames (otherwise SOGNO JSON).
    pub fn sends_c37118(&self, index: usize) -> bool {
        match self.pmu_format {
            PmuFormat::Sogno => false,
            PmuFormat::C37118 => true,
            PmuFormat::Mixed => index % 2 == 1,
        }
    }

    /// The topic PMU packets of `device` go to.
    pub fn pmu_topic(&self, device: &str) -> String {
        format!("{}/{device}/pmu", self.topic_prefix)
    }

    /// The topic MeterReadings of `device` go to.
    pub fn cim_topic(&self, device: &str) -> String {
        format!("{}/{device}/cim", self.topic_prefix)
    }

    /// Every device that sends: the PMUs, then the data server (when there are meters).
    pub fn devices(&self) -> Vec<String> {
        let mut out: Vec<String> = (0..self.pmus).map(Self::pmu_id).collect();
        if self.meters > 0 {
            out.push(DATA_SERVER.to_owned());
        }
        out
    }

    /// The signing key of `device` in this plan.
    pub fn device_key(&self, device: &str) -> DeviceKey {
        device_key(self.seed, device)
    }

    /// The PoDs for the BAL's configuration: one per meter (customer `cust-N`, the meter
    /// linked), then one per PMU (customer `cust-pmu-N`, the PMU as its device).
    pub fn bal_pods(&self) -> Vec<PodConfig> {
        let meters = (0..self.meters).map(|i| PodConfig {
            id: Self::meter_pod(i),
            customer: Some(Self::meter_customer(i)),
            aggregator: None,
            meters: vec![Self::meter_id(i)],
            devices: Vec::new(),
        });
        let pmus = (0..self.pmus).map(|i| PodConfig {
            id: Self::pmu_pod(i),
            customer: Some(Self::pmu_customer(i)),
            aggregator: None,
            meters: Vec::new(),
            devices: vec![Self::pmu_id(i)],
        });
        meters.chain(pmus).collect()
    }

    /// The devices for the BAL's configuration, each with the checksummed address of its key
    /// (the data server serves no single PoD: its key is registered for the device itself).
    pub fn bal_devices(&self) -> Vec<DeviceConfig> {
        self.devices()
            .into_iter()
            .map(|id| DeviceConfig {
                address: Some(self.device_key(&id).address().to_checksum(None)),
                id,
                revoked_at: None,
            })
            .collect()
    }

    /// The `[[pods]]` and `[[devices]]` tables of [`bal_pods`](Self::bal_pods) and
    /// [`bal_devices`](Self::bal_devices) as TOML, to append to a BAL configuration file.
    pub fn bal_config_toml(&self) -> Result<String> {
        #[derive(Serialize)]
        struct Tables {
            pods: Vec<PodConfig>,
            devices: Vec<DeviceConfig>,
        }
        let tables = Tables {
            pods: self.bal_pods(),
            devices: self.bal_devices(),
        };
        let body = toml::to_string(&tables).map_err(|e| SimError::config("sim", e))?;
        Ok(format!(
            "# The simulated field of `platone sim` (seed {}): {} PMU(s), {} meter(s).\n\
             # Device keys are derived from the seed and the device id.\n\n{body}",
            self.seed, self.pmus, self.meters
        ))
    }

    /// Measurements per PMU packet (frame) of PMU number `index`.
    pub fn measurements_per_frame(&self, index: usize) -> usize {
        if self.sends_c37118(index) {
            pmu::C37118_MEASUREMENTS
        } else {
            pmu::SOGNO_READINGS
        }
    }

    /// The nominal load: (packets per second, measurements per second), CFG-2 frames and
    /// malformed packets left out.
    pub fn nominal_rates(&self) -> (f64, f64) {
        let rate = f64::from(self.rate);
        let pmu_measurements: usize = (0..self.pmus).map(|i| self.measurements_per_frame(i)).sum();
        let intervals_per_second = self.accelerate / meters::INTERVAL_SECS as f64;
        let meter_packets = if self.meters == 0 {
            0.0
        } else {
            self.meters.div_ceil(self.meters_per_packet) as f64
        };
        (
            self.pmus as f64 * rate + meter_packets * intervals_per_second,
            pmu_measurements as f64 * rate + self.meters as f64 * intervals_per_second,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_bal::BalConfig;

    #[test]
    fn bal_tables_read_back_as_a_bal_configuration() {
        let plan = FieldPlan::new(2, 50, 3);
        let text = plan.bal_config_toml().unwrap();
        let config = BalConfig::from_toml(&text).unwrap();
        assert_eq!(config.pods, plan.bal_pods());
        assert_eq!(config.devices, plan.bal_devices());
        assert_eq!(config.pods.len(), 5);
        assert_eq!(config.pods[0].meters, ["MTR-1"]);
        assert_eq!(config.pods[3].devices, ["pmu-1"]);
        assert_eq!(config.pods[3].customer.as_deref(), Some("cust-pmu-1"));
        let ids: Vec<&str> = config.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["pmu-1", "pmu-2", "dso-ds-1"]);
    }

    #[test]
    fn settings_are_checked_by_name() {
        let mut plan = FieldPlan::new(1, 0, 0);
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("sim.rate")
        );
        plan.rate = 50;
        plan.accelerate = 0.0;
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("sim.accelerate")
        );
        plan.accelerate = 60.0;
        plan.topic_prefix = "a/#".into();
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("sim.topic_prefix")
        );
        plan.topic_prefix = "x".into();
        plan.validate().unwrap();
        assert!(FieldPlan::new(0, 0, 0).validate().is_err());
        assert_eq!("eip712".parse::<Signing>().unwrap(), Signing::Eip712);
        assert!(
            "rsa"
                .parse::<Signing>()
                .unwrap_err()
                .to_string()
                .contains("sign")
        );
    }

    #[test]
    fn nominal_rates_count_frames_and_meter_intervals() {
        let mut plan = FieldPlan::new(4, 50, 1800);
        plan.accelerate = 900.0;
        plan.pmu_format = PmuFormat::Mixed;
        let (packets, measurements) = plan.nominal_rates();
        assert_eq!(packets, 200.0 + 2.0);
        assert_eq!(measurements, (2.0 * 13.0 + 2.0 * 14.0) * 50.0 + 1800.0);
    }
}
