//! Records every Graph request with its answer, so a test can assert on what crossed the wire
//! (`GET /_sim/requests`). Bodies are kept as text; binary bodies (uploads, downloads) and
//! multipart forms are summarised. The access token is never stored: only whether it matched.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::clock::SimTime;
use crate::engine::Engine;
use crate::world::log::RequestRecord;

use super::MAX_BODY;

/// Longest body text kept per request or response.
const KEEP: usize = 64 * 1024;

fn text_of(headers: &HeaderMap, bytes: &[u8]) -> String {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let textual = ctype.is_empty()
        || ctype.starts_with("application/json")
        || ctype.starts_with("text/")
        || ctype.starts_with("application/x-www-form-urlencoded");
    if bytes.is_empty() {
        return String::new();
    }
    if !textual {
        return format!("<{} bytes of {ctype}>", bytes.len());
    }
    let cut = &bytes[..bytes.len().min(KEEP)];
    String::from_utf8_lossy(cut).into_owned()
}

/// When a Graph request arrived, stamped by [`record`] before anything waits for the world:
/// the instant Meta's rules judge it by (a send's place in its number's throughput window),
/// however long the request then queues behind other work of the emulator.
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub SimTime);

/// The middleware.
pub async fn record(State(engine): State<Arc<Engine>>, req: Request, next: Next) -> Response {
    let at = engine.clock.now();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(Arrival(at));
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let token = engine.world().await.settings.access_token.clone();
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        let v = value.to_str().unwrap_or("<binary>");
        let v = if name == header::AUTHORIZATION {
            let ok = v.trim().ends_with(token.as_str()) && !token.is_empty();
            if ok {
                "Bearer <valid token>"
            } else {
                "<invalid token>"
            }
            .to_owned()
        } else {
            v.to_owned()
        };
        headers.insert(name.as_str().to_owned(), v);
    }
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(|q| {
        // Never keep a token passed as a query parameter.
        q.split('&')
            .map(|kv| {
                if kv.starts_with("access_token=") {
                    "access_token=<redacted>"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    let body_text = text_of(&parts.headers, &bytes);

    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;

    let (rparts, rbody) = resp.into_parts();
    let Ok(rbytes) = to_bytes(rbody, MAX_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let response = text_of(&rparts.headers, &rbytes);
    {
        let mut w = engine.world().await;
        let id = w.requests.next_id();
        w.requests.push(
            Arc::new(RequestRecord {
                id,
                at,
                method,
                path,
                query,
                headers,
                body: body_text,
                status: rparts.status.as_u16(),
                response,
            }),
            |_| true,
        );
    }
    Response::from_parts(rparts, Body::from(rbytes))
}
