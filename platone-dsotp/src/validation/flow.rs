//! The validator's power flows, the state they are judged on, and the limits it leaves or
//! approaches.

use platone_grid::{BusType, Network, PowerFlowOptions, run_ac};
use platone_market::validation::Light;

use super::config::AcValidatorConfig;
use super::report::Violation;

/// Bus voltages: magnitudes p.u. and angles in radians, in case bus order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GridState {
    pub vm: Vec<f64>,
    pub va: Vec<f64>,
}

/// An injection change at one bus (by position in the case): MW and Mvar, positive = more
/// injection into the grid (more generation or less load).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Change {
    pub bus: usize,
    pub p: f64,
    pub q: f64,
}

/// Solves the AC power flow of `net` with `changes` applied to the bus loads; the reason as
/// text when it does not converge or cannot be solved.
pub(super) fn solve(
    net: &Network,
    changes: &[Change],
    options: &PowerFlowOptions,
) -> Result<GridState, String> {
    let mut net = net.clone();
    for c in changes {
        if let Some(bus) = net.buses.get_mut(c.bus) {
            bus.pd -= c.p;
            bus.qd -= c.q;
        }
    }
    let flow = run_ac(&net, options).map_err(|e| e.to_string())?;
    if !flow.converged {
        return Err(format!(
            "did not converge in {} Newton iterations",
            flow.iterations
        ));
    }
    let state = GridState {
        vm: flow.buses.iter().map(|b| b.vm).collect(),
        va: flow.buses.iter().map(|b| b.va.to_radians()).collect(),
    };
    if state.vm.iter().chain(&state.va).any(|x| !x.is_finite()) {
        return Err("the solution is not finite".into());
    }
    Ok(state)
}

/// Where solved states are judged: the power flow's own state, or, with an estimated state,
/// the estimate moved by what the awards change (`estimate + (flow − base flow)`, magnitudes
/// and angles), so that the check starts from what is measured in the grid.
#[derive(Debug, Clone)]
pub(super) struct Anchor<'a> {
    pub base: &'a GridState,
    /// Per bus: the estimated magnitude and angle (radians), if estimated.
    pub estimate: Option<&'a [Option<(f64, f64)>]>,
}

impl Anchor<'_> {
    /// The state judged for a solved `flow`.
    pub fn assess(&self, flow: &GridState) -> GridState {
        let Some(estimate) = self.estimate else {
            return flow.clone();
        };
        let mut out = flow.clone();
        for (i, e) in estimate.iter().enumerate() {
            let (Some(&(em, ea)), Some(&bm), Some(&ba)) =
                (e.as_ref(), self.base.vm.get(i), self.base.va.get(i))
            else {
                continue;
            };
            if let (Some(m), Some(a)) = (out.vm.get_mut(i), out.va.get_mut(i)) {
                *m = em + (*m - bm);
                *a = ea + (*a - ba);
            }
        }
        out
    }

    /// The state without any award: the estimate (buses not estimated: the base flow).
    pub fn base_state(&self) -> GridState {
        self.assess(self.base)
    }
}

#[derive(Debug, Clone, Copy)]
struct Cx(f64, f64);

impl Cx {
    fn polar(m: f64, a: f64) -> Cx {
        Cx(m * a.cos(), m * a.sin())
    }
    fn add(self, o: Cx) -> Cx {
        Cx(self.0 + o.0, self.1 + o.1)
    }
    fn mul(self, o: Cx) -> Cx {
        Cx(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn conj(self) -> Cx {
        Cx(self.0, -self.1)
    }
    fn norm(self) -> f64 {
        self.0.hypot(self.1)
    }
}

/// Per branch: the larger end's apparent power over `rateA`, percent, from the bus voltages
/// of `state` (as MATPOWER); `None` for a branch out of service or without a rating.
pub(super) fn loadings(net: &Network, state: &GridState) -> Vec<Option<f64>> {
    net.branches
        .iter()
        .map(|br| {
            if !(br.in_service && br.rate_a > 0.0) {
                return None;
            }
            let (f, t) = (net.bus_index(br.from)?, net.bus_index(br.to)?);
            let vf = Cx::polar(*state.vm.get(f)?, *state.va.get(f)?);
            let vt = Cx::polar(*state.vm.get(t)?, *state.va.get(t)?);
            let [yff, yft, ytf, ytt] = br.admittances().map(|y| Cx(y.re, y.im));
            let sf = vf.mul(yff.mul(vf).add(yft.mul(vt)).conj());
            let st = vt.mul(ytf.mul(vf).add(ytt.mul(vt)).conj());
            Some(100.0 * sf.norm().max(st.norm()) * net.base_mva / br.rate_a)
        })
        .collect()
}

/// What is watched: a bus voltage against its upper or lower limit, or a branch's loading
/// (positions in the case's tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Watch {
    High(usize),
    Low(usize),
    Loading(usize),
}

impl Watch {
    /// The watched value in a state (voltage p.u. or loading percent).
    pub fn measure(self, state: &GridState, loadings: &[Option<f64>]) -> Option<f64> {
        match self {
            Watch::High(b) | Watch::Low(b) => state.vm.get(b).copied(),
            Watch::Loading(l) => loadings.get(l).copied().flatten(),
        }
    }

