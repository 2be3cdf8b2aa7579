//! The one error type of the test harnesses.

/// Why a harness could not start, stop or find what it needs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// A local Mosquitto broker ([`Mosquitto`](crate::mosquitto::Mosquitto)) could not be
    /// started: the binary is missing, it exited (the reason carries its log) or its port never
    /// accepted connections.
    #[error("mosquitto {stage}: {reason}")]
    Mosquitto {
        /// What failed (`binary`, `config`, `port`, `start`, `signal`).
        stage: &'static str,
        /// What happened.
        reason: String,
    },
    /// A local Ethereum node ([`Anvil`](crate::anvil::Anvil)) could not be found or started.
    #[error("anvil {stage}: {reason}")]
    Anvil {
        /// What failed (`binary`, `port`, `start`).
        stage: &'static str,
        /// What happened.
        reason: String,
    },
    /// A local OpenID Connect provider ([`OidcProvider`](crate::oidc::OidcProvider)) could not
    /// be found or started.
    #[error("OIDC provider {stage}: {reason}")]
    Oidc {
        /// What failed (`binary`, `config`, `port`, `start`).
        stage: &'static str,
        /// What happened.
        reason: String,
    },
    /// A throwaway PostgreSQL server ([`TempPostgres`](crate::pg_server::TempPostgres)) could
    /// not be found, started or stopped.
    #[error("postgres server: {0}")]
    Postgres(String),
    /// A file or directory of a harness could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl TestkitError {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        TestkitError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;
