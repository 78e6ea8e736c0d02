//! The REST surface of sending, under `/v1`:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/numbers/{id}/messages` | queue a send: `202` with the send, or a `4xx` `{code, detail}` |
//! | `GET /v1/sends/{id}` | state, message status, wamid, error, attempts, cost |
//! | `GET /v1/numbers/{id}/costs?from=&to=` | the cost ledger per day and category |
//! | `GET /v1/numbers/{id}/lane` | the lane: owner, pause, alert, queue depth |
//! | `POST /v1/numbers/{id}/lane/resume` | clear the alert that stopped the lane |
//! | `GET /v1/lanes` | counters of the lanes this process runs |
//!
//! The send body is the Graph API body of `POST /{phone_number_id}/messages` (every message
//! type), either as is — with `X-Coex-Origin` and `X-Coex-Sender` headers for the coex
//! fields — or wrapped: `{"message": {…}, "origin": "campaign", "sender": "spring",
//! "media": {"mime_type": "video/mp4", "size_bytes": 123}, "api": "marketing_messages"}`.
//! `Idempotency-Key` makes a retried request return the first send (for 24 hours).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coex_core::PhoneNumberId;
use coex_core::model::{Origin, Timestamp};
use coex_store::send::{IdempotencyKey, SendId};
use serde::Deserialize;
use serde_json::Value;
use tower_http::trace::TraceLayer;

use super::request::MediaHint;
use super::service::{SendInput, SendService, days_from_civil};
use crate::http::error::ApiError;

/// Largest send body accepted (a Graph body is a few KB).
const MAX_BODY: usize = 256 * 1024;
const DAY_MS: i64 = 86_400_000;

/// The sending routes, with their state applied (merge them into the hub's router).
pub fn routes(service: Arc<SendService>) -> Router {
    Router::new()
        .route("/v1/numbers/{number}/messages", post(send))
        .route("/v1/sends/{id}", get(get_send))
        .route("/v1/numbers/{number}/costs", get(costs))
        .route("/v1/numbers/{number}/lane", get(lane))
        .route("/v1/numbers/{number}/lane/resume", post(resume))
        .route("/v1/lanes", get(lanes))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(service)
}

fn number_id(raw: String) -> Result<PhoneNumberId, ApiError> {
    PhoneNumberId::parse(raw).map_err(|e| ApiError::bad_request("bad_number_id", e.to_string()))
}

/// The wrapped form of a send body.
#[derive(Debug, Deserialize)]
struct Wrapper {
    message: Value,
    #[serde(default)]
    origin: Option<Origin>,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    media: Option<MediaHint>,
    /// `messages` (default) or `marketing_messages` (Marketing Messages Lite).
    #[serde(default)]
    api: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("bad_header", format!("{name} is not text")))
        })
        .transpose()
}

fn input(headers: &HeaderMap, body: &[u8]) -> Result<SendInput, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let mut input = if value.get("message").is_some_and(Value::is_object) {
        let w: Wrapper = serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        let lite = match w.api.as_deref() {
            None | Some("messages") => false,
            Some("marketing_messages") => true,
            Some(other) => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    format!("api must be messages or marketing_messages, not {other:?}"),
                ));
            }
        };
        SendInput {
            body: w.message,
            origin: w.origin.unwrap_or(Origin::ApiAgent),
            sender: w.sender,
            idempotency_key: None,
            media: w.media,
            marketing_messages_lite: lite,
        }
    } else {
        SendInput::new(value)
    };
    if let Some(origin) = header(headers, "x-coex-origin")? {
        input.origin = origin
            .parse()
            .map_err(|e: coex_core::model::UnknownVariant| {
                ApiError::bad_request("bad_origin", e.to_string())
            })?;
    }
    if let Some(sender) = header(headers, "x-coex-sender")? {
        input.sender = Some(sender.to_owned());
    }
    if let Some(key) = header(headers, "idempotency-key")? {
        input.idempotency_key = Some(
            IdempotencyKey::parse(key)
                .map_err(|e| ApiError::bad_request("bad_idempotency_key", e.to_string()))?,
        );
    }
    Ok(input)
}

async fn send(
    State(s): State<Arc<SendService>>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let number = number_id(number)?;
    let input = input(&headers, &body)?;
    let (view, created) = s.enqueue(&number, input).await?;
    let mut response = if created {
        (StatusCode::ACCEPTED, Json(view)).into_response()
    } else {
        let mut r = (StatusCode::OK, Json(view)).into_response();
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        r
    };
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn get_send(
    State(s): State<Arc<SendService>>,
    Path(id): Path<i64>,
) -> Result<Json<impl serde::Serialize>, ApiError> {
    Ok(Json(s.get(SendId::new(id)).await?))
}

#[derive(Debug, Deserialize)]
struct Range {
    from: Option<String>,
    to: Option<String>,
}

/// `YYYY-MM-DD` (the day's start, UTC) or Unix milliseconds.
fn instant(raw: &str, end_of_day: bool) -> Result<Timestamp, ApiError> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    let day = days_from_civil(raw).ok_or_else(|| {
        ApiError::bad_request(
            "bad_range",
            format!("{raw:?} is neither YYYY-MM-DD nor Unix milliseconds"),
        )
    })?;
    Ok(Timestamp::from_millis(
        (day + i64::from(end_of_day)) * DAY_MS,
    ))
}

async fn costs(
    State(s): State<Arc<SendService>>,
    Path(number): Path<String>,
    Query(q): Query<Range>,
) -> Result<Json<impl serde::Serialize>, ApiError> {
    let number = number_id(number)?;
    // `to` is inclusive when a date: the whole day counts.
    let to = q.to.as_deref().map(|raw| instant(raw, true)).transpose()?;
    let from = q
        .from
        .as_deref()
        .map(|raw| instant(raw, false))
        .transpose()?;
    Ok(Json(s.costs(&number, from, to).await?))
}

async fn lane(
    State(s): State<Arc<SendService>>,
    Path(number): Path<String>,
) -> Result<Json<impl serde::Serialize>, ApiError> {
    Ok(Json(s.lane(&number_id(number)?).await?))
}

async fn resume(
    State(s): State<Arc<SendService>>,
    Path(number): Path<String>,
) -> Result<Json<impl serde::Serialize>, ApiError> {
    Ok(Json(s.resume(&number_id(number)?).await?))
}

async fn lanes(State(s): State<Arc<SendService>>) -> Json<impl serde::Serialize> {
    #[derive(serde::Serialize)]
    struct Lanes {
        owner: String,
        running: Vec<PhoneNumberId>,
        stats: std::collections::BTreeMap<String, super::LaneStats>,
    }
    let engine = s.engine();
    Json(Lanes {
        owner: engine.owner().to_string(),
        running: engine.running_lanes(),
        stats: engine
            .stats()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    })
}
