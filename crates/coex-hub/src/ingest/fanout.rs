//! The background half of ingest: applies bodies that were archived before their 200
//! (large history chunks), and replays any verified body left unapplied by a crash.
//!
//! Each body is normalised and its history messages are split into pieces of `fanout_chunk`
//! messages, which go to the commit writers' background input
//! ([`CommitQueue::submit_background`]): they are committed a few per transaction while no
//! webhook waits, and under sustained live load ride along with a live batch now and then
//! (sharing its fsync rather than taking the single SQLite writer for a transaction of their
//! own), so a live webhook waits for a bounded amount of history. Under sustained live load the
//! import lags; the benchmark reports by how much.
//!
//! The first piece of each split chunk commits before its other pieces are submitted (it
//! stores the chunk's row, so the others are counted as its continuations), the other pieces
//! are submitted together, and the piece that marks the archive processed goes last, after
//! every other piece committed. A crash in between is harmless: the body stays pending and is
//! applied again, and the store de-duplicates messages by wamid. A body that fails on its data
//! (it would fail forever) is marked processed with a change error saying why, so it does not
//! hold back the bodies after it.
//!
//! It also sweeps parked patches, as a cheap safety net. The store parks an edit, revoke or
//! media follow-up whose message is not stored yet, and the transaction that stores the
//! message applies it; on PostgreSQL both sides take the wamid's advisory lock, so a message
//! and its patch committed at the same moment by two processes do not miss each other. Should
//! a patch still be left parked (a database restored from a backup, a bug), the worker runs an
//! empty batch shortly after a patch was parked, and on every poll; every batch applies every
//! parked patch whose message exists.

use std::{sync::Arc, time::Duration};

use coex_core::model::{ArchiveId, ArchiveInput, HistoryChunk, Ingest, IngestItem, Timestamp};
use coex_store::{Store, StoreError};
use futures_util::future::join_all;
use tokio::sync::watch;

use super::commit_queue::CommitError;
use super::{Ingestor, Piece, events_of, quarantine_item};

#[cfg(doc)]
use super::commit_queue::CommitQueue;

/// How often pending archives are looked for when nothing signalled (another process on the
/// same PostgreSQL may have archived them), and parked patches swept.
const POLL: Duration = Duration::from_secs(2);

/// How long after a patch was parked the sweep runs: time for a transaction storing its
/// message at the same moment to commit.
const SWEEP_DELAY: Duration = Duration::from_millis(100);

/// Why a round of fan-out stopped (it is tried again later).
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] CommitError),
    #[error("parsing a deferred body failed: {0}")]
    Parse(#[from] tokio::task::JoinError),
}

/// Runs until `shutdown` turns true.
pub async fn run(ingestor: Arc<Ingestor>, mut shutdown: watch::Receiver<bool>) {
    let signal = ingestor.deferred_signal();
    let sweep = ingestor.sweep_signal();
    loop {
        match drain_once(&ingestor).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(bodies = n, "applied deferred webhooks");
                continue;
            }
            Err(e) => tracing::warn!(error = %e, "deferred ingest failed; will retry"),
        }
        if let Err(e) = sweep_parked(&ingestor).await {
            tracing::warn!(error = %e, "sweeping parked patches failed; will retry");
        }
        // Why select!: wake on a new deferred body, a parked patch (after a short delay), the
        // poll interval, or shutdown, whichever comes first.
        tokio::select! {
            _ = signal.notified() => {}
            _ = sweep.notified() => tokio::time::sleep(SWEEP_DELAY).await,
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Runs an empty batch: the store applies every parked patch whose message now exists.
async fn sweep_parked(ingestor: &Ingestor) -> Result<(), FanoutError> {
    let item = IngestItem {
        received_at: ingestor.now(),
        archive: ArchiveInput::None,
        events: Vec::new(),
    };
    ingestor.submit_background(item, Piece::Whole).await??;
    Ok(())
}

/// Applies every pending archive once; returns how many were applied.
pub async fn drain_once(ingestor: &Ingestor) -> Result<usize, FanoutError> {
    let store = ingestor.store();
    let chunk = ingestor.config().fanout_chunk.max(1);
    let mut after = None;
    let mut applied = 0;
    loop {
        let pending = store.pending_archives(after, 16).await?;
        let Some(last) = pending.last() else {
            return Ok(applied);
        };
        after = Some(last.id);
        for archive in pending {
            let (id, received_at) = (archive.id, archive.received_at);
            // Parsing up to 3 MB of JSON is CPU work of tens of milliseconds: off the runtime's
            // workers, which answer the webhooks meanwhile.
            let body = archive.body;
            let (body, events) = tokio::task::spawn_blocking(move || {
                let events = events_of(&body, received_at);
                (body, events)
            })
            .await?;
            let result = apply_in_pieces(ingestor, id, received_at, events, chunk).await;
            match result {
                Ok(()) => {}
                Err(FanoutError::Store(e)) if e.is_data_error() => {
                    tracing::error!(archive = %id, error = %e, "a deferred webhook cannot be applied; kept with its error");
                    let item = quarantine_item(received_at, ArchiveInput::Existing(id), &body, &e);
                    ingestor.submit_background(item, Piece::Whole).await??;
                    ingestor.count(|t| t.quarantined += 1);
                }
                Err(e) => return Err(e),
            }
            applied += 1;
        }
    }
}

/// Splits a body's events into pieces and commits them through the background input: first
/// pieces, then continuations, then the piece that marks the archive processed.
async fn apply_in_pieces(
    ingestor: &Ingestor,
    archive: ArchiveId,
    received_at: Timestamp,
    events: Vec<Ingest>,
    chunk: usize,
) -> Result<(), FanoutError> {
    let mut firsts = Vec::new();
    let mut continuations = Vec::new();
    let mut small = Vec::new();
    for event in events {
        match event {
            Ingest::HistoryChunk(h) if h.messages.len() > chunk => {
                let HistoryChunk {
                    number,
                    phase,
                    chunk_order,
                    progress,
                    messages,
                } = h;
                let mut rest = messages;
                let mut continuation = false;
                while !rest.is_empty() {
                    let tail = rest.split_off(rest.len().min(chunk));
                    let piece = vec![Ingest::HistoryChunk(HistoryChunk {
                        number: number.clone(),
                        phase,
                        chunk_order,
                        progress,
                        messages: std::mem::replace(&mut rest, tail),
                    })];
                    if continuation {
                        continuations.push(piece);
                    } else {
                        firsts.push(piece);
                    }
                    continuation = true;
                }
            }
            other => small.push(other),
        }
    }
    let item = |events: Vec<Ingest>, archive: ArchiveInput| IngestItem {
        received_at,
        archive,
        events,
    };
    for (group, piece) in [(firsts, Piece::Whole), (continuations, Piece::Continuation)] {
        let results = join_all(
            group
                .into_iter()
                .map(|events| ingestor.submit_background(item(events, ArchiveInput::None), piece)),
        )
        .await;
        for r in results {
            piece_result(r)?;
        }
    }
    piece_result(
        ingestor
            .submit_background(item(small, ArchiveInput::Existing(archive)), Piece::Whole)
            .await,
    )
}

/// One piece's outcome: a store error of the piece alone, or a failure of the queue or of a
/// whole batch (not the data's fault: retried later).
fn piece_result(
    r: Result<Result<Option<ArchiveId>, StoreError>, CommitError>,
) -> Result<(), FanoutError> {
    Ok(r?.map(|_| ())?)
}
