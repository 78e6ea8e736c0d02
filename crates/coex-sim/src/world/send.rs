//! The Cloud API send path (`POST /{phone_number_id}/messages`) with Meta's rules in Meta's
//! order, and the life of an accepted message: `sent`, then `delivered` when the customer's
//! phone has it, then `read` if the customer reads, each a status webhook with the PMP
//! `pricing` object (spec/cloud-api.md §3).
//!
//! Synchronous refusals (the Graph error envelope): token and object checks (Graph layer),
//! disabled features, templates (132001, 132000), BSUID recipients of authentication templates
//! (131062), throughput (130429), pair rate (131056). Accepted-then-failed (a `failed` status
//! webhook, as Meta reports them): the customer-service window (131047), unreachable
//! recipients (131026), the portfolio's messaging limit.

use coex_meta::graph::{
    AcceptedStatus, Extra, MESSAGING_PRODUCT, MarkReadRequest, MessageContent, Recipient,
    SendMessageRequest, SendMessageResponse, SentContact, SentMessage, SuccessResponse,
};
use serde_json::{Value, json};

use coex_core::{PhoneNumber, PhoneNumberId, Wamid};

use crate::clock::SimTime;
use crate::rules::{features, templates};
use crate::wire::errors::MetaError;
use crate::wire::payloads::{self, StatusItem};
use crate::world::log::FaultDelivery;
use crate::world::messages::{MessageRecord, Origin, Pricing, StatusKind, compact};
use crate::world::model::CustomerKey;
use crate::world::templates::TemplateCategory;
use crate::world::{Task, World};

