//! `POST /{phone_number_id}/messages`: sends, mark-as-read, and the send response
//! (spec/cloud-api.md §3.1, §10.4).
//!
//! A send body names its content by `type` and carries it under a key of the same name
//! (`"type": "text", "text": {…}`). [`SendMessageRequest`] turns that into
//! [`MessageContent`], an enum that is either well-typed or explicitly
//! [`MessageContent::Unknown`] with the raw JSON kept, so the emulator can accept whatever real
//! clients send and the hub can never build a half-typed body. A *known* type with malformed
//! content is a parse error (Meta answers those with 100/131008), not an `Unknown`.
//!
//! Every struct keeps keys it does not model in `extra`, so parsing and re-serialising a body
//! loses nothing. [`SendMessageRequest::validate`] checks Meta's documented limits and maps each
//! violation to the error code Meta would answer with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use coex_core::{Bsuid, IdError, MediaId, PhoneError, PhoneNumber, Wamid};

use super::error::{ErrorCode, GraphErrorBody};
use super::wire::{
    Extra, MESSAGING_PRODUCT, f64_lenient, messaging_product, opt_u32_as_string, opt_u32_lenient,
    wire_enum,
};

/// Meta's documented limits for message content, in characters (Unicode scalar values).
pub mod limits {
    /// Text message body.
    pub const TEXT_BODY_MAX: usize = 4096;
    /// Media caption (image, video, document).
    pub const CAPTION_MAX: usize = 1024;
    /// Interactive message body.
    pub const INTERACTIVE_BODY_MAX: usize = 1024;
    /// Interactive header text.
    pub const HEADER_TEXT_MAX: usize = 60;
    /// Interactive footer.
    pub const FOOTER_MAX: usize = 60;
    /// Reply buttons per message.
    pub const REPLY_BUTTONS_MAX: usize = 3;
    /// Reply-button title.
    pub const BUTTON_TITLE_MAX: usize = 20;
    /// Reply-button id.
    pub const BUTTON_ID_MAX: usize = 256;
    /// List button label (`action.button`).
    pub const LIST_BUTTON_MAX: usize = 20;
    /// Sections in a list.
    pub const LIST_SECTIONS_MAX: usize = 10;
    /// Rows in a list, across all sections.
    pub const LIST_ROWS_MAX: usize = 10;
    /// Section title.
    pub const SECTION_TITLE_MAX: usize = 24;
    /// Row title.
    pub const ROW_TITLE_MAX: usize = 24;
    /// Row description.
    pub const ROW_DESCRIPTION_MAX: usize = 72;
    /// Row id.
    pub const ROW_ID_MAX: usize = 200;
}

wire_enum!(
    /// `recipient_type`.
    RecipientType {
        Individual = "individual",
        Group = "group",
    }
);

/// `context`: the message this one replies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    pub message_id: Wamid,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Who a send goes to, resolved from `to` / `recipient` / `recipient_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A phone number, sent in `to`.
    Phone(PhoneNumber),
    /// A business-scoped user id (or parent BSUID), sent in `recipient` (spec §10.4).
    User(Bsuid),
    /// A group id, sent in `to` with `recipient_type: "group"`.
    Group(String),
}

impl From<PhoneNumber> for Recipient {
    fn from(p: PhoneNumber) -> Self {
        Recipient::Phone(p)
    }
}

impl From<Bsuid> for Recipient {
    fn from(b: Bsuid) -> Self {
        Recipient::User(b)
    }
}

/// Why a send's recipient could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    #[error("neither `to` nor `recipient` is set")]
    Missing,
    #[error("`to` is not a phone number: {0}")]
    BadPhone(#[source] PhoneError),
    #[error("`recipient` is not a business-scoped user id: {0}")]
    BadBsuid(#[source] IdError),
}

/// A send request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SendWire", into = "SendWire")]
pub struct SendMessageRequest {
    /// Always `"whatsapp"`.
    pub messaging_product: String,
    pub recipient_type: Option<RecipientType>,
    /// A phone number as the client wrote it (`+`, spaces, dashes allowed), or a group id.
    /// Kept verbatim because the response's `contacts[].input` echoes it.
    pub to: Option<String>,
    /// A BSUID or parent BSUID (spec §10.4). `to` wins when both are set.
    pub recipient: Option<String>,
    pub context: Option<MessageContext>,
    /// Echoed in status webhooks.
    pub biz_opaque_callback_data: Option<String>,
    pub content: MessageContent,
    /// Top-level keys not modelled above.
    pub extra: Extra,
}

/// The content of a send, named by its `type`.
// One value per send, matched far more often than moved: boxing the larger variants would
// add noise to every constructor and match for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    Text(TextContent),
    Image(MediaContent),
    Audio(MediaContent),
    Video(MediaContent),
    Document(MediaContent),
    Sticker(MediaContent),
    Template(TemplateContent),
    Interactive(InteractiveContent),
    Reaction(ReactionContent),
    Location(LocationContent),
    Contacts(Vec<ContactCard>),
    /// A `type` this version does not model, with the object under that key (if any).
    Unknown {
        kind: String,
        body: Option<Value>,
    },
}

