//! The ingest input: what one verified webhook means, as a list of domain events, and the batch
//! of webhooks the store applies in one transaction.
//!
//! The hub parses Meta's payloads and translates each change into [`Ingest`] events; the store
//! applies a whole [`IngestBatch`] atomically and idempotently (a redelivered webhook changes
//! nothing). A change the hub could not understand becomes an [`Ingest::ChangeError`] so the rest
//! of the webhook is still applied and the bad part is kept with its error.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    AccountEventKind, ArchiveId, CustomerKey, CustomerRef, Direction, MessageContent,
    MessageStatus, MetaError, Origin, Pricing, SendId, Timestamp, named_enum,
};
use crate::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};

/// JSON text as received (or as built by the hub), kept verbatim; not validated here.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(String);

impl RawJson {
    pub fn new(json: impl Into<String>) -> Self {
        Self(json.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 120;
        match self.0.char_indices().nth(MAX) {
            Some((cut, _)) => write!(f, "RawJson({:?}…)", &self.0[..cut]),
            None => write!(f, "RawJson({:?})", self.0),
        }
    }
}

named_enum! {
    /// How an archived body's bytes are kept: as they arrived, or LZ4-compressed (the block
    /// format with the original length prepended as a little-endian u32).
    pub enum BodyEncoding as "body encoding" {
        Identity = "identity",
        Lz4 = "lz4",
    }
}

/// A webhook body as it is archived, kept for replay.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawWebhook {
    /// The bytes to store, in `encoding`; readers of the archive get the body as it arrived.
    pub body: Vec<u8>,
    pub encoding: BodyEncoding,
    /// Whether `X-Hub-Signature-256` verified. Unverified bodies are kept for forensics only
    /// and are never replayed.
    pub signature_ok: bool,
    pub received_at: Timestamp,
}

impl RawWebhook {
    /// A body kept exactly as it arrived.
    pub fn identity(body: impl Into<Vec<u8>>, signature_ok: bool, received_at: Timestamp) -> Self {
        Self {
            body: body.into(),
            encoding: BodyEncoding::Identity,
            signature_ok,
            received_at,
        }
    }
}

impl fmt::Debug for RawWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawWebhook")
            .field("body_len", &self.body.len())
            .field("encoding", &self.encoding)
            .field("signature_ok", &self.signature_ok)
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// Whether and how a batch item's raw body is archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveInput {
    /// Nothing to archive (e.g. events made by the hub itself).
    None,
    /// Archive this body in the same transaction, as processed.
    New(RawWebhook),
    /// The body was archived earlier (acknowledged first, applied later); mark it processed.
    Existing(ArchiveId),
    /// Archive this body unprocessed, to be applied later (a large history chunk: archived
    /// in a grouped commit before its 200, fanned out in the background).
    Deferred(RawWebhook),
}

/// Many webhooks' events, applied in one transaction (group commit).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestBatch {
    pub items: Vec<IngestItem>,
}

/// One webhook: its archive and the events it carries, in payload order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestItem {
    /// When the webhook arrived (or was first archived, on replay).
    pub received_at: Timestamp,
    pub archive: ArchiveInput,
    pub events: Vec<Ingest>,
}

/// Who edited or revoked a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    /// The owner, from the phone app (arrives as an echo).
    BusinessApp,
}

/// One domain event from a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Ingest {
    /// A live customer message (`messages[]`). Opens the 24 h window.
    InboundMessage(InboundMessage),
    /// A message the owner sent from the phone app (`smb_message_echoes`). Never opens the
    /// window; a sign of life from the app.
    Echo(EchoMessage),
    /// A message we sent through the API, recorded with its wamid by the send path.
    Sent(SentMessage),
    Edit(MessageEdit),
    Revoke(MessageRevoke),
    Status(StatusUpdate),
    /// Part or all of one history chunk (the hub may split a large chunk's messages over
    /// several events; chunk counts stay right).
    HistoryChunk(HistoryChunk),
    /// The business declined to share its history (2593109).
    HistoryDeclined(HistoryDeclined),
    /// The media content of a history placeholder.
    HistoryMedia(HistoryMedia),
    /// A contact added or edited in the app (`smb_app_state_sync`, `action: add`).
    ContactUpsert(ContactSync),
    /// A contact removed from the app (`action: remove`).
    ContactRemove(ContactRemoval),
    /// An `account_update` event.
    AccountEvent(AccountEvent),
    /// A customer changed phone number and got a new BSUID (`user_id_update`).
    UserIdChanged(UserIdChange),
    /// A change the hub could not parse or apply; kept with its error and raw JSON.
    ChangeError(ChangeError),
}

/// A live message from a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub customer: CustomerRef,
    pub timestamp: Timestamp,
    pub content: MessageContent,
    /// `messages[].errors[0]`, e.g. 131060 on an `unsupported` message.
    #[serde(default)]
    pub error: Option<MetaError>,
}

/// A message the owner sent from the Business App (or a companion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoMessage {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    /// The recipient (`to`, `to_user_id`, `contacts[]`).
    pub customer: CustomerRef,
    pub timestamp: Timestamp,
    pub content: MessageContent,
}

