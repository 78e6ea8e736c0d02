//! Pacing arithmetic the send lanes use: how fast a number may send, how long to back off,
//! and the portfolio's messaging limit (spec/coexistence.md §4, spec/cloud-api.md §5).
//!
//! Everything here is pure and takes time as input, so the lanes (which own the clocks, the
//! rate limiters and the tasks) can be tested with a fake clock.
//!
//! - **Throughput** ([`Throughput`]): Meta counts inbound *and* outbound messages against a
//!   number's cap. A coexistence number has a fixed 20 MPS; we send at most an outbound share
//!   (18 by default) and less while customers and the phone app are busy, so that
//!   inbound + echoes + outbound stays within 20. A Cloud API number has its tier's MPS
//!   (80 by default, up to 1,000), shared the same way. [`RateMeter`] measures the other side.
//! - **Pair rate**: about one message per 6 s to one user, bursts up to 45; after a 131056,
//!   retry after 4^X seconds ([`pair_rate_backoff`]).
//! - **Transient errors**: exponential backoff with caller-supplied jitter
//!   ([`exponential_backoff`]).
//! - **Messaging limit** ([`MessagingLimit`]): unique users reached outside the service window
//!   in a moving 24 h, per business portfolio.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use crate::model::{NumberKind, Timestamp};

/// A coexistence number's fixed throughput, inbound and outbound together.
pub const COEXISTENCE_TOTAL_MPS: u32 = 20;
/// The part of it outbound sends use by default, leaving headroom for inbound and echoes.
pub const DEFAULT_COEXISTENCE_OUTBOUND_MPS: u32 = 18;
/// A Cloud API number's throughput until Meta upgrades it.
pub const CLOUD_API_DEFAULT_MPS: u32 = 80;
/// The highest throughput Meta grants a Cloud API number.
pub const CLOUD_API_MAX_MPS: u32 = 1_000;

/// Meta's sustained pair rate: one message per this interval to the same user.
pub const PAIR_RATE_INTERVAL: Duration = Duration::from_secs(6);
/// The most messages Meta lets through to one user in a burst (borrowed from later quota).
pub const PAIR_RATE_MAX_BURST: u32 = 45;

/// The span of the messaging limit: a moving 24 hours, in milliseconds.
pub const MESSAGING_LIMIT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A number's throughput budget, in messages per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    /// What Meta allows, all traffic together.
    pub total_mps: u32,
    /// The most outbound may use when nothing else is happening.
    pub outbound_cap_mps: u32,
}

impl Throughput {
    /// A coexistence number: 20 MPS total, outbound at most `outbound_share` (clamped to
    /// 1..=20; see [`DEFAULT_COEXISTENCE_OUTBOUND_MPS`]).
    pub fn coexistence(outbound_share: u32) -> Self {
        Self {
            total_mps: COEXISTENCE_TOTAL_MPS,
            outbound_cap_mps: outbound_share.clamp(1, COEXISTENCE_TOTAL_MPS),
        }
    }

    /// A Cloud API number at its tier's MPS as Meta reports it (`None`: the default 80),
    /// clamped to 1..=1,000.
    pub fn cloud_api(tier_mps: Option<u32>) -> Self {
        let total = tier_mps
            .unwrap_or(CLOUD_API_DEFAULT_MPS)
            .clamp(1, CLOUD_API_MAX_MPS);
        Self {
            total_mps: total,
            outbound_cap_mps: total,
        }
    }

    /// The budget of a number of `kind`.
    pub fn for_number(kind: NumberKind, tier_mps: Option<u32>, coexistence_share: u32) -> Self {
        match kind {
            NumberKind::Coexistence => Self::coexistence(coexistence_share),
            NumberKind::CloudApi => Self::cloud_api(tier_mps),
        }
    }

    /// The outbound rate allowed while the rest of the number's traffic (inbound messages and
    /// app echoes) runs at `other_per_sec`: `min(cap, total − other)`. Zero means "hold": the
    /// customers alone fill the number's cap.
    pub fn outbound_mps(&self, other_per_sec: u32) -> u32 {
        self.outbound_cap_mps
            .min(self.total_mps.saturating_sub(other_per_sec))
    }
}

