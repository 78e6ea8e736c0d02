//! Number lifecycle (`account_update`) and contact sync from the phone app.
//!
//! Lifecycle events are recorded once per (number, event, time) and move the number's state
//! only if they are not older than the event that set the current state: Meta does not order
//! webhooks, so a late event must not undo a newer one (spec/cloud-api.md §7.3).
//!
//! Contact-sync items are recorded once each too, so the contacts sync job counts distinct
//! items and distinct contacts, whatever Meta redelivers and in whatever order.

use std::collections::{BTreeMap, HashMap};

use coex_core::PhoneNumberId;
use coex_core::model::{
    AccountEvent, AccountEventKind, ContactRemoval, ContactSync, CustomerKey, CustomerRef,
    EventKind, NumberState, Timestamp, WorkspaceId,
};
use serde_json::json;

use super::{Applier, NumberInfo, runs::RUN};
use crate::Result;
use crate::db::{Arg, Dialect, ToArg, args, lookup_runs, padded, param, row_runs, values_list};

/// A contact-sync item waiting to be recorded with the others of its batch.
#[derive(Debug)]
pub(super) struct PendingSyncItem {
    number: PhoneNumberId,
    /// `p:<digits>` or `b:<bsuid>`.
    key: String,
    action: &'static str,
    at: Timestamp,
    detail: String,
    received_at: Timestamp,
}

