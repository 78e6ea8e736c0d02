//! What `coex bench send` counts from the emulator's request log, as it streams in: per
//! number, requests and accepted sends in the measured window, error answers, and the most
//! requests in any sliding second, computed as the emulator's own throughput rule counts them
//! (the requests in `(t - 1 s, t]`, at the emulator's arrival time `t`).
//!
//! Log entries are appended when a request is answered, so arrival times come slightly out of
//! order. Each number's entries wait in a small buffer and are counted in arrival order once
//! they are older than a watermark a few seconds behind the newest arrival; memory stays
//! bounded however long the run.

use std::collections::VecDeque;

use serde::Serialize;

use super::send_sim::SendRequest;

/// Meta's throughput error.
pub const THROUGHPUT: i64 = 130_429;
/// Meta's pair-rate error.
pub const PAIR_RATE: i64 = 131_056;

/// How far behind the newest arrival an entry is counted (a request taking longer than this
/// to answer is counted as `late`).
const REORDER_MS: i64 = 3_000;
const SECOND_MS: i64 = 1_000;

/// One number's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NumberCounts {
    /// Requests over the whole run (warm-up included).
    pub requests: u64,
    pub accepted: u64,
    pub throughput_errors: u64,
    pub pair_rate_errors: u64,
    pub other_errors: u64,
    /// Requests and accepted sends that arrived in the measured window.
    pub window_requests: u64,
    pub window_accepted: u64,
    /// Most requests (any answer) in one sliding second, and most accepted ones.
    pub max_requests_1s: usize,
    pub max_accepted_1s: usize,
    /// Entries that came in after their second had been counted.
    pub late: u64,
}

#[derive(Debug, Default)]
struct Track {
    counts: NumberCounts,
    pending: Vec<(i64, bool)>,
    all: VecDeque<i64>,
    ok: VecDeque<i64>,
    counted_up_to: i64,
}

impl Track {
    fn count(&mut self, at: i64, accepted: bool) {
        if at < self.counted_up_to {
            self.counts.late += 1;
            return;
        }
        self.counted_up_to = at;
        slide(&mut self.all, at, &mut self.counts.max_requests_1s);
        if accepted {
            slide(&mut self.ok, at, &mut self.counts.max_accepted_1s);
        }
    }

    fn flush(&mut self, watermark: i64) {
        self.pending.sort_unstable();
        let ready = self.pending.partition_point(|(at, _)| *at <= watermark);
        let drained: Vec<(i64, bool)> = self.pending.drain(..ready).collect();
        for (at, ok) in drained {
            self.count(at, ok);
        }
    }
}

fn slide(window: &mut VecDeque<i64>, at: i64, max: &mut usize) {
    window.push_back(at);
    while window.front().is_some_and(|t| *t <= at - SECOND_MS) {
        window.pop_front();
    }
    *max = (*max).max(window.len());
}

/// The counts of every number, fed page by page.
#[derive(Debug)]
pub struct Tracker {
    tracks: Vec<Track>,
    /// The measured window, emulator time `[from, to)`.
    window: (i64, i64),
    newest: i64,
    /// Start of the run (emulator time) and accepted sends of all numbers per second since.
    start: i64,
    per_second: Vec<u32>,
}

/// What the tracker counted.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    pub counts: Vec<NumberCounts>,
    /// Accepted sends of all numbers in each second from the start of the run.
    pub accepted_per_second: Vec<u32>,
}

impl Tracker {
    pub fn new(numbers: usize, window: (i64, i64), start: i64) -> Self {
        Self {
            tracks: (0..numbers).map(|_| Track::default()).collect(),
            window,
            newest: i64::MIN,
            start,
            per_second: Vec::new(),
        }
    }

