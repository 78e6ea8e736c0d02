//! Webhook ingest: verify (in the HTTP layer), parse, normalise, commit (grouped), then
//! acknowledge.
//!
//! Small bodies go through the [`CommitQueue`]: parsed, normalised and applied with their raw
//! archive in one grouped transaction before Meta gets its 200. Large bodies (history chunks
//! of up to 3 MB, thousands of messages) are only archived before the 200, and the
//! [`fanout`] worker applies them afterwards in small pieces, which the commit writers take
//! while idle or, under sustained load, now and then along with a live batch (sharing its
//! fsync), so a big import neither delays its own acknowledgement nor slows live traffic much.
//!
//! A body the store can never take (a NUL character PostgreSQL text refuses, an id too long
//! for an index) would otherwise fail on every one of Meta's retries for seven days, and take
//! the webhooks it shares a transaction with down too. So NUL escapes are replaced before
//! parsing, a failed batch is committed again item by item ([`commit_queue`]), and a body
//! that still fails on its data is kept with its error (archived, listed as a change error)
//! and acknowledged, like a body that does not parse.

pub mod commit_queue;
pub mod fanout;
pub mod normalize;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coex_core::model::{
    ArchiveInput, ChangeError, Ingest, IngestBatch, IngestItem, RawJson, RawWebhook, Timestamp,
};
use coex_meta::webhook::{ParseError, parse_notification};
use coex_store::{BatchSummary, SqlStore, Store, StoreError, archive_body};
use serde::Serialize;
use tokio::sync::Notify;

use self::commit_queue::{
    BackgroundConfig, BatchSink, CommitError, CommitQueue, CommitQueueConfig, Failed,
};

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
    /// Bodies at least this large, and bodies with more history messages than
    /// `fanout_chunk`, are archived first and applied in the background.
    pub defer_bytes: usize,
    /// History messages per background piece.
    pub fanout_chunk: usize,
    /// How pieces share the commit writers' batches.
    pub background: BackgroundConfig,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            queue: CommitQueueConfig::default(),
            defer_bytes: 256 * 1024,
            fanout_chunk: 100,
            background: BackgroundConfig::default(),
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
    /// Bodies the store could not apply, kept with their error instead.
    pub quarantined: u64,
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
    /// Wakes the fan-out worker to sweep parked patches (see [`fanout`]).
    sweep: Arc<Notify>,
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

/// Bodies from this size on are compressed on a blocking thread rather than the request's.
const PACK_INLINE_BELOW: usize = 64 * 1024;

/// Packs a verified body for the archive before it joins the commit queue, so the single
/// writer only copies bytes. A large one (a history chunk of up to 3 MB takes a few ms) is
/// packed on a blocking thread so it does not stall the other requests on this worker.
async fn pack(body: Bytes, received_at: Timestamp) -> Result<RawWebhook, IngestError> {
    if body.len() < PACK_INLINE_BELOW {
        return Ok(archive_body::pack(&body, true, received_at));
    }
    tokio::task::spawn_blocking(move || archive_body::pack(&body, true, received_at))
        .await
        .map_err(|e| {
            if e.is_cancelled() {
                IngestError::ShuttingDown
            } else {
                IngestError::Store(format!("packing the body for the archive failed: {e}"))
            }
        })
}

impl Ingestor {
    /// Starts the commit writers. The fan-out worker is started separately
    /// ([`fanout::run`]) so that its lifetime follows the server's shutdown signal.
    pub fn start(store: SqlStore, config: IngestConfig, clock: Clock) -> Self {
        let totals = Arc::new(Mutex::new(IngestTotals::default()));
        // Why a watch channel: feeds only need "something was committed since you looked".
        let (feed, _) = tokio::sync::watch::channel(0u64);
        // Why a Notify: "sweep soon" needs no payload, and many requests collapse into one.
        let sweep = Arc::new(Notify::new());
        let sink = Arc::new(StoreSink {
            store: store.clone(),
            totals: totals.clone(),
            feed: feed.clone(),
            sweep: sweep.clone(),
        });
        let (queue, _writers) =
            CommitQueue::start_with_background(sink, config.queue, config.background);
        Self {
            queue,
            store,
            clock,
            config,
            totals,
            deferred: Arc::new(Notify::new()),
            sweep,
            feed,
        }
    }

    /// Takes a verified body and returns once it is durably stored.
    pub async fn accept(&self, body: Bytes) -> Result<IngestReceipt, IngestError> {
        let received_at = (self.clock)();
        let events = (body.len() < self.config.defer_bytes).then(|| events_of(&body, received_at));
        // A body carrying more history than one background piece is deferred whatever its
        // size: applied inline, its messages would hold up every webhook of its commit.
        let history: usize = events.iter().flatten().map(history_messages).sum();
        let Some(events) = events.filter(|_| history <= self.config.fanout_chunk.max(1)) else {
            // Archived in the next grouped commit (sharing its fsync with live webhooks rather
            // than taking the single SQLite writer for a transaction of its own).
            let item = IngestItem {
                received_at,
                archive: ArchiveInput::Deferred(pack(body, received_at).await?),
                events: Vec::new(),
            };
            let id = self.submit(item).await?;
            self.deferred.notify_one();
            self.count(|t| {
                t.acked += 1;
                t.deferred += 1;
            });
            return Ok(IngestReceipt {
                archive: id.map(|a| a.get()),
                events: 0,
                deferred: true,
            });
        };
        let count = events.len();
        let item = IngestItem {
            received_at,
            archive: ArchiveInput::New(pack(body, received_at).await?),
            events,
        };
        let archive = self.submit(item).await?;
        self.count(|t| t.acked += 1);
        Ok(IngestReceipt {
            archive: archive.map(|a| a.get()),
            events: count,
            deferred: false,
        })
    }

