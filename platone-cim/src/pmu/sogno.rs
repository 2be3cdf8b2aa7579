//! SOGNO/LOCO PMU JSON: the device message `{device, timestamp, readings: [{component,
//! measurand, phase, data}]}` the Platone field PMUs publish over MQTT, the grouped output
//! (one message per component) and the old flat form (one reading per message).
//!
//! ```
//! use platone_cim::pmu::sogno::{SognoMessage, Measurand};
//! let msg = SognoMessage::from_json(r#"{"device":"pmu1","timestamp":"2020-05-20T10:27:57.980802+00:00",
//!   "readings":[{"component":"BUS1","measurand":"voltmagnitude","phase":"A","data":11}]}"#)?;
//! assert_eq!(msg.readings[0].measurand, Measurand::VoltMagnitude);
//! let measurements = msg.to_measurements()?;
//! assert_eq!(measurements[0].value, 11.0);
//! let back = SognoMessage::from_measurements("pmu1", &measurements)?;
//! assert_eq!(back.readings, msg.readings);
//! # Ok::<(), platone_cim::pmu::PmuError>(())
//! ```

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat};
use platone_model::{
    Accumulation, ComponentId, DeviceId, Measurement, MeasurementKind, PhaseSet, Timestamp, Unit,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PmuError;

/// What a reading measures. Accepts the spellings seen in the field (case, `_`, `-` and spaces
/// ignored): `voltmagnitude`/`voltagemagnitude`/`volt`/`voltage`, `voltangle`/`voltageangle`,
/// `currmagnitude`/`currentmagnitude`/`current`/`curr`, `currangle`/`currentangle`,
/// `activepower`/`power`, `reactivepower`, `apparentpower`, `frequency`/`freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Measurand {
    /// Phase-to-ground RMS voltage (V).
    VoltMagnitude,
    /// Voltage angle (rad).
    VoltAngle,
    /// RMS current (A).
    CurrMagnitude,
    /// Current angle (rad).
    CurrAngle,
    /// Single-phase active power (W).
    ActivePower,
    /// Single-phase reactive power (VAr).
    ReactivePower,
    /// Single-phase apparent power (VA).
    ApparentPower,
    /// Frequency (Hz).
    Frequency,
}

impl Measurand {
    /// All measurands.
    pub const ALL: &[Measurand] = &[
        Measurand::VoltMagnitude,
        Measurand::VoltAngle,
        Measurand::CurrMagnitude,
        Measurand::CurrAngle,
        Measurand::ActivePower,
        Measurand::ReactivePower,
        Measurand::ApparentPower,
        Measurand::Frequency,
    ];

    /// The canonical spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Measurand::VoltMagnitude => "voltmagnitude",
            Measurand::VoltAngle => "voltangle",
            Measurand::CurrMagnitude => "currmagnitude",
            Measurand::CurrAngle => "currangle",
            Measurand::ActivePower => "activepower",
            Measurand::ReactivePower => "reactivepower",
            Measurand::ApparentPower => "apparentpower",
            Measurand::Frequency => "frequency",
        }
    }

    /// Parses any accepted spelling.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(m) = Self::ALL.iter().find(|m| m.as_str() == text) {
            return Some(*m);
        }
        let norm: String = text
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match norm.as_str() {
            "voltmagnitude" | "voltagemagnitude" | "volt" | "voltage" | "vmag" => {
                Measurand::VoltMagnitude
            }
            "voltangle" | "voltageangle" | "vang" => Measurand::VoltAngle,
            "currmagnitude" | "currentmagnitude" | "current" | "curr" | "imag" => {
                Measurand::CurrMagnitude
            }
            "currangle" | "currentangle" | "iang" => Measurand::CurrAngle,
            "activepower" | "power" | "p" => Measurand::ActivePower,
            "reactivepower" | "q" => Measurand::ReactivePower,
            "apparentpower" | "s" => Measurand::ApparentPower,
            "frequency" | "freq" | "f" => Measurand::Frequency,
            _ => return None,
        })
    }

    /// The model kind and unit.
    pub const fn kind_unit(self) -> (MeasurementKind, Unit) {
        match self {
            Measurand::VoltMagnitude => (MeasurementKind::Voltage, Unit::Volt),
            Measurand::VoltAngle | Measurand::CurrAngle => {
                (MeasurementKind::PhaseAngle, Unit::Radian)
            }
            Measurand::CurrMagnitude => (MeasurementKind::Current, Unit::Ampere),
            Measurand::ActivePower => (MeasurementKind::Power, Unit::Watt),
            Measurand::ReactivePower => (MeasurementKind::Power, Unit::Var),
            Measurand::ApparentPower => (MeasurementKind::Power, Unit::VoltAmpere),
            Measurand::Frequency => (MeasurementKind::Frequency, Unit::Hertz),
        }
    }

    /// The measurand of a model measurement: by its channel when that is a measurand name,
    /// else by kind and unit (angles by a channel starting with `I` for current).
    pub fn of(m: &Measurement) -> Option<Self> {
        if let Some(found) = m.channel.as_deref().and_then(Measurand::parse) {
            return Some(found);
        }
        Some(match (m.kind, m.unit) {
            (MeasurementKind::Voltage, _) => Measurand::VoltMagnitude,
            (MeasurementKind::Current, _) => Measurand::CurrMagnitude,
            (MeasurementKind::PhaseAngle, _) => {
                if m.channel
                    .as_deref()
                    .is_some_and(|c| c.starts_with(['I', 'i']))
                {
                    Measurand::CurrAngle
                } else {
                    Measurand::VoltAngle
                }
            }
            (MeasurementKind::Power, Unit::Watt) => Measurand::ActivePower,
            (MeasurementKind::Power, Unit::Var) => Measurand::ReactivePower,
            (MeasurementKind::Power, Unit::VoltAmpere) => Measurand::ApparentPower,
            (MeasurementKind::Frequency, _) => Measurand::Frequency,
            _ => return None,
        })
    }
}

