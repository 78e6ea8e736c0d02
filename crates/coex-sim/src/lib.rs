//! `coex sim`: a local emulator of Meta's side of WhatsApp Coexistence.
//!
//! It plays three parts at once: Meta's Graph API (the same paths, versions, JSON and errors a
//! Coexistence platform calls), the business's phone app (echoes, edits, revokes, history,
//! contacts, inactivity, disconnection) and the business's customers (inbound messages of
//! every type, delivery and read receipts, going offline). Everything runs on a virtual clock
//! ([`clock`]) that tests jump forward instead of sleeping.

pub mod clock;
pub mod delivery;
pub mod engine;
pub mod ids;
pub mod rules;
pub mod sched;
pub mod wire;
pub mod world;
