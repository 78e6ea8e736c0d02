//! A typed Graph API client on reqwest (rustls).
//!
//! One method per call the hub makes. Every method sends the bearer token in
//! `Authorization`, decodes a 2xx body into its typed response, and turns anything else into a
//! [`GraphError`]: an error envelope becomes [`GraphError::Api`] with a typed
//! [`GraphErrorBody`], whose code decides retries ([`GraphError::retry`]). The base URL is
//! configurable so the same client talks to `graph.facebook.com` or the local emulator.
//!
//! The token never reaches a log line: it lives in a [`Secret`] and requests are logged at
//! debug by operation, method and path only.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use coex_core::{MediaId, PhoneNumberId, Secret, WabaId};

use super::error::{ErrorCode, GraphErrorBody, GraphErrorEnvelope, RetryAdvice};
use super::media::{
    DOCUMENT_MAX_BYTES, DownloadedMedia, MediaInfo, MediaUpload, UploadMediaResponse,
};
use super::messages::{MarkReadRequest, SendMessageRequest, SendMessageResponse, SuccessResponse};
use super::onboarding::{
    PhoneWebhookOverrideRequest, SmbAppDataRequest, SmbAppDataResponse, SubscribeAppRequest,
    SubscribedApp, SyncType,
};
use super::paging::ListResponse;
use super::phone_numbers::{PhoneNumberField, PhoneNumberInfo};
use super::templates::{
    CreateTemplateRequest, CreateTemplateResponse, MessageTemplate, TemplateListQuery,
};
use super::wire::{MESSAGING_PRODUCT, snippet};

/// Graph's production host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The version in Meta's current examples (spec header).
pub const DEFAULT_API_VERSION: &str = "v25.0";

/// How much of an undecodable body an error keeps.
const SNIPPET_BYTES: usize = 512;

/// Where and how to reach the Graph API. Deserialisable with defaults so the binary's config
/// can embed it; durations read as seconds (`30`, `0.5`) or text (`"30s"`, `"500ms"`, `"2m"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    pub base_url: String,
    pub api_version: String,
    pub access_token: Secret,
    /// Whole-request timeout for API calls.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    #[serde(with = "duration_text")]
    pub connect_timeout: Duration,
    /// Whole-request timeout for media downloads, which can be 100 MB.
    #[serde(with = "duration_text")]
    pub media_timeout: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            access_token: Secret::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            media_timeout: Duration::from_secs(300),
        }
    }
}

impl GraphConfig {
    /// Defaults with this base URL and token (tests, the emulator).
    pub fn new(base_url: impl Into<String>, access_token: Secret) -> Self {
        Self {
            base_url: base_url.into(),
            access_token,
            ..Self::default()
        }
    }
}

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with an error envelope.
    #[error("Graph API error (HTTP {status}): {body}")]
    Api {
        status: u16,
        body: Box<GraphErrorBody>,
    },
    /// No complete answer within the timeout. For a send, the message may still have gone out.
    #[error("the Graph API did not answer in time")]
    Timeout,
    /// Connection, TLS or protocol failure.
    #[error("could not reach the Graph API: {0}")]
    Transport(#[source] reqwest::Error),
    /// An answer we could not read: a 2xx with an unexpected shape, or a non-2xx without an
    /// error envelope (a proxy's HTML page, say).
    #[error("unreadable Graph API answer (HTTP {status}): {reason}; body starts {body_snippet:?}")]
    Decode {
        status: u16,
        reason: String,
        body_snippet: String,
    },
    /// The configuration cannot produce a working client (bad base URL, bad token bytes).
    #[error("invalid Graph client configuration: {0}")]
    InvalidConfig(String),
    /// A download exceeded the largest media Meta allows.
    #[error("media larger than {limit} bytes")]
    MediaTooLarge { limit: u64 },
}