impl MessageContent {
    /// The `type` value.
    pub fn kind(&self) -> &str {
        match self {
            MessageContent::Text(_) => "text",
            MessageContent::Image(_) => "image",
            MessageContent::Audio(_) => "audio",
            MessageContent::Video(_) => "video",
            MessageContent::Document(_) => "document",
            MessageContent::Sticker(_) => "sticker",
            MessageContent::Template(_) => "template",
            MessageContent::Interactive(_) => "interactive",
            MessageContent::Reaction(_) => "reaction",
            MessageContent::Location(_) => "location",
            MessageContent::Contacts(_) => "contacts",
            MessageContent::Unknown { kind, .. } => kind,
        }
    }

    /// Whether this is a template (the only kind allowed outside the service window).
    pub fn is_template(&self) -> bool {
        matches!(self, MessageContent::Template(_))
    }

    /// The media object, for the five media kinds.
    pub fn media(&self) -> Option<&MediaContent> {
        match self {
            MessageContent::Image(m)
            | MessageContent::Audio(m)
            | MessageContent::Video(m)
            | MessageContent::Document(m)
            | MessageContent::Sticker(m) => Some(m),
            _ => None,
        }
    }

    fn from_parts(kind: &str, body: Option<Value>) -> Result<Self, String> {
        fn typed<T: serde::de::DeserializeOwned>(
            kind: &str,
            body: Option<Value>,
        ) -> Result<T, String> {
            let body = body
                .ok_or_else(|| format!("`type` is {kind:?} but the `{kind}` object is missing"))?;
            serde_json::from_value(body).map_err(|e| format!("invalid `{kind}` object: {e}"))
        }
        Ok(match kind {
            "text" => MessageContent::Text(typed(kind, body)?),
            "image" => MessageContent::Image(typed(kind, body)?),
            "audio" => MessageContent::Audio(typed(kind, body)?),
            "video" => MessageContent::Video(typed(kind, body)?),
            "document" => MessageContent::Document(typed(kind, body)?),
            "sticker" => MessageContent::Sticker(typed(kind, body)?),
            "template" => MessageContent::Template(typed(kind, body)?),
            "interactive" => MessageContent::Interactive(typed(kind, body)?),
            "reaction" => MessageContent::Reaction(typed(kind, body)?),
            "location" => MessageContent::Location(typed(kind, body)?),
            "contacts" => MessageContent::Contacts(typed(kind, body)?),
            other => MessageContent::Unknown {
                kind: other.to_owned(),
                body,
            },
        })
    }

    fn into_parts(self) -> (String, Option<Value>) {
        // Serialising these plain structs cannot fail (string keys only); should it ever,
        // the content is written as null rather than aborting the whole request.
        fn v<T: Serialize>(t: &T) -> Option<Value> {
            Some(serde_json::to_value(t).unwrap_or(Value::Null))
        }
        let kind = self.kind().to_owned();
        let body = match &self {
            MessageContent::Text(c) => v(c),
            MessageContent::Image(c)
            | MessageContent::Audio(c)
            | MessageContent::Video(c)
            | MessageContent::Document(c)
            | MessageContent::Sticker(c) => v(c),
            MessageContent::Template(c) => v(c),
            MessageContent::Interactive(c) => v(c),
            MessageContent::Reaction(c) => v(c),
            MessageContent::Location(c) => v(c),
            MessageContent::Contacts(c) => v(c),
            MessageContent::Unknown { body, .. } => body.clone(),
        };
        (kind, body)
    }
}

/// The flat wire shape serde reads and writes; [`SendMessageRequest`] is built from it.
#[derive(Serialize, Deserialize)]
struct SendWire {
    #[serde(default = "messaging_product")]
    messaging_product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipient_type: Option<RecipientType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<MessageContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(flatten)]
    rest: Extra,
}

impl TryFrom<SendWire> for SendMessageRequest {
    type Error = String;

    fn try_from(mut w: SendWire) -> Result<Self, String> {
        // Meta treats a body without `type` as text.
        let kind = w.kind.unwrap_or_else(|| "text".to_owned());
        let body = w.rest.remove(&kind);
        let content = MessageContent::from_parts(&kind, body)?;
        Ok(SendMessageRequest {
            messaging_product: w.messaging_product,
            recipient_type: w.recipient_type,
            to: w.to,
            recipient: w.recipient,
            context: w.context,
            biz_opaque_callback_data: w.biz_opaque_callback_data,
            content,
            extra: w.rest,
        })
    }
}

