//! New messages in bulk: runs of inbound messages, echoes and sends, and the batch's read-ahead.
//!
//! A webhook batch carries hundreds of messages and statuses, to as many numbers and
//! customers; so does a commit of the send engine's results. Applied one by one, each message
//! would cost a number lookup, a contact lookup, a conversation lookup and an insert: round
//! trips, which are what a store transaction costs. Here the batch's numbers, the contacts of
//! every customer it names and their conversations are read first, in a few statements
//! ([`Applier::prefetch_batch`]); then each run of messages is inserted with multi-row
//! statements, and statuses that overtook their message are looked for in one query.
//!
//! The outcome is the one of applying the events one by one: contact resolution still runs
//! per customer, in order, only its first lookup is answered from the read-ahead; a contact
//! change (a creation, a link, a merge) drops the answers it may have made stale, and those
//! customers are looked up afresh. A status may be applied before a message that came earlier
//! in the batch (runs are inserted when something other than a status or a message comes, or
//! at the end): that is an order Meta may deliver anyway, and a status whose message is not
//! stored yet waits for it.

use std::collections::{HashMap, HashSet};

use coex_core::model::{
    ArchiveId, ContactId, ConversationId, CustomerKey, CustomerRef, Direction, Ingest, IngestBatch,
    MessageStatus, Origin, Timestamp,
};
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, Wamid};

use super::identity::{ContactRow, Placement};
use super::messages::{NewMessage, stored_status};
use super::{Applier, NumberInfo};
use crate::db::{Arg, ToArg, lookup_runs, padded, row_runs, values_list};
use crate::{Result, StoreError};

/// Rows per multi-row statement.
pub(super) const RUN: usize = 128;

/// The columns [`ContactRow::from_row`] reads, with the BSUID an alias row was found by.
const CONTACT_COLUMNS: &str = "k.id, k.workspace_id, k.bsuid, k.phone, k.parent_bsuid, \
    k.profile_name, k.username, CAST(NULL AS BIGINT) AS conversation_id";

/// A customer's contacts as [`Applier::candidates`] answers: by BSUID, by phone.
pub(super) type Candidates = (Option<ContactRow>, Option<ContactRow>);

/// What a read-ahead answer is kept under: the number and the customer's keys.
pub(super) type PrefetchKey = (PhoneNumberId, Option<String>, Option<String>);

/// The [`PrefetchKey`] of a customer known by `bsuid` and/or `phone` on `number`.
pub(super) fn prefetch_key(
    number: &PhoneNumberId,
    bsuid: Option<&Bsuid>,
    phone: Option<&PhoneNumber>,
) -> PrefetchKey {
    (
        number.clone(),
        bsuid.map(|b| b.as_str().to_owned()),
        phone.map(|p| p.digits().to_owned()),
    )
}

/// A message event waiting in a run, with what its webhook gives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued<'e> {
    pub event: &'e Ingest,
    pub received_at: Timestamp,
    pub archive: Option<ArchiveId>,
}

impl Queued<'_> {
    /// Whether the event goes into a run: a new message of any origin but history.
    pub(super) fn takes(event: &Ingest) -> bool {
        matches!(
            event,
            Ingest::InboundMessage(_) | Ingest::Echo(_) | Ingest::Sent(_)
        )
    }
}

/// The customer keys (BSUIDs and phones) the messages of a run name.
#[derive(Debug, Default)]
pub(super) struct RunKeys<'e> {
    bsuids: HashSet<&'e str>,
    phones: HashSet<&'e str>,
}

impl<'e> RunKeys<'e> {
    /// Adds the customer of a message event ([`Queued::takes`]).
    pub(super) fn add(&mut self, event: &'e Ingest) {
        let customer = match event {
            Ingest::InboundMessage(m) => &m.customer,
            Ingest::Echo(m) => &m.customer,
            Ingest::Sent(m) => &m.customer,
            _ => return,
        };
        if let Some(b) = customer.key.bsuid() {
            self.bsuids.insert(b.as_str());
        }
        if let Some(p) = customer.key.phone() {
            self.phones.insert(p.digits());
        }
    }

