//! `coex bench send`: the real sender (`SendService` and `SendEngine`, in this process)
//! against the real emulator (`coex sim`, a child process) over HTTP, with every number busy.
//!
//! One run:
//! 1. a fresh database ([`target::Database`]), the emulator with `--numbers` + 1 coexistence
//!    numbers and a pool of `--recipients` customers ([`send_sim`]), and the same numbers in
//!    the store (unlimited messaging tier, connected);
//! 2. one `hello_world` template per number and customer through `SendService::enqueue`, then
//!    each backlog grown in SQL to cover the run ([`send_fill`]), every number rotating over
//!    the customers so no customer gets two messages within 6 s;
//! 3. the RSS measurement: VmRSS, the first number's queue grown by `--queue` sends, VmRSS
//!    again, while no lane runs (the engine has not started);
//! 4. the engine starts; while it sends, a last number with no backlog (the idle number) gets
//!    a single send every `--idle-every-ms` (±50%), and a thread reads the emulator's request
//!    log every second ([`send_track`]);
//! 5. after `--warmup` + `--duration` seconds the engine stops gracefully, and the store's
//!    accepted sends are checked against the emulator's 200 answers.
//!
//! The emulator's log is the judge: rates, the densest second and the error answers are
//! counted from its arrival times. The sender's own counters are reported beside them.
//!
//! Two cores run everything (the sender, the emulator, SQLite's threads or PostgreSQL's
//! server): the CPU each used over the window is reported, so a missed goal can be traced to
//! where the time went.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coex_core::{
    PhoneNumber, PhoneNumberId, WabaId,
    model::{MessagingTier, NewNumber, NumberKind, NumberState, Origin, Timestamp, WorkspaceSlug},
};
use coex_hub::send::{SendEngine, SendInput, SendService, SendSettings, templates::TemplateCache};
use coex_meta::graph::{GraphClient, GraphConfig};
use coex_store::{SqlStore, Store, StoreOptions, WriteTiming};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{
    load::Latency,
    send_fill::Raw,
    send_parts::{self, IdleCall},
    send_report::{
        Answers, Check, Cpu, Idle, Memory, NumberRate, QueueMemory, Rates, RunSettings, Seeding,
        SendReport, SenderTotals, Timeline,
    },
    send_sim::{self, Emulator, SendRequest, SimClockMap, idle_phone, pool_phone},
    send_track::{NumberCounts, Spread, Tracker},
    target::{self, Backend},
};
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Coexistence numbers with a backlog (an idle number comes on top).
    #[arg(long, default_value_t = 200)]
    pub numbers: usize,
    /// Measured seconds (600 for the 10-minute run).
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Seconds of sending before the measured window (lanes start, leases are taken).
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
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
    /// Where the JSON report goes [default: bench-results/send-{sqlite,postgres}.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Customers each backlog rotates over. Meta allows one message per 6 s to a customer,
    /// so at 18 MPS a number needs at least 108.
    #[arg(long, default_value_t = 150)]
    pub recipients: usize,
    /// Mean interval between the idle number's sends, in ms (each one varies by ±50%).
    #[arg(long, default_value_t = 250)]
    pub idle_every_ms: u64,
    /// Sends queued for the first number, with no lane running, to measure the RSS they add.
    #[arg(long, default_value_t = 1_000_000)]
    pub queue: u64,
    /// Sends a lane claims at a time [default: the sender's, one second's worth].
    #[arg(long)]
    pub claim_batch: Option<u32>,
    /// Keep the database (SQLite file or PostgreSQL database) and the emulator's log.
    #[arg(long)]
    pub keep: bool,
}

/// Runs the benchmark; exit code 1 when the store and the emulator disagree on what was
/// accepted.
pub fn run(args: &SendArgs, config: &Config) -> anyhow::Result<ExitCode> {
    if args.numbers == 0 {
        bail!("--numbers must be at least 1");
    }
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if !valid(args.duration) || args.duration == 0.0 || !valid(args.warmup) {
        bail!("--duration must be positive and --warmup not negative");
    }
    if args.recipients == 0 || args.idle_every_ms == 0 {
        bail!("--recipients and --idle-every-ms must be positive");
    }
    // Why two worker threads: the machine the issue measures on has two cores, and so does
    // `coex serve`'s default runtime there; the sender gets what it would get in production.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SENDER_THREADS)
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, config))
}

