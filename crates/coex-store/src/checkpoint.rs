//! SQLite WAL checkpoints, off the writer.
//!
//! By default SQLite checkpoints in the connection that commits once the WAL passes 1,000
//! pages: every so often one write transaction (a webhook batch, a send commit) also copies
//! the WAL into the database file and fsyncs it, and everything queued behind the single
//! writer waits for that. The writer here has automatic checkpoints off; this task runs a
//! `PASSIVE` checkpoint from a reader connection instead. A passive checkpoint never blocks
//! the writer or the readers (it copies what no reader still needs and stops there), and the
//! writer starts the WAL over at its next transaction once a checkpoint has copied it all.
//!
//! The task ends when the store's last handle is dropped or its pools are closed.

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;

/// How often the WAL is checkpointed. Short enough that the WAL stays small (a few MB at the
/// highest write rates measured here), long enough to copy many commits at once.
const EVERY: Duration = Duration::from_millis(250);

/// Starts the checkpointer for the database behind `read`; it stops once `alive` has no
/// strong reference left.
pub(crate) fn spawn(read: SqlitePool, alive: Weak<()>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if alive.strong_count() == 0 || read.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&read)
                .await
            {
                if read.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
            }
        }
    });
}
