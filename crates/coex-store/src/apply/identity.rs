//! Customer identity (spec/cloud-api.md §10.6): finding, creating, linking, re-keying and
//! merging contacts, and the conversation of a (number, contact) pair.
//!
//! A contact is keyed per workspace by BSUID (current or earlier, via `contact_aliases`) and by
//! phone; either may be missing. Resolution looks both up in one query and reconciles:
//! - both name the same contact: done;
//! - the BSUID's contact and a phone-only contact: the phone-only one is merged into it;
//! - the phone belongs to a contact with another BSUID: the number changed hands, so the phone
//!   moves to the BSUID's contact (the old contact keeps its history and BSUID);
//! - only one is known: the other key is attached to it; none: a contact is created.

use coex_core::model::{
    ContactId, ContactSync, ConversationId, CustomerKey, CustomerRef, EventKind, Timestamp,
    UserIdChange, WorkspaceId,
};
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId};
use serde_json::json;

use super::{Applier, ConvAgg, NumberInfo, runs};
use crate::db::{Arg, Row, ToArg, args, row_runs, values_list};
use crate::{Result, StoreError};

/// Where a message's conversation stands while a run of messages is placed.
pub(super) enum Placement {
    Known(ConversationId),
    /// To be created with the run's other new conversations.
    Queued,
    /// Not cached and not known to be absent: looked up (and created) on its own.
    Unknown,
}

/// A conversation queued for creation (keyed by its number and contact): its workspace,
/// creation time and first message's time.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewConversation {
    pub workspace: WorkspaceId,
    pub created_at: Timestamp,
    pub first_message_at: Timestamp,
}

/// The identity and display columns of a contact, as resolution sees them.
#[derive(Debug, Clone)]
pub(crate) struct ContactRow {
    pub id: ContactId,
    pub bsuid: Option<String>,
    pub phone: Option<String>,
    pub parent_bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub username: Option<String>,
    /// Found through an earlier BSUID rather than its current one.
    pub via_alias: bool,
    /// Its conversation on the number being processed, if any.
    pub conversation: Option<ConversationId>,
}

impl ContactRow {
    pub(super) fn from_row(r: &Row) -> Result<Self> {
        Ok(Self {
            id: ContactId::new(r.i64("id")?),
            bsuid: r.opt_str("bsuid")?,
            phone: r.opt_str("phone")?,
            parent_bsuid: r.opt_str("parent_bsuid")?,
            profile_name: r.opt_str("profile_name")?,
            username: r.opt_str("username")?,
            via_alias: r.i64("via_alias")? != 0,
            conversation: r.opt_i64("conversation_id")?.map(ConversationId::new),
        })
    }
}

/// Every contact a BSUID (current or earlier) or a phone names, with its conversation on the
/// number at hand, in one round trip.
const CANDIDATES: &str = "\
    SELECT k.id, k.bsuid, k.phone, k.parent_bsuid, k.profile_name, k.username, CAST(0 AS BIGINT) AS via_alias, \
           (SELECT v.id FROM conversations v WHERE v.number_id = $4 AND v.contact_id = k.id) AS conversation_id \
      FROM contacts k WHERE k.workspace_id = $1 AND k.bsuid = $2 \
    UNION ALL \
    SELECT k.id, k.bsuid, k.phone, k.parent_bsuid, k.profile_name, k.username, CAST(0 AS BIGINT) AS via_alias, \
           (SELECT v.id FROM conversations v WHERE v.number_id = $4 AND v.contact_id = k.id) AS conversation_id \
      FROM contacts k WHERE k.workspace_id = $1 AND k.phone = $3 \
    UNION ALL \
    SELECT k.id, k.bsuid, k.phone, k.parent_bsuid, k.profile_name, k.username, CAST(1 AS BIGINT) AS via_alias, \
           (SELECT v.id FROM conversations v WHERE v.number_id = $4 AND v.contact_id = k.id) AS conversation_id \
      FROM contact_aliases a JOIN contacts k ON k.id = a.contact_id \
     WHERE a.workspace_id = $1 AND a.bsuid = $2";

/// Resolution retries when a concurrent transaction creates the same contact between our
/// lookup and our insert (PostgreSQL; the retry sees the committed row).
const RESOLVE_ATTEMPTS: usize = 3;