impl GraphError {
    /// The Meta error code, for [`GraphError::Api`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GraphError::Api { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// The HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api { status, .. } | GraphError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How to react. API errors follow their code; an unknown code with a 5xx status, a
    /// timeout, a transport failure or an unreadable 5xx are treated as transient. An
    /// unreadable 2xx is *not* retried: the call succeeded and a resend could duplicate it.
    pub fn retry(&self) -> RetryAdvice {
        match self {
            GraphError::Api { status, body } => match body.code {
                ErrorCode::Other(_) if *status >= 500 => RetryAdvice::TRANSIENT,
                code => code.retry(),
            },
            GraphError::Timeout | GraphError::Transport(_) => RetryAdvice::TRANSIENT,
            GraphError::Decode { status, .. } if *status >= 500 || *status == 429 => {
                RetryAdvice::TRANSIENT
            }
            GraphError::Decode { .. }
            | GraphError::InvalidConfig(_)
            | GraphError::MediaTooLarge { .. } => RetryAdvice::UNKNOWN,
        }
    }
}

fn transport(e: reqwest::Error) -> GraphError {
    if e.is_timeout() {
        GraphError::Timeout
    } else {
        GraphError::Transport(e)
    }
}

/// The client. Cheap to clone (reqwest shares its connection pool).
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// `{base_url}/{api_version}`, no trailing slash.
    root: String,
    media_timeout: Duration,
}

