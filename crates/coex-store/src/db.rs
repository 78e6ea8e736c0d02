//! The dialect-neutral query layer: one code path runs on SQLite and PostgreSQL.
//!
//! Both backends accept `$1`-style parameters, `ON CONFLICT`, `RETURNING` and the same DML we
//! use, so every statement is written once. [`Conn`] wraps either connection type and binds
//! [`Arg`] values (typed, so PostgreSQL gets typed NULLs); [`Row`] decodes by column name.
//! Where the dialects truly differ (row locks, `NOTIFY`) the caller asks [`Conn::dialect`].
//!
//! Every bound value is checked before it is sent: no text with a NUL character (PostgreSQL
//! cannot hold one, SQLite can), no id over [`MAX_ID_BYTES`] (PostgreSQL cannot index one,
//! SQLite can). Refusing both on both backends, as [`StoreError::InvalidData`], makes them
//! behave alike and tells the caller the data, not the database, is at fault.

use std::str::FromStr;

use coex_core::model::{
    ArchiveId, ContactId, ConversationId, Direction, EventKind, EventSeq, MessageId, MessageStatus,
    MessagingTier, NumberKind, NumberState, Origin, SyncKind, SyncState, Timestamp, WorkspaceId,
};
use coex_core::{Bsuid, MediaId, PhoneNumber, PhoneNumberId, RequestId, WabaId, Wamid};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Postgres, Row as _, Sqlite};

use crate::StoreError;
use crate::error::MAX_ID_BYTES;
use crate::lite::{self, FromLite, LiteRow, LiteTx};
use crate::writer_gate::BulkTurn;

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// How a statement that updates many rows at once begins: `UPDATE OR FAIL` on SQLite.
    ///
    /// Inside a transaction SQLite gives a statement that may change several rows and may
    /// fail half-way (a `NOT NULL` column it sets is enough) a statement journal, and copies
    /// every page the statement touches into it before changing the page, so that the
    /// failure can undo the statement alone. The store never needs that: a failed statement
    /// fails its whole transaction, which rolls back. `OR FAIL` keeps what the statement
    /// changed before the failure, so no journal is kept (in the send benchmark the
    /// journal's copies were 6% of the process's CPU, most of it on the one writer). Only
    /// for `UPDATE`s that change no foreign-key column: a foreign-key check journals
    /// regardless.
    pub(crate) fn update_many(self) -> &'static str {
        match self {
            Self::Sqlite => "UPDATE OR FAIL",
            Self::Postgres => "UPDATE",
        }
    }
}

/// One bind value. `None` inside a variant is a NULL of that type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    /// Text that is an identifier (an index key): bound as text, at most [`MAX_ID_BYTES`].
    Id(Option<&'a str>),
    Bool(Option<bool>),
    Blob(&'a [u8]),
}

/// Values that bind as one [`Arg`].
pub(crate) trait ToArg {
    /// The NULL of this value's SQL type (for `Option::None`).
    const NULL: Arg<'static>;
    fn to_arg(&self) -> Arg<'_>;
}

impl<T: ToArg + ?Sized> ToArg for &T {
    const NULL: Arg<'static> = T::NULL;
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}

impl<T: ToArg> ToArg for Option<T> {
    const NULL: Arg<'static> = T::NULL;
    fn to_arg(&self) -> Arg<'_> {
        match self {
            Some(v) => v.to_arg(),
            None => T::NULL,
        }
    }
}

macro_rules! int_arg {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {$(
        impl ToArg for $t {
            const NULL: Arg<'static> = Arg::Int(None);
            fn to_arg(&self) -> Arg<'_> {
                let $v = *self;
                Arg::Int(Some($e))
            }
        }
    )+};
}

int_arg! {
    i64 => |v| v,
    u8 => |v| i64::from(v),
    u32 => |v| i64::from(v),
    Timestamp => |v| v.as_millis(),
    WorkspaceId => |v| v.get(),
    ContactId => |v| v.get(),
    ConversationId => |v| v.get(),
    MessageId => |v| v.get(),
    ArchiveId => |v| v.get(),
    EventSeq => |v| v.get(),
}

