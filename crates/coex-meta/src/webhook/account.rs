//! `value` of `field: "account_update"` (spec/cloud-api.md §2.5): WABA-level events, including
//! the coexistence disconnection (`PARTNER_REMOVED` with `disconnection_info`), offboarding
//! and reconnection, partner (un)installs, restrictions and bans.
//!
//! Meta's own examples misplace `field` and `object` (inside `value`, or on the entry) and
//! omit `object`; those keys land in `extra` and the envelope resolves the field name from
//! wherever it is.

use coex_core::WabaId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::walk::walk_struct;
use super::wire::{Extra, Timestamp, WirePhone, wire_enum};

wire_enum!(
    /// `account_update` `event`.
    AccountEvent / UnknownValue {
        /// The WABA was unshared, or (coexistence) the phone app disconnected.
        PartnerRemoved => "PARTNER_REMOVED",
        /// Offboarded through a device change or re-registration.
        AccountOffboarded => "ACCOUNT_OFFBOARDED",
        /// Reconnected after such an offboarding.
        AccountReconnected => "ACCOUNT_RECONNECTED",
        /// The customer granted the app permissions.
        PartnerAppInstalled => "PARTNER_APP_INSTALLED",
        /// The customer deauthenticated or uninstalled the app.
        PartnerAppUninstalled => "PARTNER_APP_UNINSTALLED",
        /// The WABA was shared with a partner.
        PartnerAdded => "PARTNER_ADDED",
        /// The WABA was deleted.
        AccountDeleted => "ACCOUNT_DELETED",
        /// The WABA is restricted (`restriction_info`).
        AccountRestriction => "ACCOUNT_RESTRICTION",
        /// The WABA violated a policy (`violation_info`).
        AccountViolation => "ACCOUNT_VIOLATION",
        /// The WABA was disabled, scheduled for disabling or reinstated (`ban_info`).
        DisabledUpdate => "DISABLED_UPDATE",
        /// Ad accounts linked (Marketing Messages Lite).
        AdAccountLinked => "AD_ACCOUNT_LINKED",
        /// Eligibility for authentication-international rates.
        AuthIntlPriceEligibilityUpdate => "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
        /// Primary business location set (`country`).
        BusinessPrimaryLocationCountryUpdate => "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE",
        /// MM Lite terms accepted.
        MmLiteTermsSigned => "MM_LITE_TERMS_SIGNED",
        /// Partner-led business verification status.
        PartnerClientCertificationStatusUpdate => "PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE",
        /// Volume pricing tier changed.
        VolumeBasedPricingTierUpdate => "VOLUME_BASED_PRICING_TIER_UPDATE",
    }
);

wire_enum!(
    /// `disconnection_info.reason`.
    DisconnectionReason / UnknownValue {
        /// Enforcement, or the client deleted their WhatsApp account.
        AccountDisconnected => "ACCOUNT_DISCONNECTED",
        /// The number was registered on the consumer app.
        BusinessDowngrade => "BUSINESS_DOWNGRADE",
        /// The number changed.
        ChangeNumber => "CHANGE_NUMBER",
        /// A companion device was inactive for about 30 days.
        CompanionInactivity => "COMPANION_INACTIVITY",
        /// The primary device was inactive for about 14 days.
        PrimaryInactivity => "PRIMARY_INACTIVITY",
        /// Re-registered on a new device.
        UserReRegistered => "USER_RE_REGISTERED",
    }
);

wire_enum!(
    /// `disconnection_info.initiated_by`.
    InitiatedBy / UnknownValue {
        /// The business.
        User => "USER",
        /// Meta.
        System => "SYSTEM",
    }
);

wire_enum!(
    /// `ban_info.waba_ban_state`.
    BanState / UnknownValue {
        Disable => "DISABLE",
        Reinstate => "REINSTATE",
        ScheduleForDisable => "SCHEDULE_FOR_DISABLE",
    }
);

/// `value` of an `account_update` change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountUpdateValue {
    /// The business number concerned, for number-level events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<WirePhone>,
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<AccountEvent>,
    /// `PARTNER_REMOVED` of a coexistence number: why and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnection_info: Option<DisconnectionInfo>,
    /// `PARTNER_*`, `AD_ACCOUNT_LINKED`, `MM_LITE_TERMS_SIGNED`: the customer's WABA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_info: Option<WabaInfo>,
    /// `ACCOUNT_RESTRICTION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_info: Option<Vec<RestrictionInfo>>,
    /// `ACCOUNT_VIOLATION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_info: Option<ViolationInfo>,
    /// `DISABLED_UPDATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_info: Option<BanInfo>,
    /// `BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE`: ISO country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `AUTH_INTL_PRICE_ELIGIBILITY_UPDATE` (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_international_rate_eligibility: Option<Value>,
    /// `PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE` (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_client_certification_info: Option<Value>,
    /// `VOLUME_BASED_PRICING_TIER_UPDATE` (kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_tier_info: Option<Value>,
    /// Keys not modelled here (including a misplaced `field`/`object`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `disconnection_info`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DisconnectionInfo {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DisconnectionReason>,
    /// By whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<InitiatedBy>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `waba_info`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WabaInfo {
    /// The customer's WABA (for `PARTNER_*`, `entry.id` is the partner's business instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<WabaId>,
    /// The customer's business portfolio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_business_id: Option<String>,
    /// `PARTNER_APP_(UN)INSTALLED`: our app id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_app_id: Option<String>,
    /// Multi-partner solutions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    /// Multi-partner solutions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_partner_business_ids: Option<Vec<String>>,
    /// `AD_ACCOUNT_LINKED`: the ad account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_account_linked: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `restriction_info[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RestrictionInfo {
    /// What is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_type: Option<String>,
    /// Until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
    /// What to do (kept as JSON; Meta's shape varies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Value>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `violation_info`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ViolationInfo {
    /// The violation type (`ADULT`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_type: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ban_info`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BanInfo {
    /// Disabled, scheduled, or reinstated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_ban_state: Option<BanState>,
    /// A human-readable date ("April 17, 2025").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_ban_date: Option<String>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

walk_struct!(AccountUpdateValue {
    event => "event",
    disconnection_info => "disconnection_info",
    waba_info => "waba_info",
    restriction_info => "restriction_info",
    violation_info => "violation_info",
    ban_info => "ban_info",
});
walk_struct!(DisconnectionInfo {
    reason => "reason",
    initiated_by => "initiated_by",
});
walk_struct!(WabaInfo {});
walk_struct!(RestrictionInfo {});
walk_struct!(ViolationInfo {});
walk_struct!(BanInfo { waba_ban_state => "waba_ban_state" });
