//! [`StoreError`]: the one error type of the store layer.
//!
//! Callers branch on the kind: `Unavailable` is "try again later / answer 503", `NotFound` and
//! `Conflict` are about the request, the rest are bugs or broken databases. Two questions cut
//! across the kinds: [`StoreError::is_data_error`] (the data written can never be stored, so
//! retrying is pointless) and [`StoreError::is_retryable`] (re-running the transaction may
//! succeed); no error answers yes to both.

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
    /// The data given can never be stored as it is (a NUL character in text, an id longer than
    /// [`MAX_ID_BYTES`]). Checked before it reaches the database, so SQLite and PostgreSQL
    /// refuse the same input the same way.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A group commit rolled its work back so that an interactive transaction could take
    /// SQLite's writer first (see `writer_gate`). The store runs that work again itself:
    /// no store method returns this.
    #[doc(hidden)]
    #[error("a group commit gave way to an interactive transaction")]
    GaveWay,
}

/// The longest id (wamid, phone-number id, media id, BSUID...) the store accepts, in bytes.
/// Meta's are under 100; ids are index keys, and PostgreSQL refuses an index entry over
/// about 2.7 kB, so anything near that is refused on both backends before it gets there.
pub const MAX_ID_BYTES: usize = 1024;

impl StoreError {
    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            what,
            key: key.to_string(),
        }
    }

    /// Whether re-running the whole transaction may succeed: PostgreSQL serialization failures
    /// and deadlocks, and unique violations raced by another process (the retry re-reads).
    /// The store retries these itself a few times; one that still comes out is transient too.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) if is_postgres(db.as_ref()) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01" | "23505"))
            }
            _ => false,
        }
    }

    /// Whether the error lies in the data being written, so the same write fails the same way
    /// every time (keep the input aside instead of retrying it), rather than in the database's
    /// state or reachability (which may recover: [`StoreError::Unavailable`], retryable
    /// conflicts).
    ///
    /// Data errors: [`StoreError::InvalidData`]; a value the driver cannot encode; PostgreSQL
    /// class 22 (data exception: a NUL in text, a value out of range), class 23 (integrity:
    /// not-null, foreign-key, check; but not a unique violation, which is another process's
    /// race) and class 54 (program limit: an index entry too large); SQLite TOOBIG,
    /// CONSTRAINT, MISMATCH and RANGE.
    pub fn is_data_error(&self) -> bool {
        let db = match self {
            Self::InvalidData(_) | Self::Database(sqlx::Error::Encode(_)) => return true,
            Self::Database(sqlx::Error::Database(db)) => db,
            _ => return false,
        };
        let code = db.code();
        let code = code.as_deref().unwrap_or("");
        if is_postgres(db.as_ref()) {
            code.starts_with("22")
                || code.starts_with("54")
                || (code.starts_with("23") && code != "23505")
        } else {
            // SQLite's extended result codes keep the primary code in the low byte.
            code.parse::<u32>()
                .is_ok_and(|c| matches!(c & 0xff, 18 | 19 | 20 | 25))
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Self::InvalidData(what.into())
    }
}

/// Whether a database error came from PostgreSQL (SQLSTATE codes) rather than SQLite
/// (numeric result codes): both can be all digits, so the code alone does not tell.
fn is_postgres(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_and_transient_errors_are_told_apart() {
        let invalid = StoreError::invalid("a NUL in text");
        assert!(invalid.is_data_error() && !invalid.is_retryable());
        let encode = StoreError::Database(sqlx::Error::Encode("too big".into()));
        assert!(encode.is_data_error() && !encode.is_retryable());
        for transient in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::other("connection reset")),
        ] {
            let e = StoreError::from(transient);
            assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
            assert!(!e.is_data_error() && !e.is_retryable(), "{e}");
        }
        let corrupt = StoreError::Corrupt("column x".into());
        assert!(!corrupt.is_data_error());
    }
}
