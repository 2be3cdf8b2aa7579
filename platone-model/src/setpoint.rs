//! [`SetPoint`]: a target value sent to a device to activate flexibility.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, check_finite};
use crate::id::{DeviceId, ParticipantId, PodId};
use crate::quantity::{FlowDirection, MeasurementKind, Unit, UnitMultiplier};
use crate::time::{Timestamp, format_timestamp};

/// A target value for one quantity of one device over a validity window, e.g. "limit import
/// at PoD X to 3 kW from 18:00 to 18:15".
///
/// ```
/// use platone_model::{SetPoint, DeviceId, MeasurementKind, Unit, parse_timestamp};
///
/// let sp = SetPoint::new(
///     "sp-1",
///     DeviceId::new("battery-4")?,
///     MeasurementKind::Power,
///     Unit::Watt,
///     -2500.0,
///     parse_timestamp("2021-06-30T18:00:00+02:00")?,
///     parse_timestamp("2021-06-30T18:15:00+02:00")?,
/// )?;
/// assert!(sp.is_valid_at(&parse_timestamp("2021-06-30T18:05:00+02:00")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SetPointFields")]
pub struct SetPoint {
    /// The set point's own identifier, used to match acknowledgements.
    pub id: String,
    /// The device that must follow it.
    pub target: DeviceId,
    /// The Point of Delivery it applies at, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodId>,
    /// Who issued it (a DSO, an aggregator), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<ParticipantId>,
    /// The quantity controlled.
    pub kind: MeasurementKind,
    /// The flow direction the value refers to.
    #[serde(default = "not_applicable")]
    pub direction: FlowDirection,
    /// The unit.
    pub unit: Unit,
    /// The unit multiplier.
    #[serde(default)]
    pub multiplier: UnitMultiplier,
    /// The target value. Always finite.
    pub value: f64,
    /// Start of the validity window (inclusive).
    pub valid_from: Timestamp,
    /// End of the validity window (exclusive); after `valid_from`.
    pub valid_to: Timestamp,
}

fn not_applicable() -> FlowDirection {
    FlowDirection::NotApplicable
}

#[derive(Deserialize)]
struct SetPointFields {
    id: String,
    target: DeviceId,
    #[serde(default)]
    pod: Option<PodId>,
    #[serde(default)]
    issued_by: Option<ParticipantId>,
    kind: MeasurementKind,
    #[serde(default = "not_applicable")]
    direction: FlowDirection,
    unit: Unit,
    #[serde(default)]
    multiplier: UnitMultiplier,
    value: f64,
    valid_from: Timestamp,
    valid_to: Timestamp,
}

impl TryFrom<SetPointFields> for SetPoint {
    type Error = ModelError;
    fn try_from(f: SetPointFields) -> Result<Self> {
        let sp = SetPoint {
            id: f.id,
            target: f.target,
            pod: f.pod,
            issued_by: f.issued_by,
            kind: f.kind,
            direction: f.direction,
            unit: f.unit,
            multiplier: f.multiplier,
            value: f.value,
            valid_from: f.valid_from,
            valid_to: f.valid_to,
        };
        sp.validate()?;
        Ok(sp)
    }
}

impl SetPoint {
    /// A set point with the essentials; `pod`, `issued_by`, `direction` and `multiplier` start
    /// empty and can be set on the public fields.
    pub fn new(
        id: impl Into<String>,
        target: DeviceId,
        kind: MeasurementKind,
        unit: Unit,
        value: f64,
        valid_from: Timestamp,
        valid_to: Timestamp,
    ) -> Result<Self> {
        let sp = SetPoint {
            id: id.into(),
            target,
            pod: None,
            issued_by: None,
            kind,
            direction: FlowDirection::NotApplicable,
            unit,
            multiplier: UnitMultiplier::NONE,
            value,
            valid_from,
            valid_to,
        };
        sp.validate()?;
        Ok(sp)
    }

    /// Checks the id is not blank, the value is finite and the window is not empty.
    pub fn validate(&self) -> Result<()> {
        if self.id.trim().is_empty() {
            return Err(ModelError::EmptyId {
                kind: "SetPoint.id",
            });
        }
        check_finite("value", self.value)?;
        if self.valid_to <= self.valid_from {
            return Err(ModelError::EmptyWindow {
                from: format_timestamp(&self.valid_from),
                to: format_timestamp(&self.valid_to),
            });
        }
        Ok(())
    }

    /// Whether `at` falls inside the validity window `[valid_from, valid_to)`.
    pub fn is_valid_at(&self, at: &Timestamp) -> bool {
        self.valid_from <= *at && *at < self.valid_to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn window_must_not_be_empty() {
        let err = SetPoint::new(
            "sp",
            DeviceId::new("d").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            1.0,
            t("2021-01-01T10:00:00Z"),
            t("2021-01-01T12:00:00+02:00"),
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::EmptyWindow { .. }));
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let mut sp = SetPoint::new(
            "sp-9",
            DeviceId::new("d").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            3.0,
            t("2021-01-01T10:00:00Z"),
            t("2021-01-01T10:15:00Z"),
        )
        .unwrap();
        sp.multiplier = UnitMultiplier::KILO;
        sp.issued_by = Some(ParticipantId::new("dso").unwrap());
        let json = serde_json::to_string(&sp).unwrap();
        assert!(json.contains(r#""valid_from":"2021-01-01T10:00:00Z""#) || json.contains("+00:00"));
        assert_eq!(serde_json::from_str::<SetPoint>(&json).unwrap(), sp);
        let bad = json.replace("\"sp-9\"", "\"  \"");
        assert!(serde_json::from_str::<SetPoint>(&bad).is_err());
        assert!(!sp.is_valid_at(&t("2021-01-01T10:15:00Z")));
        assert!(sp.is_valid_at(&t("2021-01-01T10:00:00Z")));
    }
}