impl From<SendMessageRequest> for SendWire {
    fn from(r: SendMessageRequest) -> Self {
        let (kind, body) = r.content.into_parts();
        let mut rest = r.extra;
        if let Some(body) = body {
            rest.insert(kind.clone(), body);
        }
        SendWire {
            messaging_product: r.messaging_product,
            recipient_type: r.recipient_type,
            to: r.to,
            recipient: r.recipient,
            context: r.context,
            biz_opaque_callback_data: r.biz_opaque_callback_data,
            kind: Some(kind),
            rest,
        }
    }
}

impl SendMessageRequest {
    /// A send of `content` to `to`: phones go in `to` as `+<digits>`, BSUIDs in `recipient`,
    /// groups in `to` with `recipient_type: "group"`.
    pub fn new(to: impl Into<Recipient>, content: MessageContent) -> Self {
        let (recipient_type, to, recipient) = match to.into() {
            Recipient::Phone(p) => (RecipientType::Individual, Some(p.e164()), None),
            Recipient::User(b) => (RecipientType::Individual, None, Some(b.as_str().to_owned())),
            Recipient::Group(g) => (RecipientType::Group, Some(g), None),
        };
        Self {
            messaging_product: messaging_product(),
            recipient_type: Some(recipient_type),
            to,
            recipient,
            context: None,
            biz_opaque_callback_data: None,
            content,
            extra: Extra::new(),
        }
    }

    /// A text message.
    pub fn text(to: impl Into<Recipient>, body: impl Into<String>) -> Self {
        Self::new(to, MessageContent::Text(TextContent::new(body)))
    }

    pub fn image(to: impl Into<Recipient>, media: MediaContent) -> Self {
        Self::new(to, MessageContent::Image(media))
    }

    pub fn audio(to: impl Into<Recipient>, media: MediaContent) -> Self {
        Self::new(to, MessageContent::Audio(media))
    }

    pub fn video(to: impl Into<Recipient>, media: MediaContent) -> Self {
        Self::new(to, MessageContent::Video(media))
    }

    pub fn document(to: impl Into<Recipient>, media: MediaContent) -> Self {
        Self::new(to, MessageContent::Document(media))
    }

    pub fn sticker(to: impl Into<Recipient>, media: MediaContent) -> Self {
        Self::new(to, MessageContent::Sticker(media))
    }

    pub fn template(to: impl Into<Recipient>, template: TemplateContent) -> Self {
        Self::new(to, MessageContent::Template(template))
    }

    pub fn interactive(to: impl Into<Recipient>, interactive: InteractiveContent) -> Self {
        Self::new(to, MessageContent::Interactive(interactive))
    }

    /// Reply buttons: `buttons` are `(id, title)` pairs.
    pub fn buttons(
        to: impl Into<Recipient>,
        body: impl Into<String>,
        buttons: &[(&str, &str)],
    ) -> Self {
        Self::interactive(to, InteractiveContent::buttons(body, buttons))
    }

    /// A reaction; an empty `emoji` removes an earlier one.
    pub fn reaction(to: impl Into<Recipient>, message_id: Wamid, emoji: impl Into<String>) -> Self {
        Self::new(
            to,
            MessageContent::Reaction(ReactionContent {
                message_id,
                emoji: emoji.into(),
                extra: Extra::new(),
            }),
        )
    }

    pub fn location(to: impl Into<Recipient>, location: LocationContent) -> Self {
        Self::new(to, MessageContent::Location(location))
    }

    pub fn contacts(to: impl Into<Recipient>, cards: Vec<ContactCard>) -> Self {
        Self::new(to, MessageContent::Contacts(cards))
    }

    /// Makes this a reply to `message_id` (sets `context`).
    pub fn reply_to(mut self, message_id: Wamid) -> Self {
        self.context = Some(MessageContext {
            message_id,
            extra: Extra::new(),
        });
        self
    }

    /// Sets `biz_opaque_callback_data`, echoed in this message's status webhooks.
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Self {
        self.biz_opaque_callback_data = Some(data.into());
        self
    }

    /// What Meta echoes as `contacts[].input`: `to` if set, else `recipient`.
    pub fn input(&self) -> Option<&str> {
        self.to.as_deref().or(self.recipient.as_deref())
    }

    /// Who this goes to. `to` wins over `recipient` (spec §10.4).
    pub fn target(&self) -> Result<Recipient, RecipientError> {
        if let Some(to) = &self.to {
            if self.recipient_type == Some(RecipientType::Group) {
                return Ok(Recipient::Group(to.clone()));
            }
            return PhoneNumber::parse(to)
                .map(Recipient::Phone)
                .map_err(RecipientError::BadPhone);
        }
        match &self.recipient {
            Some(r) => Bsuid::parse(r.as_str())
                .map(Recipient::User)
                .map_err(RecipientError::BadBsuid),
            None => Err(RecipientError::Missing),
        }
    }