/// A message sent through the Cloud API and accepted by Meta (it has its wamid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub customer: CustomerRef,
    pub timestamp: Timestamp,
    /// `ApiAgent`, `Automation` or `Campaign`.
    pub origin: Origin,
    #[serde(default)]
    pub sender: Option<String>,
    pub content: MessageContent,
    /// The send request it went out through, when the platform's send queue sent it: stored
    /// with the message, it is how a `failed` status finds its send.
    #[serde(default)]
    pub send: Option<SendId>,
}

/// An edit of an earlier message. Applied when the original is (or later becomes) known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdit {
    pub number: PhoneNumberId,
    /// The edit event's own id.
    pub wamid: Wamid,
    pub original: Wamid,
    pub author: Author,
    pub timestamp: Timestamp,
    pub content: MessageContent,
}

/// A delete-for-everyone of an earlier message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRevoke {
    pub number: PhoneNumberId,
    /// The revoke event's own id.
    pub wamid: Wamid,
    pub original: Wamid,
    pub author: Author,
    pub timestamp: Timestamp,
}

/// A status webhook for an outbound message. Correlated by wamid only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub status: MessageStatus,
    pub timestamp: Timestamp,
    /// The recipient as the status names them; used to learn phone–BSUID links.
    #[serde(default)]
    pub recipient: Option<CustomerRef>,
    #[serde(default)]
    pub error: Option<MetaError>,
    #[serde(default)]
    pub pricing: Option<Pricing>,
}

/// One imported history message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMessage {
    pub wamid: Wamid,
    /// The thread's customer.
    pub customer: CustomerRef,
    /// Outbound when `from` is the business number.
    pub direction: Direction,
    /// The device timestamp; kept as the message's time.
    pub timestamp: Timestamp,
    pub content: MessageContent,
    /// `history_context.status`.
    #[serde(default)]
    pub status: Option<MessageStatus>,
}

/// (Part of) a history chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryChunk {
    pub number: PhoneNumberId,
    pub phase: u8,
    pub chunk_order: u32,
    /// 0 to 100; 100 means the import is complete.
    pub progress: u8,
    pub messages: Vec<HistoryMessage>,
}

/// The business declined to share history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDeclined {
    pub number: PhoneNumberId,
    pub error: MetaError,
}

/// The media of a history `media_placeholder` (same wamid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMedia {
    pub number: PhoneNumberId,
    pub wamid: Wamid,
    pub timestamp: Timestamp,
    pub content: MessageContent,
}

/// A contact added or edited in the phone app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactSync {
    pub number: PhoneNumberId,
    pub customer: CustomerRef,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    /// `metadata.timestamp`: when the contact changed in the app.
    pub timestamp: Timestamp,
}

/// A contact removed from the phone app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRemoval {
    pub number: PhoneNumberId,
    pub key: CustomerKey,
    pub timestamp: Timestamp,
}

/// An `account_update` event. It names a WABA (`entry.id` or `waba_info.waba_id`) and sometimes
/// a display phone number; it applies to that number, or to every number of the WABA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEvent {
    pub waba: WabaId,
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    pub kind: AccountEventKind,
    /// `disconnection_info.reason`, `ban_info.waba_ban_state`, a restriction or violation type.
    #[serde(default)]
    pub reason: Option<String>,
    /// `entry.time`.
    pub timestamp: Timestamp,
    /// The change's `value`, as received.
    #[serde(default)]
    pub detail: Option<super::RawJson>,
}

/// `user_id_update`: the customer's BSUID changed from `previous` to `current`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdChange {
    pub number: PhoneNumberId,
    pub previous: Bsuid,
    pub current: Bsuid,
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    #[serde(default)]
    pub profile_name: Option<String>,
    pub timestamp: Timestamp,
}

/// A change that could not be turned into events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeError {
    #[serde(default)]
    pub waba: Option<WabaId>,
    #[serde(default)]
    pub number: Option<PhoneNumberId>,
    /// `changes[].field`, when known.
    #[serde(default)]
    pub field: Option<String>,
    pub error: String,
    /// The change (or whatever part could be isolated), as received.
    pub raw: RawJson,
}

impl Ingest {
    /// The business number the event is about, if it names one (account events name a WABA).
    pub fn number(&self) -> Option<&PhoneNumberId> {
        match self {
            Self::InboundMessage(e) => Some(&e.number),
            Self::Echo(e) => Some(&e.number),
            Self::Sent(e) => Some(&e.number),
            Self::Edit(e) => Some(&e.number),
            Self::Revoke(e) => Some(&e.number),
            Self::Status(e) => Some(&e.number),
            Self::HistoryChunk(e) => Some(&e.number),
            Self::HistoryDeclined(e) => Some(&e.number),
            Self::HistoryMedia(e) => Some(&e.number),
            Self::ContactUpsert(e) => Some(&e.number),
            Self::ContactRemove(e) => Some(&e.number),
            Self::UserIdChanged(e) => Some(&e.number),
            Self::AccountEvent(_) => None,
            Self::ChangeError(e) => e.number.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_a_type_tag() {
        let ev = Ingest::HistoryDeclined(HistoryDeclined {
            number: PhoneNumberId::parse("106540352242922").unwrap(),
            error: MetaError {
                code: 2_593_109,
                title: "History sync is turned off".into(),
                details: None,
            },
        });
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.starts_with(r#"{"type":"history_declined""#), "{json}");
        let back: Ingest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn raw_json_debug_is_short() {
        let raw = RawJson::new("x".repeat(1000));
        assert!(format!("{raw:?}").len() < 200);
    }
}
