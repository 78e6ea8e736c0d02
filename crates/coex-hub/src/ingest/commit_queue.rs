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
//! Background work that writes to the same store (the history fan-out) goes through the same
//! writers, on a second, low-priority input ([`CommitQueue::submit_background`]). When no live
//! item is waiting, a writer commits up to [`BackgroundConfig::per_idle_batch`] background
//! items alone (a live item arriving meanwhile waits for that little). Under sustained live
//! load the writers are never idle, so once no background item was committed for
//! [`BackgroundConfig::max_wait`], a batch of live items takes up to
//! [`BackgroundConfig::per_live_batch`] background items along: they share its fsync, and the
//! background progresses without live items paying for it in every batch.
//!
//! One item must not sink the others it shares a transaction with: when a batch fails for a
//! reason that may lie in one item's content (not an unavailable store), its live items are
//! committed again together (when background items shared the batch, the likelier culprits),
//! then, if that fails too, every item is committed on its own, so only the item at fault
//! fails.

use std::{sync::Arc, time::Duration};

use tokio::sync::{mpsc, oneshot};

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

/// How background items share the live batches (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct BackgroundConfig {
    /// Background items waiting before [`CommitQueue::submit_background`] waits for room.
    pub capacity: usize,
    /// Most background items added to a batch that has live items.
    pub per_live_batch: usize,
    /// Most background items in a batch without live items.
    pub per_idle_batch: usize,
    /// How long background items wait at most for idle writers before they ride along with
    /// live batches.
    pub max_wait: Duration,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self {
            capacity: 64,
            per_live_batch: 1,
            per_idle_batch: 2,
            max_wait: Duration::from_millis(100),
        }
    }
}

struct Waiting<S: BatchSink> {
    item: S::Item,
    background: bool,
    // Why a oneshot: each submitter waits for exactly one answer about its own item.
    done: oneshot::Sender<Result<S::Output, CommitError>>,
}

/// The handle request handlers submit to; cheap to clone.
pub struct CommitQueue<S: BatchSink> {
    // Why a bounded mpsc: it is the queue itself, and its bound is the back-pressure that
    // turns overload into fast 503s.
    tx: mpsc::Sender<Waiting<S>>,
    // Why a second bounded mpsc: background items must never crowd out live ones, so they
    // queue apart; its bound makes a background submitter wait instead of piling up.
    background: mpsc::Sender<Waiting<S>>,
}

/// Both inputs, read by whichever writer gathers the next batch.
struct Inputs<S: BatchSink> {
    live: mpsc::Receiver<Waiting<S>>,
    background: mpsc::Receiver<Waiting<S>>,
    /// When background items were last taken into a batch.
    last_background: tokio::time::Instant,
}

impl<S: BatchSink> Clone for CommitQueue<S> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            background: self.background.clone(),
        }
    }
}

impl<S: BatchSink> std::fmt::Debug for CommitQueue<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("waiting", &self.depth())
            .field("background", &self.background_depth())
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
        Self::start_with_background(sink, config, BackgroundConfig::default())
    }

    /// [`Self::start`], with the background input tuned.
    pub fn start_with_background(
        sink: Arc<S>,
        config: CommitQueueConfig,
        background: BackgroundConfig,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, live) = mpsc::channel(config.capacity.max(1));
        let (bg_tx, bg_rx) = mpsc::channel(background.capacity.max(1));
        // Why a mutex around the receivers: several writers share one queue; whoever holds
        // the lock gathers the next batch, so batches never interleave items.
        let now = tokio::time::Instant::now();
        let inputs = Arc::new(tokio::sync::Mutex::new(Inputs {
            live,
            background: bg_rx,
            last_background: now.checked_sub(background.max_wait).unwrap_or(now),
        }));
        let writers = (0..config.writers.max(1))
            .map(|_| tokio::spawn(writer(sink.clone(), inputs.clone(), config, background)))
            .collect();
        (
            Self {
                tx,
                background: bg_tx,
            },
            writers,
        )
    }

    /// Queues `item` and waits until it is committed. Fails at once with
    /// [`CommitError::Full`] when the queue is full.
    pub async fn submit(&self, item: S::Item) -> Result<S::Output, CommitError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .try_send(Waiting {
                item,
                background: false,
                done,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommitError::Full,
                mpsc::error::TrySendError::Closed(_) => CommitError::Closed,
            })?;
        answer.await.map_err(|_| CommitError::Closed)?
    }

    /// Queues background work and waits until it is committed, beside live items or alone
    /// (see the module docs). Waits for room rather than failing when the input is full.
    pub async fn submit_background(&self, item: S::Item) -> Result<S::Output, CommitError> {
        let (done, answer) = oneshot::channel();
        self.background
            .send(Waiting {
                item,
                background: true,
                done,
            })
            .await
            .map_err(|_| CommitError::Closed)?;
        answer.await.map_err(|_| CommitError::Closed)?
    }

    /// Items waiting to be committed (a gauge for metrics).
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Background items waiting to be committed.
    pub fn background_depth(&self) -> usize {
        self.background.max_capacity() - self.background.capacity()
    }
}

