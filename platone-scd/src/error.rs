//! The error type of this crate.

/// Everything that can go wrong in the Shared Customer Database.
///
/// Every variant names the record, resource or file it is about, so the caller can say exactly
/// what was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScdError {
    /// A store URL was not `sqlite://PATH` or `postgres://…`.
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record offered to the store is invalid.
    #[error("invalid {record}: {reason}")]
    InvalidRecord {
        /// Which record, e.g. `measurement 3 (meter-1||…@2021-01-01T00:15:00Z)`.
        record: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A record the operation refers to does not exist.
    #[error("{record} not found")]
    NotFound {
        /// Which record.
        record: String,
    },
    /// A record with the same identity but different content is already stored.
    #[error("{record} is already stored with different content")]
    Conflict {
        /// Which record.
        record: String,
    },
    /// The access policy denied the operation (the denial is in the audit log).
    #[error("access denied to {who} for {what}: {reason}")]
    AccessDenied {
        /// Who asked.
        who: String,
        /// What was asked for.
        what: String,
        /// Why it was denied.
        reason: String,
    },
    /// A stored row could not be read back into a record.
    #[error("corrupt stored {record}: {reason}")]
    Corrupt {
        /// Which record.
        record: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An archive directory or file is missing, damaged or does not match its manifest.
    #[error("archive {path}: {reason}")]
    Archive {
        /// The file or directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The embedded SQLite database reported an error.
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The PostgreSQL server reported an error.
    #[cfg(feature = "postgres")]
    #[error("postgres: {context}: {source}")]
    Postgres {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        source: tokio_postgres::Error,
    },
    /// No PostgreSQL connection could be taken from the pool.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// A blocking task of the embedded store did not finish.
    #[error("background task failed: {0}")]
    Task(String),
}

/// Result alias for this crate.
pub type Result<T, E = ScdError> = std::result::Result<T, E>;

impl ScdError {
    /// Whether the error says the storage engine is unavailable (the database is down,
    /// unreachable, out of space or busy) rather than that the records offered are wrong.
    ///
    /// A pipeline retries an operation that failed this way, with back-pressure, until the
    /// engine answers again; any other error is about the records themselves, which are set
    /// aside (dead-lettered) while the rest flows on.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ScdError::Io { .. } | ScdError::Pool(_) | ScdError::Task(_) => true,
            #[cfg(feature = "sqlite")]
            ScdError::Sqlite { source, .. } => sqlite_unavailable(source),
            #[cfg(feature = "postgres")]
            ScdError::Postgres { source, .. } => postgres_unavailable(source),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        ScdError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub(crate) fn archive(path: impl AsRef<std::path::Path>, reason: impl Into<String>) -> Self {
        ScdError::Archive {
            path: path.as_ref().display().to_string(),
            reason: reason.into(),
        }
    }
}

/// SQLite errors that come from the engine's state, not from a statement's data.
#[cfg(feature = "sqlite")]
fn sqlite_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{
        CannotOpen, DatabaseBusy, DatabaseLocked, DiskFull, FileLockingProtocolFailed,
        NotADatabase, OutOfMemory, ReadOnly, SystemIoFailure,
    };
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            CannotOpen
                | DatabaseBusy
                | DatabaseLocked
                | DiskFull
                | FileLockingProtocolFailed
                | NotADatabase
                | OutOfMemory
                | ReadOnly
                | SystemIoFailure
        ),
        _ => false,
    }
}

/// PostgreSQL errors of the connection or the server (SQLSTATE classes 08 connection, 53
/// insufficient resources, 57 operator intervention, 58 system error, and errors with no
/// SQLSTATE: a closed connection, a timeout); data and constraint errors (classes 22, 23, …)
/// are about the records.
#[cfg(feature = "postgres")]
fn postgres_unavailable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        None => true,
        Some(code) => {
            let class = code.code().get(..2).unwrap_or("");
            matches!(class, "08" | "53" | "57" | "58")
        }
    }
}

/// Attaches a context to a SQLite error.
#[cfg(feature = "sqlite")]
pub(crate) trait SqliteContext<T> {
    /// Names what the store was doing when the error happened.
    fn ctx(self, context: &str) -> Result<T>;

    /// Like [`ctx`](SqliteContext::ctx), building the context only when there is an error.
    fn ctx_with(self, context: impl FnOnce() -> String) -> Result<T>;
}

#[cfg(feature = "sqlite")]
impl<T> SqliteContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|source| ScdError::Sqlite {
            context: context.to_owned(),
            source,
        })
    }

    fn ctx_with(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ScdError::Sqlite {
            context: context(),
            source,
        })
    }
}

/// Attaches a context to a PostgreSQL error.
#[cfg(feature = "postgres")]
pub(crate) trait PgContext<T> {
    /// Names what the store was doing when the error happened.
    fn pg(self, context: &str) -> Result<T>;

    /// Like [`pg`](PgContext::pg), building the context only when there is an error.
    fn pg_with(self, context: impl FnOnce() -> String) -> Result<T>;
}

#[cfg(feature = "postgres")]
impl<T> PgContext<T> for std::result::Result<T, tokio_postgres::Error> {
    fn pg(self, context: &str) -> Result<T> {
        self.map_err(|source| ScdError::Postgres {
            context: context.to_owned(),
            source,
        })
    }

    fn pg_with(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ScdError::Postgres {
            context: context(),
            source,
        })
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod unavailable_tests {
    use super::*;

    #[test]
    fn engine_failures_are_unavailable_record_errors_are_not() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(
            ScdError::Sqlite {
                context: "insert".into(),
                source: busy
            }
            .is_unavailable()
        );
        let constraint = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(
            !ScdError::Sqlite {
                context: "insert".into(),
                source: constraint
            }
            .is_unavailable()
        );
        assert!(ScdError::Pool("timed out".into()).is_unavailable());
        assert!(
            !ScdError::InvalidRecord {
                record: "measurement 0".into(),
                reason: "timestamp".into()
            }
            .is_unavailable()
        );
    }
}
