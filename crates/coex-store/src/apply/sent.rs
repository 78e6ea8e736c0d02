//! Messages the send path stored (Meta accepted them), a whole commit batch at once.
//!
//! The send engine commits hundreds of accepted sends per transaction, to as many numbers and
//! customers. Applied one by one, each would cost a number lookup, a contact lookup, an insert
//! and an orphan-status lookup: round trips, which are what a store transaction costs. Here
//! the whole run costs a handful of statements: the numbers, the customers' contacts and
//! their conversations are read in bulk first ([`Applier::prefetch_customers`]), the messages
//! are inserted with multi-row statements, and statuses that overtook their message are
//! looked for in one query.
//!
//! The outcome is the one of applying the events one by one: contact resolution still runs
//! per customer, in order, only its first lookup is answered from the prefetch; any contact
//! change it makes (a creation, a link, a merge) drops the prefetch, and later customers of
//! the run are looked up afresh.

use std::collections::{HashMap, HashSet};

use coex_core::model::{ContactId, ConversationId, Direction, Ingest, MessageStatus, SentMessage};
use coex_core::{PhoneNumberId, Wamid};

use super::identity::ContactRow;
use super::messages::{NewMessage, stored_status};
use super::{Applier, NumberInfo};
use crate::Result;
use crate::db::{Arg, ToArg, row_runs, values_list};

/// Rows per multi-row statement.
const RUN: usize = 128;

/// The columns [`ContactRow::from_row`] reads, with the BSUID an alias row was found by.
const CONTACT_COLUMNS: &str = "k.id, k.workspace_id, k.bsuid, k.phone, k.parent_bsuid, \
    k.profile_name, k.username, CAST(NULL AS BIGINT) AS conversation_id";

/// A customer's contacts as [`Applier::candidates`] answers: by BSUID, by phone.
pub(super) type Candidates = (Option<ContactRow>, Option<ContactRow>);