async fn writer<S: BatchSink>(
    sink: Arc<S>,
    inputs: Arc<tokio::sync::Mutex<Inputs<S>>>,
    config: CommitQueueConfig,
    background: BackgroundConfig,
) {
    loop {
        let batch = {
            let mut inputs = inputs.lock().await;
            let Inputs {
                live,
                background: bg,
                last_background,
            } = &mut *inputs;
            // Why select! (biased): wait for whichever input has work, live first; a closed
            // input is skipped, and the writer stops once both are closed and empty.
            let first = tokio::select! {
                biased;
                Some(w) = live.recv() => w,
                Some(w) = bg.recv() => w,
                else => return,
            };
            let mut batch = Vec::with_capacity(config.max_batch.min(64));
            let started_live = !first.background;
            batch.push(first);
            if started_live {
                gather_live(live, &mut batch, config).await;
            } else {
                // Live items that are already here come along, without lingering for more.
                while batch.len() < config.max_batch {
                    match live.try_recv() {
                        Ok(w) => batch.push(w),
                        Err(_) => break,
                    }
                }
            }
            let has_live = batch.iter().any(|w| !w.background);
            let now = tokio::time::Instant::now();
            let budget = if !has_live {
                background.per_idle_batch.max(1)
            } else if now.duration_since(*last_background) >= background.max_wait {
                background.per_live_batch
            } else {
                0
            };
            let mut taken = batch.iter().filter(|w| w.background).count();
            while taken < budget {
                match bg.try_recv() {
                    Ok(w) => {
                        batch.push(w);
                        taken += 1;
                    }
                    Err(_) => break,
                }
            }
            if taken > 0 {
                *last_background = now;
            }
            batch
        };
        commit(&*sink, batch).await;
    }
}

/// Adds live items to `batch`: what is already queued, then whatever arrives within `linger`.
async fn gather_live<S: BatchSink>(
    live: &mut mpsc::Receiver<Waiting<S>>,
    batch: &mut Vec<Waiting<S>>,
    config: CommitQueueConfig,
) {
    let deadline = tokio::time::Instant::now() + config.linger;
    while batch.len() < config.max_batch {
        match live.try_recv() {
            Ok(w) => batch.push(w),
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Why select!: wait for the next item, but never past the linger deadline, so
                // a lone webhook is not held longer than `linger`.
                tokio::select! {
                    next = live.recv() => match next {
                        Some(w) => batch.push(w),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
    }
}

/// Commits one gathered batch and answers its waiters; isolates the item at fault when the
/// batch fails (see the module docs).
async fn commit<S: BatchSink>(sink: &S, batch: Vec<Waiting<S>>) {
    let Some(failed) = flush_group(sink, batch).await else {
        return;
    };
    let (live, background): (Vec<_>, Vec<_>) = failed.into_iter().partition(|w| !w.background);
    let mut singles = Vec::new();
    if live.len() > 1 && !background.is_empty() {
        if let Some(again) = flush_group(sink, live).await {
            singles.extend(again);
        }
    } else {
        singles.extend(live);
    }
    singles.extend(background);
    for w in singles {
        let Waiting { item, done, .. } = w;
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

/// Commits `batch` in one transaction and answers its waiters, unless it failed in a way worth
/// isolating (several items, handed back, and a sink that is up): then the items come back.
async fn flush_group<S: BatchSink>(sink: &S, batch: Vec<Waiting<S>>) -> Option<Vec<Waiting<S>>> {
    let count = batch.len();
    let mut items = Vec::with_capacity(count);
    let mut meta = Vec::with_capacity(count);
    for w in batch {
        items.push(w.item);
        meta.push((w.background, w.done));
    }
    let started = std::time::Instant::now();
    match sink.flush(items).await {
        Ok(outputs) => {
            tracing::debug!(
                items = count,
                background = meta.iter().filter(|(b, _)| *b).count(),
                ms = started.elapsed().as_secs_f64() * 1e3,
                "ingest batch committed"
            );
            answer(meta.into_iter().map(|(_, done)| done).collect(), outputs);
            None
        }
        Err(Failed { error, items })
            if count > 1 && items.len() == count && sink.isolate(&error) =>
        {
            tracing::warn!(%error, items = count, "commit batch failed; isolating the item at fault");
            Some(
                items
                    .into_iter()
                    .zip(meta)
                    .map(|(item, (background, done))| Waiting {
                        item,
                        background,
                        done,
                    })
                    .collect(),
            )
        }
        Err(f) => {
            let err = CommitError::Failed(f.error.to_string());
            tracing::warn!(%err, items = count, "commit batch failed");
            for (_, done) in meta {
                let _ = done.send(Err(err.clone()));
            }
            None
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
    async fn background_items_ride_along_a_bounded_number_per_batch() {
        let sink = recorder(1000);
        let background = BackgroundConfig {
            capacity: 16,
            per_live_batch: 1,
            per_idle_batch: 3,
            max_wait: Duration::from_millis(100),
        };
        let (q, _w) = CommitQueue::start_with_background(
            sink.clone(),
            CommitQueueConfig::default(),
            background,
        );
        let (live, b1, b2, b3, b4, b5) = tokio::join!(
            q.submit(100),
            q.submit_background(1),
            q.submit_background(2),
            q.submit_background(3),
            q.submit_background(4),
            q.submit_background(5),
        );
        assert_eq!(live, Ok(1000));
        assert_eq!([b1, b2, b3, b4, b5], [1, 2, 3, 4, 5].map(|i| Ok(i * 10)));
        assert_eq!(
            *sink.batches.lock().unwrap(),
            vec![vec![100, 1], vec![2, 3, 4], vec![5]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_background_item_costs_its_live_batch_one_retry() {
        let sink = recorder(1000);
        let (q, _w) = CommitQueue::start(sink.clone(), CommitQueueConfig::default());
        let (a, b, c) = tokio::join!(q.submit(1), q.submit(3), q.submit_background(-1));
        assert_eq!(a, Ok(10));
        assert_eq!(b, Ok(30));
        assert!(matches!(c, Err(CommitError::Failed(_))), "{c:?}");
        assert_eq!(
            *sink.batches.lock().unwrap(),
            vec![vec![1, 3, -1], vec![1, 3], vec![-1]]
        );
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
