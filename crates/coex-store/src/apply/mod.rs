//! Applying an [`IngestBatch`] inside one transaction.
//!
//! An [`Applier`] walks the batch's items and events in order, keeping per-batch caches
//! (numbers, contacts, conversations) and accumulating what can be written once at the end:
//! conversation aggregates (last activity, the window input, counts), the phone app's last sign
//! of life per number, and the feed events. Those are flushed in key order so two concurrent
//! PostgreSQL transactions lock rows in the same order.
//!
//! Idempotency comes from unique keys, never from reading first: every insert is
//! `ON CONFLICT DO NOTHING` and its row count says "new" or "duplicate"; every state move is a
//! conditional `UPDATE` whose `WHERE` encodes the rule (forward-only status, newer edit,
//! newer lifecycle event).

mod account;
mod identity;
mod messages;

use std::collections::{BTreeMap, HashMap};

use coex_core::model::{
    ArchiveId, ArchiveInput, ContactId, ConversationId, CustomerKey, EventKind, EventSeq, Ingest,
    IngestBatch, Timestamp, WorkspaceId,
};
use coex_core::{PhoneNumberId, WabaId, Wamid};

use crate::db::{Conn, Dialect, args};
use crate::{BatchOutcome, BatchSummary, Result};

use identity::ContactRow;
pub(crate) use messages::{media_from, pricing_from};

/// Applies a whole batch on an open transaction. The caller commits.
pub(crate) async fn run(
    conn: &mut Conn<'_>,
    batch: &IngestBatch,
    now: Timestamp,
) -> Result<BatchOutcome> {
    let mut a = Applier::new(conn, now);
    a.prepare().await?;
    let mut archives = Vec::with_capacity(batch.items.len());
    for item in &batch.items {
        a.summary.webhooks += 1;
        a.received_at = item.received_at;
        a.archive = a.archive_item(&item.archive).await?;
        archives.push(a.archive);
        for event in &item.events {
            a.apply(event).await?;
        }
    }
    a.flush_conversations().await?;
    a.flush_activity().await?;
    let appended = a.flush_events().await?;
    Ok(BatchOutcome {
        archives,
        appended,
        summary: a.summary,
    })
}

/// The number facts every event needs, cached per batch.
#[derive(Debug, Clone)]
pub(super) struct NumberInfo {
    pub id: PhoneNumberId,
    pub workspace: WorkspaceId,
}

/// Aggregate changes to one conversation, written once per batch.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ConvAgg {
    pub last_message_at: Option<Timestamp>,
    pub last_inbound_at: Option<Timestamp>,
    pub last_echo_at: Option<Timestamp>,
    pub last_outbound_at: Option<Timestamp>,
    pub added: i64,
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl ConvAgg {
    fn absorb(&mut self, other: ConvAgg) {
        self.last_message_at = later(self.last_message_at, other.last_message_at);
        self.last_inbound_at = later(self.last_inbound_at, other.last_inbound_at);
        self.last_echo_at = later(self.last_echo_at, other.last_echo_at);
        self.last_outbound_at = later(self.last_outbound_at, other.last_outbound_at);
        self.added += other.added;
    }
}

/// A feed event waiting for its sequence number.
#[derive(Debug)]
pub(super) struct NewEvent {
    pub workspace: WorkspaceId,
    pub kind: EventKind,
    pub at: Timestamp,
    pub number: Option<PhoneNumberId>,
    pub conversation: Option<ConversationId>,
    pub contact: Option<ContactId>,
    pub wamid: Option<Wamid>,
    pub data: String,
}

/// Orphan statuses and pending patches younger than this are re-checked at the start of every
/// PostgreSQL batch: another process may have committed their message concurrently, unseen by
/// the transaction that parked them. (SQLite has one writer at a time, so no such race.)
const RECONCILE_WINDOW_MS: i64 = 10 * 60 * 1000;

