//! The send benchmark's report: the figures the goals name, how they were measured,
//! the goals met or missed, and where the CPU went; printed for people and written as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{load::Latency, send_parts::IdleParts, send_track::Spread, target::Backend};

/// What was run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    /// Numbers with a backlog (the idle number comes on top).
    pub numbers: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Customers each backlog rotates over.
    pub recipients: usize,
    /// Sends queued per backlog number before the run.
    pub backlog_per_number: u64,
    /// Extra sends queued for the first backlog number (the RSS measurement).
    pub deep_queue: u64,
    pub idle_every_ms: u64,
    /// The sender's settings that shape the figures.
    pub cap_mps: u32,
    pub pair_interval_ms: u64,
    pub claim_batch: Option<u32>,
    pub max_in_flight_per_lane: usize,
    pub max_in_flight: usize,
    pub commit_max_batch: usize,
    pub commit_linger_ms: u64,
    pub store_max_connections: u32,
}

/// Per number: accepted sends per second over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct NumberRate {
    pub number: String,
    pub rate: f64,
    pub max_requests_1s: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    /// Accepted sends per second and number, from the emulator's log.
    #[serde(flatten)]
    pub spread: Spread,
    /// The lowest rate in percent of the cap.
    pub min_pct_of_cap: f64,
    /// Numbers under 95% of the cap.
    pub numbers_under_95pct: usize,
    /// The number with the deep queue (the first), on its own.
    pub deep_queue_number_rate: Option<f64>,
    /// Total accepted sends per second over the window.
    pub total_per_s: f64,
    pub per_number: Vec<NumberRate>,
}

/// Accepted sends of all numbers per second, from the start of the run (warm-up included).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub accepted_per_second: Vec<u32>,
    /// The slowest and the fastest whole second of the measured window.
    pub window_min: u32,
    pub window_max: u32,
}

/// Error answers and the densest second, over the whole run (warm-up included).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answers {
    pub requests: u64,
    pub accepted: u64,
    pub throughput_130429: u64,
    pub pair_rate_131056: u64,
    pub other_errors: u64,
    /// Most requests to one number in any sliding second (Meta refuses past 20).
    pub max_requests_1s: usize,
    pub max_requests_1s_number: Option<String>,
    pub max_accepted_1s: usize,
    /// Log entries dropped by the emulator before they were read, or read too late to be
    /// placed in their second (both should be 0).
    pub log_entries_missed: u64,
    pub log_entries_late: u64,
}

/// The idle number: single sends enqueued now and then while every other number is busy.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    pub enqueued: u64,
    pub enqueue_failures: u64,
    /// Sends enqueued in the window (but its last second), and of them those matched to
    /// their request.
    pub in_window: u64,
    pub measured: u64,
    /// Sends enqueued in the window whose request never came before the run ended.
    pub never_requested: u64,
    /// From the call to `SendService::enqueue` to the emulator receiving the request.
    pub from_enqueue_call: Latency,
    /// From `enqueue` returning (the send stored) to the emulator receiving the request.
    pub from_stored: Latency,
    /// The `enqueue` call itself (policy, template cache, the store's transaction).
    pub enqueue_call: Latency,
    /// Accuracy of the clock mapping onto the emulator's (half the best probe round trip
    /// plus its millisecond resolution).
    pub clock_error_ms: f64,
    /// SQLite: where the time went, part by part (see `send_parts`).
    pub parts: Option<IdleParts>,
}

/// Memory of the bench process (the sender, its store pools and the bench's bookkeeping).
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Peak RSS over the process's life (VmHWM).
    pub vm_hwm_mb: f64,
    pub rss_at_window_start_mb: f64,
    pub rss_at_window_end_mb: f64,
    pub rss_max_in_window_mb: f64,
    /// `/proc/self/status` at the window's start and end (RssAnon is the heap; RssFile and
    /// RssShmem include SQLite's memory-mapped WAL index).
    pub status_at_window_start: BTreeMap<String, u64>,
    pub status_at_window_end: BTreeMap<String, u64>,
    pub queue: QueueMemory,
    /// The emulator's peak RSS (its own process).
    pub emulator_vm_hwm_mb: f64,
}

