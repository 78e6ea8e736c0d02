//! `coex bench`: benchmarks that run the real binary against a database made for the run.
//!
//! [`ingest`] measures webhook ingest; [`workload`] builds its bodies, [`load`] offers them at
//! a constant arrival rate, [`target`] sets up and probes the database and the server,
//! [`check`] verifies that everything acknowledged was stored once, [`report`] prints and
//! serialises the figures.

pub mod check;
pub mod ingest;
pub mod load;
pub mod report;
pub mod target;
pub mod workload;

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Drive `coex serve` with signed webhooks at a constant rate; report throughput, ack
    /// latency, memory, CPU, and check that everything acknowledged was stored exactly once.
    Ingest(ingest::IngestArgs),
}

/// Runs a benchmark subcommand.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        BenchCommand::Ingest(a) => ingest::run(a),
    }
}
