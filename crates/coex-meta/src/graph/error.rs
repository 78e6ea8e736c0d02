//! Graph API errors: the `{ "error": { … } }` envelope, Meta's error codes, and what each code
//! means for a sender (spec/cloud-api.md §4).
//!
//! Meta asks clients to act on `code` (and `error_data.details`), never on the HTTP status, the
//! deprecated `error_subcode` or the title text. So [`ErrorCode`] knows every code of the spec's
//! table and answers three questions about it: its stable name, its [`ErrorClass`], and its
//! [`RetryAdvice`] — whether to retry, at what scope (this request, this recipient, the sending
//! number, the WABA, the whole app) and after how long.
//!
//! The same types *build* error bodies: the emulator answers with
//! `GraphErrorBody::new(ErrorCode::RateLimitHit)` and gets Meta's message, type, details and
//! HTTP status. Titles and details are Meta's words where a source has them (S11 and copies of
//! its older table); a few titles Meta never published are marked `[INF]` below.
//!
//! **HTTP status choice.** Meta's older error table had an "HTTP Status Code" column, which
//! public copies preserve: 401 for 0 and 190; 403 for 10, 200–299, 368 and 131031; 500 for 3,
//! 131000, 131016 and 131057; 503 for 2 and 133004; 404 for 132001; 400 for everything else.
//! We use exactly that, and 400 for codes the table did not list. `type` is always
//! `OAuthException`, as in every WhatsApp example in the spec. Clients must not depend on the
//! status anyway; [`GraphError`](super::GraphError) classifies by code.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::wire::{Extra, messaging_product};

/// The JSON body of every failed Graph call: `{ "error": { … } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphErrorEnvelope {
    pub error: GraphErrorBody,
}

/// The object inside the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    /// `"(#130429) Rate limit hit"`: the code and title. Do not match on it.
    #[serde(default)]
    pub message: String,
    /// `"OAuthException"` for every WhatsApp error Meta shows.
    #[serde(rename = "type", default = "oauth_exception")]
    pub kind: String,
    pub code: ErrorCode,
    /// Deprecated since v16.0, yet still in Meta's own example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
    /// Graph-wide hint some errors carry; advisory only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
    /// Keys Meta adds that we do not model (`error_user_title`, `error_user_msg`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `error.error_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Meta's specific explanation; this, with `code`, is what to act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn oauth_exception() -> String {
    "OAuthException".to_owned()
}

impl GraphErrorBody {
    /// The body Meta sends for `code`: message `"(#<code>) <title>"`, type `OAuthException`,
    /// `error_data` with `messaging_product: "whatsapp"` and Meta's default details.
    pub fn new(code: ErrorCode) -> Self {
        let message = match code {
            // Graph writes token errors without the `(#190)` prefix.
            ErrorCode::AccessTokenExpired => {
                "Error validating access token: Session has expired.".to_owned()
            }
            _ => format!("(#{}) {}", code.code(), code.title()),
        };
        Self {
            message,
            kind: oauth_exception(),
            code,
            error_subcode: None,
            error_data: Some(ErrorData {
                messaging_product: Some(messaging_product()),
                details: Some(code.details().to_owned()),
                extra: Extra::new(),
            }),
            fbtrace_id: None,
            is_transient: None,
            extra: Extra::new(),
        }
    }

    /// Replaces `error_data.details` (e.g. the 132000 count message).
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        let data = self.error_data.get_or_insert_with(|| ErrorData {
            messaging_product: Some(messaging_product()),
            details: None,
            extra: Extra::new(),
        });
        data.details = Some(details.into());
        self
    }

    /// Replaces the `message` text.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_fbtrace_id(mut self, id: impl Into<String>) -> Self {
        self.fbtrace_id = Some(id.into());
        self
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.error_subcode = Some(subcode);
        self
    }

    /// `error_data.details`, if any.
    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref()?.details.as_deref()
    }

    /// The HTTP status Meta answers this body with (see the module notes).
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn retry(&self) -> RetryAdvice {
        self.code.retry()
    }

    pub fn into_envelope(self) -> GraphErrorEnvelope {
        GraphErrorEnvelope { error: self }
    }
}

impl From<ErrorCode> for GraphErrorBody {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

impl fmt::Display for GraphErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code.name())?;
        if let Some(d) = self.details() {
            write!(f, ": {d}")?;
        }
        if let Some(t) = &self.fbtrace_id {
            write!(f, " (fbtrace_id {t})")?;
        }
        Ok(())
    }
}

