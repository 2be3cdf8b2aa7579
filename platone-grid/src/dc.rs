//! DC power flow, as MATPOWER's `rundcpf`: lossless, flat magnitudes, angles from `B θ = P`.

use crate::admittance::Roles;
use crate::error::{GridError, Result};
use crate::linalg::{LinearSolver, SparseLu, pattern};
use crate::network::{BusType, Network};
use crate::powerflow::{BranchResult, BusResult, PowerFlowResult};

/// The series susceptance `1/(x·ratio)` of an in-service branch and its phase-shift injection.
fn branch_b(net: &Network, index: usize) -> Result<(f64, f64)> {
    let br = &net.branches[index];
    if br.x == 0.0 {
        return Err(GridError::Network {
            place: format!("branch row {}", index + 1),
            message: "zero reactance: no DC model".into(),
        });
    }
    let ratio = if br.ratio == 0.0 { 1.0 } else { br.ratio };
    let b = 1.0 / (br.x * ratio);
    Ok((b, -b * br.shift.to_radians()))
}

/// Bus voltage angles (rad) of the DC power flow for the given bus roles.
pub(crate) fn angles(
    net: &Network,
    kind: &[BusType],
    solver: &mut dyn LinearSolver,
) -> Result<Vec<f64>> {
    let n = net.buses.len();
    let base = net.base_mva;
    // Unknown angles: every bus but slack and isolated ones.
    let none = usize::MAX;
    let mut col = vec![none; n];
    let mut dim = 0;
    for i in 0..n {
        if matches!(kind[i], BusType::Pv | BusType::Pq) {
            col[i] = dim;
            dim += 1;
        }
    }
    let mut va: Vec<f64> = net.buses.iter().map(|b| b.va.to_radians()).collect();
    for (i, k) in kind.iter().enumerate() {
        if *k != BusType::Slack {
            va[i] = 0.0;
        }
    }
    let mut p: Vec<f64> = net.buses.iter().map(|b| (-b.pd - b.gs) / base).collect();
    for g in net.generators.iter().filter(|g| g.in_service) {
        p[net.idx(g.bus)] += g.pg / base;
    }
    let mut triplets = Vec::new();
    let mut values = Vec::new();
    for (index, br) in net
        .branches
        .iter()
        .enumerate()
        .filter(|(_, b)| b.in_service)
    {
        let (b, pshift) = branch_b(net, index)?;
        let (f, t) = (net.idx(br.from), net.idx(br.to));
        p[f] -= pshift;
        p[t] += pshift;
        for (r, c, v) in [(f, f, b), (t, t, b), (f, t, -b), (t, f, -b)] {
            if col[r] == none {
                continue;
            }
            if col[c] == none {
                p[r] -= v * va[c];
            } else {
                triplets.push((col[r], col[c]));
                values.push(v);
            }
        }
    }
    for &c in col.iter().filter(|c| **c != none) {
        {
            triplets.push((c, c));
            values.push(0.0);
        }
    }
    let (mut b, slot) = pattern(dim, &triplets);
    for (k, v) in values.into_iter().enumerate() {
        b.values_mut()[slot[k]] += v;
    }
    let mut rhs: Vec<f64> = (0..n).filter(|&i| col[i] != none).map(|i| p[i]).collect();
    if dim > 0 {
        solver.solve(&b, &mut rhs, 1, "DC B matrix")?;
    }
    for i in 0..n {
        if col[i] != none {
            va[i] = rhs[col[i]];
        }
    }
    Ok(va)
}

/// Solves the DC power flow: magnitudes 1 p.u., no reactive power, no losses.
pub fn run_dc(net: &Network) -> Result<PowerFlowResult> {
    let roles = Roles::new(net)?;
    let va = angles(net, &roles.kind, &mut SparseLu::default())?;
    let base = net.base_mva;
    let mut injection: Vec<f64> = net.buses.iter().map(|b| b.gs / base).collect();
    let mut branches = Vec::with_capacity(net.branches.len());
    for (index, br) in net.branches.iter().enumerate() {
        let pf = if br.in_service {
            let (b, pshift) = branch_b(net, index)?;
            let (f, t) = (net.idx(br.from), net.idx(br.to));
            let flow = b * (va[f] - va[t]) + pshift;
            injection[f] += flow;
            injection[t] -= flow;
            flow * base
        } else {
            0.0
        };
        let loading = (br.rate_a > 0.0).then(|| 100.0 * pf.abs() / br.rate_a);
        branches.push(BranchResult {
            index: index + 1,
            pf,
            qf: 0.0,
            pt: -pf,
            qt: 0.0,
            loss_p: 0.0,
            loss_q: 0.0,
            loading,
        });
    }
    let buses = net
        .buses
        .iter()
        .enumerate()
        .map(|(i, b)| BusResult {
            bus: b.number,
            vm: 1.0,
            va: va[i].to_degrees(),
            p: injection[i] * base,
            q: 0.0,
        })
        .collect();
    Ok(PowerFlowResult {
        converged: true,
        iterations: 1,
        buses,
        branches,
        switched_to_pq: Vec::new(),
    })
}
