//! Measurement functions `h(x)`, their Jacobian `H` and the Gauss–Newton iterations.

use faer::c64;

use super::{EstimationOptions, GridMeasurement, Location, Quantity, Side, energised};
use crate::admittance::{Roles, Ybus};
use crate::error::{GridError, Result};
use crate::linalg::{CscMatrix, LinearSolver, pattern};
use crate::network::{BusType, Network};

/// A measurement in p.u. and radians at positions of the network's tables.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub quantity: Quantity,
    /// The bus (bus quantities) or the measured end's bus (branch quantities).
    pub bus: usize,
    /// For branch quantities: the branch position and the far end's bus.
    pub branch: Option<(usize, Side, usize)>,
    pub value: f64,
    pub sigma: f64,
    /// Position in the input list; `None` for zero-injection pseudo-measurements.
    pub input: Option<usize>,
}

/// Converts and checks the measurements, then adds zero-injection pseudo-measurements.
pub(crate) fn rows(
    net: &Network,
    measurements: &[GridMeasurement],
    zero_sigma: f64,
) -> Result<Vec<Row>> {
    let base = net.base_mva;
    let mut rows = Vec::with_capacity(measurements.len());
    for (k, m) in measurements.iter().enumerate() {
        let bad = |field: &str, message: String| GridError::Measurement {
            place: format!("measurements[{k}]{field}"),
            message,
        };
        if !(m.sigma.is_finite() && m.sigma > 0.0) {
            return Err(bad(
                ".sigma",
                format!("must be a positive number, found {}", m.sigma),
            ));
        }
        if !m.value.is_finite() {
            return Err(bad(
                ".value",
                format!("must be a finite number, found {}", m.value),
            ));
        }
        let scale = match m.quantity {
            Quantity::VoltageMagnitude | Quantity::CurrentMagnitude => 1.0,
            Quantity::VoltageAngle | Quantity::CurrentAngle => 1f64.to_radians(),
            _ => 1.0 / base,
        };
        let (bus, branch) = match (m.location, m.quantity.on_branch()) {
            (Location::Bus(number), false) => {
                let i = net
                    .bus_index(number)
                    .ok_or_else(|| bad(".bus", format!("unknown bus {number}")))?;
                if net.buses[i].kind == BusType::Isolated {
                    return Err(bad(".bus", format!("bus {number} is isolated (type 4)")));
                }
                (i, None)
            }
            (Location::Branch { index, side }, true) => {
                let br = index
                    .checked_sub(1)
                    .and_then(|p| net.branches.get(p).map(|b| (p, b)))
                    .ok_or_else(|| bad(".branch", format!("no branch row {index}")))?;
                let (p, b) = br;
                if !b.in_service {
                    return Err(bad(
                        ".branch",
                        format!("branch row {index} is out of service"),
                    ));
                }
                let (f, t) = (net.idx(b.from), net.idx(b.to));
                match side {
                    Side::From => (f, Some((p, side, t))),
                    Side::To => (t, Some((p, side, f))),
                }
            }
            (Location::Bus(_), true) => {
                return Err(bad("", "a branch quantity needs a branch".into()));
            }
            (Location::Branch { .. }, false) => {
                return Err(bad("", "a bus quantity needs a bus".into()));
            }
        };
        rows.push(Row {
            quantity: m.quantity,
            bus,
            branch,
            value: m.value * scale,
            sigma: m.sigma * scale,
            input: Some(k),
        });
    }
    // Zero-injection buses without an injection measurement of that kind, as pandapower.
    let n = net.buses.len();
    let (mut has_p, mut has_q) = (vec![false; n], vec![false; n]);
    for r in &rows {
        match r.quantity {
            Quantity::ActiveInjection => has_p[r.bus] = true,
            Quantity::ReactiveInjection => has_q[r.bus] = true,
            _ => {}
        }
    }
    for i in net.zero_injection_buses() {
        for (quantity, has) in [
            (Quantity::ActiveInjection, has_p[i]),
            (Quantity::ReactiveInjection, has_q[i]),
        ] {
            if !has {
                rows.push(Row {
                    quantity,
                    bus: i,
                    branch: None,
                    value: 0.0,
                    sigma: zero_sigma,
                    input: None,
                });
            }
        }
    }
    Ok(rows)
}

/// The state: magnitudes (p.u.) and angles (rad) of every bus.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub vm: Vec<f64>,
    pub va: Vec<f64>,
}