/// Counts events (inbound messages, echoes) per whole second over the last `span` seconds, in
/// fixed memory. Events older than the span are ignored.
#[derive(Debug, Clone)]
pub struct RateMeter {
    /// Ring of `(unix second, count)`; a slot is reused when a newer second maps onto it.
    slots: Vec<(i64, u32)>,
}

impl RateMeter {
    /// A meter over the last `span_secs` seconds (at least 1).
    pub fn new(span_secs: usize) -> Self {
        Self {
            slots: vec![(i64::MIN, 0); span_secs.max(1)],
        }
    }

    fn span(&self) -> i64 {
        i64::try_from(self.slots.len()).unwrap_or(i64::MAX)
    }

    /// Records `n` events that happened at `at`.
    pub fn record(&mut self, at: Timestamp, n: u32) {
        let sec = at.as_secs();
        let idx = usize::try_from(sec.rem_euclid(self.span())).unwrap_or(0);
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.0 < sec {
            *slot = (sec, 0);
        }
        if slot.0 == sec {
            slot.1 = slot.1.saturating_add(n);
        }
    }

    /// The busiest second among the last `span` seconds up to and including `now`'s.
    pub fn peak_per_sec(&self, now: Timestamp) -> u32 {
        let now_sec = now.as_secs();
        self.slots
            .iter()
            .filter(|(sec, _)| *sec <= now_sec && *sec > now_sec - self.span())
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }
}

/// The wait before retry `attempt` (0-based) after a 131056 pair-rate error: 4^attempt
/// seconds (1, 4, 16, 64 …, Meta's own formula), capped at `max`.
pub fn pair_rate_backoff(attempt: u32, max: Duration) -> Duration {
    Duration::from_secs(4u64.saturating_pow(attempt.min(31))).min(max)
}

/// The wait before retry `attempt` (0-based) of a transient error: `base · 2^attempt` capped
/// at `max`, then spread into `[d/2, d)` by `jitter ∈ [0, 1)`, which the caller draws (so this
/// stays deterministic). Out-of-range jitter is clamped; NaN counts as 0. The same schedule
/// as coex-meta's `Backoff::Exponential`.
pub fn exponential_backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let d = base
        .saturating_mul(2u32.saturating_pow(attempt.min(31)))
        .min(max);
    let j = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    d.mul_f64(0.5 + j / 2.0)
}

/// How [`MessagingLimit::admit`] let a send through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The user was already counted in the last 24 h: no new slot used.
    AlreadyCounted,
    /// The user takes a new slot.
    NewRecipient,
    /// The portfolio is unlimited; nothing is tracked.
    Unlimited,
}

/// The messaging limit is used up until `next_free_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("messaging limit of {limit} unique users per 24 h reached; a slot frees at {next_free_at}")]
pub struct LimitReached {
    pub limit: u32,
    pub next_free_at: Timestamp,
}

/// Unique users a business portfolio has sent business-initiated (out-of-window) messages to
/// over a moving 24 h (spec/cloud-api.md §5.4), keyed by whatever identifies a person to the
/// caller (`K`, e.g. a contact id). A user counted at `t` holds a slot until `t + 24 h`, and
/// every later send to them moves that to the later send's time.
///
/// Meta counts *deliveries*; this counts admitted sends, which is conservative. App-sent
/// messages and in-window sends never come here.
#[derive(Debug, Clone)]
pub struct MessagingLimit<K> {
    limit: Option<u32>,
    /// Each counted user's latest business-initiated send.
    last: HashMap<K, Timestamp>,
    /// Sends in time order; entries superseded by a later send to the same user are dropped
    /// when they reach the front.
    log: VecDeque<(Timestamp, K)>,
}

