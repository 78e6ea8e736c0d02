//! SQLite's one writer connection, driven in place with rusqlite.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands it every statement
//! through a channel, and every result back: two thread hand-offs per statement. The store's
//! write transactions run many statements one after the other (an ingest batch about 40, a
//! send engine's results commit a few per piece), on the single connection every write in the
//! process queues for, and on a loaded machine those hand-offs took as much of the writer's
//! time as the SQL itself (measured in sessions 8-11: gaps of ~60 µs between statements that
//! run in a few). So the writer is a rusqlite connection behind an async mutex, and the task
//! holding it runs its statements directly: each is microseconds of CPU on that task's thread.
//! Only `COMMIT`, which waits for the disk's fsync (milliseconds), goes to tokio's blocking
//! pool, so no runtime worker sleeps in it. The readers stay on sqlx's pool: reads are short
//! and concurrent, and nothing queues behind them.
//!
//! A commit is durable when it returns, as with `synchronous=FULL`, but the fsync that makes
//! it so runs after the writer is handed on: the connection runs with `synchronous=NORMAL`
//! (a commit writes its WAL frames and does not sync them), and [`LiteTx::commit`] syncs the
//! WAL file itself once the connection is released ([`WalSync`]), before it answers. Under
//! a busy disk an fsync takes milliseconds (at 3,500 sends/s, p99 6 ms and p99.9 19 ms, against
//! 0.3 ms for the rest of a commit), and with the fsync inside the commit every transaction
//! queued for the writer (an API enqueue someone waits on) waited for it too; now the next
//! transaction runs while the last one's frames go to the disk, and fsyncs of consecutive
//! commits overlap. The WAL is a log: a sync covers every frame written before it, and SQLite
//! still syncs the WAL before a checkpoint copies it and the database after, so the order of
//! commits on disk is the order they were made. What changes: another connection may read a
//! commit in the few milliseconds before its sync ends, and after a power cut (not a crash of
//! the process) find it gone; whoever made the commit has not been told yet, so nothing this
//! process did because of it (an answer, a request to Meta) happened before it was durable.
//!
//! The connection is opened with the settings sqlx gives the readers (WAL, foreign keys, busy
//! timeout, an in-memory statement journal), a large page cache and `synchronous=NORMAL` (see
//! above), and binds parameters the way sqlx does (`$N` by number, `?` in order), so every
//! statement of the store runs unchanged on either driver.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StoreError;
use crate::db::Arg;
use crate::write_timing::{WriteTiming, WriteTimings};

/// Settings of the writer connection.
#[derive(Debug, Clone)]
pub(crate) struct WriterOptions {
    /// How long another process's write lock is waited for (`busy_timeout`).
    pub busy_timeout: Duration,
    /// How long a transaction waits for the connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
    /// Prepared statements kept.
    pub statement_cache: usize,
    /// `PRAGMA cache_size` (negative: KiB).
    pub cache_size: i64,
    /// `PRAGMA wal_autocheckpoint` (pages).
    pub autocheckpoint_pages: i64,
}

/// The writer connection, shared by every handle of the store. `None` once closed.
#[derive(Clone)]
pub(crate) struct Writer {
    // Why an async mutex: a write transaction holds the connection across awaits (its caller's
    // work between statements, the commit on the blocking pool), and every writer of the
    // process queues here, first come first served, as it did for sqlx's one-connection pool.
    conn: Arc<Mutex<Option<Connection>>>,
    wal: Arc<WalSync>,
    acquire_timeout: Duration,
    busy_timeout: Duration,
    timings: Arc<WriteTimings>,
}

/// When and for what kind of work a write transaction asked for the writer (for
/// [`WriteTimings`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    pub at: Instant,
    pub bulk: bool,
}

impl Asked {
    pub(crate) fn now(bulk: bool) -> Self {
        Self {
            at: Instant::now(),
            bulk,
        }
    }
}