/// Name of the sender runtime's threads (CPU is attributed by thread name).
const SENDER_THREADS: &str = "coex-send";
const OBSERVER_THREAD: &str = "bench-observer";

async fn run_async(args: &SendArgs, config: &Config) -> anyhow::Result<ExitCode> {
    super::run_on_fresh_database(
        "send",
        args.db,
        &args.database_url,
        args.keep,
        args.out.as_deref(),
        async |db| measure(args, config, db).await,
    )
    .await
}

/// Everything between creating and dropping the database; the emulator is stopped on every
/// path.
async fn measure(
    args: &SendArgs,
    config: &Config,
    db: &target::Database,
) -> anyhow::Result<SendReport> {
    let dir = db
        .log_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let exe = std::env::current_exe().context("locating the coex binary")?;
    let spinner = spinner("starting the emulator".into());
    let emulator = Emulator::spawn(
        &exe,
        send_sim::world(args.numbers + 1, args.recipients),
        &dir,
    )?;
    spinner.finish_and_clear();
    let result = Bench::setup(args, config, db, &emulator).await;
    let result = match result {
        Ok(bench) => bench.run().await,
        Err(e) => Err(e),
    };
    let result = result.map_err(|e| {
        e.context(format!(
            "emulator log ({}) ends with:\n{}",
            emulator.log().display(),
            target::log_tail(emulator.log())
        ))
    });
    emulator.stop().await;
    result
}

/// One send the idle number got.
#[derive(Debug, Clone)]
struct IdleSend {
    call: IdleCall,
    ok: bool,
}

/// What the log reader thread hands back.
#[derive(Debug)]
struct Observed {
    counts: Vec<NumberCounts>,
    accepted_per_second: Vec<u32>,
    idle_requests: Vec<SendRequest>,
    missed: u64,
    rss_max_in_window_kb: u64,
    polls: u64,
}

struct Bench<'a> {
    args: &'a SendArgs,
    db: &'a target::Database,
    emulator: &'a Emulator,
    store: SqlStore,
    service: Arc<SendService>,
    settings: SendSettings,
    store_connections: u32,
    clock: SimClockMap,
    /// Backlog numbers, then the idle number.
    numbers: Vec<PhoneNumberId>,
    backlog: u64,
    seeding: Seeding,
    queue: QueueMemory,
}

fn template(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}}
    })
}

impl<'a> Bench<'a> {
    async fn setup(
        args: &'a SendArgs,
        config: &Config,
        db: &'a target::Database,
        emulator: &'a Emulator,
    ) -> anyhow::Result<Bench<'a>> {
        let info = &emulator.info;
        anyhow::ensure!(
            info.phone_number_ids.len() == args.numbers + 1,
            "the emulator has {} numbers, {} expected",
            info.phone_number_ids.len(),
            args.numbers + 1
        );
        // The effective configuration (`--config` and COEX_* over the shipped defaults): the
        // bench's knobs for tuning the sender. Its database is the bench's own.
        let mut settings = config.send.settings();
        // Webhooks are off: no status ever confirms a send, and none should turn into
        // `sent_unconfirmed` (a write per send) during a 10-minute run.
        settings.unconfirmed_after = Duration::from_secs(86_400);
        settings.owner = Some("coex-bench-send".into());
        if args.claim_batch.is_some() {
            settings.claim_batch = args.claim_batch;
        }
        let store_connections = config.database.max_connections;
        let store = SqlStore::connect_with(
            &db.url,
            StoreOptions {
                max_connections: store_connections,
                ..StoreOptions::default()
            },
        )
        .await
        .context("opening the bench database")?;

