//! Topological observability: which buses a measurement set can observe.
//!
//! Decoupled in the usual way: the angles need active measurements (flows `pf`, injections
//! `p`, PMU angles and current phasors), the magnitudes reactive ones (`qf`, `q`) and a voltage
//! magnitude in every island. A measured branch joins its ends into one island; an injection
//! whose unknown branches all lead to one other island joins that island too; repeated until
//! nothing changes. An island is observable when it holds its reference: the slack bus (or,
//! with PMUs, a PMU angle) for angles, a voltage-magnitude measurement for magnitudes. The rule
//! is sufficient: a set it accepts is observable; the Cholesky factorisation of the gain
//! matrix catches the rare numerically unobservable set it lets through.

use super::Quantity;
use super::model::Row;
use crate::admittance::Roles;
use crate::network::{BusType, Network};

struct Islands {
    parent: Vec<usize>,
}

impl Islands {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        self.parent[a] = b;
        true
    }
}

/// MATPOWER numbers of the buses the active rows leave unobservable, in case order.
pub(crate) fn unobservable(
    net: &Network,
    roles: &Roles,
    rows: &[Row],
    active: &[bool],
) -> Vec<u64> {
    let n = net.buses.len();
    let live: Vec<&Row> = rows
        .iter()
        .zip(active)
        .filter(|(_, a)| **a)
        .map(|(r, _)| r)
        .collect();
    let pmu = live
        .iter()
        .any(|r| matches!(r.quantity, Quantity::VoltageAngle | Quantity::CurrentAngle));
    let angle = observed(
        net,
        &live,
        |q| matches!(q, Quantity::ActiveFlow | Quantity::CurrentAngle),
        Quantity::ActiveInjection,
        |i, r| {
            if pmu {
                r.iter()
                    .any(|r| r.bus == i && r.quantity == Quantity::VoltageAngle)
            } else {
                roles.kind[i] == BusType::Slack
            }
        },
    );
    let magnitude = observed(
        net,
        &live,
        |q| q == Quantity::ReactiveFlow,
        Quantity::ReactiveInjection,
        |i, r| {
            r.iter()
                .any(|r| r.bus == i && r.quantity == Quantity::VoltageMagnitude)
        },
    );
    (0..n)
        .filter(|&i| roles.kind[i] != BusType::Isolated && !(angle[i] && magnitude[i]))
        .map(|i| net.buses[i].number)
        .collect()
}

fn observed(
    net: &Network,
    rows: &[&Row],
    flow: impl Fn(Quantity) -> bool,
    injection: Quantity,
    anchor: impl Fn(usize, &[&Row]) -> bool,
) -> Vec<bool> {
    let n = net.buses.len();
    let mut islands = Islands {
        parent: (0..n).collect(),
    };
    // Incident in-service branches of every bus, as far-end buses.
    let mut incident = vec![Vec::new(); n];
    for br in net.branches.iter().filter(|b| b.in_service) {
        let (f, t) = (net.idx(br.from), net.idx(br.to));
        incident[f].push(t);
        incident[t].push(f);
    }
    for r in rows.iter().filter(|r| flow(r.quantity)) {
        if let Some((_, _, far)) = r.branch {
            islands.join(r.bus, far);
        }
    }
    let mut pending: Vec<usize> = rows
        .iter()
        .filter(|r| r.quantity == injection)
        .map(|r| r.bus)
        .collect();
    loop {
        let mut changed = false;
        pending.retain(|&i| {
            let home = islands.find(i);
            let mut other = None;
            for &far in &incident[i] {
                let island = islands.find(far);
                if island == home {
                    continue;
                }
                match other {
                    None => other = Some(island),
                    Some(o) if o == island => {}
                    Some(_) => return true, // two unknown islands: keep for later
                }
            }
            if let Some(o) = other {
                islands.join(home, o);
                changed = true;
            }
            false
        });
        if !changed {
            break;
        }
    }
    let mut anchored = vec![false; n];
    for i in 0..n {
        if anchor(i, rows) {
            let root = islands.find(i);
            anchored[root] = true;
        }
    }
    (0..n).map(|i| anchored[islands.find(i)]).collect()
}
