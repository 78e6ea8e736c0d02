//! Meta's webhook payloads as typed Rust, parsed leniently and losslessly.
//!
//! Meta adds fields, enum values, message types and whole `field` topics without notice, and
//! its own examples are sometimes malformed (spec/cloud-api.md §8). A webhook we fail to parse
//! is a customer message we lose, so parsing here follows three rules:
//!
//! - **Two levels.** [`parse_notification`] fails only for bytes that are not JSON or not an
//!   envelope. Each change is then typed on its own; one that does not fit becomes
//!   [`ChangeValue::Malformed`] (error text and raw JSON kept), an unknown topic becomes
//!   [`ChangeValue::Unknown`].
//! - **Open enumerations.** Every enumerated value has an `Unknown(String)` fallback.
//! - **Lossless.** Every struct keeps the keys it does not model in `extra`, and optional
//!   fields are skipped when absent, so `serde_json::to_value(&parsed)` equals the JSON that
//!   was received (except that an explicit `null` on an optional key reads as absent).
//!
//! [`events()`] flattens a notification into one [`Event`] per thing that happened, with
//! [`Flag`]s for the parts this version does not understand. The emulator builds webhooks with
//! the same types (every field is public; most types are `Default`).

mod account;
mod envelope;
mod events;
mod history;
mod message;
mod state_sync;
mod status;
mod values;
mod walk;
mod wire;

pub use account::{
    AccountEvent, AccountUpdateValue, BanInfo, BanState, DisconnectionInfo, DisconnectionReason,
    InitiatedBy, RestrictionInfo, ViolationInfo, WabaInfo,
};
pub use envelope::{Change, ChangeValue, Entry, Notification, WHATSAPP_BUSINESS_ACCOUNT};
pub use events::{Event, EventItem, EventKind, Origin, events};
pub use history::{
    HISTORY_DECLINED_CODE, HistoryChunk, HistoryMetadata, HistoryValue, Thread, ThreadContext,
};
pub use message::{
    Button, CardAddress, CardEmail, CardName, CardOrg, CardPhone, CardUrl, ContactCard,
    ContactOrigin, Content, Context, Edit, HistoryContext, HistoryStatus, Interactive,
    InteractiveType, Location, Media, Message, MessageType, NfmReply, Order, ProductItem, Reaction,
    Referral, ReferredProduct, ReplyChoice, Revoke, System, SystemType, Text, Unsupported,
};
pub use state_sync::{
    StateSync, StateSyncAction, StateSyncMetadata, StateSyncType, StateSyncValue, SyncContact,
};
pub use status::{
    Conversation, ConversationOrigin, Pricing, PricingCategory, PricingModel, PricingType, Status,
    StatusKind,
};
pub use values::{
    BusinessUsernameValue, EchoesValue, IdChange, MessagesValue, UserIdUpdate, UserIdUpdateValue,
    UsernameStatus,
};
pub use walk::{Flag, FlagKind, Walk};
pub use wire::{
    Contact, ErrorData, Extra, Metadata, Numeric, Profile, Timestamp, WebhookError, WirePhone,
};

/// Why a webhook body could not be read as a notification at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON (or not UTF-8). Line and column are serde_json's, 1-based.
    #[error("webhook body is not valid JSON: {message}")]
    Json {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// serde_json's message, which repeats the position.
        message: String,
    },
    /// JSON, but not shaped like an envelope (an object with `entry[]` of objects, each with
    /// `changes[]` of objects).
    #[error("webhook body is not a notification envelope: {0}")]
    Shape(String),
}

impl ParseError {
    /// The line of a JSON syntax error.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Json { line, .. } => Some(*line),
            Self::Shape(_) => None,
        }
    }

    /// The column of a JSON syntax error.
    pub fn column(&self) -> Option<usize> {
        match self {
            Self::Json { column, .. } => Some(*column),
            Self::Shape(_) => None,
        }
    }
}

/// Parses a raw webhook body (the exact bytes whose signature was checked).
///
/// Succeeds for any JSON envelope; problems inside a change are reported in that change's
/// [`ChangeValue`] instead of failing the batch.
pub fn parse_notification(body: &[u8]) -> Result<Notification, ParseError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ParseError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    Notification::from_value(value)
}
