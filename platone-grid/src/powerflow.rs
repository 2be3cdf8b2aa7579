//! AC power flow: Newton–Raphson in polar coordinates with a sparse Jacobian, as MATPOWER's
//! `runpf` with `pf.alg = 'NR'`.

use faer::c64;
use serde::Serialize;

use crate::admittance::{Roles, Ybus};
use crate::dc;
use crate::error::Result;
use crate::linalg::{CscMatrix, LinearSolver, SparseLu};
use crate::network::{BusType, Network};

/// Where the Newton iterations start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// The case's `Vm`/`Va`, generator buses at their set-points (MATPOWER's default).
    #[default]
    Case,
    /// 1 p.u. and 0° (slack at its case angle), generator buses at their set-points.
    Flat,
    /// Angles of a DC power flow, magnitudes as [`Start::Flat`].
    Dc,
}

/// Options of the AC power flow.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerFlowOptions {
    /// Largest power mismatch accepted, p.u. (MATPOWER: 1e-8).
    pub tolerance: f64,
    /// Newton iterations allowed (MATPOWER: 10).
    pub max_iterations: usize,
    /// The start point.
    pub start: Start,
    /// Switch PV buses whose generators leave their reactive limits to PQ and solve again.
    pub enforce_q_limits: bool,
}

impl Default for PowerFlowOptions {
    fn default() -> Self {
        PowerFlowOptions {
            tolerance: 1e-8,
            max_iterations: 10,
            start: Start::Case,
            enforce_q_limits: false,
        }
    }
}

/// The solved state of one bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusResult {
    /// The bus number.
    pub bus: u64,
    /// Voltage magnitude, p.u.
    pub vm: f64,
    /// Voltage angle, degrees.
    pub va: f64,
    /// Net active injection into the network (generation − load − shunt), MW.
    pub p: f64,
    /// Net reactive injection into the network, Mvar.
    pub q: f64,
}

/// The flows of one branch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BranchResult {
    /// 1-based row of the branch in the case's branch table.
    pub index: usize,
    /// Active power into the branch at the from end, MW.
    pub pf: f64,
    /// Reactive power into the branch at the from end, Mvar.
    pub qf: f64,
    /// Active power into the branch at the to end, MW.
    pub pt: f64,
    /// Reactive power into the branch at the to end, Mvar.
    pub qt: f64,
    /// Active losses `pf + pt`, MW.
    pub loss_p: f64,
    /// Reactive losses `qf + qt`, Mvar (charging included).
    pub loss_q: f64,
    /// Largest end apparent power over `rateA`, percent; `None` without a rating.
    pub loading: Option<f64>,
}

/// The result of a power flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerFlowResult {
    /// Whether the mismatch fell below the tolerance.
    pub converged: bool,
    /// Newton iterations made (all Q-limit rounds together).
    pub iterations: usize,
    /// Per bus, in case order.
    pub buses: Vec<BusResult>,
    /// Per branch, in case order (out-of-service branches carry zeros).
    pub branches: Vec<BranchResult>,
    /// Numbers of the PV buses switched to PQ by Q-limit enforcement.
    pub switched_to_pq: Vec<u64>,
}

/// Solves the AC power flow with the embedded sparse LU.
pub fn run_ac(net: &Network, options: &PowerFlowOptions) -> Result<PowerFlowResult> {
    run_ac_with(net, options, &mut SparseLu::default())
}

/// Solves the AC power flow with the given linear solver.
pub fn run_ac_with(
    net: &Network,
    options: &PowerFlowOptions,
    solver: &mut dyn LinearSolver,
) -> Result<PowerFlowResult> {
    let mut roles = Roles::new(net)?;
    let ybus = Ybus::new(net);
    let base = net.base_mva;
    // Scheduled injections, p.u.; Q of buses switched to PQ is fixed at its limit.
    let mut sbus: Vec<c64> = net
        .buses
        .iter()
        .map(|b| c64::new(-b.pd, -b.qd) / base)
        .collect();
    for g in net.generators.iter().filter(|g| g.in_service) {
        sbus[net.idx(g.bus)] += c64::new(g.pg, g.qg) / base;
    }
    let (mut vm, mut va) = start(net, &roles, options.start)?;
    let mut switched = Vec::new();
    let mut iterations = 0;
    loop {
        let (converged, its) =
            newton(&ybus, &roles.kind, &sbus, &mut vm, &mut va, options, solver)?;
        iterations += its;
        if !converged || !options.enforce_q_limits {
            return Ok(finish(
                net, &ybus, &vm, &va, converged, iterations, switched,
            ));
        }
        let violations = q_limit_violations(net, &ybus, &roles, &vm, &va);
        if violations.is_empty() {
            return Ok(finish(
                net, &ybus, &vm, &va, converged, iterations, switched,
            ));
        }
        for (bus, q_limit) in violations {
            roles.kind[bus] = BusType::Pq;
            sbus[bus].im = (q_limit - net.buses[bus].qd) / base;
            switched.push(net.buses[bus].number);
        }
    }
}