impl fmt::Display for Measurand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Measurand {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Measurand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Measurand::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown measurand {text:?}")))
    }
}

/// A phase, `A`, `B` or `C` (also accepted: lower case and `1`, `2`, `3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SognoPhase {
    /// Phase A.
    A,
    /// Phase B.
    B,
    /// Phase C.
    C,
}

impl SognoPhase {
    /// `A`, `B` or `C`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SognoPhase::A => "A",
            SognoPhase::B => "B",
            SognoPhase::C => "C",
        }
    }
    /// The model phase set.
    pub const fn phases(self) -> PhaseSet {
        match self {
            SognoPhase::A => PhaseSet::A,
            SognoPhase::B => PhaseSet::B,
            SognoPhase::C => PhaseSet::C,
        }
    }
    /// From a single-phase model set.
    pub fn from_phases(p: PhaseSet) -> Option<Self> {
        match p {
            PhaseSet::A => Some(SognoPhase::A),
            PhaseSet::B => Some(SognoPhase::B),
            PhaseSet::C => Some(SognoPhase::C),
            _ => None,
        }
    }
}

impl Serialize for SognoPhase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SognoPhase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        match text.as_ref() {
            "A" | "a" | "1" | "L1" => Ok(SognoPhase::A),
            "B" | "b" | "2" | "L2" => Ok(SognoPhase::B),
            "C" | "c" | "3" | "L3" => Ok(SognoPhase::C),
            other => Err(serde::de::Error::custom(format!("unknown phase {other:?}"))),
        }
    }
}

/// A number, also accepted as a string holding one (`"198.558"`).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Number;
    impl serde::de::Visitor<'_> for Number {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number or a string holding one")
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(E::custom(format!("{v} is not finite")))
            }
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<f64, E> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| E::custom(format!("{s:?} is not a number")))
        }
    }
    d.deserialize_any(Number)
}

/// An ISO 8601 time stamp; one without an offset is taken as UTC. Its year has four digits,
/// as RFC 3339's (chrono's `%Y` alone would also take `-020` or `12345`, which the writer
/// then writes in a form no reader takes back).
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    let four_digit_year = text.len() > 4
        && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[4] == b'-';
    DateTime::parse_from_rfc3339(&text)
        .or_else(|e| {
            if !four_digit_year {
                return Err(e);
            }
            NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|n| n.and_utc().fixed_offset())
        })
        .map_err(|e| serde::de::Error::custom(format!("time stamp {text:?}: {e}")))
}

fn write_timestamp<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

/// One reading of a device message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SognoReading {
    /// The grid component (a CIM mRID).
    pub component: String,
    /// What is measured.
    pub measurand: Measurand,
    /// The phase (absent for frequency in some sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SognoPhase>,
    /// The value (V, A, rad, W, VAr, VA or Hz).
    #[serde(deserialize_with = "number")]
    pub data: f64,
}