    /// Checks Meta's documented limits; the first violation found is returned.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.messaging_product != MESSAGING_PRODUCT {
            return Err(ValidationError::Invalid {
                field: "messaging_product",
                reason: "must be \"whatsapp\"",
            });
        }
        match self.target() {
            Ok(_) => {}
            Err(RecipientError::Missing) => return Err(ValidationError::Missing { field: "to" }),
            Err(RecipientError::BadPhone(_)) => {
                return Err(ValidationError::Invalid {
                    field: "to",
                    reason: "not a phone number",
                });
            }
            Err(RecipientError::BadBsuid(_)) => {
                return Err(ValidationError::Invalid {
                    field: "recipient",
                    reason: "not a business-scoped user id",
                });
            }
        }
        match &self.content {
            MessageContent::Text(t) => {
                non_empty("text.body", &t.body)?;
                max_chars("text.body", &t.body, limits::TEXT_BODY_MAX)
            }
            MessageContent::Image(m) | MessageContent::Video(m) => m.validate(true, false),
            MessageContent::Document(m) => m.validate(true, true),
            MessageContent::Audio(m) | MessageContent::Sticker(m) => m.validate(false, false),
            MessageContent::Template(t) => t.validate(),
            MessageContent::Interactive(i) => i.validate(),
            MessageContent::Reaction(_) => Ok(()),
            MessageContent::Location(l) => l.validate(),
            MessageContent::Contacts(c) => {
                if c.is_empty() {
                    Err(ValidationError::Missing { field: "contacts" })
                } else {
                    Ok(())
                }
            }
            MessageContent::Unknown { .. } => Err(ValidationError::Invalid {
                field: "type",
                reason: "unsupported message type",
            }),
        }
    }
}

/// A limit or shape rule a send breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("{field} has {len} characters; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} has {count} items; at most {max} are allowed")]
    TooMany {
        field: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl ValidationError {
    /// The code Meta answers this violation with: 131008 for a missing field, 131051 for an
    /// unknown type, 100 for limits and other bad values [INF: Meta documents length limits
    /// under 100 and "parameter value invalid" under 131009; it does not map each case].
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ValidationError::Missing { .. } => ErrorCode::RequiredParameterMissing,
            ValidationError::Invalid { field: "type", .. } => ErrorCode::UnsupportedMessageType,
            ValidationError::Invalid { .. } => ErrorCode::ParameterValueInvalid,
            ValidationError::TooLong { .. } | ValidationError::TooMany { .. } => {
                ErrorCode::InvalidParameter
            }
        }
    }

    /// The error body the emulator answers with.
    pub fn to_graph_error(&self) -> GraphErrorBody {
        GraphErrorBody::new(self.error_code()).with_details(self.to_string())
    }
}

fn max_chars(field: &'static str, s: &str, max: usize) -> Result<(), ValidationError> {
    let len = s.chars().count();
    if len > max {
        Err(ValidationError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

fn non_empty(field: &'static str, s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        Err(ValidationError::Missing { field })
    } else {
        Ok(())
    }
}

/// `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextContent {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TextContent {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            preview_url: None,
            extra: Extra::new(),
        }
    }
}

/// `image`, `audio`, `video`, `document` and `sticker`: an uploaded `id` or a `link`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MediaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Image, video and document only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Document only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl MediaContent {
    /// Media uploaded with `POST /{phone_number_id}/media` (Meta's recommendation).
    pub fn by_id(id: MediaId) -> Self {
        Self {
            id: Some(id),
            link: None,
            caption: None,
            filename: None,
            extra: Extra::new(),
        }
    }

    /// Media Meta fetches from a URL (cached for 10 minutes).
    pub fn by_link(link: impl Into<String>) -> Self {
        Self {
            id: None,
            link: Some(link.into()),
            caption: None,
            filename: None,
            extra: Extra::new(),
        }
    }

    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    fn validate(
        &self,
        caption_allowed: bool,
        filename_allowed: bool,
    ) -> Result<(), ValidationError> {
        if self.id.is_none() && self.link.as_deref().is_none_or(|l| l.trim().is_empty()) {
            return Err(ValidationError::Missing {
                field: "media id or link",
            });
        }
        if let Some(c) = &self.caption {
            if !caption_allowed {
                return Err(ValidationError::Invalid {
                    field: "caption",
                    reason: "only image, video and document take a caption",
                });
            }
            max_chars("caption", c, limits::CAPTION_MAX)?;
        }
        if self.filename.is_some() && !filename_allowed {
            return Err(ValidationError::Invalid {
                field: "filename",
                reason: "only documents take a filename",
            });
        }
        Ok(())
    }
}

/// `reaction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionContent {
    pub message_id: Wamid,
    /// An emoji, or `""` to remove the reaction.
    #[serde(default)]
    pub emoji: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationContent {
    #[serde(deserialize_with = "f64_lenient")]
    pub latitude: f64,
    #[serde(deserialize_with = "f64_lenient")]
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl LocationContent {
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            name: None,
            address: None,
            extra: Extra::new(),
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        if !(-90.0..=90.0).contains(&self.latitude) {
            return Err(ValidationError::Invalid {
                field: "location.latitude",
                reason: "must be between -90 and 90",
            });
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            return Err(ValidationError::Invalid {
                field: "location.longitude",
                reason: "must be between -180 and 180",
            });
        }
        Ok(())
    }
}

