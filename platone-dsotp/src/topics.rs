//! The DSOTP's databus topics (MQTT-style names; Kafka topic names are derived by
//! `platone-bus`). These are the defaults; every one is configurable.

use serde::{Deserialize, Serialize};

/// Where the DSOTP's services read and write on the databus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DsotpTopics {
    /// Where the BAL's certified measurements arrive (through the bridge):
    /// `{devices}/{device}/{pmu|cim}` with the BAL's `{"device", "signer", "measurements"}`
    /// envelope; SOGNO device messages (`{"device", "timestamp", "readings"}`) are also read.
    pub devices: String,
    /// Where the power calculation publishes each PMU message enriched with P, Q, S and power
    /// factor: `{power}/{device}`.
    pub power: String,
    /// Where the state estimator publishes the state, one SOGNO message per node:
    /// `{estimates}/{bus}`.
    pub estimates: String,
    /// Where the Market Platform asks for validations.
    pub validation_requests: String,
    /// Where validations are answered.
    pub validation_responses: String,
    /// Set points for a PoD go to `{setpoints}/{pod}`; its Light Node answers on
    /// `{setpoints}/{pod}/ack`.
    pub setpoints: String,
    /// Unreadable messages go to `{dead_letters}/{service}` as `{"reason", "topic", "payload"}`.
    pub dead_letters: String,
}

impl Default for DsotpTopics {
    fn default() -> Self {
        DsotpTopics {
            devices: "platone/dsotp/devices".into(),
            power: "platone/dsotp/power".into(),
            estimates: "platone/dsotp/estimates".into(),
            validation_requests: "platone/market/validation/requests".into(),
            validation_responses: "platone/market/validation/responses".into(),
            setpoints: "platone/dsotp/setpoints".into(),
            dead_letters: "platone/dsotp/dead-letters".into(),
        }
    }
}
