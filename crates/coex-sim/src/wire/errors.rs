//! Meta's error objects, as the emulator sends them: the synchronous Graph envelope
//! (`{"error": {...}}`, spec/cloud-api.md §4) and the asynchronous webhook form found in
//! `statuses[].errors`, `value.errors` and `history[].errors` (§1.1, §2.3, §3.3).
//!
//! Codes, titles and details follow Meta's error-code page as quoted in the spec. HTTP status
//! codes follow Meta's table as mirrored by BSPs (429 for rate limits, 401 for tokens, 404 for
//! a missing template, 400 otherwise); Meta says to key on `code`, not on the HTTP status.
//!
//! [INF] Where Meta documents no code for a behaviour the emulator must refuse (features that
//! Coexistence disables, the portfolio messaging limit), the nearest documented code is used
//! with a `details` text that says exactly what happened.

use serde_json::{Value, json};

/// One Meta error: its code, title, details and the HTTP status of the synchronous form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub code: u32,
    pub title: String,
    pub details: String,
    pub http_status: u16,
    /// Graph-wide errors (tokens, unknown objects) carry no WhatsApp `error_data`.
    pub whatsapp: bool,
    pub subcode: Option<u32>,
}

impl std::fmt::Display for MetaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(#{}) {}: {}", self.code, self.title, self.details)
    }
}

impl std::error::Error for MetaError {}

impl MetaError {
    fn wa(code: u32, http_status: u16, title: &str, details: impl Into<String>) -> Self {
        Self {
            code,
            title: title.to_owned(),
            details: details.into(),
            http_status,
            whatsapp: true,
            subcode: None,
        }
    }

    /// Any code, for injected faults (`next N sends fail with code C`).
    pub fn injected(code: u32) -> Self {
        match code {
            130429 => Self::throughput(),
            131056 => Self::pair_rate(),
            131047 => Self::window_closed(),
            131026 => Self::undeliverable(),
            131000 => Self::unknown(),
            190 => Self::invalid_token(),
            133010 => Self::not_registered(),
            2 | 131016 | 133004 => Self::wa(
                code,
                503,
                "Service unavailable",
                "A service is temporarily unavailable.",
            ),
            4 => Self::wa(
                4,
                429,
                "Application request limit reached",
                "The app has reached its API call rate limit.",
            ),
            80007 => Self::wa(
                80007,
                429,
                "Rate limit issues",
                "The WhatsApp Business Account has reached its rate limit.",
            ),
            other => Self::wa(
                other,
                400,
                "Injected fault",
                format!("Injected fault with code {other}."),
            ),
        }
    }

