//! The `value` objects of the webhook changes the emulator sends, shaped as
//! spec/cloud-api.md shows them: inbound messages, statuses, echoes, history chunks and their
//! media follow-ups, contact sync, account updates and BSUID changes.
//!
//! Identity follows the BSUID rules of §10.3: the business-scoped user id is on every
//! user-facing payload; the phone number (`wa_id`, `from`, `to`, `recipient_id`) only when Meta
//! may share it (§10.5), and then it is present, never empty; `username` only when the user has
//! one (never on `sent`).

use serde_json::{Map, Value, json};

use crate::world::messages::Pricing;

/// How a customer appears in one payload.
#[derive(Debug, Clone)]
pub struct Party {
    pub name: String,
    /// Digits, only when Meta may share the number.
    pub phone: Option<String>,
    pub user_id: String,
    pub parent_user_id: Option<String>,
    pub username: Option<String>,
}

/// `value.metadata` of a phone-number-scoped change.
pub fn metadata(display_digits: &str, phone_number_id: &str) -> Value {
    json!({ "display_phone_number": display_digits, "phone_number_id": phone_number_id })
}

/// One `contacts[]` item.
pub fn contact(p: &Party, with_name: bool, with_username: bool) -> Value {
    let mut profile = Map::new();
    if with_name {
        profile.insert("name".into(), json!(p.name));
    }
    if with_username && let Some(u) = &p.username {
        profile.insert("username".into(), json!(u));
    }
    let mut c = Map::new();
    c.insert("profile".into(), Value::Object(profile));
    if let Some(phone) = &p.phone {
        c.insert("wa_id".into(), json!(phone));
    }
    c.insert("user_id".into(), json!(p.user_id));
    if let Some(parent) = &p.parent_user_id {
        c.insert("parent_user_id".into(), json!(parent));
    }
    Value::Object(c)
}

fn base(metadata: Value) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("messaging_product".into(), json!("whatsapp"));
    v.insert("metadata".into(), metadata);
    v
}

/// Puts `from` / `from_user_id` / `from_parent_user_id` first on a user's message object.
pub fn from_user(p: &Party, message: Map<String, Value>) -> Value {
    let mut m = Map::new();
    if let Some(phone) = &p.phone {
        m.insert("from".into(), json!(phone));
    }
    m.insert("from_user_id".into(), json!(p.user_id));
    if let Some(parent) = &p.parent_user_id {
        m.insert("from_parent_user_id".into(), json!(parent));
    }
    for (k, v) in message {
        m.entry(k).or_insert(v);
    }
    Value::Object(m)
}

/// A `messages` change carrying a customer's message (`message` holds `id`, `timestamp`,
/// `type`, the content and optionally `context`).
pub fn inbound(metadata: Value, p: &Party, message: Map<String, Value>) -> Value {
    let mut v = base(metadata);
    v.insert("contacts".into(), json!([contact(p, true, true)]));
    v.insert("messages".into(), json!([from_user(p, message)]));
    Value::Object(v)
}

/// Everything a status item needs.
#[derive(Debug, Clone)]
pub struct StatusItem {
    pub wamid: String,
    pub status: &'static str,
    pub timestamp: String,
    /// The send addressed the customer by BSUID only.
    pub to_bsuid: bool,
    /// `recipient_id`: the phone the business sent to, or the customer's phone when Meta may
    /// share it; `None` leaves it out (a BSUID send to a hidden number).
    pub recipient_id: Option<String>,
    pub pricing: Option<Pricing>,
    /// Only for Graph versions up to v23 (v24+ omit it outside free entry points).
    pub conversation: Option<Value>,
    pub errors: Option<Vec<Value>>,
    pub biz_opaque_callback_data: Option<String>,
}

