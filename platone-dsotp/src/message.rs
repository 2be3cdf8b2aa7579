//! The measurement messages on the databus.
//!
//! The BAL forwards what it stored as `{"device", "signer", "measurements": [...]}` (the JSON
//! form of [`platone_model::Measurement`]); the DSOTP's services publish in the same envelope.
//! SOGNO/LOCO device messages (`{"device", "timestamp", "readings": [{"component",
//! "measurand", "phase", "data"}]}`, as PMUs and VILLASnode publish them) are read too.

use platone_cim::pmu::sogno::SognoMessage;
use platone_model::Measurement;
use serde::{Deserialize, Serialize};

use crate::error::{DsotpError, Result};

/// One device's measurements, as the BAL forwards them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceMeasurements {
    /// The device that sent them.
    pub device: String,
    /// The address that signed the packet (`None` for an unsigned one or a derived message).
    #[serde(default)]
    pub signer: Option<String>,
    /// The measurements.
    pub measurements: Vec<Measurement>,
}

impl DeviceMeasurements {
    /// Reads a BAL envelope or a SOGNO device message. The error names the JSON path of what
    /// is wrong (`$.measurements[3].value`, `$.readings[0].component`…).
    pub fn from_json(payload: &[u8]) -> Result<Self> {
        // Well-formed messages are read straight into their types; only a message that does
        // not read so is read again through a JSON tree, for the error naming where it is
        // wrong (and the same answer in every case the direct read does not settle).
        match Self::read_typed(payload) {
            Some(m) => Ok(m),
            None => Self::read_tree(payload),
        }
    }

    /// The direct read: `None` when the payload is not a well-formed envelope or SOGNO
    /// message, or when it might have both forms' keys (the tree read decides those).
    fn read_typed(payload: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Envelope {
            device: String,
            #[serde(default)]
            signer: Option<String>,
            measurements: Vec<Measurement>,
        }
        if let Ok(e) = serde_json::from_slice::<Envelope>(payload) {
            return Some(DeviceMeasurements {
                device: e.device,
                signer: e.signer,
                measurements: e.measurements,
            });
        }
        // A SOGNO message with a "measurements" key (perhaps escaped) is an envelope to the
        // tree read: leave it to that.
        let find = |needle: &[u8]| payload.windows(needle.len()).any(|w| w == needle);
        if find(b"measurements") || find(b"\\u") {
            return None;
        }
        let message = serde_json::from_slice::<SognoMessage>(payload).ok()?;
        let measurements = message.to_measurements().ok()?;
        Some(DeviceMeasurements {
            device: message.device,
            signer: None,
            measurements,
        })
    }

    fn read_tree(payload: &[u8]) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
            DsotpError::invalid(format!("line {} column {}", e.line(), e.column()), e)
        })?;
        let object = value
            .as_object()
            .ok_or_else(|| DsotpError::invalid("$", "not a JSON object"))?;
        if object.contains_key("measurements") {
            let device = object
                .get("device")
                .and_then(|d| d.as_str())
                .ok_or_else(|| DsotpError::invalid("$.device", "missing or not a string"))?
                .to_owned();
            let signer = match object.get("signer") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(DsotpError::invalid("$.signer", "not a string")),
            };
            let list = object
                .get("measurements")
                .and_then(|m| m.as_array())
                .ok_or_else(|| DsotpError::invalid("$.measurements", "not an array"))?;
            let measurements = list
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    Measurement::deserialize(m)
                        .map_err(|e| DsotpError::invalid(format!("$.measurements[{i}]"), e))
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(DeviceMeasurements {
                device,
                signer,
                measurements,
            });
        }
        if object.contains_key("readings") {
            let message = SognoMessage::deserialize(&value)
                .map_err(|e| DsotpError::invalid("$ (SOGNO device message)", e))?;
            let measurements = message
                .to_measurements()
                .map_err(|e| DsotpError::invalid("$ (SOGNO device message)", e))?;
            return Ok(DeviceMeasurements {
                device: message.device,
                signer: None,
                measurements,
            });
        }
        Err(DsotpError::invalid(
            "$",
            "neither a BAL envelope (\"measurements\") nor a SOGNO device message (\"readings\")",
        ))
    }

    /// The envelope as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Measurements hold finite values and string keys only: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bal_envelope_and_sogno_messages() {
        let bal = br#"{"device":"pmu-1","signer":"0xab","measurements":[
            {"source":"pmu-1","timestamp":"2024-01-01T00:00:00Z","kind":"voltage","unit":"V","value":230.0}]}"#;
        let m = DeviceMeasurements::from_json(bal).unwrap();
        assert_eq!(m.device, "pmu-1");
        assert_eq!(m.signer.as_deref(), Some("0xab"));
        assert_eq!(m.measurements[0].value, 230.0);

        let sogno = br#"{"device":"pmu-2","timestamp":"2024-01-01T00:00:00Z","readings":[
            {"component":"BUS1","measurand":"voltmagnitude","phase":"A","data":231.0}]}"#;
        let m = DeviceMeasurements::from_json(sogno).unwrap();
        assert_eq!(m.device, "pmu-2");
        assert_eq!(m.measurements[0].value, 231.0);
        let again = DeviceMeasurements::from_json(&m.to_json()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn errors_name_where_the_input_is_wrong() {
        let bad = br#"{"device":"pmu-1","measurements":[
            {"source":"pmu-1","timestamp":"2024-01-01T00:00:00Z","kind":"voltage","unit":"V","value":230.0},
            {"source":"pmu-1","timestamp":"never","kind":"voltage","unit":"V","value":1.0}]}"#;
        let e = DeviceMeasurements::from_json(bad).unwrap_err().to_string();
        assert!(e.starts_with("$.measurements[1]"), "{e}");
        let e = DeviceMeasurements::from_json(b"{\"x\":1}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither"), "{e}");
        let e = DeviceMeasurements::from_json(b"{\"device\":")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 1"), "{e}");
    }

    #[test]
    fn the_direct_read_answers_as_the_tree_read() {
        let cases: [&[u8]; 6] = [
            br#"{"device":"pmu-1","signer":null,"measurements":[
                {"source":"pmu-1","timestamp":"2024-01-01T00:00:00Z","kind":"voltage","unit":"V","value":230}]}"#,
            br#"{"device":"pmu-2","timestamp":"2024-01-01T00:00:00Z","readings":[
                {"component":"BUS1","measurand":"voltmagnitude","phase":"A","data":231.0}],"x":1}"#,
            // Both forms' keys: the envelope wins.
            br#"{"device":"pmu-3","timestamp":"2024-01-01T00:00:00Z","readings":[],"measurements":[]}"#,
            // A SOGNO message with an escaped "measurements" key: an (invalid) envelope.
            br#"{"device":"pmu-4","timestamp":"2024-01-01T00:00:00Z","readings":[],"measurement\u0073":1}"#,
            // Duplicate keys: the tree keeps the last.
            br#"{"device":"a","device":"b","measurements":[]}"#,
            br#"{"device":"pmu-5","signer":7,"measurements":[]}"#,
        ];
        for payload in cases {
            let tree = DeviceMeasurements::read_tree(payload).map_err(|e| e.to_string());
            let both = DeviceMeasurements::from_json(payload).map_err(|e| e.to_string());
            assert_eq!(both, tree, "{}", String::from_utf8_lossy(payload));
            if let Some(typed) = DeviceMeasurements::read_typed(payload) {
                assert_eq!(Ok(typed), tree);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..256))| {
            let _ = DeviceMeasurements::from_json(&bytes);
        });
    }
}
