//! The policy's inputs: plain facts about the sending number, the conversation and the send.
//!
//! They are defined here, not in terms of Meta's wire types, because core does not depend on
//! coex-meta; the hub translates a Graph `SendMessageRequest` into a [`SendFacts`] and a stored
//! [`Number`]/[`Conversation`] into the other two (the `From` impls below).

use serde::{Deserialize, Serialize};

use super::{MediaFacts, TemplateUse};
use crate::model::{
    Conversation, CustomerKey, Number, NumberKind, NumberState, Timestamp, named_enum,
};

/// What the policy needs to know about the sending number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFacts {
    pub kind: NumberKind,
    pub state: NumberState,
}

impl From<&Number> for NumberFacts {
    fn from(n: &Number) -> Self {
        Self {
            kind: n.kind,
            state: n.state,
        }
    }
}

/// What the policy needs to know about the conversation with the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConversationFacts {
    /// The customer's last **live inbound** message: the store's
    /// `Conversation::last_inbound_at`, which echoes (app-sent messages), API sends and history
    /// imports never move. `None` when the customer has not written since onboarding, or there
    /// is no conversation yet.
    pub last_inbound_at: Option<Timestamp>,
}

impl From<&Conversation> for ConversationFacts {
    fn from(c: &Conversation) -> Self {
        Self {
            last_inbound_at: c.last_inbound_at,
        }
    }
}

named_enum! {
    /// Features a send may ask for that a number may not support (spec/coexistence.md §1, §3;
    /// spec/cloud-api.md §6.1). The name is also the refusal's stable code.
    pub enum Feature as "feature" {
        /// View-once media.
        ViewOnce = "view_once",
        /// Disappearing messages (1:1 or auto-mode).
        Disappearing = "disappearing",
        /// Live location sharing.
        LiveLocation = "live_location",
        /// Editing a sent message through the API.
        EditFromApi = "edit_from_api",
        /// Deleting a sent message for everyone through the API.
        RevokeFromApi = "revoke_from_api",
        /// Sending to a WhatsApp broadcast list.
        BroadcastList = "broadcast_list",
        /// Sending through the Marketing Messages Lite API.
        MarketingMessagesLite = "marketing_messages_lite",
    }
}

impl Feature {
    /// Whether a number of `kind` refuses this feature.
    ///
    /// Coexistence disables the first six in the app, and the Cloud API column of Meta's
    /// comparison table says "not supported" for all of them, so they are refused on every
    /// number (a Cloud API number would only get Meta's error later). Marketing Messages Lite
    /// is refused for coexistence numbers only.
    pub fn disabled_for(self, kind: NumberKind) -> bool {
        match self {
            Self::MarketingMessagesLite => kind == NumberKind::Coexistence,
            _ => true,
        }
    }

    /// `[INF]` The Meta code a request for this feature would get, as our emulator answers:
    /// 131051 for a message type, 100 for a flag; none known for the others.
    pub fn meta_code(self) -> Option<u32> {
        match self {
            Self::LiveLocation | Self::EditFromApi | Self::RevokeFromApi => Some(131051),
            Self::ViewOnce | Self::Disappearing => Some(100),
            Self::BroadcastList | Self::MarketingMessagesLite => None,
        }
    }
}

named_enum! {
    /// Non-template, non-media message types: allowed only inside the service window.
    pub enum FreeFormKind as "free-form kind" {
        Text = "text",
        Interactive = "interactive",
        Reaction = "reaction",
        Location = "location",
        Contacts = "contacts",
        /// Any other type the hub passes on.
        Other = "other",
    }
}

/// What a send carries, as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendContent {
    /// A non-template message (a service message).
    FreeForm { kind: FreeFormKind },
    /// A media message (also a service message): size and type are checked.
    Media(MediaFacts),
    /// A template message: allowed in and out of the window.
    Template(TemplateUse),
}

/// A summary of one send request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendFacts {
    /// Who it goes to: the contact's phone number, BSUID, or both.
    pub recipient: CustomerKey,
    pub content: SendContent,
    /// Features the request asks for (flags or message types the hub recognised).
    #[serde(default)]
    pub features: Vec<Feature>,
}