impl Applier<'_, '_> {
    /// Applies a run of [`Ingest::Sent`] events (`events` holds nothing else).
    pub(super) async fn sent_many(&mut self, events: &[&Ingest]) -> Result<()> {
        let sent: Vec<&SentMessage> = events
            .iter()
            .filter_map(|e| match e {
                Ingest::Sent(m) => Some(m),
                _ => None,
            })
            .collect();
        self.prefetch_numbers(sent.iter().map(|m| &m.number))
            .await?;
        let mut known = Vec::with_capacity(sent.len());
        for (event, m) in events.iter().zip(&sent) {
            match self.number_info(&m.number).await? {
                Some(info) => known.push((info, *m)),
                None => {
                    self.unknown_number(event, "phone number id is not registered")
                        .await?
                }
            }
        }
        let wanted: Vec<(&NumberInfo, &coex_core::model::CustomerRef)> =
            known.iter().map(|(info, m)| (info, &m.customer)).collect();
        self.prefetch_customers(&wanted).await?;
        let mut placed: Vec<(ContactId, ConversationId)> = Vec::with_capacity(known.len());
        for (info, m) in &known {
            let contact = self.resolve_contact(info, &m.customer).await?;
            let conversation = self.conversation(info, contact, m.timestamp).await?;
            placed.push((contact, conversation));
        }
        self.prefetched.clear();

        let news: Vec<NewMessage<'_>> = known
            .iter()
            .map(|(_, m)| NewMessage {
                wamid: &m.wamid,
                direction: Direction::Outbound,
                origin: m.origin,
                sender: m.sender.as_deref(),
                content: &m.content,
                timestamp: m.timestamp,
                status: Some(MessageStatus::Pending),
                error: None,
            })
            .collect();
        let mut fresh = HashSet::new();
        let mut patched = HashSet::new();
        for (start, len) in row_runs(known.len(), RUN) {
            let rows: Vec<_> = (start..start + len)
                .map(|i| (&known[i].0.id, placed[i].1, &news[i]))
                .collect();
            let inserted = self.insert_message_rows(&rows).await?;
            fresh.extend(inserted.fresh);
            patched.extend(inserted.patched);
        }
        let mut stored: Vec<(&NumberInfo, &Wamid)> = Vec::new();
        for (i, (info, m)) in known.iter().enumerate() {
            let key = (info.id.as_str().to_owned(), m.wamid.as_str().to_owned());
            // `remove`: a wamid repeated in the run counts as stored once.
            if !fresh.remove(&key) {
                self.summary.messages_duplicate += 1;
                continue;
            }
            self.summary.messages_inserted += 1;
            let (contact, conversation) = placed[i];
            self.message_stored(info, &m.customer, contact, conversation, &news[i])
                .await?;
            if patched.contains(&key) {
                self.replay_pending_patches(info, &m.wamid).await?;
            }
            stored.push((info, &m.wamid));
        }
        // Statuses can overtake the send path's commit; they wait as orphans.
        self.replay_orphans_of(&stored).await
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
        for (start, len) in row_runs(missing.len(), RUN) {
            let sql = format!(
                "SELECT id, workspace_id FROM numbers WHERE id IN (VALUES {})",
                values_list(self.conn.dialect(), len, 1)
            );
            let binds: Vec<Arg<'_>> = missing[start..start + len]
                .iter()
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
    async fn prefetch_customers(
        &mut self,
        wanted: &[(&NumberInfo, &coex_core::model::CustomerRef)],
    ) -> Result<()> {
        self.prefetched.clear();
        let mut bsuids = HashSet::new();
        let mut phones = HashSet::new();
        for (info, c) in wanted {
            if let Some(b) = c.key.bsuid() {
                bsuids.insert((info.workspace.get(), b.as_str()));
            }
            if let Some(p) = c.key.phone() {
                phones.insert((info.workspace.get(), p.digits()));
            }
        }
        let bsuids: Vec<_> = bsuids.into_iter().collect();
        let phones: Vec<_> = phones.into_iter().collect();
        // (row, the BSUID it was found by as an alias).
        let mut rows: Vec<(i64, ContactRow, Option<String>)> = Vec::new();
        let queries = [
            (
                format!(
                    "SELECT {CONTACT_COLUMNS}, CAST(0 AS BIGINT) AS via_alias, CAST(NULL AS TEXT) AS alias FROM contacts k WHERE (k.workspace_id, k.bsuid) IN (VALUES "
                ),
                &bsuids,
            ),
            (
                format!(
                    "SELECT {CONTACT_COLUMNS}, CAST(0 AS BIGINT) AS via_alias, CAST(NULL AS TEXT) AS alias FROM contacts k WHERE (k.workspace_id, k.phone) IN (VALUES "
                ),
                &phones,
            ),
            (
                format!(
                    "SELECT {CONTACT_COLUMNS}, CAST(1 AS BIGINT) AS via_alias, a.bsuid AS alias FROM contact_aliases a JOIN contacts k ON k.id = a.contact_id WHERE (a.workspace_id, a.bsuid) IN (VALUES "
                ),
                &bsuids,
            ),
        ];
        for (head, keys) in &queries {
            for (start, len) in row_runs(keys.len(), RUN) {
                let sql = format!("{head}{})", values_list(self.conn.dialect(), len, 2));
                let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * 2);
                for (ws, k) in &keys[start..start + len] {
                    binds.push(Arg::Int(Some(*ws)));
                    binds.push(Arg::Text(Some(k)));
                }
                for row in self.conn.all(&sql, &binds).await? {
                    let ws = row.i64("workspace_id")?;
                    let alias = row.opt_str("alias")?;
                    rows.push((ws, ContactRow::from_row(&row)?, alias));
                }
            }
        }
        // Each customer's answer, exactly as `candidates` would compute it.
        let mut pairs: Vec<(PhoneNumberId, ContactId)> = Vec::new();
        for (info, c) in wanted {
            let ws = info.workspace.get();
            let bsuid = c.key.bsuid().map(|b| b.as_str());
            let phone = c.key.phone().map(|p| p.digits());
            let in_ws = || rows.iter().filter(|(w, _, _)| *w == ws);
            let by_bsuid = bsuid.and_then(|b| {
                in_ws()
                    .find(|(_, r, _)| !r.via_alias && r.bsuid.as_deref() == Some(b))
                    .or_else(|| {
                        in_ws().find(|(_, r, alias)| r.via_alias && alias.as_deref() == Some(b))
                    })
                    .map(|(_, r, _)| r.clone())
            });
            let by_phone = phone.and_then(|p| {
                in_ws()
                    .find(|(_, r, _)| !r.via_alias && r.phone.as_deref() == Some(p))
                    .map(|(_, r, _)| r.clone())
            });
            for r in by_bsuid.iter().chain(&by_phone) {
                pairs.push((info.id.clone(), r.id));
            }
            self.prefetched.insert(
                (
                    info.id.clone(),
                    bsuid.map(str::to_owned),
                    phone.map(str::to_owned),
                ),
                (by_bsuid, by_phone),
            );
        }
        self.prefetch_conversations(&pairs).await
    }

    /// Caches the conversations of (number, contact) pairs that have one.
    async fn prefetch_conversations(&mut self, pairs: &[(PhoneNumberId, ContactId)]) -> Result<()> {
        let pairs: Vec<_> = pairs
            .iter()
            .filter(|p| !self.conversations.contains_key(p))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for (start, len) in row_runs(pairs.len(), RUN) {
            let sql = format!(
                "SELECT id, number_id, contact_id FROM conversations \
                 WHERE (number_id, contact_id) IN (VALUES {})",
                values_list(self.conn.dialect(), len, 2)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * 2);
            for (number, contact) in &pairs[start..start + len] {
                binds.push(number.to_arg());
                binds.push(contact.to_arg());
            }
            for row in self.conn.all(&sql, &binds).await? {
                let number: PhoneNumberId = row.parse("number_id")?;
                let contact = ContactId::new(row.i64("contact_id")?);
                self.conversations
                    .insert((number, contact), ConversationId::new(row.i64("id")?));
            }
        }
        Ok(())
    }

    /// Applies the statuses that arrived before these messages, in the order they occurred.
    async fn replay_orphans_of(&mut self, stored: &[(&NumberInfo, &Wamid)]) -> Result<()> {
        let mut orphans = Vec::new();
        for (start, len) in row_runs(stored.len(), RUN) {
            let sql = format!(
                "SELECT number_id, wamid, status, occurred_at, error_code, error_title, error_details, \
                   pricing_billable, pricing_model, pricing_type, pricing_category \
                 FROM status_history WHERE NOT applied AND (number_id, wamid) IN (VALUES {})",
                values_list(self.conn.dialect(), len, 2)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * 2);
            for (info, wamid) in &stored[start..start + len] {
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