impl<K: Eq + Hash + Clone> MessagingLimit<K> {
    /// `limit`: unique users per 24 h, `None` for unlimited (`MessagingTier::daily_limit`).
    pub fn new(limit: Option<u32>) -> Self {
        Self {
            limit,
            last: HashMap::new(),
            log: VecDeque::new(),
        }
    }

    /// Applies a new tier (Meta raises limits over time). Counted users stay counted, except
    /// that an unlimited portfolio tracks nothing and forgets them.
    pub fn set_limit(&mut self, limit: Option<u32>) {
        self.limit = limit;
        if limit.is_none() {
            self.last.clear();
            self.log.clear();
        }
    }

    /// Forgets users whose 24 h have passed, and stale log entries at the front.
    fn expire(&mut self, now: Timestamp) {
        while let Some((at, key)) = self.log.front() {
            let current = self.last.get(key).copied();
            if current != Some(*at) {
                // Superseded by a later send to the same user.
                self.log.pop_front();
            } else if at.plus_millis(MESSAGING_LIMIT_WINDOW_MS) <= now {
                self.last.remove(key);
                self.log.pop_front();
            } else {
                break;
            }
        }
    }

    /// Users counted in the 24 h up to `now`.
    pub fn count(&mut self, now: Timestamp) -> usize {
        self.expire(now);
        self.last.len()
    }

