//! Applying an [`IngestBatch`] inside one transaction.
//!
//! The order of work in [`run`]:
//! 1. a read-ahead of the numbers, contacts and conversations the batch names, a few
//!    statements for all of them; bulk inserts of the raw bodies and of the status history
//!    (the history's unique key tells which statuses are new; the rest are redeliveries);
//! 2. the events, in order, by an [`Applier`] with per-batch caches (numbers, contacts,
//!    conversations), except that new messages (inbound, echo, sent) are gathered into runs
//!    inserted in bulk (see `runs`); statuses and new app contacts may pass a run, nothing
//!    else does;
//! 3. the statuses set aside in step 2 (one per message in the batch, the common case), in
//!    bulk; parked edits whose original has now arrived;
//! 4. what accumulated: conversation aggregates (last activity, the window input, counts), the
//!    phone app's last sign of life per number, and the feed events with their sequence.
//!
//! Statements are few because on PostgreSQL every one is a round trip to the server, and round
//! trips, not SQL, are what ingest costs there. (On SQLite each statement runs in place on
//! the writer, see `lite`; fewer statements still mean less binding, stepping and copying.)
//!
//! Idempotency comes from unique keys, never from reading first: every insert is
//! `ON CONFLICT DO NOTHING` and its result says "new" or "duplicate"; every state move is a
//! conditional `UPDATE` whose `WHERE` encodes the rule (forward-only status, newer edit,
//! newer lifecycle event), so it also holds between concurrent PostgreSQL transactions. Those
//! can deadlock on each other's rows; the caller re-runs the batch (see `sql_store`).

mod account;
mod identity;
mod messages;
mod runs;

use std::collections::{BTreeMap, HashMap, HashSet};

use coex_core::model::{
    ArchiveId, ArchiveInput, ContactId, ConversationId, CustomerKey, EventKind, EventSeq, Ingest,
    IngestBatch, RawWebhook, StatusUpdate, Timestamp, WorkspaceId,
};
use coex_core::{PhoneNumberId, WabaId, Wamid};

use crate::db::{Arg, Conn, Dialect, ToArg, args, row_runs, values_list};
use crate::{BatchOutcome, BatchSummary, Result};

use identity::ContactRow;
pub(crate) use messages::{media_from, pricing_from};
use runs::{Queued, RunKeys};

