//! [`SendStore`] on [`SqlStore`]: the queries, written once for both dialects (see `db`),
//! except the claim's row choice, which takes `FOR UPDATE SKIP LOCKED` on PostgreSQL.

use std::collections::{HashMap, HashSet};

use coex_core::model::{
    ArchiveInput, ContactId, CustomerKey, CustomerRef, Ingest, IngestBatch, IngestItem,
    MessageContent, SentMessage, Timestamp, WorkspaceId,
};
use coex_core::policy::Recipient;
use coex_core::pricing::Amount;
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, Wamid};

use super::{
    AttemptError, AttemptKind, AttemptRecord, AttemptResult, Claim, ClaimRequest, ClaimedSend,
    CostRow, Enqueued, FinishSummary, IDEMPOTENCY_WINDOW_MS, LaneOwner, LaneRecord, LeaseOutcome,
    NewSend, Outcome, Queued, ReconcileSummary, ReconcileWindow, SendContext, SendErrorInfo,
    SendId, SendRecord, SendState, SendStore, recipient_text,
};
use crate::apply::pricing_from;
use crate::db::{Arg, Conn, Dialect, Row, ToArg, args, param, row_runs, values_list};
use crate::sql_store::{in_bulk_tx, in_bulk_tx_giving_way, in_tx, reading};
use crate::writer_gate::{Demand, GiveWay};
use crate::{Result, SqlStore, StoreError, apply, read};

fn recipient_kind(r: &Recipient) -> &'static str {
    match r {
        Recipient::Phone(_) => "phone",
        Recipient::Bsuid(_) => "bsuid",
    }
}

fn recipient_from(r: &Row) -> Result<Recipient> {
    let value = r.str("recipient")?;
    let bad = |e: String| StoreError::Corrupt(format!("column recipient: {e}"));
    match r.str("recipient_kind")?.as_str() {
        "phone" => PhoneNumber::parse(&value)
            .map(Recipient::Phone)
            .map_err(|e| bad(e.to_string())),
        "bsuid" => Bsuid::parse(value)
            .map(Recipient::Bsuid)
            .map_err(|e| bad(e.to_string())),
        other => Err(bad(format!("unknown recipient kind {other:?}"))),
    }
}

fn customer_from(r: &Row) -> Result<CustomerKey> {
    CustomerKey::new(
        r.opt_parse::<Bsuid>("customer_bsuid")?,
        r.opt_parse::<PhoneNumber>("customer_phone")?,
    )
    .ok_or_else(|| StoreError::Corrupt("send without a customer".into()))
}

fn u32_col(r: &Row, col: &str) -> Result<u32> {
    u32::try_from(r.i64(col)?).map_err(|_| StoreError::Corrupt(format!("column {col}: range")))
}

fn error_info(r: &Row) -> Result<Option<SendErrorInfo>> {
    let code = r.opt_i64("error_code")?;
    let title = r.opt_str("error_title")?;
    let detail = r.opt_str("error_detail")?;
    Ok(match (code, title, detail) {
        (None, None, None) => None,
        (code, title, detail) => Some(SendErrorInfo {
            code,
            title: title.unwrap_or_default(),
            detail,
        }),
    })
}

const SEND_COLS: &str = "s.id, s.workspace_id, s.number_id, s.customer_bsuid, s.customer_phone, \
    s.recipient_kind, s.recipient, s.origin, s.sender, s.kind, s.request, s.content, s.category, \
    s.country, s.business_initiated, s.window_closes_at, s.estimated_micros, s.currency, s.state, \
    s.not_before, s.attempts, s.claimed_by, s.wamid, s.error_code, s.error_title, s.error_detail, \
    s.waiting, s.idempotency_key, s.created_at, s.updated_at, s.accepted_at, s.finished_at";

fn send_from(r: &Row) -> Result<SendRecord> {
    Ok(SendRecord {
        id: SendId::new(r.i64("id")?),
        workspace: WorkspaceId::new(r.i64("workspace_id")?),
        number: r.parse("number_id")?,
        customer: customer_from(r)?,
        recipient: recipient_from(r)?,
        origin: r.parse("origin")?,
        sender: r.opt_str("sender")?,
        kind: r.str("kind")?,
        request: r.str("request")?,
        category: r.parse("category")?,
        country: r.opt_parse("country")?,
        business_initiated: r.bool("business_initiated")?,
        window_closes_at: r.opt_ts("window_closes_at")?,
        estimated: Amount::from_micros(r.i64("estimated_micros")?),
        currency: r.str("currency")?,
        state: r.parse("state")?,
        not_before: r.ts("not_before")?,
        attempts: u32_col(r, "attempts")?,
        claimed_by: r.opt_str("claimed_by")?,
        wamid: r.opt_parse("wamid")?,
        error: error_info(r)?,
        waiting: r.opt_str("waiting")?,
        idempotency_key: r.opt_str("idempotency_key")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
        accepted_at: r.opt_ts("accepted_at")?,
        finished_at: r.opt_ts("finished_at")?,
        message_status: r.opt_parse("m_status")?,
        pricing: pricing_from(r)?,
    })
}

fn claimed_from(r: &Row) -> Result<ClaimedSend> {
    let content: MessageContent = serde_json::from_str(&r.str("content")?)
        .map_err(|e| StoreError::Corrupt(format!("column content: {e}")))?;
    Ok(ClaimedSend {
        id: SendId::new(r.i64("id")?),
        workspace: WorkspaceId::new(r.i64("workspace_id")?),
        number: r.parse("number_id")?,
        customer: customer_from(r)?,
        recipient: recipient_from(r)?,
        origin: r.parse("origin")?,
        sender: r.opt_str("sender")?,
        kind: r.str("kind")?,
        request: r.str("request")?,
        content,
        category: r.parse("category")?,
        business_initiated: r.bool("business_initiated")?,
        window_closes_at: r.opt_ts("window_closes_at")?,
        attempt: u32_col(r, "attempts")?,
        created_at: r.ts("created_at")?,
    })
}