/// What kind of trouble a code signals; drives dashboards and the sender's first decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Token or permission problem: stop the app and alert a human.
    Auth,
    /// App (4) or WABA (80007) Graph call rate limit.
    AppRateLimit,
    /// The sending number's messages-per-second cap (130429).
    Throughput,
    /// Too many messages to one user (131056).
    PairRate,
    /// Meta-side hiccup; retry with backoff.
    Transient,
    /// The 24-hour customer-service window is closed (131047): send a template.
    WindowClosed,
    /// The template is missing, paused, disabled, or the parameters do not fit it.
    Template,
    /// Quality enforcement: spam limits, per-user marketing limits, classification limits.
    Quality,
    /// The account is restricted, locked or blocked for policy.
    Policy,
    /// Payment method problem.
    Billing,
    /// This user cannot receive this message (not on WhatsApp, opted out, blocked, …).
    Recipient,
    /// The request itself is malformed.
    InvalidRequest,
    /// Coexistence `smb_app_data` sync errors.
    Sync,
    /// Business-username errors.
    Username,
    /// Any other condition that will not clear by itself (e.g. number not registered).
    Permanent,
    /// Not a failure of ours: Meta reports something for information (131060).
    Informational,
    /// A code this version does not know.
    Unknown,
}

/// Who or what a retry decision applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryScope {
    /// Only this request.
    Request,
    /// The (sending number, recipient) pair.
    Recipient,
    /// Every send from the business phone number.
    SendingNumber,
    /// Every call for the WhatsApp Business Account.
    Waba,
    /// Every call the app makes.
    App,
    /// Nothing to hold back (informational codes).
    Nobody,
}

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryWhen {
    /// Resending will fail the same way; change something first.
    Never,
    /// Retry after this backoff, applied to the advice's scope.
    After(Backoff),
}

/// A delay schedule; attempt 0 is the first retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `base · 2^attempt`, capped at `max`, then jittered into its upper half.
    Exponential { base: Duration, max: Duration },
    /// Meta's pair-rate schedule (spec §5.3): `4^attempt` seconds — 1, 4, 16, 64 … — capped at `max`.
    PowersOfFour { max: Duration },
    /// Not before this much time has passed (131049: 24 hours).
    NotBefore(Duration),
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based). `jitter` in `[0, 1)` comes from the
    /// caller so this stays deterministic and testable; it only affects `Exponential`, which
    /// then lands in `[d/2, d)` to spread a herd of retries.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        match *self {
            Backoff::Exponential { base, max } => {
                let factor = 2u32.saturating_pow(attempt.min(31));
                let d = base.saturating_mul(factor).min(max);
                let j = if jitter.is_finite() {
                    jitter.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                d.mul_f64(0.5 + j / 2.0)
            }
            Backoff::PowersOfFour { max } => {
                let secs = 4u64.saturating_pow(attempt.min(31));
                Duration::from_secs(secs).min(max)
            }
            Backoff::NotBefore(d) => d,
        }
    }
}

/// What has to happen before the same send can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Remedy {
    /// Nothing: wait for the backoff.
    Wait,
    /// Send less often from this scope.
    ReduceRate,
    /// Fix the request (a parameter, a type, a length).
    FixRequest,
    /// The window is closed: send an approved template instead.
    UseTemplate,
    /// Fix or replace the template, or its parameters.
    FixTemplate,
    /// Get a new access token.
    RenewToken,
    /// Grant the missing permission.
    GrantPermission,
    /// Fix the payment method.
    FixBilling,
    /// Review the policy enforcement in Business Manager.
    ReviewPolicy,
    /// Reach the user another way (not on WhatsApp, old client, unaccepted ToS).
    ContactUserElsewhere,
    /// Respect the user's choice (opted out, experiment): do not resend.
    RespectUser,
    /// Unblock the user first.
    UnblockUser,
    /// Send to the phone number instead of the BSUID (131062).
    UsePhoneNumber,
    /// Register or re-verify the number.
    FixNumber,
    /// Offboard and re-onboard the business (sync errors).
    Reonboard,
    /// Look in the WhatsApp Business app (131060).
    CheckBusinessApp,
    /// Choose another username or link the account holding it.
    FixUsername,
    /// Nothing known to do.
    Unknown,
}

/// How a sender should react to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAdvice {
    pub when: RetryWhen,
    /// For a retry: what to pause. For a refusal: how far the refusal reaches.
    pub scope: RetryScope,
    pub remedy: Remedy,
}

impl RetryAdvice {
    const fn never(scope: RetryScope, remedy: Remedy) -> Self {
        Self {
            when: RetryWhen::Never,
            scope,
            remedy,
        }
    }

