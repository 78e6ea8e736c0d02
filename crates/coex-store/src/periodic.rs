//! The store's background upkeep: a task that runs one job every so often on a pool of its
//! own (the SQLite checkpointer, the PostgreSQL analyzer) until the store is gone.

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use sqlx::{Database, Pool};

/// Runs `job` on `pool` every `every`, logging failures as `what` and trying again next time;
/// stops once `alive` has no strong reference left (the store's last handle was dropped) or
/// the pool is closed.
pub(crate) fn spawn<DB, F, Fut>(
    what: &'static str,
    every: Duration,
    pool: Pool<DB>,
    alive: Weak<()>,
    job: F,
) where
    DB: Database,
    F: Fn(Pool<DB>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), sqlx::Error>> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if alive.strong_count() == 0 || pool.is_closed() {
                return;
            }
            if let Err(e) = job(pool.clone()).await {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "{what} failed; will retry");
            }
        }
    });
}
