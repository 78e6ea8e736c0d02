//! Messages, statuses, edits/revokes/history media ("patches"), and the history import.
//!
//! Arrival order is never trusted: a status may overtake the message it is about (it is kept
//! as an orphan and applied when the message lands), an edit may overtake its original (kept
//! as a pending patch), and history may repeat live messages (deduplicated by wamid).

use coex_core::model::{
    Author, ConversationId, CustomerRef, Direction, EventKind, HistoryChunk, HistoryDeclined,
    HistoryMedia, MediaRef, MessageContent, MessageEdit, MessageKind, MessageRevoke, MessageStatus,
    MetaError, Origin, Pricing, RawJson, SendId, StatusUpdate, SyncState, Timestamp,
};
use coex_core::{MediaId, PhoneNumberId, Wamid};
use std::collections::HashSet;

use serde_json::json;

use super::{Applier, ConvAgg, NumberInfo};
use crate::Result;
use crate::db::{Arg, Dialect, Row, ToArg, args, row_runs, values_list};

/// How long a parked edit, revoke or history media is looked at again (Meta redelivers for
/// up to 7 days, and an original can arrive that late).
const PATCH_HORIZON_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A message about to be stored.
pub(super) struct NewMessage<'e> {
    pub wamid: &'e Wamid,
    pub direction: Direction,
    pub origin: Origin,
    pub sender: Option<&'e str>,
    pub content: &'e MessageContent,
    pub timestamp: Timestamp,
    pub status: Option<MessageStatus>,
    pub error: Option<&'e MetaError>,
    /// When the body carrying it was received (`stored_at`).
    pub stored_at: Timestamp,
    /// The send request it went out through (API messages the send queue sent).
    pub send: Option<SendId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Edit,
    Revoke,
    Media,
}

impl PatchKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Revoke => "revoke",
            Self::Media => "media",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "edit" => Some(Self::Edit),
            "revoke" => Some(Self::Revoke),
            "media" => Some(Self::Media),
            _ => None,
        }
    }
}

/// A change to an existing message: an edit, a revoke, or history media for a placeholder.
struct Patch {
    kind: PatchKind,
    /// The patch's own id: the edit/revoke event's wamid, or the placeholder's for media.
    id: Wamid,
    target: Wamid,
    author: Option<Author>,
    occurred_at: Timestamp,
    content: Option<MessageContent>,
}

/// What [`Applier::insert_messages`] inserted.
#[derive(Default)]
struct Inserted {
    /// The wamids that were new.
    fresh: HashSet<String>,
    /// Those of them with parked patches waiting.
    patched: HashSet<String>,
}

/// What [`Applier::insert_message_rows`] inserted, as (number, wamid).
#[derive(Default)]
pub(super) struct InsertedKeys {
    /// The messages that were new.
    pub fresh: HashSet<(String, String)>,
    /// Those of them with parked patches waiting.
    pub patched: HashSet<(String, String)>,
    /// Those of them with statuses that overtook them, parked as orphans.
    pub orphaned: HashSet<(String, String)>,
}

enum Outcome {
    Applied,
    Stale,
    Missing,
}

fn author_str(a: Author) -> &'static str {
    match a {
        Author::Customer => "customer",
        Author::BusinessApp => "business_app",
    }
}

/// `UPDATE` moving a message to `status` only from the statuses that accept it, so the rule
/// in `MessageStatus::accepts` holds even between concurrent transactions.
fn status_update_sql(status: MessageStatus) -> Option<String> {
    let from: Vec<String> = MessageStatus::accepted_from(status)
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    if from.is_empty() {
        return None;
    }
    Some(format!(
        "UPDATE messages SET status = $3, status_at = $4, \
           error_code = COALESCE($5, error_code), error_title = COALESCE($6, error_title), \
           error_details = COALESCE($7, error_details), \
           pricing_billable = COALESCE($8, pricing_billable), pricing_model = COALESCE($9, pricing_model), \
           pricing_type = COALESCE($10, pricing_type), pricing_category = COALESCE($11, pricing_category) \
         WHERE number_id = $1 AND wamid = $2 AND status IN ({}) RETURNING conversation_id",
        from.join(", ")
    ))
}

/// A status as stored in `status_history`, for replaying orphans.
pub(super) struct StoredStatus {
    pub number: PhoneNumberId,
    wamid: Wamid,
    status: MessageStatus,
    pub occurred_at: Timestamp,
    error: Option<MetaError>,
    pricing: Option<Pricing>,
}

pub(super) fn stored_status(r: &Row) -> Result<StoredStatus> {
    Ok(StoredStatus {
        number: r.parse("number_id")?,
        wamid: r.parse("wamid")?,
        status: r.parse("status")?,
        occurred_at: r.ts("occurred_at")?,
        error: match r.opt_i64("error_code")? {
            Some(code) => Some(MetaError {
                code,
                title: r.opt_str("error_title")?.unwrap_or_default(),
                details: r.opt_str("error_details")?,
            }),
            None => None,
        },
        pricing: pricing_from(r)?,
    })
}