    /// Counts a business-initiated send to `key` at `now`, or says when a slot frees.
    ///
    /// `now` should not go backwards between calls; an earlier time is treated as the latest
    /// one seen, which only keeps a user counted a little longer.
    pub fn admit(&mut self, key: K, now: Timestamp) -> Result<Admission, LimitReached> {
        let Some(limit) = self.limit else {
            return Ok(Admission::Unlimited);
        };
        self.expire(now);
        let at = self.log.back().map_or(now, |(last, _)| now.max(*last));
        let admission = if self.last.contains_key(&key) {
            Admission::AlreadyCounted
        } else if self.last.len() < usize::try_from(limit).unwrap_or(usize::MAX) {
            Admission::NewRecipient
        } else {
            let next_free_at = self
                .log
                .front()
                .map_or(now, |(t, _)| t.plus_millis(MESSAGING_LIMIT_WINDOW_MS));
            return Err(LimitReached {
                limit,
                next_free_at,
            });
        };
        self.last.insert(key.clone(), at);
        self.log.push_back((at, key));
        Ok(admission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_secs(1_750_000_000);
    const DAY: i64 = MESSAGING_LIMIT_WINDOW_MS;

    #[test]
    fn coexistence_share_yields_to_inbound() {
        let t = Throughput::for_number(
            NumberKind::Coexistence,
            Some(1000),
            DEFAULT_COEXISTENCE_OUTBOUND_MPS,
        );
        assert_eq!(t.total_mps, 20, "the tier does not matter for coexistence");
        assert_eq!(t.outbound_mps(0), 18);
        assert_eq!(t.outbound_mps(2), 18);
        assert_eq!(t.outbound_mps(5), 15);
        assert_eq!(t.outbound_mps(20), 0);
        assert_eq!(t.outbound_mps(35), 0);
        for other in 0..=20 {
            assert!(t.outbound_mps(other) + other <= 20);
        }
        assert_eq!(Throughput::coexistence(25).outbound_cap_mps, 20);
        assert_eq!(Throughput::coexistence(0).outbound_cap_mps, 1);
    }

    #[test]
    fn cloud_api_tiers() {
        assert_eq!(Throughput::cloud_api(None).outbound_mps(0), 80);
        assert_eq!(Throughput::cloud_api(Some(1000)).outbound_mps(100), 900);
        assert_eq!(Throughput::cloud_api(Some(5000)).total_mps, 1000);
        assert_eq!(Throughput::cloud_api(Some(0)).total_mps, 1);
    }

    #[test]
    fn rate_meter_peak_over_span() {
        let mut m = RateMeter::new(3);
        m.record(T0, 4);
        m.record(T0.plus_millis(999), 3);
        m.record(T0.plus_millis(1000), 2);
        assert_eq!(m.peak_per_sec(T0.plus_millis(1500)), 7);
        // T0's second leaves the span 3 s later.
        assert_eq!(m.peak_per_sec(T0.plus_millis(3000)), 2);
        assert_eq!(m.peak_per_sec(T0.plus_millis(10_000)), 0);
        // Reusing a slot for a newer second resets it; an old straggler is ignored.
        m.record(T0.plus_millis(3000), 1);
        m.record(T0, 100);
        assert_eq!(m.peak_per_sec(T0.plus_millis(3000)), 2);
        assert_eq!(m.peak_per_sec(T0.plus_millis(4000)), 1);
    }

    #[test]
    fn pair_rate_is_powers_of_four() {
        let max = Duration::from_secs(600);
        let secs: Vec<u64> = (0..6)
            .map(|x| pair_rate_backoff(x, max).as_secs())
            .collect();
        assert_eq!(secs, vec![1, 4, 16, 64, 256, 600]);
        assert_eq!(pair_rate_backoff(u32::MAX, max), max);
    }

    #[test]
    fn exponential_backoff_with_jitter() {
        let (base, max) = (Duration::from_millis(500), Duration::from_secs(30));
        assert_eq!(
            exponential_backoff(0, base, max, 0.0),
            Duration::from_millis(250)
        );
        assert_eq!(
            exponential_backoff(0, base, max, 1.0),
            Duration::from_millis(500)
        );
        assert_eq!(
            exponential_backoff(2, base, max, 0.5),
            Duration::from_millis(1500)
        );
        assert_eq!(exponential_backoff(20, base, max, 1.0), max);
        assert_eq!(exponential_backoff(40, base, max, f64::NAN), max / 2);
        assert_eq!(
            exponential_backoff(1, base, max, -3.0),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn messaging_limit_rolls_over_24h() {
        let mut l = MessagingLimit::new(Some(2));
        assert_eq!(l.admit("a", T0), Ok(Admission::NewRecipient));
        assert_eq!(
            l.admit("b", T0.plus_millis(1000)),
            Ok(Admission::NewRecipient)
        );
        // A counted user is free to message again; a new one is not.
        assert_eq!(
            l.admit("a", T0.plus_millis(2000)),
            Ok(Admission::AlreadyCounted)
        );
        assert_eq!(
            l.admit("c", T0.plus_millis(3000)),
            Err(LimitReached {
                limit: 2,
                next_free_at: T0.plus_millis(1000 + DAY)
            })
        );
        // "a" was refreshed at +2 s, so "b" (+1 s) is the first to leave.
        assert_eq!(l.count(T0.plus_millis(DAY + 999)), 2);
        assert_eq!(l.count(T0.plus_millis(DAY + 1000)), 1);
        assert_eq!(
            l.admit("c", T0.plus_millis(DAY + 1000)),
            Ok(Admission::NewRecipient)
        );
        assert_eq!(l.count(T0.plus_millis(DAY + 2000)), 1);
        assert_eq!(l.count(T0.plus_millis(2 * DAY + 1000)), 0);
    }

    #[test]
    fn messaging_limit_tier_changes() {
        let mut l = MessagingLimit::new(Some(1));
        assert!(l.admit(1, T0).is_ok());
        assert!(l.admit(2, T0).is_err());
        l.set_limit(Some(2));
        assert_eq!(l.admit(2, T0), Ok(Admission::NewRecipient));
        l.set_limit(None);
        assert_eq!(l.admit(3, T0), Ok(Admission::Unlimited));
        assert_eq!(l.count(T0), 0);
        // Time going backwards keeps the log ordered.
        let mut l = MessagingLimit::new(Some(5));
        l.admit(1, T0.plus_millis(10)).unwrap();
        l.admit(2, T0).unwrap();
        assert_eq!(l.count(T0.plus_millis(DAY + 9)), 2);
        assert_eq!(l.count(T0.plus_millis(DAY + 10)), 0);
    }
}
