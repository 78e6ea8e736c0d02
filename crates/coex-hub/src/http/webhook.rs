//! Meta's webhook endpoint: the `GET` verification handshake and the signed `POST`.
//!
//! The POST path never trusts a byte before the HMAC over the raw body is verified, refuses
//! bodies over the limit without reading them whole, and answers 200 only after the
//! notification is durably committed (spec/cloud-api.md §1.2, §1.3, §7.4).

use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{AppState, error::ApiError};
use crate::ingest::IngestError;

/// Meta's largest webhook payload is 3 MB (spec §1.1).
pub const MAX_WEBHOOK_BYTES: usize = 3 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhook?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: answer the challenge
/// when the token matches.
pub async fn verify(
    State(state): State<AppState>,
    Query(q): Query<Handshake>,
) -> Result<String, ApiError> {
    if q.mode.as_deref() != Some("subscribe") {
        return Err(ApiError::bad_request(
            "bad_handshake",
            "hub.mode must be \"subscribe\"",
        ));
    }
    let expected = state.webhook.verify_token.expose().as_bytes();
    let given = q.verify_token.unwrap_or_default();
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_verify_token",
            "hub.verify_token does not match the configured verify token",
        ));
    }
    q.challenge
        .ok_or_else(|| ApiError::bad_request("bad_handshake", "hub.challenge is missing"))
}

/// `POST /webhook`: verify, then hand the raw body to ingest and wait for the commit.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let body = read_limited(&headers, body, state.webhook.max_body_bytes).await?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                "the X-Hub-Signature-256 header is missing",
            )
        })?;
    coex_meta::signature::verify(
        state.webhook.app_secret.expose().as_bytes(),
        &body,
        signature,
    )
    .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
    let receipt = state.ingest.accept(body).await.map_err(|e| match e {
        IngestError::Busy => {
            ApiError::unavailable("ingest_busy", "the store is not keeping up; retry later", 1)
        }
        IngestError::ShuttingDown => {
            ApiError::unavailable("shutting_down", "the server is shutting down", 5)
        }
        IngestError::Store(detail) => {
            // The database's own message stays in the log: it is not for the caller.
            tracing::warn!(error = %detail, "a webhook was not stored; Meta will retry it");
            ApiError::unavailable(
                "store_unavailable",
                "the webhook could not be stored; retry later",
                5,
            )
        }
    })?;
    Ok(axum::Json(receipt))
}

/// Reads at most `max` bytes. A `Content-Length` over the limit is refused before any byte
/// is read; a chunked body is cut off as soon as it passes the limit.
async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("webhook bodies are limited to {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max).await.map_err(|e| {
        // `to_bytes` reports the limit as a `LengthLimitError` source.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = s.source();
        }
        ApiError::bad_request("bad_body", format!("could not read the body: {e}"))
    })
}
