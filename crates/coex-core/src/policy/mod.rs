//! The send policy: given a number, a conversation and a send request, answer "send now",
//! "needs a template" or "refused, because …" — before Meta sees the request
//! (spec/coexistence.md §3–§4, spec/cloud-api.md §3–§4, §10.4). Pure: no I/O, time is an input.
//!
//! [`decide`] applies the rules in this order; the first that bites answers:
//!
//! 1. **The number can send.** Only a connected number sends; a pending, disconnected,
//!    offboarded, app-uninstalled, restricted, banned or deleted one is refused
//!    ([`NumberState::can_send`](crate::model::NumberState::can_send), coexistence.md §2).
//! 2. **No disabled feature.** View-once media, disappearing messages, live location, edit and
//!    revoke through the API, and broadcast lists are refused (coexistence.md §3; the Cloud API
//!    supports none of them either, cloud-api.md §6.1); Marketing Messages Lite is refused for
//!    coexistence numbers (coexistence.md §1). One stable code per [`Feature`].
//! 3. **The recipient.** The phone number when the contact has one (Meta recommends it, so
//!    phone numbers keep coming in webhooks), else the BSUID (cloud-api.md §10.4).
//! 4. **The content is valid.** Media: Meta's MIME types and per-type size limits, video over
//!    16 MB being the known coexistence sync failure (coexistence.md §4). Templates: they
//!    exist, in the requested language, are approved, get the right parameters (counts per
//!    component, names for named templates) and fit their header media. Authentication
//!    templates to a BSUID-only contact are refused (Meta's 131062).
//! 5. **The window.** Templates may always be sent. Free-form (including media) messages only
//!    inside the 24 h customer-service window, which only the customer's live inbound message
//!    opens — never an echo, an API send or history ([`Window`]). Outside it the answer is
//!    [`Decision::NeedsTemplate`] (Meta's 131047).
//!
//! Refusals come before the window because they hold whatever the customer does, while a
//! request that needs a template may become sendable when the customer writes. A send may wait
//! in a queue, so lanes decide again just before the attempt (`Window::Open::closes_at` says
//! until when a free-form decision holds).
//!
//! [`pacing`] holds the rate arithmetic the lanes apply after the policy said "send now".

mod facts;
mod media;
pub mod pacing;
mod refusal;
mod template;
mod window;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::model::{CustomerKey, Timestamp, named_enum};
use crate::pricing::Category;
use crate::{Bsuid, PhoneNumber};

pub use facts::{ConversationFacts, Feature, FreeFormKind, NumberFacts, SendContent, SendFacts};
pub use media::{MediaFacts, MediaKind};
pub use refusal::Refusal;
pub use template::{
    ExpectedParams, GivenParams, Slot, TemplateCatalog, TemplateCategory, TemplateFacts,
    TemplateStatus, TemplateUse,
};
pub use window::{SERVICE_WINDOW_MS, Window};

/// Where a send goes: Meta's `to` (phone) or `recipient` (BSUID) field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Phone(PhoneNumber),
    Bsuid(Bsuid),
}

impl Recipient {
    /// The phone number when the contact has one, else the BSUID.
    pub fn for_customer(key: &CustomerKey) -> Self {
        match key {
            CustomerKey::Phone(p) | CustomerKey::Both { phone: p, .. } => Self::Phone(p.clone()),
            CustomerKey::Bsuid(b) => Self::Bsuid(b.clone()),
        }
    }
}

named_enum! {
    /// Why a free-form message needs a template instead.
    pub enum NeedsTemplateReason as "needs-template reason" {
        /// The customer has not written to this number since it was onboarded (a message
        /// from before onboarding opens no window).
        NoInboundMessage = "no_inbound_message",
        /// More than 24 h since the customer's last message.
        WindowExpired = "window_expired",
    }
}

/// The policy's answer for one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it (the lanes still pace it).
    SendNow {
        /// Pricing category: the template's, or `service` for free-form messages.
        category: Category,
        /// Free under Meta's per-message pricing: a service message or a utility template
        /// inside the open window. (Only Meta knows about free entry-point windows.)
        free_in_window: bool,
        recipient: Recipient,
        /// The window at decision time; a closed one makes this send business-initiated,
        /// which counts against the portfolio's messaging limit.
        window: Window,
    },
    /// A free-form message outside the window: only an approved template may be sent.
    NeedsTemplate {
        reason: NeedsTemplateReason,
        /// When the window closed; `None` if it never opened.
        window_closed_since: Option<Timestamp>,
    },
    /// Refused; see the [`Refusal`].
    Refused(Refusal),
}

