//! [`SqlStore`]: connecting, pooling, transactions with retry, and the [`Store`] impl.
//!
//! SQLite gets one writer connection on the file (driven in place, see [`crate::lite`]; every
//! write transaction starts with `BEGIN IMMEDIATE`, so writers queue in-process instead of
//! failing with `SQLITE_BUSY`, and other processes' writers are waited for up to
//! `busy_timeout`) and a pool of readers (sqlx), which WAL lets run beside the writer.
//! PostgreSQL gets one pool; concurrent transactions from any number of processes are made
//! safe by the SQL itself (unique keys, conditional updates, row locks) and a bounded retry of
//! whole batches on serialization failures and deadlocks.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use coex_core::model::{
    ArchiveId, Contact, ContactId, ConversationId, ConversationView, CustomerKey, EventSeq,
    IngestBatch, Message, MetaError, NewNumber, Number, NumberEvent, Page, PageRequest, RawWebhook,
    StatusRecord, StoredEvent, SyncJob, SyncKind, Timestamp, Waba, Workspace, WorkspaceId,
    WorkspaceSlug,
};
use coex_core::{PhoneNumberId, RequestId, WabaId, Wamid};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::db::{Pooled, Tx, args};
use crate::lite::{Asked, Writer, WriterOptions};
use crate::write_timing::WriteTimings;
use crate::writer_gate::{Demand, WriteKind, WriterGate};
use crate::{
    ArchivedWebhook, BatchOutcome, ChangeErrorRecord, Result, Store, StoreError, analyze, apply,
    checkpoint, migrate, read, setup,
};

/// Where the store takes "now" from (created/processed times). Tests pass a fixed clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Pool and retry settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool size; SQLite reader-pool size (SQLite always has one writer).
    pub max_connections: u32,
    /// How long an operation waits for a connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
    /// SQLite: how long a statement waits for another process's write lock.
    pub busy_timeout: Duration,
    /// How many times a batch is re-run after a PostgreSQL serialization failure or deadlock.
    pub max_retries: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
            max_retries: 8,
        }
    }
}

/// Prepared statements kept per connection: every statement the store issues fits, so none is
/// re-parsed in steady state.
const STATEMENT_CACHE: usize = 512;

/// WAL pages (4 KiB) past which the SQLite writer checkpoints after a commit (1 GiB; SQLite's
/// default is 1,000). That checkpoint runs inside a commit: it copies what the checkpointer
/// task has not yet copied, fsyncs the database file (a file that grows: the fsync also
/// waits for the file system's journal) and lets the next write start the WAL over, and every
/// transaction queued behind the writer waits for it: 10-70 ms, 25 at the median, under a
/// 3,500 sends/s load. Under sustained writes only this checkpoint starts the WAL over (see
/// `checkpoint`), so the threshold sets how often the writer stalls, not how much it copies
/// (the checkpointer task copies the WAL meanwhile). In the send benchmark (about 150 MB of
/// WAL a second) 256 MB meant a stall every ~1.8 s and an idle number's enqueue-to-request
/// p99 of 22.8 ms over 5 minutes; 1 GiB, a stall every ~7 s and 14.2 ms. Smaller sizes were
/// worse still: at 1,000 pages a webhook batch carrying a 3 MB history chunk took ~40 ms more
/// to commit, and at 16,384 the send benchmark's writer checkpointed five times a second.
/// The cost is disk, under sustained writes only: the WAL file grows to about 1 GiB and keeps
/// that size while the store is open (under light load the checkpointer's passes start the
/// WAL over long before).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 262_144;

/// The SQLite writer's page cache, as `PRAGMA cache_size` takes it (negative: KiB).
const WRITER_CACHE_KIB: i64 = -32_768;

#[derive(Clone)]
enum Pools {
    Sqlite {
        write: Writer,
        read: SqlitePool,
        gate: Arc<WriterGate>,
    },
    Postgres(PgPool),
}

/// The store on SQLite or PostgreSQL. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct SqlStore {
    pools: Pools,
    clock: Clock,
    max_retries: u32,
    /// Held by every handle; background tasks of the store (the SQLite checkpointer, the
    /// PostgreSQL analyzer) stop when the last one is dropped.
    _alive: Arc<()>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// `url` (a PostgreSQL URL) with its database name replaced by `name`, the query kept: how
