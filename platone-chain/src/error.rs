//! The one error type of platone-chain.

use std::path::PathBuf;

/// What went wrong talking to the chain or reading a deployment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The node could not be reached or did not answer: nothing was decided, retry later.
    #[error("node {rpc} unavailable: {reason}")]
    Unavailable {
        /// The node's JSON-RPC URL.
        rpc: String,
        /// What failed.
        reason: String,
    },
    /// A contract refused a call or transaction (a revert), with the decoded custom error
    /// where the contract declares it (`AccessControlUnauthorizedAccount(…)`,
    /// `SessionAlreadyRegistered(…)`).
    #[error("{contract}.{function} reverted: {reason}")]
    Reverted {
        /// The contract.
        contract: &'static str,
        /// The function called.
        function: &'static str,
        /// The decoded revert.
        reason: String,
    },
    /// The node refused a transaction before executing it (nonce, funds, gas price).
    #[error("node {rpc} refused the transaction: {reason}")]
    Rejected {
        /// The node's JSON-RPC URL.
        rpc: String,
        /// The node's message.
        reason: String,
    },
    /// A transaction was mined but failed (status 0).
    #[error("transaction {transaction} failed on chain")]
    Failed {
        /// The transaction hash.
        transaction: String,
    },
    /// The node answered something this client cannot use.
    #[error("unexpected answer from the node: {0}")]
    Unexpected(String),
    /// A configuration or deployment value is wrong; the message says which.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file's content is not what it must be.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where there is one.
        message: String,
    },
    /// An error of the local certificate ledger.
    #[error(transparent)]
    Certify(#[from] platone_certify::CertifyError),
}

impl ChainError {
    /// Whether retrying later may succeed (the node was down or busy), as opposed to a
    /// refusal or a bad input.
    pub fn is_retryable(&self) -> bool {
        match self {
            ChainError::Unavailable { .. } | ChainError::Io { .. } => true,
            ChainError::Certify(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ChainError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
