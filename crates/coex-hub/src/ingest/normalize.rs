//! From Meta's wire to the domain: a verified [`Notification`] becomes the list of
//! [`Ingest`] events the store applies.
//!
//! The rules of spec/cloud-api.md live here, once: who the customer is (BSUID first, phone
//! second, from the item or its `contacts[]`), which direction a history message went (its
//! `from` is the business number, or it has a `to`), that echoes and edits from the app are the
//! business's, and that a change we cannot read is kept as a [`ChangeError`] with its raw JSON
//! instead of failing the rest of the batch.

use coex_core::{
    Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid,
    model::{
        AccountEvent, AccountEventKind, Author, ChangeError, ContactRemoval, ContactSync,
        CustomerKey, CustomerRef, Direction, EchoMessage, HistoryChunk, HistoryDeclined,
        HistoryMedia, HistoryMessage, InboundMessage, Ingest, MediaRef, MessageContent,
        MessageEdit, MessageKind, MessageRevoke, MessageStatus, MetaError, Pricing, RawJson,
        StatusUpdate, Timestamp, UserIdChange,
    },
};
use coex_meta::webhook::{
    AccountUpdateValue, ChangeValue, Contact, Content, EchoesValue, HistoryValue, Message,
    MessagesValue, Metadata, Notification, StateSyncAction, StateSyncValue, Status,
    UserIdUpdateValue, WebhookError, WirePhone,
};
use serde::Serialize;

/// Turns every change of `n` into domain events. `received_at` stands in for a missing
/// timestamp. Never fails: what cannot be read becomes a [`ChangeError`].
pub fn normalize(n: &Notification, received_at: Timestamp) -> Vec<Ingest> {
    let mut out = Vec::new();
    for entry in &n.entry {
        let entry_time = entry.time_seconds().map(Timestamp::from_secs);
        for change in &entry.changes {
            let mut cx = Cx {
                waba: entry.id.as_ref(),
                field: change.field_name(),
                fallback_time: entry_time.unwrap_or(received_at),
                out: &mut out,
            };
            match &change.value {
                ChangeValue::Messages(v) => cx.messages(v),
                ChangeValue::MessageEchoes(v) => cx.echoes(v),
                ChangeValue::History(v) => cx.history(v),
                ChangeValue::AppStateSync(v) => cx.state_sync(v),
                ChangeValue::AccountUpdate(v) => cx.account(v, entry_time),
                ChangeValue::UserIdUpdate(v) => cx.user_id_update(v),
                // Business usernames are the business's own profile: nothing to store yet.
                ChangeValue::BusinessUsernameUpdate(_) => {}
                ChangeValue::Unknown { field, raw } => cx.error(
                    None,
                    format!(
                        "field {:?} is not handled by this version; the body is archived",
                        field.as_deref().unwrap_or("")
                    ),
                    raw,
                ),
                ChangeValue::Malformed { error, raw, .. } => cx.error(None, error.clone(), raw),
                ChangeValue::Missing => cx.error(None, "the change has no value".into(), &()),
            }
        }
    }
    out
}

/// Where a change sits, and where its events go.
struct Cx<'a> {
    waba: Option<&'a WabaId>,
    field: Option<&'a str>,
    fallback_time: Timestamp,
    out: &'a mut Vec<Ingest>,
}

