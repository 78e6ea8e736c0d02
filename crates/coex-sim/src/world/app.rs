//! The business phone app of a coexistence number (spec/coexistence.md §2-§3,
//! spec/cloud-api.md §2.2, §2.5, §6.2):
//!
//! - messages the owner sends become `smb_message_echoes` (never opening the customer-service
//!   window, and free); edits within 15 minutes and revokes within 2 days are echoed too;
//! - a phone without connection holds its sends back and delivers them as a burst of echoes
//!   when it returns (some twice, on request);
//! - an unsupported companion (WhatsApp for Windows, Wear OS) sends without any echo;
//! - contacts added, edited or removed become `smb_app_state_sync` webhooks;
//! - not opening the app for 14 days gets the number disconnected (`PARTNER_REMOVED`,
//!   `PRIMARY_INACTIVITY`); the owner can disconnect it; uninstalling severs the link;
//!   reconnecting (or onboarding again) brings it back with `ACCOUNT_RECONNECTED`.

use serde_json::{Map, Value, json};

use coex_core::{PhoneNumber, PhoneNumberId, Wamid};

use crate::clock::SimTime;
use crate::rules::inactivity;
use crate::wire::payloads;
use crate::world::actions::ActionError;
use crate::world::customers::{EDIT_WINDOW, REVOKE_WINDOW};
use crate::world::media::synthetic;
use crate::world::messages::{MessageRecord, Origin, StatusKind, compact};
use crate::world::model::{AppContact, Backlogged, BusinessApp, CustomerKey, Disconnection};
use crate::world::{Task, World};

/// Companion clients Meta does not support for coexistence: they send without echoes.
pub const UNSUPPORTED_COMPANIONS: [&str; 2] = ["windows", "wearos"];

const MEDIA_KINDS: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

impl World {
    fn app_mut(&mut self, number: &PhoneNumberId) -> Result<&mut BusinessApp, ActionError> {
        let n = self
            .numbers
            .get_mut(number)
            .ok_or_else(|| ActionError::UnknownNumber(number.to_string()))?;
        let app = n
            .app
            .as_mut()
            .ok_or_else(|| ActionError::NoApp(number.to_string()))?;
        if !app.installed {
            return Err(ActionError::AppUninstalled(number.to_string()));
        }
        Ok(app)
    }

    /// The owner sends a message from the phone app.
    pub fn app_sends(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        key: &CustomerKey,
        mut content: Map<String, Value>,
        companion: Option<&str>,
    ) -> Result<Wamid, ActionError> {
        let customer = self.customer(key)?.clone();
        let online = self.app_mut(number)?.online;
        let kind = content
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("text")
            .to_owned();
        if MEDIA_KINDS.contains(&kind.as_str()) {
            let id = self.ids.media_id();
            let (mime, bytes) = synthetic(&kind, id.as_str());
            let item = self
                .media
                .insert(id, number.clone(), mime, bytes, None, now);
            let (id, mime, sha) = (item.id.clone(), item.mime_type.clone(), item.sha256.clone());
            if let Some(Value::Object(obj)) = content.get_mut(&kind) {
                obj.entry("mime_type").or_insert(json!(mime));
                obj.entry("sha256").or_insert(json!(sha));
                obj.entry("id").or_insert(json!(id));
            }
        }
        let wamid = self.ids.wamid(customer.phone.digits());
        self.messages.insert(
            wamid.clone(),
            MessageRecord {
                seq: self.messages.len() as u64 + 1,
                wamid: wamid.clone(),
                origin: Origin::App,
                number: number.clone(),
                customer: Some(key.clone()),
                at: now,
                kind: kind.clone(),
                status: StatusKind::Sent,
                pricing: None,
                recipient_input: None,
                to_bsuid: false,
                biz_opaque_callback_data: None,
                version_major: 0,
                template_name: None,
                error: None,
                read_by_business: false,
                revoked: false,
                content: compact(&content),
            },
        );
        self.app_mut(number)?
            .sent
            .push((wamid.clone(), key.clone(), now));
        // The app and the API share the number's throughput (§5.1); app sends never open
        // or extend the customer-service window (§3.2).
        if let Some(n) = self.numbers.get_mut(number) {
            n.throughput.record(now);
        }
        let unsupported = companion
            .is_some_and(|c| UNSUPPORTED_COMPANIONS.contains(&c.to_ascii_lowercase().as_str()));
        if unsupported {
            return Ok(wamid);
        }
        if !online {
            self.app_mut(number)?.backlog.push(Backlogged {
                at: now,
                wamid: wamid.clone(),
                customer: key.clone(),
                message: Value::Object(content),
            });
            return Ok(wamid);
        }
        self.echo(
            now,
            now,
            number,
            key,
            &wamid,
            content,
            &format!("echo {kind}"),
        );
        Ok(wamid)
    }

