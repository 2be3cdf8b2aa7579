//! The crate's error type.

/// What can go wrong in the DSO Technical Platform's services.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsotpError {
    /// A request, message or configuration value is invalid; `at` names where (a field, a
    /// JSON path, a topic, a line).
    #[error("{at}: {message}")]
    Invalid {
        /// Where the input is wrong.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// No estimation, activation or series has this name.
    #[error("{what} {id:?} is not known")]
    NotFound {
        /// `estimation`, `activation`…
        what: &'static str,
        /// The name asked for.
        id: String,
    },
    /// The grid library refused the model or the measurements.
    #[error("grid: {0}")]
    Grid(#[from] platone_grid::GridError),
    /// The bus failed (subscribing, publishing).
    #[error("bus: {0}")]
    Bus(String),
    /// The store (the SCD's tables) failed.
    #[error("store: {0}")]
    Store(String),
    /// Certifying set points and acknowledgements failed.
    #[error("certification: {0}")]
    Certification(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP side (listener, identity) failed.
    #[error("service: {0}")]
    Service(String),
}

impl DsotpError {
    /// An [`DsotpError::Invalid`] at `at`.
    pub fn invalid(at: impl Into<String>, message: impl std::fmt::Display) -> Self {
        DsotpError::Invalid {
            at: at.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn bus(e: impl std::fmt::Display) -> Self {
        DsotpError::Bus(e.to_string())
    }

    pub(crate) fn store(e: impl std::fmt::Display) -> Self {
        DsotpError::Store(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = DsotpError> = std::result::Result<T, E>;
