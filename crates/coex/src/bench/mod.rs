//! `coex bench`: benchmarks that run the real binary against a database made for the run.
//!
//! [`ingest`] measures webhook ingest; [`workload`] builds its bodies, [`load`] offers them at
//! a constant arrival rate, [`target`] sets up and probes the database and the server,
//! [`check`] verifies that everything acknowledged was stored once, [`report`] prints and
//! serialises the figures.
//!
//! [`send`] measures sending: the sender in process against the emulator ([`send_sim`]) with
//! queues grown in SQL ([`send_fill`]), counted from the emulator's request log
//! ([`send_track`]) and reported by [`send_report`].

pub mod check;
pub mod ingest;
pub mod load;
pub mod report;
pub mod send;
pub mod send_fill;
pub mod send_report;
pub mod send_sim;
pub mod send_track;
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
    /// Run the sender against the emulator with every number busy; report each number's rate,
    /// the densest second, 130429/131056 answers, an idle number's enqueue-to-request latency,
    /// and the RSS a million queued sends add.
    Send(send::SendArgs),
}

/// Runs a benchmark subcommand.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        BenchCommand::Ingest(a) => ingest::run(a),
        BenchCommand::Send(a) => send::run(a),
    }
}
