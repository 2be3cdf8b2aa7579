//! The DC network model: buses, branches with reactance and limit, a slack bus, baseline
//! injections per slot, power transfer distribution factors (PTDF) and flows.
//!
//! Injections are positive into the network. The PTDF of branch `l` for bus `n` is the flow on
//! `l` (in its from → to direction) caused by injecting one unit at `n` and withdrawing it at the
//! slack bus; it does not depend on the unit, so limits and injections only need to share one.

use std::collections::{HashMap, VecDeque};

use crate::error::{MarketError, Result};

/// Differences of PTDFs below this are treated as zero.
pub const PTDF_EPSILON: f64 = 1e-5;

/// A branch (line or transformer) of the DC model.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// Branch id.
    pub id: String,
    /// Index of the from bus.
    pub from: usize,
    /// Index of the to bus.
    pub to: usize,
    /// Series reactance (per unit), non-zero.
    pub x: f64,
    /// Flow limit in either direction, > 0.
    pub limit: f64,
}

/// A DC network with precomputed PTDFs and baseline flows.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    base_mva: f64,
    buses: Vec<String>,
    bus_index: HashMap<String, usize>,
    slack: usize,
    branches: Vec<Branch>,
    /// `[slot][bus]` baseline injections.
    baseline: Vec<Vec<f64>>,
    /// `[branch][bus]`.
    ptdf: Vec<Vec<f64>>,
    /// `[slot][branch]` flows of the baseline injections.
    base_flows: Vec<Vec<f64>>,
}

impl Network {
    /// Builds the model and its PTDF matrix. `baseline[slot][bus]` gives the baseline
    /// injections (one row per slot of the book).
    pub fn new(
        base_mva: f64,
        buses: Vec<String>,
        slack: usize,
        branches: Vec<Branch>,
        baseline: Vec<Vec<f64>>,
    ) -> Result<Self> {
        let n = buses.len();
        if n == 0 {
            return Err(MarketError::Network("no buses".into()));
        }
        if slack >= n {
            return Err(MarketError::Network("slack bus index out of range".into()));
        }
        let mut bus_index = HashMap::with_capacity(n);
        for (i, b) in buses.iter().enumerate() {
            if bus_index.insert(b.clone(), i).is_some() {
                return Err(MarketError::Network(format!("bus {b:?} listed twice")));
            }
        }
        for br in &branches {
            if br.from >= n || br.to >= n {
                return Err(MarketError::Network(format!(
                    "branch {:?}: bus index out of range",
                    br.id
                )));
            }
            if br.from == br.to {
                return Err(MarketError::Network(format!(
                    "branch {:?} connects bus {:?} to itself",
                    br.id, buses[br.from]
                )));
            }
            if !(br.x.is_finite() && br.x != 0.0) {
                return Err(MarketError::Network(format!(
                    "branch {:?}: reactance x must be finite and non-zero",
                    br.id
                )));
            }
            if !(br.limit.is_finite() && br.limit > 0.0) {
                return Err(MarketError::Network(format!(
                    "branch {:?}: limit must be finite and > 0",
                    br.id
                )));
            }
        }
        for (t, row) in baseline.iter().enumerate() {
            if row.len() != n {
                return Err(MarketError::Network(format!(
                    "baseline of slot {t} has {} values for {n} buses",
                    row.len()
                )));
            }
        }
        let ptdf = compute_ptdf(&buses, slack, &branches)?;
        let base_flows = baseline
            .iter()
            .map(|inj| flows_of(&ptdf, inj))
            .collect::<Vec<_>>();
        Ok(Self {
            base_mva,
            buses,
            bus_index,
            slack,
            branches,
            baseline,
            ptdf,
            base_flows,
        })
    }

    /// Base power (MVA) of the per-unit reactances.
    pub fn base_mva(&self) -> f64 {
        self.base_mva
    }

    /// Bus names.
    pub fn buses(&self) -> &[String] {
        &self.buses
    }

    /// Index of a bus by name.
    pub fn bus(&self, name: &str) -> Option<usize> {
        self.bus_index.get(name).copied()
    }

    /// Index of the slack bus.
    pub fn slack(&self) -> usize {
        self.slack
    }

