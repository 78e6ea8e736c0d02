//! Things that can be made to happen in the world, from the control API or a scenario file:
//! customers writing, the owner using the phone app, phones going offline, the clock aside.
//!
//! The same tagged form serves JSON (`{"action": "customer_sends", "customer": "alice",
//! "text": "Hi"}`) and TOML scenario steps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use coex_core::{PhoneNumberId, Wamid};

use crate::clock::SimTime;
use crate::world::World;
use crate::world::model::CustomerKey;

/// Why an action could not be performed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no customer {0:?}")]
    UnknownCustomer(String),
    #[error("no phone number {0:?}")]
    UnknownNumber(String),
    #[error("the world has no phone number")]
    NoNumber,
    #[error("phone number {0} is not in coexistence mode (it has no business app)")]
    NoApp(String),
    #[error("the business app on {0} is uninstalled")]
    AppUninstalled(String),
    #[error("no message {0:?} to act on")]
    UnknownMessage(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("bad message: {0}")]
    BadMessage(String),
}

/// Message content in a control request or scenario step: plain `text`, a `kind` with a
/// `caption` (media) or a full Meta content object in `message`
/// (`{"type": "location", "location": {...}}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MessageSpec {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub message: Option<Value>,
}

const MEDIA_KINDS: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

impl MessageSpec {
    /// The `type` and content object as Meta shows them.
    pub fn content(&self) -> Result<Map<String, Value>, ActionError> {
        if let Some(message) = &self.message {
            let Value::Object(map) = message else {
                return Err(ActionError::BadMessage("message must be an object".into()));
            };
            let kind = map
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| ActionError::BadMessage("message.type is required".into()))?;
            if !map.contains_key(kind) && kind != "unsupported" {
                return Err(ActionError::BadMessage(format!(
                    "message.{kind} is required for type {kind}"
                )));
            }
            return Ok(map.clone());
        }
        let kind = self.kind.as_deref().unwrap_or("text");
        let mut map = Map::new();
        map.insert("type".into(), json!(kind));
        if kind == "text" {
            let body = self
                .text
                .clone()
                .ok_or_else(|| ActionError::BadMessage("text is required".into()))?;
            map.insert("text".into(), json!({ "body": body }));
        } else if MEDIA_KINDS.contains(&kind) {
            let mut media = Map::new();
            if let Some(c) = self.caption.as_ref().or(self.text.as_ref())
                && kind != "audio"
                && kind != "sticker"
            {
                media.insert("caption".into(), json!(c));
            }
            if kind == "document" {
                media.insert("filename".into(), json!("document.pdf"));
            }
            map.insert(kind.into(), Value::Object(media));
        } else {
            return Err(ActionError::BadMessage(format!(
                "kind {kind:?} needs a full `message` object"
            )));
        }
        Ok(map)
    }
}

