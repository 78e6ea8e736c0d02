//! The oracle: what the store must hold, computed from the emulator's own record of the
//! webhook bodies it delivered (read as plain JSON, independently of the hub's parser and
//! normaliser), and the comparison of that with the store. Also the canonical dump of a
//! store that two runs are compared by.

use std::collections::{BTreeMap, BTreeSet};

use coex_core::PhoneNumberId;
use coex_core::model::Message;
use coex_store::Store;
use serde_json::{Value, json};

use crate::harness::{Delivery, Env, phone_key};

/// Kinds whose `body` is the text or the caption (others carry their content elsewhere).
const BODY_KINDS: [&str; 7] = [
    "text",
    "image",
    "video",
    "document",
    "audio",
    "sticker",
    "media_placeholder",
];

/// One message as the store must show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpMessage {
    pub direction: &'static str,
    pub origin: &'static str,
    pub kind: String,
    pub body: Option<String>,
    /// Meta's timestamp, in seconds.
    pub timestamp: i64,
    pub edited_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub status: Option<String>,
    /// The customer's business-scoped user id.
    pub customer: String,
}

/// A contact as the phone app last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppContact {
    pub at: i64,
    /// `None` once removed.
    pub full_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Patch {
    kind: &'static str,
    target: String,
    at: i64,
    content: Option<(String, Option<String>)>,
}

/// What the emulator delivered, reduced to what the store must hold.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// number → wamid → message.
    pub messages: BTreeMap<String, BTreeMap<String, ExpMessage>>,
    /// Contacts from `smb_app_state_sync`, by phone digits.
    pub app_contacts: BTreeMap<String, AppContact>,
    /// `account_update` events: (event, reason, entry time).
    pub account_events: Vec<(String, Option<String>, i64)>,
    /// number → (declined, highest progress) of the history sync.
    pub history: BTreeMap<String, (bool, u64)>,
    /// Number of history messages delivered, per number (a wamid counted once).
    pub history_count: BTreeMap<String, usize>,
    patches: Vec<(String, Patch)>,
    statuses: Vec<(String, String, String, i64)>,
}

fn ts(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.as_i64().unwrap(),
        other => panic!("not a timestamp: {other}"),
    }
}

fn text_of(m: &Value, kind: &str) -> Option<String> {
    match kind {
        "text" => m["text"]["body"].as_str().map(str::to_owned),
        "image" | "video" | "document" => m[kind]["caption"].as_str().map(str::to_owned),
        _ => None,
    }
}

fn status_rank(s: &str) -> u8 {
    match s {
        "pending" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "failed" => 4,
        other => panic!("unknown status {other}"),
    }
}

impl Expected {
    /// Reads every delivered body (each change once per delivery; duplicates are harmless
    /// since everything here is keyed by id).
    pub fn from_deliveries(deliveries: &[Delivery]) -> Expected {
        let mut e = Expected::default();
        for d in deliveries {
            e.read_body(d.body.as_bytes());
        }
        e.settle();
        e
    }

    /// Adds a body the test delivered itself.
    pub fn add_body(&mut self, body: &[u8]) {
        self.read_body(body);
        self.settle();
    }

    fn read_body(&mut self, body: &[u8]) {
        let body: Value = serde_json::from_slice(body).unwrap();
        for entry in body["entry"].as_array().unwrap() {
            for change in entry["changes"].as_array().unwrap() {
                self.change(entry, change["field"].as_str().unwrap(), &change["value"]);
            }
        }
    }

    /// A message the platform sent through the API (known to the store through the sending
    /// side, never through a webhook).
    pub fn add_sent(
        &mut self,
        number: &PhoneNumberId,
        wamid: &str,
        customer: &str,
        body: &Value,
        at: i64,
    ) {
        let kind = body["type"].as_str().unwrap().to_owned();
        let text = text_of(body, &kind);
        self.insert(
            number.as_str(),
            wamid,
            ExpMessage {
                direction: "outbound",
                origin: "api_agent",
                kind,
                body: text,
                timestamp: at,
                edited_at: None,
                revoked_at: None,
                status: Some("pending".into()),
                customer: customer.to_owned(),
            },
        );
        self.settle();
    }

