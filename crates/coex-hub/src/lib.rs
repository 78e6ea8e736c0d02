//! The coex service: webhook ingest, the REST API and the background workers.

pub mod ingest;
