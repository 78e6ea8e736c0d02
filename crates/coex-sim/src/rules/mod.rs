//! Meta's rules, each a small pure module the Graph layer and the world consult: throughput,
//! pair rate, the customer-service window, templates, features Coexistence disables, the
//! sync API's limits, primary-device inactivity, messaging limits and tokens.
//! Each module cites the spec section it enforces.

pub mod auth;
pub mod features;
pub mod inactivity;
pub mod messaging_limit;
pub mod pair_rate;
pub mod sync;
pub mod templates;
pub mod throughput;
pub mod window;