/// A `messages` change carrying one status.
pub fn status(metadata: Value, p: &Party, s: &StatusItem) -> Value {
    let failed = s.status == "failed";
    let mut item = Map::new();
    item.insert("id".into(), json!(s.wamid));
    item.insert("status".into(), json!(s.status));
    item.insert("timestamp".into(), json!(s.timestamp));
    if let Some(phone) = &s.recipient_id {
        item.insert("recipient_id".into(), json!(phone));
    }
    // recipient_user_id: always, except on a failed status for a phone send (§10.3).
    if !failed || s.to_bsuid {
        item.insert("recipient_user_id".into(), json!(p.user_id));
        if let Some(parent) = &p.parent_user_id {
            item.insert("recipient_parent_user_id".into(), json!(parent));
        }
    }
    if let Some(data) = &s.biz_opaque_callback_data {
        item.insert("biz_opaque_callback_data".into(), json!(data));
    }
    if let Some(conv) = &s.conversation {
        item.insert("conversation".into(), conv.clone());
    }
    if let Some(pr) = &s.pricing {
        item.insert(
            "pricing".into(),
            json!({ "billable": pr.billable, "pricing_model": "PMP", "type": pr.kind, "category": pr.category }),
        );
    }
    if let Some(errors) = &s.errors {
        item.insert("errors".into(), Value::Array(errors.clone()));
    }
    let mut v = base(metadata);
    if !failed {
        v.insert(
            "contacts".into(),
            json!([contact(p, true, s.status != "sent")]),
        );
    }
    v.insert("statuses".into(), json!([Value::Object(item)]));
    Value::Object(v)
}

/// A failed status for a phone send to someone the emulator does not know: only
/// `recipient_id` and `errors` (no user id exists).
pub fn failed_unknown_recipient(
    metadata: Value,
    wamid: &str,
    timestamp: &str,
    recipient: &str,
    error: Value,
) -> Value {
    let mut v = base(metadata);
    v.insert(
        "statuses".into(),
        json!([{ "id": wamid, "status": "failed", "timestamp": timestamp,
                 "recipient_id": recipient, "errors": [error] }]),
    );
    Value::Object(v)
}

/// An `smb_message_echoes` change: a message the business sent from the phone app.
pub fn echo(
    metadata: Value,
    business_display: &str,
    p: &Party,
    message: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("from".into(), json!(business_display));
    if let Some(phone) = &p.phone {
        m.insert("to".into(), json!(phone));
    }
    m.insert("to_user_id".into(), json!(p.user_id));
    if let Some(parent) = &p.parent_user_id {
        m.insert("to_parent_user_id".into(), json!(parent));
    }
    for (k, val) in message {
        m.entry(k).or_insert(val);
    }
    let mut v = base(metadata);
    v.insert("contacts".into(), json!([contact(p, false, true)]));
    v.insert("message_echoes".into(), json!([Value::Object(m)]));
    Value::Object(v)
}

/// An `smb_app_state_sync` change with several contact items.
pub fn state_sync(metadata: Value, items: Vec<Value>) -> Value {
    let mut v = base(metadata);
    v.insert("state_sync".into(), Value::Array(items));
    Value::Object(v)
}

/// One `state_sync[]` item for a contact added, edited or removed in the app.
pub fn state_sync_contact(
    action: &str,
    full_name: &str,
    first_name: &str,
    phone_digits: &str,
    user_id: Option<&str>,
    timestamp: &str,
) -> Value {
    let mut contact = Map::new();
    if action != "remove" {
        contact.insert("full_name".into(), json!(full_name));
        contact.insert("first_name".into(), json!(first_name));
    }
    contact.insert("phone_number".into(), json!(phone_digits));
    if let Some(u) = user_id {
        contact.insert("user_id".into(), json!(u));
    }
    json!({ "type": "contact", "contact": Value::Object(contact), "action": action,
            "metadata": { "timestamp": timestamp } })
}

/// A `history` change with one chunk.
pub fn history_chunk(
    metadata: Value,
    phase: u8,
    chunk_order: u32,
    progress: u8,
    threads: Vec<Value>,
) -> Value {
    let mut v = base(metadata);
    v.insert(
        "history".into(),
        json!([{ "metadata": { "phase": phase, "chunk_order": chunk_order, "progress": progress },
                 "threads": threads }]),
    );
    Value::Object(v)
}

