//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong in the market: each message says where the input is wrong.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MarketError {
    /// The scenario text is not valid JSON or does not have the expected shape.
    #[error("scenario: {message} at line {line}, column {column}")]
    Syntax {
        /// What was wrong.
        message: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// The `format` field names a format this crate does not read.
    #[error("scenario: format {found:?} is not supported (expected \"platone-market-scenario/1\")")]
    Format {
        /// The format found.
        found: String,
    },
    /// A scenario-level field is invalid.
    #[error("scenario: {field}: {message}")]
    Field {
        /// The field path, e.g. `slots[3]` or `network.branches[2].x`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// One order (request or offer) is invalid.
    #[error("{kind} {id:?}: {message}")]
    Order {
        /// `request` or `offer`.
        kind: &'static str,
        /// The order's id.
        id: String,
        /// What is wrong with it.
        message: String,
    },
    /// A block of offers is invalid.
    #[error("block {block:?} (offer {offer:?}): {message}")]
    Block {
        /// The block id.
        block: String,
        /// The offer of the block the problem was found on.
        offer: String,
        /// What is wrong with it.
        message: String,
    },
    /// The network model is invalid.
    #[error("network: {0}")]
    Network(String),
    /// A session operation was not allowed in the session's state.
    #[error("session {session:?}: cannot {action} in state {state}")]
    Session {
        /// The session id.
        session: String,
        /// The operation attempted.
        action: &'static str,
        /// The state the session was in.
        state: String,
    },
    /// An order was submitted outside the gate or for another session.
    #[error("session {session:?}: {kind} {id:?}: {message}")]
    Gate {
        /// The session id.
        session: String,
        /// `request` or `offer`.
        kind: &'static str,
        /// The order's id.
        id: String,
        /// Why it was refused.
        message: String,
    },
    /// The optimisation solver failed.
    #[error("solver ({backend}): {message}")]
    Solver {
        /// The backend used.
        backend: &'static str,
        /// What it reported.
        message: String,
    },
    /// Technical validation could not reach a result without red orders.
    #[error("validation: {0}")]
    Validation(String),
    /// A settlement input is invalid.
    #[error("settlement: {0}")]
    Settlement(String),
    /// A token-ledger operation was refused.
    #[error("token: {0}")]
    Token(String),
    /// A generator or clearing option is invalid.
    #[error("config: {0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = MarketError> = std::result::Result<T, E>;
