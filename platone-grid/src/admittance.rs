//! The bus admittance matrix and the effective bus roles of a power flow.

use faer::c64;

use crate::error::{GridError, Result};
use crate::network::{BusType, Network};

/// The bus admittance matrix `Ybus` in compressed sparse column form (p.u.), structurally
/// symmetric, with every diagonal entry stored.
#[derive(Debug, Clone)]
pub(crate) struct Ybus {
    pub n: usize,
    pub col_ptr: Vec<usize>,
    pub row_idx: Vec<usize>,
    pub val: Vec<c64>,
}

impl Ybus {
    /// Builds `Ybus` from the in-service branches and the bus shunts, as MATPOWER's `makeYbus`.
    pub fn new(net: &Network) -> Self {
        let n = net.buses.len();
        let mut entries: Vec<(usize, usize, c64)> = Vec::with_capacity(n + 4 * net.branches.len());
        for (i, b) in net.buses.iter().enumerate() {
            entries.push((i, i, c64::new(b.gs, b.bs) / net.base_mva));
        }
        for br in net.branches.iter().filter(|b| b.in_service) {
            let (f, t) = (net.idx(br.from), net.idx(br.to));
            let [yff, yft, ytf, ytt] = br.admittances();
            entries.push((f, f, yff));
            entries.push((f, t, yft));
            entries.push((t, f, ytf));
            entries.push((t, t, ytt));
        }
        entries.sort_unstable_by_key(|e| (e.1, e.0));
        let mut col_ptr = vec![0usize; n + 1];
        let mut row_idx = Vec::with_capacity(entries.len());
        let mut val: Vec<c64> = Vec::with_capacity(entries.len());
        let mut last = None;
        for (r, c, y) in entries {
            if last == Some((r, c)) {
                if let Some(v) = val.last_mut() {
                    *v += y;
                }
                continue;
            }
            last = Some((r, c));
            row_idx.push(r);
            val.push(y);
            col_ptr[c + 1] += 1;
        }
        for j in 0..n {
            col_ptr[j + 1] += col_ptr[j];
        }
        Ybus {
            n,
            col_ptr,
            row_idx,
            val,
        }
    }

    /// Bus current injections `I = Ybus V`.
    pub fn currents(&self, v: &[c64]) -> Vec<c64> {
        let mut current = vec![c64::new(0.0, 0.0); self.n];
        for (j, &vj) in v.iter().enumerate() {
            for k in self.col_ptr[j]..self.col_ptr[j + 1] {
                current[self.row_idx[k]] += self.val[k] * vj;
            }
        }
        current
    }
}

/// The effective role of every bus, as MATPOWER's `bustypes`: slack and PV buses need a
/// generator in service, else they act as PQ; without a slack the first PV bus becomes one.
#[derive(Debug, Clone)]
pub(crate) struct Roles {
    pub kind: Vec<BusType>,
}

impl Roles {
    pub fn new(net: &Network) -> Result<Self> {
        let n = net.buses.len();
        let mut has_gen = vec![false; n];
        for g in net.generators.iter().filter(|g| g.in_service) {
            has_gen[net.idx(g.bus)] = true;
        }
        let mut kind: Vec<BusType> = net
            .buses
            .iter()
            .enumerate()
            .map(|(i, b)| match b.kind {
                BusType::Slack | BusType::Pv if !has_gen[i] => BusType::Pq,
                k => k,
            })
            .collect();
        if !kind.contains(&BusType::Slack) {
            match kind.iter().position(|k| *k == BusType::Pv) {
                Some(first) => kind[first] = BusType::Slack,
                None => return Err(GridError::MissingSlack),
            }
        }
        let roles = Roles { kind };
        roles.check_islands(net)?;
        Ok(roles)
    }

    /// Every energised bus must reach a slack bus through in-service branches.
    fn check_islands(&self, net: &Network) -> Result<()> {
        let n = net.buses.len();
        let adjacency = adjacency(net);
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = (0..n).filter(|&i| self.kind[i] == BusType::Slack).collect();
        for &s in &stack {
            seen[s] = true;
        }
        while let Some(i) = stack.pop() {
            for &j in &adjacency[i] {
                if !seen[j] && self.kind[j] != BusType::Isolated {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let stranded: Vec<u64> = (0..n)
            .filter(|&i| !seen[i] && self.kind[i] != BusType::Isolated)
            .map(|i| net.buses[i].number)
            .collect();
        if stranded.is_empty() {
            Ok(())
        } else {
            Err(GridError::Islands { buses: stranded })
        }
    }
}

/// Neighbours of each bus through in-service branches.
pub(crate) fn adjacency(net: &Network) -> Vec<Vec<usize>> {
    let mut adjacency = vec![Vec::new(); net.buses.len()];
    for br in net.branches.iter().filter(|b| b.in_service) {
        let (f, t) = (net.idx(br.from), net.idx(br.to));
        if f != t {
            adjacency[f].push(t);
            adjacency[t].push(f);
        }
    }
    adjacency
}