    fn insert(&mut self, number: &str, wamid: &str, m: ExpMessage) {
        // The first copy wins: the store never overwrites a stored message.
        self.messages
            .entry(number.to_owned())
            .or_default()
            .entry(wamid.to_owned())
            .or_insert(m);
    }

    fn change(&mut self, entry: &Value, field: &str, v: &Value) {
        let number = v["metadata"]["phone_number_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        match field {
            "messages" => {
                for m in v["messages"].as_array().into_iter().flatten() {
                    self.live(
                        &number,
                        m,
                        "inbound",
                        "customer",
                        m["from_user_id"].as_str(),
                    );
                }
                for s in v["statuses"].as_array().into_iter().flatten() {
                    self.statuses.push((
                        number.clone(),
                        s["id"].as_str().unwrap().to_owned(),
                        s["status"].as_str().unwrap().to_ascii_lowercase(),
                        ts(&s["timestamp"]),
                    ));
                }
            }
            "smb_message_echoes" => {
                for m in v["message_echoes"].as_array().into_iter().flatten() {
                    self.live(
                        &number,
                        m,
                        "outbound",
                        "business_app",
                        m["to_user_id"].as_str(),
                    );
                }
            }
            "history" => self.history(&number, v),
            "smb_app_state_sync" => {
                for item in v["state_sync"].as_array().unwrap() {
                    let c = &item["contact"];
                    let phone = c["phone_number"].as_str().unwrap().to_owned();
                    let at = ts(&item["metadata"]["timestamp"]);
                    let full_name = match item["action"].as_str().unwrap() {
                        "add" => Some(c["full_name"].as_str().unwrap().to_owned()),
                        "remove" => None,
                        other => panic!("unknown state_sync action {other}"),
                    };
                    let next = AppContact { at, full_name };
                    let slot = self.app_contacts.entry(phone).or_insert(next.clone());
                    // The newest wins; within one second a removal wins over an add.
                    if next.at > slot.at || (next.at == slot.at && next.full_name.is_none()) {
                        *slot = next;
                    }
                }
            }
            "account_update" => {
                let reason = v["disconnection_info"]["reason"]
                    .as_str()
                    .map(str::to_owned);
                self.account_events.push((
                    v["event"].as_str().unwrap().to_owned(),
                    reason,
                    ts(&entry["time"]),
                ));
            }
            _ => {}
        }
    }

