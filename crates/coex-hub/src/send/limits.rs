//! The rate limiters a lane applies before each request, built on `governor`'s GCRA:
//!
//! - [`NumberLimiter`]: the number's outbound rate, at most one request per `1/mps` seconds
//!   (burst 1, so no sliding second ever holds more than `mps` of our requests). Its rate is
//!   replaced when the coexistence share changes (the customers' traffic moved).
//! - [`PairLimiter`]: one request per pair interval (6 s) to the same recipient, with a
//!   configurable burst, keyed by recipient.
//! - [`Backoffs`]: recipients Meta answered 131056 for, held back 4^X seconds (Meta's own
//!   formula), X growing with each consecutive 131056 and reset by a success.
//!
//! Both limiters read [`TokioClock`], tokio's clock: in production it is the monotonic clock,
//! and a test that pauses tokio time (`start_paused`) drives the limiters with the same
//! virtual time as everything else, so pacing is tested without sleeping.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use coex_core::policy::pacing::pair_rate_backoff;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// `governor`'s clock on tokio time.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Instant>>;
type Keyed = RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    TokioClock,
    NoOpMiddleware<Instant>,
>;

/// The number's outbound pace.
pub struct NumberLimiter {
    mps: u32,
    limiter: Option<Direct>,
}

impl std::fmt::Debug for NumberLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberLimiter")
            .field("mps", &self.mps)
            .finish()
    }
}

fn per_second(mps: u32) -> Option<Direct> {
    let period = Duration::from_secs(1).checked_div(mps)?;
    Quota::with_period(period).map(|q| RateLimiter::direct_with_clock(q, TokioClock))
}

impl NumberLimiter {
    /// A limiter at `mps` requests per second (0 holds every request).
    pub fn new(mps: u32) -> Self {
        Self {
            mps,
            limiter: per_second(mps),
        }
    }

    pub fn mps(&self) -> u32 {
        self.mps
    }

    /// Moves to a new rate. The new limiter lets one request through at once, so a change
    /// never bunches requests beyond a single one.
    pub fn set_mps(&mut self, mps: u32) {
        if mps != self.mps {
            *self = Self::new(mps);
        }
    }

    /// Takes a slot now, or says how long until one is free (`None`: the rate is 0).
    pub fn check(&self) -> Result<(), Option<Duration>> {
        match &self.limiter {
            None => Err(None),
            Some(l) => l
                .check()
                .map_err(|not_until| Some(not_until.wait_time_from(TokioClock.now()))),
        }
    }
}

/// The pair rate per recipient.
pub struct PairLimiter {
    limiter: Keyed,
}

impl std::fmt::Debug for PairLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairLimiter")
            .field("recipients", &self.limiter.len())
            .finish()
    }
}

impl PairLimiter {
    /// One request per `interval` to one recipient, `burst` at most at once (at least 1).
    pub fn new(interval: Duration, burst: u32) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::hashmap_with_clock(quota, TokioClock),
        }
    }

    /// Takes the recipient's slot now, or says how long until it is free.
    pub fn check(&self, recipient: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&recipient.to_owned())
            .map_err(|not_until| not_until.wait_time_from(TokioClock.now()))
    }

    /// Forgets recipients whose state no longer limits anything (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }

    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// Recipients held back after 131056.
#[derive(Debug, Default)]
pub struct Backoffs {
    /// Recipient → (consecutive 131056 answers, held back until).
    held: HashMap<String, (u32, tokio::time::Instant)>,
    max: Duration,
}

impl Backoffs {
    pub fn new(max: Duration) -> Self {
        Self {
            held: HashMap::new(),
            max,
        }
    }

    /// Records a 131056 for `recipient`: returns the wait, 4^X seconds.
    pub fn pair_rate_hit(&mut self, recipient: &str, now: tokio::time::Instant) -> Duration {
        let entry = self.held.entry(recipient.to_owned()).or_insert((0, now));
        let wait = pair_rate_backoff(entry.0, self.max);
        *entry = (entry.0.saturating_add(1), now + wait);
        wait
    }

    /// How long the recipient is still held back.
    pub fn remaining(&self, recipient: &str, now: tokio::time::Instant) -> Option<Duration> {
        self.held
            .get(recipient)
            .and_then(|(_, until)| (*until > now).then(|| *until - now))
    }

    /// A request to the recipient succeeded: X starts again at 0.
    pub fn success(&mut self, recipient: &str) {
        self.held.remove(recipient);
    }

    /// Drops entries whose wait is long over (they would restart at X = 0 anyway after a
    /// success; this bounds memory when none comes).
    pub fn forget_older_than(&mut self, now: tokio::time::Instant, idle: Duration) {
        self.held.retain(|_, (_, until)| *until + idle > now);
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn number_limiter_spaces_requests() {
        let l = NumberLimiter::new(4);
        assert!(l.check().is_ok());
        let wait = l.check().unwrap_err().unwrap();
        assert_eq!(wait, Duration::from_millis(250));
        tokio::time::advance(wait).await;
        assert!(l.check().is_ok());
        // In any second, at most 4.
        let mut granted = 0;
        let start = tokio::time::Instant::now();
        while tokio::time::Instant::now() - start < Duration::from_millis(999) {
            match l.check() {
                Ok(()) => granted += 1,
                Err(Some(w)) => tokio::time::advance(w).await,
                Err(None) => unreachable!(),
            }
        }
        assert!(granted <= 4, "{granted}");
        assert_eq!(NumberLimiter::new(0).check(), Err(None));
    }

    #[tokio::test(start_paused = true)]
    async fn pair_limiter_is_per_recipient() {
        let p = PairLimiter::new(Duration::from_secs(6), 1);
        assert!(p.check("a").is_ok());
        assert!(p.check("b").is_ok());
        assert_eq!(p.check("a").unwrap_err(), Duration::from_secs(6));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(p.check("a").is_ok());
        let burst = PairLimiter::new(Duration::from_secs(6), 3);
        for _ in 0..3 {
            assert!(burst.check("c").is_ok());
        }
        assert!(burst.check("c").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn backoffs_grow_by_four() {
        let mut b = Backoffs::new(Duration::from_secs(1024));
        let now = tokio::time::Instant::now();
        let waits: Vec<u64> = (0..4)
            .map(|_| b.pair_rate_hit("a", now).as_secs())
            .collect();
        assert_eq!(waits, vec![1, 4, 16, 64]);
        assert_eq!(b.remaining("a", now), Some(Duration::from_secs(64)));
        assert_eq!(b.remaining("b", now), None);
        b.success("a");
        assert_eq!(b.pair_rate_hit("a", now).as_secs(), 1);
    }
}