/// The longest sleep between two tries for another process's write lock.
const MAX_BUSY_PAUSE: Duration = Duration::from_millis(50);

impl Writer {
    /// Opens the database file (which the migrations have created) for writing.
    pub(crate) fn open(path: &Path, opts: &WriterOptions) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(lite_error)?;
        // No waiting for another process's lock on a runtime worker: see `begin`.
        conn.busy_timeout(Duration::ZERO).map_err(lite_error)?;
        conn.set_prepared_statement_cache_capacity(opts.statement_cache);
        // `journal_mode` answers with a row; the others answer with nothing.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(lite_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!(
                "SQLite refused WAL mode (it answered {mode:?}); the store needs it"
            )));
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = {}; PRAGMA wal_autocheckpoint = {};",
            opts.cache_size, opts.autocheckpoint_pages
        ))
        .map_err(lite_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(Some(conn))),
            wal: Arc::new(WalSync::new(path)),
            acquire_timeout: opts.acquire_timeout,
            busy_timeout: opts.busy_timeout,
            timings: Arc::default(),
        })
    }

    /// The recorder of this writer's transaction timings (off until started).
    pub(crate) fn timings(&self) -> Arc<WriteTimings> {
        self.timings.clone()
    }

    /// Waits for the connection (at most the acquire timeout) and starts a write transaction
    /// on it (`BEGIN IMMEDIATE`: the write lock now, so that another process's writer makes
    /// this one wait here rather than fail half-way). While another process holds the lock,
    /// this task sleeps and tries again, up to the busy timeout: SQLite's own busy handler
    /// would sleep on the runtime's thread instead (and, on the blocking pool, would keep a
    /// paused test clock from advancing). `asked` is when the caller asked for the writer
    /// (before any turn it waited for), for [`WriteTimings`].
    pub(crate) async fn begin(&self, asked: Asked) -> Result<LiteTx, StoreError> {
        self.wal.check()?;
        let mut held = self.hold().await?;
        let deadline = tokio::time::Instant::now() + self.busy_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let conn = held.conn()?;
            let busy = match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => {
                    let changes_before = conn.total_changes();
                    return Ok(LiteTx {
                        held: Some(held),
                        wal: self.wal.clone(),
                        changes_before,
                        asked,
                        began: Instant::now(),
                        timings: self.timings.clone(),
                    });
                }
                Err(e) if is_busy(&e) => e,
                Err(e) => return Err(lite_error(e)),
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(lite_error(busy));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_BUSY_PAUSE);
        }
    }

    /// Waits for the connection, at most the acquire timeout.
    async fn hold(&self) -> Result<Held, StoreError> {
        let guard = tokio::time::timeout(self.acquire_timeout, self.conn.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut))?;
        Ok(Held(guard))
    }

    /// Starts the WAL over: between two write transactions (it holds the connection, so no
    /// frame is added meanwhile), copies what is left of the WAL into the database and has the
    /// next write begin at the WAL's start (`wal_checkpoint(RESTART)`), waiting up to
    /// `readers` for the read transactions still using the WAL to end. Answers whether the WAL
    /// was started over; `false` when readers kept it past the wait (nothing is lost: the
    /// frames stay copied, and the next try or an ordinary restart does it).
    ///
    /// Why the writer, and not the checkpointer's reader connection: a restart needs a moment
    /// with every frame copied and no write beginning, and under continuous writes SQLite
    /// finds one only by luck (see `checkpoint`).
    pub(crate) async fn restart_wal(&self, readers: Duration) -> Result<bool, StoreError> {
        let mut held = self.hold().await?;
        tokio::task::spawn_blocking(move || {
            let conn = held.conn()?;
            // SQLite's own busy handler, for this statement only: it sleeps on this blocking
            // thread while readers finish, which is what the wait is for.
            conn.busy_timeout(readers).map_err(lite_error)?;
            let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
            conn.busy_timeout(Duration::ZERO).map_err(lite_error)?;
            match busy {
                Ok(b) => Ok(b == 0),
                Err(e) if is_busy(&e) => Ok(false),
                Err(e) => Err(lite_error(e)),
            }
        })
        .await
        .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e))))?
    }

    /// Closes the connection once the transaction holding it (if any) has ended. Later
    /// transactions fail with `Unavailable`.
    pub(crate) async fn close(&self) {
        let conn = self.conn.lock().await.take();
        if let Some(Err((_, e))) = conn.map(Connection::close) {
            tracing::warn!(error = %e, "closing SQLite's writer connection failed");
        }
    }
}