        let slug = WorkspaceSlug::parse("bench".to_owned()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let workspace = store.ensure_workspace(&slug, "Send benchmark").await?;
        let waba = WabaId::parse(info.waba_id.clone())?;
        store
            .upsert_waba(workspace.id, &waba, Some("Send Bench"))
            .await?;
        let mut numbers = Vec::with_capacity(info.phone_number_ids.len());
        for (i, id) in info.phone_number_ids.iter().enumerate() {
            let id = PhoneNumberId::parse(id.clone())?;
            store
                .upsert_number(&NewNumber {
                    id: id.clone(),
                    waba: waba.clone(),
                    display_phone: PhoneNumber::parse(&format!("+1555{:07}", 7_000_000 + i))?,
                    verified_name: Some(format!("Bench Shop {i}")),
                    kind: NumberKind::Coexistence,
                    tier: MessagingTier::Unlimited,
                    initial_state: NumberState::Connected,
                })
                .await?;
            numbers.push(id);
        }

        let mut graph_config =
            GraphConfig::new(info.graph_url.clone(), info.access_token.clone().into());
        graph_config.api_version = info.graph_version.clone();
        let graph = GraphClient::new(&graph_config).context("the Graph API client")?;
        let wall: coex_hub::ingest::Clock = Arc::new(Timestamp::now);
        let templates = Arc::new(TemplateCache::new(
            graph.clone(),
            settings.template_cache_ttl,
        ));
        let engine = SendEngine::new(store.clone(), graph, settings.clone(), wall.clone());
        let service = Arc::new(SendService::new(
            store.clone(),
            templates,
            config.pricing.clone(),
            engine,
            wall,
        ));
        let client = target::client()?;
        let clock = SimClockMap::calibrate(&client, &info.control_url).await?;

        let mut bench = Bench {
            args,
            db,
            emulator,
            store,
            service,
            settings,
            store_connections,
            clock,
            numbers,
            backlog: 0,
            seeding: Seeding {
                enqueued_via_service: 0,
                enqueue_per_s: 0.0,
                enqueue_latency: Latency::default(),
                rows_copied: 0,
                copy_s: 0.0,
            },
            queue: QueueMemory {
                queued: 0,
                how: String::new(),
                rss_before_mb: 0.0,
                rss_after_mb: 0.0,
                added_mb: 0.0,
                before: BTreeMap::new(),
                after: BTreeMap::new(),
                seconds: 0.0,
            },
        };
        bench.seed().await?;
        Ok(bench)
    }

    fn backlog_numbers(&self) -> &[PhoneNumberId] {
        &self.numbers[..self.args.numbers]
    }

    fn idle_number(&self) -> &PhoneNumberId {
        &self.numbers[self.args.numbers]
    }

    /// Queues the backlogs (step 2) and measures the RSS of the deep queue (step 3).
    async fn seed(&mut self) -> anyhow::Result<()> {
        let r = self.args.recipients;
        let numbers: Vec<PhoneNumberId> = self.backlog_numbers().to_vec();
        let total = (numbers.len() * r) as u64;
        let bar = bar(total, "queueing through SendService::enqueue");
        // Each number's sends go in customer order (its rotation); numbers are queued side
        // by side, as several clients would.
        const CLIENTS: usize = 8;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in numbers.chunks(numbers.len().div_ceil(CLIENTS)) {
            let chunk = chunk.to_vec();
            let service = self.service.clone();
            let bar = bar.clone();
            tasks.spawn(async move {
                let mut took = Vec::with_capacity(chunk.len() * r);
                for number in &chunk {
                    for i in 0..r {
                        let input = SendInput {
                            origin: Origin::Campaign,
                            ..SendInput::new(template(&pool_phone(i)))
                        };
                        let t = Instant::now();
                        service
                            .enqueue(number, input)
                            .await
                            .map_err(|e| anyhow::anyhow!("enqueue for {number}: {e}"))?;
                        took.push(t.elapsed());
                        bar.inc(1);
                    }
                }
                Ok::<_, anyhow::Error>(took)
            });
        }
        let mut took = Vec::with_capacity(total as usize);
        while let Some(done) = tasks.join_next().await {
            took.extend(done??);
        }
        bar.finish_and_clear();
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        self.seeding.enqueued_via_service = total;
        self.seeding.enqueue_per_s = total as f64 / elapsed;
        self.seeding.enqueue_latency = Latency::of(took);

        // Enough for the whole run with 10% to spare, in whole rotations.
        let cap = f64::from(
            self.settings
                .throughput(NumberKind::Coexistence)
                .outbound_cap_mps,
        );
        let need = ((self.args.warmup + self.args.duration) * cap * 1.1).ceil() as u64;
        let r64 = r as u64;
        self.backlog = need.div_ceil(r64).max(1) * r64;
        let raw = Raw::connect(self.db.backend, &self.db.url).await?;
        let growing = spinner(format!(
            "growing {} queues to {} sends each",
            numbers.len(),
            self.backlog
        ));
        let t = Instant::now();
        self.seeding.rows_copied = raw.grow(&numbers, self.backlog).await?;
        growing.finish_and_clear();

        // Step 3: the deep queue, with no lane running.
        let deep = &numbers[0];
        let extra = self.args.queue.div_ceil(r64) * r64;
        raw.close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = status_kb();
        let q0 = Instant::now();
        let mut added = 0;
        if extra > 0 {
            let queueing = spinner(format!("queueing {extra} more sends for {deep}"));
            let raw = Raw::connect(self.db.backend, &self.db.url).await?;
            let had = raw.queued(deep).await?;
            raw.grow(std::slice::from_ref(deep), had + extra).await?;
            added = raw.queued(deep).await? - had;
            raw.close().await;
            queueing.finish_and_clear();
        }
        let seconds = q0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = status_kb();
        self.seeding.copy_s = t.elapsed().as_secs_f64() - seconds;
        self.seeding.rows_copied += added;
        let mb = |m: &BTreeMap<String, u64>| m.get("VmRSS").copied().unwrap_or(0) as f64 / 1024.0;
        self.queue = QueueMemory {
            queued: added,
            how: "the first number's queue grown in SQL (copies of the rows SendService::enqueue \
                  wrote) while the engine was not running; VmRSS of this process (the sender, its \
                  store pools, the bench) 0.5 s before and after, the copying connection closed"
                .into(),
            rss_before_mb: mb(&before),
            rss_after_mb: mb(&after),
            added_mb: mb(&after) - mb(&before),
            before,
            after,
            seconds,
        };
        Ok(())
    }