/// RSS before and after queueing the deep queue, with no lane running.
#[derive(Debug, Clone, Serialize)]
pub struct QueueMemory {
    pub queued: u64,
    pub how: String,
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
    pub added_mb: f64,
    /// `/proc/self/status` lines before and after (RssAnon, RssFile, RssShmem in kB).
    pub before: BTreeMap<String, u64>,
    pub after: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// CPU over the measured window, in cores (CPU seconds per second).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cpu {
    pub window_s: f64,
    /// The whole bench process.
    pub bench_process: f64,
    /// Of it: the sender's runtime (lanes, HTTP client, committer, the idle number's
    /// enqueues), SQLite's worker threads (the store's SQL), the log reader, the rest.
    pub sender_runtime: f64,
    pub sqlite_threads: f64,
    pub observer: f64,
    pub other_threads: f64,
    pub emulator: f64,
    /// Everything the machine ran; `rest` is what neither process used (PostgreSQL's server
    /// processes, and anything else running on the machine).
    pub machine: f64,
    pub rest: f64,
    pub cores: usize,
    /// `/proc/loadavg` at the end of the window (other work on the machine shows here).
    pub load_average: String,
}

/// The sender's own counters (`SendEngine::stats`), summed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SenderTotals {
    pub requests: u64,
    pub accepted: u64,
    pub throughput_errors: u64,
    pub pair_rate_errors: u64,
    pub other_errors: u64,
    /// Sends put back without a request (pair rate, messaging limit, and the claimed sends
    /// each lane releases when it stops).
    pub deferred: u64,
    pub lanes: usize,
    pub min_mps: u32,
    pub max_mps: u32,
}

/// Queueing before the run.
#[derive(Debug, Clone, Serialize)]
pub struct Seeding {
    /// Sends queued through `SendService::enqueue` (one per number and customer).
    pub enqueued_via_service: u64,
    pub enqueue_per_s: f64,
    pub enqueue_latency: Latency,
    /// Rows copied in SQL to grow the queues, and how long it took.
    pub rows_copied: u64,
    pub copy_s: f64,
}

/// Everything accepted was recorded once.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// 200 answers in the emulator's log.
    pub emulator_accepted: u64,
    /// Sends the store holds as accepted.
    pub store_accepted: i64,
    pub duplicate_wamids: i64,
    pub store_states: BTreeMap<String, i64>,
    pub pass: bool,
    pub problems: Vec<String>,
}

/// One of the goals.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub value: String,
    pub met: bool,
    /// False when this run cannot decide the goal (too few queued sends); `met` is then false.
    pub judged: bool,
    pub note: Option<String>,
}

/// The JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    pub bench: &'static str,
    pub version: &'static str,
    pub backend: Backend,
    pub durability: &'static str,
    pub started_at_ms: i64,
    pub settings: RunSettings,
    pub rates: Rates,
    pub timeline: Timeline,
    pub answers: Answers,
    pub idle: Idle,
    pub memory: Memory,
    pub cpu: Cpu,
    pub sender: SenderTotals,
    pub seeding: Seeding,
    pub check: Check,
    pub goals: Vec<Goal>,
    /// How the figures were taken.
    pub method: Vec<&'static str>,
    pub kept: Option<String>,
}