impl Cx<'_> {
    fn error(&mut self, number: Option<&PhoneNumberId>, error: String, raw: &impl Serialize) {
        self.out.push(Ingest::ChangeError(ChangeError {
            waba: self.waba.cloned(),
            number: number.cloned(),
            field: self.field.map(str::to_owned),
            error,
            raw: raw_json(raw),
        }));
    }

    fn time(&self, seconds: Option<i64>) -> Timestamp {
        seconds.map_or(self.fallback_time, Timestamp::from_secs)
    }

    /// The business number a phone-number-scoped value is about.
    fn number<'m>(
        &mut self,
        meta: Option<&'m Metadata>,
        raw: &impl Serialize,
    ) -> Option<&'m PhoneNumberId> {
        let id = meta.and_then(|m| m.phone_number_id.as_ref());
        if id.is_none() {
            self.error(None, "metadata.phone_number_id is missing".into(), raw);
        }
        id
    }

    fn messages(&mut self, v: &MessagesValue) {
        let Some(number) = self.number(v.metadata.as_ref(), v) else {
            return;
        };
        let contacts = v.contacts.as_deref().unwrap_or_default();
        for m in v.messages.iter().flatten() {
            let Some(wamid) = m.id.clone() else {
                self.error(Some(number), "a message has no id".into(), m);
                continue;
            };
            let Some(customer) = customer_ref(
                m.from_user_id.as_ref(),
                m.from_parent_user_id.as_ref(),
                m.from.as_ref(),
                contacts,
            ) else {
                self.error(Some(number), format!("message {wamid} names no sender"), m);
                continue;
            };
            let timestamp = self.time(m.timestamp_seconds());
            if self.patch(number, &wamid, m, Author::Customer, timestamp) {
                continue;
            }
            self.out.push(Ingest::InboundMessage(InboundMessage {
                number: number.clone(),
                wamid,
                customer,
                timestamp,
                content: content(m),
                error: first_error(m.errors.as_deref()),
            }));
        }
        for s in v.statuses.iter().flatten() {
            self.out.push(Ingest::Status(status(
                number,
                s,
                contacts,
                self.time(s.timestamp_seconds()),
            )));
        }
        if let Some(errors) = v.errors.as_deref().filter(|e| !e.is_empty()) {
            let first = first_error(Some(errors));
            let what = first.map_or_else(String::new, |e| format!(" {}: {}", e.code, e.title));
            self.error(
                Some(number),
                format!("Meta reported an error for this number{what}"),
                &errors,
            );
        }
    }

    fn echoes(&mut self, v: &EchoesValue) {
        let Some(number) = self.number(v.metadata.as_ref(), v) else {
            return;
        };
        let contacts = v.contacts.as_deref().unwrap_or_default();
        for m in v.message_echoes.iter().flatten() {
            let Some(wamid) = m.id.clone() else {
                self.error(Some(number), "an echo has no id".into(), m);
                continue;
            };
            let timestamp = self.time(m.timestamp_seconds());
            if self.patch(number, &wamid, m, Author::BusinessApp, timestamp) {
                continue;
            }
            let Some(customer) = customer_ref(
                m.to_user_id.as_ref(),
                m.to_parent_user_id.as_ref(),
                m.to.as_ref(),
                contacts,
            ) else {
                self.error(Some(number), format!("echo {wamid} names no recipient"), m);
                continue;
            };
            self.out.push(Ingest::Echo(EchoMessage {
                number: number.clone(),
                wamid,
                customer,
                timestamp,
                content: content(m),
            }));
        }
    }

    /// Turns an edit or a revoke (by the customer, or by the business in an echo) into its
    /// event. Returns false when `m` is neither, so the caller stores it as a message.
    fn patch(
        &mut self,
        number: &PhoneNumberId,
        wamid: &Wamid,
        m: &Message,
        author: Author,
        timestamp: Timestamp,
    ) -> bool {
        let who = match author {
            Author::Customer => "edit",
            Author::BusinessApp => "echo edit",
        };
        match m.content() {
            Content::Edit(edit) => match (&edit.original_message_id, &edit.message) {
                (Some(original), Some(inner)) => self.out.push(Ingest::Edit(MessageEdit {
                    number: number.clone(),
                    wamid: wamid.clone(),
                    original: original.clone(),
                    author,
                    timestamp,
                    content: content(inner),
                })),
                _ => self.error(
                    Some(number),
                    format!("{who} {wamid} lacks its original or new content"),
                    m,
                ),
            },
            Content::Revoke(revoke) => match &revoke.original_message_id {
                Some(original) => self.out.push(Ingest::Revoke(MessageRevoke {
                    number: number.clone(),
                    wamid: wamid.clone(),
                    original: original.clone(),
                    author,
                    timestamp,
                })),
                None => self.error(Some(number), format!("revoke {wamid} names no original"), m),
            },
            _ => return false,
        }
        true
    }

    fn history(&mut self, v: &HistoryValue) {
        let Some(number) = self.number(v.metadata.as_ref(), v) else {
            return;
        };
        let business = v
            .metadata
            .as_ref()
            .and_then(|m| m.display_phone_number.as_ref());
        for chunk in v.history.iter().flatten() {
            if chunk.is_declined() {
                let error = first_error(chunk.errors.as_deref()).unwrap_or(MetaError {
                    code: coex_meta::webhook::HISTORY_DECLINED_CODE,
                    title: "History sync is turned off by the business".into(),
                    details: None,
                });
                self.out.push(Ingest::HistoryDeclined(HistoryDeclined {
                    number: number.clone(),
                    error,
                }));
                continue;
            }
            let meta = chunk.metadata.as_ref();
            let mut messages = Vec::with_capacity(chunk.message_count());
            for thread in chunk.threads.iter().flatten() {
                let ctx = thread.context.as_ref();
                let thread_phone = thread
                    .id
                    .as_ref()
                    .or_else(|| ctx.and_then(|c| c.wa_id.as_ref()))
                    .and_then(|p| p.parse().ok());
                let thread_key =
                    CustomerKey::new(ctx.and_then(|c| c.user_id.clone()), thread_phone);
                let Some(key) = thread_key else {
                    self.error(
                        Some(number),
                        "a history thread names no customer".into(),
                        thread,
                    );
                    continue;
                };
                let customer = CustomerRef {
                    key,
                    parent_bsuid: ctx.and_then(|c| c.parent_user_id.clone()),
                    profile_name: None,
                    username: ctx.and_then(|c| c.username.clone()),
                };
                for m in thread.messages.iter().flatten() {
                    let Some(wamid) = m.id.clone() else {
                        self.error(Some(number), "a history message has no id".into(), m);
                        continue;
                    };
                    let from_business = match (&m.from, business) {
                        (Some(from), Some(biz)) => from.same_number(biz),
                        _ => false,
                    };
                    let direction = if from_business || m.to.is_some() || m.to_user_id.is_some() {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    };
                    messages.push(HistoryMessage {
                        wamid,
                        customer: customer.clone(),
                        direction,
                        timestamp: self.time(m.timestamp_seconds()),
                        content: content(m),
                        status: m
                            .history_context
                            .as_ref()
                            .and_then(|h| h.status.as_ref())
                            .and_then(|s| MessageStatus::from_meta(s.as_str())),
                    });
                }
            }
            let clamp = |v: Option<i64>, max: i64| v.unwrap_or(0).clamp(0, max);
            self.out.push(Ingest::HistoryChunk(HistoryChunk {
                number: number.clone(),
                phase: clamp(meta.and_then(|m| m.phase()), 2) as u8,
                chunk_order: clamp(meta.and_then(|m| m.chunk_order()), i64::from(u32::MAX)) as u32,
                progress: clamp(meta.and_then(|m| m.progress()), 100) as u8,
                messages,
            }));
        }
        // The media follow-up: `messages[]` (from the user) and `message_echoes[]` (from the
        // business), each with the placeholder's wamid.
        for m in v
            .messages
            .iter()
            .flatten()
            .chain(v.message_echoes.iter().flatten())
        {
            let Some(wamid) = m.id.clone() else {
                self.error(Some(number), "a history media message has no id".into(), m);
                continue;
            };
            self.out.push(Ingest::HistoryMedia(HistoryMedia {
                number: number.clone(),
                wamid,
                timestamp: self.time(m.timestamp_seconds()),
                content: content(m),
            }));
        }
    }

    fn state_sync(&mut self, v: &StateSyncValue) {
        let Some(number) = self.number(v.metadata.as_ref(), v) else {
            return;
        };
        for item in v.state_sync.iter().flatten() {
            let Some(c) = &item.contact else {
                self.error(
                    Some(number),
                    "a state_sync item has no contact".into(),
                    item,
                );
                continue;
            };
            let phone = c.phone_number.as_ref().and_then(|p| p.parse().ok());
            let Some(key) = CustomerKey::new(c.user_id.clone(), phone) else {
                self.error(
                    Some(number),
                    "a synced contact has neither user_id nor a valid phone number".into(),
                    item,
                );
                continue;
            };
            let timestamp = self.time(item.timestamp_seconds());
            match item.action.as_ref() {
                Some(StateSyncAction::Remove) => {
                    self.out.push(Ingest::ContactRemove(ContactRemoval {
                        number: number.clone(),
                        key,
                        timestamp,
                    }))
                }
                Some(StateSyncAction::Add) => self.out.push(Ingest::ContactUpsert(ContactSync {
                    number: number.clone(),
                    customer: CustomerRef {
                        key,
                        parent_bsuid: c.parent_user_id.clone(),
                        profile_name: None,
                        username: c.username.clone(),
                    },
                    full_name: c.full_name.clone(),
                    first_name: c.first_name.clone(),
                    timestamp,
                })),
                other => self.error(
                    Some(number),
                    format!("unknown state_sync action {:?}", other.map(|a| a.as_str())),
                    item,
                ),
            }
        }
    }

    fn account(&mut self, v: &AccountUpdateValue, entry_time: Option<Timestamp>) {
        let waba = v
            .waba_info
            .as_ref()
            .and_then(|w| w.waba_id.as_ref())
            .or(self.waba);
        let (Some(waba), Some(event)) = (waba, v.event.as_ref()) else {
            self.error(None, "account_update names no WABA or no event".into(), v);
            return;
        };
        let reason = v
            .disconnection_info
            .as_ref()
            .and_then(|d| d.reason.as_ref().map(|r| r.as_str().to_owned()))
            .or_else(|| {
                v.ban_info
                    .as_ref()
                    .and_then(|b| b.waba_ban_state.as_ref().map(|s| s.as_str().to_owned()))
            })
            .or_else(|| {
                v.violation_info
                    .as_ref()
                    .and_then(|i| i.violation_type.clone())
            })
            .or_else(|| {
                v.restriction_info
                    .as_ref()
                    .and_then(|r| r.first())
                    .and_then(|r| r.restriction_type.clone())
            });
        self.out.push(Ingest::AccountEvent(AccountEvent {
            waba: waba.clone(),
            phone: v.phone_number.as_ref().and_then(|p| p.parse().ok()),
            kind: AccountEventKind::from_meta(event.as_str()),
            reason,
            timestamp: entry_time.unwrap_or(self.fallback_time),
            detail: Some(raw_json(v)),
        }));
    }

    fn user_id_update(&mut self, v: &UserIdUpdateValue) {
        let Some(number) = self.number(v.metadata.as_ref(), v) else {
            return;
        };
        let contacts = v.contacts.as_deref().unwrap_or_default();
        for u in v.user_id_update.iter().flatten() {
            let ids = u.user_id.as_ref();
            let (Some(previous), Some(current)) = (
                ids.and_then(|i| i.previous.clone()),
                ids.and_then(|i| i.current.clone()),
            ) else {
                self.error(
                    Some(number),
                    "user_id_update lacks previous or current".into(),
                    u,
                );
                continue;
            };
            let phone: Option<PhoneNumber> = u.wa_id.as_ref().and_then(|p| p.parse().ok());
            let profile_name = contacts
                .iter()
                .find(|c| matches!((&c.wa_id, &u.wa_id), (Some(a), Some(b)) if a.same_number(b)))
                .or(contacts.first())
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone());
            self.out.push(Ingest::UserIdChanged(UserIdChange {
                number: number.clone(),
                previous,
                current,
                phone,
                profile_name,
                timestamp: self.time(u.timestamp.as_ref().and_then(|t| t.seconds())),
            }));
        }
    }
}