    /// Commits one item through the queue; returns its archive id.
    async fn submit(
        &self,
        item: IngestItem,
    ) -> Result<Option<coex_core::model::ArchiveId>, IngestError> {
        let work = Work { item, piece: None };
        match self.queue.submit(work).await {
            Ok(Ok(archive)) => Ok(archive),
            Ok(Err(e)) => Err(IngestError::Store(e.to_string())),
            Err(CommitError::Full) => {
                self.count(|t| t.refused_busy += 1);
                Err(IngestError::Busy)
            }
            Err(CommitError::Closed) => Err(IngestError::ShuttingDown),
            Err(CommitError::Failed(e)) => Err(IngestError::Store(e)),
        }
    }

    /// The hub's clock (injected, so tests control it).
    pub fn now(&self) -> Timestamp {
        (self.clock)()
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

    pub(crate) fn deferred_signal(&self) -> Arc<Notify> {
        self.deferred.clone()
    }

    pub(crate) fn sweep_signal(&self) -> Arc<Notify> {
        self.sweep.clone()
    }

    /// Background pieces waiting for a commit writer.
    pub fn background_depth(&self) -> usize {
        self.queue.background_depth()
    }

    /// Commits background work beside live batches (see [`CommitQueue::submit_background`]);
    /// a store error of this item alone comes back as such (so the caller can tell a data
    /// error), a failure of the queue or of a whole batch as [`CommitError`].
    pub(crate) async fn submit_background(
        &self,
        item: IngestItem,
        piece: Piece,
    ) -> Result<Result<Option<coex_core::model::ArchiveId>, StoreError>, CommitError> {
        self.queue
            .submit_background(Work {
                item,
                piece: Some(piece),
            })
            .await
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

/// JSON's escape for the NUL character.
const NUL_ESCAPE: &[u8] = b"\\u0000";

/// The body with every `\u0000` escape replaced by `\ufffd` (the replacement character). A
/// NUL means nothing in a message and PostgreSQL text cannot hold one; the archive keeps the
/// original bytes. Outside strings a backslash is not valid JSON, so no string tracking is
/// needed: escapes are skipped two bytes at a time, so `\\u0000` (an escaped backslash) stays.
fn without_nul_escapes(body: &[u8]) -> Cow<'_, [u8]> {
    if !body.windows(NUL_ESCAPE.len()).any(|w| w == NUL_ESCAPE) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            out.push(body[i]);
            i += 1;
        } else if body[i..].starts_with(NUL_ESCAPE) {
            out.extend_from_slice(b"\\ufffd");
            i += NUL_ESCAPE.len();
        } else {
            let end = (i + 2).min(body.len());
            out.extend_from_slice(&body[i..end]);
            i = end;
        }
    }
    Cow::Owned(out)
}

/// At most this much of a body is copied into a change error (its archive keeps it whole).
const RAW_EXCERPT: usize = 64 * 1024;

/// A body as text the store can hold in a change error: lossy UTF-8, NULs replaced, cut to
/// [`RAW_EXCERPT`] bytes.
fn raw_excerpt(body: &[u8]) -> RawJson {
    let text = String::from_utf8_lossy(&body[..body.len().min(RAW_EXCERPT)]);
    RawJson::new(text.replace('\0', "\u{FFFD}"))
}

/// History messages an event carries (the rest carry none).
fn history_messages(event: &Ingest) -> usize {
    match event {
        Ingest::HistoryChunk(h) => h.messages.len(),
        _ => 0,
    }
}

/// Parses and normalises a body; a body that is not a notification becomes one
/// [`ChangeError`] so it is kept (archived, visible) rather than refused: Meta signed it, and a
/// refusal would only make Meta retry it for days.
pub(crate) fn events_of(body: &[u8], received_at: Timestamp) -> Vec<Ingest> {
    match parse_notification(&without_nul_escapes(body)) {
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
                raw: raw_excerpt(body),
            })]
        }
    }
}

/// The item that replaces one the store could not apply: the same archive, and one change
/// error saying why, so the body is kept for replay and shown, and Meta stops retrying it.
pub(crate) fn quarantine_item(
    received_at: Timestamp,
    archive: ArchiveInput,
    body: &[u8],
    error: &StoreError,
) -> IngestItem {
    IngestItem {
        received_at,
        archive,
        events: vec![Ingest::ChangeError(ChangeError {
            waba: None,
            number: None,
            field: None,
            error: format!(
                "the store could not apply this webhook ({error}); its body is archived for replay"
            ),
            raw: raw_excerpt(body),
        })],
    }
}