/// The `history` change sent when the business declined to share its history (2593109).
pub fn history_declined(metadata: Value, error: Value) -> Value {
    let mut v = base(metadata);
    v.insert("history".into(), json!([{ "errors": [error] }]));
    Value::Object(v)
}

/// A `history` media follow-up: `messages[]` for the user's media, `message_echoes[]` for the
/// business's, plus `contacts[]`.
pub fn history_media(
    metadata: Value,
    contacts: Vec<Value>,
    messages: Vec<Value>,
    echoes: Vec<Value>,
) -> Value {
    let mut v = base(metadata);
    v.insert("contacts".into(), Value::Array(contacts));
    if !messages.is_empty() {
        v.insert("messages".into(), Value::Array(messages));
    }
    if !echoes.is_empty() {
        v.insert("message_echoes".into(), Value::Array(echoes));
    }
    Value::Object(v)
}

/// `account_update` `PARTNER_REMOVED` with `disconnection_info` (a coexistence number).
pub fn partner_removed(display_digits: &str, reason: &str, initiated_by: &str) -> Value {
    json!({ "phone_number": display_digits, "event": "PARTNER_REMOVED",
            "disconnection_info": { "reason": reason, "initiated_by": initiated_by } })
}

/// `account_update` `ACCOUNT_OFFBOARDED`.
pub fn account_offboarded() -> Value {
    json!({ "event": "ACCOUNT_OFFBOARDED" })
}

/// `account_update` `ACCOUNT_RECONNECTED` (spec/cloud-api.md §2.5: the value is the event
/// alone; the entry carries the WABA id and an integer `time`).
pub fn account_reconnected() -> Value {
    json!({ "event": "ACCOUNT_RECONNECTED" })
}

/// A `user_id_update` change (a customer changed phone number, so their BSUID changed).
pub fn user_id_update(
    metadata: Value,
    p: &Party,
    previous: &str,
    current: &str,
    timestamp: &str,
) -> Value {
    let mut item = Map::new();
    if let Some(phone) = &p.phone {
        item.insert("wa_id".into(), json!(phone));
    }
    item.insert(
        "detail".into(),
        json!(format!("User id for {} has been updated.", p.name)),
    );
    item.insert(
        "user_id".into(),
        json!({ "previous": previous, "current": current }),
    );
    item.insert("timestamp".into(), json!(timestamp));
    let mut v = base(metadata);
    v.insert("contacts".into(), json!([contact(p, true, false)]));
    v.insert("user_id_update".into(), json!([Value::Object(item)]));
    Value::Object(v)
}

/// A `messages` change with the `system` message `user_changed_user_id`.
pub fn system_user_changed_user_id(
    metadata: Value,
    p: &Party,
    wamid: &str,
    previous: &str,
    current: &str,
    timestamp: &str,
) -> Value {
    let mut system = Map::new();
    system.insert(
        "body".into(),
        json!(format!(
            "User {} changed from {previous} to {current}",
            p.name
        )),
    );
    system.insert("type".into(), json!("user_changed_user_id"));
    if let Some(phone) = &p.phone {
        system.insert("wa_id".into(), json!(phone));
    }
    system.insert("user_id".into(), json!(current));
    let mut m = Map::new();
    if let Some(phone) = &p.phone {
        m.insert("from".into(), json!(phone));
    }
    m.insert("id".into(), json!(wamid));
    m.insert("timestamp".into(), json!(timestamp));
    m.insert("type".into(), json!("system"));
    m.insert("system".into(), Value::Object(system));
    let mut v = base(metadata);
    v.insert("contacts".into(), json!([contact(p, true, true)]));
    v.insert("messages".into(), json!([Value::Object(m)]));
    Value::Object(v)
}

/// `message_template_status_update` (WABA-level).
pub fn template_status_update(
    template_id: &str,
    name: &str,
    language: &str,
    event: &str,
    reason: &str,
) -> Value {
    json!({ "event": event, "message_template_id": template_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(template_id)),
            "message_template_name": name, "message_template_language": language, "reason": reason })
}
