//! The DSOTP's databus topics (MQTT-style names; Kafka topic names are derived by
//! `platone-bus`). These are the defaults; every one is configurable.

use platone_bus::TopicFilter;
use serde::{Deserialize, Serialize};

use crate::error::{DsotpError, Result};

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
    /// The services' subscription group: each subscription is the shared subscription
    /// `$share/{group}-{service}/{filter}`. On Kafka that is a consumer group of its own, so
    /// that every service reads every message of the Kafka topics the filters share; on MQTT
    /// and in memory, platform instances with the same group share the messages of each
    /// service (the power calculation, the recorder and validation scale out that way; the
    /// estimator and the dispatcher keep state in memory: run one of each per group). Empty:
    /// plain subscriptions.
    pub group: String,
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
            group: "platone-dsotp".into(),
        }
    }
}

impl DsotpTopics {
    /// The subscription of `service` to `filter` (see [`DsotpTopics::group`]); the error
    /// names the service.
    pub fn subscription(&self, service: &str, filter: &str) -> Result<TopicFilter> {
        let text = if self.group.is_empty() {
            filter.to_owned()
        } else {
            format!("$share/{}-{service}/{filter}", self.group)
        };
        TopicFilter::new(text).map_err(|e| DsotpError::invalid(format!("topics ({service})"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_subscribes_in_its_own_group() {
        let topics = DsotpTopics::default();
        let f = topics
            .subscription("power", "platone/dsotp/devices/+/pmu")
            .unwrap();
        assert_eq!(f.share_group(), Some("platone-dsotp-power"));
        assert_eq!(f.filter(), "platone/dsotp/devices/+/pmu");
        let plain = DsotpTopics {
            group: String::new(),
            ..DsotpTopics::default()
        };
        assert_eq!(
            plain.subscription("power", "a/#").unwrap().share_group(),
            None
        );
        let e = topics
            .subscription("power", "a/#/b")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("topics (power)"), "{e}");
    }
}
