//! Messages, conversations and status records.
//!
//! Every message says where it came from ([`Origin`]: the customer, the owner's phone app, an
//! API agent, automation, a campaign or the history import), because in coexistence two sides
//! send from one number and the inbox must show which (spec/coexistence.md §6).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    Contact, ContactId, ConversationId, MessageId, MessageStatus, RawJson, Timestamp, WorkspaceId,
    named_enum,
};
use crate::{MediaId, PhoneNumberId, Wamid};

named_enum! {
    /// Which way a message went, seen from the business.
    pub enum Direction as "direction" {
        /// Customer to business.
        Inbound = "inbound",
        /// Business to customer (from the phone app or through the API).
        Outbound = "outbound",
    }
}

named_enum! {
    /// Who or what produced a message.
    pub enum Origin as "origin" {
        /// The customer (live inbound message).
        Customer = "customer",
        /// The owner's WhatsApp Business App or a companion device (an echo).
        BusinessApp = "business_app",
        /// A person using our inbox or REST API.
        ApiAgent = "api_agent",
        /// An automation rule or bot.
        Automation = "automation",
        /// A campaign.
        Campaign = "campaign",
        /// Imported from the app's history at onboarding (either direction).
        HistoryImport = "history_import",
    }
}

impl Origin {
    /// Whether this origin sends through the Cloud API (and so is billed and paced).
    pub fn is_api(self) -> bool {
        matches!(self, Self::ApiAgent | Self::Automation | Self::Campaign)
    }
}

/// A message's type, by Meta's names (`text`, `image`, `media_placeholder`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Button,
    Reaction,
    Template,
    Order,
    System,
    /// A type Meta could not deliver to the API (e.g. 131060 from an unsupported companion).
    Unsupported,
    /// History media whose content did not (yet) come (spec/cloud-api.md §2.3).
    MediaPlaceholder,
    /// Any other type name, as received.
    Other(String),
}

impl MessageKind {
    const KNOWN: &'static [(&'static str, MessageKind)] = &[
        ("text", Self::Text),
        ("image", Self::Image),
        ("video", Self::Video),
        ("audio", Self::Audio),
        ("document", Self::Document),
        ("sticker", Self::Sticker),
        ("location", Self::Location),
        ("contacts", Self::Contacts),
        ("interactive", Self::Interactive),
        ("button", Self::Button),
        ("reaction", Self::Reaction),
        ("template", Self::Template),
        ("order", Self::Order),
        ("system", Self::System),
        ("unsupported", Self::Unsupported),
        ("media_placeholder", Self::MediaPlaceholder),
    ];

    /// From Meta's `type`; never fails.
    pub fn from_meta(name: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => Self::KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(n, _)| n),
        }
    }

    /// Whether messages of this type carry a media asset.
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            Self::Image | Self::Video | Self::Audio | Self::Document | Self::Sticker
        )
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MessageKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MessageKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_meta(&String::deserialize(d)?))
    }
}

/// A media asset a message refers to. The bytes are fetched from Meta on demand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaRef {
    #[serde(default)]
    pub id: Option<MediaId>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContent {
    pub kind: MessageKind,
    /// The text body, or the media caption.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub media: Option<MediaRef>,
    /// The message this one replies to (`context.id`).
    #[serde(default)]
    pub reply_to: Option<Wamid>,
    /// The type-specific object as received, for what the fields above do not model
    /// (interactive replies, locations, templates, ...).
    #[serde(default)]
    pub payload: Option<RawJson>,
}

impl MessageContent {
    /// A plain text message.
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            kind: MessageKind::Text,
            body: Some(body.into()),
            media: None,
            reply_to: None,
            payload: None,
        }
    }

    /// A history media placeholder: no content yet.
    pub fn media_placeholder() -> Self {
        Self {
            kind: MessageKind::MediaPlaceholder,
            body: None,
            media: None,
            reply_to: None,
            payload: None,
        }
    }
}

/// An error object as Meta sends it (`errors[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaError {
    pub code: i64,
    pub title: String,
    #[serde(default)]
    pub details: Option<String>,
}

/// The `pricing` object of a status webhook.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub billable: Option<bool>,
    /// `PMP` or `CBP`.
    #[serde(default)]
    pub model: Option<String>,
    /// `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(default)]
    pub kind: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, ...
    #[serde(default)]
    pub category: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub conversation: ConversationId,
    pub direction: Direction,
    pub origin: Origin,
    /// Who sent it within its origin (an agent, a rule, a campaign), when known.
    pub sender: Option<String>,
    pub content: MessageContent,
    /// Meta's time for the message: sent, received, or the device time for history.
    pub timestamp: Timestamp,
    /// When we stored it.
    pub stored_at: Timestamp,
    /// The delivery status of outbound messages (and of imported ones, as the app knew it);
    /// `None` for live inbound messages.
    pub status: Option<MessageStatus>,
    pub status_at: Option<Timestamp>,
    /// Why it failed, or why Meta could not deliver an inbound message (`unsupported`).
    pub error: Option<MetaError>,
    pub pricing: Option<Pricing>,
    pub edited_at: Option<Timestamp>,
    /// Deleted for everyone. The content is kept for the business's record; the inbox hides it.
    pub revoked_at: Option<Timestamp>,
}

/// One received status webhook for a message (deduplicated per wamid and status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub status: MessageStatus,
    /// Meta's time for the status.
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub error: Option<MetaError>,
    pub pricing: Option<Pricing>,
}

/// The thread between one business number and one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub workspace: WorkspaceId,
    pub number: PhoneNumberId,
    pub contact: ContactId,
    pub created_at: Timestamp,
    /// The newest message's time, of any origin (the inbox sort key).
    pub last_message_at: Timestamp,
    /// The customer's last live inbound message: the only input of the 24 h customer-service
    /// window. Echoes and history never move it.
    pub last_inbound_at: Option<Timestamp>,
    /// The owner's last message from the phone app (human hand-off: hold automation).
    pub last_echo_at: Option<Timestamp>,
    /// The last outbound message of any origin except history.
    pub last_outbound_at: Option<Timestamp>,
    pub message_count: i64,
}

/// A conversation with its contact, as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub contact: Contact,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for name in ["text", "image", "media_placeholder", "unsupported", "order"] {
            assert_eq!(MessageKind::from_meta(name).as_str(), name);
        }
        assert_eq!(
            MessageKind::from_meta("poll"),
            MessageKind::Other("poll".into())
        );
        assert!(MessageKind::Image.is_media());
        assert!(!MessageKind::MediaPlaceholder.is_media());
    }

    #[test]
    fn origins() {
        assert!(Origin::Campaign.is_api());
        assert!(!Origin::BusinessApp.is_api());
        assert_eq!(Origin::HistoryImport.as_str(), "history_import");
        assert_eq!(
            "business_app".parse::<Origin>().unwrap(),
            Origin::BusinessApp
        );
    }
}
