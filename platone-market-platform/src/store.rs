//! Where the platform keeps everything: the [`PlatformStore`] trait and its embedded
//! default, [`SqliteStore`].

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::session::{AuditEntry, Session, StoredOrder};

/// The platform's storage.
///
/// The contract an implementer keeps:
/// - every method is durable when it returns `Ok` (a restart reads back what it wrote);
/// - [`add_orders`](Self::add_orders) stores all the given orders or none;
/// - [`sessions`](Self::sessions) returns every session in creation order, and
///   [`orders`](Self::orders) a session's orders by `sequence`;
/// - methods are called from blocking contexts (the platform never calls them on an async
///   executor's thread) and may block.
pub trait PlatformStore: Send + Sync {
    /// Records a new session; an existing id is a [`PlatformError::Conflict`].
    fn create_session(&self, session: &Session) -> Result<()>;
    /// Replaces a session's record (its status changed).
    fn update_session(&self, session: &Session) -> Result<()>;
    /// Every session.
    fn sessions(&self) -> Result<Vec<Session>>;
    /// Stores orders of a session, all or none.
    fn add_orders(&self, session: &str, orders: &[StoredOrder]) -> Result<()>;
    /// A session's orders.
    fn orders(&self, session: &str) -> Result<Vec<StoredOrder>>;
    /// Stores (or replaces) a session's outcome.
    fn put_outcome(&self, session: &str, outcome: &Outcome) -> Result<()>;
    /// A session's outcome, once there is one.
    fn outcome(&self, session: &str) -> Result<Option<Outcome>>;
    /// Appends to the audit trail.
    fn audit(&self, entry: &AuditEntry) -> Result<()>;
    /// A session's audit trail, oldest first.
    fn audit_trail(&self, session: &str) -> Result<Vec<AuditEntry>>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mp_sessions (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mp_orders (
    session TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (session, sequence)
);
CREATE TABLE IF NOT EXISTS mp_outcomes (
    session TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mp_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mp_audit_session ON mp_audit (session, id);
";

/// The embedded store: one SQLite file (WAL, `synchronous = FULL`), its tables prefixed `mp_`
/// so they may share a database with the SCD's.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::with(Connection::open(path)?)
    }

    /// A database in memory (tests).
    pub fn in_memory() -> Result<Self> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(connection: Connection) -> Result<Self> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.connection
            .lock()
            .map_err(|_| PlatformError::Store("the store's lock is poisoned".into()))
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The JSON bodies `sql` selects (one column) with `parameters`, read back.
fn read_bodies<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let bodies = statement
        .query_map(parameters, |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    bodies
        .iter()
        .map(|b| Ok(serde_json::from_str(b)?))
        .collect()
}

impl PlatformStore for SqliteStore {
    fn create_session(&self, session: &Session) -> Result<()> {
        let connection = self.lock()?;
        let inserted = connection.execute(
            "INSERT OR IGNORE INTO mp_sessions (id, created, body) VALUES (?1, ?2, ?3)",
            params![
                session.id,
                micros(session.created_at),
                serde_json::to_string(session)?
            ],
        )?;
        if inserted == 0 {
            return Err(PlatformError::conflict(&session.id, "the session exists"));
        }
        Ok(())
    }

    fn update_session(&self, session: &Session) -> Result<()> {
        self.lock()?.execute(
            "UPDATE mp_sessions SET body = ?2 WHERE id = ?1",
            params![session.id, serde_json::to_string(session)?],
        )?;
        Ok(())
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        read_bodies(
            &*self.lock()?,
            "SELECT body FROM mp_sessions ORDER BY created, id",
            [],
        )
    }

    fn add_orders(&self, session: &str, orders: &[StoredOrder]) -> Result<()> {
        let mut connection = self.lock()?;
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO mp_orders (session, sequence, body) VALUES (?1, ?2, ?3)",
            )?;
            for order in orders {
                insert.execute(params![
                    session,
                    order.sequence as i64,
                    serde_json::to_string(order)?
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    fn orders(&self, session: &str) -> Result<Vec<StoredOrder>> {
        read_bodies(
            &*self.lock()?,
            "SELECT body FROM mp_orders WHERE session = ?1 ORDER BY sequence",
            [session],
        )
    }

    fn put_outcome(&self, session: &str, outcome: &Outcome) -> Result<()> {
        self.lock()?.execute(
            "INSERT INTO mp_outcomes (session, body) VALUES (?1, ?2)
             ON CONFLICT (session) DO UPDATE SET body = excluded.body",
            params![session, serde_json::to_string(outcome)?],
        )?;
        Ok(())
    }

    fn outcome(&self, session: &str) -> Result<Option<Outcome>> {
        let body: Option<String> = self
            .lock()?
            .query_row(
                "SELECT body FROM mp_outcomes WHERE session = ?1",
                [session],
                |row| row.get(0),
            )
            .optional()?;
        body.map(|b| Ok(serde_json::from_str(&b)?)).transpose()
    }

    fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.lock()?.execute(
            "INSERT INTO mp_audit (session, body) VALUES (?1, ?2)",
            params![entry.session, serde_json::to_string(entry)?],
        )?;
        Ok(())
    }

    fn audit_trail(&self, session: &str) -> Result<Vec<AuditEntry>> {
        read_bodies(
            &*self.lock()?,
            "SELECT body FROM mp_audit WHERE session = ?1 ORDER BY id",
            [session],
        )
    }
}
