//! Customers' side: inbound messages of every type (each opens or refreshes the
//! customer-service window and uses up the number's throughput), reactions, button taps, edits
//! within 15 minutes, revokes within 2 days, going offline and back, and changing phone number
//! (a new BSUID, announced with `user_id_update` and a `user_changed_user_id` system message,
//! spec/cloud-api.md §10.3).

use std::time::Duration;

use serde_json::{Map, Value, json};

use coex_core::{PhoneNumber, PhoneNumberId, Wamid};

use crate::clock::SimTime;
use crate::wire::errors::MetaError;
use crate::wire::payloads;
use crate::world::actions::ActionError;
use crate::world::media::synthetic;
use crate::world::messages::{MessageRecord, Origin, StatusKind, compact};
use crate::world::model::{Customer, CustomerKey};
use crate::world::{Task, World};

/// How long after sending a customer may edit a message.
pub const EDIT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long after sending a message may be deleted for everyone.
pub const REVOKE_WINDOW: Duration = Duration::from_secs(2 * 86_400);

const MEDIA_KINDS: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

impl World {
    pub(crate) fn customer(&self, key: &CustomerKey) -> Result<&Customer, ActionError> {
        self.customers
            .get(key)
            .ok_or_else(|| ActionError::UnknownCustomer(key.to_string()))
    }

    /// A customer's message reaches `number`. Returns its id.
    pub fn customer_sends(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        number: &PhoneNumberId,
        mut content: Map<String, Value>,
        reply_to: Option<Wamid>,
    ) -> Result<Wamid, ActionError> {
        let customer = self.customer(key)?.clone();
        let kind = content
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("text")
            .to_owned();
        if MEDIA_KINDS.contains(&kind.as_str()) {
            self.attach_media(now, number, &kind, &mut content);
        }
        let wamid = self.ids.wamid(customer.phone.digits());
        self.record_customer_message(now, number, &customer, &wamid, &kind, &content);
        let mut message = Map::new();
        if let Some(ctx) = reply_to {
            let display = self.display_digits(number);
            message.insert("context".into(), json!({ "from": display, "id": ctx }));
        }
        message.insert("id".into(), json!(wamid));
        message.insert("timestamp".into(), json!(now.unix_secs_string()));
        if kind == "unsupported" {
            // 131060: the first message of a new contact, or from an unsupported companion.
            message.insert(
                "errors".into(),
                json!([MetaError::unsupported_inbound().webhook_object()]),
            );
            message.insert("type".into(), json!("unsupported"));
            message.insert("unsupported".into(), json!({ "type": "unknown" }));
        } else {
            for (k, v) in content {
                message.entry(k).or_insert(v);
            }
        }
        self.deliver_inbound(now, number, &customer, message, &format!("inbound {kind}"));
        Ok(wamid)
    }

    fn display_digits(&self, number: &PhoneNumberId) -> String {
        self.numbers
            .get(number)
            .map(|n| n.display.digits().to_owned())
            .unwrap_or_default()
    }

    /// Stores synthetic media for a customer's media message and fills `id`, `mime_type` and
    /// `sha256` as Meta does.
    fn attach_media(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        kind: &str,
        content: &mut Map<String, Value>,
    ) {
        let id = self.ids.media_id();
        let (mime, bytes) = synthetic(kind, id.as_str());
        let item = self
            .media
            .insert(id, number.clone(), mime, bytes, None, now);
        let (id, mime, sha) = (item.id.clone(), item.mime_type.clone(), item.sha256.clone());
        let entry = content.entry(kind.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(obj) = entry {
            obj.entry("mime_type").or_insert(json!(mime));
            obj.entry("sha256").or_insert(json!(sha));
            obj.entry("id").or_insert(json!(id));
            if kind == "audio" {
                obj.entry("voice").or_insert(json!(true));
            }
        }
    }

    /// Bookkeeping common to every message a customer sends: the record, the number's
    /// throughput (inbound counts, §5.1), the window (opened only by the customer, §3.2), and
    /// Meta's contact book (a phone-number message stores the phone–BSUID pair, §10.5).
    fn record_customer_message(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        customer: &Customer,
        wamid: &Wamid,
        kind: &str,
        content: &Map<String, Value>,
    ) {
        self.messages.insert(
            wamid.clone(),
            MessageRecord {
                seq: self.messages.len() as u64 + 1,
                wamid: wamid.clone(),
                origin: Origin::Customer,
                number: number.clone(),
                customer: Some(customer.key.clone()),
                at: now,
                kind: kind.to_owned(),
                status: StatusKind::Delivered,
                pricing: None,
                recipient_input: None,
                to_bsuid: false,
                biz_opaque_callback_data: None,
                version_major: 0,
                template_name: None,
                error: None,
                read_by_business: false,
                revoked: false,
                content: compact(content),
            },
        );
        let visible = self.phone_visible(number, customer, now);
        let onboarded = match self.numbers.get_mut(number) {
            Some(n) => {
                n.throughput.record(now);
                n.onboarded_at
            }
            None => return,
        };
        self.pair_mut(number, &customer.key)
            .window
            .customer_message(now, onboarded);
        if visible && customer.username.is_none() {
            let waba = self.numbers.get(number).map(|n| n.waba.clone());
            if let Some(w) = waba.and_then(|w| self.wabas.get_mut(&w))
                && w.contact_book_enabled
            {
                w.contact_book.insert(customer.key.clone());
            }
        }
    }

    /// Emits a `messages` change for a customer's message, unless the number is disconnected
    /// (the message then only reaches the phone app).
    fn deliver_inbound(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        customer: &Customer,
        message: Map<String, Value>,
        summary: &str,
    ) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        if !n.is_connected() {
            return;
        }
        let waba = n.waba.clone();
        let party = self.party(number, customer, now);
        let value = payloads::inbound(self.metadata(number), &party, message);
        self.emit(
            now,
            waba,
            Some(number.clone()),
            "messages",
            value,
            format!("{summary} from {}", customer.key),
        );
    }