    /// Steps 4 and 5.
    async fn run(self) -> anyhow::Result<SendReport> {
        let args = self.args;
        let engine = self.service.engine().clone();
        let (stop_tx, stop_rx) = watch::channel(false);

        // The measured window, on the emulator's clock.
        let t0 = Instant::now();
        let w0 = t0 + Duration::from_secs_f64(args.warmup);
        let w1 = w0 + Duration::from_secs_f64(args.duration);
        let window = (
            self.clock.sim_ms(w0).floor() as i64,
            self.clock.sim_ms(w1).floor() as i64,
        );
        let index: HashMap<String, usize> = self
            .numbers
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str().to_owned(), i))
            .collect();
        let observer_stop = Arc::new(AtomicBool::new(false));
        let observer = spawn_observer(
            self.emulator.info.control_url.clone(),
            index,
            self.args.numbers,
            window,
            (w0, w1),
            self.clock.sim_ms(t0).floor() as i64,
            observer_stop.clone(),
        )?;

        let engine_task = tokio::spawn(engine.clone().run(stop_rx.clone()));
        let idle_log: Arc<Mutex<Vec<IdleSend>>> = Arc::default();
        let idle_task = tokio::spawn(idle_sends(
            self.service.clone(),
            self.idle_number().clone(),
            Duration::from_millis(args.idle_every_ms),
            self.clock,
            idle_log.clone(),
            stop_rx,
        ));

        let total = args.warmup + args.duration;
        let bar = bar(total.ceil() as u64, "sending");
        let mut cpu0 = None;
        let mut status_w0 = BTreeMap::new();
        let mut last = (Instant::now(), 0_u64);
        let write_timings = self.store.write_timings();
        let (cpu1, status_w1, window_timings) = loop {
            let now = Instant::now();
            if cpu0.is_none() && now >= w0 {
                cpu0 = Some(CpuSnap::take(self.emulator.pid()));
                status_w0 = status_kb();
                if let Some(t) = &write_timings {
                    t.start();
                }
            }
            if now >= w1 {
                let status = status_kb();
                let timings = write_timings.as_ref().map(|t| t.stop());
                break (CpuSnap::take(self.emulator.pid()), status, timings);
            }
            let stats = engine.stats();
            let accepted: u64 = stats.values().map(|s| s.accepted).sum();
            let e429: u64 = stats.values().map(|s| s.throughput_errors).sum();
            let e056: u64 = stats.values().map(|s| s.pair_rate_errors).sum();
            let rate = (accepted - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
            last = (Instant::now(), accepted);
            bar.set_position(t0.elapsed().as_secs());
            bar.set_message(format!(
                "{} lanes, {accepted} accepted ({rate:.0}/s), 130429 {e429}, 131056 {e056}",
                engine.running_lanes().len()
            ));
            let next = (now + Duration::from_secs(1)).min(if cpu0.is_none() { w0 } else { w1 });
            tokio::time::sleep_until(next.into()).await;
        };
        bar.finish_and_clear();

        let spinner = spinner(
            "stopping the engine (in-flight requests finish, results are committed)".into(),
        );
        let stats = engine.stats();
        let lanes = engine.running_lanes().len();
        let _ = stop_tx.send(true);
        let _ = idle_task.await;
        engine_task.await.context("the send engine")?;
        let stats_after = engine.stats();
        spinner.set_message("reading the last of the emulator's log".to_owned());
        observer_stop.store(true, Ordering::Release);
        let observed = tokio::task::spawn_blocking(move || observer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the log reader panicked"))??;
        spinner.finish_and_clear();

        let raw = Raw::connect(self.db.backend, &self.db.url).await?;
        let states = raw.states().await?;
        let duplicate_wamids = raw.duplicate_wamids().await?;
        let attempts = raw.first_attempts(self.idle_number().as_str()).await?;
        raw.close().await;
        self.store.close().await;

        let idle_sends =
            std::mem::take(&mut *idle_log.lock().unwrap_or_else(PoisonError::into_inner));
        let emulator_hwm = target::proc_stats(Some(self.emulator.pid())).peak_rss_kb;
        let Some(c0) = cpu0 else {
            bail!("the window was not measured");
        };
        let c1 = cpu1;
        let sender = SenderTotals {
            requests: stats_after.values().map(|s| s.requests).sum(),
            accepted: stats_after.values().map(|s| s.accepted).sum(),
            throughput_errors: stats_after.values().map(|s| s.throughput_errors).sum(),
            pair_rate_errors: stats_after.values().map(|s| s.pair_rate_errors).sum(),
            other_errors: stats_after.values().map(|s| s.other_errors).sum(),
            deferred: stats_after.values().map(|s| s.deferred).sum(),
            lanes,
            min_mps: stats.values().map(|s| s.mps).min().unwrap_or(0),
            max_mps: stats.values().map(|s| s.mps).max().unwrap_or(0),
        };
        let mut report = SendReport {
            bench: "send",
            version: env!("CARGO_PKG_VERSION"),
            backend: args.db,
            durability: args.db.durability(),
            started_at_ms: 0,
            settings: RunSettings {
                numbers: args.numbers,
                warmup_s: args.warmup,
                duration_s: args.duration,
                recipients: args.recipients,
                backlog_per_number: self.backlog,
                deep_queue: self.queue.queued,
                idle_every_ms: args.idle_every_ms,
                cap_mps: self
                    .settings
                    .throughput(NumberKind::Coexistence)
                    .outbound_cap_mps,
                pair_interval_ms: u64::try_from(self.settings.pair_interval.as_millis())
                    .unwrap_or(u64::MAX),
                claim_batch: self.settings.claim_batch,
                max_in_flight_per_lane: self.settings.max_in_flight_per_lane,
                max_in_flight: self.settings.max_in_flight,
                commit_max_batch: self.settings.commit_max_batch,
                commit_linger_ms: u64::try_from(self.settings.commit_linger.as_millis())
                    .unwrap_or(u64::MAX),
                store_max_connections: self.store_connections,
            },
            rates: self.rates(&observed.counts),
            timeline: timeline(&observed.accepted_per_second, args.warmup, args.duration),
            answers: answers(&observed, &self.numbers),
            idle: idle_latency(
                &idle_sends,
                &observed.idle_requests,
                window,
                &self.clock,
                window_timings.map(|t| (t, attempts)),
            ),
            memory: Memory {
                vm_hwm_mb: target::proc_stats(None).peak_rss_kb as f64 / 1024.0,
                rss_at_window_start_mb: status_w0.get("VmRSS").copied().unwrap_or(0) as f64
                    / 1024.0,
                rss_at_window_end_mb: status_w1.get("VmRSS").copied().unwrap_or(0) as f64 / 1024.0,
                rss_max_in_window_mb: observed.rss_max_in_window_kb as f64 / 1024.0,
                status_at_window_start: status_w0,
                status_at_window_end: status_w1,
                queue: self.queue.clone(),
                emulator_vm_hwm_mb: emulator_hwm as f64 / 1024.0,
            },
            cpu: c1.since(&c0),
            sender,
            seeding: self.seeding.clone(),
            check: check(&observed, states, duplicate_wamids),
            goals: Vec::new(),
            method: METHOD.to_vec(),
            kept: None,
        };
        tracing::debug!(polls = observed.polls, "log reader done");
        report.judge();
        Ok(report)
    }

    fn rates(&self, counts: &[NumberCounts]) -> Rates {
        let cap = f64::from(
            self.settings
                .throughput(NumberKind::Coexistence)
                .outbound_cap_mps,
        );
        let secs = self.args.duration;
        let per_number: Vec<NumberRate> = self
            .backlog_numbers()
            .iter()
            .zip(counts)
            .map(|(n, c)| NumberRate {
                number: n.to_string(),
                rate: c.window_accepted as f64 / secs,
                max_requests_1s: c.max_requests_1s,
            })
            .collect();
        let values: Vec<f64> = per_number.iter().map(|r| r.rate).collect();
        let spread = Spread::of(&values);
        Rates {
            min_pct_of_cap: 100.0 * spread.min / cap,
            numbers_under_95pct: values.iter().filter(|r| **r < 0.95 * cap).count(),
            deep_queue_number_rate: (self.queue.queued > 0).then(|| values[0]),
            total_per_s: values.iter().sum(),
            spread,
            per_number,
        }
    }
}