/// tests and benchmarks reach the fresh database they created through a maintenance one.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[host_start..].find('/') {
        Some(slash) => &base[..host_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl SqlStore {
    /// Connects with default options and applies pending migrations. The backend follows the
    /// URL: `sqlite://path/to/file.db` (created if missing) or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, opts: StoreOptions) -> Result<Self> {
        let alive = Arc::new(());
        let pools = if url.starts_with("sqlite:") {
            Self::open_sqlite(url, &opts, Arc::downgrade(&alive)).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url, &opts, Arc::downgrade(&alive)).await?
        } else {
            return Err(StoreError::Config(format!(
                "database URL must start with sqlite: or postgres:// (got {:?})",
                url.split(':').next().unwrap_or("")
            )));
        };
        Ok(Self {
            pools,
            clock: Arc::new(Timestamp::now),
            max_retries: opts.max_retries,
            _alive: alive,
        })
    }

    async fn open_sqlite(url: &str, opts: &StoreOptions, alive: Weak<()>) -> Result<Pools> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            .statement_cache_capacity(STATEMENT_CACHE)
            // Statement journals (a multi-row upsert's undo) stay in memory instead of a temp
            // file written on every such statement.
            .pragma("temp_store", "memory");
        // An in-memory database is private to its connection, and the writer and the readers
        // are separate connections (of two drivers).
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::Config(
                "an in-memory SQLite database is not supported: use a file (a temporary one \
                 for throwaway data)"
                    .into(),
            ));
        }
        // The migrations run through sqlx's migrator, on a connection of their own.
        let migrating = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        migrate::sqlite().await?.run(&migrating).await?;
        migrating.close().await;
        // The writer (see `lite`) keeps the hot pages (queue heads, indexes, the WAL's working
        // set) in its own cache instead of reading them back from the OS on every
        // transaction: 32 MB, against SQLite's 2 MB default. Readers keep the default; they
        // are many. The writer checkpoints on its own only once the WAL passes 1 GiB, not
        // SQLite's 4 MB: the checkpointer task copies the WAL meanwhile (see `checkpoint`),
        // and a checkpoint run by the writer stalls every commit queued behind it.
        let write = Writer::open(
            options.get_filename(),
            &WriterOptions {
                busy_timeout: opts.busy_timeout,
                acquire_timeout: opts.acquire_timeout,
                statement_cache: STATEMENT_CACHE,
                cache_size: WRITER_CACHE_KIB,
                autocheckpoint_pages: WRITER_AUTOCHECKPOINT_PAGES,
            },
        )?;
        let read = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options)
            .await?;
        checkpoint::spawn(read.clone(), write.clone(), alive);
        Ok(Pools::Sqlite {
            write,
            read,
            gate: Arc::default(),
        })
    }

    async fn open_postgres(url: &str, opts: &StoreOptions, alive: Weak<()>) -> Result<Pools> {
        let options = PgConnectOptions::from_str(url)?.statement_cache_capacity(STATEMENT_CACHE);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options)
            .await?;
        // The migrator takes an advisory lock: processes starting together migrate once.
        migrate::postgres().await?.run(&pool).await?;
        analyze::spawn(pool.clone(), alive);
        Ok(Pools::Postgres(pool))
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The recorder of SQLite's write transaction timings (see [`WriteTimings`]); `None` on
    /// PostgreSQL.
    pub fn write_timings(&self) -> Option<Arc<WriteTimings>> {
        match &self.pools {
            Pools::Sqlite { write, .. } => Some(write.timings()),
            Pools::Postgres(_) => None,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    /// Closes the pools, waiting for checked-out connections to return.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { write, read, .. } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Whether an interactive transaction waits for SQLite's writer, for a group commit that
    /// works in pieces (see [`crate::writer_gate`]).
    pub(crate) fn writer_demand(&self) -> Demand<'_> {
        match &self.pools {
            Pools::Sqlite { gate, .. } => Demand(Some(gate)),
            Pools::Postgres(_) => Demand(None),
        }
    }

    pub(crate) fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Starts a write transaction; on SQLite, `kind` says where it queues for the writer
    /// (see [`crate::writer_gate`]).
    pub(crate) async fn begin(&self, kind: WriteKind) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite { write, gate, .. } => {
                let asked = Asked::now(kind == WriteKind::Bulk);
                match kind {
                    WriteKind::Interactive => {
                        let _waiting = gate.interactive();
                        Tx::Sqlite(write.begin(asked).await?, None)
                    }
                    WriteKind::Bulk => {
                        let turn = gate.bulk().await;
                        Tx::Sqlite(write.begin(asked).await?, Some(turn))
                    }
                }
            }
            Pools::Postgres(p) => Tx::Pg(p.begin().await?),
        })
    }

    pub(crate) async fn reader(&self) -> Result<Pooled> {
        Ok(match &self.pools {
            Pools::Sqlite { read, .. } => Pooled::Sqlite(read.acquire().await?),
            Pools::Postgres(p) => Pooled::Pg(p.acquire().await?),
        })
    }
}

