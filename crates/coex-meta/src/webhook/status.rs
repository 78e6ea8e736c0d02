//! `statuses[]`: what happened to a message we sent through the API (spec/cloud-api.md §3.3,
//! §10.3). Statuses may arrive out of order, `delivered` may be skipped, and `pricing` comes on
//! only one of `delivered`/`read`; applying them monotonically is the hub's job, not this
//! module's.

use coex_core::{Bsuid, Wamid};
use serde::{Deserialize, Serialize};

use super::walk::walk_struct;
use super::wire::{Extra, Timestamp, WebhookError, WirePhone, wire_enum};

wire_enum!(
    /// `statuses[].status`.
    StatusKind / UnknownValue {
        /// Left Meta's servers (one tick).
        Sent => "sent",
        /// On the device (two ticks).
        Delivered => "delivered",
        /// Displayed in an open chat (blue ticks); may come without `delivered`.
        Read => "read",
        /// A voice message was played for the first time.
        Played => "played",
        /// Could not be sent or delivered; see `errors`.
        Failed => "failed",
    }
);

wire_enum!(
    /// `pricing.pricing_model`.
    PricingModel / UnknownValue {
        /// Per-message pricing (from July 1, 2025).
        Pmp => "PMP",
        /// Conversation-based pricing (before July 1, 2025).
        Cbp => "CBP",
    }
);

wire_enum!(
    /// `pricing.type`.
    PricingType / UnknownValue {
        /// Billable.
        Regular => "regular",
        /// Free inside a customer-service window.
        FreeCustomerService => "free_customer_service",
        /// Free inside a free entry point window.
        FreeEntryPoint => "free_entry_point",
    }
);

wire_enum!(
    /// `pricing.category` and `conversation.origin.type`.
    PricingCategory / UnknownValue {
        Authentication => "authentication",
        AuthenticationInternational => "authentication-international",
        Marketing => "marketing",
        MarketingLite => "marketing_lite",
        ReferralConversion => "referral_conversion",
        Service => "service",
        Utility => "utility",
    }
);

/// One status update for an outbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The message's wamid, as returned by the send call. Correlate on this, never on the
    /// recipient.
    pub id: Wamid,
    /// What happened.
    pub status: StatusKind,
    /// When the webhook fired, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The recipient's phone number (or group id); absent for BSUID sends whose number is
    /// hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<WirePhone>,
    /// The recipient's BSUID; absent on `failed` statuses of phone sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<Bsuid>,
    /// The recipient's parent BSUID (current name, since May 5, 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_parent_user_id: Option<Bsuid>,
    /// The same, under its April 2026 name (spec/cloud-api.md §10.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_recipient_user_id: Option<Bsuid>,
    /// The same, under its name before April 9, 2026.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// `group` for group sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<String>,
    /// Group sends: the participant's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_participant_id: Option<WirePhone>,
    /// Group sends: the participant's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_participant_user_id: Option<Bsuid>,
    /// Group sends: the participant's parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_participant_parent_user_id: Option<Bsuid>,
    /// Present when the identity-change check is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_identity_key_hash: Option<String>,
    /// What we set on the send, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// Conversation (omitted in v24.0+ outside free entry point windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// Pricing, on `sent` and one of `delivered`/`read`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WebhookError>>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Status {
    /// A status with only its id and kind set.
    pub fn new(id: Wamid, status: StatusKind) -> Self {
        Self {
            id,
            status,
            timestamp: None,
            recipient_id: None,
            recipient_user_id: None,
            recipient_parent_user_id: None,
            parent_recipient_user_id: None,
            parent_user_id: None,
            recipient_type: None,
            recipient_participant_id: None,
            recipient_participant_user_id: None,
            recipient_participant_parent_user_id: None,
            recipient_identity_key_hash: None,
            biz_opaque_callback_data: None,
            conversation: None,
            pricing: None,
            errors: None,
            extra: Extra::new(),
        }
    }

    /// The recipient's parent BSUID under whichever of its three names Meta used.
    pub fn recipient_parent(&self) -> Option<&Bsuid> {
        self.recipient_parent_user_id
            .as_ref()
            .or(self.parent_recipient_user_id.as_ref())
            .or(self.parent_user_id.as_ref())
    }

    /// `timestamp` in Unix seconds.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.timestamp.as_ref().and_then(Timestamp::seconds)
    }
}

/// `statuses[].conversation`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Conversation {
    /// Conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the conversation window ends (only on `sent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<Timestamp>,
    /// What opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<ConversationOrigin>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `conversation.origin`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConversationOrigin {
    /// Same categories as `pricing.category`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PricingCategory>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `statuses[].pricing`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Pricing {
    /// Whether it is charged; to be deprecated in favour of `type` + `category`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    /// `PMP` or `CBP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<PricingModel>,
    /// `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PricingType>,
    /// The pricing category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<PricingCategory>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(Status {
    status => "status",
    conversation => "conversation",
    pricing => "pricing",
    errors => "errors",
});
walk_struct!(Conversation { origin => "origin" });
walk_struct!(ConversationOrigin { kind => "type" });
walk_struct!(Pricing {
    pricing_model => "pricing_model",
    kind => "type",
    category => "category",
});
