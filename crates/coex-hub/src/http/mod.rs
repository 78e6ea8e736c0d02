//! The hub's HTTP surface: Meta's webhook endpoint, the REST API under `/v1`, the live event
//! feed (server-sent events), health and metrics.
//!
//! Routes are grouped so tenancy and authentication (a later issue) can be layered on the
//! `/v1` router alone, without touching the webhook path Meta calls.

pub mod api;
pub mod error;
pub mod feed;
pub mod webhook;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    routing::get,
};
use coex_core::Secret;
use coex_store::SqlStore;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::ingest::Ingestor;

/// What the webhook endpoint needs to know.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub max_body_bytes: usize,
}

/// Shared state of every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub webhook: Arc<WebhookSettings>,
    pub ingest: Arc<Ingestor>,
    pub store: SqlStore,
    /// Turns true at shutdown, so long-lived responses (the event feed) end.
    pub shutdown: watch::Receiver<bool>,
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhook", get(webhook::verify).post(webhook::receive))
        .route("/healthz", get(healthz))
        .route("/metrics", get(api::metrics))
        .nest("/v1", api::routes())
        // The webhook handler enforces its own limit (and answers 413 as JSON).
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> &'static str {
    let _ = &state;
    "ok"
}