/// One thing to make happen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A customer sends a message (any inbound type).
    CustomerSends {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(flatten)]
        content: MessageSpec,
        /// The business message this one replies to (`context`).
        #[serde(default)]
        reply_to: Option<Wamid>,
    },
    /// A customer reacts to a message (default: the last one the business sent them).
    CustomerReacts {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
        emoji: String,
    },
    /// A customer taps a button of a template or interactive message.
    CustomerTapsButton {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
        title: String,
        #[serde(default)]
        button_id: Option<String>,
    },
    /// A customer edits one of their messages (within 15 minutes).
    CustomerEdits {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
        text: String,
    },
    /// A customer deletes one of their messages for everyone (within 2 days).
    CustomerRevokes {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
    },
    /// A customer's first message arrives as `unsupported` with 131060 (first contact through
    /// an ad, or an unsupported companion device).
    CustomerSendsUnsupported {
        customer: CustomerKey,
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// A customer's phone goes offline: business messages stay at `sent`.
    CustomerOffline { customer: CustomerKey },
    /// A customer's phone comes back: pending messages are delivered.
    CustomerOnline { customer: CustomerKey },
    /// A customer changes phone number: new BSUID, `user_id_update` and a system message.
    CustomerChangesNumber {
        customer: CustomerKey,
        new_phone: String,
    },
    /// Sets or clears a customer's automatic reply (a campaign's replies).
    CustomerAutoReply {
        customer: CustomerKey,
        #[serde(default)]
        text: Option<String>,
        #[serde(default = "default_reply_after")]
        after_secs: u64,
        #[serde(default)]
        templates_only: bool,
    },
    /// The owner sends from the phone app (an `smb_message_echoes` webhook, unless the phone
    /// is offline or the `companion` is unsupported: `windows`, `wearos`).
    AppSends {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        customer: CustomerKey,
        #[serde(flatten)]
        content: MessageSpec,
        #[serde(default)]
        companion: Option<String>,
    },
    /// The owner edits an app-sent message (default: the last one), within 15 minutes.
    AppEdits {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
        text: String,
    },
    /// The owner deletes an app-sent message for everyone, within 2 days.
    AppRevokes {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        message_id: Option<Wamid>,
    },
    /// The owner opens the app (resets the 14-day inactivity timer).
    AppOpens {
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// The app is uninstalled: the link is severed (`ACCOUNT_OFFBOARDED`).
    AppUninstalled {
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// The owner disconnects the number from the Business Platform in the app.
    AppDisconnects {
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// The owner reconnects a disconnected coexistence number from the app
    /// (`ACCOUNT_RECONNECTED`).
    AppReconnects {
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// The business phone loses its connection; app sends are held back.
    PhoneOffline {
        #[serde(default)]
        number: Option<PhoneNumberId>,
    },
    /// The business phone is back: the backlog arrives as a burst of echoes, the first
    /// `duplicates` of them twice.
    PhoneOnline {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        #[serde(default)]
        duplicates: u32,
    },
    /// The owner adds or edits a contact in the app.
    AppContactSaved {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        name: String,
        phone: String,
    },
    /// The owner removes a contact in the app.
    AppContactRemoved {
        #[serde(default)]
        number: Option<PhoneNumberId>,
        phone: String,
    },
}

fn default_reply_after() -> u64 {
    30
}

impl World {
    /// The named number, or the default one.
    pub fn number_or_default(
        &self,
        number: Option<PhoneNumberId>,
    ) -> Result<PhoneNumberId, ActionError> {
        match number {
            Some(n) if self.numbers.contains_key(&n) => Ok(n),
            Some(n) => Err(ActionError::UnknownNumber(n.to_string())),
            None => self.default_number().ok_or(ActionError::NoNumber),
        }
    }

    /// Performs an action at `now`; returns a small JSON result (ids created).
    pub fn perform(&mut self, now: SimTime, action: Action) -> Result<Value, ActionError> {
        match action {
            Action::CustomerSends {
                customer,
                number,
                content,
                reply_to,
            } => {
                let number = self.number_or_default(number)?;
                let wamid =
                    self.customer_sends(now, &customer, &number, content.content()?, reply_to)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerReacts {
                customer,
                number,
                message_id,
                emoji,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self.customer_reacts(now, &customer, &number, message_id, &emoji)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerTapsButton {
                customer,
                number,
                message_id,
                title,
                button_id,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self
                    .customer_taps_button(now, &customer, &number, message_id, &title, button_id)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerEdits {
                customer,
                number,
                message_id,
                text,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self.customer_edits(now, &customer, &number, message_id, &text)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerRevokes {
                customer,
                number,
                message_id,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self.customer_revokes(now, &customer, &number, message_id)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerSendsUnsupported { customer, number } => {
                let number = self.number_or_default(number)?;
                let mut content = Map::new();
                content.insert("type".into(), json!("unsupported"));
                let wamid = self.customer_sends(now, &customer, &number, content, None)?;
                Ok(json!({ "id": wamid }))
            }
            Action::CustomerOffline { customer } => {
                self.customer_online(now, &customer, false)?;
                Ok(json!({ "online": false }))
            }
            Action::CustomerOnline { customer } => {
                self.customer_online(now, &customer, true)?;
                Ok(json!({ "online": true }))
            }
            Action::CustomerChangesNumber {
                customer,
                new_phone,
            } => {
                let bsuid = self.customer_changes_number(now, &customer, &new_phone)?;
                Ok(json!({ "user_id": bsuid }))
            }
            Action::CustomerAutoReply {
                customer,
                text,
                after_secs,
                templates_only,
            } => {
                let c = self
                    .customers
                    .get_mut(&customer)
                    .ok_or_else(|| ActionError::UnknownCustomer(customer.to_string()))?;
                c.auto_reply = text.map(|text| crate::world::model::AutoReply {
                    after: std::time::Duration::from_secs(after_secs),
                    text,
                    templates_only,
                });
                Ok(json!({ "auto_reply": c.auto_reply.is_some() }))
            }
            Action::AppSends {
                number,
                customer,
                content,
                companion,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self.app_sends(
                    now,
                    &number,
                    &customer,
                    content.content()?,
                    companion.as_deref(),
                )?;
                Ok(json!({ "id": wamid }))
            }
            Action::AppEdits {
                number,
                message_id,
                text,
            } => {
                let number = self.number_or_default(number)?;
                let wamid = self.app_edits(now, &number, message_id, &text)?;
                Ok(json!({ "id": wamid }))
            }
            Action::AppRevokes { number, message_id } => {
                let number = self.number_or_default(number)?;
                let wamid = self.app_revokes(now, &number, message_id)?;
                Ok(json!({ "id": wamid }))
            }
            Action::AppOpens { number } => {
                let number = self.number_or_default(number)?;
                self.app_opens(now, &number)?;
                Ok(json!({ "last_opened": now }))
            }
            Action::AppUninstalled { number } => {
                let number = self.number_or_default(number)?;
                self.app_uninstalled(now, &number)?;
                Ok(json!({ "installed": false }))
            }
            Action::AppDisconnects { number } => {
                let number = self.number_or_default(number)?;
                self.app_disconnects(now, &number)?;
                Ok(json!({ "connected": false }))
            }
            Action::AppReconnects { number } => {
                let number = self.number_or_default(number)?;
                self.app_reconnects(now, &number)?;
                Ok(json!({ "connected": true }))
            }
            Action::PhoneOffline { number } => {
                let number = self.number_or_default(number)?;
                self.phone_connection(now, &number, false, 0)?;
                Ok(json!({ "online": false }))
            }
            Action::PhoneOnline { number, duplicates } => {
                let number = self.number_or_default(number)?;
                let sent = self.phone_connection(now, &number, true, duplicates)?;
                Ok(json!({ "online": true, "backlog_sent": sent }))
            }
            Action::AppContactSaved {
                number,
                name,
                phone,
            } => {
                let number = self.number_or_default(number)?;
                self.app_contact_saved(now, &number, &name, &phone)?;
                Ok(json!({ "saved": true }))
            }
            Action::AppContactRemoved { number, phone } => {
                let number = self.number_or_default(number)?;
                self.app_contact_removed(now, &number, &phone)?;
                Ok(json!({ "removed": true }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_json_and_toml() {
        let a: Action = serde_json::from_value(
            json!({ "action": "customer_sends", "customer": "alice", "text": "Hi" }),
        )
        .unwrap();
        let Action::CustomerSends { content, .. } = a else {
            panic!("wrong action")
        };
        assert_eq!(
            Value::Object(content.content().unwrap()),
            json!({ "type": "text", "text": { "body": "Hi" } })
        );
        let t: Action = toml::from_str(
            "action = \"app_sends\"\ncustomer = \"bruno\"\nkind = \"image\"\ncaption = \"New stock\"\n",
        )
        .unwrap();
        let Action::AppSends { content, .. } = t else {
            panic!("wrong action")
        };
        assert_eq!(
            Value::Object(content.content().unwrap()),
            json!({ "type": "image", "image": { "caption": "New stock" } })
        );
        let full = MessageSpec {
            message: Some(
                json!({ "type": "location", "location": { "latitude": 1.0, "longitude": 2.0 } }),
            ),
            ..MessageSpec::default()
        };
        assert!(full.content().is_ok());
        let bad = MessageSpec {
            message: Some(json!({ "type": "location" })),
            ..MessageSpec::default()
        };
        assert!(bad.content().is_err());
    }
}
