//! `coex bench ingest`: how many webhooks per second `coex serve` acknowledges while its ack
//! latency holds, and whether everything it acknowledged is in the store exactly once.
//!
//! One run: a fresh database ([`target::Database`]), a workspace with a WABA and a few
//! coexistence numbers, the real `coex serve` binary on it, then measured steps. Each step
//! builds its signed bodies first ([`super::workload`]), records the API sends its statuses refer to,
//! offers the bodies at a constant arrival rate ([`super::load`]), then waits for the commit queue and
//! the deferred history fan-out to drain. `--find-max` doubles the rate while a step holds
//! (p99 under the target, no 503, no error), bisects between the last good and first bad rate,
//! then runs a step at half the best rate.
//!
//! After the last step the correctness check ([`super::check`]) compares what was acknowledged
//! with the server's counters and with the rows in the database.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coex_core::model::{ArchiveInput, Ingest, IngestBatch, IngestItem, Timestamp};
use coex_store::{SqlStore, Store, StoreOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{
    check::{Check, Ledger},
    load::{self, Latency, Outcome},
    report::{Report, Settings, StepCounts, StepReport},
    target::{self, Backend, Counter, Server, Totals},
    workload::{Generator, Kind, Mix},
};

/// The app secret the bench and its server share (a test value, not a credential).
const SECRET: &str = "coex-bench-app-secret";
const WABA: &str = "102290129340398";

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Offered load, webhooks per second, for a single measured step.
    #[arg(long, conflicts_with = "find_max")]
    pub rate: Option<f64>,
    /// Step the rate up (doubling, then bisecting) and report the highest rate that holds.
    #[arg(long)]
    pub find_max: bool,
    /// Seconds per measured step [default: 10 with --rate, 5 per --find-max step].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Database backend: a temporary SQLite file (WAL, durable commits) or a fresh
    /// PostgreSQL database.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: Backend,
    /// PostgreSQL server on which the bench creates (and afterwards drops) its database.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// Where the JSON report goes [default: bench-results/ingest-{sqlite,postgres}.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the workload; the same seed gives the same bodies.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Smallest history chunk, in KiB.
    #[arg(long, default_value_t = 100)]
    pub history_min_kb: usize,
    /// Largest history chunk, in KiB (Meta's limit is 3 MB).
    #[arg(long, default_value_t = 3072)]
    pub history_max_kb: usize,
    /// Share of requests that are exact redeliveries of an earlier body, in percent.
    #[arg(long, default_value_t = 1.5)]
    pub redeliver_pct: f64,
    /// Coexistence numbers the webhooks are spread over.
    #[arg(long, default_value_t = 4)]
    pub numbers: usize,
    /// First rate tried by --find-max.
    #[arg(long, default_value_t = 1000.0)]
    pub start_rate: f64,
    /// The ack latency a rate must hold: p99 under this many milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub p99_ms: f64,
    /// Requests outstanding at most; due requests beyond it are not sent (and fail the step).
    #[arg(long, default_value_t = 8000)]
    pub max_in_flight: usize,
    /// Longest wait, in seconds, for the server to drain after a step.
    #[arg(long, default_value_t = 900)]
    pub drain_timeout: u64,
    /// Keep the database (SQLite file or PostgreSQL database) and the server log.
    #[arg(long)]
    pub keep: bool,
}

/// Runs the benchmark; exit code 1 when the correctness check fails.
pub fn run(args: &IngestArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    if args.rate.is_none() && !args.find_max {
        bail!("give --rate R (one step) or --find-max");
    }
    if args.rate.is_some_and(|r| r.is_nan() || r <= 0.0) || args.start_rate <= 0.0 {
        bail!("rates must be positive");
    }
    // Why a single-threaded runtime: the generator then costs at most one core, and its CPU
    // time (reported) stays comparable to the server's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, config_file))
}

async fn run_async(args: &IngestArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    super::run_on_fresh_database(
        "ingest",
        args.db,
        &args.database_url,
        args.keep,
        args.out.as_deref(),
        async |db| measure(args, config_file, db).await,
    )
    .await
}

