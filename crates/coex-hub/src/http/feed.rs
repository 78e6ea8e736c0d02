//! The live feed: a workspace's stored events as server-sent events, resuming after the
//! `Last-Event-ID` header (or `?after=`), so a browser or a script never misses one.
//!
//! Events are read from the store (the outbox table), not from memory, so every process of a
//! cluster serves the same feed. A local commit wakes the stream at once; a commit made by
//! another process is picked up by the poll interval.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use coex_core::model::{EventSeq, WorkspaceId};
use coex_store::Store;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::{AppState, api::workspace_id, error::ApiError};

/// How often the feed looks for events committed by other processes.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    after: Option<i64>,
}

struct Cursor {
    state: AppState,
    workspace: WorkspaceId,
    after: EventSeq,
    pending: std::collections::VecDeque<Event>,
    ticks: tokio::sync::watch::Receiver<u64>,
}

/// `GET /v1/workspaces/{id}/events`: `text/event-stream` of stored events, `id` = sequence.
pub async fn stream(
    State(state): State<AppState>,
    Path(workspace): Path<i64>,
    Query(q): Query<FeedQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request("bad_last_event_id", "Last-Event-ID must be an integer")
            })
        })
        .transpose()?;
    let after = EventSeq::new(resume.or(q.after).unwrap_or(0));
    let ticks = state.ingest.feed_ticks();
    let cursor = Cursor {
        state,
        workspace: workspace_id(workspace),
        after,
        pending: Default::default(),
        ticks,
    };
    let events = stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(ev) = c.pending.pop_front() {
                return Some((Ok(ev), c));
            }
            if *c.state.shutdown.borrow() {
                return None;
            }
            match c.state.store.events_after(c.workspace, c.after, 200).await {
                Ok(batch) if !batch.is_empty() => {
                    for e in batch {
                        c.after = e.seq;
                        let data = serde_json::to_string(&e).unwrap_or_else(|_| "{}".into());
                        c.pending.push_back(
                            Event::default()
                                .id(e.seq.get().to_string())
                                .event(e.kind.as_str())
                                .data(data),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "event feed read failed; retrying"),
            }
            let mut shutdown = c.state.shutdown.clone();
            // Why select!: wake on a local commit, the poll interval (other processes'
            // commits), or shutdown, whichever comes first.
            tokio::select! {
                _ = c.ticks.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
