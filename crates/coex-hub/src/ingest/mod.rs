//! Webhook ingest: verify, parse, normalise, commit (grouped), then acknowledge.

pub mod commit_queue;
pub mod normalize;
