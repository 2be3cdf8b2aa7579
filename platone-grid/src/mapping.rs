//! The unified measurement set: platform [`Measurement`]s (PMU phasors, SCADA and meter
//! powers) routed to estimator measurements through a configured map.

use platone_model::{Measurement, MeasurementKind, PhaseSet, Unit};
use serde::{Deserialize, Serialize};

use crate::estimation::{GridMeasurement, Location, Quantity};

/// Where one platform series goes: the series is matched by its source device, optional
/// channel and kind; the value, in SI units (`multiplier` applied; W, VAr, V, A, degrees),
/// is multiplied by `scale` to reach the estimator's unit (MW: `1e-6`; p.u. of voltage:
/// `1 / V_base`; a meter that counts consumption as positive: a negative scale, since
/// injections use the generator convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementRoute {
    /// The source device id.
    pub source: String,
    /// The channel, when the device has several series of one kind.
    #[serde(default)]
    pub channel: Option<String>,
    /// The grid component, when the device measures several (a PMU's buses and lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The phases, when the device measures each phase (`A`: the estimator's single-phase
    /// equivalent takes phase A; `ABC`: a three-phase total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhaseSet>,
    /// The platform quantity.
    pub kind: MeasurementKind,
    /// The estimator quantity it becomes.
    pub quantity: Quantity,
    /// Where in the network.
    pub location: Location,
    /// Factor from SI units to the estimator's unit.
    pub scale: f64,
    /// Standard deviation in the estimator's unit.
    pub sigma: f64,
}

/// A configured bus/branch map from platform series to estimator measurements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasurementMap {
    /// The routes; the first that matches a measurement wins.
    pub routes: Vec<MeasurementRoute>,
}

/// The outcome of mapping: the estimator measurements and the positions of the platform
/// measurements no route took (or whose quality is not good).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MappedSet {
    /// Estimator measurements, in input order.
    pub measurements: Vec<GridMeasurement>,
    /// For each estimator measurement, the position of the platform measurement it came from.
    pub origin: Vec<usize>,
    /// Positions of the platform measurements left out (no route, quality not good, or a
    /// value that leaves the finite range once scaled).
    pub unmapped: Vec<usize>,
}

impl MeasurementRoute {
    /// Whether the route takes `m` (quality aside).
    pub fn matches(&self, m: &Measurement) -> bool {
        self.source == m.source.as_str()
            && self.kind == m.kind
            && self
                .channel
                .as_deref()
                .is_none_or(|c| m.channel.as_deref() == Some(c))
            && self
                .component
                .as_deref()
                .is_none_or(|c| m.component.as_ref().is_some_and(|mc| mc.as_str() == c))
            && self.phases.is_none_or(|p| p == m.phases)
    }
}

impl MeasurementRoute {
    /// `m` as the estimator measurement this route makes of it: its value in SI units
    /// (multiplier applied, radians as degrees) times `scale`. `None` when its quality is not
    /// good or the value leaves the finite range.
    pub fn to_grid(&self, m: &Measurement) -> Option<GridMeasurement> {
        if !m.quality.is_good() {
            return None;
        }
        let mut si = m.value * m.multiplier.factor();
        if m.unit == Unit::Radian {
            si = si.to_degrees();
        }
        let value = si * self.scale;
        value.is_finite().then_some(GridMeasurement {
            quantity: self.quantity,
            location: self.location,
            value,
            sigma: self.sigma,
        })
    }
}

impl MeasurementMap {
    /// The route that takes `m`: the first that matches.
    pub fn route_for(&self, m: &Measurement) -> Option<&MeasurementRoute> {
        self.routes.iter().find(|r| r.matches(m))
    }

    /// Maps the platform measurements through the routes.
    pub fn map(&self, measurements: &[Measurement]) -> MappedSet {
        let mut out = MappedSet::default();
        for (k, m) in measurements.iter().enumerate() {
            match self.route_for(m).and_then(|r| r.to_grid(m)) {
                Some(g) => {
                    out.measurements.push(g);
                    out.origin.push(k);
                }
                _ => out.unmapped.push(k),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_powers_and_pmu_values() {
        let lines = [
            r#"{"source":"meter-7","timestamp":"2024-01-01T00:00:00Z","kind":"power","unit":"W","multiplier":3,"value":250.0}"#,
            r#"{"source":"pmu-1","channel":"VA","timestamp":"2024-01-01T00:00:00Z","kind":"phase_angle","unit":"rad","value":0.1}"#,
            r#"{"source":"pmu-9","timestamp":"2024-01-01T00:00:00Z","kind":"voltage","unit":"V","value":11000.0}"#,
        ];
        let measurements: Vec<Measurement> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let map = MeasurementMap {
            routes: vec![
                MeasurementRoute {
                    source: "meter-7".into(),
                    channel: None,
                    component: None,
                    phases: None,
                    kind: MeasurementKind::Power,
                    quantity: Quantity::ActiveInjection,
                    location: Location::Bus(4),
                    scale: -1e-6,
                    sigma: 0.01,
                },
                MeasurementRoute {
                    source: "pmu-1".into(),
                    channel: Some("VA".into()),
                    component: None,
                    phases: None,
                    kind: MeasurementKind::PhaseAngle,
                    quantity: Quantity::VoltageAngle,
                    location: Location::Bus(1),
                    scale: 1.0,
                    sigma: 0.01,
                },
            ],
        };
        let set = map.map(&measurements);
        assert_eq!(set.unmapped, vec![2]);
        assert_eq!(set.origin, vec![0, 1]);
        assert!((set.measurements[0].value + 0.25).abs() < 1e-12); // 250 kW consumed
        assert!((set.measurements[1].value - 0.1f64.to_degrees()).abs() < 1e-12);
    }
}
