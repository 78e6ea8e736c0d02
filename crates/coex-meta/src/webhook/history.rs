//! `value` of `field: "history"` (spec/cloud-api.md §2.3): the one-time import of up to 180
//! days of 1:1 chats after onboarding, in phases and chunks; the decline (error 2593109); and
//! the follow-up that carries media for recent placeholders.
//!
//! A chunk can hold thousands of messages, so the types borrow nothing and copy nothing
//! beyond what serde needs; the hub stores the raw body first and processes later.

use coex_core::Bsuid;
use serde::{Deserialize, Serialize};

use super::message::Message;
use super::walk::walk_struct;
use super::wire::{Contact, Extra, Metadata, Numeric, WebhookError, WirePhone};

/// Meta's error code for "the business declined to share its history".
pub const HISTORY_DECLINED_CODE: i64 = 2_593_109;

/// `value` of a `history` change: either `history[]` chunks (or the decline), or the media
/// follow-up with `messages[]` / `message_echoes[]` / `contacts[]` directly in the value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryValue {
    /// Always `"whatsapp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Which business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Chunks of imported threads, or one item with the decline error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryChunk>>,
    /// Media follow-up: user-to-business messages (ids equal the placeholders' wamids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Media follow-up: business-to-user messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_echoes: Option<Vec<Message>>,
    /// Media follow-up: the users concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `history[]` item: a chunk of one phase, or the decline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryChunk {
    /// Phase, chunk order and progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HistoryMetadata>,
    /// Threads, one per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Vec<Thread>>,
    /// The decline error (2593109).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WebhookError>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl HistoryChunk {
    /// Whether this item says the business declined to share its history.
    pub fn is_declined(&self) -> bool {
        self.errors
            .iter()
            .flatten()
            .any(|e| e.code == Some(HISTORY_DECLINED_CODE))
    }

    /// The number of messages across the chunk's threads.
    pub fn message_count(&self) -> usize {
        self.threads
            .iter()
            .flatten()
            .map(|t| t.messages.as_ref().map_or(0, Vec::len))
            .sum()
    }
}

/// `history[].metadata`. Meta sends integers; strings are accepted too.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryMetadata {
    /// Day range: 0 = day 0-1, 1 = day 1-90, 2 = day 90-180.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Numeric>,
    /// Position of the chunk within its phase; chunks may arrive out of order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_order: Option<Numeric>,
    /// 0 to 100; 100 means the whole sync is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Numeric>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl HistoryMetadata {
    /// `phase` as an integer.
    pub fn phase(&self) -> Option<i64> {
        self.phase.as_ref().and_then(Numeric::as_i64)
    }
    /// `chunk_order` as an integer.
    pub fn chunk_order(&self) -> Option<i64> {
        self.chunk_order.as_ref().and_then(Numeric::as_i64)
    }
    /// `progress` as an integer.
    pub fn progress(&self) -> Option<i64> {
        self.progress.as_ref().and_then(Numeric::as_i64)
    }
}

/// `history[].threads[]`: one chat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Thread {
    /// The user's phone number; may be absent for username users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<WirePhone>,
    /// The user's identifiers (BSUID rollout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ThreadContext>,
    /// Messages in both directions; direction comes from `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `threads[].context`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ThreadContext {
    /// Phone number, when shareable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<WirePhone>,
    /// BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Bsuid>,
    /// Parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(HistoryValue {
    metadata => "metadata",
    history => "history",
    messages => "messages",
    message_echoes => "message_echoes",
    contacts => "contacts",
});
walk_struct!(HistoryChunk {
    metadata => "metadata",
    threads => "threads",
    errors => "errors",
});
walk_struct!(HistoryMetadata {});
walk_struct!(Thread {
    context => "context",
    messages => "messages",
});
walk_struct!(ThreadContext {});