async fn enqueue(
    c: &mut Conn<'_>,
    s: &NewSend,
    claim_for: Option<&LaneOwner>,
    now: Timestamp,
) -> Result<(Enqueued, Option<ClaimedSend>)> {
    let mut expired_key = false;
    if let Some(key) = &s.idempotency_key {
        let existing = c
            .opt(
                "SELECT i.send_id, i.created_at, s.request FROM send_idempotency i \
                 JOIN sends s ON s.id = i.send_id WHERE i.workspace_id = $1 AND i.key = $2",
                args![s.workspace, key.as_str()],
            )
            .await?;
        if let Some(row) = existing {
            if row.ts("created_at")?.plus_millis(IDEMPOTENCY_WINDOW_MS) > now {
                if row.str("request")? == s.request {
                    return Ok((Enqueued::Existing(SendId::new(row.i64("send_id")?)), None));
                }
                return Err(StoreError::Conflict(format!(
                    "idempotency key {:?} was used in the last 24 hours for a different request",
                    key.as_str()
                )));
            }
            expired_key = true;
        }
    }
    let content = serde_json::to_string(&s.content)
        .map_err(|e| StoreError::Corrupt(format!("message content: {e}")))?;
    let row = c
        .one(
            "INSERT INTO sends (workspace_id, number_id, customer_bsuid, customer_phone, recipient_kind, \
               recipient, origin, sender, kind, request, content, category, country, business_initiated, \
               window_closes_at, estimated_micros, currency, state, not_before, attempts, idempotency_key, \
               created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'queued', \
               $18, 0, $19, $20, $20) RETURNING id",
            args![
                s.workspace,
                s.number,
                s.customer.bsuid(),
                s.customer.phone(),
                recipient_kind(&s.recipient),
                recipient_text(&s.recipient),
                s.origin,
                s.sender.as_deref(),
                s.kind.as_str(),
                s.request.as_str(),
                content,
                s.category.as_str(),
                s.country.as_ref().map(|c| c.as_str()),
                s.business_initiated,
                s.window_closes_at,
                s.estimated.micros(),
                s.currency.as_str(),
                s.not_before,
                s.idempotency_key.as_ref().map(|k| k.as_str()),
                now,
            ],
        )
        .await?;
    let id = SendId::new(row.i64("id")?);
    if let Some(key) = &s.idempotency_key {
        if expired_key {
            c.exec(
                "UPDATE send_idempotency SET send_id = $3, created_at = $4 \
                 WHERE workspace_id = $1 AND key = $2",
                args![s.workspace, key.as_str(), id.get(), now],
            )
            .await?;
        } else {
            // A plain insert: a concurrent request with the same key makes this a unique
            // violation, the transaction is re-run, and the re-run finds the winner's send.
            c.exec(
                "INSERT INTO send_idempotency (workspace_id, key, send_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
                args![s.workspace, key.as_str(), id.get(), now],
            )
            .await?;
        }
    }
    c.exec(
        "INSERT INTO send_lanes (number_id, updated_at) VALUES ($1, $2) \
         ON CONFLICT (number_id) DO NOTHING",
        args![s.number, now],
    )
    .await?;
    let claimed = match claim_for {
        Some(owner) => claim_new(c, id, &s.number, owner, now).await?,
        None => None,
    };
    Ok((Enqueued::Created(id), claimed))
}

async fn get_send(c: &mut Conn<'_>, id: SendId) -> Result<SendRecord> {
    let sql = format!(
        "SELECT {SEND_COLS}, m.status AS m_status, m.pricing_billable, m.pricing_model, \
           m.pricing_type, m.pricing_category \
         FROM sends s LEFT JOIN messages m ON m.number_id = s.number_id AND m.wamid = s.wamid \
         WHERE s.id = $1"
    );
    let row = c
        .opt(&sql, args![id.get()])
        .await?
        .ok_or_else(|| StoreError::not_found("send", id))?;
    send_from(&row)
}

async fn send_attempts(c: &mut Conn<'_>, id: SendId) -> Result<Vec<AttemptRecord>> {
    let rows = c
        .all(
            "SELECT attempt, owner, started_at, finished_at, duration_ms, outcome, http_status, \
               error_code, wamid, response \
             FROM send_attempts WHERE send_id = $1 ORDER BY attempt, id",
            args![id.get()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRecord {
                attempt: u32_col(r, "attempt")?,
                owner: r.str("owner")?,
                started_at: r.ts("started_at")?,
                finished_at: r.ts("finished_at")?,
                duration_ms: r.i64("duration_ms")?,
                outcome: r.parse::<AttemptKind>("outcome")?,
                http_status: r
                    .opt_i64("http_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                error_code: r.opt_i64("error_code")?,
                wamid: r.opt_parse("wamid")?,
                response: r.opt_str("response")?,
            })
        })
        .collect()
}

/// [`SendStore::decide_and_enqueue`]'s reads: the number, the customer as a contact, and the
/// window's input.
async fn send_context(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    customer: &CustomerKey,
) -> Result<SendContext> {
    let number = read::get_number(c, number).await?;
    let Some(contact) = read::find_contact(c, number.workspace, customer).await? else {
        return Ok(SendContext {
            number,
            customer: customer.clone(),
            last_inbound_at: None,
        });
    };
    let last_inbound_at = conversation_last_inbound(c, &number.id, contact.id).await?;
    Ok(SendContext {
        customer: CustomerKey::new(contact.bsuid, contact.phone)
            .unwrap_or_else(|| customer.clone()),
        number,
        last_inbound_at,
    })
}

async fn last_inbound_at(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    customer: &CustomerKey,
) -> Result<Option<Timestamp>> {
    let ws = c
        .opt(
            "SELECT workspace_id FROM numbers WHERE id = $1",
            args![number],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("number", number))?;
    let ws = WorkspaceId::new(ws.i64("workspace_id")?);
    let Some(contact) = read::find_contact(c, ws, customer).await? else {
        return Ok(None);
    };
    conversation_last_inbound(c, number, contact.id).await
}

/// The last live inbound message of the contact's conversation with `number`, if any.
async fn conversation_last_inbound(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    contact: ContactId,
) -> Result<Option<Timestamp>> {
    let row = c
        .opt(
            "SELECT last_inbound_at FROM conversations WHERE number_id = $1 AND contact_id = $2",
            args![number, contact],
        )
        .await?;
    match row {
        Some(r) => r.opt_ts("last_inbound_at"),
        None => Ok(None),
    }
}

/// Puts the sends another owner left `sending` back in the queue, each with an `abandoned`
/// attempt (its request may or may not have reached Meta).
async fn recover(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    owner: &LaneOwner,
    now: Timestamp,
) -> Result<u64> {
    let lock = match c.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let rows = c
        .all(
            &format!(
                "SELECT id, attempts, claimed_by, claimed_at FROM sends \
                 WHERE number_id = $1 AND state = 'sending' AND (claimed_by IS NULL OR claimed_by <> $2){lock}"
            ),
            args![number, owner.as_str()],
        )
        .await?;
    c.exec(
        "UPDATE sends SET state = 'queued', claimed_by = NULL, waiting = 'recovered', updated_at = $3 \
         WHERE number_id = $1 AND state = 'sending' AND (claimed_by IS NULL OR claimed_by <> $2)",
        args![number, owner.as_str(), now],
    )
    .await?;
    for r in &rows {
        let started = r.opt_ts("claimed_at")?.unwrap_or(now);
        c.exec(
            "INSERT INTO send_attempts (send_id, attempt, owner, started_at, finished_at, duration_ms, \
               outcome, response) VALUES ($1, $2, $3, $4, $5, $6, 'abandoned', $7) \
             ON CONFLICT (send_id, attempt) DO NOTHING",
            args![
                r.i64("id")?,
                r.i64("attempts")?,
                r.opt_str("claimed_by")?.unwrap_or_default(),
                started,
                now,
                (now.as_millis() - started.as_millis()).max(0),
                "the lane's owner stopped before an answer was recorded; the request may have reached Meta",
            ],
        )
        .await?;
    }
    if !rows.is_empty() {
        tracing::warn!(number = %number, recovered = rows.len(), "sends left in flight by a previous owner were queued again");
    }
    Ok(rows.len() as u64)
}

