//! `value` of `field: "smb_app_state_sync"` (spec/cloud-api.md §2.4): the contacts of the
//! business's phone app, sent once after onboarding and then on every add, edit or remove.

use coex_core::Bsuid;
use serde::{Deserialize, Serialize};

use super::walk::walk_struct;
use super::wire::{Extra, Metadata, Timestamp, WirePhone, wire_enum};

/// `value` of an `smb_app_state_sync` change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StateSyncValue {
    /// Always `"whatsapp"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Which business number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The changes, possibly many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_sync: Option<Vec<StateSync>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

wire_enum!(
    /// `state_sync[].type`.
    StateSyncType / UnknownValue {
        /// A phone-app contact.
        Contact => "contact",
    }
);

wire_enum!(
    /// `state_sync[].action`.
    StateSyncAction / UnknownValue {
        /// Added or edited.
        Add => "add",
        /// Removed (then only identifiers remain).
        Remove => "remove",
    }
);

/// One `state_sync[]` item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StateSync {
    /// What changed.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StateSyncType>,
    /// Add (or edit) or remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<StateSyncAction>,
    /// The contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<SyncContact>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<StateSyncMetadata>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl StateSync {
    /// `metadata.timestamp` in Unix seconds.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.metadata
            .as_ref()?
            .timestamp
            .as_ref()
            .and_then(Timestamp::seconds)
    }
}

/// `state_sync[].contact`. Names are absent on `remove`; username users may carry only
/// `user_id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncContact {
    /// Full name as saved in the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Phone number (digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<WirePhone>,
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

/// `state_sync[].metadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StateSyncMetadata {
    /// When the contact changed (or the webhook fired; Meta's pages disagree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(StateSyncValue {
    metadata => "metadata",
    state_sync => "state_sync",
});
walk_struct!(StateSync {
    kind => "type",
    action => "action",
    contact => "contact",
    metadata => "metadata",
});
walk_struct!(SyncContact {});
walk_struct!(StateSyncMetadata {});