/// Everything between creating and dropping the database; the server is stopped on every path.
async fn measure(
    args: &IngestArgs,
    config_file: Option<&Path>,
    db: &target::Database,
) -> anyhow::Result<Report> {
    let store = SqlStore::connect_with(
        &db.url,
        StoreOptions {
            max_connections: 2,
            ..StoreOptions::default()
        },
    )
    .await
    .context("opening the bench database")?;
    let numbers = target::seed(&store, WABA, args.numbers.max(1)).await?;
    let exe = std::env::current_exe().context("locating the coex binary")?;
    let mut server = Server::spawn(&exe, config_file, &db.url, SECRET, &db.log_path())?;
    let client = target::client()?;
    let result = async {
        server.wait_healthy(&client).await?;
        let counter = Counter::connect(db.backend, &db.url).await?;
        let mix = Mix {
            redeliver: args.redeliver_pct / 100.0,
            history_min_bytes: args.history_min_kb * 1024,
            history_max_bytes: args.history_max_kb * 1024,
        };
        let start = Timestamp::now().plus_millis(-86_400_000);
        let generator = Generator::new(
            args.seed,
            SECRET.as_bytes(),
            &server.addr.to_string(),
            WABA,
            numbers,
            mix,
            start,
        );
        let mut bench = Bench {
            args,
            server: &server,
            store: &store,
            counter: &counter,
            client: &client,
            generator,
            ledger: Ledger::default(),
            steps: Vec::new(),
            self_cpu: 0.0,
        };
        let (sustained, half) = bench.search().await?;
        let metrics = server.metrics(&client).await?;
        let stored = counter.stored().await?;
        counter.close().await;
        let check = Check::evaluate(&bench.ledger, &metrics.ingest, &stored);
        let server_stats = target::proc_stats(Some(server.pid()));
        Ok::<_, anyhow::Error>(Report {
            bench: "ingest",
            version: env!("CARGO_PKG_VERSION"),
            backend: args.db,
            durability: args.db.durability(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started_at_ms: 0,
            settings: Settings::of(args),
            steps: bench.steps,
            sustained_webhooks_per_s: sustained,
            at_half_max: half,
            server_peak_rss_mb: server_stats.peak_rss_kb as f64 / 1024.0,
            server_cpu_s: server_stats.cpu_secs,
            generator_cpu_s: bench.self_cpu,
            ledger: bench.ledger,
            server_totals: metrics.ingest,
            stored,
            check,
            kept: None,
        })
    }
    .await;
    let stopped = server.stop().await;
    store.close().await;
    let report = result?;
    stopped?;
    Ok(report)
}

/// The state of one run.
struct Bench<'a> {
    args: &'a IngestArgs,
    server: &'a Server,
    store: &'a SqlStore,
    counter: &'a Counter,
    client: &'a reqwest::Client,
    generator: Generator,
    ledger: Ledger,
    steps: Vec<StepReport>,
    /// The generator's CPU seconds over all measured windows.
    self_cpu: f64,
}