const METHOD: &[&str] = &[
    "sender: SendService + SendEngine in this process, the [send] settings of --config and \
     COEX_SEND_* over the shipped defaults, a 2-thread tokio runtime; store pools as coex serve opens them",
    "emulator: coex sim as a child process at speed 1, webhooks off; it enforces 20 MPS per \
     number (130429) and one message per 6 s per customer (131056)",
    "rates, error answers and the densest second come from the emulator's request log \
     (arrival times, ms), read every second; the densest second counts requests in (t - 1 s, t] \
     like the emulator's rule",
    "rate per number = 200 answers arriving in the measured window / its length",
    "idle latency: emulator arrival time of the request minus this process's clock at the \
     enqueue call, mapped onto the emulator's clock by probing GET /_sim/clock",
    "idle parts (SQLite): each idle send matched to the write transaction its enqueue \
     committed (coex_store::WriteTimings, recorded over the window): writer wait, statements, \
     COMMIT, WAL fsync, the rest of the call, stored -> request; the slowest 1% as means",
    "CPU per thread from /proc/self/task (sender runtime threads are named coex-send, \
     SQLite's sqlx-sqlite-worker); the emulator's from its /proc entry; rest = machine - both",
];

/// Accepted sends per second over the run, and the slowest and fastest second of the window.
fn timeline(per_second: &[u32], warmup: f64, duration: f64) -> Timeline {
    let from = warmup.ceil() as usize;
    let to = ((warmup + duration).floor() as usize).min(per_second.len());
    let window = per_second.get(from..to).unwrap_or_default();
    Timeline {
        accepted_per_second: per_second.to_vec(),
        window_min: window.iter().copied().min().unwrap_or(0),
        window_max: window.iter().copied().max().unwrap_or(0),
    }
}

