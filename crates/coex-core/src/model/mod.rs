//! The domain model the store keeps and the hub reads: workspaces, WABAs and numbers, contacts,
//! conversations, messages with their status, sync jobs, number lifecycle events, the live event
//! feed, and [`Ingest`], the list of domain events one ingest transaction applies.
//!
//! Everything here is plain data (serde-serialisable, no I/O) plus the few pure rules that decide
//! how stored state moves: the forward-only [`MessageStatus`] merge and the number lifecycle
//! transition [`NumberState::after_event`]. The hub translates Meta's webhook wire types into
//! these; the store never sees the wire.

mod contact;
mod event;
mod ingest;
mod keys;
mod message;
mod number;
mod status;
mod sync;
mod time;

pub use contact::{Contact, CustomerKey, CustomerRef};
pub use event::{EventKind, StoredEvent};
pub use ingest::{
    AccountEvent, ArchiveInput, Author, BodyEncoding, ChangeError, ContactRemoval, ContactSync,
    EchoMessage, HistoryChunk, HistoryDeclined, HistoryMedia, HistoryMessage, InboundMessage,
    Ingest, IngestBatch, IngestItem, MessageEdit, MessageRevoke, RawJson, RawWebhook, SentMessage,
    StatusUpdate, UserIdChange,
};
pub use keys::{
    ArchiveId, ContactId, ConversationId, Cursor, EventSeq, MessageId, Page, PageRequest, SendId,
    WorkspaceId, WorkspaceSlug,
};
pub use message::{
    Conversation, ConversationView, Direction, MediaRef, Message, MessageContent, MessageKind,
    MetaError, Origin, Pricing, StatusRecord,
};
pub use number::{
    AccountEventKind, MessagingTier, NewNumber, Number, NumberEvent, NumberKind, NumberState, Waba,
    Workspace,
};
pub use status::MessageStatus;
pub use sync::{SyncJob, SyncKind, SyncState};
pub use time::Timestamp;

/// A stored or received name that is not one of an enum's known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {kind}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// A closed enum with a stable snake_case name per variant: the name is its serde form, its
/// database form and its `Display`, so the three can never drift apart.
macro_rules! named_enum {
    ($(#[$meta:meta])* pub enum $name:ident as $kind:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable name (serde, database and display form).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::model::UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;
