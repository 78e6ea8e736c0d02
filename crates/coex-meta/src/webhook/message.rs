//! One message as webhooks carry it: inbound `messages[]`, `smb_message_echoes`
//! `message_echoes[]`, history `threads[].messages[]` and the history media follow-up.
//!
//! The four share one shape (spec/cloud-api.md §1.1, §2.2, §2.3): identity fields, `id`,
//! `timestamp`, `type`, and the content under a key named after the type. So there is one
//! [`Message`] struct with every content key as an optional field, rather than an enum keyed
//! by type: it keeps a payload whose `type` and content disagree, and a type this version does
//! not know keeps its content in `extra`. [`Message::content`] gives the typed view.

use coex_core::{Bsuid, MediaId, Wamid};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::walk::walk_struct;
use super::wire::{Extra, Numeric, Timestamp, WebhookError, WirePhone, wire_enum};

wire_enum!(
    /// `messages[].type`.
    MessageType / UnknownMessageType {
        Text => "text",
        Image => "image",
        Audio => "audio",
        Video => "video",
        Document => "document",
        Sticker => "sticker",
        Location => "location",
        Contacts => "contacts",
        Interactive => "interactive",
        /// A quick-reply button of a template.
        Button => "button",
        Reaction => "reaction",
        Order => "order",
        System => "system",
        /// A user (or, as an echo, the business) edited an earlier message.
        Edit => "edit",
        /// A user (or, as an echo, the business) deleted an earlier message for everyone.
        Revoke => "revoke",
        /// Meta could not deliver the content (e.g. coexistence error 131060); see `errors`.
        Unsupported => "unsupported",
        /// The user opened the chat for the first time (no content).
        RequestWelcome => "request_welcome",
        /// A history media message older than the media window (no content).
        MediaPlaceholder => "media_placeholder",
        /// A template, in echoes that mirror the send shape.
        Template => "template",
    }
);

