//! The store for deployments: [`PostgresStore`].

use std::future::Future;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::session::{AuditEntry, Session, StoredOrder};

use super::PlatformStore;

/// Serialises schema creation between platforms starting on one database at once.
const DDL_LOCK: i64 = 0x706c_6174_6d70; // "platmp"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mp_sessions (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mp_orders (
    session TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (session, sequence)
);
CREATE TABLE IF NOT EXISTS mp_outcomes (
    session TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mp_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mp_audit_session ON mp_audit (session, id);
";

/// The most connections the store opens.
const POOL_SIZE: usize = 8;
/// How long a call waits for a connection (opening one included) before it reports the
/// database unavailable.
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The platform's tables in PostgreSQL (tokio-postgres with a deadpool pool), beside the
/// SCD's when both use one database.
///
/// The store runs its connections on a small runtime of its own, so that its blocking methods
/// may be called from any thread, the caller's executor threads included. A database that
/// cannot be reached makes calls fail with [`PlatformError::StoreUnavailable`] after at most
/// five seconds, and the store reconnects by itself once it is back. The connection is not
/// encrypted: keep the database on the host or a private network (as the SCD's store).
///
/// ```no_run
/// use platone_market_platform::{PlatformStore, PostgresStore};
/// # fn main() -> Result<(), platone_market_platform::PlatformError> {
/// let store = PostgresStore::connect("postgres://market@127.0.0.1:5432/platone")?;
/// println!("{} holds {} sessions", store.name(), store.sessions()?.len());
/// # Ok(()) }
/// ```
pub struct PostgresStore {
    pool: Pool,
    name: String,
    /// `None` once dropped (the runtime is shut down in the background, so that dropping
    /// the store on an executor's thread does not block it).
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A failure of PostgreSQL: the database's own refusals are [`PlatformError::Store`], the
/// rest (connection refused, dropped, timed out) [`PlatformError::StoreUnavailable`].
fn pg(doing: &str, e: tokio_postgres::Error) -> PlatformError {
    match e.as_db_error() {
        Some(db) => PlatformError::Store(format!("{doing}: {}", db.message())),
        None => PlatformError::StoreUnavailable(format!("{doing}: {e}")),
    }
}

fn pool_error(e: PoolError) -> PlatformError {
    match e {
        PoolError::Backend(e) => pg("connecting", e),
        other => PlatformError::StoreUnavailable(format!("no connection: {other}")),
    }
}

/// Runs `work` on `runtime` and waits for it on this thread, which may be any thread.
fn run_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = answer.send(work.await);
    });
    answered
        .recv()
        .map_err(|_| PlatformError::Store("the store's task stopped without an answer".into()))?
}

/// `postgres://HOST:PORT/DB` of a configuration: what `/health` shows, without a password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{host}:{port}/{db}")
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, any
    /// connection string libpq accepts) and creates the platform's tables if needed. Blocks;
    /// may be called from any thread.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            PlatformError::invalid(
                "database",
                format!("not a PostgreSQL connection string: {e}"),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECTION_TIMEOUT);
        }
        let name = describe(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("platone-market-store")
            .enable_all()
            .build()
            .map_err(|e| PlatformError::Store(format!("cannot start the store's runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECTION_TIMEOUT))
            .create_timeout(Some(CONNECTION_TIMEOUT))
            .build()
            .map_err(|e| PlatformError::Store(format!("the connection pool: {e}")))?;
        let creating = pool.clone();
        run_on(&runtime, async move {
            let mut client = creating.get().await.map_err(pool_error)?;
            let transaction = client
                .transaction()
                .await
                .map_err(|e| pg("creating the tables", e))?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
                .await
                .map_err(|e| pg("locking for the tables' creation", e))?;
            transaction
                .batch_execute(SCHEMA)
                .await
                .map_err(|e| pg("creating the tables", e))?;
            transaction
                .commit()
                .await
                .map_err(|e| pg("creating the tables", e))
        })?;
        Ok(PostgresStore {
            pool,
            name,
            runtime: Some(runtime),
        })
    }

    /// Runs `work` with a pooled connection on the store's runtime.
    fn with<T, F>(
        &self,
        work: impl FnOnce(deadpool_postgres::Object) -> F + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| PlatformError::StoreUnavailable("the store is closed".into()))?;
        let pool = self.pool.clone();
        run_on(runtime, async move {
            let client = pool.get().await.map_err(pool_error)?;
            work(client).await
        })
    }

    /// Executes one statement.
    fn execute(
        &self,
        doing: &'static str,
        sql: &'static str,
        parameters: Vec<String>,
    ) -> Result<u64> {
        self.with(move |client| async move {
            let parameters: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = parameters
                .iter()
                .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            client
                .execute(sql, &parameters)
                .await
                .map_err(|e| pg(doing, e))
        })
    }

    /// The JSON bodies `sql` selects (one column) with one text parameter, read back.
    fn read_bodies<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        doing: &'static str,
        sql: &'static str,
        parameter: Option<String>,
    ) -> Result<Vec<T>> {
        let bodies: Vec<String> = self.with(move |client| async move {
            let rows = match &parameter {
                Some(p) => client.query(sql, &[p]).await,
                None => client.query(sql, &[]).await,
            }
            .map_err(|e| pg(doing, e))?;
            rows.iter()
                .map(|row| row.try_get::<_, String>(0).map_err(|e| pg(doing, e)))
                .collect()
        })?;
        super::read_back(&bodies)
    }
}

