//! Weighted-least-squares state estimation.
//!
//! Gauss–Newton on the normal equations `G Δx = Hᵀ W (z − h(x))` with the sparse gain matrix
//! `G = Hᵀ W H` factorised by Cholesky (see `docs/grid.md` for why not an orthogonal method).
//! Before solving, a topological observability analysis names unobservable buses; after it, a
//! chi-square test of `J(x)` and the largest-normalised-residual test remove gross errors one
//! at a time.

mod bad_data;
mod file;
mod model;
mod observability;

use serde::{Deserialize, Serialize};

use crate::admittance::Roles;
use crate::error::{GridError, Result};
use crate::linalg::{LinearSolver, SparseCholesky};
use crate::network::{BusType, Network};

pub use file::{MEASUREMENT_FORMAT, parse_measurement_file};

/// What a measurement measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Quantity {
    /// Bus voltage magnitude, p.u. (`vm`).
    VoltageMagnitude,
    /// Bus voltage angle from a PMU, degrees (`va`).
    VoltageAngle,
    /// Bus active injection, MW, generator convention (`p`).
    ActiveInjection,
    /// Bus reactive injection, Mvar, generator convention (`q`).
    ReactiveInjection,
    /// Active power into a branch at one end, MW (`pf`).
    ActiveFlow,
    /// Reactive power into a branch at one end, Mvar (`qf`).
    ReactiveFlow,
    /// Current magnitude into a branch at one end, p.u. of the system base (`im`).
    CurrentMagnitude,
    /// Current angle into a branch at one end from a PMU, degrees (`ia`).
    CurrentAngle,
}

impl Quantity {
    /// Whether it is measured on a branch end (otherwise on a bus).
    pub fn on_branch(self) -> bool {
        matches!(
            self,
            Quantity::ActiveFlow
                | Quantity::ReactiveFlow
                | Quantity::CurrentMagnitude
                | Quantity::CurrentAngle
        )
    }
}

/// The end of a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The from end.
    From,
    /// The to end.
    To,
}

/// Where a measurement is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Location {
    /// A bus, by its MATPOWER number.
    Bus(u64),
    /// A branch end, by the 1-based row in the case's branch table.
    Branch {
        /// 1-based branch row.
        index: usize,
        /// Which end.
        side: Side,
    },
}

/// One measurement for the estimator, in the units of [`Quantity`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridMeasurement {
    /// What is measured.
    pub quantity: Quantity,
    /// Where.
    pub location: Location,
    /// The measured value.
    pub value: f64,
    /// Its standard deviation, same unit, > 0.
    pub sigma: f64,
}

/// Options of the estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimationOptions {
    /// Largest state update accepted as converged (p.u. and rad).
    pub tolerance: f64,
    /// Gauss–Newton iterations allowed.
    pub max_iterations: usize,
    /// Standard deviation (p.u.) of the zero-injection pseudo-measurements.
    pub zero_injection_sigma: f64,
    /// Run the chi-square and largest-normalised-residual tests and remove bad data.
    pub bad_data: bool,
    /// Confidence of the chi-square test of `J(x)`.
    pub chi_square_confidence: f64,
    /// Normalised residual above which a measurement is taken as bad.
    pub residual_threshold: f64,
    /// At most this many measurements are removed.
    pub max_removals: usize,
}

impl Default for EstimationOptions {
    fn default() -> Self {
        EstimationOptions {
            tolerance: 1e-9,
            max_iterations: 30,
            zero_injection_sigma: 1e-5,
            bad_data: true,
            chi_square_confidence: 0.99,
            residual_threshold: 3.0,
            max_removals: 10,
        }
    }
}

/// The estimated voltage of one bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusState {
    /// The bus number.
    pub bus: u64,
    /// Voltage magnitude, p.u.
    pub vm: f64,
    /// Voltage angle, degrees.
    pub va: f64,
}

/// A measurement removed as bad data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadDatum {
    /// Its position in the input list.
    pub index: usize,
    /// Its normalised residual when it was removed.
    pub normalised_residual: f64,
}