pub(crate) fn pricing_from(r: &Row) -> Result<Option<Pricing>> {
    let p = Pricing {
        billable: r.get("pricing_billable")?,
        model: r.opt_str("pricing_model")?,
        kind: r.opt_str("pricing_type")?,
        category: r.opt_str("pricing_category")?,
    };
    Ok((p != Pricing::default()).then_some(p))
}

fn stored_patch(r: &Row) -> Result<Option<Patch>> {
    let Some(kind) = PatchKind::parse(&r.str("kind")?) else {
        return Ok(None);
    };
    let author = match r.opt_str("author")?.as_deref() {
        Some("customer") => Some(Author::Customer),
        Some("business_app") => Some(Author::BusinessApp),
        _ => None,
    };
    let content = match r.opt_str("content_kind")? {
        Some(k) => Some(MessageContent {
            kind: MessageKind::from_meta(&k),
            body: r.opt_str("body")?,
            media: media_from(r)?,
            reply_to: None,
            payload: r.opt_str("payload")?.map(RawJson::new),
        }),
        None => None,
    };
    Ok(Some(Patch {
        kind,
        id: r.parse("patch_id")?,
        target: r.parse("target_wamid")?,
        author,
        occurred_at: r.ts("occurred_at")?,
        content,
    }))
}

pub(crate) fn media_from(r: &Row) -> Result<Option<MediaRef>> {
    let m = MediaRef {
        id: r.opt_parse::<MediaId>("media_id")?,
        mime_type: r.opt_str("media_mime")?,
        sha256: r.opt_str("media_sha256")?,
        filename: r.opt_str("media_filename")?,
    };
    Ok((m != MediaRef::default()).then_some(m))
}