/// Runs `$body` with `$conn` bound to a fresh transaction's connection and commits; re-runs
/// the whole transaction on retryable errors (the bodies are idempotent). `in_tx!` is for
/// short transactions someone waits on; `in_bulk_tx!` for group commits, which let those go
/// first on SQLite's writer (see [`crate::writer_gate`]).
macro_rules! in_tx {
    ($self:ident, |$conn:ident| $body:expr) => {
        $crate::sql_store::in_tx!(@kind $crate::writer_gate::WriteKind::Interactive, $self, |$conn| $body)
    };
    (@kind $kind:expr, $self:ident, |$conn:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            let mut tx = $self.begin($kind).await?;
            let result = match tx.conn() {
                Ok(mut c) => {
                    let $conn = &mut c;
                    $body.await
                }
                Err(e) => Err(e),
            };
            let result = match result {
                Ok(v) => tx.commit().await.map(|()| v),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_retryable() && attempt < $self.max_retries() => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "retrying store transaction");
                    // A short, growing pause lets the competing transaction finish.
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 3)).await;
                }
                other => break other,
            }
        }
    }};
}

/// [`in_tx!`] for a group commit.
macro_rules! in_bulk_tx {
    ($self:ident, |$conn:ident| $body:expr) => {
        $crate::sql_store::in_tx!(@kind $crate::writer_gate::WriteKind::Bulk, $self, |$conn| $body)
    };
}

/// [`in_bulk_tx!`] for a group commit that gives way by rolling back (see
/// [`crate::writer_gate::GiveWay`]): `$give_way` is armed on the first try; a try that gave
/// way runs again, disarmed.
macro_rules! in_bulk_tx_giving_way {
    ($self:ident, |$conn:ident, $give_way:ident| $body:expr) => {{
        let mut next = $crate::writer_gate::GiveWay::first_try($self.writer_demand());
        loop {
            let $give_way = next;
            match $crate::sql_store::in_bulk_tx!($self, |$conn| $body) {
                Err($crate::StoreError::GaveWay) => next = next.disarmed(),
                other => break other,
            }
        }
    }};
}

/// Runs `$body` on a pooled read connection.
macro_rules! reading {
    ($self:ident, |$conn:ident| $body:expr) => {{
        let mut pooled = $self.reader().await?;
        let mut c = pooled.conn();
        let $conn = &mut c;
        $body.await
    }};
}

// The send queue (`crate::send`) runs its transactions the same way.
pub(crate) use {in_bulk_tx, in_bulk_tx_giving_way, in_tx, reading};

impl Store for SqlStore {
    async fn ensure_workspace(&self, slug: &WorkspaceSlug, name: &str) -> Result<Workspace> {
        let now = self.now();
        in_tx!(self, |c| setup::ensure_workspace(c, slug, name, now))
    }

    async fn upsert_waba(
        &self,
        workspace: WorkspaceId,
        waba: &WabaId,
        name: Option<&str>,
    ) -> Result<Waba> {
        let now = self.now();
        in_tx!(self, |c| setup::upsert_waba(c, workspace, waba, name, now))
    }

    async fn upsert_number(&self, number: &NewNumber) -> Result<Number> {
        let now = self.now();
        in_tx!(self, |c| setup::upsert_number(c, number, now))
    }

    async fn record_sync_request(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        request_id: &RequestId,
        at: Timestamp,
    ) -> Result<SyncJob> {
        in_tx!(self, |c| setup::record_sync_request(
            c, number, kind, request_id, at
        ))
    }