    fn last_business_message(&self, number: &PhoneNumberId, key: &CustomerKey) -> Option<Wamid> {
        self.messages
            .values()
            .filter(|m| {
                m.number == *number
                    && m.customer.as_ref() == Some(key)
                    && m.origin != Origin::Customer
                    && m.kind != "reaction"
            })
            .max_by_key(|m| (m.at, m.seq))
            .map(|m| m.wamid.clone())
    }

    fn last_customer_message(&self, number: &PhoneNumberId, key: &CustomerKey) -> Option<Wamid> {
        self.messages
            .values()
            .filter(|m| {
                m.number == *number
                    && m.customer.as_ref() == Some(key)
                    && m.origin == Origin::Customer
                    && !matches!(m.kind.as_str(), "reaction" | "edit" | "revoke" | "system")
            })
            .max_by_key(|m| (m.at, m.seq))
            .map(|m| m.wamid.clone())
    }

    /// A reaction to a business message.
    pub fn customer_reacts(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
        emoji: &str,
    ) -> Result<Wamid, ActionError> {
        let target = message_id
            .or_else(|| self.last_business_message(number, key))
            .ok_or_else(|| ActionError::UnknownMessage("a business message to react to".into()))?;
        let mut content = Map::new();
        content.insert("type".into(), json!("reaction"));
        content.insert(
            "reaction".into(),
            json!({ "message_id": target, "emoji": emoji }),
        );
        self.customer_sends(now, key, number, content, None)
    }

    /// A tap on a template quick-reply button (`type: button`) or an interactive reply
    /// button (`type: interactive`), with `context` pointing at the business message.
    pub fn customer_taps_button(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
        title: &str,
        button_id: Option<String>,
    ) -> Result<Wamid, ActionError> {
        let target = message_id
            .or_else(|| self.last_business_message(number, key))
            .ok_or_else(|| ActionError::UnknownMessage("a business message with buttons".into()))?;
        let kind = self
            .messages
            .get(&target)
            .map(|m| m.kind.clone())
            .unwrap_or_default();
        let mut content = Map::new();
        if kind == "template" {
            content.insert("type".into(), json!("button"));
            content.insert(
                "button".into(),
                json!({ "payload": button_id.unwrap_or_else(|| title.to_owned()), "text": title }),
            );
        } else {
            content.insert("type".into(), json!("interactive"));
            content.insert(
                "interactive".into(),
                json!({ "type": "button_reply", "button_reply": {
                    "id": button_id.unwrap_or_else(|| title.to_ascii_lowercase().replace(' ', "-")),
                    "title": title } }),
            );
        }
        self.customer_sends(now, key, number, content, Some(target))
    }

    /// Edits one of the customer's messages (text), within 15 minutes of sending it.
    pub fn customer_edits(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
        text: &str,
    ) -> Result<Wamid, ActionError> {
        let target = message_id
            .or_else(|| self.last_customer_message(number, key))
            .ok_or_else(|| ActionError::UnknownMessage("a customer message to edit".into()))?;
        let sent = self
            .messages
            .get(&target)
            .filter(|m| m.origin == Origin::Customer)
            .ok_or_else(|| ActionError::UnknownMessage(target.to_string()))?
            .at;
        if now > sent + EDIT_WINDOW {
            return Err(ActionError::NotAllowed(
                "a message can only be edited within 15 minutes of sending".into(),
            ));
        }
        let mut content = Map::new();
        content.insert("type".into(), json!("edit"));
        content.insert(
            "edit".into(),
            json!({ "original_message_id": target,
                    "message": { "type": "text", "text": { "body": text } } }),
        );
        self.customer_sends(now, key, number, content, None)
    }