/// Who a message or status is about: the item's own ids first, then the matching
/// `contacts[]` entry (or the only one), which also gives the display data.
fn customer_ref(
    user_id: Option<&Bsuid>,
    parent: Option<&Bsuid>,
    phone: Option<&WirePhone>,
    contacts: &[Contact],
) -> Option<CustomerRef> {
    let contact = contacts
        .iter()
        .find(|c| {
            matches!((&c.user_id, user_id), (Some(a), Some(b)) if a == b)
                || matches!((&c.wa_id, phone), (Some(a), Some(b)) if a.same_number(b))
        })
        .or_else(|| (contacts.len() == 1).then(|| &contacts[0]));
    let bsuid = user_id
        .cloned()
        .or_else(|| contact.and_then(|c| c.user_id.clone()));
    let phone = phone
        .or_else(|| contact.and_then(|c| c.wa_id.as_ref()))
        .and_then(|p| p.parse().ok());
    let key = CustomerKey::new(bsuid, phone)?;
    let profile = contact.and_then(|c| c.profile.as_ref());
    Some(CustomerRef {
        key,
        parent_bsuid: parent
            .cloned()
            .or_else(|| contact.and_then(|c| c.parent_user_id.clone())),
        profile_name: profile.and_then(|p| p.name.clone()),
        username: profile.and_then(|p| p.username.clone()),
    })
}