    const fn after(scope: RetryScope, backoff: Backoff, remedy: Remedy) -> Self {
        Self {
            when: RetryWhen::After(backoff),
            scope,
            remedy,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.when, RetryWhen::After(_))
    }

    /// The schedule, when retryable.
    pub fn backoff(&self) -> Option<Backoff> {
        match self.when {
            RetryWhen::After(b) => Some(b),
            RetryWhen::Never => None,
        }
    }

    /// Whether a human must be told (credentials, permissions, policy, billing, sync).
    pub fn needs_operator(&self) -> bool {
        matches!(
            self.remedy,
            Remedy::RenewToken
                | Remedy::GrantPermission
                | Remedy::FixBilling
                | Remedy::ReviewPolicy
                | Remedy::FixNumber
                | Remedy::Reonboard
        )
    }

    /// Advice for transport failures and Meta-side errors: jittered exponential, 1 s to 5 min.
    pub const TRANSIENT: RetryAdvice = RetryAdvice::after(
        RetryScope::Request,
        Backoff::Exponential {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        },
        Remedy::Wait,
    );

    /// Advice for anything unknown and not obviously transient: do not resend blindly.
    pub const UNKNOWN: RetryAdvice = RetryAdvice::never(RetryScope::Request, Remedy::Unknown);
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal, $title:literal, $details:literal, $class:ident, $status:literal;)+) => {
        /// A Graph / Cloud API error code (spec/cloud-api.md §4 and §10.4).
        ///
        /// Build one from a number with `ErrorCode::from(i64)`; `200..=299` become
        /// [`ErrorCode::ApiPermission`] and unknown codes [`ErrorCode::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
            /// 200–299: API permission not granted or removed.
            ApiPermission(i64),
            /// Any code this version does not know.
            Other(i64),
        }

        impl ErrorCode {
            /// Every named code (plus `ApiPermission(200)` as the range's representative).
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+ ErrorCode::ApiPermission(200)];

            /// The number on the wire.
            pub fn code(&self) -> i64 {
                match self {
                    $(Self::$variant => $code,)+
                    Self::ApiPermission(n) | Self::Other(n) => *n,
                }
            }

            /// A stable snake_case name, for logs, metrics and our own API.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                    Self::ApiPermission(_) => "api_permission",
                    Self::Other(_) => "unknown",
                }
            }

            /// Meta's title (the text after `(#code)` in `message`).
            pub fn title(&self) -> &'static str {
                match self {
                    $(Self::$variant => $title,)+
                    Self::ApiPermission(_) => "API Permission",
                    Self::Other(_) => "Unknown error",
                }
            }

            /// Meta's meaning, used as the default `error_data.details`.
            pub fn details(&self) -> &'static str {
                match self {
                    $(Self::$variant => $details,)+
                    Self::ApiPermission(_) => "Permission is either not granted or has been removed.",
                    Self::Other(_) => "An error this client does not know.",
                }
            }

            pub fn class(&self) -> ErrorClass {
                match self {
                    $(Self::$variant => ErrorClass::$class,)+
                    Self::ApiPermission(_) => ErrorClass::Auth,
                    Self::Other(_) => ErrorClass::Unknown,
                }
            }

            /// The HTTP status Meta answers with (see the module notes).
            pub fn http_status(&self) -> u16 {
                match self {
                    $(Self::$variant => $status,)+
                    Self::ApiPermission(_) => 403,
                    Self::Other(_) => 400,
                }
            }
        }

        impl From<i64> for ErrorCode {
            fn from(n: i64) -> Self {
                match n {
                    $($code => Self::$variant,)+
                    200..=299 => Self::ApiPermission(n),
                    _ => Self::Other(n),
                }
            }
        }
    };
}