    /// Whether no message of the run names either key of `key`.
    fn disjoint(&self, key: &CustomerKey) -> bool {
        key.bsuid()
            .is_none_or(|b| !self.bsuids.contains(b.as_str()))
            && key
                .phone()
                .is_none_or(|p| !self.phones.contains(p.digits()))
    }

    pub(super) fn clear(&mut self) {
        self.bsuids.clear();
        self.phones.clear();
    }
}

/// The number, customer and row of a message event.
fn message_parts<'e>(
    q: &Queued<'e>,
) -> Option<(&'e PhoneNumberId, &'e CustomerRef, NewMessage<'e>)> {
    let stored_at = q.received_at;
    Some(match q.event {
        Ingest::InboundMessage(m) => (
            &m.number,
            &m.customer,
            NewMessage {
                wamid: &m.wamid,
                direction: Direction::Inbound,
                origin: Origin::Customer,
                sender: None,
                content: &m.content,
                timestamp: m.timestamp,
                status: None,
                error: m.error.as_ref(),
                stored_at,
                send: None,
            },
        ),
        Ingest::Echo(m) => (
            &m.number,
            &m.customer,
            NewMessage {
                wamid: &m.wamid,
                direction: Direction::Outbound,
                origin: Origin::BusinessApp,
                sender: None,
                content: &m.content,
                timestamp: m.timestamp,
                status: Some(MessageStatus::Sent),
                error: None,
                stored_at,
                send: None,
            },
        ),
        Ingest::Sent(m) => (
            &m.number,
            &m.customer,
            NewMessage {
                wamid: &m.wamid,
                direction: Direction::Outbound,
                origin: m.origin,
                sender: m.sender.as_deref(),
                content: &m.content,
                timestamp: m.timestamp,
                status: Some(MessageStatus::Pending),
                error: None,
                stored_at,
                send: m.send,
            },
        ),
        _ => return None,
    })
}

impl Applier<'_, '_> {
    /// Whether `event` may be applied before the messages of the pending run (`keys`) with the
    /// same outcome, so it need not end the run: a status (one that overtakes its message is
    /// parked and replayed when the message is stored), and a contact added in the phone app
    /// that the read-ahead found no contact for by either key and that no message of the run
    /// names (it creates a contact of its own keys and touches nothing the run resolves). Any
    /// other event may depend on the run's messages or change a contact they resolve to; only
    /// the order of the batch's feed events differs.
    pub(super) fn commutes_with_run(&self, event: &Ingest, keys: &RunKeys<'_>) -> bool {
        let (number, key) = match event {
            Ingest::Status(_) => return true,
            Ingest::ContactUpsert(c) => (&c.number, &c.customer.key),
            _ => return false,
        };
        keys.disjoint(key)
            && matches!(
                self.prefetched
                    .get(&prefetch_key(number, key.bsuid(), key.phone())),
                Some((None, None))
            )
    }

