//! [`StoreError`]: the one error type of the store layer.
//!
//! Callers branch on the kind: `Unavailable` is "try again later / answer 503", `NotFound` and
//! `Conflict` are about the request, the rest are bugs or broken databases.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{what} {key} not found")]
    NotFound { what: &'static str, key: String },
    /// The request contradicts what is stored (e.g. a number registered under another WABA).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database can't be reached or can't keep up (pool timeout, connection lost, busy).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database URL or options are not usable.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A stored value does not parse back into its domain type.
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            what,
            key: key.to_string(),
        }
    }

    /// Whether re-running the whole transaction may succeed: PostgreSQL serialization failures
    /// and deadlocks, and unique violations raced by another process (the retry re-reads).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01" | "23505"))
            }
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            sqlx::Error::Configuration(c) => Self::Config(c.to_string()),
            sqlx::Error::Database(db) => {
                let code = db.code();
                let code = code.as_deref().unwrap_or("");
                // SQLite: 5 busy, 6 locked (after busy_timeout). PostgreSQL: class 08
                // connection exceptions, 53 insufficient resources, 57P0x shutdown.
                let unavailable = matches!(code, "5" | "6" | "517" | "262")
                    || code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P0");
                if unavailable {
                    Self::Unavailable(e)
                } else {
                    Self::Database(e)
                }
            }
            _ => Self::Database(e),
        }
    }
}