fn answers(o: &Observed, numbers: &[PhoneNumberId]) -> Answers {
    let mut a = Answers {
        log_entries_missed: o.missed,
        ..Answers::default()
    };
    for (i, c) in o.counts.iter().enumerate() {
        a.requests += c.requests;
        a.accepted += c.accepted;
        a.throughput_130429 += c.throughput_errors;
        a.pair_rate_131056 += c.pair_rate_errors;
        a.other_errors += c.other_errors;
        a.log_entries_late += c.late;
        if c.max_requests_1s > a.max_requests_1s {
            a.max_requests_1s = c.max_requests_1s;
            a.max_requests_1s_number = numbers.get(i).map(ToString::to_string);
        }
        a.max_accepted_1s = a.max_accepted_1s.max(c.max_accepted_1s);
    }
    a
}

fn check(o: &Observed, states: BTreeMap<String, i64>, duplicate_wamids: i64) -> Check {
    let emulator_accepted: u64 = o.counts.iter().map(|c| c.accepted).sum();
    let store_accepted = states.get("accepted").copied().unwrap_or(0);
    let mut problems = Vec::new();
    if u64::try_from(store_accepted).ok() != Some(emulator_accepted) {
        problems.push(format!(
            "the emulator accepted {emulator_accepted} sends, the store holds {store_accepted} as accepted"
        ));
    }
    if duplicate_wamids != 0 {
        problems.push(format!("{duplicate_wamids} wamids appear on two sends"));
    }
    if states.get("sending").copied().unwrap_or(0) != 0 {
        problems.push("sends are still 'sending' after a graceful stop".into());
    }
    if o.missed > 0 {
        problems.push(format!(
            "{} request log entries were dropped before they were read",
            o.missed
        ));
    }
    Check {
        emulator_accepted,
        store_accepted,
        duplicate_wamids,
        store_states: states,
        pass: problems.is_empty(),
        problems,
    }
}

