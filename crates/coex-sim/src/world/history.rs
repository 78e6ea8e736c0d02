//! `POST /{phone_number_id}/smb_app_data` and what follows it (spec/cloud-api.md §2.1, §2.3,
//! §2.4, §6.3, §6.4):
//!
//! - `smb_app_state_sync`: the app's contacts, as `smb_app_state_sync` webhooks;
//! - `history`: if the business declined, one `history` webhook with error 2593109; otherwise
//!   the 1:1 chats of the last 180 days (never groups) in phases 0 (day 0-1), 1 (day 1-90) and
//!   2 (day 90-180), each cut into chunks numbered by `chunk_order`, `progress` rising to 100 on
//!   the last; media appear as `media_placeholder`, and the media of the 14 days before
//!   onboarding follow in separate `history` webhooks with their content.

use std::time::Duration;

use serde_json::{Map, Value, json};

use coex_core::{PhoneNumberId, RequestId};
use coex_meta::graph::{Extra, MESSAGING_PRODUCT, SmbAppDataRequest, SmbAppDataResponse};

use crate::clock::SimTime;
use crate::rules::sync::SyncType;
use crate::wire::errors::MetaError;
use crate::wire::payloads;
use crate::world::media::synthetic;
use crate::world::model::PastMessage;
use crate::world::{Task, World};

/// How far back the history goes.
pub const HISTORY_DAYS: u64 = 180;
/// Media older than this (before onboarding) arrive only as placeholders.
pub const MEDIA_DAYS: u64 = 14;
/// Contacts per `smb_app_state_sync` webhook of the initial sync.
pub const CONTACTS_PER_WEBHOOK: usize = 50;

const DAY: Duration = Duration::from_secs(86_400);

/// The phase of a message `age` old at onboarding.
pub fn phase_of(age: Duration) -> u8 {
    if age < DAY {
        0
    } else if age < DAY * 90 {
        1
    } else {
        2
    }
}

impl World {
    /// Handles an `smb_app_data` request; `Ok` is the Graph response.
    pub fn smb_app_data(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        req: &SmbAppDataRequest,
    ) -> Result<Value, MetaError> {
        if req.messaging_product != MESSAGING_PRODUCT {
            return Err(MetaError::invalid_param(
                "The parameter messaging_product must be \"whatsapp\".",
            ));
        }
        let raw = req.sync_type.as_str();
        let kind = SyncType::parse(raw).ok_or_else(|| {
            MetaError::invalid_param(format!(
                "Param sync_type must be one of {{smb_app_state_sync, history}} - got \"{raw}\"."
            ))
        })?;
        let n = self
            .numbers
            .get_mut(number)
            .ok_or_else(|| MetaError::unknown_object(number.as_str(), "POST"))?;
        if n.app.is_none() {
            return Err(MetaError::invalid_param(
                "Synchronization is only available for phone numbers onboarded from the WhatsApp Business app (Coexistence).",
            ));
        }
        if !n.is_connected() {
            return Err(MetaError::not_registered());
        }
        let onboarded = n.onboarded_at;
        n.sync.request(kind, now, onboarded)?;
        match kind {
            SyncType::SmbAppStateSync => self.schedule_contact_sync(now, number),
            SyncType::History => self.schedule_history(now, number),
        }
        let request_id =
            RequestId::parse(self.ids.request_id()).map_err(|_| MetaError::unknown())?;
        let response = SmbAppDataResponse {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            request_id,
            extra: Extra::new(),
        };
        serde_json::to_value(response).map_err(|_| MetaError::unknown())
    }

