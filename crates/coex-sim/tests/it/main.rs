//! Integration tests of the emulator against its real HTTP surface (127.0.0.1, port 0) with a
//! real webhook receiver. Each rule is shown by a test: the rule enforced, and the body Meta
//! would send.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod coexistence;
mod delivery;
mod graph;
mod harness;
mod rules;
mod scenario;