pub(super) struct Applier<'a, 'c> {
    pub conn: &'a mut Conn<'c>,
    pub now: Timestamp,
    pub received_at: Timestamp,
    pub archive: Option<ArchiveId>,
    pub summary: BatchSummary,
    numbers: HashMap<PhoneNumberId, Option<NumberInfo>>,
    pub contacts: HashMap<(WorkspaceId, CustomerKey), ContactId>,
    pub contact_rows: HashMap<ContactId, ContactRow>,
    pub conversations: HashMap<(PhoneNumberId, ContactId), ConversationId>,
    pub conv_aggs: BTreeMap<ConversationId, ConvAgg>,
    activity: BTreeMap<PhoneNumberId, Timestamp>,
    events: Vec<NewEvent>,
    /// Whether any patch may be waiting for its original (so new messages must look).
    pub pending_patches: bool,
}

impl<'a, 'c> Applier<'a, 'c> {
    fn new(conn: &'a mut Conn<'c>, now: Timestamp) -> Self {
        Self {
            conn,
            now,
            received_at: now,
            archive: None,
            summary: BatchSummary::default(),
            numbers: HashMap::new(),
            contacts: HashMap::new(),
            contact_rows: HashMap::new(),
            conversations: HashMap::new(),
            conv_aggs: BTreeMap::new(),
            activity: BTreeMap::new(),
            events: Vec::new(),
            pending_patches: false,
        }
    }

    async fn prepare(&mut self) -> Result<()> {
        let row = self
            .conn
            .one(
                "SELECT EXISTS (SELECT 1 FROM message_patches WHERE NOT applied) AS pending",
                args![],
            )
            .await?;
        self.pending_patches = row.bool("pending")?;
        if self.conn.dialect() == Dialect::Postgres {
            let since = self.now.plus_millis(-RECONCILE_WINDOW_MS);
            self.reconcile_recent(since).await?;
        }
        Ok(())
    }

    async fn archive_item(&mut self, input: &ArchiveInput) -> Result<Option<ArchiveId>> {
        match input {
            ArchiveInput::None => Ok(None),
            ArchiveInput::New(raw) => {
                let row = self
                    .conn
                    .one(
                        "INSERT INTO webhook_archive (received_at, signature_ok, body, processed_at) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                        args![raw.received_at, raw.signature_ok, raw.body.as_slice(), self.now],
                    )
                    .await?;
                self.summary.archived += 1;
                Ok(Some(ArchiveId::new(row.i64("id")?)))
            }
            ArchiveInput::Existing(id) => {
                self.conn
                    .exec(
                        "UPDATE webhook_archive SET processed_at = $2 \
                         WHERE id = $1 AND processed_at IS NULL",
                        args![*id, self.now],
                    )
                    .await?;
                Ok(Some(*id))
            }
        }
    }

    async fn apply(&mut self, event: &Ingest) -> Result<()> {
        match event {
            Ingest::ChangeError(e) => {
                let waba = e.waba.as_ref().map(WabaId::as_str);
                let number = e.number.as_ref().map(PhoneNumberId::as_str);
                self.change_error(waba, number, e.field.as_deref(), &e.error, e.raw.as_str())
                    .await
            }
            Ingest::AccountEvent(e) => self.account_event(e).await,
            other => {
                let Some(number) = other.number() else {
                    return self.unknown_number(other, "event names no number").await;
                };
                let Some(info) = self.number_info(number).await? else {
                    return self
                        .unknown_number(other, "phone number id is not registered")
                        .await;
                };
                match other {
                    Ingest::InboundMessage(m) => self.inbound(&info, m).await,
                    Ingest::Echo(m) => self.echo(&info, m).await,
                    Ingest::Sent(m) => self.sent(&info, m).await,
                    Ingest::Edit(e) => self.edit(&info, e).await,
                    Ingest::Revoke(r) => self.revoke(&info, r).await,
                    Ingest::Status(s) => self.status(&info, s).await,
                    Ingest::HistoryChunk(h) => self.history_chunk(&info, h).await,
                    Ingest::HistoryDeclined(d) => self.history_declined(&info, d).await,
                    Ingest::HistoryMedia(m) => self.history_media(&info, m).await,
                    Ingest::ContactUpsert(c) => self.contact_upsert(&info, c).await,
                    Ingest::ContactRemove(c) => self.contact_remove(&info, c).await,
                    Ingest::UserIdChanged(u) => self.user_id_changed(&info, u).await,
                    Ingest::AccountEvent(_) | Ingest::ChangeError(_) => Ok(()),
                }
            }
        }
    }