/// The start voltages (magnitudes p.u., angles rad).
fn start(net: &Network, roles: &Roles, start: Start) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut vm: Vec<f64> = net.buses.iter().map(|b| b.vm).collect();
    let mut va: Vec<f64> = net.buses.iter().map(|b| b.va.to_radians()).collect();
    if start != Start::Case {
        for (i, k) in roles.kind.iter().enumerate() {
            vm[i] = 1.0;
            if *k != BusType::Slack {
                va[i] = 0.0;
            }
        }
    }
    if start == Start::Dc {
        let angles = dc::angles(net, &roles.kind, &mut SparseLu::default())?;
        va = angles;
    }
    for g in net.generators.iter().filter(|g| g.in_service) {
        let i = net.idx(g.bus);
        if matches!(roles.kind[i], BusType::Pv | BusType::Slack) {
            vm[i] = g.vg;
        }
    }
    Ok((vm, va))
}

/// One Jacobian entry: equation bus `i`, variable bus `j`, the `Ybus` entry `k = Y[i, j]`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    i: u32,
    j: u32,
    k: u32,
    wrt_vm: bool,
    reactive: bool,
}

/// Newton–Raphson iterations until the mismatch is below the tolerance or the limit is hit.
fn newton(
    y: &Ybus,
    kind: &[BusType],
    sbus: &[c64],
    vm: &mut [f64],
    va: &mut [f64],
    options: &PowerFlowOptions,
    solver: &mut dyn LinearSolver,
) -> Result<(bool, usize)> {
    let n = y.n;
    // Unknowns: angles of PV and PQ buses, magnitudes of PQ buses; in bus order.
    let none = u32::MAX;
    let mut ang = vec![none; n];
    let mut mag = vec![none; n];
    let (mut npvpq, mut npq) = (0u32, 0u32);
    for i in 0..n {
        if matches!(kind[i], BusType::Pv | BusType::Pq) {
            ang[i] = npvpq;
            npvpq += 1;
        }
        if kind[i] == BusType::Pq {
            mag[i] = npq;
            npq += 1;
        }
    }
    let dim = (npvpq + npq) as usize;
    let mut v: Vec<c64> = (0..n).map(|i| c64::from_polar(vm[i], va[i])).collect();
    let mismatch = |v: &[c64], f: &mut Vec<f64>| {
        let current = y.currents(v);
        f.clear();
        f.resize(dim, 0.0);
        for i in 0..n {
            let m = v[i] * current[i].conj() - sbus[i];
            if ang[i] != none {
                f[ang[i] as usize] = m.re;
            }
            if mag[i] != none {
                f[(npvpq + mag[i]) as usize] = m.im;
            }
        }
        current
    };
    let norm = |f: &[f64]| f.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    let mut f = Vec::with_capacity(dim);
    let mut current = mismatch(&v, &mut f);
    if dim == 0 || norm(&f) < options.tolerance {
        return Ok((true, 0));
    }
    // The Jacobian pattern, column by column: θ columns, then |V| columns.
    let mut entries = Vec::new();
    let mut col_ptr = vec![0usize];
    for wrt_vm in [false, true] {
        for j in 0..n {
            if (if wrt_vm { mag[j] } else { ang[j] }) == none {
                continue;
            }
            for reactive in [false, true] {
                for k in y.col_ptr[j]..y.col_ptr[j + 1] {
                    let i = y.row_idx[k];
                    if (if reactive { mag[i] } else { ang[i] }) != none {
                        entries.push(Entry {
                            i: i as u32,
                            j: j as u32,
                            k: k as u32,
                            wrt_vm,
                            reactive,
                        });
                    }
                }
            }
            col_ptr.push(entries.len());
        }
    }
    let row_idx: Vec<usize> = entries
        .iter()
        .map(|e| {
            if e.reactive {
                (npvpq + mag[e.i as usize]) as usize
            } else {
                ang[e.i as usize] as usize
            }
        })
        .collect();
    let mut jac = CscMatrix::from_parts(dim, col_ptr, row_idx);
    let mut iterations = 0;
    while iterations < options.max_iterations {
        iterations += 1;
        let unit: Vec<c64> = v
            .iter()
            .zip(vm.iter())
            .map(|(v, m)| if *m != 0.0 { v / m } else { *v })
            .collect();
        for (value, e) in jac.values_mut().iter_mut().zip(&entries) {
            let (i, j, k) = (e.i as usize, e.j as usize, e.k as usize);
            let yij = y.val[k];
            let ds = if e.wrt_vm {
                let mut d = v[i] * (yij * unit[j]).conj();
                if i == j {
                    d += current[i].conj() * unit[i];
                }
                d
            } else {
                let mut d = -(yij * v[j]).conj();
                if i == j {
                    d += current[i].conj();
                }
                c64::new(0.0, 1.0) * v[i] * d
            };
            *value = if e.reactive { ds.im } else { ds.re };
        }
        let mut dx: Vec<f64> = f.iter().map(|x| -x).collect();
        solver.solve(&jac, &mut dx, 1, "power-flow Jacobian")?;
        for i in 0..n {
            if ang[i] != none {
                va[i] += dx[ang[i] as usize];
            }
            if mag[i] != none {
                vm[i] += dx[(npvpq + mag[i]) as usize];
            }
            v[i] = c64::from_polar(vm[i], va[i]);
        }
        current = mismatch(&v, &mut f);
        let m = norm(&f);
        if !m.is_finite() {
            return Ok((false, iterations));
        }
        if m < options.tolerance {
            return Ok((true, iterations));
        }
    }
    Ok((false, iterations))
}

