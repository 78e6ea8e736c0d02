//! Meta's Graph API as the emulator serves it: the same paths (any `vNN.N` version), the same
//! JSON and the same error envelope, with bearer-token checks on every call. Pointing a
//! client's base URL at the emulator is the only change a client needs.
//!
//! - [`messages`]: `POST /{phone_number_id}/messages` (send, mark as read) and
//!   `POST /{phone_number_id}/marketing_messages`;
//! - [`media`]: upload, retrieve, delete, and the download URL it hands out;
//! - [`objects`]: `GET /{id}` for numbers, WABAs and media, `POST /{phone_number_id}`
//!   (webhook override), `GET /{waba_id}/phone_numbers`, `subscribed_apps`,
//!   `message_templates`, `smb_app_data`.
//!
//! Every request and its answer is recorded for the control API ([`log`]).

pub mod log;
pub mod media;
pub mod messages;
pub mod objects;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;

use crate::engine::Engine;
use crate::rules::auth;
use crate::wire::errors::MetaError;

/// The largest body the emulator accepts (Meta's largest media, documents, is 100 MB).
pub const MAX_BODY: usize = 128 * 1024 * 1024;

/// A Graph error answered with Meta's envelope and HTTP status.
#[derive(Debug)]
pub struct GraphError(pub MetaError);

impl From<MetaError> for GraphError {
    fn from(e: MetaError) -> Self {
        Self(e)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let trace = fbtrace_id();
        let status = StatusCode::from_u16(self.0.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, axum::Json(self.0.graph_body(&trace))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let v = format!(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                self.0.title.replace('"', "'")
            );
            if let Ok(v) = header::HeaderValue::from_str(&v) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

fn fbtrace_id() -> String {
    use rand::Rng;
    let bytes: [u8; 12] = rand::thread_rng().r#gen();
    crate::ids::base64(&bytes)
        .trim_end_matches('=')
        .replace(['+', '/'], "_")
}

/// The result type of every Graph handler.
pub type GraphResult = Result<axum::Json<Value>, GraphError>;

/// Parses `vNN.N`; returns the major version.
pub fn parse_version(version: &str) -> Option<u32> {
    let rest = version.strip_prefix('v')?;
    let (major, minor) = rest.split_once('.')?;
    if major.is_empty() || minor.is_empty() {
        return None;
    }
    if !major.bytes().all(|b| b.is_ascii_digit()) || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    major.parse().ok()
}

/// Checks the version in the path and the access token; returns the major version.
pub async fn authorize(
    engine: &Engine,
    version: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    path: &str,
) -> Result<u32, GraphError> {
    let major = parse_version(version).ok_or_else(|| MetaError::unknown_path(path))?;
    let expected = engine.world().await.settings.access_token.clone();
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    auth::check(
        authz,
        query.get("access_token").map(String::as_str),
        &expected,
    )?;
    Ok(major)
}

async fn unknown_edge(
    State(engine): State<Arc<Engine>>,
    Path((version, id, edge)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> GraphResult {
    let path = format!("/{version}/{id}/{edge}");
    authorize(&engine, &version, &headers, &query, &path).await?;
    Err(MetaError::unknown_path(&format!("/{edge}")).into())
}

/// The Graph API routes (with request logging), on the engine.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route(
            "/{version}/{id}",
            get(objects::get_object)
                .post(objects::post_object)
                .delete(objects::delete_object),
        )
        .route("/{version}/{id}/messages", post(messages::post_messages))
        .route(
            "/{version}/{id}/marketing_messages",
            post(messages::post_marketing_messages),
        )
        .route("/{version}/{id}/media", post(media::upload))
        .route(
            "/{version}/{id}/smb_app_data",
            post(objects::post_smb_app_data),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            get(objects::get_subscribed_apps)
                .post(objects::post_subscribed_apps)
                .delete(objects::delete_subscribed_apps),
        )
        .route(
            "/{version}/{id}/phone_numbers",
            get(objects::get_phone_numbers),
        )
        .route(
            "/{version}/{id}/message_templates",
            get(objects::get_message_templates).post(objects::post_message_templates),
        )
        .route("/{version}/{id}/{edge}", any(unknown_edge))
        .route(media::DOWNLOAD_PATH, get(media::download))
        .layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            log::record,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("v25.0"), Some(25));
        assert_eq!(parse_version("v9.1"), Some(9));
        assert_eq!(parse_version("25.0"), None);
        assert_eq!(parse_version("v25"), None);
        assert_eq!(parse_version("vX.0"), None);
    }
}
