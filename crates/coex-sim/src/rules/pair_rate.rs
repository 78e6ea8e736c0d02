//! The pair rate (spec/cloud-api.md §5.3): one message every 6 seconds from a business number
//! to the same user; "up to 45 messages in a 6-second burst, but this borrows from your future
//! quota. After a burst, you must wait the equivalent time it would take to send those
//! messages at the normal rate (e.g., a burst of 20 requires a ~2-minute wait)". Over it: 131056.
//!
//! Modelled as a debt clock: `paid_until` is when every message sent so far would have been
//! sent at the normal rate. A send is allowed when the debt is paid (`now >= paid_until`, which
//! starts a new burst) or while the current burst lasts (within 6 s of its start and under 45
//! messages). Each allowed send pushes `paid_until` 6 s further.

use std::time::Duration;

use crate::clock::SimTime;

/// The normal rate: one message per this interval.
pub const INTERVAL: Duration = Duration::from_secs(6);
/// The largest burst.
pub const MAX_BURST: u32 = 45;

/// Pair-rate state for one (business number, customer) pair.
#[derive(Debug, Clone, Default)]
pub struct PairRate {
    paid_until: Option<SimTime>,
    burst_start: Option<SimTime>,
    burst_count: u32,
}

/// Too many messages to this customer; retry after `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairRateExceeded {
    pub retry_at: SimTime,
}

impl PairRate {
    pub fn new() -> Self {
        Self::default()
    }

    /// One API send to the customer at `now`.
    pub fn try_send(&mut self, now: SimTime) -> Result<(), PairRateExceeded> {
        let paid = self.paid_until.is_none_or(|p| now >= p);
        if paid {
            self.burst_start = Some(now);
            self.burst_count = 0;
        } else {
            let in_burst = self
                .burst_start
                .is_some_and(|start| now < start + INTERVAL && self.burst_count < MAX_BURST);
            if !in_burst {
                return Err(PairRateExceeded {
                    retry_at: self.paid_until.unwrap_or(now),
                });
            }
        }
        self.burst_count += 1;
        let base = match self.paid_until {
            Some(p) if p > now => p,
            _ => now,
        };
        self.paid_until = Some(base + INTERVAL);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t0: SimTime, s: u64) -> SimTime {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn steady_one_per_six_seconds_is_fine() {
        let t0 = SimTime::from_unix_secs(0);
        let mut p = PairRate::new();
        for i in 0..100 {
            p.try_send(secs(t0, i * 6)).unwrap();
        }
    }

    #[test]
    fn a_burst_of_45_then_refused_then_borrowed_time_repaid() {
        let t0 = SimTime::from_unix_secs(0);
        let mut p = PairRate::new();
        for i in 0..45 {
            p.try_send(t0 + Duration::from_millis(i * 100)).unwrap();
        }
        // The 46th inside the burst is refused.
        let err = p.try_send(secs(t0, 5)).unwrap_err();
        assert_eq!(err.retry_at, secs(t0, 45 * 6));
        // Still refused well after the burst: the 45 messages borrowed 270 s.
        assert!(p.try_send(secs(t0, 200)).is_err());
        assert!(p.try_send(secs(t0, 270)).is_ok());
    }

    #[test]
    fn a_burst_of_20_needs_about_two_minutes() {
        let t0 = SimTime::from_unix_secs(0);
        let mut p = PairRate::new();
        for _ in 0..20 {
            p.try_send(t0).unwrap();
        }
        assert!(p.try_send(secs(t0, 7)).is_err());
        assert!(p.try_send(secs(t0, 119)).is_err());
        assert!(p.try_send(secs(t0, 120)).is_ok());
    }
}