    /// Whether an order pushes the value the wrong way: the value `with` the order is worse
    /// than `without` it by more than `tolerance`.
    pub fn pushed(self, with: f64, without: f64, tolerance: f64) -> bool {
        match self {
            Watch::High(_) | Watch::Loading(_) => with - without > tolerance,
            Watch::Low(_) => without - with > tolerance,
        }
    }
}

/// A limit left (red) or approached (amber) in a state.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Finding {
    pub watch: Watch,
    pub light: Light,
    /// The value in the state.
    pub value: f64,
    /// `voltage at bus 18 1.062 p.u. above Vmax 1.05`…
    pub text: String,
    /// The violation, for red findings.
    pub violation: Option<Violation>,
    /// A bus whose voltage is held by a generator (slack, PV): no order moves it.
    pub regulated: bool,
}

/// Buses whose voltage a generator holds (the slack, PV buses with a generator in service).
pub(super) fn regulated_buses(net: &Network) -> Vec<bool> {
    let mut out: Vec<bool> = net.buses.iter().map(|b| b.kind == BusType::Slack).collect();
    for g in net.generators.iter().filter(|g| g.in_service) {
        if let Some(i) = net.bus_index(g.bus)
            && net.buses.get(i).is_some_and(|b| b.kind == BusType::Pv)
            && let Some(r) = out.get_mut(i)
        {
            *r = true;
        }
    }
    out
}

/// The limits `state` leaves or approaches, buses first then branches.
pub(super) fn scan(
    net: &Network,
    state: &GridState,
    loadings: &[Option<f64>],
    regulated: &[bool],
    cfg: &AcValidatorConfig,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let tol = cfg.voltage_tolerance;
    for (i, bus) in net.buses.iter().enumerate() {
        if bus.kind == BusType::Isolated {
            continue;
        }
        let Some(&vm) = state.vm.get(i) else { continue };
        let regulated = regulated.get(i).copied().unwrap_or(false);
        let number = bus.number;
        if bus.vmax.is_finite() && bus.vmax > 0.0 {
            let vmax = bus.vmax;
            if vm > vmax + tol {
                let v = Violation::Overvoltage {
                    bus: number,
                    vm,
                    vmax,
                };
                out.push(Finding {
                    watch: Watch::High(i),
                    light: Light::Red,
                    value: vm,
                    text: v.to_string(),
                    violation: Some(v),
                    regulated,
                });
            } else if vm > vmax - cfg.amber_voltage {
                out.push(Finding {
                    watch: Watch::High(i),
                    light: Light::Amber,
                    value: vm,
                    text: format!(
                        "voltage at bus {number} {vm:.3} p.u. within {} p.u. of Vmax {vmax}",
                        cfg.amber_voltage
                    ),
                    violation: None,
                    regulated,
                });
            }
        }
        if bus.vmin.is_finite() && bus.vmin > 0.0 {
            let vmin = bus.vmin;
            if vm < vmin - tol {
                let v = Violation::Undervoltage {
                    bus: number,
                    vm,
                    vmin,
                };
                out.push(Finding {
                    watch: Watch::Low(i),
                    light: Light::Red,
                    value: vm,
                    text: v.to_string(),
                    violation: Some(v),
                    regulated,
                });
            } else if vm < vmin + cfg.amber_voltage {
                out.push(Finding {
                    watch: Watch::Low(i),
                    light: Light::Amber,
                    value: vm,
                    text: format!(
                        "voltage at bus {number} {vm:.3} p.u. within {} p.u. of Vmin {vmin}",
                        cfg.amber_voltage
                    ),
                    violation: None,
                    regulated,
                });
            }
        }
    }
    for (l, (br, loading)) in net.branches.iter().zip(loadings).enumerate() {
        let Some(loading) = *loading else { continue };
        let (branch, from, to, rate_a) = (l + 1, br.from, br.to, br.rate_a);
        if loading > 100.0 + cfg.loading_tolerance {
            let v = Violation::Overload {
                branch,
                from,
                to,
                loading,
                rate_a,
            };
            out.push(Finding {
                watch: Watch::Loading(l),
                light: Light::Red,
                value: loading,
                text: v.to_string(),
                violation: Some(v),
                regulated: false,
            });
        } else if loading >= cfg.amber_loading {
            out.push(Finding {
                watch: Watch::Loading(l),
                light: Light::Amber,
                value: loading,
                text: format!(
                    "branch {branch} (bus {from} → {to}) loaded at {loading:.1}% of rateA \
                     {rate_a} MVA (amber from {}%)",
                    cfg.amber_loading
                ),
                violation: None,
                regulated: false,
            });
        }
    }
    out
}