    /// Applies a run of message events (inbound, echo, sent; anything else in `run` is
    /// skipped), each with the webhook it came in, as applying them one by one in order would.
    pub(super) async fn messages_many(&mut self, run: &[Queued<'_>]) -> Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        let outer = (self.received_at, self.archive);
        let mut known: Vec<(NumberInfo, &CustomerRef, NewMessage<'_>, &Queued<'_>)> =
            Vec::with_capacity(run.len());
        for q in run {
            let Some((number, customer, new)) = message_parts(q) else {
                continue;
            };
            self.received_at = q.received_at;
            self.archive = q.archive;
            match self.number_info(number).await? {
                Some(info) => known.push((info, customer, new, q)),
                None => {
                    self.unknown_number(q.event, "phone number id is not registered")
                        .await?
                }
            }
        }
        // The batch's customers were read ahead (`Applier::prefetch_batch`).
        // Conversations known not to exist yet (new customers, pairs the read-ahead did not
        // find) are created together after the loop: one insert per run instead of one per
        // new conversation, as a campaign to new customers or a wave of them writing in has.
        let mut found: Vec<(ContactId, Option<ConversationId>)> = Vec::with_capacity(known.len());
        for (info, customer, new, q) in &known {
            self.received_at = q.received_at;
            let contact = self.resolve_contact(info, customer).await?;
            let conversation = match self.conversation_or_queue(info, contact, new.timestamp) {
                Placement::Known(id) => Some(id),
                Placement::Queued => None,
                Placement::Unknown => Some(self.conversation(info, contact, new.timestamp).await?),
            };
            found.push((contact, conversation));
        }
        self.create_conversations().await?;
        let mut placed: Vec<(ContactId, ConversationId)> = Vec::with_capacity(known.len());
        for ((info, ..), (contact, conversation)) in known.iter().zip(found) {
            let conversation = match conversation {
                Some(id) => id,
                None => self
                    .created_conversations
                    .get(&(info.id.clone(), contact))
                    .copied()
                    .ok_or_else(|| {
                        StoreError::Corrupt("a queued conversation was not created".into())
                    })?,
            };
            placed.push((contact, conversation));
        }
        self.created_conversations.clear();
        let mut fresh = HashSet::new();
        let mut patched = HashSet::new();
        let mut orphaned = HashSet::new();
        for (start, len) in row_runs(known.len(), RUN) {
            let rows: Vec<_> = (start..start + len)
                .map(|i| (&known[i].0.id, placed[i].1, &known[i].2))
                .collect();
            let inserted = self.insert_message_rows(&rows).await?;
            fresh.extend(inserted.fresh);
            patched.extend(inserted.patched);
            orphaned.extend(inserted.orphaned);
        }
        let mut overtaken: Vec<(&NumberInfo, &Wamid)> = Vec::new();
        for (i, (info, customer, new, q)) in known.iter().enumerate() {
            self.received_at = q.received_at;
            self.archive = q.archive;
            if matches!(q.event, Ingest::Echo(_)) {
                self.app_activity(&info.id, new.timestamp);
            }
            let key = (info.id.as_str().to_owned(), new.wamid.as_str().to_owned());
            // `remove`: a wamid repeated in the run counts as stored once.
            if !fresh.remove(&key) {
                self.summary.messages_duplicate += 1;
                continue;
            }
            self.summary.messages_inserted += 1;
            let (contact, conversation) = placed[i];
            self.message_stored(info, customer, contact, conversation, new)
                .await?;
            if patched.contains(&key) {
                self.replay_pending_patches(info, new.wamid).await?;
            }
            if orphaned.contains(&key) {
                overtaken.push((info, new.wamid));
            }
        }
        // Statuses can overtake their message (the send path's commit, a redelivered echo);
        // they wait as orphans.
        self.replay_orphans_of(&overtaken).await?;
        (self.received_at, self.archive) = outer;
        Ok(())
    }

    /// Reads ahead what resolving the batch's customers needs: the numbers its events name,
    /// then the contacts and conversations of every customer a message, a status that may
    /// link keys, or an app contact sync names. Each customer's first lookup is then answered
    /// from memory (see [`Applier::candidates`]) unless a contact change made it stale.
    pub(super) async fn prefetch_batch(&mut self, batch: &IngestBatch) -> Result<()> {
        let events = || batch.items.iter().flat_map(|item| &item.events);
        self.prefetch_numbers(events().filter_map(Ingest::number))
            .await?;
        let mut wanted: Vec<(NumberInfo, &CustomerRef)> = Vec::new();
        for event in events() {
            let (number, customer) = match event {
                Ingest::InboundMessage(m) => (&m.number, &m.customer),
                Ingest::Echo(m) => (&m.number, &m.customer),
                Ingest::Sent(m) => (&m.number, &m.customer),
                Ingest::ContactUpsert(c) => (&c.number, &c.customer),
                Ingest::Status(s) => match &s.recipient {
                    Some(r) if matches!(r.key, CustomerKey::Both { .. }) => (&s.number, r),
                    _ => continue,
                },
                Ingest::HistoryChunk(h) => {
                    if let Some(Some(info)) = self.numbers.get(&h.number) {
                        wanted.extend(h.messages.iter().map(|m| (info.clone(), &m.customer)));
                    }
                    continue;
                }
                _ => continue,
            };
            if let Some(Some(info)) = self.numbers.get(number) {
                wanted.push((info.clone(), customer));
            }
        }
        let wanted: Vec<(&NumberInfo, &CustomerRef)> =
            wanted.iter().map(|(info, c)| (info, *c)).collect();
        self.prefetch_customers(&wanted).await
    }

    /// Reads the numbers of `ids` not cached yet, in one statement per run.
    async fn prefetch_numbers(&mut self, ids: impl Iterator<Item = &PhoneNumberId>) -> Result<()> {
        let mut missing: Vec<&PhoneNumberId> = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !self.numbers.contains_key(id) && seen.insert(id) {
                missing.push(id);
            }
        }
        for (start, len, shape) in lookup_runs(missing.len(), RUN) {
            let sql = format!(
                "SELECT id, workspace_id FROM numbers WHERE id IN (VALUES {})",
                values_list(self.conn.dialect(), shape, 1)
            );
            let binds: Vec<Arg<'_>> = padded(&missing[start..start + len], shape)
                .map(|id| id.to_arg())
                .collect();
            let mut found = HashMap::new();
            for row in self.conn.all(&sql, &binds).await? {
                found.insert(row.str("id")?, row.i64("workspace_id")?);
            }
            for id in &missing[start..start + len] {
                let info = found.get(id.as_str()).map(|ws| NumberInfo {
                    id: (*id).clone(),
                    workspace: coex_core::model::WorkspaceId::new(*ws),
                });
                self.numbers.insert((*id).clone(), info);
            }
        }
        Ok(())
    }