/// The outcome of one Gauss–Newton run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub converged: bool,
    pub iterations: usize,
    pub objective: f64,
    pub dof: usize,
}

const NONE: usize = usize::MAX;

/// The estimation model: admittances by row, the state's columns.
pub(crate) struct Model {
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    row_val: Vec<c64>,
    ang: Vec<usize>,
    mag: Vec<usize>,
    dim: usize,
    admittances: Vec<[c64; 4]>,
}

impl Model {
    pub fn new(net: &Network, roles: &Roles, rows: &[Row]) -> Self {
        let ybus = Ybus::new(net);
        let n = ybus.n;
        // Ybus by rows (the transpose of the column form).
        let mut row_ptr = vec![0usize; n + 1];
        for &r in &ybus.row_idx {
            row_ptr[r + 1] += 1;
        }
        for i in 0..n {
            row_ptr[i + 1] += row_ptr[i];
        }
        let mut next = row_ptr.clone();
        let mut col_idx = vec![0usize; ybus.row_idx.len()];
        let mut row_val = vec![c64::new(0.0, 0.0); ybus.row_idx.len()];
        for j in 0..n {
            for k in ybus.col_ptr[j]..ybus.col_ptr[j + 1] {
                let r = ybus.row_idx[k];
                col_idx[next[r]] = j;
                row_val[next[r]] = ybus.val[k];
                next[r] += 1;
            }
        }
        // PMU angles make every angle a state; else slack angles are the reference.
        let pmu = rows
            .iter()
            .any(|r| r.quantity == Quantity::VoltageAngle || r.quantity == Quantity::CurrentAngle);
        let (mut ang, mut mag) = (vec![NONE; n], vec![NONE; n]);
        let mut dim = 0;
        for (a, &k) in ang.iter_mut().zip(&roles.kind) {
            if energised(k) && (pmu || k != BusType::Slack) {
                *a = dim;
                dim += 1;
            }
        }
        for (m, &k) in mag.iter_mut().zip(&roles.kind) {
            if energised(k) {
                *m = dim;
                dim += 1;
            }
        }
        let admittances = net.branches.iter().map(|b| b.admittances()).collect();
        Model {
            row_ptr,
            col_idx,
            row_val,
            ang,
            mag,
            dim,
            admittances,
        }
    }

    /// 1 p.u. and the slack's case angle everywhere.
    pub fn flat_start(&self, net: &Network) -> State {
        let slack = net
            .buses
            .iter()
            .zip(&self.ang)
            .find(|(_, a)| **a == NONE)
            .map_or(0.0, |(b, _)| b.va.to_radians());
        State {
            vm: vec![1.0; net.buses.len()],
            va: vec![slack; net.buses.len()],
        }
    }