async fn acquire_lane(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    owner: &LaneOwner,
    now: Timestamp,
    ttl_ms: i64,
) -> Result<LeaseOutcome> {
    c.exec(
        "INSERT INTO send_lanes (number_id, updated_at) VALUES ($1, $2) \
         ON CONFLICT (number_id) DO NOTHING",
        args![number, now],
    )
    .await?;
    let lock = match c.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let row = c
        .one(
            &format!("SELECT owner, lease_expires_at FROM send_lanes WHERE number_id = $1{lock}"),
            args![number],
        )
        .await?;
    let current = row.opt_str("owner")?;
    let expires = row.opt_ts("lease_expires_at")?;
    let live = expires.is_some_and(|e| e > now);
    let until = now.plus_millis(ttl_ms);
    match current {
        Some(o) if live && o == owner.as_str() => {
            c.exec(
                "UPDATE send_lanes SET lease_expires_at = $2, updated_at = $3 WHERE number_id = $1",
                args![number, until, now],
            )
            .await?;
            Ok(LeaseOutcome::Renewed)
        }
        Some(o) if live => Ok(LeaseOutcome::Busy {
            owner: o,
            until: expires.unwrap_or(now),
        }),
        _ => {
            c.exec(
                "UPDATE send_lanes SET owner = $2, lease_expires_at = $3, acquired_at = $4, updated_at = $4 \
                 WHERE number_id = $1",
                args![number, owner.as_str(), until, now],
            )
            .await?;
            let recovered = recover(c, number, owner, now).await?;
            Ok(LeaseOutcome::Acquired { recovered })
        }
    }
}

async fn get_lane(c: &mut Conn<'_>, number: &PhoneNumberId) -> Result<LaneRecord> {
    let row = c
        .opt(
            "SELECT n.id, l.owner, l.lease_expires_at, l.acquired_at, l.paused_until, l.pause_reason, \
               l.stopped_at, l.stop_code, l.stop_reason, \
               (SELECT COUNT(*) FROM sends s WHERE s.number_id = n.id AND s.state = 'queued') AS queued, \
               (SELECT COUNT(*) FROM sends s WHERE s.number_id = n.id AND s.state = 'sending') AS sending \
             FROM numbers n LEFT JOIN send_lanes l ON l.number_id = n.id WHERE n.id = $1",
            args![number],
        )
        .await?
        .ok_or_else(|| StoreError::not_found("number", number))?;
    Ok(LaneRecord {
        number: number.clone(),
        owner: row.opt_str("owner")?,
        lease_expires_at: row.opt_ts("lease_expires_at")?,
        acquired_at: row.opt_ts("acquired_at")?,
        paused_until: row.opt_ts("paused_until")?,
        pause_reason: row.opt_str("pause_reason")?,
        stopped_at: row.opt_ts("stopped_at")?,
        stop_code: row.opt_i64("stop_code")?,
        stop_reason: row.opt_str("stop_reason")?,
        queued: u64::try_from(row.i64("queued")?).unwrap_or(0),
        sending: u64::try_from(row.i64("sending")?).unwrap_or(0),
    })
}

/// Claims for several lanes of `owner` (see [`SendStore::claim_sends_many`]): one read of
/// their leases, one `UPDATE … RETURNING` for all lanes that may claim (per claim size and
/// run of 256 lanes), and one read of the next ready time of those that found nothing.
///
/// Why one statement for many lanes: on PostgreSQL each statement is a round trip to the
/// server, and at 200 busy numbers the claims alone made 200 statements a second on SQLite's
/// single writer (they were round trips to sqlx's worker thread before the writer ran in
/// place, see `lite`).
async fn claim_sends_many(
    c: &mut Conn<'_>,
    requests: &[ClaimRequest],
    owner: &LaneOwner,
    now: Timestamp,
) -> Result<Vec<Claim>> {
    let mut lanes: HashMap<String, (bool, bool)> = HashMap::new();
    for (start, len) in row_runs(requests.len(), 256) {
        let sql = format!(
            "SELECT number_id, owner, lease_expires_at, stopped_at FROM send_lanes \
             WHERE number_id IN (VALUES {})",
            values_list(c.dialect(), len, 1)
        );
        let binds: Vec<Arg<'_>> = requests[start..start + len]
            .iter()
            .map(|r| r.number.to_arg())
            .collect();
        for l in c.all(&sql, &binds).await? {
            let held = l.opt_str("owner")?.as_deref() == Some(owner.as_str())
                && l.opt_ts("lease_expires_at")?.is_some_and(|e| e > now);
            let stopped = l.opt_ts("stopped_at")?.is_some();
            lanes.insert(l.str("number_id")?, (held, stopped));
        }
    }
    let mut claims: Vec<Claim> = requests
        .iter()
        .map(|r| match lanes.get(r.number.as_str()) {
            Some((true, false)) => Claim::default(),
            Some((true, true)) => Claim {
                stopped: true,
                ..Claim::default()
            },
            _ => Claim {
                lease_lost: true,
                ..Claim::default()
            },
        })
        .collect();
    // The lanes that claim, by claim size (a number asked for twice claims once), in the
    // order of the requests.
    let mut first_request: HashMap<&str, usize> = HashMap::new();
    let mut by_limit: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, r) in requests.iter().enumerate() {
        let claims_now = !claims[i].lease_lost && !claims[i].stopped && r.limit > 0;
        if claims_now && !first_request.contains_key(r.number.as_str()) {
            first_request.insert(r.number.as_str(), i);
            by_limit.entry(r.limit).or_default().push(i);
        }
    }
    for (limit, lanes) in &by_limit {
        for (start, len) in row_runs(lanes.len(), 256) {
            let run = &lanes[start..start + len];
            for row in claim_run(c, requests, run, *limit, owner, now).await? {
                let send = claimed_from(&row)?;
                if let Some(&i) = first_request.get(send.number.as_str()) {
                    claims[i].sends.push(send);
                }
            }
        }
    }
    let mut empty: Vec<usize> = Vec::new();
    for &i in first_request.values() {
        if claims[i].sends.is_empty() {
            empty.push(i);
        } else {
            claims[i].sends.sort_by_key(|s| s.id);
        }
    }
    // When the next send of a lane that found nothing is due.
    for (start, len) in row_runs(empty.len(), 256) {
        let run = &empty[start..start + len];
        // Why a scalar subquery per lane: it reads one entry of `sends_ready` (the lane's
        // earliest); SQLite planned the `IN (…) GROUP BY` form over `sends_by_number_time`,
        // every send the number ever made.
        let sql = format!(
            "WITH v(n) AS (VALUES {}) SELECT v.n AS number_id, \
               (SELECT MIN(not_before) FROM sends WHERE number_id = v.n AND state = 'queued') AS next \
             FROM v",
            values_list(c.dialect(), len, 1)
        );
        let binds: Vec<Arg<'_>> = run.iter().map(|&i| requests[i].number.to_arg()).collect();
        for row in c.all(&sql, &binds).await? {
            if let Some(&i) = first_request.get(row.str("number_id")?.as_str()) {
                claims[i].next_ready_at = row.opt_ts("next")?;
            }
        }
    }
    Ok(claims)
}

/// The columns [`claimed_from`] reads, as a claim's `RETURNING` list.
const CLAIMED_COLUMNS: &str = "sends.id, sends.workspace_id, sends.number_id, sends.customer_bsuid, \
    sends.customer_phone, sends.recipient_kind, sends.recipient, sends.origin, sends.sender, \
    sends.kind, sends.request, sends.content, sends.category, sends.business_initiated, \
    sends.window_closes_at, sends.attempts, sends.created_at";

