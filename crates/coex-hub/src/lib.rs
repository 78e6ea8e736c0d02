//! The coex service: webhook ingest, the REST API and the background workers.
//!
//! [`app::Hub`] ties them together; `coex serve` builds one from configuration.

pub mod app;
pub mod http;
pub mod ingest;
pub mod onboarding;
pub mod send;

pub use app::{Hub, HubSettings};
