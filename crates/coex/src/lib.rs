//! The `coex` command line: configuration, logging and one module per subcommand.
//!
//! `main.rs` only parses arguments and calls [`cli::run`]; everything it does is here so tests
//! can drive it without spawning processes.

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod inspect;
pub mod send_cmd;
pub mod serve;
pub mod sim_cmd;
pub mod telemetry;