impl Decision {
    /// A stable code: `send_now`, the [`NeedsTemplateReason`], or the [`Refusal::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Self::SendNow { .. } => "send_now",
            Self::NeedsTemplate { reason, .. } => reason.as_str(),
            Self::Refused(r) => r.code(),
        }
    }

    /// The Meta error code this decision pre-empts (131047 for a closed window).
    pub fn meta_code(&self) -> Option<u32> {
        match self {
            Self::SendNow { .. } => None,
            Self::NeedsTemplate { .. } => Some(131047),
            Self::Refused(r) => r.meta_code(),
        }
    }

    /// A human explanation (empty for `SendNow`).
    pub fn detail(&self) -> String {
        match self {
            Self::SendNow { .. } => String::new(),
            Self::NeedsTemplate {
                reason: NeedsTemplateReason::NoInboundMessage,
                ..
            } => "the customer has not written to this number since it was connected to the API, \
                  so no customer-service window is open; send an approved template"
                .to_owned(),
            Self::NeedsTemplate {
                window_closed_since,
                ..
            } => format!(
                "the customer-service window closed{}: more than 24 hours since the customer's \
                 last message (messages sent by the business, even from the app, do not reopen \
                 it); send an approved template",
                window_closed_since.map_or(String::new(), |t| format!(" at {t}"))
            ),
            Self::Refused(r) => r.detail(),
        }
    }

    /// Whether the send may go out now.
    pub fn is_send_now(&self) -> bool {
        matches!(self, Self::SendNow { .. })
    }
}

/// Decides what to do with one send request at `now`. See the module notes for the rules.
pub fn decide(
    number: &NumberFacts,
    conversation: &ConversationFacts,
    request: &SendFacts,
    templates: &(impl TemplateCatalog + ?Sized),
    now: Timestamp,
) -> Decision {
    match check(number, conversation, request, templates, now) {
        Ok(d) | Err(d) => d,
    }
}

/// [`decide`] with `?` for refusals: `Err` carries the final (non-send) decision.
fn check(
    number: &NumberFacts,
    conversation: &ConversationFacts,
    request: &SendFacts,
    templates: &(impl TemplateCatalog + ?Sized),
    now: Timestamp,
) -> Result<Decision, Decision> {
    // Rule 1: the number.
    if !number.state.can_send() {
        return Err(Decision::Refused(Refusal::NumberCannotSend {
            state: number.state,
        }));
    }
    // Rule 2: features, in `Feature::ALL` order so the same request always gets the same code.
    if let Some(feature) = Feature::ALL
        .iter()
        .find(|f| request.features.contains(f) && f.disabled_for(number.kind))
    {
        return Err(Decision::Refused(Refusal::FeatureDisabled {
            feature: *feature,
            number: number.kind,
        }));
    }
    // Rule 3: the recipient.
    let recipient = Recipient::for_customer(&request.recipient);
    let window = Window::at(conversation.last_inbound_at, now);
    let refused = |r: Refusal| Decision::Refused(r);

    match &request.content {
        // Rules 4 and 5 for templates: valid, then always sendable.
        SendContent::Template(wanted) => {
            let template = template::check(templates, wanted, number.kind).map_err(refused)?;
            if template.category == TemplateCategory::Authentication
                && matches!(recipient, Recipient::Bsuid(_))
            {
                return Err(refused(Refusal::BsuidRecipientNotSupported {
                    template: template.name.clone(),
                }));
            }
            let category = template.category.pricing();
            Ok(Decision::SendNow {
                category,
                free_in_window: window.is_open() && category == Category::Utility,
                recipient,
                window,
            })
        }
        // Rules 4 and 5 for service messages: valid, then only inside the window.
        SendContent::Media(_) | SendContent::FreeForm { .. } => {
            if let SendContent::Media(media) = &request.content {
                media.check(number.kind).map_err(refused)?;
            }
            match window {
                Window::Open { .. } => Ok(Decision::SendNow {
                    category: Category::Service,
                    free_in_window: true,
                    recipient,
                    window,
                }),
                Window::Closed { since } => Err(Decision::NeedsTemplate {
                    reason: if since.is_some() {
                        NeedsTemplateReason::WindowExpired
                    } else {
                        NeedsTemplateReason::NoInboundMessage
                    },
                    window_closed_since: since,
                }),
            }
        }
    }
}