impl PlatformStore for PostgresStore {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Result<()> {
        self.with(|client| async move {
            client
                .simple_query("SELECT 1")
                .await
                .map(drop)
                .map_err(|e| pg("checking the database", e))
        })
    }

    fn create_session(&self, session: &Session) -> Result<()> {
        let body = serde_json::to_string(session)?;
        let id = session.id.clone();
        let created = session.created_at.timestamp_micros();
        let inserted = self.with(move |client| async move {
            client
                .execute(
                    "INSERT INTO mp_sessions (id, created, body) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO NOTHING",
                    &[&id, &created, &body],
                )
                .await
                .map_err(|e| pg("storing the session", e))
        })?;
        if inserted == 0 {
            return Err(PlatformError::conflict(&session.id, "the session exists"));
        }
        Ok(())
    }

    fn update_session(&self, session: &Session) -> Result<()> {
        self.execute(
            "updating the session",
            "UPDATE mp_sessions SET body = $2 WHERE id = $1",
            vec![session.id.clone(), serde_json::to_string(session)?],
        )
        .map(drop)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        self.read_bodies(
            "reading the sessions",
            "SELECT body FROM mp_sessions ORDER BY created, id",
            None,
        )
    }

    fn add_orders(&self, session: &str, orders: &[StoredOrder]) -> Result<()> {
        let session = session.to_owned();
        let sequences = orders
            .iter()
            .map(|o| {
                i64::try_from(o.sequence)
                    .map_err(|_| PlatformError::Store(format!("sequence {} too large", o.sequence)))
            })
            .collect::<Result<Vec<i64>>>()?;
        let bodies = orders
            .iter()
            .map(serde_json::to_string)
            .collect::<serde_json::Result<Vec<String>>>()?;
        // One statement: all the orders or none, in one round trip however many there are.
        self.with(move |client| async move {
            client
                .execute(
                    "INSERT INTO mp_orders (session, sequence, body)
                     SELECT $1, s, b FROM unnest($2::BIGINT[], $3::TEXT[]) AS o (s, b)",
                    &[&session, &sequences, &bodies],
                )
                .await
                .map(drop)
                .map_err(|e| pg("storing the orders", e))
        })
    }

    fn orders(&self, session: &str) -> Result<Vec<StoredOrder>> {
        self.read_bodies(
            "reading the orders",
            "SELECT body FROM mp_orders WHERE session = $1 ORDER BY sequence",
            Some(session.to_owned()),
        )
    }

    fn put_outcome(&self, session: &str, outcome: &Outcome) -> Result<()> {
        self.execute(
            "storing the outcome",
            "INSERT INTO mp_outcomes (session, body) VALUES ($1, $2)
             ON CONFLICT (session) DO UPDATE SET body = excluded.body",
            vec![session.to_owned(), serde_json::to_string(outcome)?],
        )
        .map(drop)
    }

    fn outcome(&self, session: &str) -> Result<Option<Outcome>> {
        let mut outcomes = self.read_bodies(
            "reading the outcome",
            "SELECT body FROM mp_outcomes WHERE session = $1",
            Some(session.to_owned()),
        )?;
        Ok(outcomes.pop())
    }

    fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.execute(
            "appending to the audit trail",
            "INSERT INTO mp_audit (session, body) VALUES ($1, $2)",
            vec![entry.session.clone(), serde_json::to_string(entry)?],
        )
        .map(drop)
    }

    fn audit_trail(&self, session: &str) -> Result<Vec<AuditEntry>> {
        self.read_bodies(
            "reading the audit trail",
            "SELECT body FROM mp_audit WHERE session = $1 ORDER BY id",
            Some(session.to_owned()),
        )
    }
}
