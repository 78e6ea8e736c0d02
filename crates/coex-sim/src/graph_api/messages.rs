//! `POST /{phone_number_id}/messages` (every message type, and `status: read` to mark as read)
//! and `POST /{phone_number_id}/marketing_messages` (Marketing Messages Lite, which
//! coexistence numbers are not eligible for, spec/coexistence.md §1).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use coex_meta::graph::{MessagesRequest, SendMessageRequest};
use serde_json::Value;

use coex_core::PhoneNumberId;

use crate::clock::SimTime;
use crate::engine::Engine;
use crate::wire::errors::MetaError;

use super::log::Arrival;
use super::{GraphError, GraphResult, authorize};

/// Reads a JSON body as Meta would (a malformed one is an invalid parameter).
pub fn json_body(bytes: &Bytes) -> Result<Value, GraphError> {
    serde_json::from_slice(bytes).map_err(|e| {
        GraphError(MetaError::invalid_param(format!(
            "The request body is not valid JSON: {e}"
        )))
    })
}

/// When the request arrived: stamped by the request log, else (a router without it) now.
fn arrived_at(engine: &Engine, arrival: Option<Extension<Arrival>>) -> SimTime {
    arrival.map_or_else(|| engine.clock.now(), |Extension(Arrival(at))| at)
}

/// The phone number in the path, if the emulator knows it.
pub async fn known_number(
    engine: &Engine,
    id: &str,
    method: &str,
) -> Result<PhoneNumberId, GraphError> {
    let unknown = || GraphError(MetaError::unknown_object(id, method));
    let number = PhoneNumberId::parse(id).map_err(|_| unknown())?;
    if engine.world().await.numbers.contains_key(&number) {
        Ok(number)
    } else {
        Err(unknown())
    }
}

/// `POST /{version}/{phone_number_id}/messages`.
pub async fn post_messages(
    State(engine): State<Arc<Engine>>,
    arrival: Option<Extension<Arrival>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    let arrived = arrived_at(&engine, arrival);
    let path = format!("/{version}/{id}/messages");
    let major = authorize(&engine, &version, &headers, &query, &path).await?;
    let number = known_number(&engine, &id, "POST").await?;
    let body = json_body(&body)?;
    let request = MessagesRequest::from_value(body.clone())
        .map_err(|e| GraphError(MetaError::invalid_param(format!("Invalid parameter: {e}"))))?;
    let result = match request {
        MessagesRequest::MarkRead(r) => engine.mutate(|w, _| w.mark_read(&number, &r)).await,
        MessagesRequest::Send(req) => {
            engine
                .mutate_at(arrived, |w, now| {
                    w.api_send(now, &number, &body, &req, major)
                })
                .await
        }
    };
    Ok(Json(result?))
}

/// `POST /{version}/{phone_number_id}/marketing_messages`: refused for coexistence numbers;
/// otherwise a marketing template send.
pub async fn post_marketing_messages(
    State(engine): State<Arc<Engine>>,
    arrival: Option<Extension<Arrival>>,
    Path((version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult {
    let arrived = arrived_at(&engine, arrival);
    let path = format!("/{version}/{id}/marketing_messages");
    let major = authorize(&engine, &version, &headers, &query, &path).await?;
    let number = known_number(&engine, &id, "POST").await?;
    let body = json_body(&body)?;
    let coexistence = engine
        .world()
        .await
        .numbers
        .get(&number)
        .is_some_and(|n| n.is_coexistence());
    if coexistence {
        // [INF] Meta documents the ineligibility, not its error code; 100 with a clear detail.
        return Err(MetaError::invalid_param(
            "Marketing Messages Lite API is not available for phone numbers in use with the WhatsApp Business app (Coexistence).",
        )
        .into());
    }
    let req: SendMessageRequest = serde_json::from_value(body.clone())
        .map_err(|e| GraphError(MetaError::invalid_param(format!("Invalid parameter: {e}"))))?;
    if !req.content.is_template() {
        return Err(MetaError::invalid_param(
            "Marketing Messages Lite API only sends marketing templates (type must be \"template\").",
        )
        .into());
    }
    let result = engine
        .mutate_at(arrived, |w, now| {
            w.api_send(now, &number, &body, &req, major)
        })
        .await;
    Ok(Json(result?))
}
