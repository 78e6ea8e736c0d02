//! The emulator's virtual clock: every timestamp, window, limit and timer in the sim reads it.
//!
//! Virtual time = the start instant + real time elapsed × speed + every jump made with
//! [`SimClock::advance`]. A speed of 0 freezes the clock between jumps, which is what tests use:
//! nothing happens unless the test says so, and a jump of 14 days fires what is due in order
//! (the [`crate::engine`] drains the scheduler up to the new "now").
//!
//! Real time comes from a [`RealTime`] source so unit tests can drive it by hand instead of
//! sleeping.

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// An instant of virtual time: milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(i64);

impl SimTime {
    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// The wall-clock instant now (used only to pick a default start).
    pub fn wall_now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(ms)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole Unix seconds, as Meta's `timestamp` fields carry them.
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Meta's string form of a timestamp (`"1749416383"`).
    pub fn unix_secs_string(self) -> String {
        self.unix_secs().to_string()
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_add(millis(d)))
    }
}

impl Sub<Duration> for SimTime {
    type Output = SimTime;
    fn sub(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_sub(millis(d)))
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SimTime({}.{:03})",
            self.unix_secs(),
            self.0.rem_euclid(1000)
        )
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.unix_secs(), self.0.rem_euclid(1000))
    }
}

/// A monotonic source of real elapsed time.
pub trait RealTime: Send + Sync + fmt::Debug {
    /// Real time elapsed since the source was created.
    fn elapsed(&self) -> Duration;
}

/// Real time from the OS monotonic clock.
#[derive(Debug)]
pub struct SystemRealTime(Instant);

impl SystemRealTime {
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Default for SystemRealTime {
    fn default() -> Self {
        Self::new()
    }
}

impl RealTime for SystemRealTime {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Real time from tokio's clock, so a test that pauses tokio time (`start_paused`) moves the
/// emulator's clock together with everything else it runs: timers, pacing, timeouts.
#[derive(Debug)]
pub struct TokioRealTime(tokio::time::Instant);

impl TokioRealTime {
    pub fn new() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl Default for TokioRealTime {
    fn default() -> Self {
        Self::new()
    }
}

impl RealTime for TokioRealTime {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Real time moved by hand, for tests.
#[derive(Debug, Default)]
pub struct ManualRealTime {
    // Why a Mutex: tests move it from one task while the clock reads it from another.
    now: Mutex<Duration>,
}

impl ManualRealTime {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pretends `d` of real time has passed.
    pub fn pass(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += d;
    }
}

impl RealTime for ManualRealTime {
    fn elapsed(&self) -> Duration {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    virtual_at: SimTime,
    real_at: Duration,
    speed: f64,
}

impl Anchor {
    fn now(&self, real: Duration) -> SimTime {
        let real_passed = real.saturating_sub(self.real_at);
        self.virtual_at + real_passed.mul_f64(self.speed)
    }
}

struct ClockInner {
    real: Arc<dyn RealTime>,
    // Why a std Mutex: reads are a few arithmetic operations, never held across an await, and
    // `now()` must be callable from sync code (rules, payload builders).
    anchor: Mutex<Anchor>,
    // Why a Notify: the scheduler sleeps until the next timer is due in real time; a jump or a
    // speed change moves that moment, so it must be woken to recompute.
    changed: Notify,
}

/// The shared virtual clock. Cloning shares the same clock.
#[derive(Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

impl fmt::Debug for SimClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimClock")
            .field("now", &self.now())
            .field("speed", &self.speed())
            .finish()
    }
}

/// Refused clock settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClockError {
    #[error("speed must be a finite number >= 0, got {0}")]
    BadSpeed(f64),
}

fn check_speed(speed: f64) -> Result<f64, ClockError> {
    if speed.is_finite() && speed >= 0.0 {
        Ok(speed)
    } else {
        Err(ClockError::BadSpeed(speed))
    }
}

impl SimClock {
    /// A clock reading `start` now and running at `speed` × real time on the OS clock.
    pub fn new(start: SimTime, speed: f64) -> Result<Self, ClockError> {
        Self::with_real_time(start, speed, Arc::new(SystemRealTime::new()))
    }

    /// A clock on a given real-time source (tests pass a [`ManualRealTime`]).
    pub fn with_real_time(
        start: SimTime,
        speed: f64,
        real: Arc<dyn RealTime>,
    ) -> Result<Self, ClockError> {
        let speed = check_speed(speed)?;
        let anchor = Anchor {
            virtual_at: start,
            real_at: real.elapsed(),
            speed,
        };
        Ok(Self {
            inner: Arc::new(ClockInner {
                real,
                anchor: Mutex::new(anchor),
                changed: Notify::new(),
            }),
        })
    }

