//! Webhook changes waiting to be sent, and how they are grouped into POSTs: one envelope per
//! callback URL, entries by WABA, several changes per entry, at most 1,000 changes per POST
//! (spec/cloud-api.md §7.4). Account-level fields (`account_update`, ...) always go to the
//! app's callback URL; the others follow the phone-number override, then the WABA override,
//! then the app's URL (§2.1, §7.4).
//!
//! The body is a `coex_meta::webhook::Notification`: every change value is typed by
//! `coex-meta` (the hub's parser) and serialised from those types, so what the emulator sends is
//! what the hub models. A value `coex-meta` cannot type is still sent as built, with a warning.

use serde::Serialize;
use serde_json::Value;

use coex_core::{PhoneNumberId, WabaId};
use coex_meta::webhook::{Change, ChangeValue, Entry, Extra, Notification, Timestamp};

/// Most changes Meta puts in one POST.
pub const MAX_CHANGES_PER_POST: usize = 1000;

/// One change (`{"value": ..., "field": ...}`) to deliver.
#[derive(Debug, Clone, Serialize)]
pub struct OutChange {
    /// Sequence number, unique for the run: lets tests check every change arrived.
    pub seq: u64,
    pub waba: WabaId,
    pub number: Option<PhoneNumberId>,
    pub field: String,
    pub value: Value,
    /// `entry[].time` (only `account_update` carries it).
    pub entry_time: Option<i64>,
    /// A one-line description for the control API's delivery list.
    pub summary: String,
}

impl OutChange {
    /// Whether the change ignores webhook overrides (account-level fields).
    pub fn is_account_level(&self) -> bool {
        matches!(
            self.field.as_str(),
            "account_update" | "account_alerts" | "account_review_update"
        )
    }
}

/// Changes not yet turned into deliveries.
#[derive(Debug, Default)]
pub struct Outbox {
    pub pending: Vec<OutChange>,
    /// Whether a flush task is queued (one is enough for everything pending).
    pub flush_queued: bool,
    pub next_seq: u64,
    /// Changes dropped because the app was not subscribed to their WABA.
    pub dropped_unsubscribed: u64,
}

/// Builds the notification for a batch: entries grouped by (WABA, entry time) in first-seen
/// order, each change typed by `coex-meta`.
pub fn envelope(changes: &[&OutChange]) -> Notification {
    let mut entries: Vec<Entry> = Vec::new();
    for c in changes {
        let value = ChangeValue::parse(Some(&c.field), c.value.clone());
        if let ChangeValue::Malformed { field, error, .. } = &value {
            tracing::warn!(%field, %error, "coex-meta cannot type a change the emulator sends");
        }
        let change = Change {
            field: Some(c.field.clone()),
            value,
            extra: Extra::new(),
        };
        let time = c.entry_time.map(Timestamp::number);
        match entries
            .iter_mut()
            .find(|e| e.id.as_ref() == Some(&c.waba) && e.time == time)
        {
            Some(entry) => entry.changes.push(change),
            None => {
                let mut entry = Entry::new(c.waba.clone(), vec![change]);
                entry.time = time;
                entries.push(entry);
            }
        }
    }
    Notification::new(entries)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(seq: u64, waba: &str, field: &str, time: Option<i64>) -> OutChange {
        OutChange {
            seq,
            waba: WabaId::parse(waba).unwrap(),
            number: None,
            field: field.into(),
            value: json!({ "n": seq }),
            entry_time: time,
            summary: String::new(),
        }
    }

    #[test]
    fn groups_changes_into_entries_by_waba() {
        let a = change(1, "1", "messages", None);
        let b = change(2, "2", "messages", None);
        let c = change(3, "1", "smb_message_echoes", None);
        let d = change(4, "1", "account_update", Some(17));
        let env = serde_json::to_value(envelope(&[&a, &b, &c, &d])).unwrap();
        assert_eq!(env["object"], "whatsapp_business_account");
        let entries = env["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["id"], "1");
        assert_eq!(entries[0]["changes"].as_array().unwrap().len(), 2);
        assert!(entries[0].get("time").is_none());
        assert_eq!(entries[2]["time"], 17);
        assert!(d.is_account_level());
    }
}