impl World {
    /// Handles one send request at `now`: `body` as received, `req` the same body typed by
    /// `coex-meta`. `Ok` is the Graph response body.
    pub fn api_send(
        &mut self,
        now: SimTime,
        number: &PhoneNumberId,
        body: &Value,
        req: &SendMessageRequest,
        version_major: u32,
    ) -> Result<Value, MetaError> {
        let n = self
            .numbers
            .get(number)
            .ok_or_else(|| MetaError::unknown_object(number.as_str(), "POST"))?;
        if !n.is_connected() {
            return Err(MetaError::not_registered());
        }
        let coexistence = n.is_coexistence();
        let waba = n.waba.clone();

        let mut async_fault = None;
        if let Some(i) = self
            .faults
            .iter()
            .position(|f| f.remaining > 0 && f.number.as_ref().is_none_or(|x| x == number))
        {
            let fault = &mut self.faults[i];
            fault.remaining -= 1;
            let (code, delivery) = (fault.code, fault.delivery());
            self.faults.retain(|f| f.remaining > 0);
            match delivery {
                FaultDelivery::Sync => return Err(MetaError::injected(code)),
                FaultDelivery::Async => async_fault = Some(MetaError::injected(code)),
            }
        }

        // Features Coexistence disables first, for a clear error; then Meta's shape and
        // limit checks as coex-meta encodes them.
        features::check_send(body, coexistence)?;
        req.validate()
            .map_err(|e| MetaError::of(e.error_code()).with_details(e.to_string()))?;
        let kind = req.content.kind().to_owned();

        // Recipient: `to` (a phone) wins over `recipient` (a BSUID), spec §10.4.
        let input = req.input().unwrap_or_default().to_owned();
        let (phone, bsuid) = match req.target() {
            Ok(Recipient::Phone(p)) => (Some(p), None),
            Ok(Recipient::User(b)) => (None, Some(b)),
            Ok(Recipient::Group(_)) => {
                return Err(MetaError::invalid_param(
                    "Group messages are not available in this emulator.",
                ));
            }
            Err(e) => return Err(MetaError::invalid_param(format!("Invalid parameter: {e}"))),
        };
        let customer: Option<CustomerKey> = match (&phone, &bsuid) {
            (Some(p), _) => match self.customer_by_phone(p).cloned() {
                Some(k) => Some(k),
                None if self.auto_customers => self.auto_customer(p),
                None => None,
            },
            (None, Some(b)) => Some(self.customer_by_bsuid(b).cloned().ok_or_else(|| {
                MetaError::invalid_param(format!(
                    "Invalid parameter: recipient ({b}) is not a user of this business portfolio."
                ))
            })?),
            (None, None) => None,
        };
        let to_bsuid = bsuid.is_some();

        let mut template_category = None;
        let mut template_name = None;
        if let MessageContent::Template(sent) = &req.content {
            let list = self
                .templates
                .get(&waba)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let t = templates::check_send(list, sent)?;
            if t.is_otp() && to_bsuid {
                return Err(MetaError::bsuid_not_supported());
            }
            template_category = Some(t.category);
            template_name = Some(t.name.clone());
        }
        let content = body.get(&kind).cloned().unwrap_or(Value::Null);
        let window_open = customer.as_ref().is_some_and(|c| {
            self.pairs
                .get(&(number.clone(), c.clone()))
                .is_some_and(|p| p.window.is_open(now))
        });

        // Throughput, then the pair rate: both refuse synchronously.
        if let Some(n) = self.numbers.get_mut(number) {
            n.throughput
                .try_send(now)
                .map_err(|_| MetaError::throughput())?;
        }
        if let Some(c) = &customer {
            self.pair_mut(number, c)
                .pair_rate
                .try_send(now)
                .map_err(|_| MetaError::pair_rate())?;
        }

        let pricing = match template_category {
            Some(TemplateCategory::Utility) if window_open => Some(Pricing {
                billable: false,
                kind: "free_customer_service",
                category: "utility",
            }),
            Some(cat) => Some(Pricing {
                billable: true,
                kind: "regular",
                category: cat.pricing(),
            }),
            None if window_open => Some(Pricing {
                billable: false,
                kind: "free_customer_service",
                category: "service",
            }),
            None => None,
        };

        let reachable = customer
            .as_ref()
            .and_then(|c| self.customers.get(c))
            .is_some_and(|c| c.on_whatsapp);
        let mut failure = async_fault;
        if failure.is_none() && !reachable {
            failure = Some(MetaError::undeliverable());
        }
        if failure.is_none() && template_category.is_none() && !window_open {
            failure = Some(MetaError::window_closed());
        }
        if failure.is_none()
            && template_category.is_some()
            && !window_open
            && let (Some(c), Some(w)) = (&customer, self.wabas.get_mut(&waba))
            && let Err(reached) = w.limit.try_reach(c, now)
        {
            failure = Some(MetaError::messaging_limit(reached.0.as_str()));
        }

        let peer = phone
            .as_ref()
            .map(|p| p.digits().to_owned())
            .unwrap_or_else(|| input.clone());
        let wamid = self.ids.wamid(&peer);
        if let (Some(c), Some(_)) = (&customer, &phone) {
            // A phone send: Meta stores the phone–BSUID pair and may show the number (§10.5).
            self.pair_mut(number, c).last_phone_contact = Some(now);
            if let Some(w) = self.wabas.get_mut(&waba)
                && w.contact_book_enabled
            {
                w.contact_book.insert(c.clone());
            }
        }
        self.messages.insert(
            wamid.clone(),
            MessageRecord {
                seq: self.messages.len() as u64 + 1,
                wamid: wamid.clone(),
                origin: Origin::Api,
                number: number.clone(),
                customer: customer.clone(),
                at: now,
                kind: kind.clone(),
                status: StatusKind::Accepted,
                pricing,
                recipient_input: Some(input.clone()),
                to_bsuid,
                biz_opaque_callback_data: req.biz_opaque_callback_data.clone(),
                version_major,
                template_name,
                error: failure.clone(),
                read_by_business: false,
                revoked: false,
                content: compact(&json!({ "type": kind, kind.as_str(): content })),
            },
        );
        let status = if failure.is_some() {
            StatusKind::Failed
        } else {
            StatusKind::Sent
        };
        let at = now + self.settings.sent_after;
        self.schedule(
            at,
            Task::Status {
                wamid: wamid.clone(),
                status,
            },
        );

        let response = SendMessageResponse {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            contacts: vec![SentContact {
                input,
                wa_id: phone.as_ref().map(|p| p.digits().to_owned()),
                user_id: match (&phone, &bsuid) {
                    (None, Some(b)) => Some(b.as_str().to_owned()),
                    _ => None,
                },
                extra: Extra::new(),
            }],
            messages: vec![SentMessage {
                id: wamid,
                message_status: (kind == "template").then_some(AcceptedStatus::Accepted),
                extra: Extra::new(),
            }],
            group_id: None,
            extra: Extra::new(),
        };
        serde_json::to_value(response).map_err(|_| MetaError::unknown())
    }

    /// `{"status": "read", "message_id": ...}`: marks a customer's message (and, as Meta
    /// says, the earlier ones in the thread) as read.
    pub fn mark_read(
        &mut self,
        number: &PhoneNumberId,
        req: &MarkReadRequest,
    ) -> Result<Value, MetaError> {
        let id = &req.message_id;
        let (customer, at) = self
            .messages
            .get(id)
            .filter(|m| m.origin == Origin::Customer && m.number == *number)
            .and_then(|m| m.customer.clone().map(|c| (c, m.at)))
            .ok_or_else(|| {
                MetaError::invalid_param(format!(
                    "Invalid parameter: message_id ({id}) was not found."
                ))
            })?;
        if let Some(m) = self.messages.get_mut(id) {
            m.read_by_business = true;
        }
        // "Marking a message as read will also mark earlier messages in the thread as read."
        let pair = self.pair_mut(number, &customer);
        pair.read_up_to = pair.read_up_to.max(Some(at));
        serde_json::to_value(SuccessResponse::ok()).map_err(|_| MetaError::unknown())
    }