    pub(super) async fn number_info(&mut self, id: &PhoneNumberId) -> Result<Option<NumberInfo>> {
        if let Some(info) = self.numbers.get(id) {
            return Ok(info.clone());
        }
        let row = self
            .conn
            .opt("SELECT workspace_id FROM numbers WHERE id = $1", args![id])
            .await?;
        let info = match row {
            Some(r) => Some(NumberInfo {
                id: id.clone(),
                workspace: WorkspaceId::new(r.i64("workspace_id")?),
            }),
            None => None,
        };
        self.numbers.insert(id.clone(), info.clone());
        Ok(info)
    }

    pub(super) async fn change_error(
        &mut self,
        waba: Option<&str>,
        number: Option<&str>,
        field: Option<&str>,
        error: &str,
        raw: &str,
    ) -> Result<()> {
        self.conn
            .exec(
                "INSERT INTO change_errors (archive_id, received_at, waba_id, number_id, field, error, raw) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![self.archive, self.received_at, waba, number, field, error, raw],
            )
            .await?;
        self.summary.change_errors += 1;
        Ok(())
    }

    /// An event for a number we do not know is kept (as JSON) rather than dropped: registering
    /// the number and replaying the archive recovers it.
    pub(super) async fn unknown_number(&mut self, event: &Ingest, why: &str) -> Result<()> {
        let raw =
            serde_json::to_string(event).unwrap_or_else(|e| format!("\"unserialisable: {e}\""));
        let number = event.number().map(|n| n.as_str().to_owned());
        self.summary.unknown_number += 1;
        self.change_error(None, number.as_deref(), None, why, &raw)
            .await
    }

    /// Records a sign of life from the phone app (13-day rule), written once per batch.
    pub(super) fn app_activity(&mut self, number: &PhoneNumberId, at: Timestamp) {
        let slot = self.activity.entry(number.clone()).or_insert(at);
        *slot = (*slot).max(at);
    }

    pub(super) fn touch_conversation(&mut self, id: ConversationId, agg: ConvAgg) {
        self.conv_aggs.entry(id).or_default().absorb(agg);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
        &mut self,
        workspace: WorkspaceId,
        kind: EventKind,
        number: Option<&PhoneNumberId>,
        conversation: Option<ConversationId>,
        contact: Option<ContactId>,
        wamid: Option<&Wamid>,
        data: serde_json::Value,
    ) {
        self.events.push(NewEvent {
            workspace,
            kind,
            at: self.received_at,
            number: number.cloned(),
            conversation,
            contact,
            wamid: wamid.cloned(),
            data: data.to_string(),
        });
    }

    pub(super) async fn flush_conversations(&mut self) -> Result<()> {
        let aggs = std::mem::take(&mut self.conv_aggs);
        for (id, agg) in aggs {
            self.write_conv_agg(id, agg).await?;
        }
        Ok(())
    }

    pub(super) async fn write_conv_agg(&mut self, id: ConversationId, agg: ConvAgg) -> Result<()> {
        self.conn
            .exec(
                "UPDATE conversations SET \
                   last_message_at = CASE WHEN $2 IS NOT NULL AND $2 > last_message_at THEN $2 ELSE last_message_at END, \
                   last_inbound_at = CASE WHEN $3 IS NOT NULL AND (last_inbound_at IS NULL OR $3 > last_inbound_at) THEN $3 ELSE last_inbound_at END, \
                   last_echo_at = CASE WHEN $4 IS NOT NULL AND (last_echo_at IS NULL OR $4 > last_echo_at) THEN $4 ELSE last_echo_at END, \
                   last_outbound_at = CASE WHEN $5 IS NOT NULL AND (last_outbound_at IS NULL OR $5 > last_outbound_at) THEN $5 ELSE last_outbound_at END, \
                   message_count = message_count + $6 \
                 WHERE id = $1",
                args![
                    id,
                    agg.last_message_at,
                    agg.last_inbound_at,
                    agg.last_echo_at,
                    agg.last_outbound_at,
                    agg.added
                ],
            )
            .await?;
        Ok(())
    }