impl ToArg for u64 {
    const NULL: Arg<'static> = Arg::Int(None);
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(Some(i64::try_from(*self).unwrap_or(i64::MAX)))
    }
}

impl ToArg for bool {
    const NULL: Arg<'static> = Arg::Bool(None);
    fn to_arg(&self) -> Arg<'_> {
        Arg::Bool(Some(*self))
    }
}

impl ToArg for str {
    const NULL: Arg<'static> = Arg::Text(None);
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(Some(self))
    }
}

impl ToArg for String {
    const NULL: Arg<'static> = Arg::Text(None);
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(Some(self))
    }
}

impl ToArg for [u8] {
    const NULL: Arg<'static> = Arg::Blob(&[]);
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToArg for Arg<'_> {
    const NULL: Arg<'static> = Arg::Text(None);
    fn to_arg(&self) -> Arg<'_> {
        *self
    }
}

macro_rules! id_arg {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {$(
        impl ToArg for $t {
            const NULL: Arg<'static> = Arg::Id(None);
            fn to_arg(&self) -> Arg<'_> {
                let $v = self;
                Arg::Id(Some($e))
            }
        }
    )+};
}

id_arg! {
    Wamid => |v| v.as_str(),
    PhoneNumberId => |v| v.as_str(),
    WabaId => |v| v.as_str(),
    MediaId => |v| v.as_str(),
    RequestId => |v| v.as_str(),
    Bsuid => |v| v.as_str(),
    PhoneNumber => |v| v.digits(),
}

macro_rules! text_arg {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {$(
        impl ToArg for $t {
            const NULL: Arg<'static> = Arg::Text(None);
            fn to_arg(&self) -> Arg<'_> {
                let $v = self;
                Arg::Text(Some($e))
            }
        }
    )+};
}

text_arg! {
    MessageStatus => |v| v.as_str(),
    Direction => |v| v.as_str(),
    Origin => |v| v.as_str(),
    NumberKind => |v| v.as_str(),
    MessagingTier => |v| v.as_str(),
    NumberState => |v| v.as_str(),
    SyncKind => |v| v.as_str(),
    SyncState => |v| v.as_str(),
    EventKind => |v| v.as_str(),
}

/// `args![a, b, c]`: a slice of bind values, in `$1, $2, ...` order.
macro_rules! args {
    ($($e:expr),* $(,)?) => {
        &[$($crate::db::ToArg::to_arg(&$e)),*][..]
    };
}
pub(crate) use args;

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match *a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) | Arg::Id(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
            };
        }
        q
    }};
}

