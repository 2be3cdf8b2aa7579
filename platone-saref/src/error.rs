//! The error type of this crate.

/// Everything that can go wrong mapping to or from RDF.
///
/// Reading errors name the subject and predicate (and, for syntax errors, the position) where
/// the input is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SarefError {
    /// The base IRI is not an absolute IRI ending in `/` or `#`.
    #[error("invalid base IRI {iri:?}: {reason}")]
    InvalidBase {
        /// The rejected text.
        iri: String,
        /// Why.
        reason: String,
    },
    /// Writing to the output failed.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not well-formed Turtle, N-Triples or JSON-LD.
    #[error("{format} syntax error{}: {message}", location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Syntax {
        /// Which format was being read.
        format: &'static str,
        /// Line:column (1-based) or byte offset, when the parser gives one.
        location: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// A required term is missing on a subject.
    #[error("<{subject}> has no <{predicate}>")]
    Missing {
        /// The subject IRI.
        subject: String,
        /// The predicate IRI.
        predicate: &'static str,
    },
    /// A term has the wrong kind, datatype or value.
    #[error("<{subject}> <{predicate}>: {reason}")]
    Invalid {
        /// The subject IRI.
        subject: String,
        /// The predicate IRI.
        predicate: &'static str,
        /// What is wrong (names the value found).
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = SarefError> = std::result::Result<T, E>;