/// One message. Every field is optional because each context omits some (spec/cloud-api.md
/// §10.3: phone fields disappear for username users; the nested message of an edit has no
/// `id`; history business messages may lack `to`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    /// Sender's phone number: the user for inbound, the business display number for echoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<WirePhone>,
    /// Sender's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<Bsuid>,
    /// Sender's parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_parent_user_id: Option<Bsuid>,
    /// Recipient's phone number (echoes, business-sent history messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<WirePhone>,
    /// Recipient's BSUID (echoes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<Bsuid>,
    /// Recipient's parent BSUID (echoes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_parent_user_id: Option<Bsuid>,
    /// The message id (`wamid.…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Wamid>,
    /// Unix seconds: when the webhook fired, or for history the device timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The message type, which names the content key.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageType>,
    /// The message this one replies to or was forwarded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// The ad (click-to-WhatsApp) that led to this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// Message-level errors (with `type: unsupported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WebhookError>>,
    /// History only: the message's delivery state on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_context: Option<HistoryContext>,

    /// `type: text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// `type: image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    /// `type: audio` (`voice: true` for voice notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Media>,
    /// `type: video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    /// `type: document` (with `filename`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
    /// `type: sticker` (with `animated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<Media>,
    /// `type: location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// `type: contacts`: shared contact cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactCard>>,
    /// `type: interactive`: a reply to buttons, a list or a flow (or, in echoes, the send shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
    /// `type: button`: a template quick-reply tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<Button>,
    /// `type: reaction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// `type: order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// `type: system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// `type: edit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<Edit>,
    /// `type: revoke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<Revoke>,
    /// `type: unsupported`: what Meta could not deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<Unsupported>,
    /// `type: template` (send shape, kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// Keys not modelled here, including the content of an unknown `type`.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A borrowed, typed view of a message's content, chosen by its `type`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Content<'a> {
    /// Text.
    Text(&'a Text),
    /// Image.
    Image(&'a Media),
    /// Audio or voice note.
    Audio(&'a Media),
    /// Video.
    Video(&'a Media),
    /// Document.
    Document(&'a Media),
    /// Sticker.
    Sticker(&'a Media),
    /// Location.
    Location(&'a Location),
    /// Contact cards.
    Contacts(&'a [ContactCard]),
    /// Interactive reply.
    Interactive(&'a Interactive),
    /// Template button tap.
    Button(&'a Button),
    /// Reaction (or its removal).
    Reaction(&'a Reaction),
    /// Order.
    Order(&'a Order),
    /// System notice.
    System(&'a System),
    /// Edit of an earlier message.
    Edit(&'a Edit),
    /// Revoke of an earlier message.
    Revoke(&'a Revoke),
    /// Undeliverable content; see the message's `errors`.
    Unsupported(Option<&'a Unsupported>),
    /// Template (send shape).
    Template(&'a Value),
    /// The user opened the chat; no content.
    RequestWelcome,
    /// History media without content.
    MediaPlaceholder,
    /// The `type` is known but its content key is absent.
    Missing,
    /// The message has no `type`.
    Untyped,
    /// A type this version does not know; `raw` is the content under the key named by the type.
    Unknown {
        /// The wire `type`.
        kind: &'a str,
        /// The content, if present.
        raw: Option<&'a Value>,
    },
}

impl Message {
    /// The content selected by `type`.
    pub fn content(&self) -> Content<'_> {
        fn or_missing<'a, T>(
            v: Option<&'a T>,
            f: impl FnOnce(&'a T) -> Content<'a>,
        ) -> Content<'a> {
            v.map_or(Content::Missing, f)
        }
        let Some(kind) = &self.kind else {
            return Content::Untyped;
        };
        match kind {
            MessageType::Text => or_missing(self.text.as_ref(), Content::Text),
            MessageType::Image => or_missing(self.image.as_ref(), Content::Image),
            MessageType::Audio => or_missing(self.audio.as_ref(), Content::Audio),
            MessageType::Video => or_missing(self.video.as_ref(), Content::Video),
            MessageType::Document => or_missing(self.document.as_ref(), Content::Document),
            MessageType::Sticker => or_missing(self.sticker.as_ref(), Content::Sticker),
            MessageType::Location => or_missing(self.location.as_ref(), Content::Location),
            MessageType::Contacts => {
                or_missing(self.contacts.as_ref(), |c| Content::Contacts(c.as_slice()))
            }
            MessageType::Interactive => or_missing(self.interactive.as_ref(), Content::Interactive),
            MessageType::Button => or_missing(self.button.as_ref(), Content::Button),
            MessageType::Reaction => or_missing(self.reaction.as_ref(), Content::Reaction),
            MessageType::Order => or_missing(self.order.as_ref(), Content::Order),
            MessageType::System => or_missing(self.system.as_ref(), Content::System),
            MessageType::Edit => or_missing(self.edit.as_ref(), Content::Edit),
            MessageType::Revoke => or_missing(self.revoke.as_ref(), Content::Revoke),
            MessageType::Unsupported => Content::Unsupported(self.unsupported.as_ref()),
            MessageType::Template => or_missing(self.template.as_ref(), Content::Template),
            MessageType::RequestWelcome => Content::RequestWelcome,
            MessageType::MediaPlaceholder => Content::MediaPlaceholder,
            MessageType::Unknown(k) => Content::Unknown {
                kind: k,
                raw: self.extra.get(k.as_str()),
            },
        }
    }

    /// The message's `timestamp` in Unix seconds.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.timestamp.as_ref().and_then(Timestamp::seconds)
    }

    /// The wamid this message acts on: the edited or revoked message, or the one reacted to.
    pub fn target_id(&self) -> Option<&Wamid> {
        match self.kind.as_ref()? {
            MessageType::Edit => self.edit.as_ref()?.original_message_id.as_ref(),
            MessageType::Revoke => self.revoke.as_ref()?.original_message_id.as_ref(),
            MessageType::Reaction => self.reaction.as_ref()?.message_id.as_ref(),
            _ => None,
        }
    }

    /// The media object, for the five media types.
    pub fn media(&self) -> Option<&Media> {
        match self.content() {
            Content::Image(m)
            | Content::Audio(m)
            | Content::Video(m)
            | Content::Document(m)
            | Content::Sticker(m) => Some(m),
            _ => None,
        }
    }
}

/// `text`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Text {
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Send shape: whether to render a link preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `image`, `audio`, `video`, `document` and `sticker`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Media {
    /// The media asset id, to download through the Graph API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MediaId>,
    /// A download URL, on newer inbound webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Send shape: a public link instead of an uploaded id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// SHA-256 of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Caption (image, video, document); absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Document file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Audio: a voice note rather than an audio file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
    /// Sticker: animated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `location`. Coordinates keep their JSON number form so they round-trip exactly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<Number>,
    /// Longitude in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<Number>,
    /// Place name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// URL of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `contacts[].origin` on a shared card (spec/cloud-api.md §10.5).
    ContactOrigin / UnknownValue {
        /// The user tapped a `REQUEST_CONTACT_INFO` button: the number is their own.
        ContactRequest => "contact_request",
        /// The user shared a card by hand (then `vcard` is present).
        Other => "other",
    }
);

/// One shared contact card (`type: contacts`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContactCard {
    /// Postal addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<CardAddress>>,
    /// Birthday, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<CardEmail>>,
    /// Name parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CardName>,
    /// Organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<CardOrg>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<CardPhone>>,
    /// Web addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<CardUrl>>,
    /// Why the card was shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<ContactOrigin>,
    /// The raw vCard, only for `origin: other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcard: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].addresses[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardAddress {
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// Country name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// `HOME`, `WORK`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].emails[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardEmail {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `HOME`, `WORK`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].name`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardName {
    /// The full name as displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_name: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].org`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardOrg {
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].phones[]`. `phone` is formatted (`+57 300 1234567`), `wa_id` is digits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardPhone {
    /// The number as the card shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<WirePhone>,
    /// The WhatsApp id (digits), when the number is on WhatsApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<WirePhone>,
    /// `CELL`, `MOBILE`, `HOME`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].urls[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CardUrl {
    /// The URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `HOME`, `WORK`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `interactive.type`: inbound replies, and in echoes the send-side kinds.
    InteractiveType / UnknownValue {
        /// Reply to reply buttons.
        ButtonReply => "button_reply",
        /// Reply to a list.
        ListReply => "list_reply",
        /// A WhatsApp Flow response.
        NfmReply => "nfm_reply",
        /// Send shape: reply buttons.
        Button => "button",
        /// Send shape: list.
        List => "list",
        /// Send shape: call-to-action URL button.
        CtaUrl => "cta_url",
        /// Send shape: flow.
        Flow => "flow",
        /// Send shape: single product.
        Product => "product",
        /// Send shape: product list.
        ProductList => "product_list",
        /// Send shape: location request.
        LocationRequestMessage => "location_request_message",
        /// Send shape: ask for the user's phone number.
        ContactRequest => "contact_request",
    }
);

/// `interactive`: an inbound reply, or in an echo the message as sent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interactive {
    /// Which reply (or send kind) this is.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<InteractiveType>,
    /// The tapped reply button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<ReplyChoice>,
    /// The chosen list row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<ReplyChoice>,
    /// The submitted flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfm_reply: Option<NfmReply>,
    /// Send shape: header (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Value>,
    /// Send shape: body (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Send shape: footer (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<Value>,
    /// Send shape: action (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `interactive.button_reply` and `interactive.list_reply`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyChoice {
    /// The id we gave the button or row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// List rows: the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `interactive.nfm_reply`: a flow response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NfmReply {
    /// The flow's answers as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_json: Option<String>,
    /// The text shown in the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `flow` or `address_message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `button`: a template quick-reply tap.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Button {
    /// The payload we set on the button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The button's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `reaction`. No `emoji` means the reaction was removed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reaction {
    /// The message reacted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Wamid>,
    /// The emoji; absent (or empty) when the reaction is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Reaction {
    /// Whether this reaction removes an earlier one.
    pub fn is_removal(&self) -> bool {
        self.emoji.as_deref().is_none_or(str::is_empty)
    }
}

/// `order`: a cart sent from the catalog.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Order {
    /// Catalog id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// Text sent with the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_items: Option<Vec<ProductItem>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `order.product_items[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProductItem {
    /// Product SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_retailer_id: Option<String>,
    /// Quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Numeric>,
    /// Unit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_price: Option<Numeric>,
    /// ISO 4217 currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `referral`: the click-to-WhatsApp ad or post that started the chat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Referral {
    /// The ad's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The ad id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// Headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// Body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `image` or `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Video URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    /// Thumbnail URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Click id for conversion tracking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    /// The ad's welcome message (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_message: Option<Value>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `context`: what a message replies to, or that it was forwarded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Context {
    /// The sender of the quoted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<WirePhone>,
    /// The quoted message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Wamid>,
    /// Forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    /// Forwarded many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequently_forwarded: Option<bool>,
    /// The product asked about ("Message business" on a product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_product: Option<ReferredProduct>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `context.referred_product`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReferredProduct {
    /// Catalog id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// Product SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_retailer_id: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `edit`: a new version of an earlier message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Edit {
    /// The message being edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_message_id: Option<Wamid>,
    /// The new content, as a message without id or sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Message>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `revoke`: an earlier message deleted for everyone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Revoke {
    /// The message being revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_message_id: Option<Wamid>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `system.type`.
    SystemType / UnknownValue {
        /// The user moved to a new phone number (`wa_id`/`new_wa_id` is the new one).
        UserChangedNumber => "user_changed_number",
        /// The user's BSUID changed (spec/cloud-api.md §10.3); `user_id` is the new one.
        UserChangedUserId => "user_changed_user_id",
        /// The user's security identity changed.
        CustomerIdentityChanged => "customer_identity_changed",
    }
);

/// `system`: a notice about the user rather than a message from them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct System {
    /// Human-readable notice ("User A changed from X to Y").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// What happened.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SystemType>,
    /// The (new) phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<WirePhone>,
    /// The new phone number, in the older `user_changed_number` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_wa_id: Option<WirePhone>,
    /// The (new) BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Bsuid>,
    /// The parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// The customer the notice is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `unsupported`: what kind of content could not be delivered.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Unsupported {
    /// The undeliverable type, e.g. `edit` or `view_once`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `history_context.status`: the message's state on the phone at sync time.
    HistoryStatus / UnknownValue {
        Delivered => "DELIVERED",
        Error => "ERROR",
        Pending => "PENDING",
        Played => "PLAYED",
        Read => "READ",
        Sent => "SENT",
    }
);

/// `history_context`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryContext {
    /// Delivery state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HistoryStatus>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(Message {
    kind => "type",
    context => "context",
    referral => "referral",
    errors => "errors",
    history_context => "history_context",
    text => "text",
    image => "image",
    audio => "audio",
    video => "video",
    document => "document",
    sticker => "sticker",
    location => "location",
    contacts => "contacts",
    interactive => "interactive",
    button => "button",
    reaction => "reaction",
    order => "order",
    system => "system",
    edit => "edit",
    revoke => "revoke",
    unsupported => "unsupported",
});
walk_struct!(Text {});
walk_struct!(Media {});
walk_struct!(Location {});
walk_struct!(ContactCard {
    addresses => "addresses",
    emails => "emails",
    name => "name",
    org => "org",
    phones => "phones",
    urls => "urls",
    origin => "origin",
});
walk_struct!(CardAddress {});
walk_struct!(CardEmail {});
walk_struct!(CardName {});
walk_struct!(CardOrg {});
walk_struct!(CardPhone {});
walk_struct!(CardUrl {});
walk_struct!(Interactive {
    kind => "type",
    button_reply => "button_reply",
    list_reply => "list_reply",
    nfm_reply => "nfm_reply",
});
walk_struct!(ReplyChoice {});
walk_struct!(NfmReply {});
walk_struct!(Button {});
walk_struct!(Reaction {});
walk_struct!(Order { product_items => "product_items" });
walk_struct!(ProductItem {});
walk_struct!(Referral {});
walk_struct!(Context { referred_product => "referred_product" });
walk_struct!(ReferredProduct {});
walk_struct!(Edit { message => "message" });
walk_struct!(Revoke {});
walk_struct!(System { kind => "type" });
walk_struct!(Unsupported {});
walk_struct!(HistoryContext { status => "status" });
