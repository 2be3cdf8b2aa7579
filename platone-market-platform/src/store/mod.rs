//! Where the platform keeps everything: the [`PlatformStore`] trait, its embedded default
//! [`SqliteStore`], and [`PostgresStore`] (feature `postgres`) for deployments; [`open_store`]
//! picks one from a database URL.
//!
//! Both keep the same four tables, prefixed `mp_` so that they may share a database with
//! the SCD's: sessions, orders, outcomes and the audit trail, each record as the JSON the
//! API serves.

#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::session::{AuditEntry, Session, StoredOrder};

/// The platform's storage.
///
/// The contract an implementer keeps:
/// - every method is durable when it returns `Ok` (a restart reads back what it wrote);
/// - [`add_orders`](Self::add_orders) stores all the given orders or none; when it cannot
///   tell which (the connection dropped during the commit), it returns an error and the
///   platform reads the session's orders back before it takes the next ones;
/// - [`sessions`](Self::sessions) returns every session in creation order, and
///   [`orders`](Self::orders) a session's orders by `sequence`;
/// - an engine that cannot be reached gives [`PlatformError::StoreUnavailable`] (the API
///   answers 503, the clock tries again at its next tick), other failures
///   [`PlatformError::Store`];
/// - methods may block (for one round trip to the engine) and are called from blocking
///   threads and from the executor's threads alike: they must not start or enter an async
///   runtime of the caller's (`Handle::block_on` panics on an executor's thread).
pub trait PlatformStore: Send + Sync {
    /// What the store is, for `/health` and the logs (`sqlite:PATH`,
    /// `postgres://HOST:PORT/DB`; never a password).
    fn name(&self) -> String;
    /// Whether the engine answers now; `Ok` for an embedded store.
    fn check(&self) -> Result<()> {
        Ok(())
    }
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

/// The records of the JSON bodies a store read back.
fn read_back<T: serde::de::DeserializeOwned>(bodies: &[String]) -> Result<Vec<T>> {
    bodies
        .iter()
        .map(|b| Ok(serde_json::from_str(b)?))
        .collect()
}

/// Opens the store `database` names: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or
/// `postgresql://`, any connection string libpq accepts; feature `postgres`),
/// `sqlite://PATH`, or a bare path of a SQLite file.
///
/// ```
/// # fn main() -> Result<(), platone_market_platform::PlatformError> {
/// let dir = tempfile::tempdir().unwrap();
/// let url = format!("sqlite://{}", dir.path().join("market.db").display());
/// let store = platone_market_platform::open_store(&url)?;
/// assert!(store.sessions()?.is_empty());
/// assert!(platone_market_platform::open_store("mysql://db/market").is_err());
/// # Ok(()) }
/// ```
pub fn open_store(database: &str) -> Result<Arc<dyn PlatformStore>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(PostgresStore::connect(database)?));
        #[cfg(not(feature = "postgres"))]
        return Err(PlatformError::invalid(
            "database",
            "PostgreSQL needs platone-market-platform's feature `postgres`",
        ));
    }
    let path = match database.split_once("://") {
        Some(("sqlite", path)) => path,
        Some((scheme, _)) => {
            return Err(PlatformError::invalid(
                "database",
                format!(
                    "{scheme}:// is not a database the platform keeps its tables in (postgres:// or sqlite://)"
                ),
            ));
        }
        None => database,
    };
    if path.is_empty() {
        return Err(PlatformError::invalid("database", "no SQLite file named"));
    }
    Ok(Arc::new(SqliteStore::open(Path::new(path))?))
}
