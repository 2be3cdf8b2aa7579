//! The PMU power calculation service (D2.7 §2.3): each PMU message on the databus is published
//! again enriched with active, reactive and apparent power and power factor per phase and for
//! the three phases together.
//!
//! Input: `{devices}/{device}/pmu` (the BAL's envelope or a SOGNO device message, see
//! [`crate::message`]). Output: `{power}/{device}`, the same envelope with the input
//! measurements followed by the computed ones. Measurements are grouped by time stamp and grid
//! component; in each group a phase with voltage magnitude and angle and current magnitude and
//! angle (SOGNO measurands `voltmagnitude`, `voltangle`, `currmagnitude`, `currangle`; angles
//! in radians or degrees as their unit says) gets
//!
//! - P (`power`, W), Q (`power`, VAr), |S| (`power`, VA) with the load sign convention of
//!   [`platone_cim::pmu::power`]: P > 0 is consumed by the measured branch;
//! - the power factor (`power_factor`, `cosPhi`) = P / |S|, negative when power flows back
//!   (left out when |S| = 0);
//!
//! and a group with all of A, B and C gets the same four for the three phases (phases `ABC`,
//! channel `3P`). Computed measurements keep the input's source, component and time stamp
//! and have the channel `P`, `Q`, `S`, `PF` (per phase) or `3P:P` … (total).
//!
//! ```
//! use platone_dsotp::power::power_measurements;
//! use platone_dsotp::message::DeviceMeasurements;
//!
//! let pmu = br#"{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[
//!   {"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.0},
//!   {"component":"BUS-1","measurand":"voltangle","phase":"A","data":0.0},
//!   {"component":"BUS-1","measurand":"currmagnitude","phase":"A","data":10.0},
//!   {"component":"BUS-1","measurand":"currangle","phase":"A","data":-0.5235987755982988}]}"#;
//! let message = DeviceMeasurements::from_json(pmu)?;
//! let power = power_measurements(&message.measurements);
//! // P = 230 · 10 · cos 30° = 1991.9 W, Q = 1150 VAr, S = 2300 VA, PF = 0.866.
//! assert!((power[0].value - 1991.858).abs() < 1e-3);
//! assert!((power[1].value - 1150.0).abs() < 1e-9);
//! assert!((power[3].value - 0.866).abs() < 1e-3);
//! # Ok::<(), platone_dsotp::DsotpError>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use platone_bus::{Bus, Message, QoS, Subscription};
use platone_cim::pmu::power::{Power, phase_power};
use platone_cim::pmu::sogno::Measurand;
use platone_model::{
    Accumulation, ComponentId, Measurement, MeasurementKind, Phase, PhaseSet, Timestamp, Unit,
};
use tokio::task::JoinHandle;

use crate::consumer::{Handled, ServiceCounters, consume, until_done};
use crate::error::{DsotpError, Result};
use crate::message::DeviceMeasurements;
use crate::topics::DsotpTopics;

/// Phasors of one phase: voltage magnitude and angle, current magnitude and angle (angles in
/// radians).
#[derive(Debug, Default, Clone, Copy)]
struct PhaseReadings {
    v_mag: Option<f64>,
    v_ang: Option<f64>,
    i_mag: Option<f64>,
    i_ang: Option<f64>,
}

impl PhaseReadings {
    fn power(&self) -> Option<Power> {
        Some(phase_power(
            self.v_mag?,
            self.v_ang?,
            self.i_mag?,
            self.i_ang?,
        ))
    }
}

const PHASES: [(Phase, PhaseSet); 3] = [
    (Phase::A, PhaseSet::A),
    (Phase::B, PhaseSet::B),
    (Phase::C, PhaseSet::C),
];

