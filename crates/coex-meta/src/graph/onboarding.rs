//! The Graph calls around coexistence onboarding (spec §2.1, §7.4): the one-shot
//! `smb_app_data` sync requests, subscribing the app to a WABA (`subscribed_apps`, with an
//! optional callback override), and a phone number's own webhook override.

use serde::{Deserialize, Serialize, Serializer};

use coex_core::{RequestId, Secret};

use super::wire::{Extra, messaging_product, wire_enum};

wire_enum!(
    /// `sync_type` of an `smb_app_data` request. Each may be called once, within 24 h of
    /// onboarding, contacts first (errors 2593107 / 2593108 otherwise).
    SyncType {
        /// Contacts from the phone app.
        SmbAppStateSync = "smb_app_state_sync",
        /// Up to 180 days of 1:1 history.
        History = "history",
    }
);

/// `POST /{phone_number_id}/smb_app_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmbAppDataRequest {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    pub sync_type: SyncType,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SmbAppDataRequest {
    pub fn new(sync_type: SyncType) -> Self {
        Self {
            messaging_product: messaging_product(),
            sync_type,
            extra: Extra::new(),
        }
    }
}

/// The answer: acceptance only; for `history` it does not say whether the business shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmbAppDataResponse {
    #[serde(default = "messaging_product")]
    pub messaging_product: String,
    /// Keep for Meta support.
    pub request_id: RequestId,
    #[serde(flatten)]
    pub extra: Extra,
}

fn expose_opt_secret<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    // A request body must carry the real value; `Secret` alone serialises as "[redacted]".
    match v {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

/// `POST /{waba_id}/subscribed_apps`. An empty body subscribes to the app's own callback;
/// `override_callback_uri` (≤ 200 characters) with `verify_token` sets a WABA override, and
/// an empty `override_callback_uri` removes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SubscribeAppRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_callback_uri: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_opt_secret"
    )]
    pub verify_token: Option<Secret>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SubscribeAppRequest {
    /// Subscribe with a callback override.
    pub fn with_override(uri: impl Into<String>, verify_token: Secret) -> Self {
        Self {
            override_callback_uri: Some(uri.into()),
            verify_token: Some(verify_token),
            extra: Extra::new(),
        }
    }
}

/// One entry of `GET /{waba_id}/subscribed_apps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscribedApp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_api_data: Option<AppData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_callback_uri: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `whatsapp_business_api_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /{phone_number_id}` body that sets (or, with an empty URI, removes) the number's
/// webhook override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneWebhookOverrideRequest {
    pub webhook_configuration: SubscribeAppRequest,
}

#[cfg(test)]
mod tests {
    use super::super::ListResponse;
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn spec_sync_requests_and_response() {
        let a = r#"{ "messaging_product": "whatsapp", "sync_type": "smb_app_state_sync" }"#;
        let b = r#"{ "messaging_product": "whatsapp", "sync_type": "history" }"#;
        for (raw, t) in [(a, SyncType::SmbAppStateSync), (b, SyncType::History)] {
            let r: SmbAppDataRequest = serde_json::from_str(raw).unwrap();
            assert_eq!(r, SmbAppDataRequest::new(t));
            assert_eq!(
                serde_json::to_value(&r).unwrap(),
                serde_json::from_str::<Value>(raw).unwrap()
            );
        }
        let raw = r#"{ "messaging_product": "whatsapp", "request_id": "1234567890123456" }"#;
        let r: SmbAppDataResponse = serde_json::from_str(raw).unwrap();
        assert_eq!(r.request_id.as_str(), "1234567890123456");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
    }

    #[test]
    fn spec_overrides() {
        let raw = r#"{ "override_callback_uri": "https://hooks.example.com/waba", "verify_token": "s3cret" }"#;
        let r: SubscribeAppRequest = serde_json::from_str(raw).unwrap();
        assert!(!format!("{r:?}").contains("s3cret"));
        // The body carries the real token.
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        let raw = r#"{ "webhook_configuration": { "override_callback_uri": "https://hooks.example.com/number", "verify_token": "t" } }"#;
        let r: PhoneWebhookOverrideRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        assert_eq!(
            serde_json::to_value(SubscribeAppRequest::default()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn subscribed_apps_list() {
        let raw = r#"{ "data": [ { "whatsapp_business_api_data": { "link": "https://www.facebook.com/games/?app_id=67", "name": "Coex", "id": "67" },
                                    "override_callback_uri": "https://hooks.example.com/waba" } ] }"#;
        let l: ListResponse<SubscribedApp> = serde_json::from_str(raw).unwrap();
        assert_eq!(
            l.data[0]
                .whatsapp_business_api_data
                .as_ref()
                .unwrap()
                .id
                .as_deref(),
            Some("67")
        );
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
    }
}