/// The idle sends' latencies, and on SQLite (`timings` recorded) their parts.
fn idle_latency(
    sends: &[IdleSend],
    requests: &[SendRequest],
    window: (i64, i64),
    clock: &SimClockMap,
    timings: Option<(Vec<WriteTiming>, HashMap<String, i64>)>,
) -> Idle {
    let mut first: HashMap<&str, f64> = HashMap::new();
    for r in requests {
        if let Some(to) = &r.to {
            // The emulator stamps arrivals truncated to the millisecond: +0.5 ms on average.
            let at = r.at as f64 + 0.5;
            let e = first.entry(to.as_str()).or_insert(at);
            *e = e.min(at);
        }
    }
    let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
    let (mut from_call, mut from_stored, mut call) = (Vec::new(), Vec::new(), Vec::new());
    let (mut in_window, mut never) = (0, 0);
    let mut calls = Vec::new();
    // The last second's sends are left out: the engine stops at the end of the window, and a
    // send enqueued just before may rightly never be requested.
    let until = (window.1 - 1_000).max(window.0) as f64;
    for s in sends.iter().filter(|s| s.ok).map(|s| &s.call) {
        if !((window.0 as f64)..until).contains(&s.call_ms) {
            continue;
        }
        in_window += 1;
        let Some(&at) = first.get(s.to.as_str()) else {
            never += 1;
            continue;
        };
        from_call.push(ms(at - s.call_ms));
        from_stored.push(ms(at - s.stored_ms));
        call.push(ms(s.stored_ms - s.call_ms));
        calls.push(s.clone());
    }
    Idle {
        enqueued: sends.len() as u64,
        enqueue_failures: sends.iter().filter(|s| !s.ok).count() as u64,
        in_window,
        measured: from_call.len() as u64,
        never_requested: never,
        from_enqueue_call: Latency::of(from_call),
        from_stored: Latency::of(from_stored),
        enqueue_call: Latency::of(call),
        clock_error_ms: clock.rtt_ms / 2.0 + 0.5,
        parts: timings.map(|(t, attempts)| send_parts::split(&calls, &first, &attempts, t)),
    }
}

/// The idle number's single sends, until stopped.
async fn idle_sends(
    service: Arc<SendService>,
    number: PhoneNumberId,
    every: Duration,
    clock: SimClockMap,
    log: Arc<Mutex<Vec<IdleSend>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut k = 0;
    loop {
        let pause = every.mul_f64(rand::thread_rng().gen_range(0.5..1.5));
        // Why select!: wait for the next send, or stop.
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let to = idle_phone(k);
        k += 1;
        let call = Instant::now();
        let result = service
            .enqueue(&number, SendInput::new(template(&to)))
            .await;
        let stored = Instant::now();
        if let Err(e) = &result {
            tracing::warn!(error = %e, "the idle number's send was refused");
        }
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(IdleSend {
                call: IdleCall {
                    to: to.trim_start_matches('+').to_owned(),
                    call,
                    stored,
                    stored_wall_ms: Timestamp::now().as_millis(),
                    call_ms: clock.sim_ms(call),
                    stored_ms: clock.sim_ms(stored),
                },
                ok: result.is_ok(),
            });
    }
}

