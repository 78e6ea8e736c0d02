//! [`Refusal`]: every reason the policy turns a send down, each with a stable snake_case
//! [`code`](Refusal::code) (the REST API's `code`), a human detail (its `Display`), and the
//! Meta error code it pre-empts where one exists.

use super::{Feature, MediaKind, TemplateStatus};
use crate::model::{NumberKind, NumberState};

/// Why a send is refused before Meta sees it. Resending the same request will not help; the
/// detail says what would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The number may not send in its state (spec/coexistence.md §2: a disconnected number
    /// keeps its data and stops sending).
    #[error("{}", number_detail(*state))]
    NumberCannotSend { state: NumberState },

    /// A feature the number does not support (spec/coexistence.md §1, §3).
    #[error("{}", feature_detail(*feature, *number))]
    FeatureDisabled {
        feature: Feature,
        number: NumberKind,
    },

    #[error("{kind} messages do not accept {mime}; allowed: {}", kind.mime_types().join(", "))]
    MediaTypeUnsupported { kind: MediaKind, mime: String },

    #[error(
        "the {kind} is {size} bytes; at most {max} are allowed{}",
        if *coexistence && *kind == MediaKind::Video {
            ", and a larger video is known to fail on coexistence numbers: it does not sync to the WhatsApp Business app"
        } else { "" }
    )]
    MediaTooLarge {
        kind: MediaKind,
        size: u64,
        max: u64,
        /// Sent from a coexistence number (the sync failure applies).
        coexistence: bool,
    },

    #[error("the {kind} file is empty")]
    MediaEmpty { kind: MediaKind },

    #[error("no template named {name:?} exists for this account")]
    TemplateNotFound { name: String },

    #[error(
        "template {name:?} has no {language:?} version; available: {}",
        available.join(", ")
    )]
    TemplateLanguageNotFound {
        name: String,
        language: String,
        available: Vec<String>,
    },

    #[error("template {name:?} ({language}) is {status}, not approved")]
    TemplateNotApproved {
        name: String,
        language: String,
        status: TemplateStatus,
    },

    /// The parameters do not fit the template; the detail is Meta's 132000 `details` text.
    #[error("{}", param_detail(component, *given, *expected, missing_names))]
    TemplateParamMismatch {
        /// `header`, `body` or `button <index>`.
        component: String,
        given: usize,
        expected: usize,
        /// For named templates: names expected but not given.
        missing_names: Vec<String>,
    },

    /// Authentication templates need a phone number (spec/cloud-api.md §10.4); the contact
    /// has only a BSUID. Ask for the number with a `REQUEST_CONTACT_INFO` message first.
    #[error(
        "authentication template {template:?} cannot be sent to a business-scoped user id; \
         the contact's phone number is needed (ask with a request-contact-info message)"
    )]
    BsuidRecipientNotSupported { template: String },
}

impl Refusal {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NumberCannotSend { state } => match state {
                NumberState::Pending => "number_pending",
                NumberState::Connected => "number_connected",
                NumberState::Disconnected => "number_disconnected",
                NumberState::Offboarded => "number_offboarded",
                NumberState::AppUninstalled => "number_app_uninstalled",
                NumberState::Restricted => "number_restricted",
                NumberState::Banned => "number_banned",
                NumberState::Deleted => "number_deleted",
            },
            Self::FeatureDisabled { feature, .. } => feature.as_str(),
            Self::MediaTypeUnsupported { .. } => "media_type_unsupported",
            Self::MediaTooLarge { .. } => "media_too_large",
            Self::MediaEmpty { .. } => "media_empty",
            Self::TemplateNotFound { .. } => "template_not_found",
            Self::TemplateLanguageNotFound { .. } => "template_language_not_found",
            Self::TemplateNotApproved { .. } => "template_not_approved",
            Self::TemplateParamMismatch { .. } => "template_param_mismatch",
            Self::BsuidRecipientNotSupported { .. } => "bsuid_recipient_not_supported",
        }
    }

    /// The human-readable explanation (the same text as `Display`).
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// The Meta error code this refusal pre-empts, when there is one.
    ///
    /// `[INF]` Meta documents no code for the disabled features; these are what our emulator
    /// answers: 131051 (unsupported message type) for a message type, 100 (invalid parameter)
    /// for a flag. Meta documents none for number states, media or broadcast lists either.
    pub fn meta_code(&self) -> Option<u32> {
        match self {
            Self::NumberCannotSend { .. }
            | Self::MediaTypeUnsupported { .. }
            | Self::MediaTooLarge { .. }
            | Self::MediaEmpty { .. } => None,
            Self::FeatureDisabled { feature, .. } => feature.meta_code(),
            Self::TemplateNotFound { .. } | Self::TemplateLanguageNotFound { .. } => Some(132001),
            Self::TemplateNotApproved { status, .. } => Some(match status {
                TemplateStatus::Paused => 132015,
                TemplateStatus::Disabled => 132016,
                _ => 132001,
            }),
            Self::TemplateParamMismatch { .. } => Some(132000),
            Self::BsuidRecipientNotSupported { .. } => Some(131062),
        }
    }
}

fn number_detail(state: NumberState) -> String {
    let why = match state {
        NumberState::Pending => "its onboarding has not finished",
        NumberState::Connected => "it is connected",
        NumberState::Disconnected => {
            "the business disconnected it from the Business Platform; it must be reconnected"
        }
        NumberState::Offboarded => "it was offboarded; it must be onboarded again",
        NumberState::AppUninstalled => {
            "the WhatsApp Business app was uninstalled or our app de-authorised; it must be onboarded again"
        }
        NumberState::Restricted => "Meta restricted it",
        NumberState::Banned => "Meta disabled it",
        NumberState::Deleted => "the account was deleted",
    };
    format!("the number cannot send: {why} (state {state}); its data is kept")
}

fn feature_detail(feature: Feature, number: NumberKind) -> String {
    let base = match feature {
        Feature::ViewOnce => "view-once media is not supported",
        Feature::Disappearing => "disappearing messages are not supported",
        Feature::LiveLocation => "live location sharing is not supported",
        Feature::EditFromApi => {
            "editing a message through the API is not supported; edit it in the WhatsApp Business app"
        }
        Feature::RevokeFromApi => {
            "deleting a message for everyone through the API is not supported; delete it in the WhatsApp Business app"
        }
        Feature::BroadcastList => {
            "broadcast lists are not supported; send to each recipient, or run a campaign"
        }
        Feature::MarketingMessagesLite => "the Marketing Messages Lite API is not available",
    };
    match number {
        NumberKind::Coexistence => {
            format!(
                "{base}: Coexistence disables it for numbers shared with the WhatsApp Business app"
            )
        }
        NumberKind::CloudApi => format!("{base} on the Cloud API"),
    }
}

fn param_detail(component: &str, given: usize, expected: usize, missing: &[String]) -> String {
    // Meta's 132000 `error_data.details` wording (spec/cloud-api.md §3.1, captured traffic).
    if given == expected && !missing.is_empty() {
        format!(
            "{component}: parameter names ({}) are missing from the request",
            missing.join(", ")
        )
    } else {
        format!(
            "{component}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
        )
    }
}
