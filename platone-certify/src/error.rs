//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while certifying, verifying, signing or keeping a ledger.
///
/// Messages say where the input is wrong: a JSON path, a byte offset, a line, a field.
///
/// [`CertifyError::is_retryable`] tells an engine that could not answer (retry later) from a
/// decision or a bad input (retrying changes nothing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertifyError {
    /// A record is not valid JSON.
    #[error("record is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line in the record text.
        line: usize,
        /// 1-based column in the record text.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A record cannot be put in `platone-cert/1` canonical form.
    #[error("record cannot be canonicalised at {path}: {message}")]
    Canonical {
        /// JSON path of the offending value (`$` is the record itself).
        path: String,
        /// Why.
        message: String,
    },
    /// A typed record could not be turned into JSON.
    #[error("record cannot be serialised to JSON: {0}")]
    Serialise(String),
    /// A proof or certificate (JSON or binary) is malformed.
    #[error("malformed {what} at {at}: {message}")]
    Malformed {
        /// Which form (`binary proof`, `proof JSON`, `certificate JSON`, …).
        what: &'static str,
        /// Where: a byte offset, a field name or line:column.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A Merkle tree was asked of an impossible shape (no leaves, index out of range).
    #[error("tree: {0}")]
    Tree(String),
    /// An anchor was attached to a proof or certificate that is already anchored elsewhere.
    #[error("batch {batch_id} is already anchored at {existing}, not at {offered}")]
    AnchorConflict {
        /// The batch.
        batch_id: String,
        /// The anchor already attached.
        existing: String,
        /// The different anchor offered.
        offered: String,
    },
    /// A batcher or ledger was given an inconsistent record or certificate.
    #[error("batch {batch_id}: {message}")]
    Batch {
        /// The batch concerned.
        batch_id: String,
        /// What is wrong.
        message: String,
    },
    /// A key, signature or address is malformed or does not verify.
    #[error("signature: {0}")]
    Signature(String),
    /// A device-registry change was refused.
    #[error("device registry: {0}")]
    Registry(String),
    /// A ledger or registry file is damaged or was altered.
    #[error("{path}: entry {entry} (byte {offset}): {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 0-based entry number.
        entry: u64,
        /// Byte offset of the entry in the file.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A ledger refused a certificate: it breaks its source's chain, or its batch is already
    /// anchored with a different certificate. Retrying the same certificate will not help.
    #[error("ledger {ledger} refused batch {batch_id}: {reason}")]
    Refused {
        /// The ledger's name.
        ledger: String,
        /// The batch refused.
        batch_id: String,
        /// Why.
        reason: String,
    },
    /// An engine (a ledger node, a registry backend) could not be reached or could not
    /// complete the operation; nothing was decided. Retry later with the same input.
    #[error("{engine} is unavailable: {message}")]
    Unavailable {
        /// The engine (a ledger's name).
        engine: String,
        /// What failed.
        message: String,
    },
    /// A stream of records could not be read at a line.
    #[error("line {line}: {source}")]
    ReadRecords {
        /// 1-based line.
        line: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stream of records held invalid records (each reported on its own); nothing was
    /// certified.
    #[error("{count} invalid record(s); nothing was certified")]
    InvalidRecords {
        /// How many.
        count: u64,
    },
    /// A stream of records held no record.
    #[error("no records to certify")]
    NoRecords,
    /// Another process holds the single-writer lock.
    #[error("{0}: locked by another writer")]
    Locked(PathBuf),
    /// An I/O error, with the file it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl CertifyError {
    /// Whether the operation may succeed if retried unchanged later: the engine was down or
    /// could not write ([`CertifyError::Unavailable`], [`CertifyError::Io`]), as opposed to a
    /// refusal or a bad input.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CertifyError::Unavailable { .. } | CertifyError::Io { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CertifyError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(what: &'static str, at: impl ToString, message: impl ToString) -> Self {
        CertifyError::Malformed {
            what,
            at: at.to_string(),
            message: message.to_string(),
        }
    }
}

/// Result alias for the crate.
pub type Result<T, E = CertifyError> = std::result::Result<T, E>;
