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
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..256))| {
            let _ = DeviceMeasurements::from_json(&bytes);
        });
    }
}
