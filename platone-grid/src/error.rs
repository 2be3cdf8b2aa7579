//! The crate's error type.

/// Everything that can go wrong reading a network, solving a power flow or estimating a state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GridError {
    /// A MATPOWER case file is malformed at `line:column` (1-based).
    #[error("{line}:{column}: {message}")]
    Case {
        /// 1-based line of the case file.
        line: usize,
        /// 1-based column (in characters) of the case file.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A JSON document (the market's network JSON) is malformed at `line:column` (1-based).
    #[error("{line}:{column}: {message}")]
    Json {
        /// 1-based line of the document.
        line: usize,
        /// 1-based column of the document.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The network data are inconsistent (a branch to an unknown bus, a duplicate bus …);
    /// `place` names the table row, e.g. `branch row 7`.
    #[error("{place}: {message}")]
    Network {
        /// The table and 1-based row, or the field path, that is wrong.
        place: String,
        /// What is wrong there.
        message: String,
    },
    /// No reference (slack) bus: no bus of type 3 and no PV bus with a generator in service.
    #[error("no slack bus: no bus of type 3 or PV bus with a generator in service")]
    MissingSlack,
    /// Energised buses not connected to any slack bus, by MATPOWER bus number.
    #[error("islands without a slack bus: buses {buses:?}")]
    Islands {
        /// The MATPOWER numbers of the buses in islands without a slack.
        buses: Vec<u64>,
    },
    /// The Newton iterations did not converge within the iteration limit.
    #[error("power flow did not converge in {iterations} iterations (mismatch {mismatch:e} p.u.)")]
    NotConverged {
        /// Iterations made.
        iterations: usize,
        /// The largest power mismatch left, in p.u.
        mismatch: f64,
    },
    /// A linear system was singular (a Jacobian, a B matrix or a gain matrix).
    #[error("singular {what}")]
    Singular {
        /// Which matrix.
        what: &'static str,
    },
    /// A measurement is invalid; `place` is its position or field path.
    #[error("{place}: {message}")]
    Measurement {
        /// The field path of the bad measurement, e.g. `measurements[3].sigma`.
        place: String,
        /// What is wrong there.
        message: String,
    },
    /// The measurement set leaves these buses (MATPOWER numbers) unobservable.
    #[error("unobservable buses: {buses:?}")]
    Unobservable {
        /// The MATPOWER numbers of the unobservable buses.
        buses: Vec<u64>,
    },
}

/// Result alias of the crate.
pub type Result<T, E = GridError> = std::result::Result<T, E>;