/// Claims the send just queued as `id` for `owner` when its lane may send it at once: the
/// lease is `owner`'s and not stopped, the send is due, and no older send of the number is
/// ready (those go first). Runs in the enqueue's transaction.
async fn claim_new(
    c: &mut Conn<'_>,
    id: SendId,
    number: &PhoneNumberId,
    owner: &LaneOwner,
    now: Timestamp,
) -> Result<Option<ClaimedSend>> {
    let sql = format!(
        "UPDATE sends SET state = 'sending', claimed_by = $2, claimed_at = $3, \
           attempts = attempts + 1, waiting = NULL, updated_at = $3 \
         WHERE id = $1 AND state = 'queued' AND not_before <= $3 \
           AND EXISTS (SELECT 1 FROM send_lanes l WHERE l.number_id = $4 AND l.owner = $2 \
             AND l.lease_expires_at > $3 AND l.stopped_at IS NULL) \
           AND NOT EXISTS (SELECT 1 FROM sends o WHERE o.number_id = $4 AND o.state = 'queued' \
             AND o.not_before <= $3 AND o.id < $1) \
         RETURNING {CLAIMED_COLUMNS}"
    );
    c.opt(&sql, args![id.get(), owner.as_str(), now, number])
        .await?
        .as_ref()
        .map(claimed_from)
        .transpose()
}

/// One statement claiming up to `limit` ready sends for each lane of `run` (indexes into
/// `requests`); returns the claimed rows.
async fn claim_run(
    c: &mut Conn<'_>,
    requests: &[ClaimRequest],
    run: &[usize],
    limit: u32,
    owner: &LaneOwner,
    now: Timestamp,
) -> Result<Vec<Row>> {
    let d = c.dialect();
    let n = run.len();
    // The limit is written into the statement: SQLite's LIMIT cannot name a column of the
    // outer query. It is this process's own claim size, never outside input.
    // PostgreSQL picks each lane's rows in a LATERAL subquery, locked with SKIP LOCKED, and
    // updates them as a join (its planner has statistics). SQLite (one writer) picks them in
    // a correlated subquery and updates them by rowid. Why not a join there too: SQLite
    // orders an `UPDATE … FROM` join itself and, at 256 lanes, chose to build an automatic
    // index over every queued send (hundreds of thousands) inside the statement, which then
    // ran for minutes while every lane waited; a rowid list leaves it one plan.
    let (owner_p, at_p, updated_p, due_p) = (
        param(d, n + 1),
        param(d, n + 2),
        param(d, n + 3),
        param(d, n + 4),
    );
    let set = format!(
        "UPDATE sends SET state = 'sending', claimed_by = {owner_p}, claimed_at = {at_p}, \
           attempts = attempts + 1, waiting = NULL, updated_at = {updated_p}"
    );
    let sql = match d {
        Dialect::Postgres => format!(
            "WITH v(n) AS (VALUES {}), picked AS (SELECT p.id FROM v CROSS JOIN LATERAL \
               (SELECT id FROM sends WHERE number_id = v.n AND state = 'queued' \
                 AND not_before <= {due_p} ORDER BY not_before, id LIMIT {limit} \
                 FOR UPDATE SKIP LOCKED) p) \
             {set} FROM picked WHERE sends.id = picked.id AND sends.state = 'queued' \
             RETURNING {CLAIMED_COLUMNS}",
            values_list(d, n, 1)
        ),
        Dialect::Sqlite => format!(
            "WITH v(n) AS (VALUES {}) \
             {set} WHERE sends.id IN (SELECT s.id FROM v JOIN sends s ON s.id IN \
               (SELECT id FROM sends WHERE number_id = v.n AND state = 'queued' \
                 AND not_before <= {due_p} ORDER BY not_before, id LIMIT {limit})) \
               AND sends.state = 'queued' \
             RETURNING {CLAIMED_COLUMNS}",
            values_list(d, n, 1)
        ),
    };
    let mut binds: Vec<Arg<'_>> = Vec::with_capacity(n + 4);
    binds.extend(run.iter().map(|&i| requests[i].number.to_arg()));
    binds.push(Arg::Text(Some(owner.as_str())));
    binds.extend([now.to_arg(), now.to_arg(), now.to_arg()]);
    c.all(&sql, &binds).await
}

/// The attempt row's columns: kind, HTTP status, error code, wamid, response.
type AttemptColumns<'a> = (
    AttemptKind,
    Option<i64>,
    Option<i64>,
    Option<&'a str>,
    Option<&'a str>,
);

fn error_columns(kind: AttemptKind, e: &AttemptError) -> Option<AttemptColumns<'_>> {
    Some((
        kind,
        e.http_status.map(i64::from),
        e.code,
        None,
        e.response.as_deref().or(e.detail.as_deref()),
    ))
}

/// The attempt row for an outcome (`None`: no request was made).
fn attempt_columns(o: &Outcome) -> Option<AttemptColumns<'_>> {
    let err = error_columns;
    match o {
        Outcome::Accepted {
            wamid,
            http_status,
            response,
        } => Some((
            AttemptKind::Accepted,
            Some(i64::from(*http_status)),
            None,
            Some(wamid.as_str()),
            Some(response.as_str()),
        )),
        Outcome::Retry { error, .. } => err(AttemptKind::Retry, error),
        Outcome::Failed { error } => err(AttemptKind::Failed, error),
        Outcome::NeedsTemplate {
            error: Some(error), ..
        } => err(AttemptKind::NeedsTemplate, error),
        Outcome::Stopped { error } => err(AttemptKind::Stopped, error),
        Outcome::NeedsTemplate { error: None, .. } | Outcome::Deferred { .. } => None,
    }
}

/// Results a group commit writes between two looks at whether an interactive transaction
/// waits for the writer: about 5 ms of SQLite's writer at 3,500 sends/s.
pub(super) const FINISH_PIECE: usize = 32;

/// Lanes a claim round claims for between two such looks (a lane claims a second's worth,
/// 18 sends at a coexistence number's pace: about 6 ms for eight).
const CLAIM_PIECE_LANES: usize = 8;

/// Lets the runtime's other tasks run between two pieces of a group commit on SQLite.
///
/// The writer's statements run in place on the runtime's thread (see `crate::lite`) and
/// never wait, so a group commit's body is one long poll: a claim round of 200 lanes is 25
/// pieces of a few milliseconds each, and every task queued on that thread (a lane about to
/// send, the HTTP client reading Meta's answer) waited for all of it unless another thread
/// took it. The transaction stays open meanwhile; an interactive transaction that asked for
/// the writer in between is seen at once: the answer is then `false`, and the group commit
/// commits what it has instead of writing another piece.
async fn between_pieces(demand: Demand<'_>) -> bool {
    tokio::task::yield_now().await;
    !demand.waiting()
}

/// `requests`' indices in pieces of at most `lanes` numbers (at least one), every request for
/// one number in the same piece (the first asker of a number claims for it; the others get
/// nothing).
fn claim_pieces(requests: &[ClaimRequest], lanes: usize) -> Vec<Vec<usize>> {
    let mut piece_of: HashMap<&str, usize> = HashMap::new();
    let mut pieces: Vec<Vec<usize>> = Vec::new();
    let mut numbers_in_last = 0;
    for (i, r) in requests.iter().enumerate() {
        if let Some(&p) = piece_of.get(r.number.as_str()) {
            pieces[p].push(i);
            continue;
        }
        if pieces.is_empty() || numbers_in_last >= lanes {
            pieces.push(Vec::new());
            numbers_in_last = 0;
        }
        let p = pieces.len() - 1;
        pieces[p].push(i);
        numbers_in_last += 1;
        piece_of.insert(r.number.as_str(), p);
    }
    pieces
}

