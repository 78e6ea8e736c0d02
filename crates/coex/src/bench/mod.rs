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
pub mod send_parts;
pub mod send_report;
pub mod send_sim;
pub mod send_track;
pub mod target;
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;
use anyhow::Context;
use coex_core::model::Timestamp;

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

/// Runs a benchmark subcommand. `config` is the effective configuration (`--config` file and
/// `COEX_*` over the defaults): the send bench's sender runs on it, and the ingest bench's
/// server is started with the same file (`config_file`).
pub fn run(
    args: &BenchArgs,
    config: &Config,
    config_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    match &args.command {
        BenchCommand::Ingest(a) => ingest::run(a, config_file),
        BenchCommand::Send(a) => send::run(a, config),
    }
}

/// What the shared frame of a benchmark run needs of its report.
pub trait BenchReport: serde::Serialize {
    /// Records when the run started and where its files were kept (`--keep`).
    fn stamp(&mut self, started_at_ms: i64, kept: Option<String>);
    /// Prints the figures for a person.
    fn show(&self);
    /// Whether the report's correctness check passed.
    fn passed(&self) -> bool;
}

/// The frame every benchmark shares: a database made for the run, `measure` on it, the
/// database kept (`keep`) or dropped whatever `measure` answered, then the report printed and
/// written as JSON to `out` (default `bench-results/<bench>-<db>.json`). Exit code 1 when the
/// report's check failed.
pub async fn run_on_fresh_database<R: BenchReport>(
    bench: &str,
    backend: target::Backend,
    admin_url: &str,
    keep: bool,
    out: Option<&Path>,
    measure: impl AsyncFnOnce(&target::Database) -> anyhow::Result<R>,
) -> anyhow::Result<ExitCode> {
    let started_at = Timestamp::now();
    let mut db = target::Database::create(backend, admin_url).await?;
    let outcome = measure(&db).await;
    let kept = if keep {
        db.keep().map(|p| p.display().to_string())
    } else {
        None
    };
    db.destroy(keep).await?;
    let mut report = outcome?;
    report.stamp(started_at.as_millis(), kept);
    report.show();
    let out = out.map_or_else(
        || PathBuf::from(format!("bench-results/{bench}-{}.json", backend.name())),
        Path::to_path_buf,
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("report: {}", out.display());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
