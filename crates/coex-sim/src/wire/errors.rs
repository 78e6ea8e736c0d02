//! Meta's error objects, as the emulator sends them: the synchronous Graph envelope
//! (`{"error": {...}}`, spec/cloud-api.md §4) and the asynchronous webhook form found in
//! `statuses[].errors`, `value.errors` and `history[].errors` (§1.1, §2.3, §3.3).
//!
//! Codes, titles, default details and HTTP statuses come from `coex-meta`'s [`ErrorCode`]
//! table (the one the hub classifies errors with), and the envelope is built with its
//! [`GraphErrorBody`], so the emulator and its clients cannot drift apart. The emulator adds
//! specific `details` where Meta's are specific (132000's counts, 132001's name and language).
//!
//! [INF] Where Meta documents no code for a behaviour the emulator must refuse (features that
//! Coexistence disables, the portfolio messaging limit), the nearest documented code is used
//! with a `details` text that says exactly what happened.

use coex_meta::graph::{ErrorCode, GraphErrorBody};
use coex_meta::webhook::{ErrorData, WebhookError};
use serde_json::{Value, json};

/// One Meta error: its code, title, details and the HTTP status of the synchronous form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub code: i64,
    pub title: String,
    pub details: String,
    pub http_status: u16,
    /// Graph-wide errors (tokens, unknown objects and paths) carry no WhatsApp `error_data`
    /// and their `message` is the bare text.
    pub whatsapp: bool,
    pub subcode: Option<i64>,
}

impl std::fmt::Display for MetaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(#{}) {}: {}", self.code, self.title, self.details)
    }
}

impl std::error::Error for MetaError {}

impl MetaError {
    /// The error for a code as `coex-meta` knows it, with Meta's default details.
    pub fn of(code: ErrorCode) -> Self {
        Self {
            code: code.code(),
            title: code.title().to_owned(),
            details: code.details().to_owned(),
            http_status: code.http_status(),
            whatsapp: true,
            subcode: None,
        }
    }