/// Applies a whole batch on an open transaction. The caller commits.
pub(crate) async fn run(
    conn: &mut Conn<'_>,
    batch: &IngestBatch,
    now: Timestamp,
) -> Result<BatchOutcome> {
    let mut a = Applier::new(conn, now);
    a.prepare().await?;
    // The read-ahead first: the numbers and customers the batch names, a few statements for
    // all of them (recording the statuses asks for their numbers, which would otherwise be
    // one lookup each).
    a.prefetch_batch(batch).await?;
    // Bulk work next, one multi-row statement per few hundred rows: the raw bodies, and the
    // status history (whose conflicts tell which statuses are new).
    let archives = a.archive_all(batch).await?;
    a.record_statuses(batch).await?;
    // Message events (new messages of any origin but history) go in runs, in bulk: one
    // insert for many. The rest are applied one by one, in order.
    let mut run: Vec<Queued<'_>> = Vec::new();
    let mut run_keys = RunKeys::default();
    for (item, archive) in batch.items.iter().zip(&archives) {
        // A webhook is a body Meta sent, applied: events the hub made itself, the pieces a
        // large body is applied in (all but the last, which marks its archive), and a body
        // only archived for later are not one.
        if matches!(
            item.archive,
            ArchiveInput::New(_) | ArchiveInput::Existing(_)
        ) {
            a.summary.webhooks += 1;
        }
        for event in &item.events {
            if Queued::takes(event) {
                run_keys.add(event);
                run.push(Queued {
                    event,
                    received_at: item.received_at,
                    archive: *archive,
                });
                continue;
            }
            // An event that commutes with the messages before it (a status, a new app
            // contact; see `commutes_with_run`) does not end a run; any other goes after them.
            if !a.commutes_with_run(event, &run_keys) {
                a.messages_many(&std::mem::take(&mut run)).await?;
                run_keys.clear();
            }
            a.received_at = item.received_at;
            a.archive = *archive;
            a.apply(event).await?;
        }
    }
    a.messages_many(&run).await?;
    a.received_at = now;
    a.archive = None;
    a.apply_deferred_statuses().await?;
    if a.pending_patches {
        a.replay_all_pending_patches().await?;
    }
    a.flush_sync_items().await?;
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

pub(super) struct Applier<'a, 'c> {
    conn: &'a mut Conn<'c>,
    now: Timestamp,
    received_at: Timestamp,
    archive: Option<ArchiveId>,
    summary: BatchSummary,
    numbers: HashMap<PhoneNumberId, Option<NumberInfo>>,
    contacts: HashMap<(WorkspaceId, CustomerKey), ContactId>,
    contact_rows: HashMap<ContactId, ContactRow>,
    conversations: HashMap<(PhoneNumberId, ContactId), ConversationId>,
    /// Pairs the read-ahead found without a conversation, and contacts this transaction
    /// created: their conversations are created without looking for them first.
    no_conversation: HashSet<(PhoneNumberId, ContactId)>,
    created_contacts: HashSet<ContactId>,
    /// Conversations a run of messages needs that do not exist yet: created together (see
    /// `identity::create_conversations`).
    new_conversations: BTreeMap<(PhoneNumberId, ContactId), identity::NewConversation>,
    /// What `create_conversations` created, by pair, until the run that asked takes them
    /// (a contact merge clears `conversations` meanwhile).
    created_conversations: HashMap<(PhoneNumberId, ContactId), ConversationId>,
    conv_aggs: BTreeMap<ConversationId, ConvAgg>,
    activity: BTreeMap<PhoneNumberId, Timestamp>,
    events: Vec<NewEvent>,
    /// Whether any patch may be waiting for its original (replayed at the end of the batch).
    pending_patches: bool,
    /// Statuses of this batch that `status_history` did not have yet: (number, wamid, status).
    new_statuses: HashSet<(String, String, &'static str)>,
    /// Messages (number, wamid) with exactly one new status in this batch: their status can
    /// be applied in bulk at the end without changing the outcome.
    single_status_wamids: HashSet<(String, String)>,
    deferred_statuses: Vec<(NumberInfo, messages::StoredStatus)>,
    /// Contacts read ahead for a run of events, by (number, BSUID, phone): the first lookup
    /// of each customer is answered from here (see `runs`); a contact change drops what it may
    /// have made stale.
    prefetched: HashMap<runs::PrefetchKey, runs::Candidates>,
    /// Contact-sync items of this batch not recorded yet (see `account::flush_sync_items`).
    sync_items: Vec<account::PendingSyncItem>,
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
            no_conversation: HashSet::new(),
            created_contacts: HashSet::new(),
            new_conversations: BTreeMap::new(),
            created_conversations: HashMap::new(),
            conv_aggs: BTreeMap::new(),
            activity: BTreeMap::new(),
            events: Vec::new(),
            pending_patches: false,
            new_statuses: HashSet::new(),
            single_status_wamids: HashSet::new(),
            deferred_statuses: Vec::new(),
            prefetched: HashMap::new(),
            sync_items: Vec::new(),
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
        Ok(())
    }

    /// Archives every `New` body with multi-row inserts and marks every `Existing` one as
    /// processed; returns each item's archive id.
    ///
    /// Ids come back from `RETURNING` and are matched to rows by order: both engines assign
    /// increasing ids in `VALUES` order within one statement (SQLite rowids, a PostgreSQL
    /// identity sequence), so sorting them restores the row order.
    async fn archive_all(&mut self, batch: &IngestBatch) -> Result<Vec<Option<ArchiveId>>> {
        let mut ids: Vec<Option<ArchiveId>> = vec![None; batch.items.len()];
        let fresh: Vec<(usize, &RawWebhook, bool)> = batch
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.archive {
                ArchiveInput::New(raw) => Some((i, raw, true)),
                ArchiveInput::Deferred(raw) => Some((i, raw, false)),
                _ => None,
            })
            .collect();
        for (start, len) in row_runs(fresh.len(), 64) {
            let rows = &fresh[start..start + len];
            let sql = format!(
                "INSERT INTO webhook_archive (received_at, signature_ok, body, body_encoding, processed_at) \
                 VALUES {} RETURNING id",
                values_list(self.conn.dialect(), len, 5)
            );
            let mut binds = Vec::with_capacity(len * 5);
            for (_, raw, processed) in rows {
                binds.push(raw.received_at.to_arg());
                binds.push(raw.signature_ok.to_arg());
                binds.push(raw.body.as_slice().to_arg());
                binds.push(raw.encoding.as_str().to_arg());
                // A deferred body stays pending until the background applies it.
                binds.push(Arg::Int(processed.then_some(self.now.as_millis())));
            }
            let returned = self.conn.all(&sql, &binds).await?;
            let mut new_ids = returned
                .iter()
                .map(|r| r.i64("id"))
                .collect::<Result<Vec<_>>>()?;
            new_ids.sort_unstable();
            for ((item, _, _), id) in rows.iter().zip(new_ids) {
                ids[*item] = Some(ArchiveId::new(id));
            }
            self.summary.archived += len as u64;
        }
        for (i, item) in batch.items.iter().enumerate() {
            if let ArchiveInput::Existing(id) = &item.archive {
                self.conn
                    .exec(
                        "UPDATE webhook_archive SET processed_at = $2 \
                         WHERE id = $1 AND processed_at IS NULL",
                        args![*id, self.now],
                    )
                    .await?;
                ids[i] = Some(*id);
            }
        }
        Ok(ids)
    }

    /// Inserts the batch's statuses (of registered numbers) into `status_history` in bulk and
    /// remembers which were new; `status` then treats the others as duplicates.
    async fn record_statuses(&mut self, batch: &IngestBatch) -> Result<()> {
        let mut rows: Vec<(&StatusUpdate, Timestamp)> = Vec::new();
        for item in &batch.items {
            for event in &item.events {
                if let Ingest::Status(s) = event
                    && self.number_info(&s.number).await?.is_some()
                {
                    rows.push((s, item.received_at));
                }
            }
        }
        const COLS: usize = 12;
        for (start, len) in row_runs(rows.len(), 64) {
            let chunk = &rows[start..start + len];
            let sql = format!(
                "INSERT INTO status_history (number_id, wamid, status, occurred_at, received_at, error_code, \
                   error_title, error_details, pricing_billable, pricing_model, pricing_type, pricing_category) \
                 VALUES {} ON CONFLICT (number_id, wamid, status) DO NOTHING RETURNING number_id, wamid, status",
                values_list(self.conn.dialect(), len, COLS)
            );
            let mut binds = Vec::with_capacity(len * COLS);
            for (s, received_at) in chunk {
                let e = s.error.as_ref();
                let p = s.pricing.as_ref();
                binds.push(s.number.to_arg());
                binds.push(s.wamid.to_arg());
                binds.push(s.status.to_arg());
                binds.push(s.timestamp.to_arg());
                binds.push(received_at.to_arg());
                binds.push(Arg::Int(e.map(|e| e.code)));
                binds.push(Arg::Text(e.map(|e| e.title.as_str())));
                binds.push(Arg::Text(e.and_then(|e| e.details.as_deref())));
                binds.push(Arg::Bool(p.and_then(|p| p.billable)));
                binds.push(Arg::Text(p.and_then(|p| p.model.as_deref())));
                binds.push(Arg::Text(p.and_then(|p| p.kind.as_deref())));
                binds.push(Arg::Text(p.and_then(|p| p.category.as_deref())));
            }
            for r in self.conn.all(&sql, &binds).await? {
                let status: coex_core::model::MessageStatus = r.parse("status")?;
                self.new_statuses
                    .insert((r.str("number_id")?, r.str("wamid")?, status.as_str()));
            }
        }
        let mut per_message: HashMap<(&str, &str), usize> = HashMap::new();
        for (n, w, _) in &self.new_statuses {
            *per_message.entry((n.as_str(), w.as_str())).or_default() += 1;
        }
        self.single_status_wamids = per_message
            .into_iter()
            .filter(|(_, count)| *count == 1)
            .map(|((n, w), _)| (n.to_owned(), w.to_owned()))
            .collect();
        Ok(())
    }

    async fn apply(&mut self, event: &Ingest) -> Result<()> {
        // Contact-sync items are recorded in bulk; an event that may move a sync job (history,
        // lifecycle, errors) sees the items before it recorded first, as one by one would.
        if !matches!(
            event,
            Ingest::ContactUpsert(_) | Ingest::ContactRemove(_) | Ingest::Status(_)
        ) {
            self.flush_sync_items().await?;
        }
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
                    Ingest::InboundMessage(_) | Ingest::Echo(_) | Ingest::Sent(_) => {
                        let one = Queued {
                            event: other,
                            received_at: self.received_at,
                            archive: self.archive,
                        };
                        self.messages_many(&[one]).await
                    }
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
        let aggs: Vec<(ConversationId, ConvAgg)> =
            std::mem::take(&mut self.conv_aggs).into_iter().collect();
        for (start, len) in row_runs(aggs.len(), 64) {
            self.write_conv_aggs(&aggs[start..start + len]).await?;
        }
        Ok(())
    }

    /// Folds aggregates into conversations: later times win, counts add up. One statement for
    /// many conversations (`UPDATE ... FROM` a `VALUES` list, which both engines support).
    pub(super) async fn write_conv_aggs(
        &mut self,
        aggs: &[(ConversationId, ConvAgg)],
    ) -> Result<()> {
        if aggs.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "WITH v (id, lm, li, le, lo, n) AS (VALUES {}) \
             {} conversations SET \
               last_message_at = CASE WHEN v.lm IS NOT NULL AND v.lm > conversations.last_message_at \
                                      THEN v.lm ELSE conversations.last_message_at END, \
               last_inbound_at = CASE WHEN v.li IS NOT NULL AND (conversations.last_inbound_at IS NULL \
                                      OR v.li > conversations.last_inbound_at) \
                                      THEN v.li ELSE conversations.last_inbound_at END, \
               last_echo_at = CASE WHEN v.le IS NOT NULL AND (conversations.last_echo_at IS NULL \
                                   OR v.le > conversations.last_echo_at) \
                                   THEN v.le ELSE conversations.last_echo_at END, \
               last_outbound_at = CASE WHEN v.lo IS NOT NULL AND (conversations.last_outbound_at IS NULL \
                                       OR v.lo > conversations.last_outbound_at) \
                                       THEN v.lo ELSE conversations.last_outbound_at END, \
               message_count = conversations.message_count + v.n \
             FROM v WHERE conversations.id = v.id",
            values_list(self.conn.dialect(), aggs.len(), 6),
            self.conn.dialect().update_many()
        );
        let mut binds = Vec::with_capacity(aggs.len() * 6);
        for (id, agg) in aggs {
            binds.push(id.to_arg());
            binds.push(agg.last_message_at.to_arg());
            binds.push(agg.last_inbound_at.to_arg());
            binds.push(agg.last_echo_at.to_arg());
            binds.push(agg.last_outbound_at.to_arg());
            binds.push(agg.added.to_arg());
        }
        self.conn.exec(&sql, &binds).await?;
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
            for (start, len) in row_runs(events.len(), 64) {
                self.insert_events(ws, first + start as i64, &events[start..start + len])
                    .await?;
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
        let sql = format!(
            "INSERT INTO events (workspace_id, seq, kind, at, number_id, conversation_id, contact_id, wamid, data) \
             VALUES {}",
            values_list(self.conn.dialect(), events.len(), COLS)
        );
        let seqs: Vec<i64> = (0..events.len() as i64).map(|i| first + i).collect();
        let mut binds = Vec::with_capacity(events.len() * COLS);
        for (e, seq) in events.iter().zip(&seqs) {
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