/// The device message a PMU publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SognoMessage {
    /// The device.
    pub device: String,
    /// The measurement instant.
    #[serde(deserialize_with = "timestamp", serialize_with = "write_timestamp")]
    pub timestamp: Timestamp,
    /// The readings.
    pub readings: Vec<SognoReading>,
}

/// A reading of a grouped (per component) message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupedReading {
    /// What is measured.
    pub measurand: Measurand,
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SognoPhase>,
    /// The value.
    #[serde(deserialize_with = "number")]
    pub data: f64,
}

/// The grouped SOGNO output: every reading of one component at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SognoGrouped {
    /// The grid component.
    pub component: String,
    /// The instant.
    #[serde(deserialize_with = "timestamp", serialize_with = "write_timestamp")]
    pub timestamp: Timestamp,
    /// The readings.
    pub readings: Vec<GroupedReading>,
}

/// The old SOGNO format: one reading per message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SognoFlat {
    /// The device.
    pub device: String,
    /// The instant.
    #[serde(deserialize_with = "timestamp", serialize_with = "write_timestamp")]
    pub timestamp: Timestamp,
    /// The grid component.
    pub component: String,
    /// What is measured.
    pub measurand: Measurand,
    /// The phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SognoPhase>,
    /// The value.
    #[serde(deserialize_with = "number")]
    pub data: f64,
}

fn json_error(e: serde_json::Error) -> PmuError {
    PmuError::Sogno {
        path: format!("line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    }
}

fn model(path: String) -> impl Fn(platone_model::ModelError) -> PmuError {
    move |e| PmuError::Sogno {
        path: path.clone(),
        reason: e.to_string(),
    }
}

impl SognoMessage {
    /// Parses a device message.
    pub fn from_json(text: &str) -> Result<Self, PmuError> {
        serde_json::from_str(text).map_err(json_error)
    }

    /// Writes the message as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The readings as model measurements: source = device, component, phase, kind and unit
    /// from the measurand, and `channel` = the measurand name (so voltage and current angles
    /// are distinct series).
    pub fn to_measurements(&self) -> Result<Vec<Measurement>, PmuError> {
        let source = DeviceId::new(&self.device).map_err(model("$.device".into()))?;
        self.readings
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (kind, unit) = r.measurand.kind_unit();
                let component = ComponentId::new(&r.component)
                    .map_err(model(format!("$.readings[{i}].component")))?;
                let m = Measurement::new(source.clone(), self.timestamp, kind, unit, r.data)
                    .map_err(model(format!("$.readings[{i}].data")))?
                    .with_component(component)
                    .with_phases(r.phase.map_or(PhaseSet::NONE, SognoPhase::phases))
                    .with_accumulation(Accumulation::Instantaneous, None)
                    .with_channel(r.measurand.as_str())
                    .map_err(model(format!("$.readings[{i}]")))?;
                Ok(m)
            })
            .collect()
    }

    /// A device message from measurements of one instant (the first one's time stamp).
    /// Measurements without a component use their source as the component; kinds SOGNO has
    /// no measurand for, and phase sets other than one of A, B, C (frequency excepted), are
    /// refused.
    pub fn from_measurements(device: &str, measurements: &[Measurement]) -> Result<Self, PmuError> {
        let Some(first) = measurements.first() else {
            return Err(PmuError::Sogno {
                path: "$.readings".into(),
                reason: "no measurements".into(),
            });
        };
        let readings = measurements
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let measurand = Measurand::of(m).ok_or_else(|| PmuError::Sogno {
                    path: format!("$.readings[{i}].measurand"),
                    reason: format!("no SOGNO measurand for {} in {}", m.kind, m.unit),
                })?;
                let phase = SognoPhase::from_phases(m.phases);
                if phase.is_none() && measurand != Measurand::Frequency {
                    return Err(PmuError::Sogno {
                        path: format!("$.readings[{i}].phase"),
                        reason: format!("phases {} are not one of A, B, C", m.phases),
                    });
                }
                Ok(SognoReading {
                    component: m
                        .component
                        .as_ref()
                        .map_or_else(|| m.source.as_str().to_string(), |c| c.as_str().to_string()),
                    measurand,
                    phase,
                    data: m.base_value(),
                })
            })
            .collect::<Result<Vec<_>, PmuError>>()?;
        Ok(SognoMessage {
            device: device.to_string(),
            timestamp: first.timestamp,
            readings,
        })
    }

    /// The grouped output: one message per component, in order of first appearance.
    pub fn grouped(&self) -> Vec<SognoGrouped> {
        let mut out: Vec<SognoGrouped> = Vec::new();
        for r in &self.readings {
            let reading = GroupedReading {
                measurand: r.measurand,
                phase: r.phase,
                data: r.data,
            };
            match out.iter_mut().find(|g| g.component == r.component) {
                Some(g) => g.readings.push(reading),
                None => out.push(SognoGrouped {
                    component: r.component.clone(),
                    timestamp: self.timestamp,
                    readings: vec![reading],
                }),
            }
        }
        out
    }

    /// The old flat format: one message per reading.
    pub fn flat(&self) -> Vec<SognoFlat> {
        self.readings
            .iter()
            .map(|r| SognoFlat {
                device: self.device.clone(),
                timestamp: self.timestamp,
                component: r.component.clone(),
                measurand: r.measurand,
                phase: r.phase,
                data: r.data,
            })
            .collect()
    }

    /// Joins flat messages of one device and instant back into a device message.
    pub fn from_flat(flat: &[SognoFlat]) -> Result<Self, PmuError> {
        let Some(first) = flat.first() else {
            return Err(PmuError::Sogno {
                path: "$".into(),
                reason: "no flat messages".into(),
            });
        };
        if let Some(i) = flat
            .iter()
            .position(|f| f.device != first.device || f.timestamp != first.timestamp)
        {
            return Err(PmuError::Sogno {
                path: format!("[{i}]"),
                reason: "device or time stamp differs from the first message".into(),
            });
        }
        Ok(SognoMessage {
            device: first.device.clone(),
            timestamp: first.timestamp,
            readings: flat
                .iter()
                .map(|f| SognoReading {
                    component: f.component.clone(),
                    measurand: f.measurand,
                    phase: f.phase,
                    data: f.data,
                })
                .collect(),
        })
    }
}