fn status(
    number: &PhoneNumberId,
    s: &Status,
    contacts: &[Contact],
    timestamp: Timestamp,
) -> StatusUpdate {
    let pricing = s.pricing.as_ref().map(|p| Pricing {
        billable: p.billable,
        model: p.pricing_model.as_ref().map(|m| m.as_str().to_owned()),
        kind: p.kind.as_ref().map(|k| k.as_str().to_owned()),
        category: p.category.as_ref().map(|c| c.as_str().to_owned()),
    });
    StatusUpdate {
        number: number.clone(),
        wamid: s.id.clone(),
        status: MessageStatus::from_meta(s.status.as_str()).unwrap_or(MessageStatus::Sent),
        timestamp,
        recipient: customer_ref(
            s.recipient_user_id.as_ref(),
            s.recipient_parent(),
            s.recipient_id.as_ref(),
            contacts,
        ),
        error: first_error(s.errors.as_deref()),
        pricing,
    }
}

fn first_error(errors: Option<&[WebhookError]>) -> Option<MetaError> {
    let e = errors?.first()?;
    Some(MetaError {
        code: e.code.unwrap_or(0),
        title: e
            .title
            .clone()
            .or_else(|| e.message.clone())
            .unwrap_or_default(),
        details: e.error_data.as_ref().and_then(|d| d.details.clone()),
    })
}