    /// Adds requests (of any order) and counts what is older than the watermark.
    pub fn add(&mut self, requests: &[SendRequest]) {
        for r in requests {
            let Some(t) = self.tracks.get_mut(r.number) else {
                continue;
            };
            let accepted = r.status == 200;
            let c = &mut t.counts;
            c.requests += 1;
            match r.code {
                _ if accepted => c.accepted += 1,
                Some(THROUGHPUT) => c.throughput_errors += 1,
                Some(PAIR_RATE) => c.pair_rate_errors += 1,
                _ => c.other_errors += 1,
            }
            if (self.window.0..self.window.1).contains(&r.at) {
                c.window_requests += 1;
                if accepted {
                    c.window_accepted += 1;
                }
            }
            t.pending.push((r.at, accepted));
            self.newest = self.newest.max(r.at);
            if accepted && let Ok(sec) = usize::try_from((r.at - self.start).div_euclid(SECOND_MS))
            {
                if self.per_second.len() <= sec {
                    self.per_second.resize(sec + 1, 0);
                }
                self.per_second[sec] += 1;
            }
        }
        let watermark = self.newest.saturating_sub(REORDER_MS);
        for t in &mut self.tracks {
            t.flush(watermark);
        }
    }

    /// Counts everything still buffered.
    pub fn finish(mut self) -> Tracked {
        for t in &mut self.tracks {
            t.flush(i64::MAX);
        }
        Tracked {
            counts: self.tracks.into_iter().map(|t| t.counts).collect(),
            accepted_per_second: self.per_second,
        }
    }
}

/// Min, median, mean and max of a set of rates, and how far they spread around the mean.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    pub max: f64,
    /// The largest distance from the mean, in percent of the mean (the "within ±X%" figure).
    pub spread_pct: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let mean = v.iter().sum::<f64>() / n as f64;
        let far = v.iter().map(|x| (x - mean).abs()).fold(0.0_f64, f64::max);
        Self {
            min: v[0],
            median,
            mean,
            max: v[n - 1],
            spread_pct: if mean > 0.0 { 100.0 * far / mean } else { 0.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(number: usize, at: i64, status: u16, code: Option<i64>) -> SendRequest {
        SendRequest {
            id: 0,
            at,
            number,
            status,
            code,
            to: None,
        }
    }

    #[test]
    fn sliding_second_is_the_emulators() {
        // 20 requests 50 ms apart span 950 ms: all in one second. The 21st at +1000 ms
        // pushes the first out ((t - 1 s, t]), so the count stays 20.
        let mut t = Tracker::new(1, (0, 10_000), 0);
        let reqs: Vec<SendRequest> = (0..21).map(|i| req(0, i * 50, 200, None)).collect();
        t.add(&reqs);
        let tracked = t.finish();
        assert_eq!(tracked.accepted_per_second, vec![20, 1]);
        let c = &tracked.counts[0];
        assert_eq!(c.max_requests_1s, 20);
        assert_eq!(c.accepted, 21);
        assert_eq!(c.window_accepted, 21);
    }

    #[test]
    fn out_of_order_pages_and_errors_are_counted() {
        let mut t = Tracker::new(2, (1_000, 2_000), 0);
        t.add(&[
            req(0, 1_500, 200, None),
            req(0, 1_200, 400, Some(THROUGHPUT)),
            req(1, 900, 400, Some(PAIR_RATE)),
        ]);
        // Arrives in a later page but is older than what was seen: still within the reorder
        // buffer, so counted in order.
        t.add(&[req(0, 1_100, 200, None), req(0, 5_000, 200, None)]);
        // Older than the watermark that has passed: late.
        t.add(&[req(0, 10_000, 200, None), req(0, 1_050, 200, None)]);
        let c = t.finish().counts;
        assert_eq!(c[0].throughput_errors, 1);
        assert_eq!(c[1].pair_rate_errors, 1);
        assert_eq!(c[0].window_requests, 4);
        assert_eq!(c[0].window_accepted, 3);
        assert_eq!(c[0].max_requests_1s, 3);
        assert_eq!(c[0].late, 1);
        assert_eq!(c[1].window_requests, 0);
    }

    #[test]
    fn spread_around_the_mean() {
        let s = Spread::of(&[17.0, 18.0, 19.0, 18.0]);
        assert_eq!(s.median, 18.0);
        assert_eq!(s.mean, 18.0);
        assert!((s.spread_pct - 100.0 / 18.0).abs() < 1e-9);
        assert_eq!(Spread::of(&[]).spread_pct, 0.0);
    }
}