/// PV buses (not slack) whose generators' total reactive output leaves the sum of their
/// limits, with the limit to hold: `(bus position, Q of the generators in Mvar)`.
fn q_limit_violations(
    net: &Network,
    y: &Ybus,
    roles: &Roles,
    vm: &[f64],
    va: &[f64],
) -> Vec<(usize, f64)> {
    let v: Vec<c64> = vm
        .iter()
        .zip(va)
        .map(|(m, a)| c64::from_polar(*m, *a))
        .collect();
    let current = y.currents(&v);
    let n = net.buses.len();
    let (mut qmax, mut qmin) = (vec![0.0; n], vec![0.0; n]);
    for g in net.generators.iter().filter(|g| g.in_service) {
        let i = net.idx(g.bus);
        qmax[i] += g.qmax;
        qmin[i] += g.qmin;
    }
    let mut out = Vec::new();
    for i in 0..n {
        if roles.kind[i] != BusType::Pv {
            continue;
        }
        let qg = (v[i] * current[i].conj()).im * net.base_mva + net.buses[i].qd;
        let tol = 1e-6;
        if qg > qmax[i] + tol {
            out.push((i, qmax[i]));
        } else if qg < qmin[i] - tol {
            out.push((i, qmin[i]));
        }
    }
    out
}

/// Bus and branch results of a solved state.
pub(crate) fn finish(
    net: &Network,
    y: &Ybus,
    vm: &[f64],
    va: &[f64],
    converged: bool,
    iterations: usize,
    switched_to_pq: Vec<u64>,
) -> PowerFlowResult {
    let base = net.base_mva;
    let v: Vec<c64> = vm
        .iter()
        .zip(va)
        .map(|(m, a)| c64::from_polar(*m, *a))
        .collect();
    let current = y.currents(&v);
    let buses = net
        .buses
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let s = v[i] * current[i].conj() * base;
            BusResult {
                bus: b.number,
                vm: vm[i],
                va: va[i].to_degrees(),
                p: s.re,
                q: s.im,
            }
        })
        .collect();
    let branches = net
        .branches
        .iter()
        .enumerate()
        .map(|(index, br)| {
            let (f, t) = (net.idx(br.from), net.idx(br.to));
            let [yff, yft, ytf, ytt] = br.admittances();
            let sf = v[f] * (yff * v[f] + yft * v[t]).conj() * base;
            let st = v[t] * (ytf * v[f] + ytt * v[t]).conj() * base;
            let loading = (br.rate_a > 0.0).then(|| 100.0 * sf.norm().max(st.norm()) / br.rate_a);
            BranchResult {
                index: index + 1,
                pf: sf.re,
                qf: sf.im,
                pt: st.re,
                qt: st.im,
                loss_p: sf.re + st.re,
                loss_q: sf.im + st.im,
                loading,
            }
        })
        .collect();
    PowerFlowResult {
        converged,
        iterations,
        buses,
        branches,
        switched_to_pq,
    }
}
