//! The state vector in the SOGNO estimator output format: one message per node,
//! `{"component", "timestamp", "readings": [{"measurand", "phase", "data"}]}`, as SOGNO's
//! pyvolt service publishes it (`../shared/reference/pmu/sogno/pyvolt-service_sogno_output.json`).
//!
//! Each node gets `voltmagnitude` and `voltangle` for phases A, B and C of the balanced
//! state: magnitudes in volts line-to-neutral (`vm · baseKV · 1000 / √3`; in p.u. for a bus
//! without a base voltage), angles in radians (A at the estimated angle, B 120° behind, C
//! 120° ahead). The component is the bus's configured name, else `BUS{number}`.

use std::collections::BTreeMap;

use platone_cim::pmu::sogno::{GroupedReading, Measurand, SognoGrouped, SognoPhase};
use platone_grid::Network;

use super::Estimation;

/// The messages of an estimation: (component name, message), in case order.
pub fn state_messages(
    network: &Network,
    estimation: &Estimation,
    names: &BTreeMap<u64, String>,
) -> Vec<(String, SognoGrouped)> {
    let third = 2.0 * std::f64::consts::PI / 3.0;
    let time = estimation.measured_at.unwrap_or(estimation.at);
    estimation
        .buses
        .iter()
        .map(|state| {
            let base_kv = network
                .buses
                .iter()
                .find(|b| b.number == state.bus)
                .map_or(0.0, |b| b.base_kv);
            let vm = if base_kv > 0.0 {
                state.vm * base_kv * 1000.0 / 3f64.sqrt()
            } else {
                state.vm
            };
            let va = state.va.to_radians();
            let mut readings = Vec::with_capacity(6);
            for (phase, shift) in [
                (SognoPhase::A, 0.0),
                (SognoPhase::B, -third),
                (SognoPhase::C, third),
            ] {
                readings.push(GroupedReading {
                    measurand: Measurand::VoltMagnitude,
                    phase: Some(phase),
                    data: vm,
                });
                let angle = (va + shift + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                    - std::f64::consts::PI;
                readings.push(GroupedReading {
                    measurand: Measurand::VoltAngle,
                    phase: Some(phase),
                    data: angle,
                });
            }
            let component = names
                .get(&state.bus)
                .cloned()
                .unwrap_or_else(|| format!("BUS{}", state.bus));
            (
                component.clone(),
                SognoGrouped {
                    component,
                    timestamp: time,
                    readings,
                },
            )
        })
        .collect()
}