impl Applier<'_, '_> {
    async fn candidates(
        &mut self,
        info: &NumberInfo,
        bsuid: Option<&Bsuid>,
        phone: Option<&PhoneNumber>,
    ) -> Result<(Option<ContactRow>, Option<ContactRow>)> {
        if let Some(found) = self
            .prefetched
            .remove(&runs::prefetch_key(&info.id, bsuid, phone))
        {
            return Ok(found);
        }
        let rows = self
            .conn
            .all(CANDIDATES, args![info.workspace, bsuid, phone, info.id])
            .await?;
        let rows = rows
            .iter()
            .map(ContactRow::from_row)
            .collect::<Result<Vec<_>>>()?;
        let by_bsuid = bsuid.and_then(|b| {
            rows.iter()
                .find(|r| !r.via_alias && r.bsuid.as_deref() == Some(b.as_str()))
                .or_else(|| rows.iter().find(|r| r.via_alias))
                .cloned()
        });
        let by_phone = phone.and_then(|p| {
            rows.iter()
                .find(|r| !r.via_alias && r.phone.as_deref() == Some(p.digits()))
                .cloned()
        });
        Ok((by_bsuid, by_phone))
    }

    /// The contact a customer reference names, creating or linking as needed.
    pub(super) async fn resolve_contact(
        &mut self,
        info: &NumberInfo,
        c: &CustomerRef,
    ) -> Result<ContactId> {
        Ok(self.resolve_contact_as(info, c, None).await?.0)
    }

    /// [`Self::resolve_contact`] for a contact added in the phone app: one it creates has the
    /// app's names from the start (one statement where creating, then naming, took two).
    /// Also says whether it created the contact.
    pub(super) async fn resolve_app_contact(
        &mut self,
        info: &NumberInfo,
        app: &ContactSync,
    ) -> Result<(ContactId, bool)> {
        self.resolve_contact_as(info, &app.customer, Some(app))
            .await
    }

    async fn resolve_contact_as(
        &mut self,
        info: &NumberInfo,
        c: &CustomerRef,
        app: Option<&ContactSync>,
    ) -> Result<(ContactId, bool)> {
        let ws = info.workspace;
        if let Some(id) = self.contacts.get(&(ws, c.key.clone())) {
            return Ok((*id, false));
        }
        let mut created = false;
        let bsuid = c.key.bsuid();
        let phone = c.key.phone();
        for _ in 0..RESOLVE_ATTEMPTS {
            let (by_bsuid, by_phone) = self.candidates(info, bsuid, phone).await?;
            let row = match (by_bsuid, by_phone) {
                (Some(b), Some(p)) if b.id == p.id => b,
                (Some(b), Some(p)) => {
                    let Some(phone) = phone else {
                        return Err(StoreError::Corrupt("phone match without phone".into()));
                    };
                    if p.bsuid.is_none() {
                        // A phone-only record (pre-BSUID history, app contact) of this person.
                        self.merge_contacts(info, p.id, b.id).await?;
                    } else {
                        self.set_phone(p.id, None).await?;
                        self.contact_changed(info, p.id, "phone_moved");
                    }
                    self.set_phone(b.id, Some(phone)).await?;
                    self.contact_changed(info, b.id, "linked");
                    ContactRow {
                        phone: Some(phone.digits().to_owned()),
                        ..b
                    }
                }
                (Some(b), None) => match phone {
                    Some(phone) if b.phone.as_deref() != Some(phone.digits()) => {
                        self.set_phone(b.id, Some(phone)).await?;
                        self.contact_changed(info, b.id, "linked");
                        ContactRow {
                            phone: Some(phone.digits().to_owned()),
                            ..b
                        }
                    }
                    _ => b,
                },
                (None, Some(p)) => match bsuid {
                    None => p,
                    Some(bsuid) if p.bsuid.is_none() => {
                        self.conn
                            .exec(
                                "UPDATE contacts SET bsuid = $2, updated_at = $3 WHERE id = $1",
                                args![p.id, bsuid, self.received_at],
                            )
                            .await?;
                        self.contact_changed(info, p.id, "linked");
                        ContactRow {
                            bsuid: Some(bsuid.as_str().to_owned()),
                            ..p
                        }
                    }
                    Some(_) => {
                        // The phone now belongs to another person (a new BSUID for it).
                        self.set_phone(p.id, None).await?;
                        self.contact_changed(info, p.id, "phone_moved");
                        match self.insert_contact(info, c, app).await? {
                            Some(row) => {
                                created = true;
                                row
                            }
                            None => continue,
                        }
                    }
                },
                (None, None) => match self.insert_contact(info, c, app).await? {
                    Some(row) => {
                        created = true;
                        row
                    }
                    None => continue,
                },
            };
            let id = row.id;
            if let Some(conversation) = row.conversation {
                self.conversations
                    .insert((info.id.clone(), id), conversation);
            }
            self.contacts.insert((ws, c.key.clone()), id);
            self.contact_rows.insert(id, row);
            return Ok((id, created));
        }
        Err(StoreError::Conflict(format!(
            "contact {:?} kept being created concurrently",
            c.key
        )))
    }