/// Whether `results` name a send more than once.
fn has_repeats(results: &[AttemptResult]) -> bool {
    let mut ids = HashSet::with_capacity(results.len());
    !results.iter().all(|r| ids.insert(r.send.id.get()))
}

/// Records a batch of attempt results: set-based when every send is named once
/// ([`finish_run`]), row by row and in order when one is named twice.
async fn finish_attempts(
    c: &mut Conn<'_>,
    results: &[AttemptResult],
    now: Timestamp,
) -> Result<FinishSummary> {
    if has_repeats(results) {
        return finish_attempts_one_by_one(c, results, now).await;
    }
    let mut summary = FinishSummary::default();
    finish_run(c, results, now, &mut summary, GiveWay::never()).await?;
    Ok(summary)
}

/// Records attempt results that name each send once, adding to `summary`: set-based, one
/// multi-row insert of the attempts, one statement moving the accepted sends, and their
/// outbound messages stored together; the rest (re-queues, failures) go row by row. Between
/// those steps it asks `give_way` whether to roll back for an interactive transaction.
async fn finish_run(
    c: &mut Conn<'_>,
    results: &[AttemptResult],
    now: Timestamp,
    summary: &mut FinishSummary,
    give_way: GiveWay<'_>,
) -> Result<()> {
    record_attempts(c, results).await?;
    give_way.check()?;
    let accepted = accepted_of(results);
    let moved = accept_sends(c, &accepted, now).await?;
    summary.accepted += moved.len() as u64;
    summary.stale += (accepted.len() - moved.len()) as u64;
    for r in results {
        if !matches!(r.outcome, Outcome::Accepted { .. }) {
            settle(c, r, now, summary).await?;
        }
    }
    give_way.check()?;
    store_sent(c, &accepted, now).await
}

/// The accepted results, with the wamid Meta gave each.
fn accepted_of(results: &[AttemptResult]) -> Vec<(&AttemptResult, &Wamid)> {
    results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Accepted { wamid, .. } => Some((r, wamid)),
            _ => None,
        })
        .collect()
}

/// Inserts the attempt rows of `results` (those that made a request) with multi-row statements.
async fn record_attempts(c: &mut Conn<'_>, results: &[AttemptResult]) -> Result<()> {
    const COLS: usize = 11;
    let rows: Vec<(&AttemptResult, AttemptColumns<'_>)> = results
        .iter()
        .filter_map(|r| attempt_columns(&r.outcome).map(|cols| (r, cols)))
        .collect();
    for (start, len) in row_runs(rows.len(), 128) {
        // An answer that arrives after a new owner marked the attempt abandoned replaces that
        // guess.
        let sql = format!(
            "INSERT INTO send_attempts (send_id, attempt, owner, started_at, finished_at, duration_ms, \
               outcome, http_status, error_code, wamid, response) \
             VALUES {} \
             ON CONFLICT (send_id, attempt) DO UPDATE SET owner = excluded.owner, \
               started_at = excluded.started_at, finished_at = excluded.finished_at, \
               duration_ms = excluded.duration_ms, outcome = excluded.outcome, \
               http_status = excluded.http_status, error_code = excluded.error_code, \
               wamid = excluded.wamid, response = excluded.response",
            values_list(c.dialect(), len, COLS)
        );
        let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * COLS);
        for (r, (kind, http, code, wamid, response)) in &rows[start..start + len] {
            binds.push(Arg::Int(Some(r.send.id.get())));
            binds.push(Arg::Int(Some(i64::from(r.send.attempt))));
            binds.push(Arg::Text(Some(r.owner.as_str())));
            binds.push(r.started_at.to_arg());
            binds.push(r.finished_at.to_arg());
            binds.push(Arg::Int(Some(
                (r.finished_at.as_millis() - r.started_at.as_millis()).max(0),
            )));
            binds.push(Arg::Text(Some(kind.as_str())));
            binds.push(Arg::Int(*http));
            binds.push(Arg::Int(*code));
            binds.push(Arg::Text(*wamid));
            binds.push(Arg::Text(*response));
        }
        c.exec(&sql, &binds).await?;
    }
    Ok(())
}

/// Moves accepted sends to `accepted` with their wamid, one statement per run of rows; returns
/// the ids that moved. Also when a recovery queued a send again meanwhile: the message went
/// out, and accepting it here keeps it from being sent twice.
async fn accept_sends(
    c: &mut Conn<'_>,
    accepted: &[(&AttemptResult, &Wamid)],
    now: Timestamp,
) -> Result<HashSet<i64>> {
    const COLS: usize = 5;
    let mut moved = HashSet::with_capacity(accepted.len());
    for (start, len) in row_runs(accepted.len(), 128) {
        let sql = format!(
            "WITH v(id, wamid, at, owner, now) AS (VALUES {}) \
             {} sends SET state = 'accepted', wamid = v.wamid, accepted_at = v.at, claimed_by = NULL, \
               waiting = NULL, error_code = NULL, error_title = NULL, error_detail = NULL, updated_at = v.now \
             FROM v WHERE sends.id = v.id \
               AND ((sends.state = 'sending' AND sends.claimed_by = v.owner) OR sends.state = 'queued') \
             RETURNING sends.id",
            values_list(c.dialect(), len, COLS),
            c.dialect().update_many()
        );
        let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * COLS);
        for (r, wamid) in &accepted[start..start + len] {
            binds.push(Arg::Int(Some(r.send.id.get())));
            binds.push(wamid.to_arg());
            binds.push(r.finished_at.to_arg());
            binds.push(Arg::Text(Some(r.owner.as_str())));
            binds.push(now.to_arg());
        }
        for row in c.all(&sql, &binds).await? {
            moved.insert(row.i64("id")?);
        }
    }
    Ok(moved)
}

/// Stores the outbound messages of accepted sends through the ingest apply path, and fails
/// those whose `failed` status overtook this commit.
async fn store_sent(
    c: &mut Conn<'_>,
    accepted: &[(&AttemptResult, &Wamid)],
    now: Timestamp,
) -> Result<()> {
    let sent: Vec<Ingest> = accepted
        .iter()
        .map(|(r, wamid)| Ingest::Sent(sent_message(r, wamid)))
        .collect();
    if sent.is_empty() {
        return Ok(());
    }
    let batch = IngestBatch {
        items: vec![IngestItem {
            received_at: now,
            archive: ArchiveInput::None,
            events: sent,
        }],
    };
    apply::run(c, &batch, now).await?;
    // A `failed` status that overtook the commit was applied just now: reconcile it (one
    // statement over the id range; other accepted sends in it are fair game too). Meta
    // answers a request before any status of it, so only failed statuses received since the
    // batch's first request are read (less a margin for another process's clock).
    let ids = accepted.iter().map(|(r, _)| r.send.id.get());
    let first_request = accepted.iter().map(|(r, _)| r.started_at).min();
    if let (Some(lo), Some(hi), Some(first)) = (ids.clone().min(), ids.max(), first_request) {
        let since = first.plus_millis(-OVERTAKE_CLOCK_MARGIN_MS);
        fail_from_status(c, Some((lo, hi)), Some(since), now).await?;
    }
    Ok(())
}

/// How far another process's clock may lag this one's where a status that overtook a send's
/// commit is looked for (received_at is the receiving process's clock).
const OVERTAKE_CLOCK_MARGIN_MS: i64 = 10 * 60 * 1000;