/// What a message says, in the store's terms: text or caption as the body, the media
/// reference, what it replies to, and the type's own object kept as raw JSON.
fn content(m: &Message) -> MessageContent {
    let kind = m
        .kind
        .as_ref()
        .map_or(MessageKind::Other(String::new()), |k| {
            MessageKind::from_meta(k.as_str())
        });
    let media = m.media().map(|md| MediaRef {
        id: md.id.clone(),
        mime_type: md.mime_type.clone(),
        sha256: md.sha256.clone(),
        filename: md.filename.clone(),
    });
    let (body, payload) = match m.content() {
        Content::Text(t) => (t.body.clone(), None),
        Content::Image(md) | Content::Video(md) | Content::Document(md) => {
            (md.caption.clone(), None)
        }
        Content::Audio(_) | Content::Sticker(_) => (None, None),
        Content::Location(l) => (l.name.clone(), Some(raw_json(l))),
        Content::Contacts(c) => (None, Some(raw_json(&c))),
        Content::Interactive(i) => {
            let title = i
                .button_reply
                .as_ref()
                .or(i.list_reply.as_ref())
                .and_then(|r| r.title.clone())
                .or_else(|| i.nfm_reply.as_ref().and_then(|n| n.body.clone()));
            (title, Some(raw_json(i)))
        }
        Content::Button(b) => (b.text.clone(), Some(raw_json(b))),
        Content::Reaction(r) => (r.emoji.clone(), Some(raw_json(r))),
        Content::Order(o) => (o.text.clone(), Some(raw_json(o))),
        Content::System(s) => (s.body.clone(), Some(raw_json(s))),
        Content::Template(t) => (None, Some(raw_json(t))),
        Content::Unsupported(u) => (None, u.map(raw_json)),
        Content::Unknown { raw, .. } => (None, raw.map(raw_json)),
        Content::Edit(_)
        | Content::Revoke(_)
        | Content::RequestWelcome
        | Content::MediaPlaceholder
        | Content::Missing
        | Content::Untyped => (None, None),
    };
    MessageContent {
        kind,
        body,
        media,
        reply_to: m.context.as_ref().and_then(|c| c.id.clone()),
        payload,
    }
}

