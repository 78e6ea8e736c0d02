//! The Graph API half of Meta's wire contract: request and response types, the error envelope
//! with a typed code that knows how to retry, and a typed client.
//!
//! The hub builds requests with these types and sends them with [`GraphClient`]; the emulator
//! parses the same types from incoming bodies ([`MessagesRequest::from_slice`]) and answers
//! with them, including errors built by [`GraphErrorBody::new`]. Parsing is lenient
//! everywhere: open enums keep unknown values, and every main struct keeps unmodelled keys in
//! `extra`, so what a real client sends survives a round trip.
//!
//! - [`messages`]: sends (`SendMessageRequest`, `MessageContent`), mark-as-read, the send
//!   response, and validation against Meta's limits.
//! - [`templates`]: template management and placeholder counting.
//! - [`phone_numbers`]: phone-number fields and the WABA's number list.
//! - [`media`]: upload/retrieve/delete types and per-kind limits.
//! - [`onboarding`]: `smb_app_data`, `subscribed_apps` and webhook overrides.
//! - [`users`]: blocking, contact-book deletes and parent BSUIDs (spec §10).
//! - [`paging`]: `ListResponse` for Graph edges.
//! - [`error`]: `GraphErrorBody`, `ErrorCode`, `ErrorClass`, `RetryAdvice`.
//! - [`client`]: `GraphConfig`, `GraphClient`, `GraphError`.

mod wire;

pub mod client;
pub mod error;
pub mod media;
pub mod messages;
pub mod onboarding;
pub mod paging;
pub mod phone_numbers;
pub mod templates;
pub mod users;

pub use client::{DEFAULT_API_VERSION, DEFAULT_BASE_URL, GraphClient, GraphConfig, GraphError};
pub use error::{
    Backoff, ErrorClass, ErrorCode, ErrorData, GraphErrorBody, GraphErrorEnvelope, Remedy,
    RetryAdvice, RetryScope, RetryWhen,
};
pub use media::{
    DownloadedMedia, MediaCheckError, MediaInfo, MediaKind, MediaUpload, UploadMediaResponse,
};
pub use messages::{
    AcceptedStatus, ButtonSubType, ContactCard, InteractiveContent, InteractiveType,
    LocationContent, MarkReadRequest, MediaContent, MessageContent, MessageContext,
    MessagesRequest, ReactionContent, Recipient, RecipientError, RecipientType, SendComponent,
    SendComponentType, SendMessageRequest, SendMessageResponse, SentContact, SentMessage,
    SuccessResponse, TemplateContent, TemplateParameter, TextContent, ValidationError, limits,
};
pub use onboarding::{
    PhoneWebhookOverrideRequest, SmbAppDataRequest, SmbAppDataResponse, SubscribeAppRequest,
    SubscribedApp, SyncType,
};
pub use paging::{Cursors, ListResponse, Paging};
pub use phone_numbers::{
    MessagingLimitTier, PhoneNumberField, PhoneNumberInfo, PlatformType, QualityRating,
    ThroughputLevel, WebhookConfiguration,
};
pub use templates::{
    CreateTemplateRequest, CreateTemplateResponse, ExpectedParams, MessageTemplate, ParamMismatch,
    Placeholder, TemplateCategory, TemplateListQuery, TemplateStatus, check_send_params,
    expected_params, placeholders,
};
pub use users::{BlockUsersRequest, BlockedUser, ContactBookDeleteResponse, ParentBsuidAccount};
pub use wire::{Extra, MESSAGING_PRODUCT};