fn sent_message(r: &AttemptResult, wamid: &Wamid) -> SentMessage {
    let s = &r.send;
    SentMessage {
        number: s.number.clone(),
        wamid: wamid.clone(),
        customer: CustomerRef::key(s.customer.clone()),
        timestamp: r.finished_at,
        origin: s.origin,
        sender: s.sender.clone(),
        content: s.content.clone(),
        send: Some(s.id),
    }
}

/// Moves on a send whose attempt was not accepted (re-queued, failed, needs a template).
async fn settle(
    c: &mut Conn<'_>,
    r: &AttemptResult,
    now: Timestamp,
    summary: &mut FinishSummary,
) -> Result<()> {
    let changed = match &r.outcome {
        Outcome::Accepted { .. } => return Ok(()),
        Outcome::Retry {
            not_before,
            waiting,
            error,
        } => {
            let n = requeue(c, r, *not_before, waiting, Some(error), false, now).await?;
            summary.requeued += n;
            n
        }
        Outcome::Stopped { error } => {
            let n = requeue(c, r, now, "lane_stopped", Some(error), false, now).await?;
            summary.requeued += n;
            n
        }
        Outcome::Deferred {
            not_before,
            waiting,
        } => {
            let n = requeue(c, r, *not_before, waiting, None, true, now).await?;
            summary.requeued += n;
            n
        }
        Outcome::Failed { error } => {
            let n = finish(
                c,
                r,
                SendState::Failed,
                error.code,
                &error.title,
                error.detail.as_deref(),
                now,
            )
            .await?;
            summary.failed += n;
            n
        }
        Outcome::NeedsTemplate { error, detail } => {
            let code = error.as_ref().and_then(|e| e.code);
            let title = error
                .as_ref()
                .map_or("needs_template", |e| e.title.as_str());
            let n = finish(
                c,
                r,
                SendState::NeedsTemplate,
                code,
                title,
                Some(detail),
                now,
            )
            .await?;
            summary.needs_template += n;
            n
        }
    };
    if changed == 0 {
        summary.stale += 1;
    }
    Ok(())
}

/// [`finish_attempts`] one result at a time, in order (a batch that names a send twice).
async fn finish_attempts_one_by_one(
    c: &mut Conn<'_>,
    results: &[AttemptResult],
    now: Timestamp,
) -> Result<FinishSummary> {
    let mut summary = FinishSummary::default();
    for r in results {
        record_attempts(c, std::slice::from_ref(r)).await?;
        if let Outcome::Accepted { wamid, .. } = &r.outcome {
            let moved = accept_sends(c, &[(r, wamid)], now).await?;
            summary.accepted += moved.len() as u64;
            summary.stale += u64::from(moved.is_empty());
        } else {
            settle(c, r, now, &mut summary).await?;
        }
    }
    store_sent(c, &accepted_of(results), now).await?;
    Ok(summary)
}

async fn requeue(
    c: &mut Conn<'_>,
    r: &AttemptResult,
    not_before: Timestamp,
    waiting: &str,
    error: Option<&AttemptError>,
    no_request: bool,
    now: Timestamp,
) -> Result<u64> {
    let undo = if no_request { 1i64 } else { 0 };
    let keep_error = error.is_none();
    c.exec(
        "UPDATE sends SET state = 'queued', claimed_by = NULL, not_before = $2, waiting = $3, \
           attempts = attempts - $4, \
           error_code = CASE WHEN $5 THEN error_code ELSE $6 END, \
           error_title = CASE WHEN $5 THEN error_title ELSE $7 END, \
           error_detail = CASE WHEN $5 THEN error_detail ELSE $8 END, \
           updated_at = $9 \
         WHERE id = $1 AND state = 'sending' AND claimed_by = $10",
        args![
            r.send.id.get(),
            not_before,
            waiting,
            undo,
            keep_error,
            error.and_then(|e| e.code),
            error.map(|e| e.title.as_str()),
            error.and_then(|e| e.detail.as_deref()),
            now,
            r.owner.as_str(),
        ],
    )
    .await
}

async fn finish(
    c: &mut Conn<'_>,
    r: &AttemptResult,
    state: SendState,
    code: Option<i64>,
    title: &str,
    detail: Option<&str>,
    now: Timestamp,
) -> Result<u64> {
    c.exec(
        "UPDATE sends SET state = $2, claimed_by = NULL, waiting = NULL, error_code = $3, error_title = $4, \
           error_detail = $5, finished_at = $6, updated_at = $7 \
         WHERE id = $1 AND state = 'sending' AND claimed_by = $8",
        args![
            r.send.id.get(),
            state.as_str(),
            code,
            title,
            detail,
            r.finished_at,
            now,
            r.owner.as_str(),
        ],
    )
    .await
}

/// Fails accepted sends whose message got a `failed` status: those with ids in `ids`
/// (inclusive range) and whose failed status arrived since `since`, either bound optional.
/// 131047 makes a send `needs_template`. The way in is the few failed statuses (a partial
/// index), then their messages (unique by number and wamid), which name their send.
async fn fail_from_status(
    c: &mut Conn<'_>,
    ids: Option<(i64, i64)>,
    since: Option<Timestamp>,
    now: Timestamp,
) -> Result<Vec<(SendId, SendState)>> {
    let rows = c
        .all(
            "UPDATE sends SET \
               state = CASE WHEN h.error_code = 131047 THEN 'needs_template' ELSE 'failed' END, \
               error_code = h.error_code, error_title = COALESCE(h.error_title, 'failed'), \
               error_detail = h.error_details, finished_at = $1, updated_at = $1 \
             FROM status_history h JOIN messages m ON m.number_id = h.number_id AND m.wamid = h.wamid \
             WHERE m.send_id = sends.id AND h.status = 'failed' \
               AND sends.state IN ('accepted', 'sent_unconfirmed') \
               AND ($2 IS NULL OR sends.id >= $2) AND ($3 IS NULL OR sends.id <= $3) \
               AND ($4 IS NULL OR h.received_at >= $4) \
             RETURNING sends.id, sends.state",
            args![now, ids.map(|r| r.0), ids.map(|r| r.1), since],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((SendId::new(r.i64("id")?), r.parse::<SendState>("state")?)))
        .collect()
}

async fn reconcile(
    c: &mut Conn<'_>,
    w: &ReconcileWindow,
    now: Timestamp,
) -> Result<ReconcileSummary> {
    let mut out = ReconcileSummary::default();
    for (id, state) in fail_from_status(c, None, Some(w.failed_since), now).await? {
        if state == SendState::NeedsTemplate {
            out.needs_template.push(id);
        } else {
            out.failed.push(id);
        }
    }
    let rows = c
        .all(
            "UPDATE sends SET state = 'sent_unconfirmed', updated_at = $3 \
             WHERE state = 'accepted' AND accepted_at >= $1 AND accepted_at < $2 \
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.number_id = sends.number_id \
                 AND m.wamid = sends.wamid AND m.status IS NOT NULL AND m.status <> 'pending') \
             RETURNING id",
            args![w.accepted_from, w.accepted_to, now],
        )
        .await?;
    for r in &rows {
        out.unconfirmed.push(SendId::new(r.i64("id")?));
    }
    let rows = c
        .all(
            "UPDATE sends SET state = 'accepted', updated_at = $1 \
             WHERE state = 'sent_unconfirmed' \
               AND EXISTS (SELECT 1 FROM messages m WHERE m.number_id = sends.number_id \
                 AND m.wamid = sends.wamid AND m.status IS NOT NULL AND m.status NOT IN ('pending', 'failed')) \
             RETURNING id",
            args![now],
        )
        .await?;
    for r in &rows {
        out.confirmed.push(SendId::new(r.i64("id")?));
    }
    Ok(out)
}

