//! Webhook changes waiting to be sent, and how they are grouped into POSTs: one envelope per
//! callback URL, entries by WABA, several changes per entry, at most 1,000 changes per POST
//! (spec/cloud-api.md §7.4). Account-level fields (`account_update`, ...) always go to the
//! app's callback URL; the others follow the phone-number override, then the WABA override,
//! then the app's URL (§2.1, §7.4).

use serde::Serialize;
use serde_json::{Value, json};

use coex_core::{PhoneNumberId, WabaId};

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

/// Builds the envelope for a batch: entries grouped by (WABA, entry time) in first-seen order.
pub fn envelope(changes: &[&OutChange]) -> Value {
    let mut entries: Vec<(WabaId, Option<i64>, Vec<Value>)> = Vec::new();
    for c in changes {
        let change = json!({ "value": c.value, "field": c.field });
        match entries
            .iter_mut()
            .find(|(w, t, _)| *w == c.waba && *t == c.entry_time)
        {
            Some((_, _, list)) => list.push(change),
            None => entries.push((c.waba.clone(), c.entry_time, vec![change])),
        }
    }
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|(waba, time, changes)| match time {
            Some(t) => json!({ "id": waba, "time": t, "changes": changes }),
            None => json!({ "id": waba, "changes": changes }),
        })
        .collect();
    json!({ "object": "whatsapp_business_account", "entry": entry })
}

#[cfg(test)]
mod tests {
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
        let env = envelope(&[&a, &b, &c, &d]);
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