    fn schedule_contact_sync(&mut self, now: SimTime, number: &PhoneNumberId) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        let Some(app) = &n.app else {
            return;
        };
        let waba = n.waba.clone();
        let ts = now.unix_secs_string();
        let items: Vec<Value> = app
            .contacts
            .iter()
            .map(|c| {
                let user_id = c
                    .customer
                    .as_ref()
                    .and_then(|k| self.customers.get(k))
                    .map(|cu| cu.bsuid.as_str().to_owned());
                payloads::state_sync_contact(
                    "add",
                    &c.full_name,
                    &c.first_name,
                    c.phone.digits(),
                    user_id.as_deref(),
                    &ts,
                )
            })
            .collect();
        let gap = self.settings.history_chunk_gap;
        let chunks: Vec<Vec<Value>> = items
            .chunks(CONTACTS_PER_WEBHOOK)
            .map(<[Value]>::to_vec)
            .collect();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let count = chunk.len();
            let value = payloads::state_sync(self.metadata(number), chunk);
            let change = self.prepare_change(
                waba.clone(),
                Some(number.clone()),
                "smb_app_state_sync",
                value,
                format!("initial contact sync ({count} contacts)"),
            );
            let at =
                now + gap.mul_f64(0.5) + Duration::from_millis(u64::try_from(i).unwrap_or(0) * 10);
            self.schedule(at, Task::Emit(Box::new(change)));
        }
    }

    fn schedule_history(&mut self, now: SimTime, number: &PhoneNumberId) {
        let Some(n) = self.numbers.get(number) else {
            return;
        };
        let waba = n.waba.clone();
        let gap = self.settings.history_chunk_gap;
        if !n.history_shared {
            let value = payloads::history_declined(
                self.metadata(number),
                MetaError::history_declined().webhook_object(),
            );
            let change = self.prepare_change(
                waba,
                Some(number.clone()),
                "history",
                value,
                "history declined (2593109)".into(),
            );
            self.schedule(now + gap, Task::Emit(Box::new(change)));
            return;
        }
        let onboarded = n.onboarded_at;
        let display = n.display.digits().to_owned();
        let Some(app) = &n.app else {
            return;
        };
        let oldest = onboarded - DAY * u32::try_from(HISTORY_DAYS).unwrap_or(180);
        // Per phase, the 1:1 threads' messages in order (groups are never synced).
        let mut phases: [Vec<(crate::world::model::CustomerKey, Vec<PastMessage>)>; 3] =
            [Vec::new(), Vec::new(), Vec::new()];
        let mut media_followups: Vec<(crate::world::model::CustomerKey, PastMessage)> = Vec::new();
        for thread in &app.history {
            let Some(key) = &thread.customer else {
                continue;
            };
            for phase in 0..3u8 {
                let msgs: Vec<PastMessage> = thread
                    .messages
                    .iter()
                    .filter(|m| m.at >= oldest && m.at <= onboarded)
                    .filter(|m| phase_of(onboarded.since(m.at)) == phase)
                    .cloned()
                    .collect();
                if !msgs.is_empty() {
                    phases[usize::from(phase)].push((key.clone(), msgs));
                }
            }
            for m in &thread.messages {
                if m.kind != "text"
                    && m.at <= onboarded
                    && onboarded.since(m.at) < DAY * u32::try_from(MEDIA_DAYS).unwrap_or(14)
                {
                    media_followups.push((key.clone(), m.clone()));
                }
            }
        }
        // Cut each phase into chunks of at most `history_chunk_messages` messages.
        let per_chunk = self.settings.history_chunk_messages.max(1);
        let mut chunks: Vec<(u8, u32, Vec<Value>)> = Vec::new();
        for (phase, threads) in phases.iter().enumerate() {
            let phase = u8::try_from(phase).unwrap_or(2);
            let mut order = 0u32;
            let mut current: Vec<Value> = Vec::new();
            let mut in_chunk = 0usize;
            for (key, msgs) in threads {
                let Some(customer) = self.customers.get(key) else {
                    continue;
                };
                let party = self.party(number, customer, now);
                for part in msgs.chunks(per_chunk) {
                    if in_chunk + part.len() > per_chunk && !current.is_empty() {
                        order += 1;
                        chunks.push((phase, order, std::mem::take(&mut current)));
                        in_chunk = 0;
                    }
                    current.push(history_thread(&party, &display, part));
                    in_chunk += part.len();
                }
            }
            if !current.is_empty() {
                order += 1;
                chunks.push((phase, order, current));
            }
        }
        let total = chunks.len();
        let metadata = self.metadata(number);
        for (i, (phase, order, threads)) in chunks.into_iter().enumerate() {
            let progress = u8::try_from(((i + 1) * 100) / total.max(1)).unwrap_or(100);
            let count: usize = threads
                .iter()
                .map(|t| t["messages"].as_array().map_or(0, Vec::len))
                .sum();
            let value = payloads::history_chunk(metadata.clone(), phase, order, progress, threads);
            let change = self.prepare_change(
                waba.clone(),
                Some(number.clone()),
                "history",
                value,
                format!(
                    "history phase {phase} chunk {order} progress {progress} ({count} messages)"
                ),
            );
            let at = now + gap * u32::try_from(i + 1).unwrap_or(u32::MAX);
            self.schedule(at, Task::Emit(Box::new(change)));
        }
        // Media content follow-ups, after the chunks.
        let after = now + gap * u32::try_from(total + 1).unwrap_or(u32::MAX);
        for (i, (key, m)) in media_followups.into_iter().enumerate() {
            let Some(customer) = self.customers.get(&key).cloned() else {
                continue;
            };
            let party = self.party(number, &customer, now);
            let media_id = self.ids.media_id();
            let (mime, bytes) = synthetic(&m.kind, media_id.as_str());
            let item = self
                .media
                .insert(media_id, number.clone(), mime, bytes, None, m.at);
            let mut media = Map::new();
            if m.kind != "audio" && !m.text.is_empty() {
                media.insert("caption".into(), json!(m.text));
            }
            media.insert("mime_type".into(), json!(item.mime_type));
            media.insert("sha256".into(), json!(item.sha256));
            media.insert("id".into(), json!(item.id));
            let mut msg = Map::new();
            msg.insert("id".into(), json!(m.wamid));
            msg.insert("timestamp".into(), json!(m.at.unix_secs_string()));
            msg.insert("type".into(), json!(m.kind));
            msg.insert(m.kind.clone(), Value::Object(media));
            let contacts = vec![payloads::contact(&party, true, true)];
            let value = if m.from_business {
                let mut echo = Map::new();
                echo.insert("from".into(), json!(display));
                if let Some(p) = &party.phone {
                    echo.insert("to".into(), json!(p));
                }
                echo.insert("to_user_id".into(), json!(party.user_id));
                echo.extend(msg);
                payloads::history_media(
                    self.metadata(number),
                    contacts,
                    vec![],
                    vec![Value::Object(echo)],
                )
            } else {
                payloads::history_media(
                    self.metadata(number),
                    contacts,
                    vec![payloads::from_user(&party, msg)],
                    vec![],
                )
            };
            let change = self.prepare_change(
                waba.clone(),
                Some(number.clone()),
                "history",
                value,
                format!("history media follow-up {} for {key}", m.kind),
            );
            let at = after + Duration::from_millis(u64::try_from(i).unwrap_or(0) * 100);
            self.schedule(at, Task::Emit(Box::new(change)));
        }
    }
}

