//! The background half of ingest: applies bodies that were archived before their 200
//! (large history chunks), and replays any verified body left unapplied by a crash.
//!
//! Each body is normalised, its history messages are split into transactions of
//! `fanout_chunk` messages, and the last transaction marks the archive processed. A crash in
//! between is harmless: the body stays pending and is applied again, and the store
//! de-duplicates messages by wamid.
//!
//! Every piece waits for a background turn ([`CommitQueue::background_turn`]): it runs while
//! the commit writers are idle, or after [`MAX_WAIT`] between two live batches, so a live
//! webhook waits for at most one piece (on SQLite all writes share one connection), and a
//! history import still progresses under sustained live load. Under such load the import
//! lags; the benchmark reports by how much. A body that fails on its data (it would fail forever) is
//! marked processed with a change error saying why, so it does not hold back the bodies
//! after it.
//!
//! It also sweeps parked patches, as a cheap safety net. The store parks an edit, revoke or
//! media follow-up whose message is not stored yet, and the transaction that stores the
//! message applies it; on PostgreSQL both sides take the wamid's advisory lock, so a message
//! and its patch committed at the same moment by two processes do not miss each other. Should
//! a patch still be left parked (a database restored from a backup, a bug), the worker runs an
//! empty batch shortly after a patch was parked, and on every poll, which applies every
//! parked patch whose message exists.

use std::{sync::Arc, time::Duration};

use coex_core::model::{ArchiveId, ArchiveInput, HistoryChunk, Ingest, IngestBatch, IngestItem};
use coex_store::{SqlStore, Store, StoreError};
use tokio::sync::watch;

use super::{Ingestor, add_summary, events_of, quarantine_item};

#[cfg(doc)]
use super::commit_queue::CommitQueue;

/// Longest a background piece waits for the commit writers to go idle before it takes its
/// turn between two live batches anyway.
pub const MAX_WAIT: Duration = Duration::from_millis(100);

/// How often pending archives are looked for when nothing signalled (another process on the
/// same PostgreSQL may have archived them), and parked patches swept.
const POLL: Duration = Duration::from_secs(2);

/// How long after a patch was parked the sweep runs: time for a transaction storing its
/// message at the same moment to commit.
const SWEEP_DELAY: Duration = Duration::from_millis(100);

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
async fn sweep_parked(ingestor: &Ingestor) -> Result<(), StoreError> {
    let outcome = {
        let _turn = ingestor.background_turn(MAX_WAIT).await;
        ingestor
            .store()
            .apply_batch(&IngestBatch { items: Vec::new() })
            .await?
    };
    if outcome.summary.patches_applied > 0 {
        tracing::info!(
            patches = outcome.summary.patches_applied,
            "applied parked patches"
        );
    }
    ingestor.count(|t| add_summary(&mut t.store, &outcome.summary));
    if !outcome.appended.is_empty() {
        ingestor.notify_feed();
    }
    Ok(())
}

/// Applies every pending archive once; returns how many were applied.
pub async fn drain_once(ingestor: &Ingestor) -> Result<usize, StoreError> {
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
            let events = events_of(&archive.body, archive.received_at);
            let result = apply_in_pieces(
                store,
                ingestor,
                archive.id,
                archive.received_at,
                events,
                chunk,
            )
            .await;
            match result {
                Ok(()) => {}
                Err(e) if e.is_data_error() => {
                    tracing::error!(archive = %archive.id, error = %e, "a deferred webhook cannot be applied; kept with its error");
                    let item = quarantine_item(
                        archive.received_at,
                        ArchiveInput::Existing(archive.id),
                        &archive.body,
                        &e,
                    );
                    let outcome = {
                        let _turn = ingestor.background_turn(MAX_WAIT).await;
                        store
                            .apply_batch(&IngestBatch { items: vec![item] })
                            .await?
                    };
                    ingestor.count(|t| {
                        add_summary(&mut t.store, &outcome.summary);
                        t.quarantined += 1;
                    });
                    ingestor.notify_feed();
                }
                Err(e) => return Err(e),
            }
            applied += 1;
        }
    }
}

async fn apply_in_pieces(
    store: &SqlStore,
    ingestor: &Ingestor,
    archive: ArchiveId,
    received_at: coex_core::model::Timestamp,
    events: Vec<Ingest>,
    chunk: usize,
) -> Result<(), StoreError> {
    // Each piece, and whether it continues a chunk whose first piece came before.
    let mut pieces: Vec<(Vec<Ingest>, bool)> = Vec::new();
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
                    pieces.push((
                        vec![Ingest::HistoryChunk(HistoryChunk {
                            number: number.clone(),
                            phase,
                            chunk_order,
                            progress,
                            messages: std::mem::replace(&mut rest, tail),
                        })],
                        continuation,
                    ));
                    continuation = true;
                }
            }
            other => small.push(other),
        }
    }
    pieces.push((small, false));
    let last = pieces.len() - 1;
    for (i, (events, continuation)) in pieces.into_iter().enumerate() {
        let batch = IngestBatch {
            items: vec![IngestItem {
                received_at,
                archive: if i == last {
                    ArchiveInput::Existing(archive)
                } else {
                    ArchiveInput::None
                },
                events,
            }],
        };
        let mut outcome = {
            let _turn = ingestor.background_turn(MAX_WAIT).await;
            store.apply_batch(&batch).await?
        };
        if continuation {
            // The store saw the chunk's row, stored by the first piece: not a duplicate.
            outcome.summary.history_chunks_duplicate = 0;
        }
        ingestor.count(|t| add_summary(&mut t.store, &outcome.summary));
        if !outcome.appended.is_empty() {
            ingestor.notify_feed();
        }
        if outcome.summary.patches_pending > 0 {
            ingestor.sweep_signal().notify_one();
        }
    }
    Ok(())
}
