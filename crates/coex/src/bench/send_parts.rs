//! Where the idle number's enqueue-to-request time goes, part by part, on SQLite.
//!
//! The total moves by a factor of two between runs on a loaded two-core machine, so a change
//! to one part cannot be judged from it. Each idle send is matched to the write transaction
//! its enqueue committed (the interactive one that asked for the writer while the call was
//! running; see `coex_store::WriteTimings`), and its time split into: waiting for the writer,
//! the transaction's statements, `COMMIT`, the WAL's fsync, the rest of the `enqueue` call
//! (policy, templates, task wake-ups), and stored-to-request, itself split at the attempt's
//! start as the store recorded it (`send_attempts.started_at`, the wall clock in ms): the
//! hand-over to the lane and its pacing, then the HTTP request until the emulator stamped its
//! arrival. Figures: each part's percentiles, and the mean of each part over the
//! slowest 1% of sends, which says what the tail is made of.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use coex_store::WriteTiming;
use serde::Serialize;

use super::load::Latency;

/// One idle send, as the part split needs it.
#[derive(Debug, Clone)]
pub struct IdleCall {
    /// `to` without `+`.
    pub to: String,
    pub call: Instant,
    pub stored: Instant,
    /// On the emulator's clock, for matching the request.
    pub call_ms: f64,
    pub stored_ms: f64,
    /// `stored` on the wall clock (the engine's clock stamps attempts with it), ms.
    pub stored_wall_ms: i64,
}

/// The idle sends' time, part by part.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleParts {
    /// Sends matched to their transaction (of those in the window that reached the emulator).
    pub matched: u64,
    #[serde(flatten)]
    pub latency: Parts<Latency>,
    /// Mean ms of each part over the slowest 1% of sends (enqueue call to request).
    pub slowest: Slowest,
    /// Group commits in the window and how long each held the writer (statements and
    /// `COMMIT`): what an interactive transaction can find in front of it.
    pub group_commits: u64,
    pub group_commit_hold: Latency,
}

/// One figure per part of an idle send's time.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Parts<T> {
    pub writer_wait: T,
    pub statements: T,
    pub commit: T,
    pub fsync: T,
    /// The `enqueue` call less its transaction.
    pub rest_of_call: T,
    pub stored_to_request: T,
    /// Stored to the attempt's start, and from there to the request's arrival (±1 ms: the
    /// attempt's start is in whole ms).
    pub stored_to_attempt: T,
    pub attempt_to_request: T,
}

impl<T> Parts<T> {
    /// Each part over `sends`, summarised by `summary`.
    fn summarise(sends: &[Matched], summary: impl Fn(Vec<f64>) -> T) -> Self {
        let part = |f: fn(&Parts<f64>) -> f64| summary(sends.iter().map(|s| f(&s.ms)).collect());
        Parts {
            writer_wait: part(|p| p.writer_wait),
            statements: part(|p| p.statements),
            commit: part(|p| p.commit),
            fsync: part(|p| p.fsync),
            rest_of_call: part(|p| p.rest_of_call),
            stored_to_request: part(|p| p.stored_to_request),
            stored_to_attempt: part(|p| p.stored_to_attempt),
            attempt_to_request: part(|p| p.attempt_to_request),
        }
    }
}

/// What the slowest sends' time was made of.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Slowest {
    pub sends: u64,
    /// When each was enqueued (s since the window's first idle send) and its total (ms):
    /// sends slow together point at a stall, sends slow apart at a queue.
    pub when: Vec<(f64, f64)>,
    pub total_ms: f64,
    /// Each part's mean, ms.
    pub mean_ms: Parts<f64>,
}

/// One idle send matched to its transaction and its request.
#[derive(Debug, Clone, Copy)]
struct Matched {
    /// Enqueue call on the emulator's clock, ms.
    call_ms: f64,
    /// Enqueue call to request, ms.
    total: f64,
    ms: Parts<f64>,
}