/// One card of a `contacts` message. Only the name and phones are modelled; emails, urls,
/// addresses, org and birthday stay in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCard {
    pub name: ContactName,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPhone>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactName {
    pub formatted_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `contacts[].phones[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactPhone {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `CELL`, `MAIN`, `IPHONE`, `HOME`, `WORK`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// Templates (sending)

/// `template`: send an approved template by name and language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateContent {
    pub name: String,
    pub language: TemplateLanguage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<SendComponent>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TemplateContent {
    pub fn new(name: impl Into<String>, language_code: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: TemplateLanguage {
                code: language_code.into(),
                policy: None,
                extra: Extra::new(),
            },
            components: Vec::new(),
            extra: Extra::new(),
        }
    }

    pub fn with_component(mut self, component: SendComponent) -> Self {
        self.components.push(component);
        self
    }

    /// The parameters given for the component of this type (and button index).
    pub fn parameters_for(
        &self,
        kind: &SendComponentType,
        index: Option<u32>,
    ) -> &[TemplateParameter] {
        self.components
            .iter()
            .find(|c| &c.kind == kind && (index.is_none() || c.index == index))
            .map(|c| c.parameters.as_slice())
            .unwrap_or(&[])
    }

    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("template.name", &self.name)?;
        non_empty("template.language.code", &self.language.code)?;
        for c in &self.components {
            if c.kind == SendComponentType::Button && c.index.is_none() {
                return Err(ValidationError::Missing {
                    field: "template.components[].index",
                });
            }
            for p in &c.parameters {
                p.validate()?;
            }
        }
        Ok(())
    }
}

/// `template.language`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateLanguage {
    /// `en_US`, `pt_BR`, …
    pub code: String,
    /// `deterministic` in older docs; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `template.components[].type` in a send (lowercase, unlike the management API).
    SendComponentType {
        Header = "header",
        Body = "body",
        Button = "button",
        Footer = "footer",
        Carousel = "carousel",
        LimitedTimeOffer = "limited_time_offer",
    }
);

wire_enum!(
    /// `sub_type` of a button component.
    ButtonSubType {
        QuickReply = "quick_reply",
        Url = "url",
        CopyCode = "copy_code",
        Flow = "flow",
        Catalog = "catalog",
        Mpm = "mpm",
        VoiceCall = "voice_call",
    }
);

/// One component of a template send, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendComponent {
    #[serde(rename = "type")]
    pub kind: SendComponentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<ButtonSubType>,
    /// Button position, written `"0"` (Meta's docs) but read from `0` too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u32_lenient",
        serialize_with = "opt_u32_as_string"
    )]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SendComponent {
    fn of(kind: SendComponentType, parameters: Vec<TemplateParameter>) -> Self {
        Self {
            kind,
            sub_type: None,
            index: None,
            parameters,
            extra: Extra::new(),
        }
    }

    pub fn header(parameters: Vec<TemplateParameter>) -> Self {
        Self::of(SendComponentType::Header, parameters)
    }

    pub fn body(parameters: Vec<TemplateParameter>) -> Self {
        Self::of(SendComponentType::Body, parameters)
    }

    /// A button component (`sub_type` and `index` are required by Meta).
    pub fn button(sub_type: ButtonSubType, index: u32, parameters: Vec<TemplateParameter>) -> Self {
        Self {
            sub_type: Some(sub_type),
            index: Some(index),
            ..Self::of(SendComponentType::Button, parameters)
        }
    }
}

wire_enum!(
    /// `parameters[].type`.
    ParameterType {
        Text = "text",
        Currency = "currency",
        DateTime = "date_time",
        Image = "image",
        Video = "video",
        Document = "document",
        Location = "location",
        Payload = "payload",
        Action = "action",
        CouponCode = "coupon_code",
    }
);

/// One template parameter; which field is set depends on `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateParameter {
    #[serde(rename = "type")]
    pub kind: ParameterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only for templates with named parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTimeValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<MediaContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<MediaContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationContent>,
    /// Flow / catalog button actions; shape varies by button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TemplateParameter {
    fn empty(kind: ParameterType) -> Self {
        Self {
            kind,
            text: None,
            parameter_name: None,
            payload: None,
            coupon_code: None,
            currency: None,
            date_time: None,
            image: None,
            video: None,
            document: None,
            location: None,
            action: None,
            extra: Extra::new(),
        }
    }

    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::empty(ParameterType::Text)
        }
    }

    /// A named text parameter (`{{name}}` templates).
    pub fn named_text(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            parameter_name: Some(name.into()),
            ..Self::text(text)
        }
    }

    /// A quick-reply button payload.
    pub fn payload(payload: impl Into<String>) -> Self {
        Self {
            payload: Some(payload.into()),
            ..Self::empty(ParameterType::Payload)
        }
    }

    /// A header image.
    pub fn image(media: MediaContent) -> Self {
        Self {
            image: Some(media),
            ..Self::empty(ParameterType::Image)
        }
    }

    /// A header video.
    pub fn video(media: MediaContent) -> Self {
        Self {
            video: Some(media),
            ..Self::empty(ParameterType::Video)
        }
    }

    /// A header document.
    pub fn document(media: MediaContent) -> Self {
        Self {
            document: Some(media),
            ..Self::empty(ParameterType::Document)
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let missing = |field| Err(ValidationError::Missing { field });
        match self.kind {
            ParameterType::Text if self.text.is_none() => missing("parameters[].text"),
            ParameterType::Payload if self.payload.is_none() => missing("parameters[].payload"),
            ParameterType::CouponCode if self.coupon_code.is_none() => {
                missing("parameters[].coupon_code")
            }
            ParameterType::Currency if self.currency.is_none() => missing("parameters[].currency"),
            ParameterType::DateTime if self.date_time.is_none() => {
                missing("parameters[].date_time")
            }
            ParameterType::Image if self.image.is_none() => missing("parameters[].image"),
            ParameterType::Video if self.video.is_none() => missing("parameters[].video"),
            ParameterType::Document if self.document.is_none() => missing("parameters[].document"),
            ParameterType::Location if self.location.is_none() => missing("parameters[].location"),
            _ => Ok(()),
        }
    }
}