    /// Branches.
    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }

    /// `ptdf()[branch][bus]`.
    pub fn ptdf(&self) -> &[Vec<f64>] {
        &self.ptdf
    }

    /// Number of slots with a baseline row.
    pub fn slot_count(&self) -> usize {
        self.baseline.len()
    }

    /// Baseline injections of a slot (zeros past the last row).
    pub fn baseline(&self, slot: usize) -> Vec<f64> {
        self.baseline
            .get(slot)
            .cloned()
            .unwrap_or_else(|| vec![0.0; self.buses.len()])
    }

    /// Baseline flows of a slot, one per branch.
    pub fn base_flows(&self, slot: usize) -> Vec<f64> {
        self.base_flows
            .get(slot)
            .cloned()
            .unwrap_or_else(|| vec![0.0; self.branches.len()])
    }

    /// Flows caused by the given injections (one per bus).
    pub fn flows(&self, injections: &[f64]) -> Vec<f64> {
        flows_of(&self.ptdf, injections)
    }

    /// Allowed flow range of a branch in a slot: `[-limit, limit]`, widened to the baseline flow
    /// when the baseline already exceeds the limit (clearing may not make it worse).
    pub fn bounds(&self, slot: usize, branch: usize) -> (f64, f64) {
        let limit = self.branches.get(branch).map_or(0.0, |b| b.limit);
        let f0 = self
            .base_flows
            .get(slot)
            .and_then(|r| r.get(branch))
            .copied()
            .unwrap_or(0.0);
        ((-limit).min(f0), limit.max(f0))
    }

    /// Number of branch hops from `from` to every bus (`usize::MAX` if unreachable).
    pub fn hops_from(&self, from: usize) -> Vec<usize> {
        let n = self.buses.len();
        let mut adjacency = vec![Vec::new(); n];
        for b in &self.branches {
            adjacency[b.from].push(b.to);
            adjacency[b.to].push(b.from);
        }
        let mut dist = vec![usize::MAX; n];
        let mut queue = VecDeque::new();
        if from < n {
            dist[from] = 0;
            queue.push_back(from);
        }
        while let Some(u) = queue.pop_front() {
            for &v in &adjacency[u] {
                if dist[v] == usize::MAX {
                    dist[v] = dist[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        dist
    }
}

fn flows_of(ptdf: &[Vec<f64>], injections: &[f64]) -> Vec<f64> {
    ptdf.iter()
        .map(|row| row.iter().zip(injections).map(|(a, b)| a * b).sum())
        .collect()
}

/// PTDF by inverting the reduced susceptance matrix (slack row and column removed).
fn compute_ptdf(buses: &[String], slack: usize, branches: &[Branch]) -> Result<Vec<Vec<f64>>> {
    let n = buses.len();
    let m = n - 1;
    let reduced = |bus: usize| -> Option<usize> {
        match bus.cmp(&slack) {
            std::cmp::Ordering::Less => Some(bus),
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => Some(bus - 1),
        }
    };
    // Augmented [B | I] for Gauss-Jordan inversion.
    let mut a = vec![vec![0.0; 2 * m]; m];
    for br in branches {
        let b = 1.0 / br.x;
        let (f, t) = (reduced(br.from), reduced(br.to));
        if let Some(f) = f {
            a[f][f] += b;
        }
        if let Some(t) = t {
            a[t][t] += b;
        }
        if let (Some(f), Some(t)) = (f, t) {
            a[f][t] -= b;
            a[t][f] -= b;
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[m + i] = 1.0;
    }
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap_or(col);
        if a[pivot][col].abs() < 1e-12 {
            let bus = if col < slack { col } else { col + 1 };
            return Err(MarketError::Network(format!(
                "bus {:?} is not connected to the slack bus {:?}",
                buses[bus], buses[slack]
            )));
        }
        a.swap(col, pivot);
        let p = a[col][col];
        for v in a[col].iter_mut() {
            *v /= p;
        }
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col];
                if factor != 0.0 {
                    for (v, pv) in row.iter_mut().zip(&pivot_row) {
                        *v -= factor * pv;
                    }
                }
            }
        }
    }
    // theta[bus][inj] = X[bus][inj] for non-slack buses; slack angle 0.
    let theta = |bus: usize, inj: usize| -> f64 {
        match (reduced(bus), reduced(inj)) {
            (Some(b), Some(i)) => a[b][m + i],
            _ => 0.0,
        }
    };
    Ok(branches
        .iter()
        .map(|br| {
            (0..n)
                .map(|inj| (theta(br.from, inj) - theta(br.to, inj)) / br.x)
                .collect()
        })
        .collect())
}

/// Flows of a clearing in progress, one row per slot: used to check each transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowState {
    flows: Vec<Vec<f64>>,
}

impl FlowState {
    /// Starts from the baseline flows of `slots` slots.
    pub fn new(network: &Network, slots: usize) -> Self {
        Self {
            flows: (0..slots).map(|t| network.base_flows(t)).collect(),
        }
    }

    /// Current flows of a slot.
    pub fn flows(&self, slot: usize) -> &[f64] {
        self.flows.get(slot).map_or(&[], |v| v.as_slice())
    }

    /// The largest quantity up to `quantity` that can be moved from `dec` to `inc` (injection up
    /// at `inc`, down at `dec`) in `slot` without taking a branch past its bounds.
    pub fn max_transfer(
        &self,
        network: &Network,
        slot: usize,
        inc: usize,
        dec: usize,
        quantity: f64,
    ) -> f64 {
        let mut q = quantity;
        let Some(flows) = self.flows.get(slot) else {
            return q;
        };
        for (l, row) in network.ptdf.iter().enumerate() {
            let diff = row.get(inc).copied().unwrap_or(0.0) - row.get(dec).copied().unwrap_or(0.0);
            let (lo, hi) = network.bounds(slot, l);
            let f = flows.get(l).copied().unwrap_or(0.0);
            if diff > PTDF_EPSILON {
                q = q.min((hi - f).max(0.0) / diff);
            } else if diff < -PTDF_EPSILON {
                q = q.min((lo - f).min(0.0) / diff);
            }
        }
        q
    }

    /// Applies a transfer of `quantity` from `dec` to `inc` in `slot`.
    pub fn apply(&mut self, network: &Network, slot: usize, inc: usize, dec: usize, quantity: f64) {
        if let Some(flows) = self.flows.get_mut(slot) {
            for (f, row) in flows.iter_mut().zip(&network.ptdf) {
                let diff =
                    row.get(inc).copied().unwrap_or(0.0) - row.get(dec).copied().unwrap_or(0.0);
                *f += diff * quantity;
            }
        }
    }
}
