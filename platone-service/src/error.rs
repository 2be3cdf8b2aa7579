//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong setting up or running the service layer. Errors about a
/// request (a refused token, a bad token request) are not here: they are answers, see
/// [`AuthError`](crate::AuthError) and [`Problem`](crate::Problem).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A configuration value is invalid; `at` names it.
    #[error("invalid {at}: {reason}")]
    Config {
        /// The option, flag or field.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key or certificate could not be read or made.
    #[error("{what}: {reason}")]
    Key {
        /// Which key or certificate.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The OpenID Connect issuer could not be reached or answered something unusable.
    #[error("OpenID provider {issuer}: {reason}")]
    Provider {
        /// The issuer URL.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// A listener could not be bound or stopped with an error.
    #[error("listener {address}: {reason}")]
    Listener {
        /// The address.
        address: String,
        /// What went wrong.
        reason: String,
    },
}

impl ServiceError {
    /// An invalid configuration value.
    pub fn config(at: impl Into<String>, reason: impl ToString) -> Self {
        ServiceError::Config {
            at: at.into(),
            reason: reason.to_string(),
        }
    }

    /// A file error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServiceError::Io {
            path: path.into(),
            source,
        }
    }

    /// A key or certificate error.
    pub fn key(what: impl Into<String>, reason: impl ToString) -> Self {
        ServiceError::Key {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