/// Starts the thread that reads the emulator's request log every second (on its own
/// current-thread runtime, so its CPU is its own) until `stop`, then once more.
fn spawn_observer(
    control_url: String,
    index: HashMap<String, usize>,
    idle: usize,
    window: (i64, i64),
    window_instants: (Instant, Instant),
    start: i64,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<Observed>>> {
    let numbers = index.len();
    Ok(std::thread::Builder::new()
        .name(OBSERVER_THREAD.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()?;
                let mut tracker = Tracker::new(numbers, window, start);
                let mut idle_requests = Vec::new();
                let mut since = 0_u64;
                let mut missed = 0;
                let mut rss_max = 0;
                let mut polls = 0;
                loop {
                    let stopping = stop.load(Ordering::Acquire);
                    let bytes = client
                        .get(format!("{control_url}/requests?since={since}"))
                        .send()
                        .await?
                        .error_for_status()?
                        .bytes()
                        .await?;
                    polls += 1;
                    let (requests, first, last) =
                        send_sim::parse_requests(&bytes, &index, |i| i == idle)?;
                    if let Some(first) = first
                        && first > since + 1
                    {
                        missed += first - since - 1;
                    }
                    since = last.unwrap_or(since);
                    tracker.add(&requests);
                    idle_requests.extend(requests.into_iter().filter(|r| r.number == idle));
                    let now = Instant::now();
                    if now >= window_instants.0 && now <= window_instants.1 {
                        rss_max = rss_max.max(status_kb().get("VmRSS").copied().unwrap_or(0));
                    }
                    if stopping {
                        break;
                    }
                    for _ in 0..10 {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                let tracked = tracker.finish();
                Ok(Observed {
                    counts: tracked.counts,
                    accepted_per_second: tracked.accepted_per_second,
                    idle_requests,
                    missed,
                    rss_max_in_window_kb: rss_max,
                    polls,
                })
            })
        })?)
}

/// The `kB` lines of `/proc/self/status` (VmRSS, VmHWM, RssAnon, RssFile, RssShmem).
fn status_kb() -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            let wanted = ["VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"];
            if !wanted.contains(&key) {
                return None;
            }
            let kb = value.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some((key.to_owned(), kb))
        })
        .collect()
}

/// CPU seconds at one instant: this process by thread group, the emulator, the machine.
#[derive(Debug, Clone)]
struct CpuSnap {
    at: Instant,
    process: f64,
    threads: BTreeMap<&'static str, f64>,
    emulator: f64,
    machine: f64,
}

impl CpuSnap {
    fn take(emulator: u32) -> Self {
        let mut threads: BTreeMap<&'static str, f64> = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for entry in dir.flatten() {
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                let Some((head, rest)) = stat.rsplit_once(')') else {
                    continue;
                };
                let comm = head.split_once('(').map_or("", |(_, c)| c);
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let tick = |i: usize| {
                    fields
                        .get(i)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                let secs = (tick(11) + tick(12)) as f64 / 100.0;
                let group = if comm.starts_with(SENDER_THREADS) {
                    "sender"
                } else if comm.starts_with("sqlx-sqlite") {
                    "sqlite"
                } else if comm.starts_with(OBSERVER_THREAD) {
                    "observer"
                } else {
                    "other"
                };
                *threads.entry(group).or_default() += secs;
            }
        }
        Self {
            at: Instant::now(),
            process: target::proc_stats(None).cpu_secs,
            threads,
            emulator: target::proc_stats(Some(emulator)).cpu_secs,
            machine: target::machine_busy_secs(),
        }
    }

    /// Cores used from `earlier` to `self`.
    fn since(&self, earlier: &CpuSnap) -> Cpu {
        let secs = self.at.duration_since(earlier.at).as_secs_f64().max(1e-9);
        let d = |a: f64, b: f64| (a - b).max(0.0) / secs;
        let group = |g: &str| {
            d(
                self.threads.get(g).copied().unwrap_or(0.0),
                earlier.threads.get(g).copied().unwrap_or(0.0),
            )
        };
        let bench = d(self.process, earlier.process);
        let emulator = d(self.emulator, earlier.emulator);
        let machine = d(self.machine, earlier.machine);
        Cpu {
            window_s: secs,
            bench_process: bench,
            sender_runtime: group("sender"),
            sqlite_threads: group("sqlite"),
            observer: group("observer"),
            other_threads: group("other"),
            emulator,
            machine,
            rest: (machine - bench - emulator).max(0.0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}

fn spinner(message: String) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(200));
    s
}

fn bar(len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(prefix.to_owned());
    bar
}
