//! The network model: buses, generators and branches as MATPOWER tables hold them.

use std::collections::HashMap;

use faer::c64;
use serde::{Deserialize, Serialize};

use crate::error::{GridError, Result};

/// The role of a bus in the power flow (MATPOWER's bus types 1–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusType {
    /// Load bus: P and Q given (type 1).
    Pq,
    /// Generator bus: P and |V| given (type 2).
    Pv,
    /// Reference bus: |V| and angle given (type 3).
    Slack,
    /// Isolated bus, left out of the solution (type 4).
    Isolated,
}

/// A bus (a row of MATPOWER's `bus` table). Powers in MW/Mvar, voltages in p.u. and degrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bus {
    /// The bus number (`bus_i`).
    pub number: u64,
    /// The bus type.
    pub kind: BusType,
    /// Active load, MW.
    pub pd: f64,
    /// Reactive load, Mvar.
    pub qd: f64,
    /// Shunt conductance, MW demanded at 1 p.u.
    pub gs: f64,
    /// Shunt susceptance, Mvar injected at 1 p.u.
    pub bs: f64,
    /// Area number.
    pub area: f64,
    /// Voltage magnitude, p.u. (the start value).
    pub vm: f64,
    /// Voltage angle, degrees (the start value).
    pub va: f64,
    /// Base voltage, kV.
    pub base_kv: f64,
    /// Loss zone.
    pub zone: f64,
    /// Maximum voltage magnitude, p.u.
    pub vmax: f64,
    /// Minimum voltage magnitude, p.u.
    pub vmin: f64,
}

/// A generator (a row of MATPOWER's `gen` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// The bus number it is connected to.
    pub bus: u64,
    /// Active output, MW.
    pub pg: f64,
    /// Reactive output, Mvar.
    pub qg: f64,
    /// Maximum reactive output, Mvar.
    pub qmax: f64,
    /// Minimum reactive output, Mvar.
    pub qmin: f64,
    /// Voltage magnitude set-point, p.u.
    pub vg: f64,
    /// Machine base, MVA.
    pub mbase: f64,
    /// Whether it is in service.
    pub in_service: bool,
    /// Maximum active output, MW.
    pub pmax: f64,
    /// Minimum active output, MW.
    pub pmin: f64,
}

/// A line or transformer (a row of MATPOWER's `branch` table), in MATPOWER's π model with an
/// ideal transformer at the from end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// From bus number.
    pub from: u64,
    /// To bus number.
    pub to: u64,
    /// Resistance, p.u.
    pub r: f64,
    /// Reactance, p.u.
    pub x: f64,
    /// Total line charging susceptance, p.u.
    pub b: f64,
    /// Long-term rating, MVA (0 = unlimited).
    pub rate_a: f64,
    /// Short-term rating, MVA.
    pub rate_b: f64,
    /// Emergency rating, MVA.
    pub rate_c: f64,
    /// Off-nominal tap ratio at the from end (0 = a line, ratio 1).
    pub ratio: f64,
    /// Phase shift, degrees.
    pub shift: f64,
    /// Whether it is in service.
    pub in_service: bool,
}

impl Branch {
    /// The complex tap `t = ratio · e^{j·shift}` (ratio 1 when the case says 0).
    pub fn tap(&self) -> c64 {
        let ratio = if self.ratio == 0.0 { 1.0 } else { self.ratio };
        let shift = self.shift.to_radians();
        c64::new(ratio * shift.cos(), ratio * shift.sin())
    }

    /// The branch's two-port admittances `[Yff, Yft, Ytf, Ytt]` in p.u. (zero when out of
    /// service), as MATPOWER's `makeYbus`.
    pub fn admittances(&self) -> [c64; 4] {
        if !self.in_service {
            return [c64::new(0.0, 0.0); 4];
        }
        let z = c64::new(self.r, self.x);
        let ys = c64::new(1.0, 0.0) / z;
        let tap = self.tap();
        let ytt = ys + c64::new(0.0, self.b / 2.0);
        let yff = ytt / (tap * tap.conj());
        let yft = -ys / tap.conj();
        let ytf = -ys / tap;
        [yff, yft, ytf, ytt]
    }
}

/// A power network: MATPOWER's `baseMVA`, `bus`, `gen` and `branch` tables, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// System base, MVA.
    pub base_mva: f64,
    /// The buses, in case order.
    pub buses: Vec<Bus>,
    /// The generators, in case order.
    pub generators: Vec<Generator>,
    /// The branches, in case order.
    pub branches: Vec<Branch>,
    index: HashMap<u64, usize>,
}

impl Network {
    /// Checks and assembles a network: positive base, unique bus numbers, generators and
    /// branches on known buses, branches with a non-zero impedance.
    pub fn new(
        base_mva: f64,
        buses: Vec<Bus>,
        generators: Vec<Generator>,
        branches: Vec<Branch>,
    ) -> Result<Self> {
        if !(base_mva.is_finite() && base_mva > 0.0) {
            return Err(GridError::Network {
                place: "baseMVA".into(),
                message: format!("must be a positive number, found {base_mva}"),
            });
        }
        if buses.is_empty() {
            return Err(GridError::Network {
                place: "bus".into(),
                message: "no buses".into(),
            });
        }
        let mut index = HashMap::with_capacity(buses.len());
        for (i, b) in buses.iter().enumerate() {
            if index.insert(b.number, i).is_some() {
                return Err(GridError::Network {
                    place: format!("bus row {}", i + 1),
                    message: format!("bus number {} appears twice", b.number),
                });
            }
        }
        for (i, g) in generators.iter().enumerate() {
            if !index.contains_key(&g.bus) {
                return Err(GridError::Network {
                    place: format!("gen row {}", i + 1),
                    message: format!("unknown bus {}", g.bus),
                });
            }
        }
        for (i, br) in branches.iter().enumerate() {
            for end in [br.from, br.to] {
                if !index.contains_key(&end) {
                    return Err(GridError::Network {
                        place: format!("branch row {}", i + 1),
                        message: format!("unknown bus {end}"),
                    });
                }
            }
            if br.in_service && br.r == 0.0 && br.x == 0.0 {
                return Err(GridError::Network {
                    place: format!("branch row {}", i + 1),
                    message: "zero impedance (r = x = 0)".into(),
                });
            }
            if br.in_service && !(br.r.is_finite() && br.x.is_finite() && br.b.is_finite()) {
                return Err(GridError::Network {
                    place: format!("branch row {}", i + 1),
                    message: "r, x and b must be finite".into(),
                });
            }
        }
        Ok(Network {
            base_mva,
            buses,
            generators,
            branches,
            index,
        })
    }

    /// The position in [`Network::buses`] of the bus with this number.
    pub fn bus_index(&self, number: u64) -> Option<usize> {
        self.index.get(&number).copied()
    }

    /// Position of a bus known to exist (checked by [`Network::new`]).
    pub(crate) fn idx(&self, number: u64) -> usize {
        self.index.get(&number).copied().unwrap_or(0)
    }

    /// Zero-injection buses: no load, no in-service generator, no shunt. By position.
    pub fn zero_injection_buses(&self) -> Vec<usize> {
        let mut has_gen = vec![false; self.buses.len()];
        for g in self.generators.iter().filter(|g| g.in_service) {
            has_gen[self.idx(g.bus)] = true;
        }
        self.buses
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                !has_gen[*i]
                    && b.kind != BusType::Isolated
                    && b.pd == 0.0
                    && b.qd == 0.0
                    && b.gs == 0.0
                    && b.bs == 0.0
            })
            .map(|(i, _)| i)
            .collect()
    }
}
