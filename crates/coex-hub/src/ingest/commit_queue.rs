//! Group commit: many webhooks, one transaction.
//!
//! A durable store commits at the disk's fsync rate (a few hundred to a few thousand per
//! second). Committing each webhook on its own would cap ingest there. Instead every request
//! handler hands its parsed webhook to a [`CommitQueue`] and waits; one writer task drains
//! whatever has queued up (up to `max_batch`, lingering at most `linger` for more), commits it
//! in one transaction, then answers every waiter. Meta gets its 200 only after that commit.
//!
//! The queue is bounded: when it is full, [`CommitQueue::submit`] fails at once, so the HTTP
//! layer answers 503 quickly and Meta retries later, instead of accepting and dropping.
//!
//! One item must not sink the others it shares a transaction with: when a batch fails for a
//! reason that may lie in one item's content (not an unavailable store), its items are
//! committed again one by one, so only the item at fault fails.
//!
//! Background work that writes to the same store (the history fan-out) asks for a turn with
//! [`CommitQueue::background_turn`]: it is granted while the writers are idle (nothing queued,
//! nothing being gathered or committed), or after a bounded wait, so live webhooks wait for at
//! most one background piece, and the background still progresses under sustained load.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{OwnedRwLockWriteGuard, RwLock, mpsc, oneshot};

/// What a batch is committed through: the store, in production.
pub trait BatchSink: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;
    type Error: std::fmt::Display + Send + 'static;

    /// Commits all `items` atomically, returning one output per item, in order. A failure
    /// hands the items back, so the queue can commit them again one by one.
    fn flush(&self, items: Vec<Self::Item>) -> impl Future<Output = FlushResult<Self>> + Send;

    /// Whether a failed batch is worth committing again item by item: true unless the error
    /// says the sink itself is down (then every item would fail the same way).
    fn isolate(&self, _error: &Self::Error) -> bool {
        true
    }
}

/// What [`BatchSink::flush`] returns: one output per item, or the failure with the items.
pub type FlushResult<S> =
    Result<Vec<<S as BatchSink>::Output>, Failed<<S as BatchSink>::Item, <S as BatchSink>::Error>>;

/// A batch that did not commit: why, and its items, untouched.
#[derive(Debug)]
pub struct Failed<I, E> {
    pub error: E,
    pub items: Vec<I>,
}

/// Tuning of one queue.
#[derive(Debug, Clone, Copy)]
pub struct CommitQueueConfig {
    /// Waiting items before `submit` refuses.
    pub capacity: usize,
    /// Most items committed in one transaction.
    pub max_batch: usize,
    /// How long a writer waits for more items after the first one before it commits.
    pub linger: Duration,
    /// Writer tasks: 1 for SQLite (one writer at a time anyway), more for PostgreSQL.
    pub writers: usize,
}

impl Default for CommitQueueConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            max_batch: 512,
            linger: Duration::from_millis(2),
            writers: 1,
        }
    }
}

/// Why an item was not committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the commit queue is full")]
    Full,
    #[error("the commit queue is shut down")]
    Closed,
    #[error("the batch failed to commit: {0}")]
    Failed(String),
}

struct Waiting<S: BatchSink> {
    item: S::Item,
    // Why a oneshot: each request handler waits for exactly one answer about its own item.
    done: oneshot::Sender<Result<S::Output, CommitError>>,
}

/// The handle request handlers submit to; cheap to clone.
pub struct CommitQueue<S: BatchSink> {
    // Why a bounded mpsc: it is the queue itself, and its bound is the back-pressure that
    // turns overload into fast 503s.
    tx: mpsc::Sender<Waiting<S>>,
    gate: Arc<Gate>,
}

/// Who may write now: the commit writers (shared) or one background task (exclusive).
#[derive(Debug, Default)]
struct Gate {
    // Why an RwLock: writers commit side by side (several on PostgreSQL) under read guards; a
    // background piece takes the write guard, so it never runs beside a live commit.
    turn: Arc<RwLock<()>>,
    /// Writers holding items (gathering a batch or committing it).
    busy: AtomicUsize,
}

/// A background task's turn at the store; live commits wait until it is dropped.
#[derive(Debug)]
pub struct BackgroundTurn {
    _guard: OwnedRwLockWriteGuard<()>,
}