/// `parameters[].currency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrencyValue {
    pub fallback_value: String,
    /// ISO 4217.
    pub code: String,
    /// The amount times 1000.
    pub amount_1000: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `parameters[].date_time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateTimeValue {
    pub fallback_value: String,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// Interactive

wire_enum!(
    /// `interactive.type`.
    InteractiveType {
        Button = "button",
        List = "list",
        CtaUrl = "cta_url",
        ContactRequest = "contact_request",
        Product = "product",
        ProductList = "product_list",
        Flow = "flow",
        LocationRequestMessage = "location_request_message",
        CatalogMessage = "catalog_message",
    }
);

wire_enum!(
    /// `interactive.header.type`.
    HeaderType {
        Text = "text",
        Image = "image",
        Video = "video",
        Document = "document",
    }
);

/// `interactive`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractiveContent {
    #[serde(rename = "type")]
    pub kind: InteractiveType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<InteractiveHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TextObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<InteractiveAction>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `header`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractiveHeader {
    #[serde(rename = "type")]
    pub kind: HeaderType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<MediaContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<MediaContent>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{ "text": "…" }`, used by `body` and `footer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextObject {
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TextObject {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            extra: Extra::new(),
        }
    }
}

/// `action`. Which fields apply depends on the interactive type: `buttons` for reply
/// buttons; `button` and `sections` for lists; `name` and `parameters` for cta_url, flow and
/// contact_request; catalog ids for product messages.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InteractiveAction {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
    /// The list's menu button label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<ListSection>,
    /// `cta_url`, `flow`, `request_contact_info`, `send_location`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_retailer_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reply button: `{ "type": "reply", "reply": { "id", "title" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyButton {
    #[serde(rename = "type", default = "reply_kind")]
    pub kind: String,
    pub reply: ReplyButtonBody,
    #[serde(flatten)]
    pub extra: Extra,
}

fn reply_kind() -> String {
    "reply".to_owned()
}

/// `reply` inside a reply button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyButtonBody {
    pub id: String,
    pub title: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ReplyButton {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            kind: reply_kind(),
            reply: ReplyButtonBody {
                id: id.into(),
                title: title.into(),
                extra: Extra::new(),
            },
            extra: Extra::new(),
        }
    }
}

/// A list section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<ListRow>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A list row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ListRow {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: None,
            extra: Extra::new(),
        }
    }
}

impl InteractiveContent {
    fn of(kind: InteractiveType, body: impl Into<String>, action: InteractiveAction) -> Self {
        Self {
            kind,
            header: None,
            body: Some(TextObject::new(body)),
            footer: None,
            action: Some(action),
            extra: Extra::new(),
        }
    }

    /// Reply buttons from `(id, title)` pairs.
    pub fn buttons(body: impl Into<String>, buttons: &[(&str, &str)]) -> Self {
        let action = InteractiveAction {
            buttons: buttons
                .iter()
                .map(|(id, title)| ReplyButton::new(*id, *title))
                .collect(),
            ..InteractiveAction::default()
        };
        Self::of(InteractiveType::Button, body, action)
    }