    /// Emits an `smb_message_echoes` change (if the number is still connected).
    #[allow(clippy::too_many_arguments)]
    fn echo(
        &mut self,
        now: SimTime,
        sent_at: SimTime,
        number: &PhoneNumberId,
        key: &CustomerKey,
        wamid: &Wamid,
        content: Map<String, Value>,
        summary: &str,
    ) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        if !n.is_connected() {
            return;
        }
        let (waba, display) = (n.waba.clone(), n.display.digits().to_owned());
        let Some(customer) = self.customers.get(key) else {
            return;
        };
        let party = self.party(number, customer, now);
        let mut message = Map::new();
        message.insert("id".into(), json!(wamid));
        message.insert("timestamp".into(), json!(sent_at.unix_secs_string()));
        for (k, v) in content {
            message.entry(k).or_insert(v);
        }
        let value = payloads::echo(self.metadata(number), &display, &party, message);
        self.emit(
            now,
            waba,
            Some(number.clone()),
            "smb_message_echoes",
            value,
            format!("{summary} to {key}"),
        );
    }

    fn app_message(
        &self,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
    ) -> Result<(Wamid, CustomerKey, SimTime), ActionError> {
        let app = self
            .numbers
            .get(number)
            .and_then(|n| n.app.as_ref())
            .ok_or_else(|| ActionError::NoApp(number.to_string()))?;
        let found = match message_id {
            Some(id) => app.sent.iter().find(|(w, _, _)| *w == id),
            None => app.sent.last(),
        };
        found
            .cloned()
            .ok_or_else(|| ActionError::UnknownMessage("an app-sent message".into()))
    }

    /// The owner edits an app-sent text message (within 15 minutes): an echo of type `edit`.
    pub fn app_edits(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
        text: &str,
    ) -> Result<Wamid, ActionError> {
        self.app_mut(number)?;
        let (target, key, at) = self.app_message(number, message_id)?;
        if now > at + EDIT_WINDOW {
            return Err(ActionError::NotAllowed(
                "a message can only be edited within 15 minutes of sending".into(),
            ));
        }
        let wamid = self.ids.wamid(target.as_str());
        let mut content = Map::new();
        content.insert("type".into(), json!("edit"));
        content.insert(
            "edit".into(),
            json!({ "original_message_id": target,
                    "message": { "type": "text", "text": { "body": text } } }),
        );
        self.echo(now, now, number, &key, &wamid, content, "echo edit");
        Ok(wamid)
    }

    /// The owner deletes an app-sent message for everyone (within 2 days): an echo of type
    /// `revoke`.
    pub fn app_revokes(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        message_id: Option<Wamid>,
    ) -> Result<Wamid, ActionError> {
        self.app_mut(number)?;
        let (target, key, at) = self.app_message(number, message_id)?;
        if now > at + REVOKE_WINDOW {
            return Err(ActionError::NotAllowed(
                "a message can only be deleted for everyone within 2 days of sending".into(),
            ));
        }
        if let Some(m) = self.messages.get_mut(&target) {
            m.revoked = true;
        }
        let wamid = self.ids.wamid(target.as_str());
        let mut content = Map::new();
        content.insert("type".into(), json!("revoke"));
        content.insert("revoke".into(), json!({ "original_message_id": target }));
        self.echo(now, now, number, &key, &wamid, content, "echo revoke");
        Ok(wamid)
    }

    /// The owner opens the app: the 14-day inactivity timer starts again.
    pub fn app_opens(&mut self, now: SimTime, number: &PhoneNumberId) -> Result<(), ActionError> {
        self.app_mut(number)?.last_opened = now;
        self.schedule(
            inactivity::deadline(now),
            Task::InactivityCheck {
                number: number.clone(),
            },
        );
        Ok(())
    }

    /// Due when the app may have been closed for 14 days: disconnects the number if so.
    pub fn check_inactivity(&mut self, at: SimTime, number: &PhoneNumberId) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        let Some(app) = &n.app else {
            return;
        };
        if n.is_connected() && inactivity::is_inactive(app.last_opened, at) {
            self.disconnect(at, number, "PRIMARY_INACTIVITY", "SYSTEM");
        }
    }

    /// Disconnects a number and sends `account_update` `PARTNER_REMOVED` with
    /// `disconnection_info` (always to the app's callback URL).
    pub fn disconnect(&mut self, at: SimTime, number: &PhoneNumberId, reason: &str, by: &str) {
        let Some(n) = self.numbers.get_mut(number) else {
            return;
        };
        if n.disconnected.is_some() {
            return;
        }
        n.disconnected = Some(Disconnection {
            at,
            reason: reason.to_owned(),
            initiated_by: by.to_owned(),
        });
        let value = payloads::partner_removed(n.display.digits(), reason, by);
        let waba = n.waba.clone();
        self.emit_with_time(
            at,
            waba,
            Some(number.clone()),
            "account_update",
            value,
            Some(at.unix_secs()),
            format!("PARTNER_REMOVED {reason} for {number}"),
        );
    }

    /// The owner disconnects the number from the Business Platform in the app.
    pub fn app_disconnects(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
    ) -> Result<(), ActionError> {
        self.app_mut(number)?;
        // [INF] Meta lists no reason specific to a disconnect from the app;
        // ACCOUNT_DISCONNECTED initiated by USER is the closest documented value.
        self.disconnect(now, number, "ACCOUNT_DISCONNECTED", "USER");
        Ok(())
    }

    /// The app is uninstalled from the phone: the link is severed and the number must be
    /// onboarded again. [INF] Reported as `ACCOUNT_OFFBOARDED`, Meta's event for offboarding
    /// through a device change or re-registration.
    pub fn app_uninstalled(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
    ) -> Result<(), ActionError> {
        self.app_mut(number)?.installed = false;
        let Some(n) = self.numbers.get_mut(number) else {
            return Ok(());
        };
        if n.disconnected.is_none() {
            n.disconnected = Some(Disconnection {
                at: now,
                reason: "APP_UNINSTALLED".into(),
                initiated_by: "USER".into(),
            });
            let waba = n.waba.clone();
            self.emit_with_time(
                now,
                waba,
                Some(number.clone()),
                "account_update",
                payloads::account_offboarded(),
                Some(now.unix_secs()),
                format!("ACCOUNT_OFFBOARDED for {number}"),
            );
        }
        Ok(())
    }

    /// The owner reconnects a disconnected (or offboarded) coexistence number from the phone
    /// app, e.g. after a device change or re-registration: the link is restored and Meta sends
    /// `account_update` `ACCOUNT_RECONNECTED`. Onboarding and the sync limits are kept: this
    /// is the same onboarding coming back, not a new one.
    pub fn app_reconnects(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
    ) -> Result<(), ActionError> {
        let n = self
            .numbers
            .get(number)
            .ok_or_else(|| ActionError::UnknownNumber(number.to_string()))?;
        if n.app.is_none() {
            return Err(ActionError::NoApp(number.to_string()));
        }
        if n.is_connected() {
            return Err(ActionError::NotAllowed(format!(
                "phone number {number} is connected: there is nothing to reconnect"
            )));
        }
        self.reconnect(now, number);
        Ok(())
    }

    /// Brings a disconnected number back: the app is installed and was just used (the
    /// 14-day timer starts again), and `account_update` `ACCOUNT_RECONNECTED` goes to the
    /// app's callback URL with `entry.time`. Does nothing to a connected number.
    pub fn reconnect(&mut self, at: SimTime, number: &PhoneNumberId) {
        let Some(n) = self.numbers.get_mut(number) else {
            return;
        };
        if n.disconnected.take().is_none() {
            return;
        }
        let has_app = match n.app.as_mut() {
            Some(app) => {
                app.installed = true;
                app.last_opened = at;
                true
            }
            None => false,
        };
        let waba = n.waba.clone();
        if has_app {
            self.schedule(
                inactivity::deadline(at),
                Task::InactivityCheck {
                    number: number.clone(),
                },
            );
        }
        self.emit_with_time(
            at,
            waba,
            Some(number.clone()),
            "account_update",
            payloads::account_reconnected(),
            Some(at.unix_secs()),
            format!("ACCOUNT_RECONNECTED for {number}"),
        );
    }

    /// The business phone loses or regains its connection. Regaining it sends the backlog
    /// as a burst of echoes (the first `duplicates` twice); returns how many were sent.
    pub fn phone_connection(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        online: bool,
        duplicates: u32,
    ) -> Result<usize, ActionError> {
        let app = self.app_mut(number)?;
        app.online = online;
        if !online {
            return Ok(0);
        }
        let backlog = std::mem::take(&mut app.backlog);
        let count = backlog.len();
        for (i, b) in backlog.into_iter().enumerate() {
            let Value::Object(content) = b.message else {
                continue;
            };
            let copies = if u32::try_from(i).unwrap_or(u32::MAX) < duplicates {
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.echo(
                    now,
                    b.at,
                    number,
                    &b.customer,
                    &b.wamid,
                    content.clone(),
                    "backlogged echo",
                );
            }
        }
        Ok(count)
    }

    /// The owner adds or edits a contact: one `smb_app_state_sync` webhook (`action: add`).
    pub fn app_contact_saved(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        name: &str,
        phone: &str,
    ) -> Result<(), ActionError> {
        let phone =
            PhoneNumber::parse(phone).map_err(|e| ActionError::BadMessage(e.to_string()))?;
        let customer = self
            .customer_by_phone(&phone)
            .and_then(|k| self.customers.get(k))
            .map(|c| (c.key.clone(), c.bsuid.as_str().to_owned()));
        let first_name = name.split_whitespace().next().unwrap_or(name).to_owned();
        let contact = AppContact {
            full_name: name.to_owned(),
            first_name: first_name.clone(),
            phone: phone.clone(),
            customer: customer.as_ref().map(|(k, _)| k.clone()),
        };
        let app = self.app_mut(number)?;
        match app.contacts.iter_mut().find(|c| c.phone == phone) {
            Some(existing) => *existing = contact,
            None => app.contacts.push(contact),
        }
        let item = payloads::state_sync_contact(
            "add",
            name,
            &first_name,
            phone.digits(),
            customer.as_ref().map(|(_, b)| b.as_str()),
            &now.unix_secs_string(),
        );
        self.emit_state_sync(now, number, vec![item], "contact saved");
        Ok(())
    }

    /// The owner removes a contact: one `smb_app_state_sync` webhook (`action: remove`).
    pub fn app_contact_removed(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        phone: &str,
    ) -> Result<(), ActionError> {
        let phone =
            PhoneNumber::parse(phone).map_err(|e| ActionError::BadMessage(e.to_string()))?;
        let app = self.app_mut(number)?;
        let before = app.contacts.len();
        app.contacts.retain(|c| c.phone != phone);
        if app.contacts.len() == before {
            return Err(ActionError::UnknownMessage(format!("contact {phone}")));
        }
        let item = payloads::state_sync_contact(
            "remove",
            "",
            "",
            phone.digits(),
            None,
            &now.unix_secs_string(),
        );
        self.emit_state_sync(now, number, vec![item], "contact removed");
        Ok(())
    }

    pub(crate) fn emit_state_sync(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        items: Vec<Value>,
        summary: &str,
    ) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        if !n.is_connected() {
            return;
        }
        let waba = n.waba.clone();
        let count = items.len();
        let value = payloads::state_sync(self.metadata(number), items);
        self.emit(
            now,
            waba,
            Some(number.clone()),
            "smb_app_state_sync",
            value,
            format!("{summary} ({count} contacts)"),
        );
    }
}
