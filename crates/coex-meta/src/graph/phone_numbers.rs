//! Phone-number fields: `GET /{phone_number_id}?fields=…` and `GET /{waba_id}/phone_numbers`.
//!
//! These answer the questions the hub asks about a number: is it a coexistence number
//! (`is_on_biz_app` and `platform_type`, spec §2.1 step 5), how fast may it send
//! (`throughput`), how many new customers a day (`whatsapp_business_manager_messaging_limit`,
//! §5.4), and where do its webhooks go (`webhook_configuration`, §7.4). Every field is
//! optional because Meta returns only the fields asked for.

use serde::{Deserialize, Serialize};

use coex_core::PhoneNumberId;

use super::wire::{Extra, wire_enum};

wire_enum!(
    /// A field that can be requested with `?fields=`.
    PhoneNumberField {
        Id = "id",
        DisplayPhoneNumber = "display_phone_number",
        VerifiedName = "verified_name",
        IsOnBizApp = "is_on_biz_app",
        PlatformType = "platform_type",
        Throughput = "throughput",
        MessagingLimit = "whatsapp_business_manager_messaging_limit",
        QualityRating = "quality_rating",
        CodeVerificationStatus = "code_verification_status",
        NameStatus = "name_status",
        WebhookConfiguration = "webhook_configuration",
    }
);

