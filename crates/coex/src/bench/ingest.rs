//! `coex bench ingest`: how many webhooks per second `coex serve` acknowledges while its ack
//! latency holds, and whether everything it acknowledged is in the store exactly once.
//!
//! One run: a fresh database ([`target::Database`]), a workspace with a WABA and a few
//! coexistence numbers, the real `coex serve` binary on it, then measured steps. Each step
//! builds its signed bodies first ([`workload`]), records the API sends its statuses refer to,
//! offers the bodies at a constant arrival rate ([`load`]), then waits for the commit queue and
//! the deferred history fan-out to drain. `--find-max` doubles the rate while a step holds
//! (p99 under the target, no 503, no error), bisects between the last good and first bad rate,
//! then runs a step at half the best rate.
//!
//! The correctness check compares three views: what the generator saw acknowledged (and which
//! of it were redeliveries), the server's own counters (`GET /metrics`), and row counts taken
//! with SQL on the database. For every kind of unit (live messages, statuses, app contacts,
//! history messages): `acked == stored_unique + duplicates_ignored`, with `stored_unique`
//! counted in the database and equal to the unique units the generator had acknowledged, and
//! `duplicates_ignored` from the server's counters.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coex_core::model::{ArchiveInput, Ingest, IngestBatch, IngestItem, Timestamp};
use coex_store::{SqlStore, Store, StoreOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::{
    load::{self, Latency, Outcome},
    target::{self, Backend, Counter, Server, Stored, Totals},
    workload::{Generator, Kind, Mix, Units, Webhook},
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
    /// Database backend: a temporary SQLite file (WAL, synchronous=FULL) or a fresh
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
    /// Where the JSON report goes [default: bench-results/ingest-<db>.json].
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
pub fn run(args: &IngestArgs) -> anyhow::Result<ExitCode> {
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
    rt.block_on(run_async(args))
}

async fn run_async(args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let started_at = Timestamp::now();
    let mut db = target::Database::create(args.db, &args.database_url).await?;
    let outcome = measure(args, &db).await;
    let kept = if args.keep {
        db.keep().map(|p| p.display().to_string())
    } else {
        None
    };
    db.destroy(args.keep).await?;
    let mut report = outcome?;
    report.started_at_ms = started_at.as_millis();
    report.kept = kept;
    report.print();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("bench-results/ingest-{}.json", args.db.name())));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("report: {}", out.display());
    Ok(if report.check.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Everything between creating and dropping the database; the server is stopped on every path.
async fn measure(args: &IngestArgs, db: &target::Database) -> anyhow::Result<Report> {
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
    let mut server = Server::spawn(&exe, &db.url, SECRET, &db.log_path())?;
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
            durability: match args.db {
                Backend::Sqlite => "SQLite WAL, synchronous=FULL",
                Backend::Postgres => "PostgreSQL defaults (fsync on, synchronous_commit on)",
            },
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
                (None, Some(b)) if b > 100.0 => b / 2.0,
                (Some(g), Some(b)) if b - g > (g * 0.1).max(100.0) => {
                    ((g + b) / 200.0).round() * 100.0
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
        let n = ((rate * duration).round() as usize).max(1);
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
        spinner.finish_and_clear();
        let bytes: usize = load.webhooks.iter().map(|w| w.body_len).sum();

        let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("{label} @ {rate:.0}/s"));
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
        let drain = self.drain(label).await?;
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
                    by_kind.entry(kind_name(w.kind)).or_default().push(latency);
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

fn spinner(message: String) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(200));
    s
}

/// What the generator saw, summed over all steps.
#[derive(Debug, Default, Serialize)]
pub struct Ledger {
    pub requests: u64,
    pub acked: u64,
    pub acked_redeliveries: u64,
    pub refused_503: u64,
    /// Neither 200 nor 503: 4xx (refused, not stored) or other 5xx (fate unknown).
    pub other_status: u64,
    pub failed: u64,
    pub not_sent: u64,
    /// Acknowledged requests per kind of body.
    pub acked_by_kind: BTreeMap<&'static str, u64>,
    /// Units in acknowledged requests (redeliveries counted each time).
    pub acked_units: Units,
    /// Units of the distinct bodies acknowledged at least once.
    pub unique_units: Units,
    /// Units of bodies never acknowledged but whose fate is unknown (connection failure or a
    /// 5xx other than 503): the store may or may not hold them.
    pub unknown_units: Units,
    /// Units of the requests with an unknown fate (each time).
    pub unknown_deliveries: Units,
    pub unknown_requests: u64,
}

impl Ledger {
    fn record(&mut self, webhooks: &[Webhook], outcomes: &[Outcome]) {
        // Per original body: acknowledged at least once, fate unknown at least once.
        let mut originals: HashMap<u64, (Units, bool, bool)> = HashMap::new();
        for (w, o) in webhooks.iter().zip(outcomes) {
            self.requests += 1;
            let entry = originals
                .entry(w.original)
                .or_insert((w.units, false, false));
            match *o {
                Outcome::Answered { status: 200, .. } => {
                    self.acked += 1;
                    self.acked_redeliveries += u64::from(w.redelivery);
                    *self.acked_by_kind.entry(kind_name(w.kind)).or_default() += 1;
                    self.acked_units.add(&w.units);
                    entry.1 = true;
                }
                Outcome::Answered { status: 503, .. } => self.refused_503 += 1,
                Outcome::Answered { status, .. } => {
                    self.other_status += 1;
                    if status >= 500 {
                        self.unknown(w, entry);
                    }
                }
                Outcome::Failed => {
                    self.failed += 1;
                    self.unknown(w, entry);
                }
                Outcome::NotSent => self.not_sent += 1,
            }
        }
        for (units, acked, unknown) in originals.values() {
            if *acked {
                self.unique_units.add(units);
            } else if *unknown {
                self.unknown_units.add(units);
            }
        }
    }

    fn unknown(&mut self, w: &Webhook, entry: &mut (Units, bool, bool)) {
        self.unknown_requests += 1;
        self.unknown_deliveries.add(&w.units);
        entry.2 = true;
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Status => "status",
        Kind::Inbound => "inbound",
        Kind::Echo => "echo",
        Kind::ContactSync => "contact_sync",
        Kind::History => "history",
    }
}

/// One line of the correctness check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub what: &'static str,
    /// Units in acknowledged requests.
    pub acked: u64,
    /// Rows in the database.
    pub stored_unique: i64,
    /// The server's count of units it recognised as already stored.
    pub duplicates_ignored: Option<u64>,
    /// The server's count of units it stored.
    pub server_stored: u64,
    /// Distinct units the generator had acknowledged (what the database must hold).
    pub expected_unique: u64,
    /// How many more units the database may hold because some requests' fate is unknown.
    pub unknown: u64,
    pub pass: bool,
}