async fn cost_rows(
    c: &mut Conn<'_>,
    number: &PhoneNumberId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CostRow>> {
    let rows = c
        .all(
            "SELECT s.accepted_at / 86400000 AS day, s.category, s.country, s.origin, s.currency, \
               m.pricing_billable, m.pricing_model, m.pricing_type, m.pricing_category, \
               COUNT(*) AS n, CAST(SUM(s.estimated_micros) AS BIGINT) AS est \
             FROM sends s LEFT JOIN messages m ON m.number_id = s.number_id AND m.wamid = s.wamid \
             WHERE s.number_id = $1 AND s.accepted_at >= $2 AND s.accepted_at < $3 \
               AND s.wamid IS NOT NULL AND s.state IN ('accepted', 'sent_unconfirmed') \
               AND (m.status IS NULL OR m.status <> 'failed') \
             GROUP BY s.accepted_at / 86400000, s.category, s.country, s.origin, s.currency, \
               m.pricing_billable, m.pricing_model, m.pricing_type, m.pricing_category \
             ORDER BY 1, 2",
            args![number, from, to],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CostRow {
                day: r.i64("day")?,
                category: r.parse("category")?,
                country: r.opt_parse("country")?,
                origin: r.parse("origin")?,
                pricing: pricing_from(r)?,
                messages: u64::try_from(r.i64("n")?).unwrap_or(0),
                estimated: Amount::from_micros(r.i64("est")?),
                currency: r.str("currency")?,
            })
        })
        .collect()
}

impl SendStore for SqlStore {
    async fn enqueue(&self, send: &NewSend) -> Result<Enqueued> {
        let now = self.now();
        in_tx!(self, |c| enqueue(c, send, None, now)).map(|(e, _)| e)
    }

    async fn enqueue_and_claim(
        &self,
        send: &NewSend,
        owner: &LaneOwner,
    ) -> Result<(Enqueued, Option<ClaimedSend>)> {
        let now = self.now();
        in_tx!(self, |c| enqueue(c, send, Some(owner), now))
    }

    async fn decide_and_enqueue<E, F>(
        &self,
        number: &PhoneNumberId,
        customer: &CustomerKey,
        claim_for: Option<&LaneOwner>,
        decide: F,
    ) -> Result<std::result::Result<Queued, E>>
    where
        E: Send,
        F: Fn(&SendContext) -> std::result::Result<NewSend, E> + Send + Sync,
    {
        let now = self.now();
        in_tx!(self, |c| async {
            let context = send_context(c, number, customer).await?;
            let send = match decide(&context) {
                Ok(s) => s,
                // Nothing was written: the empty transaction commits for free.
                Err(e) => return Ok(Err(e)),
            };
            let (enqueued, claimed) = enqueue(c, &send, claim_for, now).await?;
            let record = get_send(c, enqueued.id()).await?;
            let attempts = match enqueued {
                Enqueued::Created(_) => Vec::new(),
                Enqueued::Existing(id) => send_attempts(c, id).await?,
            };
            Ok(Ok(Queued {
                enqueued,
                claimed,
                record,
                attempts,
            }))
        })
    }

    async fn get_send(&self, id: SendId) -> Result<SendRecord> {
        reading!(self, |c| get_send(c, id))
    }

    async fn send_attempts(&self, id: SendId) -> Result<Vec<AttemptRecord>> {
        reading!(self, |c| send_attempts(c, id))
    }

    async fn last_inbound_at(
        &self,
        number: &PhoneNumberId,
        customer: &CustomerKey,
    ) -> Result<Option<Timestamp>> {
        reading!(self, |c| last_inbound_at(c, number, customer))
    }