    /// Deletes one of the customer's messages for everyone, within 2 days.
    pub fn customer_revokes(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
    ) -> Result<Wamid, ActionError> {
        let target = message_id
            .or_else(|| self.last_customer_message(number, key))
            .ok_or_else(|| ActionError::UnknownMessage("a customer message to revoke".into()))?;
        let record = self
            .messages
            .get_mut(&target)
            .filter(|m| m.origin == Origin::Customer)
            .ok_or_else(|| ActionError::UnknownMessage(target.to_string()))?;
        if now > record.at + REVOKE_WINDOW {
            return Err(ActionError::NotAllowed(
                "a message can only be deleted for everyone within 2 days of sending".into(),
            ));
        }
        record.revoked = true;
        let mut content = Map::new();
        content.insert("type".into(), json!("revoke"));
        content.insert("revoke".into(), json!({ "original_message_id": target }));
        self.customer_sends(now, key, number, content, None)
    }

    /// A customer's phone goes offline or comes back; coming back delivers what waited.
    pub fn customer_online(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        online: bool,
    ) -> Result<(), ActionError> {
        let customer = self
            .customers
            .get_mut(key)
            .ok_or_else(|| ActionError::UnknownCustomer(key.to_string()))?;
        customer.online = online;
        let deliver_after = customer.deliver_after;
        if !online {
            return Ok(());
        }
        let waiting: Vec<Wamid> = self
            .pairs
            .iter_mut()
            .filter(|((_, c), _)| c == key)
            .flat_map(|(_, p)| std::mem::take(&mut p.undelivered))
            .collect();
        for (i, wamid) in waiting.into_iter().enumerate() {
            let at =
                now + deliver_after + Duration::from_millis(u64::try_from(i).unwrap_or(0) * 50);
            self.schedule(
                at,
                Task::Status {
                    wamid,
                    status: StatusKind::Delivered,
                },
            );
        }
        Ok(())
    }

    /// The customer moves to a new phone number: Meta gives them a new BSUID and tells every
    /// business number they talk to.
    pub fn customer_changes_number(
        &mut self,
        now: SimTime,
        key: &CustomerKey,
        new_phone: &str,
    ) -> Result<String, ActionError> {
        let phone =
            PhoneNumber::parse(new_phone).map_err(|e| ActionError::BadMessage(e.to_string()))?;
        let country = self.customer(key)?.bsuid.country().to_owned();
        let new_bsuid = self.ids.bsuid(&country);
        let customer = self
            .customers
            .get_mut(key)
            .ok_or_else(|| ActionError::UnknownCustomer(key.to_string()))?;
        let previous = std::mem::replace(&mut customer.bsuid, new_bsuid.clone());
        customer.previous_bsuids.push(previous.clone());
        let old_phone = std::mem::replace(&mut customer.phone, phone.clone());
        let customer = customer.clone();
        // The old number and the old BSUID no longer reach this person.
        self.phone_index.remove(&old_phone);
        self.phone_index.insert(phone, key.clone());
        self.bsuid_index.remove(&previous);
        self.bsuid_index.insert(new_bsuid.clone(), key.clone());
        let numbers: Vec<PhoneNumberId> = self
            .pairs
            .keys()
            .filter(|(_, c)| c == key)
            .map(|(n, _)| n.clone())
            .collect();
        for number in numbers {
            let Some(n) = self.numbers.get(&number) else {
                continue;
            };
            if !n.is_connected() {
                continue;
            }
            let waba = n.waba.clone();
            let party = self.party(&number, &customer, now);
            let ts = now.unix_secs_string();
            let value = payloads::user_id_update(
                self.metadata(&number),
                &party,
                previous.as_str(),
                new_bsuid.as_str(),
                &ts,
            );
            self.emit(
                now,
                waba.clone(),
                Some(number.clone()),
                "user_id_update",
                value,
                format!("user_id_update for {key}"),
            );
            let wamid = self.ids.wamid(customer.phone.digits());
            let value = payloads::system_user_changed_user_id(
                self.metadata(&number),
                &party,
                wamid.as_str(),
                previous.as_str(),
                new_bsuid.as_str(),
                &ts,
            );
            self.emit(
                now,
                waba,
                Some(number.clone()),
                "messages",
                value,
                format!("system user_changed_user_id for {key}"),
            );
        }
        Ok(new_bsuid.as_str().to_owned())
    }
}
