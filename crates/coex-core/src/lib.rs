//! The pure domain of coex: identifiers and the value types every other crate shares.
//!
//! Nothing here does I/O or is async. Identifiers are newtypes built by a `parse` that can
//! fail, so a raw `String` never crosses a module boundary where an id is meant.

pub mod ids;
pub mod model;
pub mod phone;
pub mod policy;
pub mod pricing;
pub mod secret;

pub use ids::{Bsuid, IdError, MediaId, PhoneNumberId, RequestId, WabaId, Wamid};
pub use phone::{PhoneError, PhoneNumber};
pub use secret::Secret;