/// One `threads[]` item: the thread's identity and its messages.
fn history_thread(party: &payloads::Party, business_display: &str, msgs: &[PastMessage]) -> Value {
    let mut context = Map::new();
    if let Some(p) = &party.phone {
        context.insert("wa_id".into(), json!(p));
    }
    context.insert("user_id".into(), json!(party.user_id));
    if let Some(u) = &party.username {
        context.insert("username".into(), json!(u));
    }
    let messages: Vec<Value> = msgs
        .iter()
        .map(|m| {
            let mut o = Map::new();
            if m.from_business {
                o.insert("from".into(), json!(business_display));
                if let Some(p) = &party.phone {
                    o.insert("to".into(), json!(p));
                }
            } else {
                if let Some(p) = &party.phone {
                    o.insert("from".into(), json!(p));
                }
                o.insert("from_user_id".into(), json!(party.user_id));
            }
            o.insert("id".into(), json!(m.wamid));
            o.insert("timestamp".into(), json!(m.at.unix_secs_string()));
            if m.kind == "text" {
                o.insert("type".into(), json!("text"));
                o.insert("text".into(), json!({ "body": m.text }));
            } else {
                o.insert("type".into(), json!("media_placeholder"));
            }
            o.insert("history_context".into(), json!({ "status": m.status }));
            Value::Object(o)
        })
        .collect();
    let mut thread = Map::new();
    if let Some(p) = &party.phone {
        thread.insert("id".into(), json!(p));
    }
    thread.insert("context".into(), Value::Object(context));
    thread.insert("messages".into(), Value::Array(messages));
    Value::Object(thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_day_ranges() {
        assert_eq!(phase_of(Duration::from_secs(3600)), 0);
        assert_eq!(phase_of(DAY * 2), 1);
        assert_eq!(phase_of(DAY * 100), 2);
    }
}