/// The power computed from `measurements` (see the module docs); empty when no phase has
/// all four phasor values.
pub fn power_measurements(measurements: &[Measurement]) -> Vec<Measurement> {
    type Key<'a> = (Timestamp, Option<&'a ComponentId>);
    let mut groups: BTreeMap<Key<'_>, ([PhaseReadings; 3], &Measurement)> = BTreeMap::new();
    for m in measurements {
        if !m.quality.is_good() {
            continue;
        }
        let Some(k) = PHASES.iter().position(|(_, set)| *set == m.phases) else {
            continue;
        };
        let Some(measurand) = Measurand::of(m) else {
            continue;
        };
        let mut value = m.value * m.multiplier.factor();
        if m.unit == Unit::Degree {
            value = value.to_radians();
        }
        let entry = groups
            .entry((m.timestamp, m.component.as_ref()))
            .or_insert(([PhaseReadings::default(); 3], m));
        let phase = &mut entry.0[k];
        let slot = match measurand {
            Measurand::VoltMagnitude => &mut phase.v_mag,
            Measurand::VoltAngle => &mut phase.v_ang,
            Measurand::CurrMagnitude => &mut phase.i_mag,
            Measurand::CurrAngle => &mut phase.i_ang,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let mut out = Vec::new();
    for (phases, first) in groups.values() {
        let mut total = Power::default();
        let mut complete = true;
        for (k, (_, set)) in PHASES.iter().enumerate() {
            match phases[k].power() {
                Some(p) => {
                    push_power(&mut out, first, *set, "", p);
                    total = total + p;
                }
                None => complete = false,
            }
        }
        if complete {
            push_power(&mut out, first, PhaseSet::ABC, "3P:", total);
        }
    }
    out
}

fn push_power(
    out: &mut Vec<Measurement>,
    like: &Measurement,
    phases: PhaseSet,
    prefix: &str,
    p: Power,
) {
    let mut values = vec![
        ("P", MeasurementKind::Power, Unit::Watt, p.active),
        ("Q", MeasurementKind::Power, Unit::Var, p.reactive),
        ("S", MeasurementKind::Power, Unit::VoltAmpere, p.apparent),
    ];
    if p.apparent > 0.0 {
        values.push((
            "PF",
            MeasurementKind::PowerFactor,
            Unit::CosPhi,
            p.active / p.apparent,
        ));
    }
    for (channel, kind, unit, value) in values {
        // Values computed from finite phasors are finite; a non-finite one (overflow of
        // absurd inputs) is left out rather than published.
        let Ok(m) = Measurement::new(like.source.clone(), like.timestamp, kind, unit, value) else {
            continue;
        };
        let Ok(mut m) = m
            .with_phases(phases)
            .with_accumulation(Accumulation::Instantaneous, None)
            .with_channel(format!("{prefix}{channel}"))
        else {
            continue;
        };
        m.component = like.component.clone();
        m.pod = like.pod.clone();
        out.push(m);
    }
}

/// Options of the power service.
#[derive(Debug, Clone)]
pub struct PowerServiceOptions {
    /// The topics (input `{devices}/+/pmu`, output `{power}/{device}`, dead letters
    /// `{dead_letters}/power`).
    pub topics: DsotpTopics,
    /// Messages handled at a time (publishes awaiting the broker's confirmation).
    pub max_in_flight: usize,
}

impl Default for PowerServiceOptions {
    fn default() -> Self {
        PowerServiceOptions {
            topics: DsotpTopics::default(),
            max_in_flight: 256,
        }
    }
}

/// The PMU power calculation service.
#[derive(Debug)]
pub struct PowerService {
    options: PowerServiceOptions,
    counters: Arc<ServiceCounters>,
}

impl PowerService {
    /// A service with these options.
    pub fn new(options: PowerServiceOptions) -> Self {
        PowerService {
            options,
            counters: Arc::default(),
        }
    }

    /// Its counters.
    pub fn counters(&self) -> Arc<ServiceCounters> {
        self.counters.clone()
    }

    /// Subscribes to the PMU messages on `bus` and publishes each enriched until the
    /// subscription ends (QoS 1 both ways; a message is acknowledged once its enriched form
    /// is confirmed by the bus, so nothing is lost; a publish that fails is retried with
    /// back-off, which holds back reading). An unreadable message is dead-lettered on
    /// `{dead_letters}/power` and the rest flow on.
    pub async fn run(&self, bus: Arc<dyn Bus>) -> Result<()> {
        let subscription = self.subscribe(bus.as_ref()).await?;
        self.serve(bus, subscription).await;
        Ok(())
    }

    /// Subscribes, then runs [`PowerService::run`]'s loop on a task: once this returns, no
    /// message published to the input topics is missed.
    pub async fn start(self: Arc<Self>, bus: Arc<dyn Bus>) -> Result<JoinHandle<()>> {
        let subscription = self.subscribe(bus.as_ref()).await?;
        Ok(tokio::spawn(
            async move { self.serve(bus, subscription).await },
        ))
    }

    async fn subscribe(&self, bus: &dyn Bus) -> Result<Subscription> {
        let topics = &self.options.topics;
        let filter = topics.subscription("power", &format!("{}/+/pmu", topics.devices))?;
        bus.subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(DsotpError::bus)
    }

    async fn serve(&self, bus: Arc<dyn Bus>, subscription: Subscription) {
        let topics = &self.options.topics;
        let dead_letters = format!("{}/power", topics.dead_letters);
        let counters = &self.counters;
        let handler = |message: Message| {
            let bus = bus.clone();
            async move {
                let mut enriched = match DeviceMeasurements::from_json(&message.payload) {
                    Ok(m) => m,
                    Err(e) => return Handled::Unusable(e.to_string()),
                };
                let power = power_measurements(&enriched.measurements);
                enriched.measurements.extend(power);
                let topic = format!("{}/{}", topics.power, enriched.device);
                if platone_bus::validate_topic(&topic).is_err() {
                    return Handled::Unusable(format!(
                        "device {:?} names no topic",
                        enriched.device
                    ));
                }
                let payload = Bytes::from(enriched.to_json());
                until_done(counters, "publishing power", || {
                    bus.publish(
                        Message::new(topic.clone(), payload.clone()),
                        QoS::AtLeastOnce,
                    )
                })
                .await;
                Handled::Done
            }
        };
        consume(
            subscription,
            self.options.max_in_flight,
            bus.as_ref(),
            &dead_letters,
            counters,
            handler,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pmu(readings: &str) -> Vec<Measurement> {
        let json = format!(
            r#"{{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[{readings}]}}"#
        );
        DeviceMeasurements::from_json(json.as_bytes())
            .unwrap()
            .measurements
    }

    fn phase(p: &str, vm: f64, va: f64, im: f64, ia: f64) -> String {
        format!(
            r#"{{"component":"BUS-1","measurand":"voltmagnitude","phase":"{p}","data":{vm}}},
               {{"component":"BUS-1","measurand":"voltangle","phase":"{p}","data":{va}}},
               {{"component":"BUS-1","measurand":"currmagnitude","phase":"{p}","data":{im}}},
               {{"component":"BUS-1","measurand":"currangle","phase":"{p}","data":{ia}}}"#
        )
    }

    fn find<'a>(out: &'a [Measurement], channel: &str, phases: PhaseSet) -> &'a Measurement {
        out.iter()
            .find(|m| m.channel.as_deref() == Some(channel) && m.phases == phases)
            .unwrap()
    }

    #[test]
    fn balanced_three_phases_sum_to_three_times_one() {
        let third = 2.0 * std::f64::consts::PI / 3.0;
        let lag = 0.2;
        let readings = [
            phase("A", 230.0, 0.0, 50.0, -lag),
            phase("B", 230.0, -third, 50.0, -third - lag),
            phase("C", 230.0, third, 50.0, third - lag),
        ]
        .join(",");
        let out = power_measurements(&pmu(&readings));
        assert_eq!(out.len(), 16);
        let p1 = 230.0 * 50.0 * lag.cos();
        let q1 = 230.0 * 50.0 * lag.sin();
        for set in [PhaseSet::A, PhaseSet::B, PhaseSet::C] {
            assert!((find(&out, "P", set).value - p1).abs() < 1e-9);
            assert!((find(&out, "Q", set).value - q1).abs() < 1e-9);
        }
        assert!((find(&out, "3P:P", PhaseSet::ABC).value - 3.0 * p1).abs() < 1e-6);
        assert!((find(&out, "3P:Q", PhaseSet::ABC).value - 3.0 * q1).abs() < 1e-6);
        assert!((find(&out, "3P:S", PhaseSet::ABC).value - 3.0 * 230.0 * 50.0).abs() < 1e-6);
        assert!((find(&out, "3P:PF", PhaseSet::ABC).value - lag.cos()).abs() < 1e-12);
        let pf = find(&out, "PF", PhaseSet::A);
        assert_eq!(pf.kind, MeasurementKind::PowerFactor);
        assert_eq!(pf.component.as_ref().unwrap().as_str(), "BUS-1");
    }

    #[test]
    fn degrees_reverse_flow_and_incomplete_phases() {
        // Current opposite to the voltage: P < 0, PF = −1. Phase B lacks its current angle.
        let readings = [
            phase("A", 100.0, 0.0, 2.0, 0.0),
            r#"{"component":"BUS-1","measurand":"voltmagnitude","phase":"B","data":100.0}"#
                .to_owned(),
        ]
        .join(",");
        let mut ms = pmu(&readings);
        for m in &mut ms {
            if m.kind == MeasurementKind::PhaseAngle && m.channel.as_deref() == Some("currangle") {
                m.unit = Unit::Degree;
                m.value = 180.0;
            }
        }
        let out = power_measurements(&ms);
        assert_eq!(out.len(), 4, "phase A only, no total");
        assert!((find(&out, "P", PhaseSet::A).value + 200.0).abs() < 1e-9);
        assert!((find(&out, "PF", PhaseSet::A).value + 1.0).abs() < 1e-12);
    }

    #[test]
    fn no_current_no_power() {
        let out = power_measurements(&pmu(
            r#"{"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.0}"#,
        ));
        assert!(out.is_empty());
    }
}