    fn anchor(&self) -> std::sync::MutexGuard<'_, Anchor> {
        self.inner
            .anchor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Virtual now.
    pub fn now(&self) -> SimTime {
        let real = self.inner.real.elapsed();
        self.anchor().now(real)
    }

    /// Virtual seconds per real second.
    pub fn speed(&self) -> f64 {
        self.anchor().speed
    }

    /// Jumps virtual time forward by `d`; returns the new now.
    pub fn advance(&self, d: Duration) -> SimTime {
        let now = {
            let real = self.inner.real.elapsed();
            let mut anchor = self.anchor();
            let now = anchor.now(real) + d;
            *anchor = Anchor {
                virtual_at: now,
                real_at: real,
                speed: anchor.speed,
            };
            now
        };
        self.inner.changed.notify_one();
        now
    }

    /// Changes the speed from now on (time already passed is kept).
    pub fn set_speed(&self, speed: f64) -> Result<(), ClockError> {
        let speed = check_speed(speed)?;
        {
            let real = self.inner.real.elapsed();
            let mut anchor = self.anchor();
            *anchor = Anchor {
                virtual_at: anchor.now(real),
                real_at: real,
                speed,
            };
        }
        self.inner.changed.notify_one();
        Ok(())
    }

    /// How much real time must pass before virtual time reaches `at`: zero if it already has,
    /// `None` if it never will on its own (speed 0).
    pub fn real_wait_until(&self, at: SimTime) -> Option<Duration> {
        let real = self.inner.real.elapsed();
        let anchor = *self.anchor();
        let now = anchor.now(real);
        if at <= now {
            return Some(Duration::ZERO);
        }
        if anchor.speed == 0.0 {
            return None;
        }
        Some(at.since(now).div_f64(anchor.speed))
    }

    /// Resolves after the next jump or speed change.
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }
}

/// Parses a human duration: `"90s"`, `"15m"`, `"2h"`, `"14d"`, `"1h30m"`, `"500ms"` or plain
/// seconds (`"30"`).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError(input.to_owned()));
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError(input.to_owned()));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError(input.to_owned()))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            _ => return Err(DurationError(input.to_owned())),
        };
        total += part;
    }
    Ok(total)
}

/// A duration string that [`parse_duration`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration (use e.g. 30s, 15m, 2h, 14d, 1h30m, 500ms)")]
pub struct DurationError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn manual(speed: f64) -> (SimClock, Arc<ManualRealTime>) {
        let real = Arc::new(ManualRealTime::new());
        let clock =
            SimClock::with_real_time(SimTime::from_unix_secs(1_000), speed, real.clone()).unwrap();
        (clock, real)
    }

    #[test]
    fn runs_at_speed_and_jumps() {
        let (clock, real) = manual(10.0);
        assert_eq!(clock.now(), SimTime::from_unix_secs(1_000));
        real.pass(Duration::from_secs(2));
        assert_eq!(clock.now(), SimTime::from_unix_secs(1_020));
        let after = clock.advance(Duration::from_secs(14 * 86_400));
        assert_eq!(after, SimTime::from_unix_secs(1_020 + 14 * 86_400));
        real.pass(Duration::from_millis(500));
        assert_eq!(clock.now(), after + Duration::from_secs(5));
    }

    #[test]
    fn speed_zero_freezes_and_speed_change_keeps_the_past() {
        let (clock, real) = manual(0.0);
        real.pass(Duration::from_secs(100));
        assert_eq!(clock.now(), SimTime::from_unix_secs(1_000));
        assert_eq!(clock.real_wait_until(SimTime::from_unix_secs(1_001)), None);
        clock.set_speed(2.0).unwrap();
        real.pass(Duration::from_secs(3));
        assert_eq!(clock.now(), SimTime::from_unix_secs(1_006));
        assert_eq!(
            clock.real_wait_until(SimTime::from_unix_secs(1_010)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            clock.real_wait_until(SimTime::from_unix_secs(1_000)),
            Some(Duration::ZERO)
        );
        assert!(clock.set_speed(-1.0).is_err());
        assert!(clock.set_speed(f64::NAN).is_err());
    }

    #[tokio::test]
    async fn a_jump_wakes_a_waiter() {
        let (clock, _real) = manual(0.0);
        let c = clock.clone();
        let waiter = tokio::spawn(async move { c.changed().await });
        clock.advance(Duration::from_secs(1));
        waiter.await.unwrap();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_duration("14d").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn timestamps() {
        let t = SimTime::from_unix_millis(1_749_416_383_999);
        assert_eq!(t.unix_secs_string(), "1749416383");
        assert_eq!(t.since(t + Duration::from_secs(1)), Duration::ZERO);
    }
}