error_codes! {
    /// 0: the token expired, was invalidated, or the user blocked all apps.
    AuthException = 0, "auth_exception", "AuthException",
        "We were unable to authenticate the app user.", Auth, 401;
    /// 1: invalid request or possible server error.
    ApiUnknown = 1, "api_unknown", "API Unknown",
        "Invalid request or possible server error.", Transient, 400;
    /// 2: temporary downtime or overload.
    ApiService = 2, "api_service", "API Service",
        "Temporary due to downtime or due to being overloaded.", Transient, 503;
    /// 3: capability or permissions issue.
    ApiMethod = 3, "api_method", "API Method",
        "Capability or permissions issue.", Auth, 500;
    /// 4: the app's Graph call rate limit.
    ApiTooManyCalls = 4, "api_too_many_calls", "API Too Many Calls",
        "The app has reached its API call rate limit.", AppRateLimit, 400;
    /// 10: permission not granted or removed.
    PermissionDenied = 10, "permission_denied", "Permission Denied",
        "Permission is either not granted or has been removed.", Auth, 403;
    /// 100: unsupported or misspelled parameter; also length limits.
    InvalidParameter = 100, "invalid_parameter", "Invalid parameter",
        "The request included one or more unsupported or misspelled parameters.", InvalidRequest, 400;
    /// 190: the access token expired.
    AccessTokenExpired = 190, "access_token_expired", "Access token has expired",
        "Your access token has expired.", Auth, 401;
    /// 368: WABA restricted or disabled for a policy violation.
    TemporarilyBlocked = 368, "temporarily_blocked", "Temporarily blocked for policies violations",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.", Policy, 403;
    /// 80007: the WABA's Graph call rate limit.
    WabaRateLimit = 80007, "waba_rate_limit", "Rate limit issues",
        "The WhatsApp Business Account has reached its rate limit.", AppRateLimit, 400;
    /// 130403: the business has blocked this user. Title `[INF]`.
    UserBlockedByBusiness = 130403, "user_blocked_by_business", "User is blocked",
        "The business has blocked this user.", Recipient, 400;
    /// 130429: the number's throughput (messages per second) was reached.
    RateLimitHit = 130429, "rate_limit_hit", "Rate limit hit",
        "Cloud API message throughput has been reached.", Throughput, 400;
    /// 130472: the user is in a marketing experiment; not sent, not billed.
    UserInExperiment = 130472, "user_in_experiment", "User's number is part of an experiment",
        "Message was not sent as part of an experiment.", Recipient, 400;
    /// 130497: the WABA may not message users in this country.
    RestrictedCountry = 130497, "restricted_country", "Business account is restricted from messaging users in this country",
        "The WhatsApp Business Account is restricted from messaging users in this country.", Policy, 400;
    /// 131000: unknown error; the message may or may not have gone out.
    SomethingWentWrong = 131000, "something_went_wrong", "Something went wrong",
        "Message failed to send due to an unknown error.", Transient, 500;
    /// 131008: a required parameter is missing.
    RequiredParameterMissing = 131008, "required_parameter_missing", "Required parameter is missing",
        "The request is missing a required parameter.", InvalidRequest, 400;
    /// 131009: a parameter value is invalid (also a bad reaction target).
    ParameterValueInvalid = 131009, "parameter_value_invalid", "Parameter value is not valid",
        "One or more parameter values are invalid.", InvalidRequest, 400;
    /// 131016: a service is temporarily unavailable.
    ServiceUnavailable = 131016, "service_unavailable", "Service unavailable",
        "A service is temporarily unavailable.", Transient, 500;
    /// 131026: not a WhatsApp user, ToS not accepted, or an old client.
    MessageUndeliverable = 131026, "message_undeliverable", "Message Undeliverable",
        "Unable to deliver message.", Recipient, 400;
    /// 131031: the account is locked.
    AccountLocked = 131031, "account_locked", "Account has been locked",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or we were unable to verify data included in the request against data set on the WhatsApp Business Account.", Policy, 403;
    /// 131042: payment method problem.
    PaymentIssue = 131042, "payment_issue", "Business eligibility payment issue",
        "There was an error related to your payment method.", Billing, 400;
    /// 131047: the 24-hour window is closed; only templates may be sent.
    ReEngagementMessage = 131047, "re_engagement_message", "Re-engagement message",
        "More than 24 hours have passed since the recipient last replied to the sender number.", WindowClosed, 400;
    /// 131048: spam rate limit; too many earlier messages were blocked or flagged.
    SpamRateLimitHit = 131048, "spam_rate_limit_hit", "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.", Quality, 400;
    /// 131049: per-user marketing limit; do not resend within 24 hours.
    EcosystemEngagement = 131049, "ecosystem_engagement", "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.", Quality, 400;
    /// 131050: the user stopped marketing messages. Title `[INF]`.
    UserStoppedMarketing = 131050, "user_stopped_marketing", "User has stopped marketing messages",
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", Recipient, 400;
    /// 131051: unsupported message type.
    UnsupportedMessageType = 131051, "unsupported_message_type", "Unsupported message type",
        "Unsupported message type.", InvalidRequest, 400;
    /// 131056: pair rate limit (same number to the same user too fast).
    PairRateLimitHit = 131056, "pair_rate_limit_hit", "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.", PairRate, 400;
    /// 131057: account in maintenance mode (e.g. a throughput upgrade, up to a minute).
    AccountInMaintenance = 131057, "account_in_maintenance", "Account in maintenance mode",
        "WhatsApp Business Account is in maintenance mode. One reason for this could be that the account is undergoing a throughput upgrade.", Transient, 500;
    /// 131060: coexistence, a message the API cannot show (first contact, unsupported
    /// companion). Arrives in webhooks; check the app. Title and details `[INF]`.
    CoexistenceUnsupportedMessage = 131060, "coexistence_unsupported_message", "Message unavailable",
        "This message is not available through the Cloud API. Check the WhatsApp Business app for it.", Informational, 400;
    /// 131062: BSUID recipients are not allowed for this message (e.g. OTP templates).
    BsuidNotSupported = 131062, "bsuid_recipient_not_supported", "Business-scoped User ID (BSUID) recipients are not supported for this message.",
        "Business-scoped User ID (BSUID) recipients are not supported for this message.", Recipient, 400;
    /// 131064: messaging limit reached after template-classification violations. Title `[INF]`.
    ClassificationLimit = 131064, "classification_limit", "Messaging limit reached",
        "Message failed to send because this account has reached its messaging limit due to template classification violations.", Quality, 400;
    /// 132000: the number of parameters does not match the template.
    TemplateParamCountMismatch = 132000, "template_param_count_mismatch", "Number of parameters does not match the expected number of params",
        "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.", Template, 400;
    /// 132001: no approved template with this name in this language.
    TemplateDoesNotExist = 132001, "template_does_not_exist", "Template name does not exist in the translation",
        "The template does not exist in the specified language or the template has not been approved.", Template, 404;
    /// 132005: hydrated text too long.
    TemplateTextTooLong = 132005, "template_text_too_long", "Template Hydrated Text Too Long",
        "Translated text is too long.", Template, 400;
    /// 132007: template content violates a policy.
    TemplatePolicyViolation = 132007, "template_policy_violation", "Template Format Character Policy Violated",
        "Template content violates a WhatsApp policy.", Template, 400;
    /// 132012: parameter values do not use the template's format.
    TemplateParamFormatMismatch = 132012, "template_param_format_mismatch", "Parameter format does not match format in the created template",
        "Variable parameter values formatted incorrectly. The variable parameter values included in the request are not using the format specified in the template.", Template, 400;
    /// 132015: template paused for low quality.
    TemplatePaused = 132015, "template_paused", "Template is Paused",
        "Template is paused due to low quality so it cannot be sent in a template message.", Template, 400;
    /// 132016: template permanently disabled.
    TemplateDisabled = 132016, "template_disabled", "Template is Disabled",
        "Template has been paused too many times due to low quality and is now permanently disabled.", Template, 400;
    /// 133004: server temporarily unavailable.
    ServerTemporarilyUnavailable = 133004, "server_temporarily_unavailable", "Server Temporarily Unavailable",
        "Server is temporarily unavailable.", Transient, 503;
    /// 133010: the number is not registered on the platform.
    NumberNotRegistered = 133010, "phone_number_not_registered", "Phone number Not Registered",
        "Phone number not registered on the WhatsApp Business Platform.", Permanent, 400;
    /// 2593107: `smb_app_data` called more than once for this sync type. Title `[INF]`.
    SyncCallLimit = 2593107, "sync_call_limit", "Synchronization API call limit exceeded",
        "You have exceeded the maximum number of times to call the synchronization api for this phone number.", Sync, 400;
    /// 2593108: `smb_app_data` called more than 24 hours after onboarding. Title `[INF]`.
    SyncWindowExpired = 2593108, "sync_window_expired", "Synchronization window expired",
        "Synchronization request can only be made within 24 hours of onboarding.", Sync, 400;
    /// 2593109: the business declined to share history (arrives in the `history` webhook).
    HistorySharingOff = 2593109, "history_sharing_off", "History sync is turned off by the business from the WhatsApp Business App",
        "History sharing is turned off by the business", Sync, 400;
    /// 147001: the username is taken or not allowed.
    UsernameNotAvailable = 147001, "username_not_available", "Username not available",
        "The username has already been claimed, doesn't pass our internal checks, or is not available on the platform. Try requesting another username.", Username, 400;
    /// 147002: the portfolio needs a higher messaging limit to request a username.
    UsernameNotEligible = 147002, "username_not_eligible", "Account not eligible to request a username",
        "The business portfolio that owns the WhatsApp Business Account and business phone number must have a higher messaging limit.", Username, 400;
    /// 147003: link the Facebook Page that holds the username.
    UsernamePageNotLinked = 147003, "username_page_not_linked", "Facebook Page not linked",
        "You must link the phone number to the Facebook Page that already uses the requested username.", Username, 400;
    /// 147004: link the Instagram account that holds the username.
    UsernameInstagramNotLinked = 147004, "username_instagram_not_linked", "Instagram account not linked",
        "You must link the phone number to the Instagram account that already uses the requested username.", Username, 400;
    /// 147005: the username is on another number of the portfolio; resend with force_transfer.
    UsernameTransferRequired = 147005, "username_transfer_required", "Username transfer required",
        "The requested username is currently in use on another business phone number within your business portfolio. To transfer it to this phone number, resend the request with force_transfer.", Username, 400;
}