    /// Looks up the contacts of every customer in `wanted` (by current BSUID, earlier BSUID
    /// and phone, as [`Applier::candidates`] does) and their conversations on the given
    /// numbers, in a few statements; [`Applier::candidates`] answers each customer's first
    /// lookup from it.
    async fn prefetch_customers(&mut self, wanted: &[(&NumberInfo, &CustomerRef)]) -> Result<()> {
        // Customers already resolved in this batch are answered by the contact cache.
        let wanted: Vec<(&NumberInfo, &CustomerRef)> = wanted
            .iter()
            .filter(|(info, c)| !self.contacts.contains_key(&(info.workspace, c.key.clone())))
            .copied()
            .collect();
        let mut bsuids = HashSet::new();
        let mut phones = HashSet::new();
        for (info, c) in &wanted {
            if let Some(b) = c.key.bsuid() {
                bsuids.insert((info.workspace.get(), b.as_str()));
            }
            if let Some(p) = c.key.phone() {
                phones.insert((info.workspace.get(), p.digits()));
            }
        }
        let bsuids: Vec<_> = bsuids.into_iter().collect();
        let phones: Vec<_> = phones.into_iter().collect();
        // Contacts by current BSUID and by phone; then, for the BSUIDs no contact holds now,
        // by earlier BSUID (`candidates` prefers a current holder, and aliases are rare).
        let by_key = |column: &str| {
            format!(
                "SELECT {CONTACT_COLUMNS}, CAST(0 AS BIGINT) AS via_alias FROM contacts k \
                 WHERE (k.workspace_id, k.{column}) IN (VALUES "
            )
        };
        let current = self
            .contacts_by_keys(&by_key("bsuid"), &bsuids, |_, c| Ok(c.bsuid.clone()))
            .await?;
        let by_phone = self
            .contacts_by_keys(&by_key("phone"), &phones, |_, c| Ok(c.phone.clone()))
            .await?;
        let former: Vec<(i64, &str)> = bsuids
            .iter()
            .filter(|(ws, b)| !current.contains_key(&(*ws, (*b).to_owned())))
            .copied()
            .collect();
        let alias_head = format!(
            "SELECT {CONTACT_COLUMNS}, CAST(1 AS BIGINT) AS via_alias, a.bsuid AS alias \
             FROM contact_aliases a JOIN contacts k ON k.id = a.contact_id \
             WHERE (a.workspace_id, a.bsuid) IN (VALUES "
        );
        let by_alias = self
            .contacts_by_keys(&alias_head, &former, |row, _| row.opt_str("alias"))
            .await?;
        // Each customer's answer, exactly as `candidates` would compute it.
        let mut pairs: Vec<(PhoneNumberId, ContactId)> = Vec::new();
        for (info, c) in &wanted {
            let ws = info.workspace.get();
            let bsuid = c.key.bsuid().map(|b| b.as_str());
            let phone = c.key.phone().map(|p| p.digits());
            let found = |map: &HashMap<(i64, String), ContactRow>, key: Option<&str>| {
                key.and_then(|k| map.get(&(ws, k.to_owned())).cloned())
            };
            let by_bsuid = found(&current, bsuid).or_else(|| found(&by_alias, bsuid));
            let by_phone = found(&by_phone, phone);
            for r in by_bsuid.iter().chain(&by_phone) {
                pairs.push((info.id.clone(), r.id));
            }
            let key = prefetch_key(&info.id, c.key.bsuid(), c.key.phone());
            self.prefetched.insert(key, (by_bsuid, by_phone));
        }
        self.prefetch_conversations(&pairs).await
    }