    /// 130429: the number's throughput (MPS) is used up.
    pub fn throughput() -> Self {
        Self::wa(
            130429,
            429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
    }

    /// 131056: the (business, customer) pair rate is used up.
    pub fn pair_rate() -> Self {
        Self::wa(
            131056,
            429,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        )
    }

    /// 131047: a free-form message outside the customer-service window.
    pub fn window_closed() -> Self {
        Self::wa(
            131047,
            400,
            "Re-engagement message",
            "More than 24 hours have passed since the recipient last replied to the sender number.",
        )
    }

    /// 131026: the recipient cannot receive the message (not on WhatsApp, old client, ...).
    pub fn undeliverable() -> Self {
        Self::wa(
            131026,
            400,
            "Message undeliverable",
            "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.",
        )
    }

    /// 131000: unknown error.
    pub fn unknown() -> Self {
        Self::wa(
            131000,
            500,
            "Something went wrong",
            "Message failed to send due to an unknown error.",
        )
    }

    /// [INF] The portfolio's messaging limit (unique customers outside the window per rolling
    /// 24 h). Meta documents no dedicated code; 131000 with these details is what the
    /// emulator reports, as a failed status.
    pub fn messaging_limit(tier: &str) -> Self {
        Self::wa(
            131000,
            400,
            "Something went wrong",
            format!(
                "Message failed to send because the business portfolio reached its messaging limit ({tier}) of unique customers outside a customer service window in a moving 24-hour period."
            ),
        )
    }

    /// 132001: the template does not exist in that language or is not approved.
    pub fn template_missing(name: &str, language: &str) -> Self {
        Self::wa(
            132001,
            404,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {language}"),
        )
    }

    /// 132000: the number of parameters does not match the template.
    pub fn template_params(component: &str, got: usize, expected: usize) -> Self {
        Self::wa(
            132000,
            400,
            "Number of parameters does not match the expected number of params",
            format!(
                "{component}: number of localizable_params ({got}) does not match the expected number of params ({expected})"
            ),
        )
    }

    /// 131062: a BSUID recipient for a message that needs a phone number (authentication
    /// templates).
    pub fn bsuid_not_supported() -> Self {
        Self::wa(
            131062,
            400,
            "Business-scoped User ID (BSUID) recipients are not supported for this message.",
            "Business-scoped User ID (BSUID) recipients are not supported for this message.",
        )
    }

    /// 2593107: `smb_app_data` called twice for one sync type.
    pub fn sync_repeated() -> Self {
        Self::wa(
            2593107,
            400,
            "Synchronization API call limit exceeded",
            "You have exceeded the maximum number of times to call the synchronization api for this phone number.",
        )
    }

    /// 2593108: `smb_app_data` called more than 24 h after onboarding.
    pub fn sync_too_late() -> Self {
        Self::wa(
            2593108,
            400,
            "Synchronization request outside the allowed window",
            "Synchronization request can only be made within 24 hours of onboarding.",
        )
    }

    /// 2593109: the business declined to share its history (sent in the `history` webhook).
    pub fn history_declined() -> Self {
        Self::wa(
            2593109,
            400,
            "History sync is turned off by the business from the WhatsApp Business App",
            "History sharing is turned off by the business",
        )
    }

    /// 131060: an inbound message the API cannot show (first contact, unsupported companion).
    pub fn unsupported_inbound() -> Self {
        Self::wa(
            131060,
            400,
            "Unsupported message",
            "Message type is currently not supported. Check the WhatsApp Business app for the message.",
        )
    }

    /// 131051: a message type the API does not send (or Coexistence disables).
    pub fn unsupported_type(details: impl Into<String>) -> Self {
        Self::wa(131051, 400, "Unsupported message type", details)
    }

    /// 100: a bad or unsupported parameter.
    pub fn invalid_param(details: impl Into<String>) -> Self {
        Self::wa(100, 400, "Invalid parameter", details)
    }

    /// 131008: a required parameter is missing.
    pub fn missing_param(details: impl Into<String>) -> Self {
        Self::wa(131008, 400, "Required parameter is missing", details)
    }

    /// 131009: a parameter value is not valid.
    pub fn invalid_value(details: impl Into<String>) -> Self {
        Self::wa(131009, 400, "Parameter value is not valid", details)
    }

    /// 133010: the number is not registered on the Cloud API (disconnected).
    pub fn not_registered() -> Self {
        Self::wa(
            133010,
            400,
            "Account not registered",
            "Phone number is not registered on the WhatsApp Business Platform.",
        )
    }

    /// 190: a bad access token.
    pub fn invalid_token() -> Self {
        Self {
            code: 190,
            title: "Invalid OAuth access token - Cannot parse access token".to_owned(),
            details: String::new(),
            http_status: 401,
            whatsapp: false,
            subcode: None,
        }
    }

    /// 104: no access token at all (Graph-wide).
    pub fn no_token() -> Self {
        Self {
            code: 104,
            title: "An access token is required to request this resource.".to_owned(),
            details: String::new(),
            http_status: 401,
            whatsapp: false,
            subcode: None,
        }
    }

    /// 100 / subcode 33: the object id does not exist or does not support the operation.
    pub fn unknown_object(id: &str, method: &str) -> Self {
        Self {
            code: 100,
            title: format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
            details: String::new(),
            http_status: 400,
            whatsapp: false,
            subcode: Some(33),
        }
    }

    /// 2500: a path the Graph API does not know.
    pub fn unknown_path(path: &str) -> Self {
        Self {
            code: 2500,
            title: format!("Unknown path components: {path}"),
            details: String::new(),
            http_status: 400,
            whatsapp: false,
            subcode: None,
        }
    }

    /// The Graph envelope sent as a synchronous response.
    pub fn graph_body(&self, fbtrace_id: &str) -> Value {
        let message = if self.whatsapp {
            format!("(#{}) {}", self.code, self.title)
        } else {
            self.title.clone()
        };
        let mut error = json!({
            "message": message,
            "type": "OAuthException",
            "code": self.code,
        });
        if self.whatsapp {
            error["error_data"] =
                json!({ "messaging_product": "whatsapp", "details": self.details });
        }
        if let Some(sub) = self.subcode {
            error["error_subcode"] = json!(sub);
        }
        error["fbtrace_id"] = json!(fbtrace_id);
        json!({ "error": error })
    }

    /// The object inside a webhook's `errors[]`.
    pub fn webhook_object(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": { "details": self.details },
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        })
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