/// How well the estimated state explains one input measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Residual {
    /// Its position in the input list.
    pub index: usize,
    /// The value the estimated state gives it, in its unit.
    pub estimated: f64,
    /// Measured minus estimated, in its unit (angles on the circle).
    pub residual: f64,
    /// The residual in standard deviations (`residual / sigma`).
    pub weighted: f64,
}

/// The result of a state estimation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimationResult {
    /// Whether the last Gauss–Newton run converged.
    pub converged: bool,
    /// Iterations of the last run.
    pub iterations: usize,
    /// The weighted sum of squared residuals `J(x)` of the kept measurements.
    pub objective: f64,
    /// The chi-square threshold `J` was tested against (degrees of freedom `m − n`).
    pub chi_square_threshold: f64,
    /// The estimated state, in case order.
    pub buses: Vec<BusState>,
    /// Measurements removed as bad data, in removal order.
    pub bad_data: Vec<BadDatum>,
    /// Every input measurement's residual at the estimated state, in input order (those
    /// removed as bad data included).
    pub residuals: Vec<Residual>,
}

/// Estimates the state from the measurements with the embedded sparse Cholesky.
///
/// Fails with [`GridError::Unobservable`] naming the buses the set cannot observe, and with
/// [`GridError::Measurement`] for a measurement on an unknown bus or branch or with a
/// non-positive standard deviation.
pub fn estimate(
    net: &Network,
    measurements: &[GridMeasurement],
    options: &EstimationOptions,
) -> Result<EstimationResult> {
    estimate_with(net, measurements, options, &mut SparseCholesky::default())
}

/// Estimates the state with the given solver for the (symmetric positive definite) gain matrix.
pub fn estimate_with(
    net: &Network,
    measurements: &[GridMeasurement],
    options: &EstimationOptions,
    solver: &mut dyn LinearSolver,
) -> Result<EstimationResult> {
    let roles = Roles::new(net)?;
    let rows = model::rows(net, measurements, options.zero_injection_sigma)?;
    let mut active = vec![true; rows.len()];
    let model = model::Model::new(net, &roles, &rows);
    let unobservable = observability::unobservable(net, &roles, &rows, &active);
    if !unobservable.is_empty() {
        return Err(GridError::Unobservable {
            buses: unobservable,
        });
    }
    let mut bad_data = Vec::new();
    let mut state = model.flat_start(net);
    loop {
        let run = model.gauss_newton(&rows, &active, &mut state, options, solver)?;
        let threshold = bad_data::chi_square_threshold(run.dof, options.chi_square_confidence);
        let done =
            |state: &model::State, run: &model::Run, bad_data: Vec<BadDatum>| EstimationResult {
                converged: run.converged,
                iterations: run.iterations,
                objective: run.objective,
                chi_square_threshold: threshold,
                buses: net
                    .buses
                    .iter()
                    .enumerate()
                    .map(|(i, b)| BusState {
                        bus: b.number,
                        vm: state.vm[i],
                        va: state.va[i].to_degrees(),
                    })
                    .collect(),
                bad_data,
                residuals: model
                    .residuals(&rows, measurements, state)
                    .into_iter()
                    .map(|(index, estimated, residual)| Residual {
                        index,
                        estimated,
                        residual,
                        weighted: residual / measurements[index].sigma,
                    })
                    .collect(),
            };
        if !options.bad_data
            || !run.converged
            || run.objective <= threshold
            || bad_data.len() >= options.max_removals
        {
            return Ok(done(&state, &run, bad_data));
        }
        let worst = model.largest_normalised_residual(&rows, &active, &state, solver)?;
        match worst {
            Some((row, r)) if r > options.residual_threshold => {
                active[row] = false;
                if !observability::unobservable(net, &roles, &rows, &active).is_empty() {
                    // Removing it would leave part of the grid unobservable: keep it, stop.
                    active[row] = true;
                    return Ok(done(&state, &run, bad_data));
                }
                bad_data.push(BadDatum {
                    index: rows[row].input.unwrap_or(row),
                    normalised_residual: r,
                });
            }
            _ => return Ok(done(&state, &run, bad_data)),
        }
    }
}

/// Whether a bus takes part in the estimation.
pub(crate) fn energised(kind: BusType) -> bool {
    kind != BusType::Isolated
}
