//! Integration tests for `coex-meta`. Webhook fixtures live in `tests/fixtures/webhooks/`,
//! one file per payload shape of spec/cloud-api.md plus constructed ones for every message
//! type and the awkward cases (malformed changes, unknown fields and types, batches).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod webhook_account;
mod webhook_envelope;
mod webhook_events;
mod webhook_fixtures;
mod webhook_history;
mod webhook_messages;
mod webhook_props;
mod webhook_statuses;
