//! The measurement file `{"format": "platone-grid-measurements/1", "measurements": [...]}`.

use serde_json::Value;

use super::{GridMeasurement, Location, Quantity, Side};
use crate::error::{GridError, Result};

/// The `format` value of a measurement file.
pub const MEASUREMENT_FORMAT: &str = "platone-grid-measurements/1";

fn error(place: impl Into<String>, message: impl Into<String>) -> GridError {
    GridError::Measurement {
        place: place.into(),
        message: message.into(),
    }
}

/// Reads a measurement file; errors name the JSON line:column or the field path.
///
/// Each entry is `{"kind": "vm"|"va"|"p"|"q"|"pf"|"qf"|"im"|"ia", "bus": n | "branch": row,
/// "side": "from"|"to", "value": x, "sigma": s}` (`side` defaults to `from`).
pub fn parse_measurement_file(bytes: &[u8]) -> Result<Vec<GridMeasurement>> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| error(format!("{}:{}", e.line(), e.column()), e.to_string()))?;
    match doc.get("format").and_then(Value::as_str) {
        Some(MEASUREMENT_FORMAT) => {}
        Some(other) => {
            return Err(error(
                "format",
                format!("expected {MEASUREMENT_FORMAT:?}, found {other:?}"),
            ));
        }
        None => {
            return Err(error(
                "format",
                format!("missing; expected {MEASUREMENT_FORMAT:?}"),
            ));
        }
    }
    let list = doc
        .get("measurements")
        .and_then(Value::as_array)
        .ok_or_else(|| error("measurements", "missing or not an array"))?;
    list.iter().enumerate().map(|(k, m)| entry(k, m)).collect()
}

fn entry(k: usize, m: &Value) -> Result<GridMeasurement> {
    let at = |field: &str| format!("measurements[{k}].{field}");
    let kind = m
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| error(at("kind"), "missing or not a string"))?;
    let quantity = match kind {
        "vm" => Quantity::VoltageMagnitude,
        "va" => Quantity::VoltageAngle,
        "p" => Quantity::ActiveInjection,
        "q" => Quantity::ReactiveInjection,
        "pf" => Quantity::ActiveFlow,
        "qf" => Quantity::ReactiveFlow,
        "im" => Quantity::CurrentMagnitude,
        "ia" => Quantity::CurrentAngle,
        other => return Err(error(at("kind"), format!("unknown kind {other:?}"))),
    };
    let number = |field: &str| -> Result<f64> {
        m.get(field)
            .and_then(Value::as_f64)
            .ok_or_else(|| error(at(field), "missing or not a number"))
    };
    let whole = |field: &str| -> Result<u64> {
        m.get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| error(at(field), "missing or not a whole number"))
    };
    let location = if quantity.on_branch() {
        let index = whole("branch")?;
        let side = match m.get("side").map(|s| s.as_str()) {
            None | Some(Some("from")) => Side::From,
            Some(Some("to")) => Side::To,
            _ => return Err(error(at("side"), "must be \"from\" or \"to\"")),
        };
        Location::Branch {
            index: usize::try_from(index).unwrap_or(usize::MAX),
            side,
        }
    } else {
        Location::Bus(whole("bus")?)
    };
    Ok(GridMeasurement {
        quantity,
        location,
        value: number("value")?,
        sigma: number("sigma")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_locates_errors() {
        let ok = br#"{"format": "platone-grid-measurements/1", "measurements": [
            {"kind": "vm", "bus": 1, "value": 1.0, "sigma": 0.01},
            {"kind": "qf", "branch": 2, "side": "to", "value": -3.5, "sigma": 0.5}]}"#;
        let list = parse_measurement_file(ok).unwrap();
        assert_eq!(
            list[1].location,
            Location::Branch {
                index: 2,
                side: Side::To
            }
        );
        let bad = br#"{"format": "platone-grid-measurements/1", "measurements": [
            {"kind": "vm", "bus": 1, "value": 1.0}]}"#;
        match parse_measurement_file(bad) {
            Err(GridError::Measurement { place, .. }) => assert_eq!(place, "measurements[0].sigma"),
            other => panic!("{other:?}"),
        }
        match parse_measurement_file(b"{\"format\": \n x") {
            Err(GridError::Measurement { place, .. }) => assert_eq!(place, "2:2"),
            other => panic!("{other:?}"),
        }
    }
}