impl PhoneNumberField {
    /// The `fields` query value for a list of fields (`a,b,c`).
    pub fn join(fields: &[PhoneNumberField]) -> String {
        fields
            .iter()
            .map(PhoneNumberField::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

wire_enum!(
    /// `platform_type`.
    PlatformType {
        CloudApi = "CLOUD_API",
        OnPremise = "ON_PREMISE",
        NotApplicable = "NOT_APPLICABLE",
    }
);

wire_enum!(
    /// `throughput.level`.
    ThroughputLevel {
        Standard = "STANDARD",
        High = "HIGH",
        NotApplicable = "NOT_APPLICABLE",
    }
);

wire_enum!(
    /// `whatsapp_business_manager_messaging_limit` (and the deprecated `messaging_limit_tier`).
    MessagingLimitTier {
        Tier50 = "TIER_50",
        Tier250 = "TIER_250",
        /// The older per-number tier, replaced by 2K (spec §5.4).
        Tier1K = "TIER_1K",
        Tier2K = "TIER_2K",
        Tier10K = "TIER_10K",
        Tier100K = "TIER_100K",
        TierUnlimited = "TIER_UNLIMITED",
    }
);

impl MessagingLimitTier {
    /// Unique customers reachable outside the service window per rolling 24 h; `None` for
    /// unlimited or an unknown tier.
    pub fn daily_limit(&self) -> Option<u64> {
        match self {
            Self::Tier50 => Some(50),
            Self::Tier250 => Some(250),
            Self::Tier1K => Some(1_000),
            Self::Tier2K => Some(2_000),
            Self::Tier10K => Some(10_000),
            Self::Tier100K => Some(100_000),
            Self::TierUnlimited | Self::Other(_) => None,
        }
    }
}

wire_enum!(
    /// `quality_rating`.
    QualityRating {
        Green = "GREEN",
        Yellow = "YELLOW",
        Red = "RED",
        Unknown = "UNKNOWN",
        Na = "NA",
    }
);

wire_enum!(
    /// `code_verification_status`.
    CodeVerificationStatus {
        Verified = "VERIFIED",
        NotVerified = "NOT_VERIFIED",
        Expired = "EXPIRED",
    }
);

wire_enum!(
    /// `name_status` (display-name review).
    NameStatus {
        Approved = "APPROVED",
        AvailableWithoutReview = "AVAILABLE_WITHOUT_REVIEW",
        Declined = "DECLINED",
        Expired = "EXPIRED",
        PendingReview = "PENDING_REVIEW",
        None = "NONE",
    }
);

/// `throughput`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub level: ThroughputLevel,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `webhook_configuration`: the callback URL at each level of the override chain.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WebhookConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl WebhookConfiguration {
    /// Where Meta delivers this number's `messages`/`smb_*`/`history` webhooks: the number's
    /// override, else the WABA's, else the app's URL.
    pub fn effective(&self) -> Option<&str> {
        self.phone_number
            .as_deref()
            .or(self.whatsapp_business_account.as_deref())
            .or(self.application.as_deref())
    }
}

/// A business phone number's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    pub id: PhoneNumberId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
    /// With `platform_type: CLOUD_API`, `true` means a coexistence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_on_biz_app: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_type: Option<PlatformType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_manager_messaging_limit: Option<MessagingLimitTier>,
    /// Deprecated spelling of the limit; read when the new one is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit_tier: Option<MessagingLimitTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_rating: Option<QualityRating>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verification_status: Option<CodeVerificationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_status: Option<NameStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_configuration: Option<WebhookConfiguration>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl PhoneNumberInfo {
    /// Only the id set; fill the rest with struct update syntax.
    pub fn new(id: PhoneNumberId) -> Self {
        Self {
            id,
            display_phone_number: None,
            verified_name: None,
            is_on_biz_app: None,
            platform_type: None,
            throughput: None,
            whatsapp_business_manager_messaging_limit: None,
            messaging_limit_tier: None,
            quality_rating: None,
            code_verification_status: None,
            name_status: None,
            webhook_configuration: None,
            extra: Extra::new(),
        }
    }

    /// Whether the phone app and the Cloud API share this number (spec §2.1 step 5).
    /// `None` when either field was not requested.
    pub fn is_coexistence(&self) -> Option<bool> {
        Some(self.is_on_biz_app? && self.platform_type.as_ref()? == &PlatformType::CloudApi)
    }

    /// The messaging limit, preferring the current field over the deprecated one.
    pub fn messaging_limit(&self) -> Option<&MessagingLimitTier> {
        self.whatsapp_business_manager_messaging_limit
            .as_ref()
            .or(self.messaging_limit_tier.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ListResponse;
    use super::*;
    use serde_json::Value;

    #[test]
    fn spec_coexistence_check() {
        let raw =
            r#"{ "is_on_biz_app": true, "platform_type": "CLOUD_API", "id": "106540352242922" }"#;
        let p: PhoneNumberInfo = serde_json::from_str(raw).unwrap();
        assert_eq!(p.is_coexistence(), Some(true));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        let p: PhoneNumberInfo = serde_json::from_str(r#"{"id": "1"}"#).unwrap();
        assert_eq!(p.is_coexistence(), None);
    }

    #[test]
    fn all_fields_and_list() {
        let raw = r#"{
          "data": [{
            "verified_name": "Lucky Shrub", "code_verification_status": "VERIFIED",
            "display_phone_number": "+1 555-078-3881", "quality_rating": "GREEN",
            "platform_type": "CLOUD_API", "is_on_biz_app": true,
            "throughput": { "level": "STANDARD" },
            "whatsapp_business_manager_messaging_limit": "TIER_2K",
            "name_status": "APPROVED",
            "webhook_configuration": { "whatsapp_business_account": "https://waba.example.com/hook",
                                       "application": "https://app.example.com/hook" },
            "last_onboarded_time": "2025-02-10T18:12:00+0000",
            "id": "106540352242922"
          }, { "id": "2", "whatsapp_business_manager_messaging_limit": "TIER_500K", "messaging_limit_tier": "TIER_1K" }],
          "paging": { "cursors": { "before": "QVFI", "after": "QVFJ" } }
        }"#;
        let list: ListResponse<PhoneNumberInfo> = serde_json::from_str(raw).unwrap();
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        let p = &list.data[0];
        assert_eq!(p.messaging_limit().unwrap().daily_limit(), Some(2_000));
        assert_eq!(
            p.throughput.as_ref().unwrap().level,
            ThroughputLevel::Standard
        );
        assert_eq!(
            p.webhook_configuration.as_ref().unwrap().effective(),
            Some("https://waba.example.com/hook")
        );
        assert!(p.extra.contains_key("last_onboarded_time"));
        let q = &list.data[1];
        // An unknown tier is kept, and the current field wins over the deprecated one.
        assert_eq!(
            q.messaging_limit(),
            Some(&MessagingLimitTier::Other("TIER_500K".into()))
        );
        assert_eq!(MessagingLimitTier::TierUnlimited.daily_limit(), None);
        assert_eq!(MessagingLimitTier::Tier1K.daily_limit(), Some(1_000));
        assert_eq!(MessagingLimitTier::Tier100K.daily_limit(), Some(100_000));
        assert_eq!(MessagingLimitTier::Tier10K.daily_limit(), Some(10_000));
        assert_eq!(MessagingLimitTier::Tier250.daily_limit(), Some(250));
    }

    #[test]
    fn fields_join() {
        assert_eq!(
            PhoneNumberField::join(&[PhoneNumberField::IsOnBizApp, PhoneNumberField::PlatformType]),
            "is_on_biz_app,platform_type"
        );
    }
}