impl Bench<'_> {
    /// One step at `--rate`, or the `--find-max` search; returns the sustained rate and the
    /// step at half of it.
    async fn search(&mut self) -> anyhow::Result<(Option<f64>, Option<StepReport>)> {
        if let Some(rate) = self.args.rate {
            let s = self.step(rate, "fixed").await?;
            let sustained = s.pass.then_some(s.achieved_rate);
            return Ok((sustained, None));
        }
        let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
        let mut rate = self.args.start_rate;
        for i in 1..=14 {
            let pass = self.step(rate, &format!("find-max {i}")).await?.pass;
            if pass {
                good = Some(rate);
            } else {
                bad = Some(rate);
            }
            rate = match (good, bad) {
                (Some(g), None) => g * 2.0,
                (None, Some(b)) if b >= 20.0 => round2(b / 2.0),
                (Some(g), Some(b)) if b - g > g * 0.1 => {
                    let mid = round2((g + b) / 2.0);
                    if mid <= g || mid >= b {
                        break;
                    }
                    mid
                }
                _ => break,
            };
        }
        let Some(max) = good else {
            return Ok((None, None));
        };
        let half = self.step(max / 2.0, "half of max").await?;
        Ok((Some(max), Some(half)))
    }

    /// Builds, offers and drains one step.
    async fn step(&mut self, rate: f64, label: &str) -> anyhow::Result<StepReport> {
        let duration = self
            .args
            .duration
            .unwrap_or(if self.args.find_max { 5.0 } else { 10.0 });
        // A search step has at least 1000 requests, so that its p99 rests on 10 of them.
        let floor = if self.args.find_max { 1000 } else { 1 };
        let n = ((rate * duration).round() as usize).max(floor);
        let spinner = spinner(format!("{label}: building {n} signed webhooks"));
        let load = self.generator.step(n, rate)?;
        spinner.set_message(format!("{label}: recording {} API sends", load.sent.len()));
        for chunk in load.sent.chunks(500) {
            let batch = IngestBatch {
                items: vec![IngestItem {
                    received_at: Timestamp::now(),
                    archive: ArchiveInput::None,
                    events: chunk.iter().cloned().map(Ingest::Sent).collect(),
                }],
            };
            self.store.apply_batch(&batch).await?;
        }
        self.counter.settle_wal().await?;
        spinner.finish_and_clear();
        let bytes: usize = load.webhooks.iter().map(|w| w.body_len).sum();

        let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("{label} @ {rate:.0}/s"));
        let history0 = history_applied(&self.server.metrics(self.client).await?.ingest);
        let (srv0, gen0, all0) = (
            target::proc_stats(Some(self.server.pid())),
            target::proc_stats(None),
            target::machine_busy_secs(),
        );
        let shots = load::run(
            self.server.addr,
            &load.webhooks,
            rate,
            self.args.max_in_flight,
            &bar,
        )
        .await;
        let (srv1, gen1, all1) = (
            target::proc_stats(Some(self.server.pid())),
            target::proc_stats(None),
            target::machine_busy_secs(),
        );
        bar.finish_and_clear();
        let history1 = history_applied(&self.server.metrics(self.client).await?.ingest);
        let drain = self.drain(label).await?;
        let history2 = history_applied(&self.server.metrics(self.client).await?.ingest);
        self.ledger.record(&load.webhooks, &shots.outcomes);

        let mut counts = StepCounts::default();
        let mut latencies = Vec::with_capacity(n);
        let mut live = Vec::with_capacity(n);
        let mut by_kind: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
        for (o, w) in shots.outcomes.iter().zip(&load.webhooks) {
            match *o {
                Outcome::Answered {
                    status: 200,
                    latency,
                } => {
                    counts.acked += 1;
                    latencies.push(latency);
                    if w.kind != Kind::History {
                        live.push(latency);
                    }
                    by_kind.entry(w.kind.name()).or_default().push(latency);
                }
                Outcome::Answered { status: 503, .. } => counts.refused_503 += 1,
                Outcome::Answered { .. } => counts.other_status += 1,
                Outcome::Failed => counts.failed += 1,
                Outcome::NotSent => counts.not_sent += 1,
            }
        }
        let latency = Latency::of(latencies);
        let elapsed = shots.elapsed.as_secs_f64().max(1e-6);
        let achieved_rate = counts.acked as f64 / elapsed;
        let clean = counts.refused_503 + counts.other_status + counts.failed + counts.not_sent == 0;
        let pass = clean && latency.p99_ms < self.args.p99_ms && achieved_rate >= 0.95 * rate;
        let gen_cpu = gen1.cpu_secs - gen0.cpu_secs;
        self.self_cpu += gen_cpu;
        let report = StepReport {
            label: label.to_owned(),
            offered_rate: rate,
            requests: n as u64,
            mb_sent: bytes as f64 / 1e6,
            elapsed_s: elapsed,
            achieved_rate,
            counts,
            latency,
            latency_live: Latency::of(live),
            latency_by_kind: by_kind
                .into_iter()
                .map(|(k, v)| (k, Latency::of(v)))
                .collect(),
            max_start_lag_ms: shots.max_start_lag.as_secs_f64() * 1000.0,
            connections_opened: shots.connections,
            server_cpu_s: srv1.cpu_secs - srv0.cpu_secs,
            generator_cpu_s: gen_cpu,
            machine_cpu_s: all1 - all0,
            server_peak_rss_mb: srv1.peak_rss_kb as f64 / 1024.0,
            drain_s: drain.as_secs_f64(),
            fanout_backlog_messages: history2.saturating_sub(history1),
            fanout_per_s: history2.saturating_sub(history0) as f64
                / (shots.elapsed + drain).as_secs_f64().max(1e-6),
            pass,
        };
        eprintln!("{}", report.line());
        self.steps.push(report.clone());
        Ok(report)
    }

    /// Waits until the commit queue is empty, every archived body is applied (the deferred
    /// history fan-out is done) and the server's counters stand still.
    async fn drain(&self, label: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let spinner = spinner(format!("{label}: draining"));
        let mut last: Option<Totals> = None;
        loop {
            let m = self.server.metrics(self.client).await?;
            let pending = self.counter.pending().await?;
            if m.ingest_queue_depth == 0 && pending == 0 && last == Some(m.ingest) {
                spinner.finish_and_clear();
                return Ok(started.elapsed());
            }
            spinner.set_message(format!(
                "{label}: draining (queue {}, deferred bodies pending {pending})",
                m.ingest_queue_depth
            ));
            if started.elapsed() > Duration::from_secs(self.args.drain_timeout) {
                spinner.finish_and_clear();
                bail!(
                    "the server did not drain in {} s (queue {}, pending archives {pending})",
                    self.args.drain_timeout,
                    m.ingest_queue_depth
                );
            }
            last = Some(m.ingest);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// History messages the server has applied (stored or found already stored) so far.
fn history_applied(t: &Totals) -> u64 {
    t.store.history_inserted + t.store.history_duplicate
}

/// `x` rounded to two significant digits (3,750 → 3,800), so searched rates read well.
fn round2(x: f64) -> f64 {
    if x <= 0.0 {
        return x;
    }
    let unit = 10f64.powf(x.log10().floor() - 1.0);
    (x / unit).round() * unit
}

fn spinner(message: String) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    s.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(200));
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn searched_rates_have_two_significant_digits() {
        assert_eq!(super::round2(3750.0), 3800.0);
        assert_eq!(super::round2(93.75), 94.0);
        assert_eq!(super::round2(62.5), 63.0);
        assert_eq!(super::round2(1500.0), 1500.0);
    }
}