impl<S: BatchSink> Clone for CommitQueue<S> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            gate: self.gate.clone(),
        }
    }
}

impl<S: BatchSink> std::fmt::Debug for CommitQueue<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("waiting", &(self.tx.max_capacity() - self.tx.capacity()))
            .finish()
    }
}

impl<S: BatchSink> CommitQueue<S> {
    /// Starts the writer tasks. They stop once every `CommitQueue` handle is dropped and the
    /// queue is drained, so dropping the handles is the graceful shutdown.
    pub fn start(
        sink: Arc<S>,
        config: CommitQueueConfig,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        // Why a mutex around the receiver: several writers share one queue; whoever holds the
        // lock gathers the next batch, so batches never interleave items.
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let gate = Arc::new(Gate::default());
        let writers = (0..config.writers.max(1))
            .map(|_| tokio::spawn(writer(sink.clone(), rx.clone(), gate.clone(), config)))
            .collect();
        (Self { tx, gate }, writers)
    }

    /// Waits for a turn for background work: at once when the writers are idle, else when
    /// they become idle, but never longer than `max_wait` (then the turn is taken between two
    /// batches anyway, so background work is not starved by sustained load).
    pub async fn background_turn(&self, max_wait: Duration) -> BackgroundTurn {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            if self.depth() == 0
                && self.gate.busy.load(Ordering::Acquire) == 0
                && let Ok(guard) = self.gate.turn.clone().try_write_owned()
            {
                // Re-checked under the guard: a writer that took items meanwhile waits for us.
                if self.gate.busy.load(Ordering::Acquire) == 0 {
                    return BackgroundTurn { _guard: guard };
                }
                drop(guard);
            }
            if tokio::time::Instant::now() >= deadline {
                let guard = self.gate.turn.clone().write_owned().await;
                return BackgroundTurn { _guard: guard };
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Queues `item` and waits until it is committed. Fails at once with
    /// [`CommitError::Full`] when the queue is full.
    pub async fn submit(&self, item: S::Item) -> Result<S::Output, CommitError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .try_send(Waiting { item, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommitError::Full,
                mpsc::error::TrySendError::Closed(_) => CommitError::Closed,
            })?;
        answer.await.map_err(|_| CommitError::Closed)?
    }

    /// Items waiting to be committed (a gauge for metrics).
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

async fn writer<S: BatchSink>(
    sink: Arc<S>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Waiting<S>>>>,
    gate: Arc<Gate>,
    config: CommitQueueConfig,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            gate.busy.fetch_add(1, Ordering::AcqRel);
            let mut batch = Vec::with_capacity(config.max_batch.min(64));
            batch.push(first);
            let deadline = tokio::time::Instant::now() + config.linger;
            while batch.len() < config.max_batch {
                // Take what is already queued without waiting, then linger briefly for more.
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // Why select!: wait for the next item, but never past the linger
                        // deadline, so a lone webhook is not held longer than `linger`.
                        tokio::select! {
                            next = rx.recv() => match next {
                                Some(w) => batch.push(w),
                                None => break,
                            },
                            _ = tokio::time::sleep_until(deadline) => break,
                        }
                    }
                }
            }
            batch
        };
        let (items, waiters): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|w| (w.item, w.done)).unzip();
        let turn = gate.turn.read().await;
        commit(&*sink, items, waiters).await;
        drop(turn);
        gate.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Commits one gathered batch and answers its waiters.
async fn commit<S: BatchSink>(
    sink: &S,
    items: Vec<S::Item>,
    waiters: Vec<oneshot::Sender<Result<S::Output, CommitError>>>,
) {
    let count = items.len();
    match sink.flush(items).await {
        Ok(outputs) => answer(waiters, outputs),
        Err(Failed { error, items })
            if count > 1 && items.len() == count && sink.isolate(&error) =>
        {
            tracing::warn!(%error, items = count, "commit batch failed; committing its items one by one");
            for (item, done) in items.into_iter().zip(waiters) {
                match sink.flush(vec![item]).await {
                    Ok(outputs) => answer(vec![done], outputs),
                    Err(f) => {
                        let err = CommitError::Failed(f.error.to_string());
                        tracing::warn!(%err, "commit of one item failed");
                        let _ = done.send(Err(err));
                    }
                }
            }
        }
        Err(f) => {
            let err = CommitError::Failed(f.error.to_string());
            tracing::warn!(%err, items = count, "commit batch failed");
            for done in waiters {
                let _ = done.send(Err(err.clone()));
            }
        }
    }
}