impl SognoGrouped {
    /// Parses a grouped message.
    pub fn from_json(text: &str) -> Result<Self, PmuError> {
        serde_json::from_str(text).map_err(json_error)
    }
}

impl SognoFlat {
    /// Parses an old-format message.
    pub fn from_json(text: &str) -> Result<Self, PmuError> {
        serde_json::from_str(text).map_err(json_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_strings_and_naive_times() {
        let m = SognoMessage::from_json(
            r#"{"device":"d","timestamp":"2020-01-31T14:21:02","readings":[
            {"component":"c","measurand":"Volt_Magnitude","phase":"a","data":"12.5"},
            {"component":"c","measurand":"current","phase":"2","data":1},
            {"component":"c","measurand":"freq","data":50.01}]}"#,
        )
        .unwrap();
        assert_eq!(m.readings[0].measurand, Measurand::VoltMagnitude);
        assert_eq!(m.readings[0].data, 12.5);
        assert_eq!(m.readings[1].phase, Some(SognoPhase::B));
        assert_eq!(m.readings[2].phase, None);
        assert_eq!(m.timestamp.to_rfc3339(), "2020-01-31T14:21:02+00:00");
        let bad = SognoMessage::from_json(
            r#"{"device":"d","timestamp":"2020-01-31T14:21:02Z","readings":[{"component":"c","measurand":"hi3","phase":"A","data":1}]}"#,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("unknown measurand"), "{bad}");
    }

    /// Found by the fuzzer: a naive time stamp with a year of other than four digits was
    /// taken, then written as `-0020-…+00:00`, which does not read back.
    #[test]
    fn naive_time_stamps_have_four_digit_years() {
        for stamp in [
            "-020-05-20T10:20:00",
            "12020-05-20T10:20:00",
            "202-05-20T10:20:00",
        ] {
            let json = format!(
                r#"{{"device":"d","timestamp":"{stamp}","readings":[{{"component":"c","measurand":"freq","data":50}}]}}"#
            );
            let bad = SognoMessage::from_json(&json).unwrap_err();
            assert!(bad.to_string().contains("time stamp"), "{bad}");
        }
        let json = r#"{"device":"d","timestamp":"0020-05-20T10:20:00","readings":[]}"#;
        let m = SognoMessage::from_json(json).unwrap();
        assert_eq!(SognoMessage::from_json(&m.to_json()).unwrap(), m);
    }
}
