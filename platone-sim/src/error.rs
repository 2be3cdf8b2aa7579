//! The crate's error type.

/// Why a simulation cannot be planned or its packets built.
///
/// A publish that fails during a run is not an error of the run: it is counted in the
/// [`RunReport`](crate::RunReport) and the run goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A setting of the plan is invalid; `at` names it (`sim.rate`, `sim.topic_prefix`…).
    #[error("configuration {at}: {message}")]
    Config {
        /// The setting.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A packet could not be signed or wrapped in its envelope.
    #[error("certification: {0}")]
    Certify(#[from] platone_certify::CertifyError),
    /// A Light Node's connection to the bus failed (subscribing to its set points).
    #[error("bus: {0}")]
    Bus(#[from] platone_bus::BusError),
    /// A Light Node's EMS interface could not listen or stopped.
    #[error("{0}")]
    Io(String),
    /// A Light Node's disk buffer of BAL-bound packets could not be read or written.
    #[error("buffer {}: {message}", path.display())]
    Buffer {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl SimError {
    pub(crate) fn config(at: impl Into<String>, message: impl ToString) -> Self {
        SimError::Config {
            at: at.into(),
            message: message.to_string(),
        }
    }
}

/// Result alias for the crate.
pub type Result<T, E = SimError> = std::result::Result<T, E>;
