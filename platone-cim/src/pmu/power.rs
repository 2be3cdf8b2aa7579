//! The DSOTP's PMU power service: active, reactive and apparent power from voltage and current
//! phasors.
//!
//! **Sign convention (load):** the current phasor's reference direction is *into* the load
//! (from the bus into the measured branch). With RMS phasors V and I, per phase
//! P = |V||I| cos(θv − θi), Q = |V||I| sin(θv − θi), |S| = |V||I|: P > 0 is power consumed by the
//! branch, Q > 0 is inductive (current lagging voltage). A generator measured with the same
//! reference direction shows P < 0.
//!
//! Voltage and current channels are paired by phase (from CFG-3, the channel map, or the
//! channel name for CFG-1/2): the n-th current of a phase is paired with the first voltage of
//! that phase, and the n-th currents of A, B and C form three-phase set n, whose totals are the
//! sums over its phases. The positive-sequence power is S₁ = 3·V₁·I₁* with V₁ = (Va + a·Vb +
//! a²·Vc)/3 (a = e^{j2π/3}); when the PMU sends positive-sequence phasors itself they are used
//! instead.
//!
//! ```
//! use platone_cim::pmu::power::phase_power;
//! // 230 V at 0 rad, 10 A lagging by 30°: P = 1991.9 W, Q = 1150 VAr.
//! let p = phase_power(230.0, 0.0, 10.0, -std::f64::consts::PI / 6.0);
//! assert!((p.active - 1991.858).abs() < 1e-3);
//! assert!((p.reactive - 1150.0).abs() < 1e-9);
//! assert!((p.apparent - 2300.0).abs() < 1e-9);
//! ```

use platone_model::{
    Accumulation, ComponentId, DeviceId, Measurement, MeasurementKind, Phase, PhaseSet, Timestamp,
    Unit,
};

use super::PmuError;
use super::c37118::{PhasorComponent, PhasorKind, PmuConfig, PmuData};
use super::channel_map::{ChannelMap, channel_info};
use super::sogno::{GroupedReading, Measurand, SognoGrouped, SognoPhase};

/// Active, reactive and apparent power.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Power {
    /// P in W.
    pub active: f64,
    /// Q in VAr.
    pub reactive: f64,
    /// |S| in VA.
    pub apparent: f64,
}

impl std::ops::Add for Power {
    type Output = Power;
    fn add(self, o: Power) -> Power {
        let active = self.active + o.active;
        let reactive = self.reactive + o.reactive;
        Power {
            active,
            reactive,
            apparent: active.hypot(reactive),
        }
    }
}

/// Power of one phase from RMS magnitudes and angles (radians).
pub fn phase_power(v_mag: f64, v_ang: f64, i_mag: f64, i_ang: f64) -> Power {
    let s = v_mag * i_mag;
    let phi = v_ang - i_ang;
    Power {
        active: s * phi.cos(),
        reactive: s * phi.sin(),
        apparent: s,
    }
}

/// The power through one current channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePower {
    /// The phase.
    pub phase: Phase,
    /// The voltage channel's name.
    pub voltage: String,
    /// The current channel's name.
    pub current: String,
    /// The current channel's grid component (channel map), if any.
    pub component: Option<String>,
    /// Its three-phase set (0 for the first current of each phase).
    pub set: usize,
    /// The power.
    pub power: Power,
}

/// Three-phase totals of one current set (all of A, B and C present).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreePhasePower {
    /// The set.
    pub set: usize,
    /// Sum over the phases.
    pub total: Power,
    /// Positive-sequence power 3·V₁·I₁*, with V₁ and I₁ (magnitude, angle).
    pub positive_sequence: Option<SequencePower>,
}

/// Positive-sequence quantities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequencePower {
    /// V₁ magnitude and angle.
    pub voltage: (f64, f64),
    /// I₁ magnitude and angle.
    pub current: (f64, f64),
    /// S₁ = 3·V₁·I₁*.
    pub power: Power,
}

/// The result of the power calculation for one PMU block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PowerResult {
    /// Per phase and current channel.
    pub phases: Vec<PhasePower>,
    /// Per complete three-phase set.
    pub three_phase: Vec<ThreePhasePower>,
    /// From positive-sequence phasors the PMU sends itself (V₁+ and I₁+ channels).
    pub measured_positive_sequence: Option<SequencePower>,
}

#[derive(Clone, Copy)]
struct C(f64, f64);

