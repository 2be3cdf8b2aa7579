//! Power-system networks for the Platone SDK: MATPOWER case files, AC and DC power flow and
//! weighted-least-squares state estimation with observability and bad-data analysis.
//!
//! ```
//! use platone_grid::{parse_case, run_ac, PowerFlowOptions};
//!
//! let case = "mpc.baseMVA = 100;
//! mpc.bus = [1 3 0 0 0 0 1 1 0 230 1 1.1 0.9; 2 1 50 10 0 0 1 1 0 230 1 1.1 0.9];
//! mpc.gen = [1 0 0 100 -100 1.02 100 1 200 0];
//! mpc.branch = [1 2 0.01 0.1 0.02 100 100 100 0 0 1 -360 360];";
//! let network = parse_case(case)?;
//! let flow = run_ac(&network, &PowerFlowOptions::default())?;
//! assert!(flow.converged);
//! assert!((flow.branches[0].pt + 50.0).abs() < 1e-6); // 50 MW arrive at bus 2
//! # Ok::<(), platone_grid::GridError>(())
//! ```
#![forbid(unsafe_code)]

mod admittance;
pub mod case;
pub mod dc;
mod error;
pub mod estimation;
pub mod linalg;
pub mod mapping;
pub mod market;
pub mod network;
pub mod powerflow;

pub use case::{parse_case, parse_case_bytes};
pub use dc::run_dc;
pub use error::{GridError, Result};
pub use estimation::{
    BadDatum, BusState, EstimationOptions, EstimationResult, GridMeasurement, Location, Quantity,
    Residual, Side, estimate, estimate_with, parse_measurement_file,
};
pub use linalg::{CscMatrix, LinearSolver, SparseCholesky, SparseLu};
pub use mapping::{MappedSet, MeasurementMap, MeasurementRoute};
pub use market::{MarketNetwork, MarketNetworkFile, MarketUnit};
pub use network::{Branch, Bus, BusType, Generator, Network};
pub use powerflow::{
    BranchResult, BusResult, PowerFlowOptions, PowerFlowResult, Start, run_ac, run_ac_with,
};