    async fn acquire_lane(
        &self,
        number: &PhoneNumberId,
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome> {
        in_tx!(self, |c| acquire_lane(c, number, owner, now, ttl_ms))
    }

    async fn acquire_lanes(
        &self,
        numbers: &[PhoneNumberId],
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> Result<Vec<LeaseOutcome>> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        in_tx!(self, |c| async {
            let mut outcomes = Vec::with_capacity(numbers.len());
            for number in numbers {
                outcomes.push(acquire_lane(c, number, owner, now, ttl_ms).await?);
            }
            Ok(outcomes)
        })
    }

    async fn renew_lanes(
        &self,
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> Result<Vec<PhoneNumberId>> {
        let until = now.plus_millis(ttl_ms);
        in_tx!(self, |c| async {
            let rows = c
                .all(
                    "UPDATE send_lanes SET lease_expires_at = $3, updated_at = $2 \
                     WHERE owner = $1 AND lease_expires_at > $2 RETURNING number_id",
                    args![owner.as_str(), now, until],
                )
                .await?;
            rows.iter().map(|r| r.parse("number_id")).collect()
        })
    }

    async fn release_lane(&self, number: &PhoneNumberId, owner: &LaneOwner) -> Result<()> {
        let now = self.now();
        in_tx!(self, |c| async {
            c.exec(
                "UPDATE send_lanes SET owner = NULL, lease_expires_at = NULL, updated_at = $3 \
                 WHERE number_id = $1 AND owner = $2",
                args![number, owner.as_str(), now],
            )
            .await?;
            Ok(())
        })
    }

    async fn lanes_wanting_owner(
        &self,
        owner: &LaneOwner,
        now: Timestamp,
    ) -> Result<Vec<PhoneNumberId>> {
        reading!(self, |c| async {
            let rows = c
                .all(
                    "SELECT l.number_id FROM send_lanes l \
                     WHERE (l.owner IS NULL OR l.owner = $1 OR l.lease_expires_at IS NULL \
                         OR l.lease_expires_at <= $2) \
                       AND (EXISTS (SELECT 1 FROM sends s WHERE s.number_id = l.number_id AND s.state = 'queued') \
                         OR EXISTS (SELECT 1 FROM sends s WHERE s.number_id = l.number_id AND s.state = 'sending')) \
                     ORDER BY l.number_id",
                    args![owner.as_str(), now],
                )
                .await?;
            rows.iter().map(|r| r.parse("number_id")).collect()
        })
    }

    async fn get_lane(&self, number: &PhoneNumberId) -> Result<LaneRecord> {
        reading!(self, |c| get_lane(c, number))
    }

    async fn pause_lane(
        &self,
        number: &PhoneNumberId,
        until: Timestamp,
        reason: &str,
    ) -> Result<()> {
        let now = self.now();
        in_tx!(self, |c| async {
            c.exec(
                "INSERT INTO send_lanes (number_id, paused_until, pause_reason, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (number_id) DO UPDATE SET \
                   paused_until = CASE WHEN send_lanes.paused_until IS NULL \
                     OR send_lanes.paused_until < excluded.paused_until \
                     THEN excluded.paused_until ELSE send_lanes.paused_until END, \
                   pause_reason = excluded.pause_reason, updated_at = excluded.updated_at",
                args![number, until, reason, now],
            )
            .await?;
            Ok(())
        })
    }

    async fn stop_lane(
        &self,
        number: &PhoneNumberId,
        code: Option<i64>,
        reason: &str,
        now: Timestamp,
    ) -> Result<()> {
        in_tx!(self, |c| async {
            c.exec(
                "INSERT INTO send_lanes (number_id, stopped_at, stop_code, stop_reason, updated_at) \
                 VALUES ($1, $2, $3, $4, $2) \
                 ON CONFLICT (number_id) DO UPDATE SET stopped_at = excluded.stopped_at, \
                   stop_code = excluded.stop_code, stop_reason = excluded.stop_reason, \
                   updated_at = excluded.updated_at",
                args![number, now, code, reason],
            )
            .await?;
            Ok(())
        })
    }

    async fn resume_lane(&self, number: &PhoneNumberId) -> Result<bool> {
        let now = self.now();
        in_tx!(self, |c| async {
            let was = c
                .opt(
                    "SELECT stopped_at FROM send_lanes WHERE number_id = $1",
                    args![number],
                )
                .await?;
            let stopped = match was {
                Some(r) => r.opt_ts("stopped_at")?.is_some(),
                None => false,
            };
            c.exec(
                "UPDATE send_lanes SET stopped_at = NULL, stop_code = NULL, stop_reason = NULL, \
                   paused_until = NULL, pause_reason = NULL, updated_at = $2 WHERE number_id = $1",
                args![number, now],
            )
            .await?;
            // The queued sends wait no longer than the lane did.
            c.exec(
                "UPDATE sends SET not_before = $2, waiting = NULL \
                 WHERE number_id = $1 AND state = 'queued' AND waiting = 'lane_stopped'",
                args![number, now],
            )
            .await?;
            Ok(stopped)
        })
    }

    async fn claim_sends(
        &self,
        number: &PhoneNumberId,
        owner: &LaneOwner,
        now: Timestamp,
        limit: u32,
    ) -> Result<Claim> {
        let request = [ClaimRequest {
            number: number.clone(),
            limit,
        }];
        let mut claims = self.claim_sends_many(&request, owner, now).await?;
        claims
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a claim round returned no answer".into()))
    }

    async fn claim_sends_many(
        &self,
        requests: &[ClaimRequest],
        owner: &LaneOwner,
        now: Timestamp,
    ) -> Result<Vec<Claim>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        in_bulk_tx!(self, |c| claim_sends_many(c, requests, owner, now))
    }

    async fn claim_sends_some(
        &self,
        requests: &[ClaimRequest],
        owner: &LaneOwner,
        now: Timestamp,
    ) -> Result<Vec<Option<Claim>>> {
        // On SQLite the round goes in pieces of a few lanes; between pieces it gives way to
        // an interactive transaction that waits (see `crate::writer_gate`): during its first
        // try's first piece by rolling back, later by committing the pieces done. A number
        // asked for twice is in one piece, so it claims once.
        let demand = self.writer_demand();
        let pieces = claim_pieces(requests, demand.piece(CLAIM_PIECE_LANES));
        let answered = in_bulk_tx_giving_way!(self, |c, give_way| async {
            let mut answered = Vec::new();
            let mut give_way = give_way;
            for piece in &pieces {
                if !answered.is_empty() && !between_pieces(demand).await {
                    break;
                }
                give_way.check()?;
                let asked: Vec<ClaimRequest> = piece.iter().map(|&i| requests[i].clone()).collect();
                answered.push(claim_sends_many(c, &asked, owner, now).await?);
                give_way = give_way.piece_done()?;
                if demand.waiting() {
                    break;
                }
            }
            Ok(answered)
        })?;
        let mut claims: Vec<Option<Claim>> = vec![None; requests.len()];
        for (piece, got) in pieces.iter().zip(answered) {
            for (&i, claim) in piece.iter().zip(got) {
                claims[i] = Some(claim);
            }
        }
        Ok(claims)
    }

    async fn next_ready_at(&self, number: &PhoneNumberId) -> Result<Option<Timestamp>> {
        reading!(self, |c| async {
            c.one(
                "SELECT MIN(not_before) AS next FROM sends WHERE number_id = $1 AND state = 'queued'",
                args![number],
            )
            .await?
            .opt_ts("next")
        })
    }

    async fn finish_attempts(
        &self,
        results: &[AttemptResult],
        now: Timestamp,
    ) -> Result<FinishSummary> {
        if results.is_empty() {
            return Ok(FinishSummary::default());
        }
        in_bulk_tx!(self, |c| finish_attempts(c, results, now))
    }

    async fn finish_attempts_some(
        &self,
        results: &[AttemptResult],
        now: Timestamp,
    ) -> Result<(usize, FinishSummary)> {
        if results.is_empty() {
            return Ok((0, FinishSummary::default()));
        }
        if has_repeats(results) {
            // A batch naming a send twice is written in order, in one transaction.
            return in_bulk_tx!(self, |c| finish_attempts_one_by_one(c, results, now))
                .map(|summary| (results.len(), summary));
        }
        // On SQLite the batch goes in pieces and gives way to an interactive transaction
        // that waits (see `crate::writer_gate`): during its first try's first piece by
        // rolling back (checked between statements too), later by committing the pieces done.
        let demand = self.writer_demand();
        in_bulk_tx_giving_way!(self, |c, give_way| async {
            let mut summary = FinishSummary::default();
            let mut written = 0;
            let mut give_way = give_way;
            for (done, piece) in results.chunks(demand.piece(FINISH_PIECE)).enumerate() {
                if done > 0 && !between_pieces(demand).await {
                    break;
                }
                give_way.check()?;
                finish_run(c, piece, now, &mut summary, give_way).await?;
                written += piece.len();
                give_way = give_way.piece_done()?;
                if demand.waiting() {
                    break;
                }
            }
            Ok((written, summary))
        })
    }

    async fn reconcile_sends(
        &self,
        window: &ReconcileWindow,
        now: Timestamp,
    ) -> Result<ReconcileSummary> {
        in_bulk_tx!(self, |c| reconcile(c, window, now))
    }

    async fn business_initiated_since(
        &self,
        workspace: WorkspaceId,
        since: Timestamp,
    ) -> Result<Vec<(String, Timestamp)>> {
        reading!(self, |c| async {
            let rows = c
                .all(
                    "SELECT recipient, MAX(accepted_at) AS at FROM sends \
                     WHERE workspace_id = $1 AND business_initiated AND accepted_at >= $2 \
                     GROUP BY recipient",
                    args![workspace, since],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.str("recipient")?, r.ts("at")?)))
                .collect()
        })
    }

    async fn traffic_per_second(
        &self,
        number: &PhoneNumberId,
        since: Timestamp,
    ) -> Result<Vec<(i64, u32)>> {
        reading!(self, |c| async {
            let rows = c
                .all(
                    "SELECT stored_at / 1000 AS sec, COUNT(*) AS n FROM messages \
                     WHERE number_id = $1 AND stored_at >= $2 AND origin IN ('customer', 'business_app') \
                     GROUP BY stored_at / 1000",
                    args![number, since],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.i64("sec")?,
                        u32::try_from(r.i64("n")?).unwrap_or(u32::MAX),
                    ))
                })
                .collect()
        })
    }

    async fn cost_rows(
        &self,
        number: &PhoneNumberId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CostRow>> {
        reading!(self, |c| cost_rows(c, number, from, to))
    }
}