    /// Creates the contact of `c` (with the phone app's names when `app` adds it), or nothing
    /// when a concurrent transaction created one of its keys first.
    async fn insert_contact(
        &mut self,
        info: &NumberInfo,
        c: &CustomerRef,
        app: Option<&ContactSync>,
    ) -> Result<Option<ContactRow>> {
        let row = self
            .conn
            .opt(
                "INSERT INTO contacts (workspace_id, bsuid, parent_bsuid, phone, profile_name, username, \
                   in_app_contacts, app_full_name, app_first_name, app_changed_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                 ON CONFLICT DO NOTHING RETURNING id",
                args![
                    info.workspace,
                    c.key.bsuid(),
                    c.parent_bsuid,
                    c.key.phone(),
                    c.profile_name,
                    c.username,
                    app.is_some(),
                    app.and_then(|a| a.full_name.as_deref()),
                    app.and_then(|a| a.first_name.as_deref()),
                    app.map(|a| a.timestamp),
                    self.received_at
                ],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id = ContactId::new(row.i64("id")?);
        self.created_contacts.insert(id);
        // A new contact holds only its own keys, which no contact held before (they are
        // unique per workspace): the read-ahead answers that looked one of them up are stale,
        // the others stay true. (Dropping every answer that found nothing, as any other change
        // does, made each further new customer of the batch a lookup of its own.)
        let (bsuid, phone) = (
            c.key.bsuid().map(Bsuid::as_str),
            c.key.phone().map(PhoneNumber::digits),
        );
        let looked_up = |b: &Option<String>, p: &Option<String>| {
            (bsuid.is_some() && b.as_deref() == bsuid) || (phone.is_some() && p.as_deref() == phone)
        };
        self.prefetched.retain(|(_, b, p), _| !looked_up(b, p));
        self.announce_contact(info, id, "created");
        Ok(Some(ContactRow {
            id,
            bsuid: c.key.bsuid().map(|b| b.as_str().to_owned()),
            phone: c.key.phone().map(|p| p.digits().to_owned()),
            parent_bsuid: c.parent_bsuid.as_ref().map(|b| b.as_str().to_owned()),
            profile_name: c.profile_name.clone(),
            username: c.username.clone(),
            via_alias: false,
            conversation: None,
        }))
    }

    async fn set_phone(&mut self, id: ContactId, phone: Option<&PhoneNumber>) -> Result<()> {
        self.conn
            .exec(
                "UPDATE contacts SET phone = $2, updated_at = $3 WHERE id = $1",
                args![id, phone, self.received_at],
            )
            .await?;
        Ok(())
    }

    /// Every change to a contact goes with this event, so it is also where a prefetch of
    /// contacts (see `runs`) stops being trusted.
    fn contact_changed(&mut self, info: &NumberInfo, id: ContactId, why: &str) {
        self.forget_prefetched(id);
        self.announce_contact(info, id, why);
    }

    /// The feed event of a change to contact `id`.
    fn announce_contact(&mut self, info: &NumberInfo, id: ContactId, why: &str) {
        self.emit(
            info.workspace,
            EventKind::ContactChanged,
            Some(&info.id),
            None,
            Some(id),
            None,
            json!({ "change": why }),
        );
    }

    /// Drops the read-ahead answers a change to contact `id` may have made stale: those that
    /// name `id`, and those that found no contact for one of their keys (the change may have
    /// given that key to a contact). An answer that found a contact for each of its keys and
    /// names another contact stays true: a key moves only by changing the contact that held
    /// it, and that contact's answers are dropped when it changes.
    fn forget_prefetched(&mut self, id: ContactId) {
        self.prefetched
            .retain(|(_, bsuid, phone), (by_bsuid, by_phone)| {
                let complete = (bsuid.is_none() || by_bsuid.is_some())
                    && (phone.is_none() || by_phone.is_some());
                let names = |r: &Option<ContactRow>| r.as_ref().is_some_and(|r| r.id == id);
                complete && !names(by_bsuid) && !names(by_phone)
            });
    }

    /// Updates the display data (profile name, username, parent BSUID) a new message brought.
    pub(super) async fn touch_display(&mut self, id: ContactId, c: &CustomerRef) -> Result<()> {
        let parent = c.parent_bsuid.as_ref().map(|b| b.as_str().to_owned());
        if let Some(row) = self.contact_rows.get(&id) {
            let differs = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
            if !differs(&c.profile_name, &row.profile_name)
                && !differs(&c.username, &row.username)
                && !differs(&parent, &row.parent_bsuid)
            {
                return Ok(());
            }
        } else if c.profile_name.is_none() && c.username.is_none() && parent.is_none() {
            return Ok(());
        }
        self.conn
            .exec(
                "UPDATE contacts SET profile_name = COALESCE($2, profile_name), \
                   username = COALESCE($3, username), parent_bsuid = COALESCE($4, parent_bsuid), \
                   updated_at = $5 WHERE id = $1",
                args![id, c.profile_name, c.username, parent, self.received_at],
            )
            .await?;
        if let Some(row) = self.contact_rows.get_mut(&id) {
            if c.profile_name.is_some() {
                row.profile_name.clone_from(&c.profile_name);
            }
            if c.username.is_some() {
                row.username.clone_from(&c.username);
            }
            if parent.is_some() {
                row.parent_bsuid = parent;
            }
        }
        Ok(())
    }

    /// The conversation of (number, contact) when it is known without a statement: cached,
    /// or known not to exist yet, in which case its creation is queued with the run's others
    /// ([`Applier::create_conversations`]).
    pub(super) fn conversation_or_queue(
        &mut self,
        info: &NumberInfo,
        contact: ContactId,
        first_message_at: Timestamp,
    ) -> Placement {
        let key = (info.id.clone(), contact);
        if let Some(id) = self.conversations.get(&key) {
            return Placement::Known(*id);
        }
        if self.new_conversations.contains_key(&key) {
            return Placement::Queued;
        }
        // A conversation can be absent without a look: the read-ahead found none, or the
        // contact is this transaction's (no other can have used it yet).
        if self.no_conversation.remove(&key) || self.created_contacts.contains(&contact) {
            let new = NewConversation {
                workspace: info.workspace,
                created_at: self.received_at,
                first_message_at,
            };
            self.new_conversations.insert(key, new);
            return Placement::Queued;
        }
        Placement::Unknown
    }

    /// Creates the queued conversations in multi-row inserts; each lands in the caches. One
    /// that another transaction created meanwhile (PostgreSQL) is read instead.
    pub(super) async fn create_conversations(&mut self) -> Result<()> {
        let queued: Vec<_> = std::mem::take(&mut self.new_conversations)
            .into_iter()
            .collect();
        for (start, len) in row_runs(queued.len(), 64) {
            let run = &queued[start..start + len];
            let sql = format!(
                "INSERT INTO conversations (workspace_id, number_id, contact_id, created_at, last_message_at, \
                   message_count) VALUES {} \
                 ON CONFLICT (number_id, contact_id) DO NOTHING RETURNING id, number_id, contact_id",
                values_list(self.conn.dialect(), len, 6)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * 6);
            for ((number, contact), n) in run {
                binds.extend([
                    n.workspace.to_arg(),
                    number.to_arg(),
                    contact.to_arg(),
                    n.created_at.to_arg(),
                    n.first_message_at.to_arg(),
                    Arg::Int(Some(0)),
                ]);
            }
            for row in self.conn.all(&sql, &binds).await? {
                let key = (
                    row.parse::<PhoneNumberId>("number_id")?,
                    ContactId::new(row.i64("contact_id")?),
                );
                let id = ConversationId::new(row.i64("id")?);
                self.conversations.insert(key.clone(), id);
                self.created_conversations.insert(key, id);
            }
            for (key, _) in run {
                if !self.created_conversations.contains_key(key) {
                    let row = self
                        .conn
                        .one(
                            "SELECT id FROM conversations WHERE number_id = $1 AND contact_id = $2",
                            args![key.0, key.1],
                        )
                        .await?;
                    let id = ConversationId::new(row.i64("id")?);
                    self.conversations.insert(key.clone(), id);
                    self.created_conversations.insert(key.clone(), id);
                }
            }
        }
        Ok(())
    }

    /// The conversation of (number, contact), created on first use (with any others queued).
    pub(super) async fn conversation(
        &mut self,
        info: &NumberInfo,
        contact: ContactId,
        first_message_at: Timestamp,
    ) -> Result<ConversationId> {
        let key = (info.id.clone(), contact);
        match self.conversation_or_queue(info, contact, first_message_at) {
            Placement::Known(id) => return Ok(id),
            Placement::Queued => {}
            Placement::Unknown => {
                let found = self
                    .conn
                    .opt(
                        "SELECT id FROM conversations WHERE number_id = $1 AND contact_id = $2",
                        args![info.id, contact],
                    )
                    .await?;
                if let Some(row) = found {
                    let id = ConversationId::new(row.i64("id")?);
                    self.conversations.insert(key, id);
                    return Ok(id);
                }
                let new = NewConversation {
                    workspace: info.workspace,
                    created_at: self.received_at,
                    first_message_at,
                };
                self.new_conversations.insert(key.clone(), new);
            }
        }
        self.create_conversations().await?;
        self.created_conversations
            .remove(&key)
            .ok_or_else(|| StoreError::Corrupt("a queued conversation was not created".into()))
    }

    /// Folds contact `from` into `into`: conversations (and their messages), aliases, missing
    /// keys and display data move; `from`'s BSUID becomes an alias; `from` is deleted.
    pub(super) async fn merge_contacts(
        &mut self,
        info: &NumberInfo,
        from: ContactId,
        into: ContactId,
    ) -> Result<()> {
        // Conversations queued for creation, and aggregates queued for conversations about to
        // move, must land first.
        self.create_conversations().await?;
        self.flush_conversations().await?;
        let convs = self
            .conn
            .all(
                "SELECT id, number_id, last_message_at, last_inbound_at, last_echo_at, last_outbound_at, \
                   message_count FROM conversations WHERE contact_id = $1 ORDER BY id",
                args![from],
            )
            .await?;
        for c in convs {
            let id = ConversationId::new(c.i64("id")?);
            let number = c.str("number_id")?;
            let target = self
                .conn
                .opt(
                    "SELECT id FROM conversations WHERE number_id = $1 AND contact_id = $2",
                    args![number, into],
                )
                .await?;
            match target {
                Some(t) => {
                    let target = ConversationId::new(t.i64("id")?);
                    self.conn
                        .exec(
                            "UPDATE messages SET conversation_id = $1 WHERE conversation_id = $2",
                            args![target, id],
                        )
                        .await?;
                    let agg = ConvAgg {
                        last_message_at: Some(c.ts("last_message_at")?),
                        last_inbound_at: c.opt_ts("last_inbound_at")?,
                        last_echo_at: c.opt_ts("last_echo_at")?,
                        last_outbound_at: c.opt_ts("last_outbound_at")?,
                        added: c.i64("message_count")?,
                    };
                    self.write_conv_aggs(&[(target, agg)]).await?;
                    self.conn
                        .exec("DELETE FROM conversations WHERE id = $1", args![id])
                        .await?;
                }
                None => {
                    self.conn
                        .exec(
                            "UPDATE conversations SET contact_id = $1 WHERE id = $2",
                            args![into, id],
                        )
                        .await?;
                }
            }
        }
        self.conn
            .exec(
                "UPDATE contact_aliases SET contact_id = $1 WHERE contact_id = $2",
                args![into, from],
            )
            .await?;
        let f = self
            .conn
            .one(
                "SELECT bsuid, phone, parent_bsuid, profile_name, username, app_full_name, app_first_name, \
                   in_app_contacts, app_changed_at FROM contacts WHERE id = $1",
                args![from],
            )
            .await?;
        let from_bsuid = f.opt_str("bsuid")?;
        self.conn
            .exec("DELETE FROM contacts WHERE id = $1", args![from])
            .await?;
        self.conn
            .exec(
                "UPDATE contacts SET phone = COALESCE(phone, $2), parent_bsuid = COALESCE(parent_bsuid, $3), \
                   profile_name = COALESCE(profile_name, $4), username = COALESCE(username, $5), \
                   app_full_name = CASE WHEN $9 IS NOT NULL AND (app_changed_at IS NULL OR $9 > app_changed_at) \
                                        THEN $6 ELSE app_full_name END, \
                   app_first_name = CASE WHEN $9 IS NOT NULL AND (app_changed_at IS NULL OR $9 > app_changed_at) \
                                         THEN $7 ELSE app_first_name END, \
                   in_app_contacts = CASE WHEN $9 IS NOT NULL AND (app_changed_at IS NULL OR $9 > app_changed_at) \
                                          THEN $8 ELSE in_app_contacts END, \
                   app_changed_at = CASE WHEN $9 IS NOT NULL AND (app_changed_at IS NULL OR $9 > app_changed_at) \
                                         THEN $9 ELSE app_changed_at END, \
                   updated_at = $10 \
                 WHERE id = $1",
                args![
                    into,
                    f.opt_str("phone")?,
                    f.opt_str("parent_bsuid")?,
                    f.opt_str("profile_name")?,
                    f.opt_str("username")?,
                    f.opt_str("app_full_name")?,
                    f.opt_str("app_first_name")?,
                    f.bool("in_app_contacts")?,
                    f.opt_i64("app_changed_at")?,
                    self.received_at,
                ],
            )
            .await?;
        if let Some(b) = from_bsuid {
            self.add_alias(info.workspace, &b, into).await?;
        }
        // Cached ids may name what just moved or vanished.
        self.contacts.clear();
        self.contact_rows.clear();
        self.conversations.clear();
        self.no_conversation.clear();
        self.created_contacts.clear();
        self.prefetched.clear();
        self.summary.contacts_merged += 1;
        self.emit(
            info.workspace,
            EventKind::ContactMerged,
            Some(&info.id),
            None,
            Some(into),
            None,
            json!({ "from": from, "into": into }),
        );
        Ok(())
    }

    async fn add_alias(&mut self, ws: WorkspaceId, bsuid: &str, contact: ContactId) -> Result<()> {
        self.conn
            .exec(
                "INSERT INTO contact_aliases (workspace_id, bsuid, contact_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace_id, bsuid) DO UPDATE SET contact_id = excluded.contact_id",
                args![ws, bsuid, contact, self.received_at],
            )
            .await?;
        Ok(())
    }

    /// `user_id_update`: the person behind `previous` is now `current`. Their contact is
    /// re-keyed (or merged into one already seen under `current`), and `previous` stays as an
    /// alias so late events naming it still land on the same person.
    pub(super) async fn user_id_changed(
        &mut self,
        info: &NumberInfo,
        u: &UserIdChange,
    ) -> Result<()> {
        let ws = info.workspace;
        let (old, _) = self.candidates(info, Some(&u.previous), None).await?;
        let (new, _) = self.candidates(info, Some(&u.current), None).await?;
        let changed = match (old, new) {
            (Some(o), None) => {
                self.conn
                    .exec(
                        "UPDATE contacts SET bsuid = $2, updated_at = $3 WHERE id = $1",
                        args![o.id, u.current, self.received_at],
                    )
                    .await?;
                if let Some(b) = o.bsuid.as_deref() {
                    self.add_alias(ws, b, o.id).await?;
                }
                self.add_alias(ws, u.previous.as_str(), o.id).await?;
                self.contact_changed(info, o.id, "rekeyed");
                true
            }
            (Some(o), Some(n)) if o.id != n.id => {
                self.merge_contacts(info, o.id, n.id).await?;
                self.add_alias(ws, u.previous.as_str(), n.id).await?;
                true
            }
            (Some(_), Some(_)) => false,
            (None, Some(n)) => {
                self.add_alias(ws, u.previous.as_str(), n.id).await?;
                true
            }
            (None, None) => {
                let key = CustomerKey::new(Some(u.current.clone()), u.phone.clone());
                if let Some(key) = key {
                    let id = self.resolve_contact(info, &CustomerRef::key(key)).await?;
                    self.add_alias(ws, u.previous.as_str(), id).await?;
                }
                true
            }
        };
        // Aliases moved: cached and read-ahead answers may be stale.
        self.contacts.clear();
        self.contact_rows.clear();
        self.prefetched.clear();
        if changed {
            self.summary.user_ids_changed += 1;
        }
        // Link the phone, if the update carried one, and take the display name.
        let key = CustomerKey::new(Some(u.current.clone()), u.phone.clone());
        if let Some(key) = key {
            let c = CustomerRef {
                profile_name: u.profile_name.clone(),
                ..CustomerRef::key(key)
            };
            let id = self.resolve_contact(info, &c).await?;
            self.touch_display(id, &c).await?;
        }
        Ok(())
    }
}
