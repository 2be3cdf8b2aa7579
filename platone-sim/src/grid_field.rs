//! PMUs on a grid state: one PMU per bus of a solved power flow, measuring the bus voltage
//! and the current of the bus's net load, as SOGNO device messages — the field a DSOTP's power
//! calculation and state estimator run on — and the measurement map that routes what they send
//! (and what the power calculation derives from it) to the estimator.
//!
//! PMU `pmu-{bus}` (component `BUS{bus}`) sends, for phases A, B and C of the balanced state:
//! `voltmagnitude` (V line-to-neutral, `vm · baseKV · 1000 / √3`), `voltangle` (rad; B 120°
//! behind A, C 120° ahead), `currmagnitude` (A) and `currangle` (rad) of the current flowing
//! *from the bus into its net load* (load convention: consumption `−(p + jq)` shared equally by
//! the phases, so the power calculation's P and Q are the bus's net consumption).
//!
//! ```
//! use platone_grid::{PowerFlowOptions, parse_case, run_ac};
//! use platone_sim::grid_field::GridPmus;
//!
//! let case = "mpc.baseMVA = 100;
//! mpc.bus = [1 3 0 0 0 0 1 1 0 20 1 1.1 0.9; 2 1 1 0.5 0 0 1 1 0 20 1 1.1 0.9];
//! mpc.gen = [1 0 0 100 -100 1 100 1 200 0];
//! mpc.branch = [1 2 0.01 0.05 0 0 0 0 0 0 1 -360 360];";
//! let net = parse_case(case)?;
//! let flow = run_ac(&net, &PowerFlowOptions::default())?;
//! let pmus = GridPmus::new(&net);
//! let messages = pmus.messages(&flow, chrono::Utc::now().fixed_offset(), 0.0, 1);
//! assert_eq!(messages.len(), 2);
//! assert_eq!(messages[1].device, "pmu-2");
//! assert_eq!(messages[1].readings.len(), 12);
//! assert_eq!(pmus.measurement_map(0.001, 0.01).routes.len(), 2 * 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use platone_cim::pmu::sogno::{Measurand, SognoMessage, SognoPhase, SognoReading};
use platone_grid::{
    Location, MeasurementMap, MeasurementRoute, Network, PowerFlowResult, Quantity,
};
use platone_model::{MeasurementKind, PhaseSet, Timestamp};

/// One PMU per bus of a network.
#[derive(Debug, Clone)]
pub struct GridPmus {
    /// (bus number, line-to-neutral base voltage in V; 1 for a bus without a base voltage).
    buses: Vec<(u64, f64)>,
}

/// Gaussian noise from a seed (xorshift64* and Box–Muller), reproducible on every platform.
#[derive(Debug, Clone)]
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn gaussian(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

impl GridPmus {
    /// A PMU at every bus of `net`.
    pub fn new(net: &Network) -> Self {
        GridPmus {
            buses: net
                .buses
                .iter()
                .map(|b| {
                    let base = if b.base_kv > 0.0 {
                        b.base_kv * 1000.0 / 3f64.sqrt()
                    } else {
                        1.0
                    };
                    (b.number, base)
                })
                .collect(),
        }
    }

    /// The device id of the PMU at `bus`.
    pub fn device(bus: u64) -> String {
        format!("pmu-{bus}")
    }

    /// The SOGNO component of `bus`.
    pub fn component(bus: u64) -> String {
        format!("BUS{bus}")
    }

    /// The devices, in case order.
    pub fn devices(&self) -> Vec<String> {
        self.buses.iter().map(|(b, _)| Self::device(*b)).collect()
    }

    /// Each PMU's message for the state `flow` (of the network this was built on) at `time`,
    /// with relative Gaussian noise of standard deviation `noise` (0: exact) from `seed`.
    pub fn messages(
        &self,
        flow: &PowerFlowResult,
        time: Timestamp,
        noise: f64,
        seed: u64,
    ) -> Vec<SognoMessage> {
        let mut rng = Noise(seed.max(1));
        let third = 2.0 * std::f64::consts::PI / 3.0;
        self.buses
            .iter()
            .zip(&flow.buses)
            .map(|((bus, base), state)| {
                let v = state.vm * base;
                let theta = state.va.to_radians();
                // Per phase, the load draws −(p + jq)/3 MVA: I = conj(S / V).
                let s_re = -state.p * 1e6 / 3.0;
                let s_im = -state.q * 1e6 / 3.0;
                let i_mag = s_re.hypot(s_im) / v.max(f64::MIN_POSITIVE);
                let i_rel = -s_im.atan2(s_re); // angle of conj(S) relative to V
                let mut readings = Vec::with_capacity(12);
                for (phase, shift) in [
                    (SognoPhase::A, 0.0),
                    (SognoPhase::B, -third),
                    (SognoPhase::C, third),
                ] {
                    let mut noisy = |x: f64| x * (1.0 + noise * rng.gaussian());
                    let angle = theta + shift;
                    for (measurand, data) in [
                        (Measurand::VoltMagnitude, noisy(v)),
                        (Measurand::VoltAngle, angle),
                        (Measurand::CurrMagnitude, noisy(i_mag)),
                        (Measurand::CurrAngle, angle + i_rel),
                    ] {
                        readings.push(SognoReading {
                            component: Self::component(*bus),
                            measurand,
                            phase: Some(phase),
                            data,
                        });
                    }
                }
                SognoMessage {
                    device: Self::device(*bus),
                    timestamp: time,
                    readings,
                }
            })
            .collect()
    }

    /// The estimator's routes: each PMU's phase-A voltage magnitude (σ `sigma_vm` p.u.) and
    /// angle (σ `sigma_va` degrees), and the power calculation's three-phase P and Q (channels
    /// `3P:P`, `3P:Q`; σ 1 % of the base MVA… given as 0.01 MW/Mvar) as bus injections.
    pub fn measurement_map(&self, sigma_vm: f64, sigma_va: f64) -> MeasurementMap {
        let mut routes = Vec::with_capacity(self.buses.len() * 4);
        for (bus, base) in &self.buses {
            let route = |channel: &str, phases, kind, quantity, scale, sigma| MeasurementRoute {
                source: Self::device(*bus),
                channel: Some(channel.to_owned()),
                component: Some(Self::component(*bus)),
                phases: Some(phases),
                kind,
                quantity,
                location: Location::Bus(*bus),
                scale,
                sigma,
            };
            routes.push(route(
                "voltmagnitude",
                PhaseSet::A,
                MeasurementKind::Voltage,
                Quantity::VoltageMagnitude,
                1.0 / base,
                sigma_vm,
            ));
            routes.push(route(
                "voltangle",
                PhaseSet::A,
                MeasurementKind::PhaseAngle,
                Quantity::VoltageAngle,
                1.0,
                sigma_va,
            ));
            // Net consumption in W and VAr → injection in MW and Mvar.
            routes.push(route(
                "3P:P",
                PhaseSet::ABC,
                MeasurementKind::Power,
                Quantity::ActiveInjection,
                -1e-6,
                0.01,
            ));
            routes.push(route(
                "3P:Q",
                PhaseSet::ABC,
                MeasurementKind::Power,
                Quantity::ReactiveInjection,
                -1e-6,
                0.01,
            ));
        }
        MeasurementMap { routes }
    }
}