/// The connection, held; dropped with a transaction still open, it rolls that back first,
/// so an abandoned transaction (a cancelled task, a failed commit) never leaks into the next.
struct Held(OwnedMutexGuard<Option<Connection>>);

impl Held {
    fn conn(&mut self) -> Result<&mut Connection, StoreError> {
        self.0
            .as_mut()
            .ok_or(StoreError::Unavailable(sqlx::Error::PoolClosed))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.0.as_mut() else { return };
        if conn.is_autocommit() {
            return;
        }
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(error = %e, "rolling back an abandoned SQLite transaction failed");
        }
    }
}

/// A write transaction on the writer; dropped without [`LiteTx::commit`], it rolls back.
pub(crate) struct LiteTx {
    /// `None` only while the commit runs on the blocking pool.
    held: Option<Held>,
    wal: Arc<WalSync>,
    /// The connection's `total_changes()` when the transaction began: unchanged at the
    /// commit, the transaction wrote nothing and there is nothing to sync.
    changes_before: u64,
    asked: Asked,
    /// When `BEGIN IMMEDIATE` succeeded.
    began: Instant,
    timings: Arc<WriteTimings>,
}

impl LiteTx {
    pub(crate) fn conn(&mut self) -> Result<&mut Connection, StoreError> {
        self.held
            .as_mut()
            .ok_or(StoreError::Unavailable(sqlx::Error::PoolClosed))?
            .conn()
    }

    /// Commits on tokio's blocking pool, gives the connection back, and returns once the
    /// commit is on disk (see the module docs). (In WAL mode the holder of the write lock
    /// commits without waiting for any other lock.)
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let Some(mut held) = self.held.take() else {
            return Err(StoreError::Unavailable(sqlx::Error::PoolClosed));
        };
        let wal = self.wal.clone();
        let changes_before = self.changes_before;
        let (asked, began, timings) = (self.asked, self.began, self.timings.clone());
        let commit_asked = Instant::now();
        // If this future is dropped meanwhile, the blocking task still ends the transaction
        // and drops the connection's guard there (rolling back if the commit failed), and
        // still syncs.
        tokio::task::spawn_blocking(move || {
            let conn = held.conn()?;
            let wrote = conn.total_changes() != changes_before;
            conn.execute_batch("COMMIT").map_err(lite_error)?;
            let committed = Instant::now();
            // The next transaction may start while this one's frames go to the disk.
            drop(held);
            if wrote {
                wal.sync().map_err(|e| {
                    tracing::error!(
                        error = %e,
                        "syncing SQLite's WAL failed after a commit; the store takes no more \
                         writes until the process restarts"
                    );
                    StoreError::Unavailable(sqlx::Error::Io(e))
                })?;
            }
            if timings.is_on() {
                timings.record(WriteTiming {
                    asked: asked.at,
                    bulk: asked.bulk,
                    wait: began.saturating_duration_since(asked.at),
                    body: commit_asked.saturating_duration_since(began),
                    commit: committed.saturating_duration_since(commit_asked),
                    sync: if wrote {
                        committed.elapsed()
                    } else {
                        Duration::ZERO
                    },
                });
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e))))?
    }
}

/// A file's device and inode: which file a name points to.
type FileId = (u64, u64);

