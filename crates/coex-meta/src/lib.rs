//! Meta's WhatsApp Cloud API wire contract, shared by the hub and the emulator.
//!
//! - [`webhook`]: every notification Meta POSTs (messages, statuses, echoes, history, contact
//!   sync, account events, BSUID updates), parsed leniently so that an unknown field, type or
//!   `field` name is kept as raw JSON and one bad change never loses the rest of a batch.
//! - [`graph`]: Graph API requests, responses and the error envelope with a typed error code
//!   that knows how (and whether) to retry, plus a typed HTTP client.
//! - [`signature`]: `X-Hub-Signature-256` over the raw body bytes.

pub mod graph;
pub mod signature;
pub mod webhook;