    /// `h(x)` of a row and its non-zero derivatives `(column, ∂h/∂x)`, always in one order.
    fn evaluate(&self, row: &Row, v: &[c64], vm: &[f64], d: &mut Vec<(usize, f64)>) -> f64 {
        d.clear();
        let i = row.bus;
        let push = |d: &mut Vec<(usize, f64)>, col: usize, value: f64| {
            if col != NONE {
                d.push((col, value));
            }
        };
        let j = c64::new(0.0, 1.0);
        let unit = |k: usize| if vm[k] != 0.0 { v[k] / vm[k] } else { v[k] };
        match row.quantity {
            Quantity::VoltageMagnitude => {
                push(d, self.mag[i], 1.0);
                vm[i]
            }
            Quantity::VoltageAngle => {
                push(d, self.ang[i], 1.0);
                v[i].arg()
            }
            Quantity::ActiveInjection | Quantity::ReactiveInjection => {
                let reactive = row.quantity == Quantity::ReactiveInjection;
                let part = |s: c64| if reactive { s.im } else { s.re };
                let range = self.row_ptr[i]..self.row_ptr[i + 1];
                let mut current = c64::new(0.0, 0.0);
                for k in range.clone() {
                    current += self.row_val[k] * v[self.col_idx[k]];
                }
                for k in range {
                    let (col, y) = (self.col_idx[k], self.row_val[k]);
                    let mut da = -(y * v[col]).conj();
                    let mut dm = v[i] * (y * unit(col)).conj();
                    if col == i {
                        da += current.conj();
                        dm += current.conj() * unit(i);
                    }
                    push(d, self.ang[col], part(j * v[i] * da));
                    push(d, self.mag[col], part(dm));
                }
                part(v[i] * current.conj())
            }
            Quantity::ActiveFlow
            | Quantity::ReactiveFlow
            | Quantity::CurrentMagnitude
            | Quantity::CurrentAngle => {
                let Some((p, side, far)) = row.branch else {
                    return 0.0;
                };
                let [yff, yft, ytf, ytt] = self.admittances[p];
                let (yaa, yab) = if side == Side::From {
                    (yff, yft)
                } else {
                    (ytt, ytf)
                };
                let (a, b) = (i, far);
                let current = yaa * v[a] + yab * v[b];
                // Derivatives of the current into the branch at end a.
                let di = [
                    (self.ang[a], j * yaa * v[a]),
                    (self.mag[a], yaa * unit(a)),
                    (self.ang[b], j * yab * v[b]),
                    (self.mag[b], yab * unit(b)),
                ];
                match row.quantity {
                    Quantity::ActiveFlow | Quantity::ReactiveFlow => {
                        let reactive = row.quantity == Quantity::ReactiveFlow;
                        let part = |s: c64| if reactive { s.im } else { s.re };
                        // S = Va conj(I): dS = dVa conj(I) + Va conj(dI).
                        let dva = [(j * v[a]), unit(a)];
                        for (n, (col, dic)) in di.iter().enumerate() {
                            let mut ds = v[a] * dic.conj();
                            if n < 2 {
                                ds += dva[n] * current.conj();
                            }
                            push(d, *col, part(ds));
                        }
                        part(v[a] * current.conj())
                    }
                    Quantity::CurrentMagnitude => {
                        let m = current.norm();
                        for (col, dic) in di {
                            let value = if m > 1e-12 {
                                (current.conj() * dic).re / m
                            } else {
                                0.0
                            };
                            push(d, col, value);
                        }
                        m
                    }
                    _ => {
                        let m2 = current.norm_sqr();
                        for (col, dic) in di {
                            let value = if m2 > 1e-24 {
                                (dic * current.conj()).im / m2
                            } else {
                                0.0
                            };
                            push(d, col, value);
                        }
                        current.arg()
                    }
                }
            }
        }
    }

