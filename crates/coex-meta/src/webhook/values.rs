//! The `value` of the phone-number-scoped changes that carry messages or identities:
//! `messages` (inbound messages, statuses, errors), `smb_message_echoes` (what the business
//! sent from the phone app), `user_id_update` (a user's BSUID changed) and
//! `business_username_update`.

use coex_core::Bsuid;
use serde::{Deserialize, Serialize};

use super::message::Message;
use super::status::Status;
use super::walk::walk_struct;
use super::wire::{Contact, Extra, Metadata, Timestamp, WebhookError, WirePhone, wire_enum};

/// `value` of `field: "messages"` (spec/cloud-api.md §1.1, §3.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessagesValue {
    /// Always `"whatsapp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Which business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Who the messages or statuses are about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    /// Inbound messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Statuses of outbound messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<Status>>,
    /// System-, app- or account-level errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WebhookError>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `value` of `field: "smb_message_echoes"` (spec/cloud-api.md §2.2): messages the business
/// sent from the WhatsApp Business app or a companion device, including its edits and revokes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EchoesValue {
    /// Always `"whatsapp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Which business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The recipients (BSUID, username), since the BSUID rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    /// The echoed messages, in send shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_echoes: Option<Vec<Message>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `value` of `field: "user_id_update"` (spec/cloud-api.md §10.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserIdUpdateValue {
    /// Always `"whatsapp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Which business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The users concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    /// The changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_update: Option<Vec<UserIdUpdate>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `user_id_update[]` item: a user's BSUID (and parent BSUID) changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserIdUpdate {
    /// The user's phone number, when shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<WirePhone>,
    /// Human-readable notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Old and new BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<IdChange>,
    /// Old and new parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<IdChange>,
    /// When it changed, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{ "previous", "current" }` of a `user_id_update`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IdChange {
    /// The old id; keep it as an alias for late retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Bsuid>,
    /// The new id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Bsuid>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `business_username_update` `status`.
    UsernameStatus / UnknownValue {
        /// Claimed at general availability.
        Approved => "approved",
        /// Claimed before general availability.
        Reserved => "reserved",
        /// Removed (then `username` is absent).
        Deleted => "deleted",
    }
);

/// `value` of `field: "business_username_update"` (spec/cloud-api.md §10.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BusinessUsernameValue {
    /// The business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<WirePhone>,
    /// The business username; absent when deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// What happened to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UsernameStatus>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl UserIdUpdate {
    /// `timestamp` in Unix seconds.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.timestamp.as_ref().and_then(Timestamp::seconds)
    }
}

walk_struct!(MessagesValue {
    metadata => "metadata",
    contacts => "contacts",
    messages => "messages",
    statuses => "statuses",
    errors => "errors",
});
walk_struct!(EchoesValue {
    metadata => "metadata",
    contacts => "contacts",
    message_echoes => "message_echoes",
});
walk_struct!(UserIdUpdateValue {
    metadata => "metadata",
    contacts => "contacts",
    user_id_update => "user_id_update",
});
walk_struct!(UserIdUpdate {
    user_id => "user_id",
    parent_user_id => "parent_user_id",
});
walk_struct!(IdChange {});
walk_struct!(BusinessUsernameValue { status => "status" });
