//! The crate's error type.

use axum::http::StatusCode;
use platone_service::Problem;

/// What can go wrong in the Market Platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// A request or its body is invalid; `at` names the field, order or parameter.
    #[error("{at}: {message}")]
    Invalid {
        /// The field (`slots[2]`, `orders[3].quantity`, `gate_closure`…).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The caller's roles do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No session, order or award has this name.
    #[error("{what} {id:?} is not known")]
    NotFound {
        /// `session`, `award`…
        what: &'static str,
        /// The name asked for.
        id: String,
    },
    /// The session's state does not allow it (the gate is closed, it is not cleared yet…).
    #[error("session {session:?}: {message}")]
    Conflict {
        /// The session.
        session: String,
        /// Why.
        message: String,
    },
    /// The market library refused the session's book (clearing, validation).
    #[error("market: {0}")]
    Market(#[from] platone_market::MarketError),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// The store's database cannot be reached (down, or no connection in time); tried again
    /// by the next call.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The bus failed (subscribing, publishing).
    #[error("bus: {0}")]
    Bus(String),
    /// The market's contracts refused or could not be reached.
    #[error("chain: {0}")]
    Chain(String),
    /// The SCD (PoD registry, metered data) could not be read.
    #[error("SCD: {0}")]
    GridData(String),
    /// The DSO's validation gave no verdict (no answer in time, or a wrong one).
    #[error("validation: {0}")]
    Validation(String),
    /// Certifying or registering on the ledger failed.
    #[error("ledger: {0}")]
    Ledger(#[from] platone_certify::CertifyError),
}

impl PlatformError {
    /// An invalid input at `at`.
    pub fn invalid(at: impl Into<String>, message: impl ToString) -> Self {
        PlatformError::Invalid {
            at: at.into(),
            message: message.to_string(),
        }
    }

    /// A state conflict of `session`.
    pub fn conflict(session: &str, message: impl ToString) -> Self {
        PlatformError::Conflict {
            session: session.to_owned(),
            message: message.to_string(),
        }
    }

    /// The RFC 9457 answer: 400, 403, 404, 409, 422, 500 or 503, `at` naming what is concerned.
    pub fn problem(&self) -> Problem {
        let (status, at) = match self {
            PlatformError::Invalid { at, .. } => (StatusCode::BAD_REQUEST, at.as_str()),
            PlatformError::Forbidden(_) => (StatusCode::FORBIDDEN, "Authorization"),
            PlatformError::NotFound { what, .. } => (StatusCode::NOT_FOUND, *what),
            PlatformError::Conflict { .. } => (StatusCode::CONFLICT, "session"),
            PlatformError::Market(_) => (StatusCode::UNPROCESSABLE_ENTITY, "session"),
            PlatformError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            PlatformError::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store"),
            PlatformError::Ledger(_) => (StatusCode::INTERNAL_SERVER_ERROR, "ledger"),
            PlatformError::Bus(_) => (StatusCode::SERVICE_UNAVAILABLE, "bus"),
            PlatformError::GridData(_) => (StatusCode::SERVICE_UNAVAILABLE, "scd"),
            PlatformError::Chain(_) => (StatusCode::SERVICE_UNAVAILABLE, "chain"),
            PlatformError::Validation(_) => (StatusCode::SERVICE_UNAVAILABLE, "validation"),
        };
        let detail = match self {
            PlatformError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Problem::new(status, at, detail)
    }
}

impl From<rusqlite::Error> for PlatformError {
    fn from(e: rusqlite::Error) -> Self {
        PlatformError::Store(e.to_string())
    }
}

impl From<serde_json::Error> for PlatformError {
    fn from(e: serde_json::Error) -> Self {
        PlatformError::Store(format!("a stored record does not read back: {e}"))
    }
}

/// The member a serde error names (serde writes it between backquotes: ``unknown field
/// `quantiy` ``, ``missing field `slot` ``), when it names one.
pub(crate) fn serde_member(error: &serde_json::Error) -> Option<String> {
    error.to_string().split('`').nth(1).map(str::to_owned)
}

/// Result alias for the crate.
pub type Result<T, E = PlatformError> = std::result::Result<T, E>;