/// Splits the sends that `first_request` (`to` -> arrival on the emulator's clock, ms) saw
/// arrive and `first_attempt` (`to` -> the attempt's start, wall clock ms) saw attempted;
/// `timings` are the window's write transactions.
pub fn split(
    sends: &[IdleCall],
    first_request: &HashMap<&str, f64>,
    first_attempt: &HashMap<String, i64>,
    mut timings: Vec<WriteTiming>,
) -> IdleParts {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let group: Vec<Duration> = timings
        .iter()
        .filter(|t| t.bulk)
        .map(|t| t.body + t.commit)
        .collect();
    timings.retain(|t| !t.bulk);
    timings.sort_by_key(|t| t.asked);
    let mut matched = Vec::new();
    for s in sends {
        let (Some(at), Some(attempt)) = (
            first_request.get(s.to.as_str()),
            first_attempt.get(s.to.as_str()),
        ) else {
            continue;
        };
        // The enqueue's own transaction: the first interactive one asked during the call.
        let i = timings.partition_point(|t| t.asked < s.call);
        let Some(t) = timings.get(i).filter(|t| t.asked + t.total() <= s.stored) else {
            continue;
        };
        let call = ms(s.stored.saturating_duration_since(s.call));
        let to_request = (at - s.stored_ms).max(0.0);
        let to_attempt = ((attempt - s.stored_wall_ms) as f64).clamp(0.0, to_request);
        matched.push(Matched {
            call_ms: s.call_ms,
            total: at - s.call_ms,
            ms: Parts {
                writer_wait: ms(t.wait),
                statements: ms(t.body),
                commit: ms(t.commit),
                fsync: ms(t.sync),
                rest_of_call: (call - ms(t.total())).max(0.0),
                stored_to_request: to_request,
                stored_to_attempt: to_attempt,
                attempt_to_request: to_request - to_attempt,
            },
        });
    }
    let latency = Parts::summarise(&matched, |v| {
        Latency::of(
            v.into_iter()
                .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
                .collect(),
        )
    });
    let first_call = matched
        .iter()
        .map(|s| s.call_ms)
        .fold(f64::INFINITY, f64::min);
    matched.sort_by(|a, b| b.total.total_cmp(&a.total));
    let slow = &matched[..matched.len().div_ceil(100)];
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    IdleParts {
        matched: matched.len() as u64,
        latency,
        slowest: Slowest {
            sends: slow.len() as u64,
            when: slow
                .iter()
                .map(|s| ((s.call_ms - first_call) / 1000.0, s.total))
                .collect(),
            total_ms: mean(slow.iter().map(|s| s.total).collect()),
            mean_ms: Parts::summarise(slow, mean),
        },
        group_commits: group.len() as u64,
        group_commit_hold: Latency::of(group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(asked: Instant, bulk: bool, ms: [u64; 4]) -> WriteTiming {
        let d = Duration::from_millis;
        WriteTiming {
            asked,
            bulk,
            wait: d(ms[0]),
            body: d(ms[1]),
            commit: d(ms[2]),
            sync: d(ms[3]),
        }
    }

    fn assert_near(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-6, "{got}, expected {want}");
    }

    #[test]
    fn each_send_is_matched_to_the_transaction_asked_during_its_call() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let sends = vec![
            // 10 ms call, its transaction 1+2+1+4 = 8 ms: 2 ms of rest; request 5 ms later.
            IdleCall {
                to: "a".into(),
                call: at(100),
                stored: at(110),
                call_ms: 100.0,
                stored_ms: 110.0,
                stored_wall_ms: 1_110,
            },
            // 40 ms call, mostly waiting for the writer.
            IdleCall {
                to: "b".into(),
                call: at(200),
                stored: at(240),
                call_ms: 200.0,
                stored_ms: 240.0,
                stored_wall_ms: 1_240,
            },
            // No request came: not measured.
            IdleCall {
                to: "c".into(),
                call: at(300),
                stored: at(302),
                call_ms: 300.0,
                stored_ms: 302.0,
                stored_wall_ms: 1_302,
            },
        ];
        let requests = HashMap::from([("a", 115.0), ("b", 243.0)]);
        // b's attempt started 1 ms after it was stored; c's request never came.
        let attempts = HashMap::from([
            ("a".to_owned(), 1_112),
            ("b".to_owned(), 1_241),
            ("c".to_owned(), 1_303),
        ]);
        let timings = vec![
            // A lease renewal before the first call, and a group commit during it.
            timing(at(90), false, [0, 1, 1, 1]),
            timing(at(101), true, [0, 3, 1, 2]),
            timing(at(102), false, [1, 2, 1, 4]),
            timing(at(201), false, [30, 2, 1, 5]),
            timing(at(301), false, [0, 1, 0, 1]),
        ];
        let parts = split(&sends, &requests, &attempts, timings);
        assert_eq!(parts.matched, 2);
        assert_eq!(parts.group_commits, 1);
        assert_near(parts.group_commit_hold.max_ms, 4.0);
        assert_near(parts.latency.writer_wait.max_ms, 30.0);
        assert_near(parts.latency.writer_wait.p50_ms, 1.0);
        assert_near(parts.latency.fsync.max_ms, 5.0);
        assert_near(parts.latency.rest_of_call.p50_ms, 2.0);
        // The slowest 1% of two sends is one: b, 43 ms in all.
        let slow = &parts.slowest;
        assert_eq!(slow.sends, 1);
        assert_eq!(slow.when, vec![(0.1, 43.0)]);
        assert_near(slow.total_ms, 43.0);
        assert_near(slow.mean_ms.writer_wait, 30.0);
        assert_near(slow.mean_ms.rest_of_call, 2.0);
        assert_near(slow.mean_ms.stored_to_request, 3.0);
        assert_near(slow.mean_ms.stored_to_attempt, 1.0);
        assert_near(slow.mean_ms.attempt_to_request, 2.0);
        // a: stored at 110, attempt at 112, arrived at 115.
        assert_near(parts.latency.stored_to_attempt.max_ms, 2.0);
        assert_near(parts.latency.attempt_to_request.max_ms, 3.0);
    }
}
