//! A flat view of a notification: one [`Event`] per thing that happened (a message in, an
//! echo, an edit, a status, a history chunk, a contact change, an account event, …), each
//! with where it came from, its id and time, a reference to the typed item and [`Flag`]s for
//! what this version does not understand.
//!
//! This is what `coex inspect` prints (one JSON line per event) and what ingest walks to turn
//! a notification into domain events, so the nesting of Meta's payloads is dealt with once.

use coex_core::{Bsuid, PhoneNumberId, WabaId};
use serde::Serialize;

use super::account::AccountUpdateValue;
use super::envelope::{Change, ChangeValue, Entry, Notification};
use super::history::{HistoryChunk, HistoryValue};
use super::message::{Message, MessageType};
use super::state_sync::StateSync;
use super::status::Status;
use super::values::{BusinessUsernameValue, UserIdUpdate};
use super::walk::{Flag, Walk, join, walk_extra};
use super::wire::{Contact, Metadata, WebhookError, WirePhone};

/// What an [`Event`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A message from a customer (including reactions, system notices and unsupported ones).
    InboundMessage,
    /// A message the business sent from the phone app or a companion device.
    Echo,
    /// An edit of an earlier message; see [`Event::origin`] for who edited.
    Edit,
    /// A delete-for-everyone of an earlier message; see [`Event::origin`].
    Revoke,
    /// A status of a message sent through the API.
    Status,
    /// A chunk of the history import.
    HistoryChunk,
    /// The business declined to share its history (error 2593109).
    HistoryDeclined,
    /// The media follow-up for a history placeholder.
    HistoryMedia,
    /// A phone-app contact was added, edited or removed.
    ContactChange,
    /// An `account_update` event.
    AccountEvent,
    /// A user's BSUID changed.
    UserIdUpdate,
    /// The business username changed.
    BusinessUsernameUpdate,
    /// A value-level error in a `messages` change.
    ValueError,
    /// A known field whose value held nothing this version recognises.
    Empty,
    /// A field this version does not know.
    Unknown,
    /// A change whose value did not fit its type, or that had no value.
    Malformed,
}

/// Who a message-like event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The WhatsApp user.
    Customer,
    /// The business, from the WhatsApp Business app or a companion device.
    BusinessApp,
}

