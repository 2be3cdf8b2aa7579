//! The error type of this crate.

/// Everything that can be wrong with a value of the shared model.
///
/// Each variant names the field or identifier kind that was rejected, so a caller can say
/// exactly where its input went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An identifier was empty (or only white space).
    #[error("{kind} must not be empty")]
    EmptyId {
        /// Which identifier, e.g. `PodId`.
        kind: &'static str,
    },
    /// An identifier had a character or length it may not have.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidId {
        /// Which identifier, e.g. `MeterId`.
        kind: &'static str,
        /// The rejected text (cut to 80 characters).
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A numeric field was NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NonFinite {
        /// The field, e.g. `value` or `phasor.magnitude`.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A field was outside the range it may take.
    #[error("{field} out of range: {reason}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// What the range is.
        reason: String,
    },
    /// A text form of an enumeration (unit, phase set, kind, …) was not recognised.
    #[error("unknown {kind} {value:?}")]
    UnknownName {
        /// Which enumeration, e.g. `Unit`.
        kind: &'static str,
        /// The rejected text.
        value: String,
    },
    /// A validity window ended before (or when) it began.
    #[error("validity window ends at {to} which is not after its start {from}")]
    EmptyWindow {
        /// Start of the window (RFC 3339).
        from: String,
        /// End of the window (RFC 3339).
        to: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

pub(crate) fn check_finite(field: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ModelError::NonFinite { field, value })
    }
}
