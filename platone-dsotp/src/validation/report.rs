//! What the AC check found: violations by bus and branch, per slot and in the base case.

use platone_market::validation::Verdict;
use serde::Serialize;

/// A limit of the grid model that a state leaves.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Violation {
    /// A bus voltage above the bus's `Vmax`.
    Overvoltage {
        /// The MATPOWER bus number.
        bus: u64,
        /// The voltage magnitude, p.u.
        vm: f64,
        /// The limit, p.u.
        vmax: f64,
    },
    /// A bus voltage below the bus's `Vmin`.
    Undervoltage {
        /// The MATPOWER bus number.
        bus: u64,
        /// The voltage magnitude, p.u.
        vm: f64,
        /// The limit, p.u.
        vmin: f64,
    },
    /// A branch loaded beyond its `rateA`.
    Overload {
        /// 1-based row of the branch in the case's branch table.
        branch: usize,
        /// The from bus.
        from: u64,
        /// The to bus.
        to: u64,
        /// The larger end's apparent power over `rateA`, percent.
        loading: f64,
        /// The rating, MVA.
        rate_a: f64,
    },
}

impl Violation {
    /// The bus whose voltage is violated, if it is a voltage violation.
    pub fn bus(&self) -> Option<u64> {
        match self {
            Violation::Overvoltage { bus, .. } | Violation::Undervoltage { bus, .. } => Some(*bus),
            Violation::Overload { .. } => None,
        }
    }

    /// The 1-based branch row, if it is an overload.
    pub fn branch(&self) -> Option<usize> {
        match self {
            Violation::Overload { branch, .. } => Some(*branch),
            _ => None,
        }
    }
}

impl std::fmt::Display for Violation {
    /// `voltage at bus 18 1.062 p.u. above Vmax 1.05`, `voltage at bus 18 0.941 p.u. below
    /// Vmin 0.95`, `branch 7 (bus 6 → 7) loaded at 112.3% of rateA 10 MVA`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Overvoltage { bus, vm, vmax } => {
                write!(f, "voltage at bus {bus} {vm:.3} p.u. above Vmax {vmax}")
            }
            Violation::Undervoltage { bus, vm, vmin } => {
                write!(f, "voltage at bus {bus} {vm:.3} p.u. below Vmin {vmin}")
            }
            Violation::Overload {
                branch,
                from,
                to,
                loading,
                rate_a,
            } => write!(
                f,
                "branch {branch} (bus {from} → {to}) loaded at {loading:.1}% of rateA {rate_a} MVA"
            ),
        }
    }
}

/// The AC check of one slot that has accepted orders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotReport {
    /// The slot's name.
    pub slot: String,
    /// Whether the power flow with the slot's awards converged (when it did not, every
    /// order of the slot is red and [`SlotReport::note`] says why).
    pub converged: bool,
    /// The violations with all the slot's awards applied.
    pub violations: Vec<Violation>,
    /// Power flows run for the slot (1 with the awards, plus 1 per order when a limit is
    /// violated or approached).
    pub power_flows: usize,
    /// Why the slot could not be checked, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The full outcome of [`AcValidator::check`](super::AcValidator::check).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcReport {
    /// One verdict per accepted order, offers then requests, in the result's order (DC
    /// line-loading verdicts merged in).
    pub verdicts: Vec<Verdict>,
    /// Violations already present without any award (in the estimated state when one is
    /// set, else in the case's power flow): reported, and blamed only on awards that make
    /// them worse.
    pub base_violations: Vec<Violation>,
    /// Whether the base case was taken from the estimated state.
    pub estimated_base: bool,
    /// Per slot with accepted orders.
    pub slots: Vec<SlotReport>,
    /// Power flows run in total (base case included).
    pub power_flows: usize,
}
