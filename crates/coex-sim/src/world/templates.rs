//! Message templates of a WABA: name, language, approval status, category and the parameters
//! each component expects, plus their Graph form (`GET /{waba_id}/message_templates`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Approval state of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
}

impl TemplateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Paused => "PAUSED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// Template category; it sets the `pricing.category` of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

impl TemplateCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "MARKETING",
            Self::Utility => "UTILITY",
            Self::Authentication => "AUTHENTICATION",
        }
    }

    /// The `pricing.category` value.
    pub fn pricing(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Utility => "utility",
            Self::Authentication => "authentication",
        }
    }
}

/// A template header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Header {
    /// Text with this many `{{n}}` parameters.
    Text { text: String, params: usize },
    /// A media header (`image`, `video`, `document`): one media parameter at send time.
    Media { kind: String },
}

/// A template button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Button {
    QuickReply {
        text: String,
    },
    /// A URL button; `dynamic` ones take one parameter (the URL suffix).
    Url {
        text: String,
        url: String,
        dynamic: bool,
    },
    /// An authentication one-time-password button (copy code, one-tap, zero-tap): one
    /// parameter, and the recipient must be a phone number (131062 for a BSUID).
    Otp {
        otp_type: String,
    },
}

impl Button {
    /// Parameters the button takes at send time.
    pub fn params(&self) -> usize {
        match self {
            Self::QuickReply { .. } => 0,
            Self::Url { dynamic, .. } => usize::from(*dynamic),
            Self::Otp { .. } => 1,
        }
    }
}

/// One template in one language.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    /// Filled in when empty (templates written in a scenario file).
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: TemplateStatus,
    pub category: TemplateCategory,
    #[serde(default)]
    pub header: Option<Header>,
    pub body: String,
    /// Number of `{{n}}` parameters in the body.
    pub body_params: usize,
    #[serde(default)]
    pub footer: Option<String>,
    #[serde(default)]
    pub buttons: Vec<Button>,
}

impl Template {
    /// Whether the template has a one-time-password button (needs a phone recipient).
    pub fn is_otp(&self) -> bool {
        self.buttons.iter().any(|b| matches!(b, Button::Otp { .. }))
    }

    /// The template as `coex-meta` types it (for its parameter counting).
    pub fn to_meta(&self) -> Result<coex_meta::graph::MessageTemplate, String> {
        serde_json::from_value(self.graph_json()).map_err(|e| e.to_string())
    }

    /// The template as `GET /{waba_id}/message_templates` lists it.
    pub fn graph_json(&self) -> Value {
        let mut components = Vec::new();
        match &self.header {
            Some(Header::Text { text, .. }) => {
                components.push(json!({ "type": "HEADER", "format": "TEXT", "text": text }));
            }
            Some(Header::Media { kind }) => {
                components.push(json!({ "type": "HEADER", "format": kind.to_ascii_uppercase() }));
            }
            None => {}
        }
        components.push(json!({ "type": "BODY", "text": self.body }));
        if let Some(footer) = &self.footer {
            components.push(json!({ "type": "FOOTER", "text": footer }));
        }
        if !self.buttons.is_empty() {
            let buttons: Vec<Value> = self
                .buttons
                .iter()
                .map(|b| match b {
                    Button::QuickReply { text } => json!({ "type": "QUICK_REPLY", "text": text }),
                    Button::Url { text, url, .. } => {
                        json!({ "type": "URL", "text": text, "url": url })
                    }
                    Button::Otp { otp_type } => {
                        json!({ "type": "OTP", "otp_type": otp_type, "text": "Copy code" })
                    }
                })
                .collect();
            components.push(json!({ "type": "BUTTONS", "buttons": buttons }));
        }
        json!({
            "name": self.name,
            "language": self.language,
            "status": self.status.as_str(),
            "category": self.category.as_str(),
            "id": self.id,
            "components": components,
        })
    }
}