    /// The contacts a key names, by (workspace, key): `head` selects the columns
    /// [`ContactRow::from_row`] reads and ends in `IN (VALUES `; `key_of` says which key a
    /// returned row was found by. The first row of a key wins, as in [`Applier::candidates`].
    async fn contacts_by_keys(
        &mut self,
        head: &str,
        keys: &[(i64, &str)],
        key_of: impl Fn(&crate::db::Row, &ContactRow) -> Result<Option<String>>,
    ) -> Result<HashMap<(i64, String), ContactRow>> {
        let mut found = HashMap::new();
        for (start, len, shape) in lookup_runs(keys.len(), RUN) {
            let sql = format!("{head}{})", values_list(self.conn.dialect(), shape, 2));
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(shape * 2);
            for (ws, k) in padded(&keys[start..start + len], shape) {
                binds.push(Arg::Int(Some(*ws)));
                binds.push(Arg::Text(Some(k)));
            }
            for row in self.conn.all(&sql, &binds).await? {
                let ws = row.i64("workspace_id")?;
                let contact = ContactRow::from_row(&row)?;
                if let Some(key) = key_of(&row, &contact)? {
                    found.entry((ws, key)).or_insert(contact);
                }
            }
        }
        Ok(found)
    }

    /// Caches the conversations of (number, contact) pairs that have one.
    async fn prefetch_conversations(&mut self, pairs: &[(PhoneNumberId, ContactId)]) -> Result<()> {
        let pairs: Vec<_> = pairs
            .iter()
            .filter(|p| !self.conversations.contains_key(p))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for (start, len, shape) in lookup_runs(pairs.len(), RUN) {
            let sql = format!(
                "SELECT id, number_id, contact_id FROM conversations \
                 WHERE (number_id, contact_id) IN (VALUES {})",
                values_list(self.conn.dialect(), shape, 2)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(shape * 2);
            for (number, contact) in padded(&pairs[start..start + len], shape) {
                binds.push(number.to_arg());
                binds.push(contact.to_arg());
            }
            for row in self.conn.all(&sql, &binds).await? {
                let number: PhoneNumberId = row.parse("number_id")?;
                let contact = ContactId::new(row.i64("contact_id")?);
                self.conversations
                    .insert((number, contact), ConversationId::new(row.i64("id")?));
            }
            for pair in &pairs[start..start + len] {
                if !self.conversations.contains_key(*pair) {
                    self.no_conversation.insert((*pair).clone());
                }
            }
        }
        Ok(())
    }

    /// Applies the statuses that arrived before these messages, in the order they occurred.
    async fn replay_orphans_of(&mut self, stored: &[(&NumberInfo, &Wamid)]) -> Result<()> {
        let mut orphans = Vec::new();
        for (start, len, shape) in lookup_runs(stored.len(), RUN) {
            let sql = format!(
                "SELECT number_id, wamid, status, occurred_at, error_code, error_title, error_details, \
                   pricing_billable, pricing_model, pricing_type, pricing_category \
                 FROM status_history WHERE NOT applied AND (number_id, wamid) IN (VALUES {})",
                values_list(self.conn.dialect(), shape, 2)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(shape * 2);
            for (info, wamid) in padded(&stored[start..start + len], shape) {
                binds.push(info.id.to_arg());
                binds.push(wamid.to_arg());
            }
            for row in self.conn.all(&sql, &binds).await? {
                orphans.push(stored_status(&row)?);
            }
        }
        orphans.sort_by_key(|s| s.occurred_at);
        for s in orphans {
            if let Some(info) = self.number_info(&s.number).await? {
                self.replay_status(&info, &s).await?;
            }
        }
        Ok(())
    }
}