impl GraphClient {
    pub fn new(config: &GraphConfig) -> Result<Self, GraphError> {
        let base = config.base_url.trim_end_matches('/');
        let url = reqwest::Url::parse(base)
            .map_err(|e| GraphError::InvalidConfig(format!("base_url {base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GraphError::InvalidConfig(format!(
                "base_url {base:?} must be http or https"
            )));
        }
        let version = config.api_version.trim_matches('/');
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.access_token.expose()))
            .map_err(|_| {
            GraphError::InvalidConfig(
                "the access token has characters a header cannot carry".into(),
            )
        })?;
        // Keeps the header out of reqwest's and hyper's debug output.
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("coex/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::InvalidConfig(e.to_string()))?;
        let root = if version.is_empty() {
            base.to_owned()
        } else {
            format!("{base}/{version}")
        };
        Ok(Self {
            http,
            root,
            media_timeout: config.media_timeout,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/{}", self.root, path))
    }

    /// Sends, reads the whole answer, and decodes it as `T` or as an error envelope.
    async fn execute<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        rb: RequestBuilder,
    ) -> Result<T, GraphError> {
        let started = Instant::now();
        let result = async {
            let resp = rb.send().await.map_err(transport)?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(transport)?;
            decode(status, &bytes)
        }
        .await;
        match &result {
            Ok(_) => tracing::debug!(
                op,
                path,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "graph call ok"
            ),
            Err(e) => {
                tracing::debug!(op, path, elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "graph call failed")
            }
        }
        result
    }

    /// `POST /{phone_number_id}/messages` with a send body.
    pub async fn send_message(
        &self,
        phone_number_id: &PhoneNumberId,
        request: &SendMessageRequest,
    ) -> Result<SendMessageResponse, GraphError> {
        let path = format!("{phone_number_id}/messages");
        let rb = self.request(Method::POST, &path).json(request);
        self.execute("send_message", &path, rb).await
    }

    /// `POST /{phone_number_id}/messages` with a mark-as-read body.
    pub async fn mark_read(
        &self,
        phone_number_id: &PhoneNumberId,
        request: &MarkReadRequest,
    ) -> Result<SuccessResponse, GraphError> {
        let path = format!("{phone_number_id}/messages");
        let rb = self.request(Method::POST, &path).json(request);
        self.execute("mark_read", &path, rb).await
    }

    /// `POST /{phone_number_id}/smb_app_data`: request the contacts or history sync. Each type
    /// succeeds once per onboarding.
    pub async fn smb_app_data(
        &self,
        phone_number_id: &PhoneNumberId,
        sync_type: SyncType,
    ) -> Result<SmbAppDataResponse, GraphError> {
        let path = format!("{phone_number_id}/smb_app_data");
        let rb = self
            .request(Method::POST, &path)
            .json(&SmbAppDataRequest::new(sync_type));
        self.execute("smb_app_data", &path, rb).await
    }

    /// `POST /{waba_id}/subscribed_apps`, optionally with a callback override.
    pub async fn subscribe_app(
        &self,
        waba_id: &WabaId,
        request: &SubscribeAppRequest,
    ) -> Result<SuccessResponse, GraphError> {
        let path = format!("{waba_id}/subscribed_apps");
        let rb = self.request(Method::POST, &path).json(request);
        self.execute("subscribe_app", &path, rb).await
    }

    /// `GET /{waba_id}/subscribed_apps`.
    pub async fn subscribed_apps(
        &self,
        waba_id: &WabaId,
    ) -> Result<ListResponse<SubscribedApp>, GraphError> {
        let path = format!("{waba_id}/subscribed_apps");
        let rb = self.request(Method::GET, &path);
        self.execute("subscribed_apps", &path, rb).await
    }

    /// `DELETE /{waba_id}/subscribed_apps`.
    pub async fn unsubscribe_app(&self, waba_id: &WabaId) -> Result<SuccessResponse, GraphError> {
        let path = format!("{waba_id}/subscribed_apps");
        let rb = self.request(Method::DELETE, &path);
        self.execute("unsubscribe_app", &path, rb).await
    }

    /// `POST /{phone_number_id}` with `webhook_configuration`: the number's callback override.
    pub async fn set_phone_webhook_override(
        &self,
        phone_number_id: &PhoneNumberId,
        request: &PhoneWebhookOverrideRequest,
    ) -> Result<SuccessResponse, GraphError> {
        let path = phone_number_id.to_string();
        let rb = self.request(Method::POST, &path).json(request);
        self.execute("set_phone_webhook_override", &path, rb).await
    }

    /// `GET /{phone_number_id}?fields=…`. An empty `fields` lets Meta choose its defaults.
    pub async fn phone_number(
        &self,
        phone_number_id: &PhoneNumberId,
        fields: &[PhoneNumberField],
    ) -> Result<PhoneNumberInfo, GraphError> {
        let path = phone_number_id.to_string();
        let mut rb = self.request(Method::GET, &path);
        if !fields.is_empty() {
            rb = rb.query(&[("fields", PhoneNumberField::join(fields))]);
        }
        self.execute("phone_number", &path, rb).await
    }

    /// `GET /{waba_id}/phone_numbers?fields=…`.
    pub async fn waba_phone_numbers(
        &self,
        waba_id: &WabaId,
        fields: &[PhoneNumberField],
    ) -> Result<ListResponse<PhoneNumberInfo>, GraphError> {
        let path = format!("{waba_id}/phone_numbers");
        let mut rb = self.request(Method::GET, &path);
        if !fields.is_empty() {
            rb = rb.query(&[("fields", PhoneNumberField::join(fields))]);
        }
        self.execute("waba_phone_numbers", &path, rb).await
    }

    /// `POST /{phone_number_id}/media` as multipart (`messaging_product`, `type`, `file`).
    /// Check the file first with [`MediaKind::check`](super::MediaKind::check).
    pub async fn upload_media(
        &self,
        phone_number_id: &PhoneNumberId,
        upload: MediaUpload,
    ) -> Result<UploadMediaResponse, GraphError> {
        let path = format!("{phone_number_id}/media");
        let part = reqwest::multipart::Part::bytes(upload.bytes)
            .file_name(upload.file_name)
            .mime_str(&upload.mime_type)
            .map_err(|e| {
                GraphError::InvalidConfig(format!("MIME type {:?}: {e}", upload.mime_type))
            })?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", MESSAGING_PRODUCT)
            .text("type", upload.mime_type)
            .part("file", part);
        let rb = self
            .request(Method::POST, &path)
            .multipart(form)
            .timeout(self.media_timeout);
        self.execute("upload_media", &path, rb).await
    }

    /// `GET /{media_id}`: the download URL and metadata.
    pub async fn media_info(&self, media_id: &MediaId) -> Result<MediaInfo, GraphError> {
        let path = media_id.to_string();
        let rb = self.request(Method::GET, &path);
        self.execute("media_info", &path, rb).await
    }

    /// `DELETE /{media_id}`.
    pub async fn delete_media(&self, media_id: &MediaId) -> Result<SuccessResponse, GraphError> {
        let path = media_id.to_string();
        let rb = self.request(Method::DELETE, &path);
        self.execute("delete_media", &path, rb).await
    }

    /// Downloads the file at a [`MediaInfo::url`] with the bearer token. Stops reading past
    /// the largest size Meta allows for any media, so a wrong URL cannot fill memory.
    pub async fn download_media(&self, url: &str) -> Result<DownloadedMedia, GraphError> {
        self.download_media_capped(url, DOCUMENT_MAX_BYTES).await
    }

    /// [`GraphClient::download_media`] with a tighter cap, e.g.
    /// [`MediaKind::max_bytes`](super::MediaKind::max_bytes) of the expected kind.
    pub async fn download_media_capped(
        &self,
        url: &str,
        limit: u64,
    ) -> Result<DownloadedMedia, GraphError> {
        let started = Instant::now();
        let mut resp = self
            .http
            .get(url)
            .timeout(self.media_timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.map_err(transport)?;
            return Err(decode::<serde_json::Value>(status, &bytes)
                .err()
                .unwrap_or_else(|| GraphError::Decode {
                    status: status.as_u16(),
                    reason: "download failed".into(),
                    body_snippet: String::new(),
                }));
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(GraphError::MediaTooLarge { limit });
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(GraphError::MediaTooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        tracing::debug!(
            op = "download_media",
            len = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "media downloaded"
        );
        Ok(DownloadedMedia {
            bytes,
            content_type,
        })
    }

    /// `GET /{waba_id}/message_templates`.
    pub async fn list_templates(
        &self,
        waba_id: &WabaId,
        query: &TemplateListQuery,
    ) -> Result<ListResponse<MessageTemplate>, GraphError> {
        let path = format!("{waba_id}/message_templates");
        let rb = self.request(Method::GET, &path).query(&query.pairs());
        self.execute("list_templates", &path, rb).await
    }

    /// `POST /{waba_id}/message_templates`.
    pub async fn create_template(
        &self,
        waba_id: &WabaId,
        request: &CreateTemplateRequest,
    ) -> Result<CreateTemplateResponse, GraphError> {
        let path = format!("{waba_id}/message_templates");
        let rb = self.request(Method::POST, &path).json(request);
        self.execute("create_template", &path, rb).await
    }
}

/// Decodes a complete answer: `T` on 2xx, the error envelope otherwise.
fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, GraphError> {
    let snippet_of =
        |bytes: &[u8]| snippet(&String::from_utf8_lossy(bytes), SNIPPET_BYTES).to_owned();
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|e| GraphError::Decode {
            status: status.as_u16(),
            reason: e.to_string(),
            body_snippet: snippet_of(bytes),
        });
    }
    match serde_json::from_slice::<GraphErrorEnvelope>(bytes) {
        Ok(env) => Err(GraphError::Api {
            status: status.as_u16(),
            body: Box::new(env.error),
        }),
        Err(e) => Err(GraphError::Decode {
            status: status.as_u16(),
            reason: e.to_string(),
            body_snippet: snippet_of(bytes),
        }),
    }
}

/// Serde for durations as seconds (`30`, `0.5`) or text (`"30s"`, `"500ms"`, `"2m"`, `"1h"`).
/// Written back as `"<n>ms"` or `"<n>s"`.
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_millis() == 0 && d.subsec_nanos() == 0 {
            s.serialize_str(&format!("{}s", d.as_secs()))
        } else {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            U(u64),
            F(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::U(n) => Ok(Duration::from_secs(n)),
            Raw::F(f) => Duration::try_from_secs_f64(f).map_err(serde::de::Error::custom),
            Raw::S(s) => parse(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a duration (use e.g. \"30s\", \"500ms\", \"2m\")"
                ))
            }),
        }
    }

    /// Parses `"500ms"`, `"30s"`, `"2m"`, `"1h"` or a bare number of seconds.
    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num.parse().ok()?;
        let secs = match unit.trim() {
            "" | "s" => n,
            "ms" => n / 1000.0,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        Duration::try_from_secs_f64(secs).ok()
    }
}

#[cfg(test)]
mod tests;
