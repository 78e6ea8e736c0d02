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
//! Should the WAL still pass [`WAL_LIMIT_PAGES`], this task forces a `TRUNCATE` checkpoint
//! (it waits for the writer and the readers, up to the busy timeout) and says so.
//!
//! The task ends when the store's last handle is dropped or its pools are closed.

use std::sync::Weak;
use std::time::Duration;

use sqlx::{Row, SqlitePool};

/// How often the WAL is checkpointed: often, so that the writer's own checkpoint finds only
/// the last few milliseconds of commits left to copy.
const EVERY: Duration = Duration::from_millis(50);

/// WAL size (pages of 4 KiB: 4 GiB, four times the writer's checkpoint size) past which a
/// blocking checkpoint truncates it.
const WAL_LIMIT_PAGES: i64 = 1_048_576;

/// Starts the checkpointer for the database behind `read`; it stops once `alive` has no
/// strong reference left.
pub(crate) fn spawn(read: SqlitePool, alive: Weak<()>) {
    crate::periodic::spawn("SQLite checkpoint", EVERY, read, alive, |read| async move {
        checkpoint(&read).await
    });
}

async fn checkpoint(read: &SqlitePool) -> Result<(), sqlx::Error> {
    // Columns: busy, pages in the WAL, pages copied.
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(read)
        .await?;
    let wal_pages: i64 = row.try_get(1)?;
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