    async fn flush_activity(&mut self) -> Result<()> {
        let activity = std::mem::take(&mut self.activity);
        for (number, at) in activity {
            self.conn
                .exec(
                    "UPDATE numbers SET last_app_activity_at = $2 \
                     WHERE id = $1 AND (last_app_activity_at IS NULL OR last_app_activity_at < $2)",
                    args![number, at],
                )
                .await?;
        }
        Ok(())
    }

    /// Numbers the batch's feed events per workspace and appends them.
    ///
    /// The sequence comes from the workspace row (`UPDATE ... RETURNING`), whose row lock is
    /// held until commit: sequence order is therefore commit order, and a reader of "events
    /// after N" never misses one that commits later with a smaller number. It is taken last to
    /// keep that lock short.
    async fn flush_events(&mut self) -> Result<Vec<(WorkspaceId, EventSeq)>> {
        let mut by_ws: BTreeMap<WorkspaceId, Vec<NewEvent>> = BTreeMap::new();
        for e in std::mem::take(&mut self.events) {
            by_ws.entry(e.workspace).or_default().push(e);
        }
        let mut appended = Vec::with_capacity(by_ws.len());
        for (ws, events) in by_ws {
            let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
            let row = self
                .conn
                .one(
                    "UPDATE workspaces SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq",
                    args![ws, n],
                )
                .await?;
            let last = row.i64("event_seq")?;
            let first = last - n + 1;
            for (chunk_no, chunk) in events.chunks(EVENT_INSERT_ROWS).enumerate() {
                let base = first + (chunk_no * EVENT_INSERT_ROWS) as i64;
                self.insert_events(ws, base, chunk).await?;
            }
            if self.conn.dialect() == Dialect::Postgres {
                // Wakes `LISTEN coex_events` subscribers in any process after commit.
                self.conn
                    .exec(
                        "SELECT pg_notify('coex_events', $1)",
                        args![ws.get().to_string()],
                    )
                    .await?;
            }
            self.summary.events_appended += events.len() as u64;
            appended.push((ws, EventSeq::new(last)));
        }
        Ok(appended)
    }

    async fn insert_events(
        &mut self,
        ws: WorkspaceId,
        first: i64,
        events: &[NewEvent],
    ) -> Result<()> {
        const COLS: usize = 9;
        let mut sql = String::from(
            "INSERT INTO events (workspace_id, seq, kind, at, number_id, conversation_id, contact_id, wamid, data) VALUES ",
        );
        for i in 0..events.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * COLS;
            sql.push('(');
            for c in 1..=COLS {
                if c > 1 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(b + c).to_string());
            }
            sql.push(')');
        }
        let seqs: Vec<i64> = (0..events.len() as i64).map(|i| first + i).collect();
        let mut binds = Vec::with_capacity(events.len() * COLS);
        for (e, seq) in events.iter().zip(&seqs) {
            use crate::db::ToArg;
            binds.push(ws.to_arg());
            binds.push(seq.to_arg());
            binds.push(e.kind.to_arg());
            binds.push(e.at.to_arg());
            binds.push(e.number.to_arg());
            binds.push(e.conversation.to_arg());
            binds.push(e.contact.to_arg());
            binds.push(e.wamid.to_arg());
            binds.push(e.data.to_arg());
        }
        self.conn.exec(&sql, &binds).await?;
        Ok(())
    }
}

/// Feed events per multi-row `INSERT` (9 binds each; well under both dialects' limits).
const EVENT_INSERT_ROWS: usize = 64;