/// What kind of background piece an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Background work that is not the continuation of a split history chunk.
    Whole,
    /// A later piece of a history chunk split in pieces: the store sees the chunk's row,
    /// stored by the first piece, and counts a duplicate chunk, which is not one.
    Continuation,
}

/// One item of the commit queue: a live webhook, or a background piece.
pub(crate) struct Work {
    item: IngestItem,
    piece: Option<Piece>,
}

/// Commits batches to the store and keeps the running totals.
struct StoreSink {
    store: SqlStore,
    totals: Arc<Mutex<IngestTotals>>,
    feed: tokio::sync::watch::Sender<u64>,
    sweep: Arc<Notify>,
}

impl StoreSink {
    async fn apply(
        &self,
        batch: &IngestBatch,
        continuations: u64,
    ) -> Result<Vec<Option<coex_core::model::ArchiveId>>, StoreError> {
        let mut outcome = self.store.apply_batch(batch).await?;
        outcome.summary.history_chunks_duplicate = outcome
            .summary
            .history_chunks_duplicate
            .saturating_sub(continuations);
        add_summary(
            &mut self.totals.lock().unwrap_or_else(|p| p.into_inner()).store,
            &outcome.summary,
        );
        if !outcome.appended.is_empty() {
            self.feed.send_modify(|n| *n = n.wrapping_add(1));
        }
        if outcome.summary.patches_pending > 0 {
            self.sweep.notify_one();
        }
        Ok(outcome.archives)
    }
}

impl BatchSink for StoreSink {
    type Item = Work;
    /// The archive id; an error only for a lone background item (see
    /// [`Ingestor::submit_background`]).
    type Output = Result<Option<coex_core::model::ArchiveId>, StoreError>;
    type Error = StoreError;

    async fn flush(&self, items: Vec<Work>) -> Result<Vec<Self::Output>, Failed<Work, StoreError>> {
        let continuations = items
            .iter()
            .filter(|w| w.piece == Some(Piece::Continuation))
            .count() as u64;
        let lone_piece = items.len() == 1 && items.iter().all(|w| w.piece.is_some());
        let pieces: Vec<Option<Piece>> = items.iter().map(|w| w.piece).collect();
        let batch = IngestBatch {
            items: items.into_iter().map(|w| w.item).collect(),
        };
        let error = match self.apply(&batch, continuations).await {
            Ok(archives) => return Ok(archives.into_iter().map(Ok).collect()),
            Err(e) => e,
        };
        if lone_piece && error.is_data_error() {
            // The background worker keeps the body with its error itself.
            return Ok(vec![Err(error)]);
        }
        // A lone webhook that fails on its data would fail on every retry: keep it with its
        // error instead. (A batch of several is first split by the queue.)
        if let [item] = batch.items.as_slice()
            && !lone_piece
            && error.is_data_error()
        {
            let body = match &item.archive {
                ArchiveInput::New(raw) | ArchiveInput::Deferred(raw) => raw.body.as_slice(),
                _ => &[],
            };
            let replacement = IngestBatch {
                items: vec![quarantine_item(
                    item.received_at,
                    item.archive.clone(),
                    body,
                    &error,
                )],
            };
            tracing::error!(%error, "a webhook cannot be applied; kept with its error");
            match self.apply(&replacement, 0).await {
                Ok(archives) => {
                    self.totals
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .quarantined += 1;
                    return Ok(archives.into_iter().map(Ok).collect());
                }
                Err(e) => tracing::error!(error = %e, "keeping the webhook with its error failed"),
            }
        }
        Err(Failed {
            error,
            items: batch
                .items
                .into_iter()
                .zip(pieces)
                .map(|(item, piece)| Work { item, piece })
                .collect(),
        })
    }

    fn isolate(&self, error: &StoreError) -> bool {
        !matches!(error, StoreError::Unavailable(_))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_replaced_and_nothing_else() {
        let body = br#"{"a":"x\u0000y","b":"\\u0000","c":"\"\u0000"}"#;
        let clean = without_nul_escapes(body);
        assert_eq!(
            std::str::from_utf8(&clean).unwrap(),
            r#"{"a":"x\ufffdy","b":"\\u0000","c":"\"\ufffd"}"#
        );
        let v: serde_json::Value = serde_json::from_slice(&clean).unwrap();
        assert_eq!(v["a"], "x\u{FFFD}y");
        assert_eq!(v["b"], "\\u0000");
        assert!(matches!(without_nul_escapes(b"{}"), Cow::Borrowed(_)));
    }

    #[test]
    fn change_errors_hold_no_nul_and_only_an_excerpt() {
        let mut body = b"{\"x\":\0".to_vec();
        body.extend(std::iter::repeat_n(b' ', RAW_EXCERPT * 2));
        let raw = raw_excerpt(&body);
        assert!(!raw.as_str().contains('\0'));
        assert!(raw.as_str().len() <= RAW_EXCERPT + 2);
    }
}
