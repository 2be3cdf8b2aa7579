//! The embedded store: [`SqliteStore`].

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::session::{AuditEntry, Session, StoredOrder};

use super::PlatformStore;

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
    location: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::with(Connection::open(path)?, path.display().to_string())
    }

    /// A database in memory (tests).
    pub fn in_memory() -> Result<Self> {
        Self::with(Connection::open_in_memory()?, ":memory:".into())
    }

    fn with(connection: Connection, location: String) -> Result<Self> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
            location,
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
    super::read_back(&bodies)
}

impl PlatformStore for SqliteStore {
    fn name(&self) -> String {
        format!("sqlite:{}", self.location)
    }

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