    fn residual(row: &Row, h: f64) -> f64 {
        let r = row.value - h;
        if matches!(
            row.quantity,
            Quantity::VoltageAngle | Quantity::CurrentAngle
        ) {
            // Angles compare on the circle.
            (r + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
        } else {
            r
        }
    }

    /// The gain matrix pattern (lower triangle) of the active rows, with the slot of each
    /// derivative product in row order.
    fn gain_pattern(
        &self,
        rows: &[Row],
        active: &[bool],
        state: &State,
    ) -> (CscMatrix, Vec<usize>) {
        let v = voltages(state);
        let mut pairs = Vec::new();
        let mut d = Vec::new();
        for (row, _) in rows.iter().zip(active).filter(|(_, a)| **a) {
            self.evaluate(row, &v, &state.vm, &mut d);
            for &(c1, _) in &d {
                for &(c2, _) in &d {
                    if c1 >= c2 {
                        pairs.push((c1, c2));
                    }
                }
            }
        }
        for c in 0..self.dim {
            pairs.push((c, c));
        }
        pattern(self.dim, &pairs)
    }

    /// Fills the gain matrix and `Hᵀ W r`; returns `J(x)`.
    fn assemble(
        &self,
        rows: &[Row],
        active: &[bool],
        state: &State,
        gain: &mut CscMatrix,
        slot: &[usize],
        rhs: &mut [f64],
    ) -> f64 {
        let v = voltages(state);
        gain.values_mut().iter_mut().for_each(|x| *x = 0.0);
        rhs.iter_mut().for_each(|x| *x = 0.0);
        let values = gain.values_mut();
        let mut d = Vec::new();
        let mut s = 0;
        let mut objective = 0.0;
        for (row, _) in rows.iter().zip(active).filter(|(_, a)| **a) {
            let h = self.evaluate(row, &v, &state.vm, &mut d);
            let w = 1.0 / (row.sigma * row.sigma);
            let r = Self::residual(row, h);
            objective += w * r * r;
            for &(c1, d1) in &d {
                rhs[c1] += d1 * w * r;
                for &(c2, d2) in &d {
                    if c1 >= c2 {
                        values[slot[s]] += w * d1 * d2;
                        s += 1;
                    }
                }
            }
        }
        objective
    }

    fn update(&self, state: &mut State, dx: &[f64]) -> f64 {
        let mut largest = 0.0f64;
        for i in 0..state.vm.len() {
            if self.ang[i] != NONE {
                state.va[i] += dx[self.ang[i]];
                largest = largest.max(dx[self.ang[i]].abs());
            }
            if self.mag[i] != NONE {
                state.vm[i] += dx[self.mag[i]];
                largest = largest.max(dx[self.mag[i]].abs());
            }
        }
        largest
    }

    /// Gauss–Newton iterations from `state` until the largest update is below the tolerance.
    pub fn gauss_newton(
        &self,
        rows: &[Row],
        active: &[bool],
        state: &mut State,
        options: &EstimationOptions,
        solver: &mut dyn LinearSolver,
    ) -> Result<Run> {
        let (mut gain, slot) = self.gain_pattern(rows, active, state);
        let mut rhs = vec![0.0; self.dim];
        let m = active.iter().filter(|a| **a).count();
        let dof = m.saturating_sub(self.dim);
        let mut iterations = 0;
        let mut converged = false;
        while iterations < options.max_iterations {
            iterations += 1;
            self.assemble(rows, active, state, &mut gain, &slot, &mut rhs);
            solver.solve(&gain, &mut rhs, 1, "gain matrix")?;
            let largest = self.update(state, &rhs);
            if !largest.is_finite() {
                break;
            }
            if largest < options.tolerance {
                converged = true;
                break;
            }
        }
        let objective = self.assemble(rows, active, state, &mut gain, &slot, &mut rhs);
        Ok(Run {
            converged,
            iterations,
            objective,
            dof,
        })
    }

    /// The active (non-pseudo) row with the largest normalised residual
    /// `|rᵢ| / √Ωᵢᵢ`, `Ω = R − H G⁻¹ Hᵀ`; critical measurements (Ωᵢᵢ ≈ 0) are skipped.
    pub fn largest_normalised_residual(
        &self,
        rows: &[Row],
        active: &[bool],
        state: &State,
        solver: &mut dyn LinearSolver,
    ) -> Result<Option<(usize, f64)>> {
        let (mut gain, slot) = self.gain_pattern(rows, active, state);
        let mut rhs = vec![0.0; self.dim];
        self.assemble(rows, active, state, &mut gain, &slot, &mut rhs);
        let v = voltages(state);
        let candidates: Vec<usize> = (0..rows.len())
            .filter(|&k| active[k] && rows[k].input.is_some())
            .collect();
        const BLOCK: usize = 64;
        let mut best: Option<(usize, f64)> = None;
        let mut d = Vec::new();
        let mut block = vec![0.0; self.dim * BLOCK];
        for chunk in candidates.chunks(BLOCK) {
            block.iter_mut().for_each(|x| *x = 0.0);
            let mut derivs = Vec::with_capacity(chunk.len());
            let mut residuals = Vec::with_capacity(chunk.len());
            for (c, &k) in chunk.iter().enumerate() {
                let h = self.evaluate(&rows[k], &v, &state.vm, &mut d);
                residuals.push(Self::residual(&rows[k], h));
                for &(col, value) in &d {
                    block[c * self.dim + col] += value;
                }
                derivs.push(d.clone());
            }
            let cols = chunk.len();
            solver.solve(&gain, &mut block[..self.dim * cols], cols, "gain matrix")?;
            for (c, &k) in chunk.iter().enumerate() {
                let hgh: f64 = derivs[c]
                    .iter()
                    .map(|&(col, value)| value * block[c * self.dim + col])
                    .sum();
                let variance = rows[k].sigma * rows[k].sigma;
                let omega = variance - hgh;
                if omega <= 1e-10 * variance {
                    continue;
                }
                let rn = residuals[c].abs() / omega.sqrt();
                if best.is_none_or(|(_, b)| rn > b) {
                    best = Some((k, rn));
                }
            }
        }
        Ok(best)
    }
}

impl Model {
    /// For every input measurement (pseudo-measurements left out), in input order: its
    /// position, `h(x)` and `z − h(x)` at `state`, in the input's units (the row's p.u. values
    /// scaled back by `sigma_input / sigma_row`).
    pub fn residuals(
        &self,
        rows: &[Row],
        inputs: &[GridMeasurement],
        state: &State,
    ) -> Vec<(usize, f64, f64)> {
        let v = voltages(state);
        let mut d = Vec::new();
        let mut out: Vec<(usize, f64, f64)> = rows
            .iter()
            .filter_map(|row| {
                let k = row.input?;
                let input = inputs.get(k)?;
                let scale = input.sigma / row.sigma;
                let h = self.evaluate(row, &v, &state.vm, &mut d);
                Some((k, h * scale, Self::residual(row, h) * scale))
            })
            .collect();
        out.sort_by_key(|r| r.0);
        out
    }
}

fn voltages(state: &State) -> Vec<c64> {
    state
        .vm
        .iter()
        .zip(&state.va)
        .map(|(m, a)| c64::from_polar(*m, *a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_case;

    /// Three buses, a line with charging, a transformer with tap and phase shift, a shunt.
    const CASE: &str = "mpc.baseMVA = 100;
mpc.bus = [1 3 0 0 0 0 1 1 0 230 1 1.1 0.9; 2 1 40 10 0 5 1 1 0 230 1 1.1 0.9; 3 1 30 -8 2 0 1 1 0 115 1 1.1 0.9];
mpc.gen = [1 0 0 100 -100 1.02 100 1 200 0];
mpc.branch = [1 2 0.01 0.1 0.04 100 100 100 0 0 1 -360 360; 2 3 0.005 0.08 0 100 100 100 0.97 4 1 -360 360; 1 3 0.02 0.15 0.02 100 100 100 0 0 1 -360 360];";

    /// Every measurement kind at every place, so every derivative is exercised.
    fn everything(net: &Network) -> Vec<GridMeasurement> {
        let mut out = Vec::new();
        for b in &net.buses {
            for quantity in [
                Quantity::VoltageMagnitude,
                Quantity::VoltageAngle,
                Quantity::ActiveInjection,
                Quantity::ReactiveInjection,
            ] {
                out.push(GridMeasurement {
                    quantity,
                    location: Location::Bus(b.number),
                    value: 0.0,
                    sigma: 1.0,
                });
            }
        }
        for index in 1..=net.branches.len() {
            for side in [Side::From, Side::To] {
                for quantity in [
                    Quantity::ActiveFlow,
                    Quantity::ReactiveFlow,
                    Quantity::CurrentMagnitude,
                    Quantity::CurrentAngle,
                ] {
                    out.push(GridMeasurement {
                        quantity,
                        location: Location::Branch { index, side },
                        value: 0.0,
                        sigma: 1.0,
                    });
                }
            }
        }
        out
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let net = parse_case(CASE).unwrap();
        let roles = Roles::new(&net).unwrap();
        let rows = rows(&net, &everything(&net), 1e-5).unwrap();
        let model = Model::new(&net, &roles, &rows);
        let state = State {
            vm: vec![1.02, 0.97, 1.01],
            va: vec![0.05, -0.08, -0.12],
        };
        let h = 1e-6;
        let shifted = |col: usize, delta: f64| {
            let mut s = state.clone();
            for i in 0..3 {
                if model.ang[i] == col {
                    s.va[i] += delta;
                }
                if model.mag[i] == col {
                    s.vm[i] += delta;
                }
            }
            s
        };
        let value = |row: &Row, s: &State| {
            let mut d = Vec::new();
            model.evaluate(row, &voltages(s), &s.vm, &mut d)
        };
        let mut d = Vec::new();
        let mut checked = 0;
        for row in rows.iter().filter(|r| r.input.is_some()) {
            model.evaluate(row, &voltages(&state), &state.vm, &mut d);
            for col in 0..model.dim {
                let analytic: f64 = d.iter().filter(|(c, _)| *c == col).map(|(_, v)| v).sum();
                let numeric =
                    (value(row, &shifted(col, h)) - value(row, &shifted(col, -h))) / (2.0 * h);
                assert!(
                    (analytic - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{:?} at bus {} {:?}, column {col}: {analytic} vs {numeric}",
                    row.quantity,
                    row.bus,
                    row.branch,
                );
                checked += 1;
            }
        }
        // 3 buses × 4 kinds + 3 branches × 2 ends × 4 kinds, 6 state columns each.
        assert_eq!(checked, (12 + 24) * 6);
    }
}