/// The writer's WAL file, synced after each commit that wrote (see the module docs).
///
/// SQLite names it after the database (`<file>-wal`) and keeps it while a connection is open,
/// so one handle serves the writer's life; it is opened again should the file under the name
/// change (SQLite deletes the WAL when the last connection closes, and a later one creates it
/// afresh).
///
/// A sync that fails leaves it unknown what reached the disk (Linux may even mark the pages
/// that failed as clean, so a later sync would succeed without writing them), while the
/// commit is already visible. As PostgreSQL does on a failed fsync, the writer then takes no
/// more transactions: every later one fails with `Unavailable` until the process restarts,
/// and SQLite recovers from what the WAL file holds.
#[derive(Debug)]
struct WalSync {
    path: PathBuf,
    failed: AtomicBool,
    // Why a std Mutex: held only to clone or replace the handle, never across the fsync, so
    // the syncs of consecutive commits run side by side. Beside the handle, the (device,
    // inode) it was opened on, compared with the name's at each sync.
    file: std::sync::Mutex<Option<(Arc<File>, FileId)>>,
    #[cfg(test)]
    syncs: std::sync::atomic::AtomicU64,
}

impl WalSync {
    fn new(database: &Path) -> Self {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        Self {
            path: PathBuf::from(path),
            failed: AtomicBool::new(false),
            file: std::sync::Mutex::new(None),
            #[cfg(test)]
            syncs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Makes every frame written to the WAL so far durable (`fdatasync`).
    fn sync(&self) -> std::io::Result<()> {
        if let Err(e) = self.handle().and_then(|f| f.sync_data()) {
            self.failed.store(true, Ordering::Release);
            return Err(e);
        }
        #[cfg(test)]
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Fails once a sync has failed (see above).
    fn check(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other(
                    "an fsync of SQLite's WAL failed earlier, so what reached the disk is unknown; \
                 the store takes no more writes until the process restarts",
                ),
            )));
        }
        Ok(())
    }

    /// The open WAL file, opened (again) when the name points to another file than the one
    /// held. A commit has just written frames, so the file exists.
    fn handle(&self) -> std::io::Result<Arc<File>> {
        let mut slot = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let named = std::fs::metadata(&self.path)?;
        let identity = (named.dev(), named.ino());
        if let Some((file, held)) = slot.as_ref()
            && *held == identity
        {
            return Ok(file.clone());
        }
        let file = Arc::new(OpenOptions::new().write(true).open(&self.path)?);
        let opened = file.metadata()?;
        // A WAL file SQLite has just created: its name must survive a power cut too, as
        // SQLite makes sure when it syncs a file it created.
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
        *slot = Some((file.clone(), (opened.dev(), opened.ino())));
        Ok(file)
    }
}

/// Whether SQLite answered "another connection holds the lock".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// Runs one statement on `conn`: binds `args` as sqlx would and steps it, handing each row to
/// `row` until that answers `false` (a statement that writes has written everything by its
/// first row). Returns the rows the statement changed (0 for a read).
pub(crate) fn run(
    conn: &mut Connection,
    sql: &str,
    args: &[Arg<'_>],
    mut row: impl FnMut(LiteRow) -> bool,
) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(lite_error)?;
    bind(&mut stmt, args)?;
    let names: Arc<[Box<str>]> = stmt.column_names().into_iter().map(Box::from).collect();
    let read_only = stmt.readonly();
    {
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next().map_err(lite_error)? {
            let mut values = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                values.push(owned(r.get_ref(i).map_err(lite_error)?));
            }
            if !row(LiteRow {
                names: names.clone(),
                values,
            }) {
                break;
            }
        }
    }
    Ok(if read_only { 0 } else { conn.changes() })
}

