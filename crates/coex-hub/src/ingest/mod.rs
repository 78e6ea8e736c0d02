//! Webhook ingest: verify (in the HTTP layer), parse, normalise, commit (grouped), then
//! acknowledge.
//!
//! Small bodies go through the [`CommitQueue`]: parsed, normalised and applied with their raw
//! archive in one grouped transaction before Meta gets its 200. Large bodies (history chunks
//! of up to 3 MB, thousands of messages) are only archived before the 200, and the
//! [`fanout`] worker applies them afterwards in small transactions, so a big import neither
//! delays its own acknowledgement nor slows live traffic.

pub mod commit_queue;
pub mod fanout;
pub mod normalize;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coex_core::model::{
    ArchiveInput, ChangeError, Ingest, IngestBatch, IngestItem, RawJson, RawWebhook, Timestamp,
};
use coex_meta::webhook::{ParseError, parse_notification};
use coex_store::{BatchSummary, SqlStore, Store};
use serde::Serialize;
use tokio::sync::Notify;

use self::commit_queue::{BatchSink, CommitError, CommitQueue, CommitQueueConfig};

/// Why a webhook was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The commit queue is full: the store is not keeping up. Meta will retry.
    #[error("ingest is over capacity")]
    Busy,
    #[error("ingest is shutting down")]
    ShuttingDown,
    #[error("the store failed: {0}")]
    Store(String),
}

/// What the webhook endpoint answers with its 200.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReceipt {
    /// The archive id of the raw body.
    pub archive: Option<i64>,
    /// Domain events found in the body (0 when applied later).
    pub events: usize,
    /// The body was archived and will be applied in the background.
    pub deferred: bool,
}

/// Tuning of ingest.
#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    pub queue: CommitQueueConfig,
    /// Bodies at least this large are archived first and applied in the background.
    pub defer_bytes: usize,
    /// Most history messages applied in one background transaction.
    pub fanout_chunk: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            queue: CommitQueueConfig::default(),
            defer_bytes: 256 * 1024,
            fanout_chunk: 500,
        }
    }
}

/// Where "now" comes from; injected so tests control time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Counts since start, for metrics and for the benchmark's
/// `acked == stored_unique + duplicates_ignored` check.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct IngestTotals {
    pub acked: u64,
    pub deferred: u64,
    pub refused_busy: u64,
    pub store: BatchSummary,
}

/// The ingest pipeline of one hub process.
pub struct Ingestor {
    queue: CommitQueue<StoreSink>,
    store: SqlStore,
    clock: Clock,
    config: IngestConfig,
    totals: Arc<Mutex<IngestTotals>>,
    /// Wakes the fan-out worker when a deferred body was archived.
    deferred: Arc<Notify>,
    /// Bumped after every commit, so live feeds look for new events at once.
    feed: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("queue", &self.queue)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    /// Starts the commit writers. The fan-out worker is started separately
    /// ([`fanout::run`]) so that its lifetime follows the server's shutdown signal.
    pub fn start(store: SqlStore, config: IngestConfig, clock: Clock) -> Self {
        let totals = Arc::new(Mutex::new(IngestTotals::default()));
        // Why a watch channel: feeds only need "something was committed since you looked".
        let (feed, _) = tokio::sync::watch::channel(0u64);
        let sink = Arc::new(StoreSink {
            store: store.clone(),
            totals: totals.clone(),
            feed: feed.clone(),
        });
        let (queue, _writers) = CommitQueue::start(sink, config.queue);
        Self {
            queue,
            store,
            clock,
            config,
            totals,
            deferred: Arc::new(Notify::new()),
            feed,
        }
    }