    async fn restart_sync(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        request_id: &RequestId,
        at: Timestamp,
    ) -> Result<SyncJob> {
        in_tx!(self, |c| setup::restart_sync(
            c, number, kind, request_id, at
        ))
    }

    async fn record_sync_refusal(
        &self,
        number: &PhoneNumberId,
        kind: SyncKind,
        error: &MetaError,
        at: Timestamp,
    ) -> Result<SyncJob> {
        in_tx!(self, |c| setup::record_sync_refusal(
            c, number, kind, error, at
        ))
    }

    async fn archive_webhook(&self, raw: &RawWebhook) -> Result<ArchiveId> {
        in_tx!(self, |c| async {
            let row = c
                .one(
                    "INSERT INTO webhook_archive (received_at, signature_ok, body, body_encoding, processed_at) \
                     VALUES ($1, $2, $3, $4, NULL) RETURNING id",
                    args![
                        raw.received_at,
                        raw.signature_ok,
                        raw.body.as_slice(),
                        raw.encoding.as_str()
                    ],
                )
                .await?;
            Ok(ArchiveId::new(row.i64("id")?))
        })
    }

    async fn apply_batch(&self, batch: &IngestBatch) -> Result<BatchOutcome> {
        let now = self.now();
        in_bulk_tx!(self, |c| apply::run(c, batch, now))
    }

    async fn pending_archives(
        &self,
        after: Option<ArchiveId>,
        limit: u32,
    ) -> Result<Vec<ArchivedWebhook>> {
        reading!(self, |c| read::pending_archives(c, after, limit))
    }

    async fn get_archive(&self, id: ArchiveId) -> Result<ArchivedWebhook> {
        reading!(self, |c| read::get_archive(c, id))
    }

    async fn list_numbers(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Number>> {
        reading!(self, |c| read::list_numbers(c, workspace))
    }

    async fn get_number(&self, id: &PhoneNumberId) -> Result<Number> {
        reading!(self, |c| read::get_number(c, id))
    }

    async fn number_events(&self, number: &PhoneNumberId, limit: u32) -> Result<Vec<NumberEvent>> {
        reading!(self, |c| read::number_events(c, number, limit))
    }

    async fn list_conversations(
        &self,
        number: &PhoneNumberId,
        page: PageRequest,
    ) -> Result<Page<ConversationView>> {
        reading!(self, |c| read::list_conversations(c, number, page))
    }

    async fn get_conversation(&self, id: ConversationId) -> Result<ConversationView> {
        reading!(self, |c| read::get_conversation(c, id))
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        page: PageRequest,
    ) -> Result<Page<Message>> {
        reading!(self, |c| read::list_messages(c, conversation, page))
    }

    async fn get_message(&self, number: &PhoneNumberId, wamid: &Wamid) -> Result<Message> {
        reading!(self, |c| read::get_message(c, number, wamid))
    }

    async fn status_history(
        &self,
        number: &PhoneNumberId,
        wamid: &Wamid,
    ) -> Result<Vec<StatusRecord>> {
        reading!(self, |c| read::status_history(c, number, wamid))
    }

    async fn get_contact(&self, id: ContactId) -> Result<Contact> {
        reading!(self, |c| read::get_contact(c, id))
    }

    async fn find_contact(
        &self,
        workspace: WorkspaceId,
        key: &CustomerKey,
    ) -> Result<Option<Contact>> {
        reading!(self, |c| read::find_contact(c, workspace, key))
    }

    async fn sync_progress(&self, number: &PhoneNumberId) -> Result<Vec<SyncJob>> {
        reading!(self, |c| read::sync_progress(c, number))
    }

    async fn events_after(
        &self,
        workspace: WorkspaceId,
        after: EventSeq,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        reading!(self, |c| read::events_after(c, workspace, after, limit))
    }

    async fn change_errors(&self, after: i64, limit: u32) -> Result<Vec<ChangeErrorRecord>> {
        reading!(self, |c| read::change_errors(c, after, limit))
    }
}

#[cfg(test)]
mod url_tests {
    use super::with_database_name;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u:p@h/db?sslmode=disable", "b2"),
            "postgres://u:p@h/b2?sslmode=disable"
        );
    }
}