fn raw_json(v: &impl Serialize) -> RawJson {
    // Serialising our own wire types cannot fail (string keys, no non-finite floats).
    RawJson::new(
        serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"unserialisable\":\"{e}\"}}")),
    )
}

/// The wamid of a [`Wamid`]-carrying event, for logs.
pub fn event_wamid(e: &Ingest) -> Option<&Wamid> {
    match e {
        Ingest::InboundMessage(m) => Some(&m.wamid),
        Ingest::Echo(m) => Some(&m.wamid),
        Ingest::Edit(m) => Some(&m.wamid),
        Ingest::Revoke(m) => Some(&m.wamid),
        Ingest::Status(m) => Some(&m.wamid),
        Ingest::HistoryMedia(m) => Some(&m.wamid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_meta::webhook::parse_notification;

    /// coex-meta's webhook fixtures, found through the run-time `CARGO_MANIFEST_DIR` (a test
    /// binary reused from another clone of a shared target directory must not look there).
    fn fixtures_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../coex-meta/tests/fixtures/webhooks")
    }

    fn fixture(name: &str) -> Vec<Ingest> {
        let path = fixtures_dir().join(name);
        let body = std::fs::read(&path).unwrap();
        normalize(
            &parse_notification(&body).unwrap(),
            Timestamp::from_secs(42),
        )
    }

    fn one(name: &str) -> Ingest {
        let mut events = fixture(name);
        assert_eq!(events.len(), 1, "{name}: {events:#?}");
        events.remove(0)
    }

    #[test]
    fn inbound_text_by_phone() {
        let Ingest::InboundMessage(m) = one("spec_1_1_inbound_text.json") else {
            panic!()
        };
        assert_eq!(m.number.as_str(), "106540352242922");
        assert_eq!(m.customer.key.phone().unwrap().digits(), "16505551234");
        assert_eq!(m.customer.profile_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(
            m.content.body.as_deref(),
            Some("Does it come in another color?")
        );
        assert_eq!(m.timestamp, Timestamp::from_secs(1749416383));
    }

    #[test]
    fn inbound_text_by_bsuid_only() {
        let Ingest::InboundMessage(m) = one("spec_10_3_inbound_text_bsuid.json") else {
            panic!()
        };
        assert_eq!(
            m.customer.key.bsuid().unwrap().as_str(),
            "US.13491208655302741918"
        );
        assert!(m.customer.key.phone().is_none());
        assert_eq!(m.customer.username.as_deref(), Some("@realsheenanelson"));
        assert!(m.customer.parent_bsuid.is_some());
    }

    #[test]
    fn echoes_and_app_edits_are_the_business() {
        let Ingest::Echo(e) = one("spec_2_2_echo_text.json") else {
            panic!()
        };
        assert_eq!(e.customer.key.phone().unwrap().digits(), "16505551234");
        let Ingest::Edit(edit) = one("echo_edit.json") else {
            panic!()
        };
        assert_eq!(edit.author, Author::BusinessApp);
        let Ingest::Revoke(r) = one("echo_revoke.json") else {
            panic!()
        };
        assert_eq!(r.author, Author::BusinessApp);
        let Ingest::Edit(edit) = one("spec_1_1_user_edit.json") else {
            panic!()
        };
        assert_eq!(edit.author, Author::Customer);
        assert_eq!(edit.content.body.as_deref(), Some("Updated image caption"));
        let Ingest::Echo(e) = one("spec_10_3_echo_username.json") else {
            panic!()
        };
        assert!(e.customer.key.phone().is_none());
    }

    #[test]
    fn history_direction_placeholders_and_decline() {
        let Ingest::HistoryChunk(c) = one("spec_2_3_history_approved.json") else {
            panic!()
        };
        assert_eq!((c.phase, c.chunk_order, c.progress), (0, 1, 55));
        assert_eq!(c.messages.len(), 4);
        assert_eq!(c.messages[0].direction, Direction::Outbound);
        assert_eq!(c.messages[1].content.kind, MessageKind::MediaPlaceholder);
        assert_eq!(c.messages[2].direction, Direction::Inbound);
        assert_eq!(c.messages[0].timestamp, Timestamp::from_secs(1739230955));
        assert_eq!(c.messages[0].status, Some(MessageStatus::Read));
        let Ingest::HistoryDeclined(d) = one("spec_2_3_history_declined.json") else {
            panic!()
        };
        assert_eq!(d.error.code, 2_593_109);
        let Ingest::HistoryMedia(m) = one("spec_2_3_history_media_followup.json") else {
            panic!()
        };
        assert!(m.content.media.is_some());
    }

    #[test]
    fn contacts_account_and_user_id_changes() {
        let Ingest::ContactUpsert(c) = one("spec_2_4_state_sync_add.json") else {
            panic!()
        };
        assert_eq!(c.full_name.as_deref(), Some("Pablo Morales"));
        let removes = fixture("state_sync_remove_multi.json");
        assert!(
            removes
                .iter()
                .any(|e| matches!(e, Ingest::ContactRemove(_))),
            "{removes:#?}"
        );
        let Ingest::AccountEvent(a) = one("spec_2_5_partner_removed.json") else {
            panic!()
        };
        assert_eq!(a.kind, AccountEventKind::PartnerRemoved);
        assert_eq!(a.reason.as_deref(), Some("PRIMARY_INACTIVITY"));
        assert_eq!(a.timestamp, Timestamp::from_secs(1739212624));
        assert_eq!(a.phone.unwrap().digits(), "15550783881");
        let Ingest::UserIdChanged(u) = one("spec_10_3_user_id_update.json") else {
            panic!()
        };
        assert_eq!(u.previous.as_str(), "US.13491208655302741918");
        assert_eq!(u.current.as_str(), "US.20571936648120033617");
    }

    #[test]
    fn statuses_carry_errors_pricing_and_recipient() {
        let Ingest::Status(s) = one("spec_3_3_status_failed.json") else {
            panic!()
        };
        assert_eq!(s.status, MessageStatus::Failed);
        assert_eq!(s.error.unwrap().code, 131049);
        let Ingest::Status(s) = one("spec_10_3_status_delivered_bsuid.json") else {
            panic!()
        };
        assert_eq!(s.status, MessageStatus::Delivered);
        assert_eq!(s.pricing.unwrap().category.as_deref(), Some("marketing"));
        assert!(s.recipient.unwrap().key.bsuid().is_some());
    }

    #[test]
    fn a_bad_change_is_kept_and_the_rest_applied() {
        let events = fixture("batch_one_malformed.json");
        assert!(
            events.iter().any(|e| matches!(e, Ingest::ChangeError(_))),
            "{events:#?}"
        );
        assert!(
            events.iter().any(|e| !matches!(e, Ingest::ChangeError(_))),
            "{events:#?}"
        );
    }

    #[test]
    fn every_fixture_normalizes_without_panicking() {
        let dir = fixtures_dir();
        for entry in std::fs::read_dir(dir).unwrap() {
            let body = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(n) = parse_notification(&body) {
                let _ = normalize(&n, Timestamp::from_secs(0));
            }
        }
    }
}