impl C {
    fn polar(m: f64, a: f64) -> C {
        C(m * a.cos(), m * a.sin())
    }
    fn add(self, o: C) -> C {
        C(self.0 + o.0, self.1 + o.1)
    }
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn scale(self, k: f64) -> C {
        C(self.0 * k, self.1 * k)
    }
    fn mag_ang(self) -> (f64, f64) {
        (self.0.hypot(self.1), self.1.atan2(self.0))
    }
}

fn positive_sequence(a: C, b: C, c: C) -> C {
    let op = C::polar(1.0, 2.0 * std::f64::consts::PI / 3.0);
    let op2 = op.mul(op);
    a.add(op.mul(b)).add(op2.mul(c)).scale(1.0 / 3.0)
}

fn sequence_power(v: (f64, f64), i: (f64, f64)) -> SequencePower {
    let p = phase_power(v.0, v.1, i.0, i.1);
    SequencePower {
        voltage: v,
        current: i,
        power: Power {
            active: 3.0 * p.active,
            reactive: 3.0 * p.reactive,
            apparent: 3.0 * p.apparent,
        },
    }
}

/// A current channel's name, grid component, magnitude and angle.
type CurrentChannel = (String, Option<String>, f64, f64);

const PHASES: [(PhasorComponent, Phase); 3] = [
    (PhasorComponent::PhaseA, Phase::A),
    (PhasorComponent::PhaseB, Phase::B),
    (PhasorComponent::PhaseC, Phase::C),
];

/// Computes the power of one PMU block (see the module docs for pairing and sign).
pub fn compute(pmu: &PmuConfig, data: &PmuData, map: Option<&ChannelMap>) -> PowerResult {
    let mut voltages: [Option<(String, f64, f64)>; 3] = [None, None, None];
    let mut currents: [Vec<CurrentChannel>; 3] = [vec![], vec![], vec![]];
    let mut v_pos = None;
    let mut i_pos = None;
    for (channel, value) in pmu.phasors.iter().zip(&data.phasors) {
        let Some(value) = value else { continue };
        let info = channel_info(&pmu.station, channel, map);
        let (mag, ang) = (value.magnitude(), value.angle());
        if info.component == Some(PhasorComponent::PositiveSequence) {
            match info.kind {
                PhasorKind::Voltage => v_pos = v_pos.or(Some((mag, ang))),
                PhasorKind::Current => i_pos = i_pos.or(Some((mag, ang))),
            }
            continue;
        }
        let Some(k) = PHASES.iter().position(|(c, _)| Some(*c) == info.component) else {
            continue;
        };
        match info.kind {
            PhasorKind::Voltage => {
                if voltages[k].is_none() {
                    voltages[k] = Some((channel.name.clone(), mag, ang));
                }
            }
            PhasorKind::Current => {
                currents[k].push((channel.name.clone(), info.grid_component, mag, ang))
            }
        }
    }
    let mut result = PowerResult {
        measured_positive_sequence: v_pos.zip(i_pos).map(|(v, i)| sequence_power(v, i)),
        ..PowerResult::default()
    };
    for (k, (_, phase)) in PHASES.iter().enumerate() {
        let Some((v_name, v_mag, v_ang)) = &voltages[k] else {
            continue;
        };
        for (set, (i_name, component, i_mag, i_ang)) in currents[k].iter().enumerate() {
            result.phases.push(PhasePower {
                phase: *phase,
                voltage: v_name.clone(),
                current: i_name.clone(),
                component: component.clone(),
                set,
                power: phase_power(*v_mag, *v_ang, *i_mag, *i_ang),
            });
        }
    }
    let sets = currents.iter().map(Vec::len).min().unwrap_or(0);
    if voltages.iter().all(Option::is_some) {
        for set in 0..sets {
            let total = result
                .phases
                .iter()
                .filter(|p| p.set == set)
                .fold(Power::default(), |acc, p| acc + p.power);
            let v: Vec<C> = voltages
                .iter()
                .flatten()
                .map(|(_, m, a)| C::polar(*m, *a))
                .collect();
            let i: Vec<C> = currents
                .iter()
                .filter_map(|c| c.get(set))
                .map(|(_, _, m, a)| C::polar(*m, *a))
                .collect();
            let positive_sequence = match (v.as_slice(), i.as_slice()) {
                ([va, vb, vc], [ia, ib, ic]) => Some(sequence_power(
                    positive_sequence(*va, *vb, *vc).mag_ang(),
                    positive_sequence(*ia, *ib, *ic).mag_ang(),
                )),
                _ => None,
            };
            result.three_phase.push(ThreePhasePower {
                set,
                total,
                positive_sequence,
            });
        }
    }
    result
}

