//! [`AnyStore`]: a store chosen at run time from a URL.

use crate::backend::{Backend, forward_backend};
use crate::error::{Result, ScdError};
#[cfg(feature = "postgres")]
use crate::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;

/// Either built-in backend, chosen from a URL: `sqlite://PATH` (a file path, relative or
/// absolute; feature `sqlite`) or `postgres://…` / `postgresql://…` (feature `postgres`).
/// Like every [`Backend`] it is a [`Store`](crate::Store).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded store.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// The PostgreSQL store.
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the store `url` names.
    pub async fn open(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ScdError::InvalidUrl {
                    url: url.into(),
                    reason: "sqlite:// needs a file path",
                });
            }
            #[cfg(feature = "sqlite")]
            return Ok(AnyStore::Sqlite(SqliteStore::open(path).await?));
            #[cfg(not(feature = "sqlite"))]
            return Err(ScdError::InvalidUrl {
                url: url.into(),
                reason: "this build has no embedded store (feature `sqlite`)",
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(AnyStore::Postgres(PostgresStore::connect(url).await?));
            #[cfg(not(feature = "postgres"))]
            return Err(ScdError::InvalidUrl {
                url: url.into(),
                reason: "this build has no PostgreSQL store (feature `postgres`)",
            });
        }
        Err(ScdError::InvalidUrl {
            url: url.into(),
            reason: "expected sqlite://PATH or postgres://…",
        })
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &dyn Backend {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => s,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s,
        }
    }
}

forward_backend!(AnyStore, self => self.backend());