    /// A status task: moves the message forward (never backward) and emits the webhook.
    pub fn advance_status(&mut self, at: SimTime, wamid: &Wamid, status: StatusKind) {
        let Some(msg) = self.messages.get(wamid) else {
            return;
        };
        if msg.status >= status || msg.status == StatusKind::Failed {
            return;
        }
        let msg = msg.clone();
        let customer = msg
            .customer
            .as_ref()
            .and_then(|c| self.customers.get(c))
            .cloned();
        if let Some(m) = self.messages.get_mut(wamid) {
            m.status = status;
        }
        let Some(n) = self.numbers.get(&msg.number) else {
            return;
        };
        let waba = n.waba.clone();
        let metadata = self.metadata(&msg.number);
        let ts = at.unix_secs_string();
        let value = match (&customer, status) {
            (None, _) => payloads::failed_unknown_recipient(
                metadata,
                wamid.as_str(),
                &ts,
                &PhoneNumber::parse(msg.recipient_input.as_deref().unwrap_or_default())
                    .map(|p| p.digits().to_owned())
                    .unwrap_or_default(),
                msg.error
                    .clone()
                    .unwrap_or_else(MetaError::undeliverable)
                    .webhook_object(),
            ),
            (Some(c), _) => {
                let party = self.party(&msg.number, c, at);
                let recipient_id = if msg.to_bsuid {
                    party.phone.clone()
                } else {
                    msg.recipient_input
                        .as_deref()
                        .and_then(|i| PhoneNumber::parse(i).ok())
                        .map(|p| p.digits().to_owned())
                };
                // Pricing rides on `sent` and on one of `delivered`/`read` (§3.3).
                let pricing = match status {
                    StatusKind::Sent | StatusKind::Delivered => msg.pricing.clone(),
                    StatusKind::Read if msg.status < StatusKind::Delivered => msg.pricing.clone(),
                    _ => None,
                };
                let conversation = (msg.version_major != 0
                    && msg.version_major <= 23
                    && status != StatusKind::Failed)
                    .then(|| {
                        msg.pricing.as_ref().map(|p| {
                            let mut c = json!({ "id": self.conversation_id(wamid), "origin": { "type": p.category } });
                            if status == StatusKind::Sent {
                                c["expiration_timestamp"] =
                                    json!((at + std::time::Duration::from_secs(86_400)).unix_secs_string());
                            }
                            c
                        })
                    })
                    .flatten();
                let item = StatusItem {
                    wamid: wamid.to_string(),
                    status: status.as_str(),
                    timestamp: ts,
                    to_bsuid: msg.to_bsuid,
                    recipient_id,
                    pricing,
                    conversation,
                    errors: msg.error.as_ref().map(|e| vec![e.webhook_object()]),
                    biz_opaque_callback_data: msg.biz_opaque_callback_data.clone(),
                };
                payloads::status(metadata, &party, &item)
            }
        };
        self.emit(
            at,
            waba,
            Some(msg.number.clone()),
            "messages",
            value,
            format!(
                "status {} {}{}",
                status.as_str(),
                msg.kind,
                msg.customer
                    .as_ref()
                    .map(|c| format!(" to {c}"))
                    .unwrap_or_default()
            ),
        );

        let Some(c) = customer else {
            return;
        };
        match status {
            StatusKind::Sent if msg.kind != "reaction" => {
                if c.online {
                    let delay = self.jitter(c.deliver_after);
                    self.schedule(
                        at + delay,
                        Task::Status {
                            wamid: wamid.clone(),
                            status: StatusKind::Delivered,
                        },
                    );
                } else {
                    self.pair_mut(&msg.number, &c.key)
                        .undelivered
                        .push(wamid.clone());
                }
            }
            StatusKind::Delivered => {
                if let Some(read_after) = c.read_after {
                    let delay = self.jitter(read_after);
                    self.schedule(
                        at + delay,
                        Task::Status {
                            wamid: wamid.clone(),
                            status: StatusKind::Read,
                        },
                    );
                }
                if let Some(reply) = &c.auto_reply
                    && (!reply.templates_only || msg.kind == "template")
                {
                    let after = c.read_after.unwrap_or_default() + reply.after;
                    self.schedule(
                        at + after,
                        Task::Act(Box::new(crate::world::actions::Action::CustomerSends {
                            customer: c.key.clone(),
                            number: Some(msg.number.clone()),
                            content: crate::world::actions::MessageSpec {
                                text: Some(reply.text.clone()),
                                ..Default::default()
                            },
                            reply_to: Some(wamid.clone()),
                        })),
                    );
                }
            }
            _ => {}
        }
    }

    /// A customer's delay, varied by ±50% so receipts do not arrive in lockstep (seeded, so a
    /// run is reproducible).
    fn jitter(&mut self, d: std::time::Duration) -> std::time::Duration {
        use rand::Rng;
        d.mul_f64(self.rng.gen_range(0.5..1.5))
    }

    fn conversation_id(&self, wamid: &Wamid) -> String {
        // Stable per message (v23 and earlier: "unique per message").
        let digest = <sha2::Sha256 as sha2::Digest>::digest(wamid.as_str().as_bytes());
        hex::encode(&digest[..16])
    }
}