/// [`run`] for a statement's first row (if any).
pub(crate) fn first(
    conn: &mut Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Option<LiteRow>, StoreError> {
    let mut first = None;
    run(conn, sql, args, |r| {
        first = Some(r);
        false
    })?;
    Ok(first)
}

/// [`run`] for all of a statement's rows.
pub(crate) fn all(
    conn: &mut Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<LiteRow>, StoreError> {
    let mut rows = Vec::new();
    run(conn, sql, args, |r| {
        rows.push(r);
        true
    })?;
    Ok(rows)
}

/// A column's value, owned. Text that is not UTF-8 (a damaged file) comes out as a blob, which
/// no text column decodes: a `Corrupt` error, not a panic.
fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Binds `args` to `stmt` as sqlx's SQLite driver does: a parameter named `$N` or `?N` takes
/// argument N, an anonymous `?` the next one in order; unbound parameters stay NULL.
fn bind(stmt: &mut rusqlite::Statement<'_>, args: &[Arg<'_>]) -> Result<(), StoreError> {
    let mut next = 0usize;
    for i in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(i) {
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    StoreError::Database(sqlx::Error::Protocol(format!(
                        "unsupported SQL parameter {name}"
                    )))
                })?,
            None => {
                next += 1;
                next
            }
        };
        let Some(arg) = n.checked_sub(1).and_then(|k| args.get(k)) else {
            continue;
        };
        let value = match *arg {
            Arg::Int(v) => v.map_or(ValueRef::Null, ValueRef::Integer),
            Arg::Text(v) | Arg::Id(v) => v.map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
            Arg::Bool(v) => v.map_or(ValueRef::Null, |b| ValueRef::Integer(i64::from(b))),
            Arg::Blob(v) => ValueRef::Blob(v),
        };
        stmt.raw_bind_parameter(i, ToSqlOutput::Borrowed(value))
            .map_err(lite_error)?;
    }
    Ok(())
}

/// One result row, owned: its columns' names (shared by the statement's rows) and values.
pub(crate) struct LiteRow {
    names: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl LiteRow {
    pub(crate) fn get<T: FromLite>(&self, col: &str) -> Result<T, StoreError> {
        let i = self
            .names
            .iter()
            .position(|n| &**n == col)
            .ok_or_else(|| StoreError::Corrupt(format!("column {col}: no such column")))?;
        T::from_lite(&self.values[i]).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "column {col}: unexpected {:?}",
                self.values[i].data_type()
            ))
        })
    }
}

/// Types a [`LiteRow`] decodes, with sqlx's rules for SQLite (booleans are integers).
pub(crate) trait FromLite: Sized {
    fn from_lite(v: &Value) -> Option<Self>;
}