    fn live(
        &mut self,
        number: &str,
        m: &Value,
        direction: &'static str,
        origin: &'static str,
        customer: Option<&str>,
    ) {
        let wamid = m["id"].as_str().unwrap();
        let at = ts(&m["timestamp"]);
        let kind = m["type"].as_str().unwrap();
        match kind {
            "edit" => {
                let inner = &m["edit"]["message"];
                let inner_kind = inner["type"].as_str().unwrap().to_owned();
                let text = text_of(inner, &inner_kind);
                self.patches.push((
                    number.to_owned(),
                    Patch {
                        kind: "edit",
                        target: m["edit"]["original_message_id"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                        at,
                        content: Some((inner_kind, text)),
                    },
                ));
            }
            "revoke" => self.patches.push((
                number.to_owned(),
                Patch {
                    kind: "revoke",
                    target: m["revoke"]["original_message_id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    at,
                    content: None,
                },
            )),
            _ => self.insert(
                number,
                wamid,
                ExpMessage {
                    direction,
                    origin,
                    kind: kind.to_owned(),
                    body: text_of(m, kind),
                    timestamp: at,
                    edited_at: None,
                    revoked_at: None,
                    status: (origin == "business_app").then(|| "sent".to_owned()),
                    customer: customer.unwrap().to_owned(),
                },
            ),
        }
    }

    fn history(&mut self, number: &str, v: &Value) {
        let business = v["metadata"]["display_phone_number"].as_str().unwrap();
        for chunk in v["history"].as_array().into_iter().flatten() {
            let job = self.history.entry(number.to_owned()).or_default();
            if chunk["errors"].as_array().is_some_and(|e| !e.is_empty()) {
                job.0 = true;
                continue;
            }
            job.1 = job.1.max(chunk["metadata"]["progress"].as_u64().unwrap());
            for thread in chunk["threads"].as_array().unwrap() {
                let customer = thread["context"]["user_id"].as_str().unwrap();
                for m in thread["messages"].as_array().unwrap() {
                    let kind = m["type"].as_str().unwrap();
                    let outbound = m["from"].as_str() == Some(business);
                    let wamid = m["id"].as_str().unwrap();
                    let fresh = !self
                        .messages
                        .get(number)
                        .is_some_and(|ms| ms.contains_key(wamid));
                    if fresh {
                        *self.history_count.entry(number.to_owned()).or_default() += 1;
                    }
                    self.insert(
                        number,
                        wamid,
                        ExpMessage {
                            direction: if outbound { "outbound" } else { "inbound" },
                            origin: "history_import",
                            kind: kind.to_owned(),
                            body: text_of(m, kind),
                            timestamp: ts(&m["timestamp"]),
                            edited_at: None,
                            revoked_at: None,
                            status: m["history_context"]["status"]
                                .as_str()
                                .map(str::to_ascii_lowercase),
                            customer: customer.to_owned(),
                        },
                    );
                }
            }
        }
        // Media follow-ups: the placeholder's wamid with the media's content.
        let followups = v["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(v["message_echoes"].as_array().into_iter().flatten());
        for m in followups {
            let kind = m["type"].as_str().unwrap().to_owned();
            let text = text_of(m, &kind);
            self.patches.push((
                number.to_owned(),
                Patch {
                    kind: "media",
                    target: m["id"].as_str().unwrap().to_owned(),
                    at: ts(&m["timestamp"]),
                    content: Some((kind, text)),
                },
            ));
        }
    }

    /// Applies edits, revokes, media follow-ups and statuses to the messages they name,
    /// whatever order they came in (the store's rules, stated independently).
    fn settle(&mut self) {
        let mut patches = self.patches.clone();
        // Older edits first, so the newest one wins.
        patches.sort_by_key(|(_, p)| p.at);
        for (number, p) in &patches {
            let Some(m) = self
                .messages
                .get_mut(number)
                .and_then(|ms| ms.get_mut(&p.target))
            else {
                continue;
            };
            match p.kind {
                "edit" => {
                    let (kind, body) = p.content.clone().unwrap();
                    if m.edited_at.is_none_or(|e| e <= p.at) {
                        m.kind = kind;
                        m.body = body;
                        m.edited_at = Some(p.at);
                    }
                }
                "revoke" => {
                    if m.revoked_at.is_none() {
                        m.revoked_at = Some(p.at);
                    }
                }
                "media" => {
                    let (kind, body) = p.content.clone().unwrap();
                    if m.kind == "media_placeholder" {
                        m.kind = kind;
                        m.body = body.or(m.body.take());
                    }
                }
                _ => unreachable!(),
            }
        }
        for (number, wamid, status, _) in &self.statuses {
            let Some(m) = self
                .messages
                .get_mut(number)
                .and_then(|ms| ms.get_mut(wamid))
            else {
                continue;
            };
            let current = m.status.clone().unwrap_or_else(|| "pending".into());
            if current != "failed" && status_rank(status) > status_rank(&current) {
                m.status = Some(status.clone());
            }
        }
    }

    /// The last live customer message per (number, customer): the input of the 24 h window.
    pub fn last_inbound(&self) -> BTreeMap<(String, String), i64> {
        let mut out = BTreeMap::new();
        for (number, ms) in &self.messages {
            for m in ms.values().filter(|m| m.origin == "customer") {
                let slot = out
                    .entry((number.clone(), m.customer.clone()))
                    .or_insert(m.timestamp);
                *slot = (*slot).max(m.timestamp);
            }
        }
        out
    }

    /// The customers each number has a conversation with.
    pub fn customers(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.messages
            .iter()
            .map(|(n, ms)| (n.clone(), ms.values().map(|m| m.customer.clone()).collect()))
            .collect()
    }
}

/// How the store shows a message, in the oracle's terms.
fn as_expected(m: &Message, customer: String) -> ExpMessage {
    let secs = |t: coex_core::model::Timestamp| t.as_secs();
    ExpMessage {
        direction: if m.direction.as_str() == "inbound" {
            "inbound"
        } else {
            "outbound"
        },
        origin: match m.origin.as_str() {
            "customer" => "customer",
            "business_app" => "business_app",
            "api_agent" => "api_agent",
            "history_import" => "history_import",
            other => panic!("unexpected origin {other}"),
        },
        kind: m.content.kind.as_str().to_owned(),
        body: m.content.body.clone(),
        timestamp: secs(m.timestamp),
        edited_at: m.edited_at.map(secs),
        revoked_at: m.revoked_at.map(secs),
        status: m.status.map(|s| s.as_str().to_owned()),
        customer,
    }
}

/// Asserts that the store holds exactly what `expected` says: every message with its
/// direction, origin, kind, body, timestamp, edit, revoke and status; one conversation per
/// customer with the 24 h window input taken from live customer messages only; and the app's
/// contacts.
pub async fn assert_store_matches(env: &Env, expected: &Expected) {
    let problems = store_problems(env, expected).await;
    assert!(
        problems.is_empty(),
        "the store differs from what the emulator delivered:\n{}",
        problems.join("\n")
    );
}

/// [`assert_store_matches`] for a store that settles in the background: polls (a bounded
/// number of times, with short sleeps) until it matches. Two processes can commit an edit and
/// its original at the same moment without seeing each other; the hub's sweep applies such a
/// patch shortly after.
pub async fn assert_store_settles(env: &Env, expected: &Expected) {
    let mut problems = Vec::new();
    for _ in 0..200 {
        problems = store_problems(env, expected).await;
        if problems.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "the store never came to what the emulator delivered:\n{}",
        problems.join("\n")
    );
}

async fn store_problems(env: &Env, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    let last_inbound = expected.last_inbound();
    let customers = expected.customers();
    for number in [env.coex(), env.cloud()] {
        let want = expected
            .messages
            .get(number.as_str())
            .cloned()
            .unwrap_or_default();
        let mut have = BTreeMap::new();
        let mut have_customers = BTreeSet::new();
        for view in env.conversations(&number).await {
            let c = &view.contact;
            let user_id = c
                .bsuid
                .as_ref()
                .map(|b| b.as_str().to_owned())
                .unwrap_or_else(|| format!("phone:{:?}", c.phone));
            assert!(
                have_customers.insert(user_id.clone()),
                "{number}: two conversations with {user_id}"
            );
            let msgs = env.messages_of(view.conversation.id).await;
            assert_eq!(
                view.conversation.message_count,
                msgs.len() as i64,
                "{number}: message_count of the conversation with {user_id}"
            );
            let want_inbound = last_inbound
                .get(&(number.as_str().to_owned(), user_id.clone()))
                .copied();
            if view.conversation.last_inbound_at.map(|t| t.as_secs()) != want_inbound {
                problems.push(format!(
                    "{number}: last_inbound_at with {user_id} is {:?}, want {want_inbound:?}",
                    view.conversation.last_inbound_at
                ));
            }
            for m in msgs {
                assert!(
                    have.insert(
                        m.wamid.as_str().to_owned(),
                        as_expected(&m, user_id.clone())
                    )
                    .is_none(),
                    "{number}: {} stored twice",
                    m.wamid
                );
            }
        }
        let want_customers = customers.get(number.as_str()).cloned().unwrap_or_default();
        if have_customers != want_customers {
            problems.push(format!(
                "{number}: conversations with {have_customers:?}, want {want_customers:?}"
            ));
        }
        for (wamid, w) in &want {
            match have.get(wamid) {
                None => problems.push(format!("{number}: missing {wamid} {w:?}")),
                Some(h) => {
                    let mut h = h.clone();
                    if !BODY_KINDS.contains(&w.kind.as_str()) {
                        h.body = w.body.clone();
                    }
                    if h != *w {
                        problems.push(format!("{number}: {wamid}\n  have {h:?}\n  want {w:?}"));
                    }
                }
            }
        }
        for (wamid, h) in &have {
            if !want.contains_key(wamid) {
                problems.push(format!("{number}: unexpected {wamid} {h:?}"));
            }
        }
    }
    for (phone, c) in &expected.app_contacts {
        let stored = env
            .store
            .find_contact(env.workspace.id, &phone_key(phone))
            .await
            .unwrap();
        let Some(stored) = stored else {
            problems.push(format!("app contact {phone} is missing"));
            continue;
        };
        if stored.in_app_contacts != c.full_name.is_some() || stored.app_full_name != c.full_name {
            problems.push(format!(
                "app contact {phone}: in app {} as {:?}, want {:?}",
                stored.in_app_contacts, stored.app_full_name, c.full_name
            ));
        }
    }
    problems
}

/// Everything a store holds that two runs of the same day must agree on: numbers, messages
/// by wamid, conversations by customer, app contacts and sync jobs. Leaves out what depends
/// on when webhooks happened to arrive (database ids, storage and receipt times).
pub async fn canonical_dump(env: &Env, app_phones: &[String]) -> Value {
    let mut numbers = serde_json::Map::new();
    for number in [env.coex(), env.cloud()] {
        let n = env.store.get_number(&number).await.unwrap();
        let mut conversations = BTreeMap::new();
        let mut messages = BTreeMap::new();
        for view in env.conversations(&number).await {
            let c = &view.contact;
            let k = view.conversation.clone();
            let who = format!("{:?}/{:?}", c.bsuid, c.phone);
            conversations.insert(
                who,
                json!({
                    "contact": {
                        "bsuid": c.bsuid, "parent_bsuid": c.parent_bsuid, "phone": c.phone,
                        "previous_bsuids": c.previous_bsuids, "profile_name": c.profile_name,
                        "username": c.username, "app_full_name": c.app_full_name,
                        "app_first_name": c.app_first_name, "in_app_contacts": c.in_app_contacts,
                    },
                    "last_message_at": k.last_message_at, "last_inbound_at": k.last_inbound_at,
                    "last_echo_at": k.last_echo_at, "last_outbound_at": k.last_outbound_at,
                    "message_count": k.message_count,
                }),
            );
            for m in env.messages_of(view.conversation.id).await {
                messages.insert(
                    m.wamid.as_str().to_owned(),
                    json!({
                        "direction": m.direction, "origin": m.origin, "sender": m.sender,
                        "content": m.content, "timestamp": m.timestamp, "status": m.status,
                        "status_at": m.status_at, "error": m.error, "pricing": m.pricing,
                        "edited_at": m.edited_at, "revoked_at": m.revoked_at,
                        "contact": format!("{:?}/{:?}", view.contact.bsuid, view.contact.phone),
                    }),
                );
            }
        }
        let sync: BTreeMap<String, Value> = env
            .store
            .sync_progress(&number)
            .await
            .unwrap()
            .into_iter()
            .map(|j| {
                (
                    j.kind.as_str().to_owned(),
                    json!({
                        "state": j.state, "request_id": j.request_id, "phase": j.phase,
                        "chunk_order": j.chunk_order, "progress": j.progress,
                        "chunks_received": j.chunks_received, "items_received": j.items_received,
                        "error": j.error,
                    }),
                )
            })
            .collect();
        numbers.insert(
            number.as_str().to_owned(),
            json!({
                "state": n.state, "state_reason": n.state_reason, "kind": n.kind,
                "conversations": conversations, "messages": messages, "sync": sync,
            }),
        );
    }
    let mut contacts = BTreeMap::new();
    for phone in app_phones {
        let c = env
            .store
            .find_contact(env.workspace.id, &phone_key(phone))
            .await
            .unwrap();
        contacts.insert(
            phone.clone(),
            c.map(|c| {
                json!({ "bsuid": c.bsuid, "app_full_name": c.app_full_name,
                               "in_app_contacts": c.in_app_contacts })
            }),
        );
    }
    json!({ "numbers": numbers, "app_contacts": contacts })
}

/// Where two JSON values differ (paths and both sides), for readable failures.
pub fn json_diff(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(
                        format!("{path}/{k}"),
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(format!("{path}/{i}"), p, q, out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} != {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(String::new(), a, b, &mut out);
    out
}