impl Applier<'_, '_> {
    /// Inserts messages of one number with one multi-row statement; returns the wamids that
    /// were new (a wamid already stored, or repeated in `rows`, is absent), and those of them
    /// that have parked patches waiting (to be replayed by the caller once the message is
    /// recorded).
    async fn insert_messages(
        &mut self,
        info: &NumberInfo,
        rows: &[(ConversationId, &NewMessage<'_>)],
    ) -> Result<Inserted> {
        let rows: Vec<_> = rows.iter().map(|(c, m)| (&info.id, *c, *m)).collect();
        let keyed = self.insert_message_rows(&rows).await?;
        Ok(Inserted {
            fresh: keyed.fresh.into_iter().map(|(_, w)| w).collect(),
            patched: keyed.patched.into_iter().map(|(_, w)| w).collect(),
        })
    }

    /// [`Self::insert_messages`] for messages of any numbers: what was new, and what has
    /// parked patches or orphan statuses waiting, as (number, wamid). (Asking in the insert's
    /// `RETURNING` saves a statement per run: the answer is almost always no.)
    ///
    /// PostgreSQL: the wamids' advisory locks are taken first (see [`Self::lock_wamid`]), and
    /// the insert, a statement started after they were granted, sees every patch parked by a
    /// transaction that held one of them, so a patch parked concurrently is never missed.
    pub(super) async fn insert_message_rows(
        &mut self,
        rows: &[(&PhoneNumberId, ConversationId, &NewMessage<'_>)],
    ) -> Result<InsertedKeys> {
        const COLS: usize = 22;
        let keys: Vec<(&PhoneNumberId, &Wamid)> =
            rows.iter().map(|(n, _, m)| (*n, m.wamid)).collect();
        self.lock_message_keys(&keys).await?;
        let sql = format!(
            "INSERT INTO messages (number_id, wamid, conversation_id, direction, origin, sender, kind, body, \
               media_id, media_mime, media_sha256, media_filename, reply_to, payload, sent_at, stored_at, \
               status, status_at, error_code, error_title, error_details, send_id) \
             VALUES {} ON CONFLICT (number_id, wamid) DO NOTHING \
             RETURNING number_id, wamid, EXISTS (SELECT 1 FROM message_patches p \
               WHERE p.number_id = messages.number_id AND p.target_wamid = messages.wamid \
                 AND NOT p.applied) AS patched, \
               EXISTS (SELECT 1 FROM status_history h \
               WHERE h.number_id = messages.number_id AND h.wamid = messages.wamid \
                 AND NOT h.applied) AS orphaned",
            values_list(self.conn.dialect(), rows.len(), COLS)
        );
        let mut binds = Vec::with_capacity(rows.len() * COLS);
        for (number, conversation, m) in rows {
            let media = m.content.media.as_ref();
            binds.push(number.to_arg());
            binds.push(m.wamid.to_arg());
            binds.push(conversation.to_arg());
            binds.push(m.direction.to_arg());
            binds.push(m.origin.to_arg());
            binds.push(Arg::Text(m.sender));
            binds.push(Arg::Text(Some(m.content.kind.as_str())));
            binds.push(Arg::Text(m.content.body.as_deref()));
            binds.push(Arg::Text(
                media.and_then(|x| x.id.as_ref()).map(MediaId::as_str),
            ));
            binds.push(Arg::Text(media.and_then(|x| x.mime_type.as_deref())));
            binds.push(Arg::Text(media.and_then(|x| x.sha256.as_deref())));
            binds.push(Arg::Text(media.and_then(|x| x.filename.as_deref())));
            binds.push(Arg::Text(m.content.reply_to.as_ref().map(Wamid::as_str)));
            binds.push(Arg::Text(m.content.payload.as_ref().map(RawJson::as_str)));
            binds.push(m.timestamp.to_arg());
            binds.push(m.stored_at.to_arg());
            binds.push(Arg::Text(m.status.map(MessageStatus::as_str)));
            binds.push(Arg::Int(m.status.map(|_| m.timestamp.as_millis())));
            binds.push(Arg::Int(m.error.map(|e| e.code)));
            binds.push(Arg::Text(m.error.map(|e| e.title.as_str())));
            binds.push(Arg::Text(m.error.and_then(|e| e.details.as_deref())));
            binds.push(Arg::Int(m.send.map(SendId::get)));
        }
        let returned = self.conn.all(&sql, &binds).await?;
        let mut out = InsertedKeys::default();
        for r in returned {
            let key = (r.str("number_id")?, r.str("wamid")?);
            if r.bool("patched")? {
                out.patched.insert(key.clone());
            }
            if r.bool("orphaned")? {
                out.orphaned.insert(key.clone());
            }
            out.fresh.insert(key);
        }
        Ok(out)
    }

    /// The consequences of a newly stored message: display data, conversation aggregates (the
    /// window input only for live customer messages), the feed event.
    pub(super) async fn message_stored(
        &mut self,
        info: &NumberInfo,
        customer: &CustomerRef,
        contact: coex_core::model::ContactId,
        conversation: ConversationId,
        m: &NewMessage<'_>,
    ) -> Result<()> {
        self.touch_display(contact, customer).await?;
        let at = Some(m.timestamp);
        let agg = match m.origin {
            Origin::Customer => ConvAgg {
                last_inbound_at: at,
                ..ConvAgg::default()
            },
            Origin::BusinessApp => ConvAgg {
                last_echo_at: at,
                last_outbound_at: at,
                ..ConvAgg::default()
            },
            Origin::ApiAgent | Origin::Automation | Origin::Campaign => ConvAgg {
                last_outbound_at: at,
                ..ConvAgg::default()
            },
            Origin::HistoryImport => ConvAgg::default(),
        };
        self.touch_conversation(
            conversation,
            ConvAgg {
                last_message_at: at,
                added: 1,
                ..agg
            },
        );
        self.emit(
            info.workspace,
            EventKind::MessageCreated,
            Some(&info.id),
            Some(conversation),
            Some(contact),
            Some(m.wamid),
            json!({ "origin": m.origin, "direction": m.direction, "type": m.content.kind }),
        );
        Ok(())
    }

    // --- statuses ------------------------------------------------------------------------

    pub(super) async fn status(&mut self, info: &NumberInfo, s: &StatusUpdate) -> Result<()> {
        // `record_statuses` inserted the batch's history rows up front; a key it did not see
        // as new is a redelivery (or a repeat within this batch).
        let key = (
            info.id.as_str().to_owned(),
            s.wamid.as_str().to_owned(),
            s.status.as_str(),
        );
        if !self.new_statuses.remove(&key) {
            self.summary.statuses_duplicate += 1;
            return Ok(());
        }
        // A status naming the recipient by both BSUID and phone links the two.
        if let Some(r) = &s.recipient
            && matches!(r.key, coex_core::model::CustomerKey::Both { .. })
        {
            self.resolve_contact(info, r).await?;
        }
        let stored = StoredStatus {
            number: info.id.clone(),
            wamid: s.wamid.clone(),
            status: s.status,
            occurred_at: s.timestamp,
            error: s.error.clone(),
            pricing: s.pricing.clone(),
        };
        let single = (info.id.as_str().to_owned(), s.wamid.as_str().to_owned());
        if self.single_status_wamids.contains(&single) {
            // The common case, applied in bulk at the end of the batch.
            self.deferred_statuses.push((info.clone(), stored));
            return Ok(());
        }
        self.settle_status(info, &stored).await
    }

    /// Applies one status now: forward if allowed, else stale, else parked as an orphan.
    async fn settle_status(&mut self, info: &NumberInfo, stored: &StoredStatus) -> Result<()> {
        let mut outcome = self.advance_status(info, stored).await?;
        // Not only `Missing`: a send committing between the `UPDATE` (which did not see it)
        // and the existence check (which does) looks `Stale`. Under the lock, a concurrent
        // send has committed or not inserted yet, so the second answer is the true one.
        if !matches!(outcome, Outcome::Applied) && self.lock_wamid(info, &stored.wamid).await? {
            outcome = self.advance_status(info, stored).await?;
        }
        match outcome {
            Outcome::Applied => self.summary.statuses_applied += 1,
            Outcome::Stale => self.summary.statuses_stale += 1,
            Outcome::Missing => {
                self.conn
                    .exec(
                        "UPDATE status_history SET applied = FALSE \
                         WHERE number_id = $1 AND wamid = $2 AND status = $3",
                        args![stored.number, stored.wamid, stored.status],
                    )
                    .await?;
                self.summary.statuses_orphaned += 1;
            }
        }
        Ok(())
    }

    /// Applies the deferred statuses (one per message in this batch) with multi-row
    /// `UPDATE ... FROM (VALUES ...)`. The forward-only condition is the same as for a single
    /// status, as a `CASE` over the incoming status. Whatever did not move (stale, or the
    /// message is missing) goes through [`Self::settle_status`] to be told apart.
    pub(super) async fn apply_deferred_statuses(&mut self) -> Result<()> {
        let deferred = std::mem::take(&mut self.deferred_statuses);
        const COLS: usize = 11;
        let mut guard = String::from("CASE v.s");
        for status in MessageStatus::ALL {
            let from: Vec<String> = MessageStatus::accepted_from(*status)
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            if !from.is_empty() {
                guard.push_str(&format!(
                    " WHEN '{}' THEN messages.status IN ({})",
                    status.as_str(),
                    from.join(", ")
                ));
            }
        }
        guard.push_str(" ELSE FALSE END");
        let mut leftovers = Vec::new();
        for (start, len) in row_runs(deferred.len(), 64) {
            let chunk = &deferred[start..start + len];
            let sql = format!(
                "WITH v (n, w, s, at, ec, et, ed, pb, pm, pt, pc) AS (VALUES {}) \
                 UPDATE messages SET status = v.s, status_at = v.at, \
                   error_code = COALESCE(v.ec, messages.error_code), \
                   error_title = COALESCE(v.et, messages.error_title), \
                   error_details = COALESCE(v.ed, messages.error_details), \
                   pricing_billable = COALESCE(v.pb, messages.pricing_billable), \
                   pricing_model = COALESCE(v.pm, messages.pricing_model), \
                   pricing_type = COALESCE(v.pt, messages.pricing_type), \
                   pricing_category = COALESCE(v.pc, messages.pricing_category) \
                 FROM v WHERE messages.number_id = v.n AND messages.wamid = v.w AND ({guard}) \
                 RETURNING messages.number_id, messages.wamid, messages.conversation_id",
                values_list(self.conn.dialect(), len, COLS)
            );
            let mut binds = Vec::with_capacity(len * COLS);
            for (_, st) in chunk {
                let e = st.error.as_ref();
                let p = st.pricing.as_ref();
                binds.push(st.number.to_arg());
                binds.push(st.wamid.to_arg());
                binds.push(st.status.to_arg());
                binds.push(st.occurred_at.to_arg());
                binds.push(Arg::Int(e.map(|e| e.code)));
                binds.push(Arg::Text(e.map(|e| e.title.as_str())));
                binds.push(Arg::Text(e.and_then(|e| e.details.as_deref())));
                binds.push(Arg::Bool(p.and_then(|p| p.billable)));
                binds.push(Arg::Text(p.and_then(|p| p.model.as_deref())));
                binds.push(Arg::Text(p.and_then(|p| p.kind.as_deref())));
                binds.push(Arg::Text(p.and_then(|p| p.category.as_deref())));
            }
            let rows = self.conn.all(&sql, &binds).await?;
            let mut moved = std::collections::HashMap::with_capacity(rows.len());
            for r in rows {
                let key = (r.str("number_id")?, r.str("wamid")?);
                moved.insert(key, ConversationId::new(r.i64("conversation_id")?));
            }
            for (i, (info, st)) in chunk.iter().enumerate() {
                let key = (st.number.as_str().to_owned(), st.wamid.as_str().to_owned());
                let Some(conversation) = moved.get(&key).copied() else {
                    leftovers.push(start + i);
                    continue;
                };
                self.summary.statuses_applied += 1;
                self.emit(
                    info.workspace,
                    EventKind::MessageStatus,
                    Some(&st.number),
                    Some(conversation),
                    None,
                    Some(&st.wamid),
                    json!({ "status": st.status, "error_code": st.error.as_ref().map(|e| e.code) }),
                );
            }
        }
        for i in leftovers {
            let (info, st) = &deferred[i];
            self.settle_status(info, st).await?;
        }
        Ok(())
    }

    async fn advance_status(&mut self, info: &NumberInfo, s: &StoredStatus) -> Result<Outcome> {
        let e = s.error.as_ref();
        let p = s.pricing.as_ref();
        if let Some(sql) = status_update_sql(s.status) {
            let row = self
                .conn
                .opt(
                    &sql,
                    args![
                        s.number,
                        s.wamid,
                        s.status,
                        s.occurred_at,
                        e.map(|e| e.code),
                        e.map(|e| e.title.as_str()),
                        e.and_then(|e| e.details.as_deref()),
                        p.and_then(|p| p.billable),
                        p.and_then(|p| p.model.as_deref()),
                        p.and_then(|p| p.kind.as_deref()),
                        p.and_then(|p| p.category.as_deref()),
                    ],
                )
                .await?;
            if let Some(row) = row {
                let conversation = ConversationId::new(row.i64("conversation_id")?);
                self.emit(
                    info.workspace,
                    EventKind::MessageStatus,
                    Some(&s.number),
                    Some(conversation),
                    None,
                    Some(&s.wamid),
                    json!({ "status": s.status, "error_code": e.map(|e| e.code) }),
                );
                return Ok(Outcome::Applied);
            }
        }
        let exists = self
            .conn
            .opt(
                "SELECT id FROM messages WHERE number_id = $1 AND wamid = $2",
                args![s.number, s.wamid],
            )
            .await?
            .is_some();
        if !exists {
            return Ok(Outcome::Missing);
        }
        // Meta sends `pricing` on only one of delivered/read; keep it even from a stale status.
        if let Some(p) = p {
            self.conn
                .exec(
                    "UPDATE messages SET pricing_billable = COALESCE($3, pricing_billable), \
                       pricing_model = COALESCE($4, pricing_model), pricing_type = COALESCE($5, pricing_type), \
                       pricing_category = COALESCE($6, pricing_category) \
                     WHERE number_id = $1 AND wamid = $2",
                    args![
                        s.number,
                        s.wamid,
                        p.billable,
                        p.model.as_deref(),
                        p.kind.as_deref(),
                        p.category.as_deref()
                    ],
                )
                .await?;
        }
        Ok(Outcome::Stale)
    }

    /// PostgreSQL: serialises "park a status whose message is missing" against "store the
    /// message and replay parked statuses" for one wamid across processes, so neither misses
    /// the other (a transaction-scoped advisory lock; no-op on SQLite, whose writers are
    /// serialised anyway). Returns whether a lock was taken.
    ///
    /// The same lock serialises "park an edit, revoke or history media whose message is
    /// missing" ([`Self::new_patch`]) against "store the message" ([`Self::insert_messages`]).
    async fn lock_wamid(&mut self, info: &NumberInfo, wamid: &Wamid) -> Result<bool> {
        self.lock_wamids(info, &[wamid]).await
    }

    /// [`Self::lock_wamid`] for several wamids in one statement, in the order of their lock
    /// keys, so two transactions locking overlapping sets (a history chunk and its redelivery)
    /// queue instead of deadlocking.
    async fn lock_wamids(&mut self, info: &NumberInfo, wamids: &[&Wamid]) -> Result<bool> {
        let keys: Vec<_> = wamids.iter().map(|w| (&info.id, *w)).collect();
        self.lock_message_keys(&keys).await
    }

    /// [`Self::lock_wamids`] for (number, wamid) pairs of any numbers.
    async fn lock_message_keys(&mut self, keys: &[(&PhoneNumberId, &Wamid)]) -> Result<bool> {
        if self.conn.dialect() != Dialect::Postgres || keys.is_empty() {
            return Ok(false);
        }
        let sql = format!(
            "SELECT pg_advisory_xact_lock(k) FROM ( \
               SELECT DISTINCT hashtextextended(v.n || ':' || v.w, 0) AS k \
               FROM (VALUES {}) AS v(n, w) ORDER BY k) AS keys",
            values_list(Dialect::Postgres, keys.len(), 2)
        );
        let mut binds = Vec::with_capacity(keys.len() * 2);
        for (number, wamid) in keys {
            binds.push(number.to_arg());
            binds.push(wamid.to_arg());
        }
        self.conn.exec(&sql, &binds).await?;
        Ok(true)
    }

    pub(super) async fn replay_status(
        &mut self,
        info: &NumberInfo,
        s: &StoredStatus,
    ) -> Result<()> {
        match self.advance_status(info, s).await? {
            Outcome::Missing => return Ok(()),
            Outcome::Applied => self.summary.statuses_applied += 1,
            Outcome::Stale => {}
        }
        self.conn
            .exec(
                "UPDATE status_history SET applied = TRUE WHERE number_id = $1 AND wamid = $2 AND status = $3",
                args![s.number, s.wamid, s.status],
            )
            .await?;
        Ok(())
    }

    /// Applies every parked patch whose message now exists (end of batch). This also catches an
    /// original that another process committed while this patch was being parked: the next
    /// batch anywhere picks it up. Patches are re-examined for a week (Meta's redelivery
    /// horizon): an edit whose original never came stays parked, unread.
    pub(super) async fn replay_all_pending_patches(&mut self) -> Result<()> {
        let since = self.now.plus_millis(-PATCH_HORIZON_MS);
        let rows = self
            .conn
            .all(
                "SELECT DISTINCT p.number_id, p.target_wamid FROM message_patches p \
                 JOIN messages m ON m.number_id = p.number_id AND m.wamid = p.target_wamid \
                 WHERE NOT p.applied AND p.received_at > $1",
                args![since],
            )
            .await?;
        for row in rows {
            let number: PhoneNumberId = row.parse("number_id")?;
            let target: Wamid = row.parse("target_wamid")?;
            if let Some(info) = self.number_info(&number).await? {
                self.replay_pending_patches(&info, &target).await?;
            }
        }
        Ok(())
    }

    // --- edits, revokes, history media ---------------------------------------------------

    pub(super) async fn edit(&mut self, info: &NumberInfo, e: &MessageEdit) -> Result<()> {
        let patch = Patch {
            kind: PatchKind::Edit,
            id: e.wamid.clone(),
            target: e.original.clone(),
            author: Some(e.author),
            occurred_at: e.timestamp,
            content: Some(e.content.clone()),
        };
        self.new_patch(info, patch).await
    }

    pub(super) async fn revoke(&mut self, info: &NumberInfo, r: &MessageRevoke) -> Result<()> {
        let patch = Patch {
            kind: PatchKind::Revoke,
            id: r.wamid.clone(),
            target: r.original.clone(),
            author: Some(r.author),
            occurred_at: r.timestamp,
            content: None,
        };
        self.new_patch(info, patch).await
    }

    pub(super) async fn history_media(
        &mut self,
        info: &NumberInfo,
        m: &HistoryMedia,
    ) -> Result<()> {
        let patch = Patch {
            kind: PatchKind::Media,
            id: m.wamid.clone(),
            target: m.wamid.clone(),
            author: None,
            occurred_at: m.timestamp,
            content: Some(m.content.clone()),
        };
        self.app_activity(&info.id, self.received_at);
        self.new_patch(info, patch).await
    }

    async fn new_patch(&mut self, info: &NumberInfo, p: Patch) -> Result<()> {
        if p.author == Some(Author::BusinessApp) {
            self.app_activity(&info.id, p.occurred_at);
        }
        let c = p.content.as_ref();
        let media = c.and_then(|c| c.media.as_ref());
        let new = self
            .conn
            .exec(
                "INSERT INTO message_patches (number_id, kind, patch_id, target_wamid, author, occurred_at, \
                   received_at, content_kind, body, media_id, media_mime, media_sha256, media_filename, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (number_id, kind, patch_id) DO NOTHING",
                args![
                    info.id,
                    p.kind.as_str(),
                    p.id,
                    p.target,
                    p.author.map(author_str),
                    p.occurred_at,
                    self.received_at,
                    c.map(|c| c.kind.as_str()),
                    c.and_then(|c| c.body.as_deref()),
                    media.and_then(|m| m.id.as_ref()),
                    media.and_then(|m| m.mime_type.as_deref()),
                    media.and_then(|m| m.sha256.as_deref()),
                    media.and_then(|m| m.filename.as_deref()),
                    c.and_then(|c| c.payload.as_ref()).map(RawJson::as_str),
                ],
            )
            .await?;
        if new == 0 {
            self.summary.patches_duplicate += 1;
            return Ok(());
        }
        let mut outcome = self.apply_patch(info, &p).await?;
        // The original may be being stored by another transaction: once its lock is ours,
        // that one has committed (and the retry sees the message) or has not inserted yet
        // (and will find this patch, parked below, when it does). `Stale` too: an original
        // committed between the `UPDATE` and the existence check looks stale.
        if !matches!(outcome, Outcome::Applied) && self.lock_wamid(info, &p.target).await? {
            outcome = self.apply_patch(info, &p).await?;
        }
        match outcome {
            Outcome::Applied => self.summary.patches_applied += 1,
            Outcome::Stale => self.summary.patches_stale += 1,
            Outcome::Missing => {
                self.conn
                    .exec(
                        "UPDATE message_patches SET applied = FALSE \
                         WHERE number_id = $1 AND kind = $2 AND patch_id = $3",
                        args![info.id, p.kind.as_str(), p.id],
                    )
                    .await?;
                self.pending_patches = true;
                self.summary.patches_pending += 1;
            }
        }
        Ok(())
    }

    async fn apply_patch(&mut self, info: &NumberInfo, p: &Patch) -> Result<Outcome> {
        let c = p.content.as_ref();
        let media = c.and_then(|c| c.media.as_ref());
        let kind = c.map(|c| c.kind.as_str());
        let body = c.and_then(|c| c.body.as_deref());
        let media_id = media.and_then(|m| m.id.as_ref());
        let mime = media.and_then(|m| m.mime_type.as_deref());
        let sha = media.and_then(|m| m.sha256.as_deref());
        let filename = media.and_then(|m| m.filename.as_deref());
        let payload = c.and_then(|c| c.payload.as_ref()).map(RawJson::as_str);
        let (row, event) = match p.kind {
            // The newest edit wins, whatever order edits arrive in.
            PatchKind::Edit => (
                self.conn
                    .opt(
                        "UPDATE messages SET kind = COALESCE($3, kind), body = $4, media_id = $5, \
                           media_mime = $6, media_sha256 = $7, media_filename = $8, payload = $9, edited_at = $10 \
                         WHERE number_id = $1 AND wamid = $2 AND (edited_at IS NULL OR edited_at <= $10) \
                         RETURNING conversation_id",
                        args![info.id, p.target, kind, body, media_id, mime, sha, filename, payload, p.occurred_at],
                    )
                    .await?,
                EventKind::MessageEdited,
            ),
            PatchKind::Revoke => (
                self.conn
                    .opt(
                        "UPDATE messages SET revoked_at = $3 \
                         WHERE number_id = $1 AND wamid = $2 AND revoked_at IS NULL \
                         RETURNING conversation_id",
                        args![info.id, p.target, p.occurred_at],
                    )
                    .await?,
                EventKind::MessageRevoked,
            ),
            // Only a placeholder takes history media; a message that has content keeps it.
            PatchKind::Media => (
                self.conn
                    .opt(
                        "UPDATE messages SET kind = COALESCE($3, kind), body = COALESCE($4, body), \
                           media_id = $5, media_mime = $6, media_sha256 = $7, media_filename = $8, \
                           payload = COALESCE($9, payload) \
                         WHERE number_id = $1 AND wamid = $2 AND kind = 'media_placeholder' \
                         RETURNING conversation_id",
                        args![info.id, p.target, kind, body, media_id, mime, sha, filename, payload],
                    )
                    .await?,
                EventKind::MessageMedia,
            ),
        };
        if let Some(row) = row {
            let conversation = ConversationId::new(row.i64("conversation_id")?);
            self.emit(
                info.workspace,
                event,
                Some(&info.id),
                Some(conversation),
                None,
                Some(&p.target),
                json!({ "by": p.author.map(author_str) }),
            );
            return Ok(Outcome::Applied);
        }
        let exists = self
            .conn
            .opt(
                "SELECT id FROM messages WHERE number_id = $1 AND wamid = $2",
                args![info.id, p.target],
            )
            .await?
            .is_some();
        Ok(if exists {
            Outcome::Stale
        } else {
            Outcome::Missing
        })
    }

    /// Applies patches that arrived before the message `wamid`, oldest first.
    pub(super) async fn replay_pending_patches(
        &mut self,
        info: &NumberInfo,
        wamid: &Wamid,
    ) -> Result<()> {
        let rows = self
            .conn
            .all(
                "SELECT id, kind, patch_id, target_wamid, author, occurred_at, content_kind, body, media_id, \
                   media_mime, media_sha256, media_filename, payload \
                 FROM message_patches WHERE number_id = $1 AND target_wamid = $2 AND NOT applied \
                 ORDER BY occurred_at, id",
                args![info.id, wamid],
            )
            .await?;
        for row in rows {
            let id = row.i64("id")?;
            if let Some(p) = stored_patch(&row)? {
                match self.apply_patch(info, &p).await? {
                    Outcome::Missing => continue,
                    Outcome::Applied => self.summary.patches_applied += 1,
                    Outcome::Stale => {}
                }
            }
            self.conn
                .exec(
                    "UPDATE message_patches SET applied = TRUE WHERE id = $1",
                    args![id],
                )
                .await?;
        }
        Ok(())
    }

    // --- history -------------------------------------------------------------------------

    pub(super) async fn history_chunk(
        &mut self,
        info: &NumberInfo,
        h: &HistoryChunk,
    ) -> Result<()> {
        let chunk_new = self
            .conn
            .exec(
                "INSERT INTO history_chunks (number_id, phase, chunk_order, progress, received_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (number_id, phase, chunk_order) DO NOTHING",
                args![info.id, h.phase, h.chunk_order, h.progress, self.received_at],
            )
            .await?
            == 1;
        // Resolve every message's conversation first. A merge of two contacts while doing so
        // can retire a conversation resolved earlier, so then resolve again (a second pass
        // finds nothing left to merge).
        let mut prepared = Vec::with_capacity(h.messages.len());
        loop {
            let merges = self.summary.contacts_merged;
            prepared.clear();
            for m in &h.messages {
                let contact = self.resolve_contact(info, &m.customer).await?;
                let conversation = self.conversation(info, contact, m.timestamp).await?;
                prepared.push((m, contact, conversation));
            }
            if self.summary.contacts_merged == merges {
                break;
            }
        }
        let prepared: Vec<_> = prepared
            .into_iter()
            .map(|(m, contact, conversation)| {
                let new = NewMessage {
                    wamid: &m.wamid,
                    direction: m.direction,
                    origin: Origin::HistoryImport,
                    sender: None,
                    content: &m.content,
                    timestamp: m.timestamp,
                    status: m.status,
                    error: None,
                    stored_at: self.received_at,
                    send: None,
                };
                (m, contact, conversation, new)
            })
            .collect();
        let mut fresh = HashSet::new();
        let mut patched = HashSet::new();
        for (start, len) in row_runs(prepared.len(), 32) {
            let rows: Vec<_> = prepared[start..start + len]
                .iter()
                .map(|(_, _, conversation, new)| (*conversation, new))
                .collect();
            let inserted = self.insert_messages(info, &rows).await?;
            fresh.extend(inserted.fresh);
            patched.extend(inserted.patched);
        }
        let mut inserted: u64 = 0;
        for (m, contact, conversation, new) in &prepared {
            // `remove`: a wamid repeated inside the chunk counts as stored once.
            if fresh.remove(m.wamid.as_str()) {
                self.message_stored(info, &m.customer, *contact, *conversation, new)
                    .await?;
                // History media that overtook its placeholder, parked here or elsewhere.
                if patched.contains(m.wamid.as_str()) {
                    self.replay_pending_patches(info, &m.wamid).await?;
                }
                inserted += 1;
                self.summary.history_inserted += 1;
            } else {
                self.summary.history_duplicate += 1;
            }
        }
        if chunk_new {
            self.summary.history_chunks += 1;
        } else {
            self.summary.history_chunks_duplicate += 1;
        }
        self.app_activity(&info.id, self.received_at);
        let row = self
            .conn
            .one(
                "INSERT INTO sync_jobs (number_id, kind, state, phase, chunk_order, progress, chunks_received, \
                   items_received, last_event_at) \
                 VALUES ($1, 'history', $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (number_id, kind) DO UPDATE SET \
                   state = CASE WHEN sync_jobs.state = 'complete' OR excluded.progress >= 100 \
                                THEN 'complete' ELSE 'in_progress' END, \
                   phase = CASE WHEN excluded.progress >= sync_jobs.progress THEN excluded.phase ELSE sync_jobs.phase END, \
                   chunk_order = CASE WHEN excluded.progress >= sync_jobs.progress \
                                      THEN excluded.chunk_order ELSE sync_jobs.chunk_order END, \
                   progress = CASE WHEN excluded.progress > sync_jobs.progress THEN excluded.progress ELSE sync_jobs.progress END, \
                   chunks_received = sync_jobs.chunks_received + excluded.chunks_received, \
                   items_received = sync_jobs.items_received + excluded.items_received, \
                   last_event_at = CASE WHEN sync_jobs.last_event_at IS NULL OR excluded.last_event_at > sync_jobs.last_event_at \
                                        THEN excluded.last_event_at ELSE sync_jobs.last_event_at END \
                 RETURNING state, progress",
                args![
                    info.id,
                    if h.progress >= 100 { SyncState::Complete } else { SyncState::InProgress },
                    h.phase,
                    h.chunk_order,
                    h.progress,
                    i64::from(chunk_new),
                    inserted,
                    self.received_at,
                ],
            )
            .await?;
        if chunk_new || inserted > 0 {
            self.emit(
                info.workspace,
                EventKind::SyncProgress,
                Some(&info.id),
                None,
                None,
                None,
                json!({
                    "kind": "history",
                    "state": row.str("state")?,
                    "progress": row.i64("progress")?,
                    "phase": h.phase,
                    "chunk_order": h.chunk_order,
                    "imported": inserted,
                }),
            );
        }
        Ok(())
    }

    pub(super) async fn history_declined(
        &mut self,
        info: &NumberInfo,
        d: &HistoryDeclined,
    ) -> Result<()> {
        self.summary.history_declined += 1;
        self.app_activity(&info.id, self.received_at);
        let before = self
            .conn
            .opt(
                "SELECT state FROM sync_jobs WHERE number_id = $1 AND kind = 'history'",
                args![info.id],
            )
            .await?
            .map(|r| r.str("state"))
            .transpose()?;
        if matches!(before.as_deref(), Some("declined" | "complete")) {
            return Ok(());
        }
        self.conn
            .exec(
                "INSERT INTO sync_jobs (number_id, kind, state, progress, chunks_received, items_received, \
                   last_event_at, error_code, error_title, error_details) \
                 VALUES ($1, 'history', 'declined', 0, 0, 0, $2, $3, $4, $5) \
                 ON CONFLICT (number_id, kind) DO UPDATE SET state = 'declined', \
                   last_event_at = excluded.last_event_at, error_code = excluded.error_code, \
                   error_title = excluded.error_title, error_details = excluded.error_details",
                args![
                    info.id,
                    self.received_at,
                    d.error.code,
                    d.error.title,
                    d.error.details
                ],
            )
            .await?;
        self.emit(
            info.workspace,
            EventKind::SyncProgress,
            Some(&info.id),
            None,
            None,
            None,
            json!({ "kind": "history", "state": "declined", "error_code": d.error.code }),
        );
        Ok(())
    }
}