impl FromLite for i64 {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromLite for i32 {
    fn from_lite(v: &Value) -> Option<Self> {
        i64::from_lite(v).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromLite for f64 {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromLite for bool {
    fn from_lite(v: &Value) -> Option<Self> {
        i64::from_lite(v).map(|i| i != 0)
    }
}

impl FromLite for String {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromLite for Vec<u8> {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

impl<T: FromLite> FromLite for Option<T> {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_lite(v).map(Some),
        }
    }
}

/// A SQLite error from rusqlite, carried as sqlx's database error so [`StoreError`] sorts it
/// (busy, constraint, too big...) by the same extended result codes as sqlx's.
#[derive(Debug)]
struct LiteDbError {
    code: i32,
    message: String,
}

impl std::fmt::Display for LiteDbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteDbError {}

impl sqlx::error::DatabaseError for LiteDbError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.code {
            // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A rusqlite error as a [`StoreError`], through the same classification as sqlx's errors.
pub(crate) fn lite_error(e: rusqlite::Error) -> StoreError {
    let e = match e {
        rusqlite::Error::SqliteFailure(f, message) => {
            sqlx::Error::Database(Box::new(LiteDbError {
                code: f.extended_code,
                message: message.unwrap_or_else(|| f.to_string()),
            }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    };
    StoreError::from(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WriterOptions {
        WriterOptions {
            busy_timeout: Duration::from_millis(50),
            acquire_timeout: Duration::from_millis(200),
            statement_cache: 16,
            cache_size: -1024,
            autocheckpoint_pages: 1000,
        }
    }

    /// A writer on a fresh file holding `t(k TEXT PRIMARY KEY, n INTEGER, b BLOB)`.
    fn writer() -> (tempfile::TempDir, std::path::PathBuf, Writer) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("w.db");
        let setup = Connection::open(&path).expect("create the file");
        setup
            .execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)")
            .expect("schema");
        drop(setup);
        let w = Writer::open(&path, &options()).expect("open the writer");
        (dir, path, w)
    }

    #[tokio::test]
    async fn parameters_bind_by_number_or_in_order_and_values_decode() {
        let (_dir, _path, w) = writer();
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        let c = tx.conn().expect("conn");
        let n = run(
            c,
            "INSERT INTO t (k, n, b) VALUES (?, ?, ?), (?, ?, ?)",
            &[
                Arg::Text(Some("a")),
                Arg::Int(Some(1)),
                Arg::Blob(b"x"),
                Arg::Id(Some("b")),
                Arg::Bool(Some(true)),
                Arg::Blob(&[]),
            ],
            |_| true,
        )
        .expect("insert");
        assert_eq!(n, 2, "rows changed");
        // `$N` picks argument N wherever it stands, and may repeat.
        let rows = all(
            c,
            "SELECT k, n, b, $2 AS two, $1 AS one, $2 AS again FROM t WHERE k = $1",
            &[Arg::Text(Some("a")), Arg::Int(Some(7))],
        )
        .expect("statement");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.get::<String>("k").expect("k"), "a");
        assert_eq!(r.get::<i64>("n").expect("n"), 1);
        assert!(r.get::<bool>("n").expect("n as bool"));
        assert_eq!(r.get::<Vec<u8>>("b").expect("b"), b"x");
        assert_eq!(r.get::<i64>("two").expect("two"), 7);
        assert_eq!(r.get::<i64>("again").expect("again"), 7);
        assert_eq!(r.get::<String>("one").expect("one"), "a");
        // NULLs, missing columns and wrong types.
        let rows = all(c, "SELECT NULL AS z, 'text' AS s", &[]).expect("statement");
        assert_eq!(rows[0].get::<Option<i64>>("z").expect("z"), None);
        assert!(matches!(
            rows[0].get::<i64>("z"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            rows[0].get::<i64>("s"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            rows[0].get::<i64>("nope"),
            Err(StoreError::Corrupt(_))
        ));
        // Text that is not UTF-8 is a corrupt value, not a panic.
        let rows = all(c, "SELECT CAST(x'ff00fe' AS TEXT) AS bad", &[]).expect("statement");
        assert!(matches!(
            rows[0].get::<String>("bad"),
            Err(StoreError::Corrupt(_))
        ));
        // A read changes nothing, whatever the last write changed.
        assert_eq!(run(c, "SELECT k FROM t", &[], |_| true).expect("read"), 0);
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_rolls_back() {
        let (_dir, _path, w) = writer();
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        let c = tx.conn().expect("conn");
        run(c, "INSERT INTO t (k) VALUES ('gone')", &[], |_| true).expect("insert");
        drop(tx);
        let mut tx = w
            .begin(Asked::now(false))
            .await
            .expect("the connection came back, no transaction open");
        let c = tx.conn().expect("conn");
        assert!(
            all(c, "SELECT k FROM t", &[])
                .expect("statement")
                .is_empty(),
            "rolled back"
        );
        run(c, "INSERT INTO t (k) VALUES ('kept')", &[], |_| true).expect("insert");
        tx.commit().await.expect("commit");
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        let keys: Vec<String> = all(tx.conn().expect("conn"), "SELECT k FROM t", &[])
            .expect("statement")
            .iter()
            .map(|r| r.get("k").expect("k"))
            .collect();
        assert_eq!(keys, ["kept"]);
    }

    #[tokio::test]
    async fn a_commit_that_wrote_is_synced_after_the_writer_is_handed_on() {
        let (_dir, path, w) = writer();
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        let mode: i64 = tx
            .conn()
            .expect("conn")
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, 1, "NORMAL: the commit itself does not sync");
        run(
            tx.conn().expect("conn"),
            "INSERT INTO t (k) VALUES ('a')",
            &[],
            |_| true,
        )
        .expect("insert");
        tx.commit().await.expect("commit");
        assert_eq!(w.wal.syncs.load(Ordering::Relaxed), 1);
        // What the commit wrote is there for another connection.
        let other = Connection::open(&path).expect("a second connection");
        let n: i64 = other
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);

        // A transaction that only read has nothing to sync.
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        all(tx.conn().expect("conn"), "SELECT k FROM t", &[]).expect("read");
        tx.commit().await.expect("commit");
        // Nor has one whose statements changed no row.
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        run(
            tx.conn().expect("conn"),
            "DELETE FROM t WHERE k = 'none'",
            &[],
            |_| true,
        )
        .expect("delete nothing");
        tx.commit().await.expect("commit");
        assert_eq!(w.wal.syncs.load(Ordering::Relaxed), 1);

        // After a failed sync the writer takes no more transactions.
        w.wal.failed.store(true, Ordering::Release);
        let refused = w.begin(Asked::now(false)).await.err().expect("refused");
        assert!(matches!(refused, StoreError::Unavailable(_)), "{refused}");
    }

    /// Frames in the WAL, as a passive checkpoint from another connection reports them (it
    /// copies them too).
    fn wal_frames(path: &Path) -> i64 {
        let other = Connection::open(path).expect("a checkpointing connection");
        other
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .expect("checkpoint")
    }

    async fn insert(w: &Writer, k: &str) {
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        run(
            tx.conn().expect("conn"),
            "INSERT INTO t (k, b) VALUES (?, zeroblob(3000))",
            &[Arg::Text(Some(k))],
            |_| true,
        )
        .expect("insert");
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn the_writer_starts_the_wal_over_once_no_reader_is_on_it() {
        let (_dir, path, w) = writer();
        for i in 0..40 {
            insert(&w, &format!("k{i}")).await;
        }
        // A reader in the middle of a read, on the WAL's frames.
        let reader = Connection::open(&path).expect("a reader");
        reader.execute_batch("BEGIN").expect("begin");
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 40);
        let frames = wal_frames(&path);
        assert!(frames >= 40, "{frames} frames");

        // Every frame is copied, but the reader keeps the WAL: the restart waits for it, then
        // gives up, and the next write goes on after the frames already there.
        let started = std::time::Instant::now();
        assert!(
            !w.restart_wal(Duration::from_millis(30))
                .await
                .expect("restart")
        );
        assert!(started.elapsed() >= Duration::from_millis(30), "it waited");
        insert(&w, "after-refusal").await;
        assert!(wal_frames(&path) > frames, "not started over");

        // The reader done, the restart goes through: the next write begins at the start.
        reader.execute_batch("COMMIT").expect("end the read");
        assert!(
            w.restart_wal(Duration::from_millis(30))
                .await
                .expect("restart")
        );
        insert(&w, "after-restart").await;
        let now = wal_frames(&path);
        assert!(now < 10, "the WAL started over: {now} frames");
        // Nothing was lost on the way.
        let n: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 42);
        // The writer waits for nobody again: another process's lock fails its begin at once
        // (after its own busy timeout), not after SQLite's busy handler.
        let busy: i64 = w
            .begin(Asked::now(false))
            .await
            .expect("begin")
            .conn()
            .expect("conn")
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("busy_timeout");
        assert_eq!(busy, 0);
    }

    #[test]
    fn the_wal_is_opened_again_when_the_file_under_its_name_changes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("x.db");
        let wal = WalSync::new(&db);
        assert_eq!(wal.path, dir.path().join("x.db-wal"));
        assert!(
            wal.sync().is_err(),
            "no WAL file yet: an error, not a panic"
        );
        assert!(
            wal.check().is_err(),
            "a failed sync fails every later write"
        );
        wal.failed.store(false, Ordering::Release);
        std::fs::write(&wal.path, b"first").expect("a WAL file");
        wal.sync().expect("sync");
        let first = wal.handle().expect("handle");
        assert!(Arc::ptr_eq(&first, &wal.handle().expect("handle")), "kept");
        std::fs::remove_file(&wal.path).expect("removed");
        std::fs::write(&wal.path, b"second").expect("a new WAL file");
        let second = wal.handle().expect("handle");
        assert!(!Arc::ptr_eq(&first, &second), "opened again");
        assert_ne!(
            first.metadata().expect("stat").ino(),
            second.metadata().expect("stat").ino()
        );
    }

    /// On a single-threaded runtime: were the wait for the other process's lock on the
    /// runtime's thread, the test's own task could not release the lock, and the begin would
    /// fail after the busy timeout.
    #[tokio::test]
    async fn waiting_for_another_process_does_not_block_the_runtime() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("w.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)"))
            .expect("schema");
        let w = Writer::open(
            &path,
            &WriterOptions {
                busy_timeout: Duration::from_secs(30),
                ..options()
            },
        )
        .expect("open the writer");
        let other = Connection::open(&path).expect("a second connection");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let started = std::time::Instant::now();
        let begin = tokio::spawn({
            let w = w.clone();
            async move {
                let mut tx = w.begin(Asked::now(false)).await?;
                run(
                    tx.conn()?,
                    "INSERT INTO t (k) VALUES ('after')",
                    &[],
                    |_| true,
                )?;
                tx.commit().await
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Not a speed check: the margin is the 30 s the writer would have held the thread.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "this task did not run while the writer waited for the lock"
        );
        assert!(!begin.is_finished(), "the writer waits for the lock");
        other.execute_batch("ROLLBACK").expect("unlock");
        begin
            .await
            .expect("task")
            .expect("written once the lock was free");
    }

    #[tokio::test]
    async fn errors_are_sorted_as_sqlx_sorts_them() {
        let (_dir, path, w) = writer();
        let mut tx = w.begin(Asked::now(false)).await.expect("begin");
        let c = tx.conn().expect("conn");
        run(c, "INSERT INTO t (k) VALUES ('a')", &[], |_| true).expect("insert");
        let dup = run(c, "INSERT INTO t (k) VALUES ('a')", &[], |_| true).unwrap_err();
        assert!(
            dup.is_data_error(),
            "a constraint is the data's fault: {dup}"
        );
        let bad = run(c, "SELEKT 1", &[], |_| true).unwrap_err();
        assert!(
            matches!(bad, StoreError::Database(_)) && !bad.is_data_error(),
            "{bad}"
        );
        tx.commit().await.expect("commit");

        // Another process holding the write lock past the busy timeout: unavailable.
        let other = Connection::open(&path).expect("a second connection");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let busy = w.begin(Asked::now(false)).await.err().expect("busy");
        assert!(matches!(busy, StoreError::Unavailable(_)), "{busy}");
        other.execute_batch("ROLLBACK").expect("unlock");

        // The connection held past the acquire timeout: unavailable, quickly.
        let held = w.begin(Asked::now(false)).await.expect("begin");
        let waited = w.begin(Asked::now(false)).await.err().expect("timed out");
        assert!(matches!(waited, StoreError::Unavailable(_)), "{waited}");
        drop(held);

        // Closed: unavailable.
        w.close().await;
        let closed = w.begin(Asked::now(false)).await.err().expect("closed");
        assert!(matches!(closed, StoreError::Unavailable(_)), "{closed}");
    }
}
