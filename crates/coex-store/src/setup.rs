//! Registration: workspaces, WABAs, numbers and sync requests, upserted by their natural keys
//! so every hub process can run them at start-up, concurrently, any number of times.

use coex_core::model::{
    MetaError, NewNumber, Number, SyncJob, SyncKind, Timestamp, Waba, Workspace, WorkspaceId,
    WorkspaceSlug,
};
use coex_core::{PhoneNumberId, RequestId, WabaId};

use crate::db::{Conn, args};
use crate::read::{NUMBER_COLS, number_from, sync_job, waba_from, workspace_from};
use crate::{Result, StoreError};

pub(crate) async fn ensure_workspace(
    c: &mut Conn<'_>,
    slug: &WorkspaceSlug,
    name: &str,
    now: Timestamp,
) -> Result<Workspace> {
    let row = c
        .one(
            "INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (slug) DO UPDATE SET name = excluded.name \
             RETURNING id, slug, name, created_at",
            args![slug.as_str(), name, now],
        )
        .await?;
    workspace_from(&row)
}

pub(crate) async fn upsert_waba(
    c: &mut Conn<'_>,
    ws: WorkspaceId,
    waba: &WabaId,
    name: Option<&str>,
    now: Timestamp,
) -> Result<Waba> {
    let exists = c
        .opt("SELECT id FROM workspaces WHERE id = $1", args![ws])
        .await?;
    if exists.is_none() {
        return Err(StoreError::not_found("workspace", ws));
    }
    c.exec(
        "INSERT INTO wabas (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET name = COALESCE(excluded.name, wabas.name) \
         WHERE wabas.workspace_id = excluded.workspace_id",
        args![waba, ws, name, now],
    )
    .await?;
    let row = c
        .one(
            "SELECT id, workspace_id, name, created_at FROM wabas WHERE id = $1",
            args![waba],
        )
        .await?;
    let stored = waba_from(&row)?;
    if stored.workspace != ws {
        return Err(StoreError::Conflict(format!(
            "WABA {waba} belongs to workspace {}, not {ws}",
            stored.workspace
        )));
    }
    Ok(stored)
}

pub(crate) async fn upsert_number(
    c: &mut Conn<'_>,
    n: &NewNumber,
    now: Timestamp,
) -> Result<Number> {
    let waba = c
        .opt(
            "SELECT workspace_id FROM wabas WHERE id = $1",
            args![n.waba],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("WABA", &n.waba))?;
    let ws = WorkspaceId::new(waba.i64("workspace_id")?);
    // A new number's state has not been set by any event yet: `state_changed_at` 0 lets the
    // first lifecycle event apply whatever its time.
    c.exec(
        "INSERT INTO numbers (id, workspace_id, waba_id, display_phone, verified_name, kind, tier, state, \
           state_reason, state_changed_at, last_app_activity_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, 0, NULL, $9, $9) \
         ON CONFLICT (id) DO UPDATE SET display_phone = excluded.display_phone, \
           verified_name = COALESCE(excluded.verified_name, numbers.verified_name), \
           kind = excluded.kind, tier = excluded.tier, updated_at = excluded.updated_at \
         WHERE numbers.waba_id = excluded.waba_id",
        args![
            n.id,
            ws,
            n.waba,
            n.display_phone,
            n.verified_name,
            n.kind,
            n.tier,
            n.initial_state,
            now
        ],
    )
    .await?;
    let row = c
        .one(
            &format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = $1"),
            args![n.id],
        )
        .await?;
    let stored = number_from(&row)?;
    if stored.waba != n.waba {
        return Err(StoreError::Conflict(format!(
            "number {} is registered under WABA {}, not {}",
            n.id, stored.waba, n.waba
        )));
    }
    Ok(stored)
}

/// `NotFound` unless the store knows the number.
async fn known_number(c: &mut Conn<'_>, number: &PhoneNumberId) -> Result<()> {
    match c
        .opt("SELECT id FROM numbers WHERE id = $1", args![number])
        .await?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::not_found("number", number)),
    }
}

pub(crate) async fn record_sync_request(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    kind: SyncKind,
    request_id: &RequestId,
    at: Timestamp,
) -> Result<SyncJob> {
    // Data may already be arriving (Meta can answer faster than we record the request): keep
    // an in-progress or complete state, restart a declined or requested one.
    upsert_sync_request(
        c,
        number,
        kind,
        request_id,
        at,
        "state = CASE WHEN sync_jobs.state IN ('in_progress', 'complete') THEN sync_jobs.state \
           ELSE 'requested' END",
    )
    .await
}

pub(crate) async fn restart_sync(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    kind: SyncKind,
    request_id: &RequestId,
    at: Timestamp,
) -> Result<SyncJob> {
    let job = upsert_sync_request(
        c,
        number,
        kind,
        request_id,
        at,
        "state = 'requested', phase = NULL, chunk_order = NULL, progress = 0, \
           chunks_received = 0, items_received = 0, last_event_at = NULL",
    )
    .await?;
    if kind == SyncKind::History {
        // The new import numbers its phases and chunks from the start again.
        c.exec(
            "DELETE FROM history_chunks WHERE number_id = $1",
            args![number],
        )
        .await?;
    }
    Ok(job)
}

/// Stores a request for a number's sync job: a new job is `requested`; an existing one takes
/// the request id and time, loses its error, and has `on_conflict` applied.
async fn upsert_sync_request(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    kind: SyncKind,
    request_id: &RequestId,
    at: Timestamp,
    on_conflict: &str,
) -> Result<SyncJob> {
    known_number(c, number).await?;
    c.exec(
        &format!(
            "INSERT INTO sync_jobs (number_id, kind, state, request_id, requested_at, progress, \
               chunks_received, items_received) VALUES ($1, $2, 'requested', $3, $4, 0, 0, 0) \
             ON CONFLICT (number_id, kind) DO UPDATE SET request_id = excluded.request_id, \
               requested_at = excluded.requested_at, error_code = NULL, error_title = NULL, \
               error_details = NULL, {on_conflict}"
        ),
        args![number, kind, request_id, at],
    )
    .await?;
    sync_job(c, number, kind.as_str()).await
}

pub(crate) async fn record_sync_refusal(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    kind: SyncKind,
    error: &MetaError,
    at: Timestamp,
) -> Result<SyncJob> {
    known_number(c, number).await?;
    // Data arriving means an earlier request was honoured: that state stays.
    c.exec(
        "INSERT INTO sync_jobs (number_id, kind, state, requested_at, progress, chunks_received, \
           items_received, error_code, error_title, error_details) \
         VALUES ($1, $2, 'refused', $3, 0, 0, 0, $4, $5, $6) \
         ON CONFLICT (number_id, kind) DO UPDATE SET \
           state = CASE WHEN sync_jobs.state IN ('in_progress', 'complete') THEN sync_jobs.state ELSE 'refused' END, \
           requested_at = excluded.requested_at, error_code = excluded.error_code, \
           error_title = excluded.error_title, error_details = excluded.error_details",
        args![
            number,
            kind,
            at,
            error.code,
            error.title,
            error.details
        ],
    )
    .await?;
    sync_job(c, number, kind.as_str()).await
}
