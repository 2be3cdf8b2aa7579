//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while running the Blockchain Access Layer.
///
/// Packet-level problems (a payload that does not decode, a signature that does not verify)
/// are not errors of the BAL: they are [`Rejection`](crate::Rejection)s, dead-lettered while
/// everything else flows on. These are the errors of configuration and of the components.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BalError {
    /// The configuration is invalid; `at` names the setting.
    #[error("configuration {at}: {message}")]
    Config {
        /// The setting (`mqtt`, `devices[2].pod`, `--token`…).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The Shared Customer Database failed.
    #[error("SCD: {0}")]
    Store(#[from] platone_scd::ScdError),
    /// Certification, the ledger or the device registry failed.
    #[error("certification: {0}")]
    Certify(#[from] platone_certify::CertifyError),
    /// The bus (broker connection) failed.
    #[error("bus: {0}")]
    Bus(#[from] platone_bus::BusError),
    /// The embedded broker failed.
    #[error("embedded broker: {0}")]
    Broker(String),
    /// A file of the BAL's data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A journal or pending-batch file of the data directory is damaged.
    #[error("{path}, line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A background task stopped unexpectedly.
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    /// The BAL was stopped while it waited for an engine to come back; what it was doing
    /// is left for the next start (packets stay unacknowledged at the broker).
    #[error("stopped while waiting for an unavailable engine")]
    Interrupted,
    /// The broker's access control (Mosquitto's dynamic-security plugin) refused a command.
    #[error("broker access control refused {command}: {reason}")]
    AccessRefused {
        /// The command (`createRole`, `addClientRole`…).
        command: String,
        /// The broker's answer.
        reason: String,
    },
    /// The broker's access control did not answer in time (the broker is unreachable, or
    /// the plugin is not loaded).
    #[error("broker access control at {broker}: no answer within {waited:?}")]
    AccessNoAnswer {
        /// The broker.
        broker: String,
        /// How long the BAL waited.
        waited: std::time::Duration,
    },
    /// The broker's access control answered something the BAL cannot read.
    #[error("broker access control answered unreadably: {0}")]
    AccessAnswer(String),
    /// An identifier cannot name an MQTT topic level (it contains `/`, `+`, `#` or `$`), so
    /// no access can be granted on it.
    #[error(
        "{kind} {id:?} cannot name an MQTT topic level (it contains '/', '+', '#' or starts with '$')"
    )]
    NotATopicLevel {
        /// `device`, `participant`…
        kind: &'static str,
        /// The identifier.
        id: String,
    },
}

impl BalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BalError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is a failure of the file system under a file the BAL keeps (a full disk,
    /// an I/O error), which may pass: the write is retried rather than given up.
    pub fn is_storage(&self) -> bool {
        matches!(self, BalError::Io { .. })
    }

    pub(crate) fn config(at: impl Into<String>, message: impl ToString) -> Self {
        BalError::Config {
            at: at.into(),
            message: message.to_string(),
        }
    }
}

/// A setting of the shared service layer that is wrong is a configuration error naming it;
/// a file it cannot read is an I/O error.
impl From<platone_service::ServiceError> for BalError {
    fn from(error: platone_service::ServiceError) -> Self {
        match error {
            platone_service::ServiceError::Config { at, reason } => BalError::Config {
                at,
                message: reason,
            },
            platone_service::ServiceError::Io { path, source } => BalError::Io { path, source },
            other => BalError::Config {
                at: "api".into(),
                message: other.to_string(),
            },
        }
    }
}

/// Result alias for the crate.
pub type Result<T, E = BalError> = std::result::Result<T, E>;