/// One contact-sync item, as it identifies itself across redeliveries.
struct SyncItem<'a> {
    key: &'a CustomerKey,
    /// `add` or `remove`.
    action: &'static str,
    at: Timestamp,
    /// The added name (`""` for a removal).
    detail: &'a str,
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Applier<'_, '_> {
    pub(super) async fn account_event(&mut self, e: &AccountEvent) -> Result<()> {
        // Row locks keep two processes from reading the same old state (PostgreSQL; SQLite
        // transactions are serialised already).
        let lock = if self.conn.dialect() == Dialect::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        // An event without a phone number names the WABA only. Offboarding and reconnection
        // are about the phone app's device (spec/cloud-api.md §2.5), so such an event can
        // only concern the WABA's coexistence numbers: a Cloud API sister number is left
        // as it is.
        let device_event = matches!(
            e.kind,
            AccountEventKind::AccountOffboarded | AccountEventKind::AccountReconnected
        );
        let only_coexistence = e.phone.is_none() && device_event;
        let sql = format!(
            "SELECT id, workspace_id, state, state_changed_at FROM numbers \
             WHERE waba_id = $1 AND ($2 IS NULL OR display_phone = $2) \
               AND ($3 = 0 OR kind = 'coexistence') ORDER BY id{lock}"
        );
        let targets = self
            .conn
            .all(&sql, args![e.waba, e.phone, i64::from(only_coexistence)])
            .await?;
        if e.phone.is_none() && targets.len() > 1 {
            // Meta's example of these events names no number; with several candidates the
            // event is applied to each and the ambiguity is said out loud.
            tracing::warn!(
                waba = %e.waba,
                event = %e.kind,
                numbers = targets.len(),
                "an account event without a phone number applies to several numbers of the WABA"
            );
        }
        if targets.is_empty() {
            let raw = serde_json::to_string(e).unwrap_or_default();
            self.summary.unknown_number += 1;
            return self
                .change_error(
                    Some(e.waba.as_str()),
                    None,
                    Some("account_update"),
                    "no registered number matches this account event",
                    &raw,
                )
                .await;
        }
        for t in targets {
            let number: PhoneNumberId = t.parse("id")?;
            let workspace = WorkspaceId::new(t.i64("workspace_id")?);
            let state: NumberState = t.parse("state")?;
            let changed_at = t.ts("state_changed_at")?;
            self.number_event(e, &number, workspace, state, changed_at)
                .await?;
        }
        Ok(())
    }

    async fn number_event(
        &mut self,
        e: &AccountEvent,
        number: &PhoneNumberId,
        workspace: WorkspaceId,
        state: NumberState,
        changed_at: Timestamp,
    ) -> Result<()> {
        let inserted = self
            .conn
            .opt(
                "INSERT INTO number_events (number_id, kind, reason, occurred_at, received_at, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (number_id, kind, occurred_at) DO NOTHING RETURNING id",
                args![
                    number,
                    e.kind.as_str(),
                    e.reason,
                    e.timestamp,
                    self.received_at,
                    e.detail.as_ref().map(|d| d.as_str())
                ],
            )
            .await?;
        let Some(row) = inserted else {
            self.summary.account_events_duplicate += 1;
            return Ok(());
        };
        self.summary.account_events += 1;
        let next = if e.timestamp >= changed_at {
            state.after_event(&e.kind, e.reason.as_deref())
        } else {
            None
        };
        let Some(next) = next else { return Ok(()) };
        // A reason explains the state it came with; a state without one clears it.
        let reason = match e.kind {
            AccountEventKind::PartnerRemoved
            | AccountEventKind::DisabledUpdate
            | AccountEventKind::AccountRestriction
            | AccountEventKind::AccountViolation => e.reason.as_deref(),
            _ => None,
        };
        self.conn
            .exec(
                "UPDATE numbers SET state = $2, state_reason = $3, state_changed_at = $4, updated_at = $5 \
                 WHERE id = $1",
                args![number, next, reason, e.timestamp, self.received_at],
            )
            .await?;
        self.conn
            .exec(
                "UPDATE number_events SET state_before = $2, state_after = $3 WHERE id = $1",
                args![row.i64("id")?, state, next],
            )
            .await?;
        self.summary.account_state_changes += 1;
        self.emit(
            workspace,
            EventKind::NumberState,
            Some(number),
            None,
            None,
            None,
            json!({ "state": next, "previous": state, "event": e.kind.as_str(), "reason": reason }),
        );
        Ok(())
    }

    pub(super) async fn contact_upsert(
        &mut self,
        info: &NumberInfo,
        c: &ContactSync,
    ) -> Result<()> {
        self.app_activity(&info.id, c.timestamp);
        let (id, created) = self.resolve_app_contact(info, c).await?;
        self.touch_display(id, &c.customer).await?;
        // A contact created just now has the app's names already.
        let changed = if created {
            1
        } else {
            self.conn
                .exec(
                    "UPDATE contacts SET app_full_name = $2, app_first_name = $3, in_app_contacts = TRUE, \
                       app_changed_at = $4, updated_at = $5 \
                     WHERE id = $1 AND (app_changed_at IS NULL OR app_changed_at < $4)",
                    args![id, c.full_name, c.first_name, c.timestamp, self.received_at],
                )
                .await?
        };
        let item = SyncItem {
            key: &c.customer.key,
            action: "add",
            at: c.timestamp,
            // Part of the item's key: cut, so a huge name cannot overflow an index entry.
            detail: prefix(c.full_name.as_deref().unwrap_or(""), 256),
        };
        self.contact_synced(info, id, changed > 0, "app_contact_added", item)
            .await
    }

    pub(super) async fn contact_remove(
        &mut self,
        info: &NumberInfo,
        c: &ContactRemoval,
    ) -> Result<()> {
        self.app_activity(&info.id, c.timestamp);
        // Even an unknown contact is recorded as removed, so an older `add` arriving later
        // can't resurrect it. Within one second, a removal wins over an add.
        let id = self
            .resolve_contact(info, &CustomerRef::key(c.key.clone()))
            .await?;
        let changed = self
            .conn
            .exec(
                "UPDATE contacts SET app_full_name = NULL, app_first_name = NULL, in_app_contacts = FALSE, \
                   app_changed_at = $2, updated_at = $3 \
                 WHERE id = $1 AND (app_changed_at IS NULL OR app_changed_at < $2 \
                   OR (app_changed_at = $2 AND in_app_contacts))",
                args![id, c.timestamp, self.received_at],
            )
            .await?;
        let item = SyncItem {
            key: &c.key,
            action: "remove",
            at: c.timestamp,
            detail: "",
        };
        self.contact_synced(info, id, changed > 0, "app_contact_removed", item)
            .await
    }

    async fn contact_synced(
        &mut self,
        info: &NumberInfo,
        id: coex_core::model::ContactId,
        changed: bool,
        why: &str,
        item: SyncItem<'_>,
    ) -> Result<()> {
        if changed {
            self.summary.contacts_synced += 1;
            self.emit(
                info.workspace,
                EventKind::ContactChanged,
                Some(&info.id),
                None,
                Some(id),
                None,
                json!({ "change": why }),
            );
        } else {
            self.summary.contacts_unchanged += 1;
        }
        // The contacts job counts distinct items and the distinct contacts they are about,
        // so neither a redelivery nor the order of arrival moves a counter.
        let key = match (item.key.phone(), item.key.bsuid()) {
            (Some(p), _) => format!("p:{}", p.digits()),
            (None, Some(b)) => format!("b:{}", b.as_str()),
            (None, None) => String::new(),
        };
        self.sync_items.push(PendingSyncItem {
            number: info.id.clone(),
            key,
            action: item.action,
            at: item.at,
            detail: item.detail.to_owned(),
            received_at: self.received_at,
        });
        Ok(())
    }

    /// Records the contact-sync items queued so far and moves each number's contacts job by
    /// those that were new: one insert per run of items, then three statements per number,
    /// where recording them one by one took three statements per item.
    pub(super) async fn flush_sync_items(&mut self) -> Result<()> {
        if self.sync_items.is_empty() {
            return Ok(());
        }
        let mut items = std::mem::take(&mut self.sync_items);
        // In key order: two processes recording the same items (a redelivery to both) insert
        // them in one order, so neither waits for a row the other inserted after its own.
        items.sort_by(|a, b| {
            (a.number.as_str(), &a.key, a.action, a.at, &a.detail).cmp(&(
                b.number.as_str(),
                &b.key,
                b.action,
                b.at,
                &b.detail,
            ))
        });
        // Per number (sorted, so concurrent batches lock jobs in one order): the new items
        // per contact key, and the latest arrival among them.
        let mut new: BTreeMap<String, (HashMap<String, i64>, Timestamp)> = BTreeMap::new();
        for (start, len) in row_runs(items.len(), RUN) {
            let sql = format!(
                "INSERT INTO contact_sync_items (number_id, contact_key, action, occurred_at, detail, received_at) \
                 VALUES {} ON CONFLICT DO NOTHING RETURNING number_id, contact_key, received_at",
                values_list(self.conn.dialect(), len, 6)
            );
            let mut binds: Vec<Arg<'_>> = Vec::with_capacity(len * 6);
            for i in &items[start..start + len] {
                binds.extend([
                    i.number.to_arg(),
                    Arg::Text(Some(&i.key)),
                    Arg::Text(Some(i.action)),
                    i.at.to_arg(),
                    Arg::Text(Some(&i.detail)),
                    i.received_at.to_arg(),
                ]);
            }
            for row in self.conn.all(&sql, &binds).await? {
                let at = row.ts("received_at")?;
                let (keys, latest) = new
                    .entry(row.str("number_id")?)
                    .or_insert_with(|| (HashMap::new(), at));
                *keys.entry(row.str("contact_key")?).or_default() += 1;
                *latest = (*latest).max(at);
            }
        }
        for (number, (keys, latest)) in &new {
            // Creating or locking the job row first serialises concurrent items of one
            // number (PostgreSQL), so the count below sees every item committed before it.
            // Data arriving after a refusal (2593107: an earlier request stands) moves the
            // job on as well.
            self.conn
                .exec(
                    "INSERT INTO sync_jobs (number_id, kind, state, progress, chunks_received, items_received, last_event_at) \
                     VALUES ($1, 'contacts', 'in_progress', 0, 0, 0, $2) \
                     ON CONFLICT (number_id, kind) DO UPDATE SET \
                       state = CASE WHEN sync_jobs.state IN ('requested', 'refused') THEN 'in_progress' ELSE sync_jobs.state END, \
                       last_event_at = CASE WHEN sync_jobs.last_event_at IS NULL OR excluded.last_event_at > sync_jobs.last_event_at \
                                            THEN excluded.last_event_at ELSE sync_jobs.last_event_at END",
                    args![number, *latest],
                )
                .await?;
            // A contact is new to the job when all its items are this batch's.
            let keys: Vec<(&String, i64)> = keys.iter().map(|(k, n)| (k, *n)).collect();
            let mut first_seen = 0i64;
            for (start, len, shape) in lookup_runs(keys.len(), RUN) {
                let d = self.conn.dialect();
                let sql = format!(
                    "SELECT contact_key, COUNT(*) AS n FROM contact_sync_items \
                     WHERE contact_key IN (VALUES {}) AND number_id = {} GROUP BY contact_key",
                    values_list(d, shape, 1),
                    param(d, shape + 1)
                );
                let mut binds: Vec<Arg<'_>> = padded(&keys[start..start + len], shape)
                    .map(|(k, _)| Arg::Text(Some(k.as_str())))
                    .collect();
                binds.push(Arg::Text(Some(number)));
                let batch: HashMap<&str, i64> = keys[start..start + len]
                    .iter()
                    .map(|(k, n)| (k.as_str(), *n))
                    .collect();
                for row in self.conn.all(&sql, &binds).await? {
                    let key = row.str("contact_key")?;
                    if batch.get(key.as_str()) == Some(&row.i64("n")?) {
                        first_seen += 1;
                    }
                }
            }
            let items: i64 = keys.iter().map(|(_, n)| n).sum();
            self.conn
                .exec(
                    "UPDATE sync_jobs SET chunks_received = chunks_received + $2, \
                       items_received = items_received + $3 \
                     WHERE number_id = $1 AND kind = 'contacts'",
                    args![number, items, first_seen],
                )
                .await?;
        }
        Ok(())
    }
}
