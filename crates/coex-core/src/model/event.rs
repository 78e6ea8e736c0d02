//! The per-workspace event feed: every stored change someone outside may care about (the live
//! inbox, CRM deliveries), appended in the same transaction as the change.

use serde::{Deserialize, Serialize};

use super::{ContactId, ConversationId, EventSeq, RawJson, Timestamp, WorkspaceId, named_enum};
use crate::{PhoneNumberId, Wamid};

named_enum! {
    /// What changed.
    pub enum EventKind as "event kind" {
        /// A message was stored (any origin).
        MessageCreated = "message.created",
        /// An outbound message's status moved forward.
        MessageStatus = "message.status",
        MessageEdited = "message.edited",
        MessageRevoked = "message.revoked",
        /// A history placeholder received its media.
        MessageMedia = "message.media",
        /// A contact was created, linked to another key, re-keyed, or synced from the app.
        ContactChanged = "contact.changed",
        /// Two contacts turned out to be one person; `data` has `from` and `into`.
        ContactMerged = "contact.merged",
        /// A number's lifecycle state changed.
        NumberState = "number.state",
        /// A sync job progressed or changed state.
        SyncProgress = "sync.progress",
    }
}

/// One entry of a workspace's feed. `data` is a small JSON object whose fields depend on `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub workspace: WorkspaceId,
    pub seq: EventSeq,
    pub kind: EventKind,
    pub at: Timestamp,
    pub number: Option<PhoneNumberId>,
    pub conversation: Option<ConversationId>,
    pub contact: Option<ContactId>,
    pub wamid: Option<Wamid>,
    pub data: RawJson,
}