impl SendReport {
    /// The goals of the issue, judged on this run.
    pub fn judge(&mut self) {
        let a = &self.answers;
        let full = self.settings.duration_s >= 600.0;
        let short = (!full).then(|| {
            format!(
                "the goal is for a 10-minute run; this one measured {:.0} s",
                self.settings.duration_s
            )
        });
        let mut goals = vec![
            Goal {
                goal: "zero 130429 (throughput)".into(),
                value: a.throughput_130429.to_string(),
                met: a.throughput_130429 == 0,
                judged: true,
                note: short.clone(),
            },
            Goal {
                goal: "zero 131056 (pair rate)".into(),
                value: a.pair_rate_131056.to_string(),
                met: a.pair_rate_131056 == 0,
                judged: true,
                note: short,
            },
            Goal {
                goal: "each number uses >= 95% of its cap".into(),
                value: format!(
                    "lowest {:.2}/s = {:.1}% of {}/s ({} under 95%)",
                    self.rates.spread.min,
                    self.rates.min_pct_of_cap,
                    self.settings.cap_mps,
                    self.rates.numbers_under_95pct
                ),
                met: self.rates.numbers_under_95pct == 0 && !self.rates.per_number.is_empty(),
                judged: true,
                note: None,
            },
            Goal {
                goal: "rates across numbers within ±5%".into(),
                value: format!("±{:.2}%", self.rates.spread.spread_pct),
                met: self.rates.spread.spread_pct <= 5.0 && !self.rates.per_number.is_empty(),
                judged: true,
                note: None,
            },
            Goal {
                goal: "enqueue-to-request p99 < 20 ms (idle number)".into(),
                value: format!(
                    "p99 {:.1} ms from the enqueue call ({:.1} ms from stored), {} sends",
                    self.idle.from_enqueue_call.p99_ms,
                    self.idle.from_stored.p99_ms,
                    self.idle.measured
                ),
                met: self.idle.measured > 0
                    && self.idle.never_requested == 0
                    && self.idle.from_enqueue_call.p99_ms < 20.0,
                judged: self.idle.in_window > 0,
                note: if self.idle.never_requested > 0 {
                    Some(format!(
                        "{} of {} sends enqueued in the window never reached the emulator",
                        self.idle.never_requested, self.idle.in_window
                    ))
                } else {
                    (self.idle.measured < 100).then(|| {
                        format!(
                            "only {} samples: p99 is close to the maximum",
                            self.idle.measured
                        )
                    })
                },
            },
        ];
        let q = &self.memory.queue;
        let judged = q.queued >= 1_000_000;
        goals.push(Goal {
            goal: "1,000,000 queued messages add <= 64 MB RSS".into(),
            value: format!("{:+.1} MB for {} queued", q.added_mb, q.queued),
            met: judged && q.added_mb <= 64.0,
            judged,
            note: (!judged).then(|| {
                format!(
                    "not judged: only {} queued (--queue 1000000 decides it)",
                    q.queued
                )
            }),
        });
        self.goals = goals;
    }