    /// The same error with specific details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    fn graph_wide(code: i64, text: String, http_status: u16) -> Self {
        Self {
            code,
            title: text,
            details: String::new(),
            http_status,
            whatsapp: false,
            subcode: None,
        }
    }

    /// Any code, for injected faults (`next N sends fail with code C`).
    pub fn injected(code: u32) -> Self {
        match ErrorCode::from(i64::from(code)) {
            ErrorCode::Other(n) => Self {
                code: n,
                title: "Injected fault".to_owned(),
                details: format!("Injected fault with code {n}."),
                http_status: 400,
                whatsapp: true,
                subcode: None,
            },
            known => Self::of(known),
        }
    }

    /// 130429: the number's throughput (MPS) is used up.
    pub fn throughput() -> Self {
        Self::of(ErrorCode::RateLimitHit)
    }

    /// 131056: the (business, customer) pair rate is used up.
    pub fn pair_rate() -> Self {
        Self::of(ErrorCode::PairRateLimitHit)
    }

    /// 131047: a free-form message outside the customer-service window.
    pub fn window_closed() -> Self {
        Self::of(ErrorCode::ReEngagementMessage)
    }

    /// 131026: the recipient cannot receive the message (not on WhatsApp, old client, ...).
    pub fn undeliverable() -> Self {
        Self::of(ErrorCode::MessageUndeliverable)
    }

    /// 131000: unknown error.
    pub fn unknown() -> Self {
        Self::of(ErrorCode::SomethingWentWrong)
    }

    /// [INF] The portfolio's messaging limit (unique customers outside the window per rolling
    /// 24 h). Meta documents no dedicated code; the emulator reports 131000 with these details
    /// in a failed status.
    pub fn messaging_limit(tier: &str) -> Self {
        Self::of(ErrorCode::SomethingWentWrong).with_details(format!(
            "Message failed to send because the business portfolio reached its messaging limit ({tier}) of unique customers outside a customer service window in a moving 24-hour period."
        ))
    }

    /// 132001: the template does not exist in that language or is not approved.
    pub fn template_missing(name: &str, language: &str) -> Self {
        Self::of(ErrorCode::TemplateDoesNotExist).with_details(format!(
            "template name ({name}) does not exist in {language}"
        ))
    }

    /// 132000: the number of parameters does not match the template.
    pub fn template_params(component: &str, got: usize, expected: usize) -> Self {
        Self::of(ErrorCode::TemplateParamCountMismatch).with_details(format!(
            "{component}: number of localizable_params ({got}) does not match the expected number of params ({expected})"
        ))
    }

    /// 131062: a BSUID recipient for a message that needs a phone number (authentication
    /// templates).
    pub fn bsuid_not_supported() -> Self {
        Self::of(ErrorCode::BsuidNotSupported)
    }

    /// 2593107: `smb_app_data` called twice for one sync type.
    pub fn sync_repeated() -> Self {
        Self::of(ErrorCode::SyncCallLimit)
    }

    /// 2593108: `smb_app_data` called more than 24 h after onboarding.
    pub fn sync_too_late() -> Self {
        Self::of(ErrorCode::SyncWindowExpired)
    }

    /// 2593109: the business declined to share its history (sent in the `history` webhook).
    pub fn history_declined() -> Self {
        Self::of(ErrorCode::HistorySharingOff)
    }

    /// 131060: an inbound message the API cannot show (first contact, unsupported companion).
    pub fn unsupported_inbound() -> Self {
        Self::of(ErrorCode::CoexistenceUnsupportedMessage)
    }

    /// 131051: a message type the API does not send (or Coexistence disables).
    pub fn unsupported_type(details: impl Into<String>) -> Self {
        Self::of(ErrorCode::UnsupportedMessageType).with_details(details)
    }

    /// 100: a bad or unsupported parameter.
    pub fn invalid_param(details: impl Into<String>) -> Self {
        Self::of(ErrorCode::InvalidParameter).with_details(details)
    }

    /// 131008: a required parameter is missing.
    pub fn missing_param(details: impl Into<String>) -> Self {
        Self::of(ErrorCode::RequiredParameterMissing).with_details(details)
    }

    /// 131009: a parameter value is not valid.
    pub fn invalid_value(details: impl Into<String>) -> Self {
        Self::of(ErrorCode::ParameterValueInvalid).with_details(details)
    }

    /// 133010: the number is not registered on the Cloud API (disconnected).
    pub fn not_registered() -> Self {
        Self::of(ErrorCode::NumberNotRegistered)
    }

    /// 190: a bad access token (Graph-wide).
    pub fn invalid_token() -> Self {
        Self::graph_wide(
            190,
            "Invalid OAuth access token - Cannot parse access token".to_owned(),
            ErrorCode::AccessTokenExpired.http_status(),
        )
    }

    /// 104: no access token at all (Graph-wide).
    pub fn no_token() -> Self {
        Self::graph_wide(
            104,
            "An access token is required to request this resource.".to_owned(),
            401,
        )
    }

    /// 100 / subcode 33: the object id does not exist or does not support the operation.
    pub fn unknown_object(id: &str, method: &str) -> Self {
        let mut e = Self::graph_wide(
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
            400,
        );
        e.subcode = Some(33);
        e
    }

    /// 2500: a path the Graph API does not know.
    pub fn unknown_path(path: &str) -> Self {
        Self::graph_wide(2500, format!("Unknown path components: {path}"), 400)
    }

    /// The Graph envelope sent as a synchronous response.
    pub fn graph_body(&self, fbtrace_id: &str) -> Value {
        let mut body = GraphErrorBody::new(ErrorCode::from(self.code))
            .with_details(self.details.clone())
            .with_fbtrace_id(fbtrace_id);
        if self.whatsapp {
            body = body.with_message(format!("(#{}) {}", self.code, self.title));
        } else {
            body = body.with_message(self.title.clone());
            body.error_data = None;
        }
        if let Some(sub) = self.subcode {
            body = body.with_subcode(sub);
        }
        serde_json::to_value(body.into_envelope())
            .unwrap_or_else(|_| json!({ "error": { "code": self.code } }))
    }

    /// The object inside a webhook's `errors[]`.
    pub fn webhook_object(&self) -> Value {
        let e = WebhookError {
            code: Some(self.code),
            title: Some(self.title.clone()),
            message: Some(self.title.clone()),
            error_data: Some(ErrorData {
                details: Some(self.details.clone()),
                ..ErrorData::default()
            }),
            href: Some("/documentation/business-messaging/whatsapp/support/error-codes".to_owned()),
            ..WebhookError::default()
        };
        serde_json::to_value(e).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_envelope_matches_meta() {
        let body = MetaError::template_params("body", 0, 1).graph_body("ATdq");
        assert_eq!(
            body,
            json!({ "error": {
                "message": "(#132000) Number of parameters does not match the expected number of params",
                "type": "OAuthException",
                "code": 132000,
                "error_data": { "messaging_product": "whatsapp",
                  "details": "body: number of localizable_params (0) does not match the expected number of params (1)" },
                "fbtrace_id": "ATdq" } })
        );
        let token = MetaError::invalid_token().graph_body("x");
        assert_eq!(token["error"]["code"], 190);
        assert!(token["error"].get("error_data").is_none());
    }

    #[test]
    fn webhook_error_object() {
        let v = MetaError::window_closed().webhook_object();
        assert_eq!(v["code"], 131047);
        assert_eq!(v["title"], "Re-engagement message");
        assert_eq!(
            v["error_data"]["details"],
            "More than 24 hours have passed since the recipient last replied to the sender number."
        );
    }
}