/// A connection (plain, pooled or inside a transaction) of either backend.
pub(crate) enum Conn<'c> {
    /// A SQLite reader (sqlx's pool).
    Sqlite(&'c mut SqliteConnection),
    /// SQLite's writer, inside its transaction (see [`crate::lite`]).
    Lite(&'c mut rusqlite::Connection),
    Pg(&'c mut PgConnection),
}

/// Refuses values no backend should get (see the module doc), naming the first one.
fn check(args: &[Arg<'_>]) -> Result<(), StoreError> {
    for (i, a) in args.iter().enumerate() {
        let (Arg::Text(Some(v)) | Arg::Id(Some(v))) = a else {
            continue;
        };
        if v.contains('\0') {
            return Err(StoreError::invalid(format!(
                "parameter {} contains a NUL character",
                i + 1
            )));
        }
        if matches!(a, Arg::Id(_)) && v.len() > MAX_ID_BYTES {
            return Err(StoreError::invalid(format!(
                "an id of {} bytes (parameter {}) is longer than {MAX_ID_BYTES}",
                v.len(),
                i + 1
            )));
        }
    }
    Ok(())
}

impl Conn<'_> {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) | Self::Lite(_) => Dialect::Sqlite,
            Self::Pg(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        check(args)?;
        Ok(match self {
            Self::Sqlite(c) => bind_all!(sqlx::query::<Sqlite>(sql), args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Self::Lite(c) => lite::run(c, sql, args, |_| true)?,
            Self::Pg(c) => bind_all!(sqlx::query::<Postgres>(sql), args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn opt(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, StoreError> {
        check(args)?;
        Ok(match self {
            Self::Sqlite(c) => bind_all!(sqlx::query::<Sqlite>(sql), args)
                .fetch_optional(&mut **c)
                .await?
                .map(Row::Sqlite),
            Self::Lite(c) => lite::first(c, sql, args)?.map(Row::Lite),
            Self::Pg(c) => bind_all!(sqlx::query::<Postgres>(sql), args)
                .fetch_optional(&mut **c)
                .await?
                .map(Row::Pg),
        })
    }

    pub(crate) async fn one(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Row, StoreError> {
        check(args)?;
        Ok(match self {
            Self::Lite(c) => Row::Lite(
                lite::first(c, sql, args)?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))?,
            ),
            Self::Sqlite(c) => Row::Sqlite(
                bind_all!(sqlx::query::<Sqlite>(sql), args)
                    .fetch_one(&mut **c)
                    .await?,
            ),
            Self::Pg(c) => Row::Pg(
                bind_all!(sqlx::query::<Postgres>(sql), args)
                    .fetch_one(&mut **c)
                    .await?,
            ),
        })
    }

    pub(crate) async fn all(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Row>, StoreError> {
        check(args)?;
        Ok(match self {
            Self::Sqlite(c) => bind_all!(sqlx::query::<Sqlite>(sql), args)
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Self::Lite(c) => lite::all(c, sql, args)?
                .into_iter()
                .map(Row::Lite)
                .collect(),
            Self::Pg(c) => bind_all!(sqlx::query::<Postgres>(sql), args)
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Pg)
                .collect(),
        })
    }
}

/// A transaction of either backend; dropped without [`Tx::commit`] it rolls back.
pub(crate) enum Tx {
    /// With a group commit's turn at the writer, held until the transaction ends.
    Sqlite(LiteTx, Option<BulkTurn>),
    Pg(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Result<Conn<'_>, StoreError> {
        Ok(match self {
            Self::Sqlite(t, _) => Conn::Lite(t.conn()?),
            Self::Pg(t) => Conn::Pg(t),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(t, _turn) => t.commit().await?,
            Self::Pg(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// A pooled connection of either backend, for reads.
pub(crate) enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Pg(PoolConnection<Postgres>),
}

impl Pooled {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(c) => Conn::Sqlite(c),
            Self::Pg(c) => Conn::Pg(c),
        }
    }
}

/// One result row of either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Lite(LiteRow),
    Pg(PgRow),
}

/// Types both backends decode.
pub(crate) trait Decodable:
    FromLite
    + for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
{
}

impl<T> Decodable for T where
    T: FromLite
        + for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

impl Row {
    pub(crate) fn get<T: Decodable>(&self, col: &str) -> Result<T, StoreError> {
        let r = match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Lite(r) => return r.get(col),
            Self::Pg(r) => r.try_get(col),
        };
        r.map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
    }

    pub(crate) fn i64(&self, col: &str) -> Result<i64, StoreError> {
        self.get(col)
    }

    pub(crate) fn opt_i64(&self, col: &str) -> Result<Option<i64>, StoreError> {
        self.get(col)
    }

    pub(crate) fn str(&self, col: &str) -> Result<String, StoreError> {
        self.get(col)
    }

    pub(crate) fn opt_str(&self, col: &str) -> Result<Option<String>, StoreError> {
        self.get(col)
    }

    pub(crate) fn bool(&self, col: &str) -> Result<bool, StoreError> {
        self.get(col)
    }

    pub(crate) fn ts(&self, col: &str) -> Result<Timestamp, StoreError> {
        self.i64(col).map(Timestamp::from_millis)
    }

    pub(crate) fn opt_ts(&self, col: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.opt_i64(col)?.map(Timestamp::from_millis))
    }

    /// A non-null text column parsed into a domain type.
    pub(crate) fn parse<T>(&self, col: &str) -> Result<T, StoreError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let s = self.str(col)?;
        s.parse()
            .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
    }

    /// A nullable text column parsed into a domain type.
    pub(crate) fn opt_parse<T>(&self, col: &str) -> Result<Option<T>, StoreError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.opt_str(col)? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}"))),
        }
    }
}

/// Splits `n` rows into runs of at most `max` rows, each a power of two, so a multi-row
/// statement takes only a handful of shapes (and the statement cache stays small).
pub(crate) fn row_runs(n: usize, max: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut size = max.next_power_of_two();
    if size > max {
        size /= 2;
    }
    while start < n {
        while size > n - start {
            size /= 2;
        }
        runs.push((start, size));
        start += size;
    }
    runs
}

/// Splits `n` keys to look up into runs of at most `max` (a power of two) as
/// `(start, len, shape)`: each run is one statement whose `VALUES` list has `shape` rows, the
/// power of two at or above `len`, filled by repeating the run's last key ([`padded`]). A
/// lookup finds the same rows with a key repeated, so reads need one statement per run where
/// [`row_runs`] (for writes, which must not repeat a row) takes up to one per bit of `n`.
pub(crate) fn lookup_runs(n: usize, max: usize) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < n {
        let len = (n - start).min(max);
        runs.push((start, len, len.next_power_of_two()));
        start += len;
    }
    runs
}

/// The keys of one [`lookup_runs`] run, the last repeated up to `shape`.
pub(crate) fn padded<T>(run: &[T], shape: usize) -> impl Iterator<Item = &T> {
    let fill = run
        .last()
        .into_iter()
        .cycle()
        .take(shape.saturating_sub(run.len()));
    run.iter().chain(fill)
}

/// The `VALUES` list of a multi-row statement: `($1, $2), ($3, $4)` on PostgreSQL, and
/// `(?, ?), (?, ?)` on SQLite, where numbered parameters cost a linear name lookup each when
/// bound (quadratic for a statement with hundreds of them). Such a statement's other
/// parameters are written with [`param`].
pub(crate) fn values_list(dialect: Dialect, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 1..=cols {
            if c > 1 {
                sql.push_str(", ");
            }
            match dialect {
                Dialect::Sqlite => sql.push('?'),
                Dialect::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * cols + c).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// The placeholder of parameter `n` (1-based) in a statement that also has a [`values_list`]:
/// `$n` on PostgreSQL and `?` on SQLite, whose `?` takes the next number in the text's order.
/// So on SQLite each parameter appears once in the text, and `n` follows the order of
/// appearance there; parameters are bound in the order of `n`.
pub(crate) fn param(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_runs_cover_everything_in_few_statements_of_few_shapes() {
        assert_eq!(lookup_runs(0, 128), vec![]);
        assert_eq!(lookup_runs(1, 128), vec![(0, 1, 1)]);
        assert_eq!(lookup_runs(100, 128), vec![(0, 100, 128)]);
        assert_eq!(
            lookup_runs(300, 128),
            vec![(0, 128, 128), (128, 128, 128), (256, 44, 64)]
        );
        let keys = [1, 2, 3];
        assert_eq!(
            padded(&keys, 4).copied().collect::<Vec<_>>(),
            vec![1, 2, 3, 3]
        );
        assert_eq!(padded(&keys, 3).copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn runs_are_powers_of_two_covering_everything() {
        assert_eq!(row_runs(0, 64), vec![]);
        assert_eq!(row_runs(100, 64), vec![(0, 64), (64, 32), (96, 4)]);
        assert_eq!(row_runs(7, 64), vec![(0, 4), (4, 2), (6, 1)]);
        assert_eq!(
            row_runs(130, 50),
            vec![(0, 32), (32, 32), (64, 32), (96, 32), (128, 2)]
        );
    }

    #[test]
    fn nul_in_text_and_overlong_ids_are_refused_before_the_database() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(check(&[Arg::Text(Some("ok")), Arg::Id(Some("wamid.1"))]).is_ok());
        assert!(
            check(&[Arg::Text(Some(&long))]).is_ok(),
            "long text is fine"
        );
        for bad in [
            vec![Arg::Int(Some(1)), Arg::Text(Some("a\0b"))],
            vec![Arg::Id(Some("a\0b"))],
            vec![Arg::Id(Some(&long))],
        ] {
            let e = check(&bad).unwrap_err();
            assert!(e.is_data_error(), "{e}");
        }
    }

    #[test]
    fn values_lists_number_parameters() {
        assert_eq!(values_list(Dialect::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(values_list(Dialect::Postgres, 1, 3), "($1, $2, $3)");
        assert_eq!(values_list(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }
}
