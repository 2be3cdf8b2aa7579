//! Channel maps: which phasor is which phase, kind and grid component, for CFG-1/2 streams
//! (CFG-3 says it itself) and for SOGNO output.
//!
//! The map is JSON:
//!
//! ```
//! use platone_cim::pmu::channel_map::{ChannelMap, MapPhase};
//! let map = ChannelMap::from_json(r#"{
//!   "device": "pmu-rwth-1",
//!   "channels": [
//!     {"name": "VA", "kind": "voltage", "phase": "A", "component": "BUS1"},
//!     {"station": "Station A", "name": "I1", "kind": "current", "phase": "A", "component": "LINE1"}
//!   ]
//! }"#)?;
//! let entry = map.lookup("Station A", "I1").unwrap();
//! assert_eq!(entry.phase, Some(MapPhase::A));
//! # Ok::<(), platone_cim::pmu::PmuError>(())
//! ```
//!
//! `station` is optional (an entry without it applies to every station); `kind` is `voltage`
//! or `current`; `phase` is `A`, `B`, `C`, `positive`, `negative` or `zero`; `component` is the
//! grid component (a CIM mRID) the channel measures.

use serde::Deserialize;

use super::PmuError;
use super::c37118::{PhasorChannel, PhasorComponent, PhasorKind};

/// A phase or sequence component in a channel map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MapPhase {
    /// Phase A.
    A,
    /// Phase B.
    B,
    /// Phase C.
    C,
    /// Positive sequence.
    #[serde(rename = "positive")]
    Positive,
    /// Negative sequence.
    #[serde(rename = "negative")]
    Negative,
    /// Zero sequence.
    #[serde(rename = "zero")]
    Zero,
}

impl From<MapPhase> for PhasorComponent {
    fn from(p: MapPhase) -> Self {
        match p {
            MapPhase::A => PhasorComponent::PhaseA,
            MapPhase::B => PhasorComponent::PhaseB,
            MapPhase::C => PhasorComponent::PhaseC,
            MapPhase::Positive => PhasorComponent::PositiveSequence,
            MapPhase::Negative => PhasorComponent::NegativeSequence,
            MapPhase::Zero => PhasorComponent::ZeroSequence,
        }
    }
}

/// One channel of a map.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelEntry {
    /// The station (STN) it applies to; all stations when absent.
    #[serde(default)]
    pub station: Option<String>,
    /// The channel name (CHNAM).
    pub name: String,
    /// Voltage or current, overriding the configuration.
    #[serde(default)]
    pub kind: Option<PhasorKind>,
    /// The phase or sequence component.
    #[serde(default)]
    pub phase: Option<MapPhase>,
    /// The grid component measured.
    #[serde(default)]
    pub component: Option<String>,
}

/// A channel map (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelMap {
    /// The device name for measurements and SOGNO messages (default: the station name).
    #[serde(default)]
    pub device: Option<String>,
    /// The channels.
    pub channels: Vec<ChannelEntry>,
}

impl<'de> Deserialize<'de> for PhasorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "voltage" | "v" => Ok(PhasorKind::Voltage),
            "current" | "i" => Ok(PhasorKind::Current),
            other => Err(serde::de::Error::custom(format!(
                "kind {other:?} is neither voltage nor current"
            ))),
        }
    }
}

impl ChannelMap {
    /// Parses a map from JSON.
    pub fn from_json(text: &str) -> Result<Self, PmuError> {
        serde_json::from_str(text).map_err(|e| PmuError::ChannelMap {
            path: format!("line {} column {}", e.line(), e.column()),
            reason: e.to_string(),
        })
    }

    /// The entry for a station's channel: one naming the station first, else one for all.
    pub fn lookup(&self, station: &str, name: &str) -> Option<&ChannelEntry> {
        self.channels
            .iter()
            .find(|c| c.name == name && c.station.as_deref() == Some(station))
            .or_else(|| {
                self.channels
                    .iter()
                    .find(|c| c.name == name && c.station.is_none())
            })
    }
}

/// What a phasor channel is, from the channel map, CFG-3 or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Voltage or current.
    pub kind: PhasorKind,
    /// Phase or sequence component; `None` when unknown.
    pub component: Option<PhasorComponent>,
    /// The grid component, from the map.
    pub grid_component: Option<String>,
}

/// Guesses the phase from a CFG-1/2 channel name: a trailing `+` is positive sequence, a
/// trailing `A`, `B` or `C` (after V or I, e.g. `VA`, `IB`, `V_C`) is that phase.
pub fn guess_component(name: &str) -> Option<PhasorComponent> {
    let n = name.trim().to_ascii_uppercase();
    if n.ends_with('+') {
        return Some(PhasorComponent::PositiveSequence);
    }
    let mut chars = n.chars().filter(|c| c.is_ascii_alphanumeric());
    let first = chars.next()?;
    let last = chars.next_back()?;
    if first != 'V' && first != 'I' {
        return None;
    }
    match last {
        'A' => Some(PhasorComponent::PhaseA),
        'B' => Some(PhasorComponent::PhaseB),
        'C' => Some(PhasorComponent::PhaseC),
        _ => None,
    }
}

/// Resolves what a phasor channel of `station` is.
pub fn channel_info(
    station: &str,
    channel: &PhasorChannel,
    map: Option<&ChannelMap>,
) -> ChannelInfo {
    let entry = map.and_then(|m| m.lookup(station, &channel.name));
    let kind = entry.and_then(|e| e.kind).unwrap_or(channel.kind);
    let component = entry
        .and_then(|e| e.phase.map(PhasorComponent::from))
        .or_else(|| {
            channel
                .scale
                .map(|s| s.component())
                .filter(|c| *c != PhasorComponent::Reserved)
        })
        .or_else(|| guess_component(&channel.name));
    ChannelInfo {
        kind,
        component,
        grid_component: entry.and_then(|e| e.component.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_and_map_errors() {
        assert_eq!(guess_component("VA"), Some(PhasorComponent::PhaseA));
        assert_eq!(guess_component("i_c"), Some(PhasorComponent::PhaseC));
        assert_eq!(
            guess_component("V1+"),
            Some(PhasorComponent::PositiveSequence)
        );
        assert_eq!(guess_component("I1"), None);
        assert_eq!(guess_component("ANALOG1"), None);
        let err =
            ChannelMap::from_json(r#"{"channels":[{"name":"VA","kind":"power"}]}"#).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