/// The correctness check: every acknowledged unit is stored once, or recognised as a duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub pass: bool,
    pub lines: Vec<CheckLine>,
    /// `acked == stored_unique + duplicates_ignored` summed over the lines that have duplicates.
    pub acked: u64,
    pub stored_unique: i64,
    pub duplicates_ignored: u64,
    pub webhooks_acked: u64,
    pub webhooks_acked_by_server: u64,
    pub webhooks_archived: i64,
    pub webhooks_pending: i64,
    /// Statuses for messages the store did not know (the bench sends none).
    pub statuses_orphaned: u64,
    pub problems: Vec<String>,
}

impl Check {
    fn evaluate(l: &Ledger, t: &Totals, db: &Stored) -> Self {
        let s = &t.store;
        let line = |what,
                    acked: u64,
                    stored: i64,
                    dup: Option<u64>,
                    server_stored: u64,
                    unique: u64,
                    unknown: u64,
                    unknown_deliveries: u64| {
            let stored_u = u64::try_from(stored).unwrap_or(0);
            // Exact when no request's fate is unknown; otherwise the unknown ones may count.
            let unique_ok = (unique..=unique + unknown).contains(&stored_u);
            let sum_ok =
                dup.is_none_or(|d| (acked..=acked + unknown_deliveries).contains(&(stored_u + d)));
            CheckLine {
                what,
                acked,
                stored_unique: stored,
                duplicates_ignored: dup,
                server_stored,
                expected_unique: unique,
                unknown,
                pass: unique_ok && sum_ok && server_stored == stored_u,
            }
        };
        let (a, u, k, kd) = (
            &l.acked_units,
            &l.unique_units,
            &l.unknown_units,
            &l.unknown_deliveries,
        );
        let lines = vec![
            line(
                "live messages (inbound + echoes)",
                a.messages,
                db.messages,
                Some(s.messages_duplicate),
                s.messages_inserted,
                u.messages,
                k.messages,
                kd.messages,
            ),
            line(
                "statuses",
                a.statuses,
                db.statuses,
                Some(s.statuses_duplicate),
                s.statuses_applied + s.statuses_stale + s.statuses_orphaned,
                u.statuses,
                k.statuses,
                kd.statuses,
            ),
            line(
                "app contacts",
                a.contacts,
                db.contacts,
                Some(s.contacts_unchanged),
                s.contacts_synced,
                u.contacts,
                k.contacts,
                kd.contacts,
            ),
            line(
                "history messages",
                a.history_messages,
                db.history_messages,
                Some(s.history_duplicate),
                s.history_inserted,
                u.history_messages,
                k.history_messages,
                kd.history_messages,
            ),
            // The server splits large chunks into several transactions and counts every
            // piece after the first as a duplicate chunk, so only the stored count is checked.
            line(
                "history chunks",
                a.history_chunks,
                db.history_chunks,
                None,
                s.history_chunks,
                u.history_chunks,
                k.history_chunks,
                kd.history_chunks,
            ),
        ];
        let mut problems = Vec::new();
        for c in lines.iter().filter(|c| !c.pass) {
            problems.push(format!(
                "{}: acked {} vs stored {} + duplicates {:?} (server stored {}, expected unique {}, \
                 unknown {})",
                c.what,
                c.acked,
                c.stored_unique,
                c.duplicates_ignored,
                c.server_stored,
                c.expected_unique,
                c.unknown
            ));
        }
        let archived = u64::try_from(db.webhooks_archived).unwrap_or(0);
        if !(l.acked..=l.acked + l.unknown_requests).contains(&t.acked) {
            problems.push(format!(
                "the server acknowledged {} webhooks, the generator saw {} (unknown {})",
                t.acked, l.acked, l.unknown_requests
            ));
        }
        if archived != t.acked {
            problems.push(format!(
                "{archived} bodies archived for {} acknowledged",
                t.acked
            ));
        }
        if db.webhooks_pending != 0 {
            problems.push(format!(
                "{} archived bodies never applied",
                db.webhooks_pending
            ));
        }
        let with_dups = lines.iter().filter(|c| c.duplicates_ignored.is_some());
        Self {
            pass: problems.is_empty(),
            acked: with_dups.clone().map(|c| c.acked).sum(),
            stored_unique: with_dups.clone().map(|c| c.stored_unique).sum(),
            duplicates_ignored: with_dups.filter_map(|c| c.duplicates_ignored).sum(),
            lines,
            webhooks_acked: l.acked,
            webhooks_acked_by_server: t.acked,
            webhooks_archived: db.webhooks_archived,
            webhooks_pending: db.webhooks_pending,
            statuses_orphaned: s.statuses_orphaned,
            problems,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StepCounts {
    pub acked: u64,
    pub refused_503: u64,
    pub other_status: u64,
    pub failed: u64,
    pub not_sent: u64,
}

/// One measured step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub label: String,
    pub offered_rate: f64,
    pub requests: u64,
    pub mb_sent: f64,
    /// From the first request due to the last answer.
    pub elapsed_s: f64,
    /// Acknowledged webhooks per second over `elapsed_s`.
    pub achieved_rate: f64,
    #[serde(flatten)]
    pub counts: StepCounts,
    /// Ack latency of the 200 answers, from the moment each request was due.
    pub latency: Latency,
    /// The same without history chunks: the live traffic.
    pub latency_live: Latency,
    /// The same per kind of body: history chunks (1% of requests, archived or applied before
    /// their 200) weigh on p99 and above.
    pub latency_by_kind: BTreeMap<&'static str, Latency>,
    /// The largest delay between a request's due time and its start, in the generator.
    pub max_start_lag_ms: f64,
    /// Keep-alive connections the generator opened during the step.
    pub connections_opened: u64,
    pub server_cpu_s: f64,
    pub generator_cpu_s: f64,
    /// CPU seconds of the whole machine during the step (includes PostgreSQL's processes).
    pub machine_cpu_s: f64,
    /// The server's peak resident memory so far (VmHWM).
    pub server_peak_rss_mb: f64,
    /// How long the commit queue and the deferred history fan-out took to catch up afterwards.
    pub drain_s: f64,
    /// p99 under the target, no 503, no error, and at least 95% of the offered rate achieved.
    pub pass: bool,
}

impl StepReport {
    fn line(&self) -> String {
        let c = &self.counts;
        let history_p99 = self
            .latency_by_kind
            .get("history")
            .map_or(0.0, |l| l.p99_ms);
        let cores = |cpu: f64| cpu / self.elapsed_s;
        format!(
            "{:<13}{:>7.0}{:>9.0}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>6}{:>5}{:>6.2}{:>5.2}{:>5.2}{:>7.1}{:>6.0}  {}",
            self.label,
            self.offered_rate,
            self.achieved_rate,
            self.latency.p50_ms,
            self.latency.p99_ms,
            self.latency.p999_ms,
            self.latency.max_ms,
            self.latency_live.p99_ms,
            history_p99,
            c.refused_503,
            c.failed + c.other_status + c.not_sent,
            cores(self.server_cpu_s),
            cores(self.generator_cpu_s),
            cores(self.machine_cpu_s),
            self.drain_s,
            self.server_peak_rss_mb,
            if self.pass { "ok" } else { "FAIL" }
        )
    }
}

const HEADER: &str = concat!(
    "              offered achieved  ------------- ack latency, ms --------------       ",
    "      cpu cores\n",
    "step           per s    per s    p50    p99  p99.9    max live99 hist99   503  err",
    "   srv  gen  all drain s rss MB holds",
);

/// The benchmark's settings, as run.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub step_duration_s: f64,
    pub seed: u64,
    pub mix_percent: BTreeMap<&'static str, u32>,
    pub redeliver_percent: f64,
    pub history_kb: (usize, usize),
    pub numbers: usize,
    pub p99_target_ms: f64,
    pub max_in_flight: usize,
}

impl Settings {
    fn of(a: &IngestArgs) -> Self {
        Self {
            step_duration_s: a.duration.unwrap_or(if a.find_max { 5.0 } else { 10.0 }),
            seed: a.seed,
            mix_percent: [
                ("status", 70),
                ("inbound", 20),
                ("echo", 5),
                ("contact_sync", 4),
                ("history", 1),
            ]
            .into_iter()
            .collect(),
            redeliver_percent: a.redeliver_pct,
            history_kb: (a.history_min_kb, a.history_max_kb),
            numbers: a.numbers,
            p99_target_ms: a.p99_ms,
            max_in_flight: a.max_in_flight,
        }
    }
}

/// The JSON report (and what is printed).
#[derive(Debug, Serialize)]
pub struct Report {
    pub bench: &'static str,
    pub version: &'static str,
    pub backend: Backend,
    pub durability: &'static str,
    pub cpus: usize,
    pub started_at_ms: i64,
    pub settings: Settings,
    pub steps: Vec<StepReport>,
    /// The highest offered rate whose step held (with --rate: the achieved rate, if it held).
    pub sustained_webhooks_per_s: Option<f64>,
    pub at_half_max: Option<StepReport>,
    pub server_peak_rss_mb: f64,
    /// CPU seconds of the server over its whole life (steps, drains, start-up).
    pub server_cpu_s: f64,
    /// CPU seconds of the generator during the measured windows only.
    pub generator_cpu_s: f64,
    pub ledger: Ledger,
    pub server_totals: Totals,
    pub stored: Stored,
    pub check: Check,
    /// Where the server log (and the SQLite file) were kept (--keep).
    pub kept: Option<String>,
}

impl Report {
    fn print(&self) {
        println!(
            "\ncoex bench ingest: {} ({}), {} CPUs",
            self.backend.name(),
            self.durability,
            self.cpus
        );
        println!("{HEADER}");
        for s in &self.steps {
            println!("{}", s.line());
        }
        match self.sustained_webhooks_per_s {
            Some(r) => println!(
                "\nsustained: {r:.0} webhooks/s (p99 < {} ms, no 503, no errors)",
                self.settings.p99_target_ms
            ),
            None => println!("\nsustained: no measured rate held"),
        }
        if let Some(h) = &self.at_half_max {
            println!(
                "at half of it ({:.0}/s): p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
                h.offered_rate,
                h.latency.p50_ms,
                h.latency.p99_ms,
                h.latency.p999_ms,
                h.latency.max_ms
            );
        }
        let measured: f64 = self.steps.iter().map(|s| s.server_cpu_s).sum();
        println!(
            "server: peak RSS {:.0} MB, CPU {:.1} s while measured ({:.1} s in all); generator: CPU {:.1} s ({:.0}% of the server's)",
            self.server_peak_rss_mb,
            measured,
            self.server_cpu_s,
            self.generator_cpu_s,
            100.0 * self.generator_cpu_s / measured.max(1e-9)
        );
        let l = &self.ledger;
        println!(
            "requests {}: acked {} ({} redeliveries), 503 {}, other status {}, failed {}, not sent {}",
            l.requests,
            l.acked,
            l.acked_redeliveries,
            l.refused_503,
            l.other_status,
            l.failed,
            l.not_sent
        );
        let c = &self.check;
        println!("\ncheck: acked == stored_unique + duplicates_ignored");
        for x in &c.lines {
            let dup = x
                .duplicates_ignored
                .map_or_else(|| "-".to_owned(), |d| d.to_string());
            println!(
                "  {:<34} {:>9} == {:>9} + {:>6}   expected unique {:>9}  {}",
                x.what,
                x.acked,
                x.stored_unique,
                dup,
                x.expected_unique,
                if x.pass { "ok" } else { "MISMATCH" }
            );
        }
        println!(
            "  {:<34} {:>9} == {:>9} + {:>6}",
            "all units with duplicates", c.acked, c.stored_unique, c.duplicates_ignored
        );
        println!(
            "  webhooks: acked {} (server {}), archived {}, not yet applied {}; orphan statuses {}",
            c.webhooks_acked,
            c.webhooks_acked_by_server,
            c.webhooks_archived,
            c.webhooks_pending,
            c.statuses_orphaned
        );
        for p in &c.problems {
            println!("  problem: {p}");
        }
        println!("CHECK {}", if c.pass { "PASS" } else { "FAIL" });
        if let Some(k) = &self.kept {
            println!("server log (and SQLite file) kept in {k}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_store::BatchSummary;

    /// 10 messages acked, one of them a redelivery; the store holds 9 and ignored 1.
    fn consistent() -> (Ledger, Totals, Stored) {
        let ledger = Ledger {
            requests: 10,
            acked: 10,
            acked_redeliveries: 1,
            acked_units: Units {
                messages: 10,
                ..Units::default()
            },
            unique_units: Units {
                messages: 9,
                ..Units::default()
            },
            ..Ledger::default()
        };
        let totals = Totals {
            acked: 10,
            deferred: 0,
            refused_busy: 0,
            store: BatchSummary {
                messages_inserted: 9,
                messages_duplicate: 1,
                ..BatchSummary::default()
            },
        };
        let stored = Stored {
            webhooks_archived: 10,
            messages: 9,
            ..Stored::default()
        };
        (ledger, totals, stored)
    }

    #[test]
    fn a_consistent_run_passes() {
        let (l, t, s) = consistent();
        let c = Check::evaluate(&l, &t, &s);
        assert!(c.pass, "{:?}", c.problems);
        assert_eq!((c.acked, c.stored_unique, c.duplicates_ignored), (10, 9, 1));
    }

    #[test]
    fn lost_stored_twice_or_unarchived_fail() {
        let (l, t, mut s) = consistent();
        s.messages = 8; // one acknowledged message is missing
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, mut t, mut s) = consistent();
        s.messages = 10; // the redelivery was stored again...
        t.store.messages_inserted = 10;
        t.store.messages_duplicate = 0; // ...instead of being ignored
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, t, mut s) = consistent();
        s.webhooks_pending = 1;
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, t, mut s) = consistent();
        s.webhooks_archived = 9;
        assert!(!Check::evaluate(&l, &t, &s).pass);
    }

    #[test]
    fn unknown_fates_widen_the_bounds_only_by_their_units() {
        let (mut l, t, mut s) = consistent();
        l.unknown_units.messages = 1;
        l.unknown_deliveries.messages = 1;
        l.unknown_requests = 1;
        s.messages = 10;
        let mut t2 = t;
        t2.store.messages_inserted = 10;
        t2.acked = 11;
        s.webhooks_archived = 11;
        assert!(Check::evaluate(&l, &t2, &s).pass);
        s.messages = 11;
        t2.store.messages_inserted = 11;
        assert!(!Check::evaluate(&l, &t2, &s).pass);
    }
}