/// The typed item an [`Event`] is about. Serialises as the item's own JSON.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum EventItem<'a> {
    /// A message, echo, edit, revoke or history media message.
    Message(&'a Message),
    /// A status.
    Status(&'a Status),
    /// A history chunk or decline.
    HistoryChunk(&'a HistoryChunk),
    /// A contact change.
    StateSync(&'a StateSync),
    /// An account event.
    AccountUpdate(&'a AccountUpdateValue),
    /// A BSUID change.
    UserIdUpdate(&'a UserIdUpdate),
    /// A business username change.
    BusinessUsername(&'a BusinessUsernameValue),
    /// A value-level error.
    Error(&'a WebhookError),
    /// A whole change value (empty, unknown or malformed ones).
    Value(&'a ChangeValue),
}

/// One thing that happened, as found in a notification.
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Who it came from, for message-like events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The change's field name.
    pub field: Option<&'a str>,
    /// The WABA (for `PARTNER_*` account events, the customer's WABA from `waba_info`).
    pub waba_id: Option<&'a WabaId>,
    /// The business number's Graph id.
    pub phone_number_id: Option<&'a PhoneNumberId>,
    /// The item's id: the wamid of messages and statuses, the BSUID (or else phone number) of
    /// contact changes, the new BSUID of a user-id update.
    pub id: Option<&'a str>,
    /// The wamid acted on by an edit, revoke or reaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<&'a str>,
    /// The message type, status, account event, contact action or error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    /// When, in Unix seconds: the item's own timestamp, else the entry's `time`.
    pub timestamp: Option<i64>,
    /// JSON path of the item in the notification.
    pub path: String,
    /// The `contacts[]` entry describing the customer, when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<&'a Contact>,
    /// Why the change is malformed, or a value error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// The parts of the item (and of its envelope) this version does not understand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    /// The typed item.
    pub item: EventItem<'a>,
}

impl Event<'_> {
    /// The event as one line of JSON (no trailing newline), for `coex inspect`.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Flattens a notification into its events, in payload order.
pub fn events(n: &Notification) -> Vec<Event<'_>> {
    let mut out = Vec::new();
    let mut root = Vec::new();
    walk_extra(&n.extra, "", &mut root);
    for (i, entry) in n.entry.iter().enumerate() {
        let entry_path = format!("entry[{i}]");
        let mut entry_flags = root.clone();
        walk_extra(&entry.extra, &entry_path, &mut entry_flags);
        for (j, change) in entry.changes.iter().enumerate() {
            let change_path = format!("{entry_path}.changes[{j}]");
            let mut base = entry_flags.clone();
            walk_extra(&change.extra, &change_path, &mut base);
            let mut cx = Cx {
                entry,
                change,
                path: format!("{change_path}.value"),
                base,
            };
            let before = out.len();
            cx.emit(&mut out);
            if out.len() == before {
                out.push(cx.event(EventKind::Empty, EventItem::Value(&change.value), &cx.path));
            }
        }
    }
    out
}

/// What every event of one change shares.
struct Cx<'a> {
    entry: &'a Entry,
    change: &'a Change,
    /// Path of the change's value.
    path: String,
    /// Flags of the envelope around the items, given to each event of the change.
    base: Vec<Flag>,
}

impl<'a> Cx<'a> {
    fn event(&self, kind: EventKind, item: EventItem<'a>, path: &str) -> Event<'a> {
        Event {
            kind,
            origin: None,
            field: self.change.field_name(),
            waba_id: self.entry.id.as_ref(),
            phone_number_id: self.change.value.phone_number_id(),
            id: None,
            target_id: None,
            subtype: None,
            timestamp: self.entry.time_seconds(),
            path: path.to_owned(),
            contact: None,
            error: None,
            flags: self.base.clone(),
            item,
        }
    }

    /// Adds the flags of the value's shared parts (metadata, contacts, unknown keys) to
    /// `base`, so each item's event carries them.
    fn share(
        &mut self,
        extra: &super::wire::Extra,
        metadata: &Option<Metadata>,
        contacts: &Option<Vec<Contact>>,
    ) {
        walk_extra(extra, &self.path, &mut self.base);
        metadata.walk(&join(&self.path, "metadata"), &mut self.base);
        contacts.walk(&join(&self.path, "contacts"), &mut self.base);
    }

    fn emit(&mut self, out: &mut Vec<Event<'a>>) {
        match &self.change.value {
            ChangeValue::Messages(v) => {
                self.share(&v.extra, &v.metadata, &v.contacts);
                for (k, m) in v.messages.iter().flatten().enumerate() {
                    let path = format!("{}.messages[{k}]", self.path);
                    let kind = match m.kind {
                        Some(MessageType::Edit) => EventKind::Edit,
                        Some(MessageType::Revoke) => EventKind::Revoke,
                        _ => EventKind::InboundMessage,
                    };
                    let contact = match_contact(
                        v.contacts.as_ref(),
                        m.from_user_id.as_ref(),
                        m.from.as_ref(),
                    );
                    out.push(self.message(kind, Origin::Customer, m, &path, contact));
                }
                for (k, s) in v.statuses.iter().flatten().enumerate() {
                    let path = format!("{}.statuses[{k}]", self.path);
                    let mut e = self.event(EventKind::Status, EventItem::Status(s), &path);
                    e.id = Some(s.id.as_str());
                    e.subtype = Some(s.status.as_str().to_owned());
                    e.timestamp = s.timestamp_seconds().or(e.timestamp);
                    e.contact = match_contact(
                        v.contacts.as_ref(),
                        s.recipient_user_id.as_ref(),
                        s.recipient_id.as_ref(),
                    );
                    s.walk(&path, &mut e.flags);
                    out.push(e);
                }
                for (k, err) in v.errors.iter().flatten().enumerate() {
                    let path = format!("{}.errors[{k}]", self.path);
                    out.push(self.error_event(EventKind::ValueError, err, &path));
                }
            }
            ChangeValue::MessageEchoes(v) => {
                self.share(&v.extra, &v.metadata, &v.contacts);
                for (k, m) in v.message_echoes.iter().flatten().enumerate() {
                    let path = format!("{}.message_echoes[{k}]", self.path);
                    let kind = match m.kind {
                        Some(MessageType::Edit) => EventKind::Edit,
                        Some(MessageType::Revoke) => EventKind::Revoke,
                        _ => EventKind::Echo,
                    };
                    let contact =
                        match_contact(v.contacts.as_ref(), m.to_user_id.as_ref(), m.to.as_ref());
                    out.push(self.message(kind, Origin::BusinessApp, m, &path, contact));
                }
            }
            ChangeValue::History(v) => self.history(v, out),
            ChangeValue::AppStateSync(v) => {
                let contacts = None;
                self.share(&v.extra, &v.metadata, &contacts);
                for (k, s) in v.state_sync.iter().flatten().enumerate() {
                    let path = format!("{}.state_sync[{k}]", self.path);
                    let mut e =
                        self.event(EventKind::ContactChange, EventItem::StateSync(s), &path);
                    e.id = s.contact.as_ref().and_then(|c| {
                        c.user_id
                            .as_ref()
                            .map(Bsuid::as_str)
                            .or(c.phone_number.as_ref().map(WirePhone::as_str))
                    });
                    e.subtype = s.action.as_ref().map(|a| a.as_str().to_owned());
                    e.timestamp = s.timestamp_seconds().or(e.timestamp);
                    s.walk(&path, &mut e.flags);
                    out.push(e);
                }
            }
            ChangeValue::AccountUpdate(v) => {
                let mut e = self.event(
                    EventKind::AccountEvent,
                    EventItem::AccountUpdate(v),
                    &self.path,
                );
                if let Some(waba) = v.waba_info.as_ref().and_then(|w| w.waba_id.as_ref()) {
                    e.waba_id = Some(waba);
                }
                e.subtype = v.event.as_ref().map(|ev| ev.as_str().to_owned());
                v.walk(&self.path, &mut e.flags);
                out.push(e);
            }
            ChangeValue::UserIdUpdate(v) => {
                self.share(&v.extra, &v.metadata, &v.contacts);
                for (k, u) in v.user_id_update.iter().flatten().enumerate() {
                    let path = format!("{}.user_id_update[{k}]", self.path);
                    let mut e =
                        self.event(EventKind::UserIdUpdate, EventItem::UserIdUpdate(u), &path);
                    e.id = u
                        .user_id
                        .as_ref()
                        .and_then(|c| c.current.as_ref())
                        .map(Bsuid::as_str);
                    e.timestamp = u.timestamp_seconds().or(e.timestamp);
                    let previous = u.user_id.as_ref().and_then(|c| c.previous.as_ref());
                    e.contact = match_contact(v.contacts.as_ref(), previous, u.wa_id.as_ref());
                    u.walk(&path, &mut e.flags);
                    out.push(e);
                }
            }
            ChangeValue::BusinessUsernameUpdate(v) => {
                let mut e = self.event(
                    EventKind::BusinessUsernameUpdate,
                    EventItem::BusinessUsername(v),
                    &self.path,
                );
                e.subtype = v.status.as_ref().map(|s| s.as_str().to_owned());
                v.walk(&self.path, &mut e.flags);
                out.push(e);
            }
            value @ ChangeValue::Unknown { .. } => {
                let mut e = self.event(EventKind::Unknown, EventItem::Value(value), &self.path);
                value.walk(&self.path, &mut e.flags);
                out.push(e);
            }
            value @ ChangeValue::Malformed { error, .. } => {
                let mut e = self.event(EventKind::Malformed, EventItem::Value(value), &self.path);
                e.error = Some(error);
                out.push(e);
            }
            value @ ChangeValue::Missing => {
                let mut e = self.event(EventKind::Malformed, EventItem::Value(value), &self.path);
                e.error = Some("the change has no `value`");
                out.push(e);
            }
        }
    }

    fn history(&mut self, v: &'a HistoryValue, out: &mut Vec<Event<'a>>) {
        self.share(&v.extra, &v.metadata, &v.contacts);
        for (k, chunk) in v.history.iter().flatten().enumerate() {
            let path = format!("{}.history[{k}]", self.path);
            let declined = chunk.is_declined() && chunk.threads.as_ref().is_none_or(Vec::is_empty);
            let kind = if declined {
                EventKind::HistoryDeclined
            } else {
                EventKind::HistoryChunk
            };
            let mut e = self.event(kind, EventItem::HistoryChunk(chunk), &path);
            if let Some(first) = chunk.errors.iter().flatten().next() {
                e.subtype = first.code.map(|c| c.to_string());
                e.error = first.message.as_deref().or(first.title.as_deref());
            }
            chunk.walk(&path, &mut e.flags);
            out.push(e);
        }
        let business = v
            .metadata
            .as_ref()
            .and_then(|m| m.display_phone_number.as_ref());
        for (k, m) in v.messages.iter().flatten().enumerate() {
            let path = format!("{}.messages[{k}]", self.path);
            // Direction comes from `from`: the business number means the business sent it.
            let from_business = match (business, m.from.as_ref()) {
                (Some(b), Some(f)) => b.same_number(f),
                _ => false,
            };
            let (origin, contact) = if from_business {
                let c = match_contact(v.contacts.as_ref(), m.to_user_id.as_ref(), m.to.as_ref());
                (Origin::BusinessApp, c)
            } else {
                let c = match_contact(
                    v.contacts.as_ref(),
                    m.from_user_id.as_ref(),
                    m.from.as_ref(),
                );
                (Origin::Customer, c)
            };
            out.push(self.message(EventKind::HistoryMedia, origin, m, &path, contact));
        }
        for (k, m) in v.message_echoes.iter().flatten().enumerate() {
            let path = format!("{}.message_echoes[{k}]", self.path);
            let contact = match_contact(v.contacts.as_ref(), m.to_user_id.as_ref(), m.to.as_ref());
            out.push(self.message(
                EventKind::HistoryMedia,
                Origin::BusinessApp,
                m,
                &path,
                contact,
            ));
        }
    }

    fn message(
        &self,
        kind: EventKind,
        origin: Origin,
        m: &'a Message,
        path: &str,
        contact: Option<&'a Contact>,
    ) -> Event<'a> {
        let mut e = self.event(kind, EventItem::Message(m), path);
        e.origin = Some(origin);
        e.id = m.id.as_ref().map(|w| w.as_str());
        e.target_id = m.target_id().map(|w| w.as_str());
        e.subtype = m.kind.as_ref().map(|k| k.as_str().to_owned());
        e.timestamp = m.timestamp_seconds().or(e.timestamp);
        e.contact = contact;
        m.walk(path, &mut e.flags);
        e
    }

    fn error_event(&self, kind: EventKind, err: &'a WebhookError, path: &str) -> Event<'a> {
        let mut e = self.event(kind, EventItem::Error(err), path);
        e.subtype = err.code.map(|c| c.to_string());
        e.error = err.message.as_deref().or(err.title.as_deref());
        err.walk(path, &mut e.flags);
        e
    }
}

/// The `contacts[]` entry for a message's customer: by BSUID, then by phone number; the only
/// contact when the message names nobody.
fn match_contact<'a>(
    contacts: Option<&'a Vec<Contact>>,
    user_id: Option<&Bsuid>,
    phone: Option<&WirePhone>,
) -> Option<&'a Contact> {
    let contacts = contacts?;
    if let Some(u) = user_id
        && let Some(c) = contacts.iter().find(|c| c.user_id.as_ref() == Some(u))
    {
        return Some(c);
    }
    if let Some(p) = phone
        && let Some(c) = contacts
            .iter()
            .find(|c| c.wa_id.as_ref().is_some_and(|w| w.same_number(p)))
    {
        return Some(c);
    }
    match (user_id, phone, contacts.as_slice()) {
        (None, None, [only]) => Some(only),
        _ => None,
    }
}
