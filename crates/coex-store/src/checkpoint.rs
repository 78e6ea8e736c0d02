//! SQLite WAL checkpoints, mostly off the writer.
//!
//! SQLite checkpoints in the connection that commits once the WAL passes a size (1,000 pages
//! by default; the store sets 262,144, 1 GiB): that one write transaction (a webhook batch, a
//! send commit) then also copies the WAL into the database file and fsyncs it, and everything
//! queued behind the single writer waits. This task runs a `PASSIVE` checkpoint from a reader
//! connection every [`EVERY`]: it never blocks the writer or the readers, and it copies the
//! frames beforehand, so the writer checkpoints rarely and finds little left to copy.
//!
//! The writer's automatic checkpoint stays on, on purpose: only a checkpoint that completes
//! right after a commit, between two writes, lets the next write start the WAL over. With
//! passive checkpoints alone, under continuous writes and reads the WAL never restarts and
//! grows without bound (68 GB in a 10-minute send benchmark, until the disk was full).
//! Under light load the passes let it start over on their own (a write that begins with
//! every frame copied restarts it); under sustained writes the writer's checkpoint does, and
//! its size sets how often the writer stalls for one (see `sql_store`).
//!
//! That ordinary restart needs luck under continuous writes: the write that begins must find
//! every frame copied (no commit between the end of a pass and it) and no reader still on the
//! WAL (a reader mid-query keeps its snapshot's frames). When the passes take longer (a loaded
//! machine), the luck runs out: in ten-minute send benchmarks the WAL stopped starting over
//! for seconds at a time and grew to 850 MB although every pass copied all of it, and while it
//! grew, every commit extended the file and the commits that an API enqueue waited behind
//! took 10-55 ms instead of about one. So once the WAL passes [`RESTART_PAGES`] with every
//! frame copied, this task has the writer start it over between two transactions
//! ([`Writer::restart_wal`]): a stall of a few milliseconds, instead of commits slowed for
//! seconds and a 1 GiB checkpoint at the end.
//!
//! Should the WAL still pass [`WAL_LIMIT_PAGES`], this task forces a `TRUNCATE` checkpoint
//! (it waits for the writer and the readers, up to the busy timeout) and says so.
//!
//! The task ends when the store's last handle is dropped or its pools are closed.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use sqlx::{Row, SqlitePool};

use crate::lite::Writer;

/// How often the WAL is checkpointed: often, so that the writer's own checkpoint finds only
/// the last few milliseconds of commits left to copy.
const EVERY: Duration = Duration::from_millis(50);

/// WAL size (pages of 4 KiB: 4 GiB, four times the writer's checkpoint size) past which a
/// blocking checkpoint truncates it.
const WAL_LIMIT_PAGES: i64 = 1_048_576;

/// WAL size (pages of 4 KiB: 128 MB) past which the writer starts the WAL over once the
/// passes have copied all of it. Above what the WAL holds while ordinary restarts work (at
/// 3,500 sends/s it stays under 60 MB), so it acts only when they stop coming; in a ten-minute
/// send benchmark that was about every 3 s, each restart at the first try.
const RESTART_PAGES: i64 = 32_768;

/// How long a writer-driven restart waits for the readers still on the WAL. Reads take
/// milliseconds, and the writer's connection (every write of the process) waits meanwhile.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// After readers kept a writer-driven restart from going through, how long until the next
/// try: a long read (an export, say) that sits on the WAL must not cost the writer the wait
/// every pass.
const RESTART_RETRY: Duration = Duration::from_secs(1);

/// Starts the checkpointer for the database behind `read` and `write`; it stops once `alive`
/// has no strong reference left.
pub(crate) fn spawn(read: SqlitePool, write: Writer, alive: Weak<()>) {
    // Why a std Mutex: the passes run one at a time; it only carries, from one pass to the
    // next, when a refused restart may be tried again.
    let retry_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    crate::periodic::spawn("SQLite checkpoint", EVERY, read, alive, move |read| {
        let (write, retry_at) = (write.clone(), retry_at.clone());
        async move { checkpoint(&read, &write, &retry_at).await }
    });
}

async fn checkpoint(
    read: &SqlitePool,
    write: &Writer,
    retry_at: &Mutex<Option<Instant>>,
) -> Result<(), sqlx::Error> {
    // Columns: busy, pages in the WAL, pages copied.
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(read)
        .await?;
    let wal_pages: i64 = row.try_get(1)?;
    let copied: i64 = row.try_get(2)?;
    let may_restart = retry_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_none_or(|at| Instant::now() >= at);
    if wal_pages >= RESTART_PAGES && copied == wal_pages && may_restart {
        let next_try = match write.restart_wal(RESTART_WAIT).await {
            Ok(true) => {
                tracing::debug!(wal_pages, "the writer started the WAL over");
                None
            }
            Ok(false) => {
                tracing::debug!(wal_pages, "readers kept the WAL from starting over");
                Some(Instant::now() + RESTART_RETRY)
            }
            Err(e) => {
                tracing::warn!(error = %e, "starting the SQLite WAL over failed");
                Some(Instant::now() + RESTART_RETRY)
            }
        };
        *retry_at.lock().unwrap_or_else(PoisonError::into_inner) = next_try;
        return Ok(());
    }
    if wal_pages > WAL_LIMIT_PAGES {
        tracing::warn!(
            wal_pages,
            "the SQLite WAL kept growing; truncating it (writes wait meanwhile)"
        );
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(read)
            .await?;
    }
    Ok(())
}
