//! What crosses the wire from the emulator: Meta's error objects and webhook `value` payloads.
//!
//! This is the seam to `coex-meta`: the shapes here are checked against
//! `coex_meta::webhook::parse_notification` in the integration tests, so a drift between what
//! the emulator sends and what the hub parses fails a test.

pub mod errors;
pub mod payloads;
