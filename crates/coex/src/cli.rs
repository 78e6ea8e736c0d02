//! Argument parsing (clap) and dispatch to the subcommands.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{bench, config::Config, demo, inspect, send_cmd, serve, sim_cmd, telemetry};

/// coex: a self-hostable WhatsApp Coexistence platform.
#[derive(Debug, Parser)]
#[command(name = "coex", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file layered over the defaults (see config/default.toml).
    #[arg(long, global = true, env = "COEX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything on one machine: the emulator, a hub on a fresh SQLite file, and a business day.
    Demo(demo::DemoArgs),
    /// Run the hub: receive Meta's webhooks, store every conversation, serve the REST API.
    Serve(serve::ServeArgs),
    /// Run the emulator of Meta's side: Graph API, the business phone app, customers, webhooks.
    Sim(sim_cmd::SimArgs),
    /// Print what coex understands of a webhook body, one JSON line per event.
    Inspect(inspect::InspectArgs),
    /// Print the effective configuration (secrets redacted) and exit.
    Config,
    /// Benchmarks against a fresh database and a real `coex serve` (e.g. `bench ingest`).
    Bench(bench::BenchArgs),
    /// Send a message through a running hub (`--text`, `--template`, or `--json`).
    Send(send_cmd::SendArgs),
}

/// Runs the parsed command line; errors are reported by `main` with a non-zero exit.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(&config.log);
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(serve::run(config, &args)),
        Command::Demo(args) => runtime()?.block_on(demo::run(&args)),
        Command::Sim(args) => runtime()?.block_on(sim_cmd::run(&args)),
        Command::Inspect(args) => inspect::run(&args),
        Command::Bench(args) => bench::run(&args, &config, cli.config.as_deref()),
        Command::Send(args) => runtime()?.block_on(send_cmd::run(&config, &args)),
        Command::Config => {
            println!("{}", toml::to_string_pretty(&config)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The multi-threaded runtime the long-running commands use.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