impl PowerResult {
    /// The results as measurements of `source`: per phase P (W), Q (VAr), |S| (VA) with
    /// `channel` = the current channel's name; three-phase totals (phases ABC, channel
    /// `3P:<set>`), positive-sequence power (channel `P1:<set>`, or `P1` for measured ones).
    pub fn to_measurements(
        &self,
        source: &DeviceId,
        time: Timestamp,
        component: Option<&ComponentId>,
    ) -> Result<Vec<Measurement>, PmuError> {
        let mut out = Vec::new();
        let mut push = |power: Power,
                        phases: PhaseSet,
                        channel: String,
                        comp: Option<ComponentId>|
         -> Result<(), PmuError> {
            for (unit, value) in [
                (Unit::Watt, power.active),
                (Unit::Var, power.reactive),
                (Unit::VoltAmpere, power.apparent),
            ] {
                let mut m =
                    Measurement::new(source.clone(), time, MeasurementKind::Power, unit, value)
                        .map_err(|e| PmuError::model(format!("power {channel}"), e))?
                        .with_phases(phases)
                        .with_accumulation(Accumulation::Instantaneous, None)
                        .with_channel(channel.clone())
                        .map_err(|e| PmuError::model(format!("power {channel}"), e))?;
                m.component = comp.clone().or_else(|| component.cloned());
                out.push(m);
            }
            Ok(())
        };
        for p in &self.phases {
            let comp = match &p.component {
                Some(c) => Some(
                    ComponentId::new(c)
                        .map_err(|e| PmuError::model(format!("component {c:?}"), e))?,
                ),
                None => None,
            };
            push(p.power, PhaseSet::of(&[p.phase]), p.current.clone(), comp)?;
        }
        for t in &self.three_phase {
            push(t.total, PhaseSet::ABC, format!("3P:{}", t.set), None)?;
            if let Some(s) = t.positive_sequence {
                push(s.power, PhaseSet::ABC, format!("P1:{}", t.set), None)?;
            }
        }
        if let Some(s) = self.measured_positive_sequence {
            push(s.power, PhaseSet::ABC, "P1".into(), None)?;
        }
        Ok(out)
    }

    /// The per-phase results as SOGNO grouped messages, one per component (the current
    /// channel's map component, else `default_component`).
    pub fn to_sogno_grouped(&self, default_component: &str, time: Timestamp) -> Vec<SognoGrouped> {
        let mut out: Vec<SognoGrouped> = Vec::new();
        for p in &self.phases {
            let component = p
                .component
                .clone()
                .unwrap_or_else(|| default_component.to_string());
            let phase = match p.phase {
                Phase::A => SognoPhase::A,
                Phase::B => SognoPhase::B,
                _ => SognoPhase::C,
            };
            let readings = [
                (Measurand::ActivePower, p.power.active),
                (Measurand::ReactivePower, p.power.reactive),
                (Measurand::ApparentPower, p.power.apparent),
            ]
            .map(|(measurand, data)| GroupedReading {
                measurand,
                phase: Some(phase),
                data,
            });
            match out.iter_mut().find(|g| g.component == component) {
                Some(g) => g.readings.extend(readings),
                None => out.push(SognoGrouped {
                    component,
                    timestamp: time,
                    readings: readings.to_vec(),
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_system_sequence_equals_total() {
        let a = C::polar(230.0, 0.3);
        let b = C::polar(230.0, 0.3 - 2.0 * std::f64::consts::PI / 3.0);
        let c = C::polar(230.0, 0.3 + 2.0 * std::f64::consts::PI / 3.0);
        let (m, ang) = positive_sequence(a, b, c).mag_ang();
        assert!((m - 230.0).abs() < 1e-9 && (ang - 0.3).abs() < 1e-12);
        let s = sequence_power((230.0, 0.0), (10.0, -0.5));
        let per = phase_power(230.0, 0.0, 10.0, -0.5);
        assert!((s.power.active - 3.0 * per.active).abs() < 1e-9);
        assert!(per.reactive > 0.0, "lagging current is inductive, Q > 0");
    }
}