    /// Takes a verified body and returns once it is durably stored.
    pub async fn accept(&self, body: Bytes) -> Result<IngestReceipt, IngestError> {
        let received_at = (self.clock)();
        if body.len() >= self.config.defer_bytes {
            let raw = RawWebhook {
                body: body.to_vec(),
                signature_ok: true,
                received_at,
            };
            let id = self
                .store
                .archive_webhook(&raw)
                .await
                .map_err(|e| IngestError::Store(e.to_string()))?;
            self.deferred.notify_one();
            self.count(|t| {
                t.acked += 1;
                t.deferred += 1;
            });
            return Ok(IngestReceipt {
                archive: Some(id.get()),
                events: 0,
                deferred: true,
            });
        }
        let events = events_of(&body, received_at);
        let count = events.len();
        let item = IngestItem {
            received_at,
            archive: ArchiveInput::New(RawWebhook {
                body: body.to_vec(),
                signature_ok: true,
                received_at,
            }),
            events,
        };
        match self.queue.submit(item).await {
            Ok(archive) => {
                self.count(|t| t.acked += 1);
                Ok(IngestReceipt {
                    archive: archive.map(|a| a.get()),
                    events: count,
                    deferred: false,
                })
            }
            Err(CommitError::Full) => {
                self.count(|t| t.refused_busy += 1);
                Err(IngestError::Busy)
            }
            Err(CommitError::Closed) => Err(IngestError::ShuttingDown),
            Err(CommitError::Failed(e)) => Err(IngestError::Store(e)),
        }
    }

    /// Webhooks waiting for a commit.
    pub fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    pub fn totals(&self) -> IngestTotals {
        // A poisoned lock only means a panic elsewhere mid-update; the counts are still usable.
        *self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that changes after every local commit.
    pub fn feed_ticks(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }

    pub(crate) fn notify_feed(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn deferred_signal(&self) -> Arc<Notify> {
        self.deferred.clone()
    }

    pub(crate) fn store(&self) -> &SqlStore {
        &self.store
    }

    pub(crate) fn config(&self) -> IngestConfig {
        self.config
    }

    fn count(&self, f: impl FnOnce(&mut IngestTotals)) {
        // Why a std mutex: a few integer updates, never held across an await.
        f(&mut self.totals.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Parses and normalises a body; a body that is not a notification becomes one
/// [`ChangeError`] so it is kept (archived, visible) rather than refused: Meta signed it, and a
/// refusal would only make Meta retry it for days.
pub(crate) fn events_of(body: &[u8], received_at: Timestamp) -> Vec<Ingest> {
    match parse_notification(body) {
        Ok(n) => normalize::normalize(&n, received_at),
        Err(e) => {
            let error = match &e {
                ParseError::Json { line, column, .. } => {
                    format!("malformed JSON at line {line}, column {column}: {e}")
                }
                ParseError::Shape(_) => format!("not a webhook notification: {e}"),
            };
            vec![Ingest::ChangeError(ChangeError {
                waba: None,
                number: None,
                field: None,
                error,
                raw: RawJson::new(String::from_utf8_lossy(body)),
            })]
        }
    }
}

/// Commits batches to the store and keeps the running totals.
struct StoreSink {
    store: SqlStore,
    totals: Arc<Mutex<IngestTotals>>,
    feed: tokio::sync::watch::Sender<u64>,
}

impl BatchSink for StoreSink {
    type Item = IngestItem;
    type Output = Option<coex_core::model::ArchiveId>;
    type Error = coex_store::StoreError;

    async fn flush(&self, items: Vec<IngestItem>) -> Result<Vec<Self::Output>, Self::Error> {
        let batch = IngestBatch { items };
        let outcome = self.store.apply_batch(&batch).await?;
        add_summary(
            &mut self.totals.lock().unwrap_or_else(|p| p.into_inner()).store,
            &outcome.summary,
        );
        if !outcome.appended.is_empty() {
            self.feed.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(outcome.archives)
    }
}

/// Adds `b` into `a`, field by field.
pub(crate) fn add_summary(a: &mut BatchSummary, b: &BatchSummary) {
    // Both are plain counters; going through JSON keeps this correct when fields are added.
    let (Ok(serde_json::Value::Object(mut x)), Ok(serde_json::Value::Object(y))) =
        (serde_json::to_value(*a), serde_json::to_value(b))
    else {
        return;
    };
    for (k, v) in y {
        let sum = x.get(&k).and_then(|v| v.as_u64()).unwrap_or(0) + v.as_u64().unwrap_or(0);
        x.insert(k, sum.into());
    }
    if let Ok(sum) = serde_json::from_value(serde_json::Value::Object(x)) {
        *a = sum;
    }
}