/// Gives each waiter its output, or fails them all if the sink miscounted.
fn answer<O>(waiters: Vec<oneshot::Sender<Result<O, CommitError>>>, outputs: Vec<O>) {
    if outputs.len() != waiters.len() {
        let err = CommitError::Failed(format!(
            "sink returned {} outputs for {} items",
            outputs.len(),
            waiters.len()
        ));
        tracing::error!(%err, "commit batch");
        for done in waiters {
            let _ = done.send(Err(err.clone()));
        }
        return;
    }
    for (done, out) in waiters.into_iter().zip(outputs) {
        let _ = done.send(Ok(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const DOWN: i64 = i64::MAX;

    /// Records each batch it is given; fails batches containing a negative number (an item's
    /// fault) or `DOWN` (the sink is down: not worth isolating).
    struct Recorder {
        batches: Mutex<Vec<Vec<i64>>>,
        gate: tokio::sync::Semaphore,
    }

    impl BatchSink for Recorder {
        type Item = i64;
        type Output = i64;
        type Error = String;

        async fn flush(&self, items: Vec<i64>) -> Result<Vec<i64>, Failed<i64, String>> {
            let Ok(_permit) = self.gate.acquire().await else {
                return Err(Failed {
                    error: "closed".into(),
                    items,
                });
            };
            self.batches.lock().unwrap().push(items.clone());
            if items.contains(&DOWN) {
                return Err(Failed {
                    error: "down".into(),
                    items,
                });
            }
            if items.iter().any(|i| *i < 0) {
                return Err(Failed {
                    error: "negative".into(),
                    items,
                });
            }
            Ok(items.into_iter().map(|i| i * 10).collect())
        }

        fn isolate(&self, error: &String) -> bool {
            error != "down"
        }
    }

    fn recorder(permits: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            batches: Mutex::default(),
            gate: tokio::sync::Semaphore::new(permits),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_submits_share_one_commit() {
        let sink = recorder(1000);
        let (q, _w) = CommitQueue::start(sink.clone(), CommitQueueConfig::default());
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let q = q.clone();
                tokio::spawn(async move { q.submit(i).await })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), Ok(i as i64 * 10));
        }
        let batches = sink.batches.lock().unwrap();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(
            batches.len() < 100,
            "expected grouping, got {} batches",
            batches.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_batch_is_committed_again_item_by_item() {
        let sink = recorder(1000);
        let (q, _w) = CommitQueue::start(sink.clone(), CommitQueueConfig::default());
        let (a, b, c) = tokio::join!(q.submit(1), q.submit(-1), q.submit(3));
        assert_eq!(a, Ok(10));
        assert!(matches!(b, Err(CommitError::Failed(_))), "{b:?}");
        assert_eq!(c, Ok(30));
        assert_eq!(
            *sink.batches.lock().unwrap(),
            vec![vec![1, -1, 3], vec![1], vec![-1], vec![3]]
        );
        assert_eq!(q.submit(2).await, Ok(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sink_that_is_down_fails_each_waiter_at_once() {
        let sink = recorder(1000);
        let (q, _w) = CommitQueue::start(sink.clone(), CommitQueueConfig::default());
        let (a, b) = tokio::join!(q.submit(1), q.submit(DOWN));
        assert!(matches!(a, Err(CommitError::Failed(_))));
        assert!(matches!(b, Err(CommitError::Failed(_))));
        assert_eq!(
            sink.batches.lock().unwrap().len(),
            1,
            "no retries item by item"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_at_once() {
        // The sink never finishes, so nothing drains: capacity 2 + one batch in flight.
        let sink = recorder(0);
        let config = CommitQueueConfig {
            capacity: 2,
            max_batch: 1,
            ..Default::default()
        };
        let (q, _w) = CommitQueue::start(sink, config);
        let mut pending = Vec::new();
        for i in 0..3 {
            let q = q.clone();
            pending.push(tokio::spawn(async move { q.submit(i).await }));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(q.depth(), 2);
        assert_eq!(q.submit(9).await, Err(CommitError::Full));
    }
}
