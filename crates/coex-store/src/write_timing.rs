//! Where a SQLite write transaction's time goes, part by part, for benchmarks that need to
//! know which part makes a tail.
//!
//! `coex bench send` measures an idle number's enqueue from the API call to the request
//! reaching the emulator; on a loaded two-core machine its p99 moves by a factor of two from
//! one run to the next, so a change to one part (the writer's queue, the commit, the fsync)
//! cannot be judged from the total. The recorder notes, for every write transaction while it
//! is on, how long it waited for the writer, ran its statements, committed and synced the WAL.
//! Off (the default, and always in `coex serve`), a transaction costs four clock reads and one
//! atomic load more.
//!
//! PostgreSQL has no single writer and no recorder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The parts of one SQLite write transaction's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteTiming {
    /// When the transaction asked for the writer.
    pub asked: Instant,
    /// A group commit (ingest batches, the send engine's claims and results); `false` for a
    /// transaction someone waits on (an API enqueue, a lease renewal).
    pub bulk: bool,
    /// Asking for the writer to `BEGIN IMMEDIATE` done: the group commits' turn, the
    /// connection (first come, first served), another process's lock.
    pub wait: Duration,
    /// `BEGIN` to the commit's start: the statements, and whatever the task awaited between
    /// them.
    pub body: Duration,
    /// The commit's start to `COMMIT` done, including the wait for a blocking-pool thread.
    pub commit: Duration,
    /// The WAL's fsync after the writer was handed on; zero when nothing was written.
    pub sync: Duration,
}

impl WriteTiming {
    /// Asking for the writer to the commit being durable.
    pub fn total(&self) -> Duration {
        self.wait + self.body + self.commit + self.sync
    }
}

/// The most timings a recording keeps (a ten-minute benchmark makes about 200,000): beyond
/// it, later ones are dropped, so a recorder left on cannot grow without bound.
const MAX_KEPT: usize = 2_000_000;

/// Collects [`WriteTiming`]s while on; shared by every handle of one SQLite store.
#[derive(Debug, Default)]
pub struct WriteTimings {
    on: AtomicBool,
    // Why a std Mutex: held only to push one entry or to take the list, never across an
    // await or an fsync.
    kept: Mutex<Vec<WriteTiming>>,
}

impl WriteTimings {
    /// Starts recording, dropping anything recorded before.
    pub fn start(&self) {
        self.list().clear();
        self.on.store(true, Ordering::Release);
    }

    /// Stops recording and hands back what was recorded, oldest commit first.
    pub fn stop(&self) -> Vec<WriteTiming> {
        self.on.store(false, Ordering::Release);
        std::mem::take(&mut *self.list())
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    pub(crate) fn record(&self, timing: WriteTiming) {
        if !self.is_on() {
            return;
        }
        let mut list = self.list();
        if list.len() < MAX_KEPT {
            list.push(timing);
        }
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<WriteTiming>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use coex_core::model::WorkspaceSlug;
    use coex_testdb::{Backend, TestDb};

    use crate::{SqlStore, Store};

    fn slug(s: &str) -> WorkspaceSlug {
        WorkspaceSlug::parse(s).expect("slug")
    }

    #[tokio::test]
    async fn sqlite_records_each_write_transaction_while_on() {
        let db = TestDb::create(Backend::Sqlite, "coex_write_timing").await;
        let store = SqlStore::connect(db.url()).await.expect("store");
        let timings = store.write_timings().expect("SQLite has a recorder");
        store
            .ensure_workspace(&slug("before"), "Before")
            .await
            .expect("workspace");

        timings.start();
        let asked = Instant::now();
        store
            .ensure_workspace(&slug("acme"), "Acme")
            .await
            .expect("workspace");
        let done = Instant::now();
        let got = timings.stop();
        store
            .ensure_workspace(&slug("after"), "After")
            .await
            .expect("workspace");

        // The one transaction of the call, inside it; none from before start or after stop.
        let ours: Vec<_> = got
            .iter()
            .filter(|t| t.asked >= asked && t.asked <= done)
            .collect();
        assert_eq!(ours.len(), 1, "{got:?}");
        let t = ours[0];
        assert!(!t.bulk);
        assert!(t.asked + t.total() <= done);
        assert!(t.sync > std::time::Duration::ZERO, "it wrote, so it synced");
        assert!(timings.stop().is_empty(), "nothing is recorded while off");
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_has_no_recorder() {
        let db = TestDb::create(Backend::Postgres, "coex_write_timing").await;
        let store = SqlStore::connect(db.url()).await.expect("store");
        assert!(store.write_timings().is_none());
        store.close().await;
    }
}