    /// A list message behind a menu button labelled `button`.
    pub fn list(
        body: impl Into<String>,
        button: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Self {
        let action = InteractiveAction {
            button: Some(button.into()),
            sections,
            ..InteractiveAction::default()
        };
        Self::of(InteractiveType::List, body, action)
    }

    /// A `REQUEST_CONTACT_INFO` message asking a username-only user for their number
    /// (spec §10.5).
    pub fn contact_request(body: impl Into<String>) -> Self {
        let action = InteractiveAction {
            name: Some("request_contact_info".to_owned()),
            ..InteractiveAction::default()
        };
        Self::of(InteractiveType::ContactRequest, body, action)
    }

    pub fn with_footer(mut self, text: impl Into<String>) -> Self {
        self.footer = Some(TextObject::new(text));
        self
    }

    pub fn with_header_text(mut self, text: impl Into<String>) -> Self {
        self.header = Some(InteractiveHeader {
            kind: HeaderType::Text,
            text: Some(text.into()),
            image: None,
            video: None,
            document: None,
            extra: Extra::new(),
        });
        self
    }

    fn validate(&self) -> Result<(), ValidationError> {
        if let Some(b) = &self.body {
            max_chars(
                "interactive.body.text",
                &b.text,
                limits::INTERACTIVE_BODY_MAX,
            )?;
        }
        if let Some(f) = &self.footer {
            max_chars("interactive.footer.text", &f.text, limits::FOOTER_MAX)?;
        }
        if let Some(h) = &self.header {
            match h.kind {
                HeaderType::Text => {
                    let t = h.text.as_deref().unwrap_or("");
                    non_empty("interactive.header.text", t)?;
                    max_chars("interactive.header.text", t, limits::HEADER_TEXT_MAX)?;
                }
                HeaderType::Image | HeaderType::Video | HeaderType::Document => {
                    let m = h
                        .image
                        .as_ref()
                        .or(h.video.as_ref())
                        .or(h.document.as_ref());
                    match m {
                        Some(m) => m.validate(false, true)?,
                        None => {
                            return Err(ValidationError::Missing {
                                field: "interactive.header media",
                            });
                        }
                    }
                }
                HeaderType::Other(_) => {}
            }
        }
        let needs_body = matches!(
            self.kind,
            InteractiveType::Button
                | InteractiveType::List
                | InteractiveType::CtaUrl
                | InteractiveType::ContactRequest
                | InteractiveType::ProductList
                | InteractiveType::Flow
        );
        if needs_body && self.body.as_ref().is_none_or(|b| b.text.trim().is_empty()) {
            return Err(ValidationError::Missing {
                field: "interactive.body",
            });
        }
        let Some(action) = &self.action else {
            return Err(ValidationError::Missing {
                field: "interactive.action",
            });
        };
        match self.kind {
            InteractiveType::Button => validate_buttons(&action.buttons),
            InteractiveType::List => validate_list(action),
            InteractiveType::CtaUrl | InteractiveType::Flow => {
                if action.parameters.is_none() {
                    Err(ValidationError::Missing {
                        field: "interactive.action.parameters",
                    })
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

fn validate_buttons(buttons: &[ReplyButton]) -> Result<(), ValidationError> {
    if buttons.is_empty() {
        return Err(ValidationError::Missing {
            field: "interactive.action.buttons",
        });
    }
    if buttons.len() > limits::REPLY_BUTTONS_MAX {
        return Err(ValidationError::TooMany {
            field: "interactive.action.buttons",
            count: buttons.len(),
            max: limits::REPLY_BUTTONS_MAX,
        });
    }
    for (i, b) in buttons.iter().enumerate() {
        non_empty("interactive.action.buttons[].reply.id", &b.reply.id)?;
        non_empty("interactive.action.buttons[].reply.title", &b.reply.title)?;
        max_chars(
            "interactive.action.buttons[].reply.id",
            &b.reply.id,
            limits::BUTTON_ID_MAX,
        )?;
        max_chars(
            "interactive.action.buttons[].reply.title",
            &b.reply.title,
            limits::BUTTON_TITLE_MAX,
        )?;
        if buttons[..i].iter().any(|o| o.reply.id == b.reply.id) {
            return Err(ValidationError::Invalid {
                field: "interactive.action.buttons[].reply.id",
                reason: "button ids must be unique",
            });
        }
    }
    Ok(())
}

fn validate_list(action: &InteractiveAction) -> Result<(), ValidationError> {
    let button = action.button.as_deref().unwrap_or("");
    non_empty("interactive.action.button", button)?;
    max_chars("interactive.action.button", button, limits::LIST_BUTTON_MAX)?;
    if action.sections.is_empty() {
        return Err(ValidationError::Missing {
            field: "interactive.action.sections",
        });
    }
    if action.sections.len() > limits::LIST_SECTIONS_MAX {
        return Err(ValidationError::TooMany {
            field: "interactive.action.sections",
            count: action.sections.len(),
            max: limits::LIST_SECTIONS_MAX,
        });
    }
    let rows: Vec<&ListRow> = action.sections.iter().flat_map(|s| &s.rows).collect();
    if rows.is_empty() {
        return Err(ValidationError::Missing {
            field: "interactive.action.sections[].rows",
        });
    }
    if rows.len() > limits::LIST_ROWS_MAX {
        return Err(ValidationError::TooMany {
            field: "interactive.action.sections[].rows",
            count: rows.len(),
            max: limits::LIST_ROWS_MAX,
        });
    }
    for s in &action.sections {
        if let Some(t) = &s.title {
            max_chars(
                "interactive.action.sections[].title",
                t,
                limits::SECTION_TITLE_MAX,
            )?;
        }
    }
    for (i, r) in rows.iter().enumerate() {
        non_empty("interactive.action.sections[].rows[].id", &r.id)?;
        max_chars(
            "interactive.action.sections[].rows[].id",
            &r.id,
            limits::ROW_ID_MAX,
        )?;
        max_chars(
            "interactive.action.sections[].rows[].title",
            &r.title,
            limits::ROW_TITLE_MAX,
        )?;
        if let Some(d) = &r.description {
            max_chars(
                "interactive.action.sections[].rows[].description",
                d,
                limits::ROW_DESCRIPTION_MAX,
            )?;
        }
        if rows[..i].iter().any(|o| o.id == r.id) {
            return Err(ValidationError::Invalid {
                field: "interactive.action.sections[].rows[].id",
                reason: "row ids must be unique",
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Mark as read

wire_enum!(
    /// `status` of a mark-as-read body.
    ReadStatus { Read = "read" }
);

wire_enum!(
    /// `typing_indicator.type`.
    TypingIndicatorType { Text = "text" }
);

/// `typing_indicator`: shows "typing…" until we reply or 25 s pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    pub kind: TypingIndicatorType,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Mark a message (and the ones before it) as read; optionally show a typing indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkReadRequest {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    pub status: ReadStatus,
    pub message_id: Wamid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing_indicator: Option<TypingIndicator>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl MarkReadRequest {
    pub fn new(message_id: Wamid) -> Self {
        Self {
            messaging_product: messaging_product(),
            status: ReadStatus::Read,
            message_id,
            typing_indicator: None,
            extra: Extra::new(),
        }
    }

    /// Also show the typing indicator.
    pub fn with_typing(mut self) -> Self {
        self.typing_indicator = Some(TypingIndicator {
            kind: TypingIndicatorType::Text,
            extra: Extra::new(),
        });
        self
    }
}

/// Any body `POST /{phone_number_id}/messages` accepts: a send, or a mark-as-read (which
/// carries `status`). The emulator parses incoming bodies with this.
#[derive(Debug, Clone, PartialEq)]
pub enum MessagesRequest {
    Send(Box<SendMessageRequest>),
    MarkRead(MarkReadRequest),
}

impl MessagesRequest {
    /// Parses a raw body.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        let v: Value = serde_json::from_slice(body)?;
        Self::from_value(v)
    }

    pub fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        if v.get("status").is_some() {
            serde_json::from_value(v).map(MessagesRequest::MarkRead)
        } else {
            serde_json::from_value(v).map(|s| MessagesRequest::Send(Box::new(s)))
        }
    }
}

impl<'de> Deserialize<'de> for MessagesRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(v).map_err(serde::de::Error::custom)
    }
}

impl Serialize for MessagesRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MessagesRequest::Send(r) => r.serialize(s),
            MessagesRequest::MarkRead(r) => r.serialize(s),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// `{ "success": true }`: mark-as-read, media delete, subscribed_apps, overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessResponse {
    pub success: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SuccessResponse {
    pub fn ok() -> Self {
        Self {
            success: true,
            extra: Extra::new(),
        }
    }
}

wire_enum!(
    /// `messages[].message_status` (template pacing and quality holds).
    AcceptedStatus {
        Accepted = "accepted",
        HeldForQualityAssessment = "held_for_quality_assessment",
        Paused = "paused",
    }
);

/// The 200 answer to a send: accepted, not delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessageResponse {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    pub messages: Vec<SentMessage>,
    /// Only for group sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SendMessageResponse {
    /// The wamid of the (single) message sent.
    pub fn message_id(&self) -> Option<&Wamid> {
        self.messages.first().map(|m| &m.id)
    }
}

/// `contacts[]` of a send response. Ids are kept as strings so an unexpected value never
/// makes an accepted send look failed; use [`SentContact::phone`] / [`SentContact::bsuid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentContact {
    /// What the request had in `to` (or `recipient`), verbatim.
    pub input: String,
    /// Only for phone sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// Only for BSUID sends without `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SentContact {
    pub fn phone(&self) -> Option<PhoneNumber> {
        PhoneNumber::parse(self.wa_id.as_deref()?).ok()
    }

    pub fn bsuid(&self) -> Option<Bsuid> {
        Bsuid::parse(self.user_id.as_deref()?).ok()
    }
}

/// `messages[]` of a send response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: Wamid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<AcceptedStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests;