    pub fn print(&self) {
        let s = &self.settings;
        println!(
            "\ncoex bench send: {} ({}), {} numbers with backlog + 1 idle, {:.0} s measured after {:.0} s warm-up, {} CPUs",
            self.backend.name(),
            self.durability,
            s.numbers,
            s.duration_s,
            s.warmup_s,
            self.cpu.cores
        );
        let r = &self.rates;
        println!(
            "rate per number (accepted/s, cap {}): min {:.2}  median {:.2}  mean {:.2}  max {:.2}  spread ±{:.2}%  total {:.0}/s",
            s.cap_mps,
            r.spread.min,
            r.spread.median,
            r.spread.mean,
            r.spread.max,
            r.spread.spread_pct,
            r.total_per_s
        );
        println!(
            "all numbers, accepted per second in the window: slowest second {}, fastest {}",
            self.timeline.window_min, self.timeline.window_max
        );
        if let Some(d) = r.deep_queue_number_rate {
            println!(
                "  the number with {} more queued: {d:.2}/s",
                self.memory.queue.queued
            );
        }
        let a = &self.answers;
        println!(
            "requests {}: accepted {}, 130429 {}, 131056 {}, other errors {}; densest second: {} requests to one number ({} accepted); log entries missed {}, late {}",
            a.requests,
            a.accepted,
            a.throughput_130429,
            a.pair_rate_131056,
            a.other_errors,
            a.max_requests_1s,
            a.max_accepted_1s,
            a.log_entries_missed,
            a.log_entries_late
        );
        let i = &self.idle;
        println!(
            "idle number: {} of {} sends in the window reached the emulator; enqueue call -> request p50 {:.1} ms p99 {:.1} ms max {:.1} ms; stored -> request p50 {:.1} p99 {:.1}; enqueue call p50 {:.1} p99 {:.1} (clock error ±{:.1} ms)",
            i.measured,
            i.in_window,
            i.from_enqueue_call.p50_ms,
            i.from_enqueue_call.p99_ms,
            i.from_enqueue_call.max_ms,
            i.from_stored.p50_ms,
            i.from_stored.p99_ms,
            i.enqueue_call.p50_ms,
            i.enqueue_call.p99_ms,
            i.clock_error_ms
        );
        if let Some(p) = &i.parts {
            let (l, w) = (&p.latency, &p.slowest);
            let m = &w.mean_ms;
            println!(
                "idle number, part by part ({} sends): p99 writer wait {:.1} ms, statements {:.1}, COMMIT {:.1}, WAL fsync {:.1}, rest of the call {:.1}, stored -> request {:.1} (to the attempt {:.1}, attempt -> request {:.1}); the slowest {} (mean {:.1} ms): writer wait {:.1}, statements {:.1}, COMMIT {:.1}, fsync {:.1}, rest of the call {:.1}, stored -> attempt {:.1}, attempt -> request {:.1}; {} group commits held the writer p50 {:.1} ms p99 {:.1} max {:.1}",
                p.matched,
                l.writer_wait.p99_ms,
                l.statements.p99_ms,
                l.commit.p99_ms,
                l.fsync.p99_ms,
                l.rest_of_call.p99_ms,
                l.stored_to_request.p99_ms,
                l.stored_to_attempt.p99_ms,
                l.attempt_to_request.p99_ms,
                w.sends,
                w.total_ms,
                m.writer_wait,
                m.statements,
                m.commit,
                m.fsync,
                m.rest_of_call,
                m.stored_to_attempt,
                m.attempt_to_request,
                p.group_commits,
                p.group_commit_hold.p50_ms,
                p.group_commit_hold.p99_ms,
                p.group_commit_hold.max_ms,
            );
            let when: Vec<String> = w
                .when
                .iter()
                .map(|(at, ms)| format!("{ms:.0} ms at {at:.1} s"))
                .collect();
            println!("  the slowest idle sends: {}", when.join(", "));
        }
        let m = &self.memory;
        println!(
            "memory: VmHWM {:.0} MB; RSS in window {:.0} -> {:.0} MB (max {:.0}); {} queued with no lane running: {:.1} -> {:.1} MB ({:+.1} MB); emulator VmHWM {:.0} MB",
            m.vm_hwm_mb,
            m.rss_at_window_start_mb,
            m.rss_at_window_end_mb,
            m.rss_max_in_window_mb,
            m.queue.queued,
            m.queue.rss_before_mb,
            m.queue.rss_after_mb,
            m.queue.added_mb,
            m.emulator_vm_hwm_mb
        );
        let c = &self.cpu;
        println!(
            "cpu cores over the window: bench {:.2} (sender runtime {:.2}, sqlite {:.2}, log reader {:.2}, other {:.2}), emulator {:.2}, rest of machine {:.2}; machine {:.2} of {}",
            c.bench_process,
            c.sender_runtime,
            c.sqlite_threads,
            c.observer,
            c.other_threads,
            c.emulator,
            c.rest,
            c.machine,
            c.cores
        );
        let se = &self.sender;
        println!(
            "sender counters: {} requests, {} accepted, 130429 {}, 131056 {}, other {}, deferred {}; {} lanes at {}..{} MPS",
            se.requests,
            se.accepted,
            se.throughput_errors,
            se.pair_rate_errors,
            se.other_errors,
            se.deferred,
            se.lanes,
            se.min_mps,
            se.max_mps
        );
        let sd = &self.seeding;
        println!(
            "seeding: {} via SendService::enqueue ({:.0}/s, p50 {:.1} ms, p99 {:.1} ms), {} copied in SQL in {:.1} s",
            sd.enqueued_via_service,
            sd.enqueue_per_s,
            sd.enqueue_latency.p50_ms,
            sd.enqueue_latency.p99_ms,
            sd.rows_copied,
            sd.copy_s
        );
        println!("\ngoals:");
        for g in &self.goals {
            println!(
                "  {:<48} {:<7} {}{}",
                g.goal,
                match (g.judged, g.met) {
                    (false, _) => "-",
                    (true, true) => "met",
                    (true, false) => "MISSED",
                },
                g.value,
                g.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            );
        }
        let ck = &self.check;
        println!(
            "\ncheck: emulator accepted {} == store accepted {}, duplicate wamids {}",
            ck.emulator_accepted, ck.store_accepted, ck.duplicate_wamids
        );
        for p in &ck.problems {
            println!("  problem: {p}");
        }
        println!("CHECK {}", if ck.pass { "PASS" } else { "FAIL" });
        if let Some(k) = &self.kept {
            println!("logs (and the SQLite file) kept in {k}");
        }
    }
}

impl super::BenchReport for SendReport {
    fn stamp(&mut self, started_at_ms: i64, kept: Option<String>) {
        self.started_at_ms = started_at_ms;
        self.kept = kept;
    }

    fn show(&self) {
        self.print();
    }

    fn passed(&self) -> bool {
        self.check.pass
    }
}
