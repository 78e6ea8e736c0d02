//! The ingest benchmark's report: one line per measured step, the totals, the check; printed
//! for people and written as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    check::{Check, Ledger},
    ingest::IngestArgs,
    load::Latency,
    target::{Backend, Stored, Totals},
    workload::Kind,
};

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
    /// History messages acknowledged (archived) but not yet fanned out into message rows when
    /// the step's last answer came: how far the fan-out lagged behind the acks.
    pub fanout_backlog_messages: u64,
    /// History messages fanned out per second, from the step's start until it was drained.
    pub fanout_per_s: f64,
    /// p99 under the target, no 503, no error, and at least 95% of the offered rate achieved.
    pub pass: bool,
}

impl StepReport {
    pub fn line(&self) -> String {
        let c = &self.counts;
        let history_p99 = self
            .latency_by_kind
            .get("history")
            .map_or(0.0, |l| l.p99_ms);
        let cores = |cpu: f64| cpu / self.elapsed_s;
        format!(
            "{:<13}{:>7.0}{:>9.0}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>7.1}{:>6}{:>5}{:>6.2}{:>5.2}{:>5.2}{:>7.1}{:>6.0}{:>9}{:>8.0}  {}",
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
            self.fanout_backlog_messages,
            self.fanout_per_s,
            if self.pass { "ok" } else { "FAIL" }
        )
    }
}

const HEADER: &str = concat!(
    "              offered achieved  ------------- ack latency, ms --------------       ",
    "      cpu cores                   -history fan-out-\n",
    "step           per s    per s    p50    p99  p99.9    max live99 hist99   503  err",
    "   srv  gen  all drain s rss MB  backlog   msg/s holds",
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
    pub fn of(a: &IngestArgs) -> Self {
        Self {
            step_duration_s: a.duration.unwrap_or(if a.find_max { 5.0 } else { 10.0 }),
            seed: a.seed,
            mix_percent: Kind::ALL.iter().map(|k| (k.name(), k.weight())).collect(),
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
    pub fn print(&self) {
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
            println!(
                "history fan-out at half of it: {} messages behind the acks at the step's end, caught up {:.1} s later ({:.0} messages/s)",
                h.fanout_backlog_messages, h.drain_s, h.fanout_per_s
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

impl super::BenchReport for Report {
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