impl ErrorCode {
    /// How a sender should react. See [`RetryAdvice`].
    pub fn retry(&self) -> RetryAdvice {
        use Backoff::*;
        use ErrorCode::*;
        use Remedy::*;
        use RetryScope::*;
        // App/WABA Graph limits are counted per hour (spec §5.2), so waits start at a minute.
        const HOURLY: Backoff = Exponential {
            base: secs(60),
            max: secs(3600),
        };
        match self {
            AuthException | AccessTokenExpired => RetryAdvice::never(App, RenewToken),
            ApiMethod | PermissionDenied | ApiPermission(_) => {
                RetryAdvice::never(App, GrantPermission)
            }
            ApiTooManyCalls => RetryAdvice::after(App, HOURLY, ReduceRate),
            WabaRateLimit => RetryAdvice::after(Waba, HOURLY, ReduceRate),
            // Pause the whole number's lane; throughput recovers within seconds.
            RateLimitHit => RetryAdvice::after(
                SendingNumber,
                Exponential {
                    base: secs(1),
                    max: secs(60),
                },
                ReduceRate,
            ),
            // Meta's own formula: 4^X seconds; other recipients are unaffected.
            PairRateLimitHit => {
                RetryAdvice::after(Recipient, PowersOfFour { max: secs(1024) }, Wait)
            }
            // A throughput upgrade takes up to a minute.
            AccountInMaintenance => RetryAdvice::after(
                SendingNumber,
                Exponential {
                    base: secs(5),
                    max: secs(60),
                },
                Wait,
            ),
            ApiUnknown
            | ApiService
            | SomethingWentWrong
            | ServiceUnavailable
            | ServerTemporarilyUnavailable => RetryAdvice::TRANSIENT,
            // Resending sooner than a day only produces another 131049.
            EcosystemEngagement => RetryAdvice::after(Recipient, NotBefore(secs(86_400)), Wait),
            SpamRateLimitHit => RetryAdvice::after(SendingNumber, HOURLY, ReduceRate),
            ReEngagementMessage => RetryAdvice::never(Recipient, UseTemplate),
            InvalidParameter
            | RequiredParameterMissing
            | ParameterValueInvalid
            | UnsupportedMessageType => RetryAdvice::never(Request, FixRequest),
            TemplateParamCountMismatch
            | TemplateDoesNotExist
            | TemplateTextTooLong
            | TemplatePolicyViolation
            | TemplateParamFormatMismatch
            | TemplatePaused
            | TemplateDisabled => RetryAdvice::never(Request, FixTemplate),
            MessageUndeliverable => RetryAdvice::never(Recipient, ContactUserElsewhere),
            UserStoppedMarketing | UserInExperiment => RetryAdvice::never(Recipient, RespectUser),
            UserBlockedByBusiness => RetryAdvice::never(Recipient, UnblockUser),
            BsuidNotSupported => RetryAdvice::never(Recipient, UsePhoneNumber),
            TemporarilyBlocked | AccountLocked | RestrictedCountry | ClassificationLimit => {
                RetryAdvice::never(Waba, ReviewPolicy)
            }
            PaymentIssue => RetryAdvice::never(Waba, FixBilling),
            NumberNotRegistered => RetryAdvice::never(SendingNumber, FixNumber),
            SyncCallLimit | SyncWindowExpired => RetryAdvice::never(SendingNumber, Reonboard),
            HistorySharingOff => RetryAdvice::never(Nobody, Wait),
            CoexistenceUnsupportedMessage => RetryAdvice::never(Nobody, CheckBusinessApp),
            UsernameNotAvailable
            | UsernameNotEligible
            | UsernamePageNotLinked
            | UsernameInstagramNotLinked
            | UsernameTransferRequired => RetryAdvice::never(Request, FixUsername),
            Other(_) => RetryAdvice::UNKNOWN,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    /// Meta sends a number; some BSP wrappers send `"131056"`. Both are accepted.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(n.into()),
            Raw::S(s) => {
                s.trim().parse::<i64>().map(Into::into).map_err(|_| {
                    serde::de::Error::custom(format!("error code {s:?} is not a number"))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn spec_section_4_envelope_parses_and_roundtrips() {
        let raw = r#"{ "error": { "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
          "error_data": { "messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached." },
          "error_subcode": 2494055, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam" } }"#;
        let env: GraphErrorEnvelope = serde_json::from_str(raw).unwrap();
        let e = &env.error;
        assert_eq!(e.code, ErrorCode::RateLimitHit);
        assert_eq!(e.kind, "OAuthException");
        assert_eq!(e.error_subcode, Some(2494055));
        assert_eq!(
            e.details(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(e.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        let back = serde_json::to_value(&env).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(raw).unwrap()
        );
    }

    #[test]
    fn spec_section_3_1_template_error_parses() {
        let raw = r#"{ "error": { "message": "(#132000) Number of parameters does not match the expected number of params", "type": "OAuthException",
          "code": 132000, "error_data": { "messaging_product": "whatsapp",
          "details": "body: number of localizable_params (0) does not match the expected number of params (1)" },
          "fbtrace_id": "ATdqH-A9cFJNdLo1xMIvz0t" } }"#;
        let env: GraphErrorEnvelope = serde_json::from_str(raw).unwrap();
        assert_eq!(env.error.code, ErrorCode::TemplateParamCountMismatch);
        assert_eq!(env.error.code.class(), ErrorClass::Template);
        // Our builder reproduces Meta's captured message exactly.
        let built = GraphErrorBody::new(ErrorCode::TemplateParamCountMismatch)
            .with_details(
                "body: number of localizable_params (0) does not match the expected number of params (1)",
            )
            .with_fbtrace_id("ATdqH-A9cFJNdLo1xMIvz0t");
        assert_eq!(built, env.error);
    }

    #[test]
    fn token_error_with_unknown_keys_keeps_them() {
        let raw = json!({"error": {"message": "Error validating access token: Session has expired on Tuesday.",
            "type": "OAuthException", "code": 190, "error_subcode": 463,
            "error_user_title": "Session expired", "fbtrace_id": "X"}});
        let env: GraphErrorEnvelope = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(env.error.code, ErrorCode::AccessTokenExpired);
        assert_eq!(
            env.error.extra["error_user_title"],
            json!("Session expired")
        );
        assert_eq!(serde_json::to_value(&env).unwrap(), raw);
        assert!(!env.error.retry().is_retryable());
        assert!(env.error.retry().needs_operator());
    }

    #[test]
    fn string_codes_and_minimal_bodies_parse() {
        let env: GraphErrorEnvelope =
            serde_json::from_value(json!({"error": {"code": "131056"}})).unwrap();
        assert_eq!(env.error.code, ErrorCode::PairRateLimitHit);
        assert_eq!(env.error.kind, "OAuthException");
        assert!(
            serde_json::from_value::<GraphErrorEnvelope>(json!({"error": {"code": "x"}})).is_err()
        );
    }

    #[test]
    fn builder_uses_meta_wording_and_status() {
        let b = GraphErrorBody::new(ErrorCode::RateLimitHit);
        assert_eq!(b.message, "(#130429) Rate limit hit");
        assert_eq!(b.kind, "OAuthException");
        assert_eq!(
            b.details(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(b.http_status(), 400);
        let v = serde_json::to_value(b.into_envelope()).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."}}})
        );
        let pair = GraphErrorBody::new(ErrorCode::PairRateLimitHit);
        assert_eq!(
            pair.message,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit"
        );
        assert_eq!(
            GraphErrorBody::new(ErrorCode::AccessTokenExpired).http_status(),
            401
        );
        assert_eq!(
            GraphErrorBody::new(ErrorCode::ApiService).http_status(),
            503
        );
        assert_eq!(
            GraphErrorBody::new(ErrorCode::TemplateDoesNotExist).http_status(),
            404
        );
    }

    #[test]
    fn every_spec_code_is_known_with_a_unique_name() {
        let spec_codes: &[i64] = &[
            0, 1, 2, 3, 4, 10, 100, 190, 200, 250, 299, 368, 80007, 130403, 130429, 130472, 130497,
            131000, 131008, 131009, 131016, 131026, 131031, 131042, 131047, 131048, 131049, 131050,
            131051, 131056, 131057, 131060, 131062, 131064, 132000, 132001, 132005, 132007, 132012,
            132015, 132016, 133004, 133010, 2593107, 2593108, 2593109, 147001, 147002, 147003,
            147004, 147005,
        ];
        for &n in spec_codes {
            let c = ErrorCode::from(n);
            assert!(!matches!(c, ErrorCode::Other(_)), "{n} unknown");
            assert_eq!(c.code(), n);
            assert_ne!(c.class(), ErrorClass::Unknown);
            assert!(!c.title().is_empty() && !c.details().is_empty());
            // Round-trips through JSON.
            let back: ErrorCode = serde_json::from_value(serde_json::to_value(c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
        let names: HashSet<_> = ErrorCode::KNOWN.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::KNOWN.len());
        for c in ErrorCode::KNOWN {
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert_eq!(ErrorCode::from(c.code()), *c);
        }
        assert_eq!(ErrorCode::from(201), ErrorCode::ApiPermission(201));
        assert_eq!(ErrorCode::from(300), ErrorCode::Other(300));
        assert_eq!(ErrorCode::from(300).class(), ErrorClass::Unknown);
    }

    #[test]
    fn retry_advice_matches_the_spec() {
        use ErrorCode as C;
        let r = C::RateLimitHit.retry();
        assert_eq!(r.scope, RetryScope::SendingNumber);
        assert!(r.is_retryable());

        let r = C::PairRateLimitHit.retry();
        assert_eq!(r.scope, RetryScope::Recipient);
        let b = r.backoff().unwrap();
        let delays: Vec<u64> = (0..5).map(|x| b.delay(x, 0.0).as_secs()).collect();
        assert_eq!(delays, [1, 4, 16, 64, 256]);
        assert_eq!(b.delay(40, 0.0), Duration::from_secs(1024));

        let r = C::AccountInMaintenance.retry();
        let b = r.backoff().unwrap();
        assert!((0..20).all(|x| b.delay(x, 0.999) <= Duration::from_secs(60)));

        let r = C::EcosystemEngagement.retry();
        assert_eq!(
            r.backoff(),
            Some(Backoff::NotBefore(Duration::from_secs(86_400)))
        );
        assert_eq!(r.scope, RetryScope::Recipient);

        let r = C::ReEngagementMessage.retry();
        assert!(!r.is_retryable());
        assert_eq!(r.remedy, Remedy::UseTemplate);

        for c in [
            C::AuthException,
            C::AccessTokenExpired,
            C::PermissionDenied,
            C::ApiMethod,
            C::ApiPermission(230),
        ] {
            let r = c.retry();
            assert!(
                !r.is_retryable() && r.scope == RetryScope::App && r.needs_operator(),
                "{c}"
            );
        }
        assert_eq!(C::ApiTooManyCalls.retry().scope, RetryScope::App);
        assert_eq!(C::WabaRateLimit.retry().scope, RetryScope::Waba);
        assert!(C::WabaRateLimit.retry().is_retryable());
        for c in [
            C::ApiUnknown,
            C::ApiService,
            C::SomethingWentWrong,
            C::ServiceUnavailable,
            C::ServerTemporarilyUnavailable,
        ] {
            assert_eq!(c.retry(), RetryAdvice::TRANSIENT, "{c}");
            assert_eq!(c.class(), ErrorClass::Transient);
        }
        for c in [
            C::InvalidParameter,
            C::MessageUndeliverable,
            C::UserStoppedMarketing,
            C::TemplateDisabled,
            C::TemporarilyBlocked,
            C::PaymentIssue,
            C::SyncCallLimit,
            C::Other(999),
        ] {
            assert!(!c.retry().is_retryable(), "{c}");
        }
        assert_eq!(C::BsuidNotSupported.retry().remedy, Remedy::UsePhoneNumber);
        assert_eq!(
            C::CoexistenceUnsupportedMessage.class(),
            ErrorClass::Informational
        );
    }

    #[test]
    fn exponential_backoff_is_capped_and_jittered() {
        let b = Backoff::Exponential {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        };
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(4));
        assert!(b.delay(3, 0.99) < Duration::from_secs(8));
        assert!(b.delay(3, 0.99) > Duration::from_secs(7));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_secs(300));
        assert_eq!(b.delay(2, f64::NAN), Duration::from_secs(2));
    }

    #[test]
    fn display_is_useful() {
        let b = GraphErrorBody::new(ErrorCode::RateLimitHit).with_fbtrace_id("T");
        assert_eq!(
            b.to_string(),
            "(#130429) Rate limit hit [rate_limit_hit]: Cloud API message throughput has been reached. (fbtrace_id T)"
        );
    }
}
