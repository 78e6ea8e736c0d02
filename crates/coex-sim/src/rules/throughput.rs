//! Per-number throughput (spec/cloud-api.md §5.1): messages per second over a sliding
//! one-second window, "inclusive of inbound and outbound messages and all message types".
//!
//! A coexistence number is fixed at 20 MPS whatever its tier; a pure Cloud API number has its
//! tier's MPS (80 by default, up to 1,000). API sends over the limit are refused with 130429;
//! inbound messages and app-sent messages are never refused, but they use up the same budget.

use std::collections::VecDeque;
use std::time::Duration;

use crate::clock::SimTime;

/// MPS of a number in Coexistence, whatever its tier.
pub const COEXISTENCE_MPS: u32 = 20;
/// Default MPS of a pure Cloud API number.
pub const DEFAULT_CLOUD_API_MPS: u32 = 80;

const WINDOW: Duration = Duration::from_secs(1);

/// A sliding one-second window of message instants for one number.
#[derive(Debug, Clone)]
pub struct Throughput {
    mps: u32,
    recent: VecDeque<SimTime>,
}

/// The number's MPS budget for the current second is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputExceeded;

impl Throughput {
    pub fn new(mps: u32) -> Self {
        Self {
            mps,
            recent: VecDeque::new(),
        }
    }

    pub fn mps(&self) -> u32 {
        self.mps
    }

    pub fn set_mps(&mut self, mps: u32) {
        self.mps = mps;
    }

    fn expire(&mut self, now: SimTime) {
        let horizon = now - WINDOW;
        while self.recent.front().is_some_and(|t| *t <= horizon) {
            self.recent.pop_front();
        }
    }

    /// `now`, or the latest instant counted when that is later: sends are judged by their
    /// arrival, and two that arrived a moment apart may reach the world in the other order.
    /// Counting the later one at the earlier one's instant keeps the window sorted, and errs
    /// on the side of a fuller window.
    fn in_order(&self, now: SimTime) -> SimTime {
        self.recent.back().map_or(now, |last| now.max(*last))
    }

    /// An API send: counted if there is room, refused otherwise.
    pub fn try_send(&mut self, now: SimTime) -> Result<(), ThroughputExceeded> {
        let now = self.in_order(now);
        self.expire(now);
        if self.recent.len() >= self.mps as usize {
            return Err(ThroughputExceeded);
        }
        self.recent.push_back(now);
        Ok(())
    }

    /// Traffic that is never refused but shares the budget (inbound, app-sent).
    pub fn record(&mut self, now: SimTime) {
        let now = self.in_order(now);
        self.expire(now);
        self.recent.push_back(now);
    }

    /// Messages counted in the last second.
    pub fn in_last_second(&mut self, now: SimTime) -> usize {
        self.expire(now);
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_per_second_with_inbound_counted() {
        let t0 = SimTime::from_unix_secs(1_000);
        let mut tp = Throughput::new(COEXISTENCE_MPS);
        for _ in 0..5 {
            tp.record(t0); // five inbound messages in the same second
        }
        for i in 0..15 {
            assert_eq!(tp.try_send(t0 + Duration::from_millis(i * 10)), Ok(()));
        }
        assert_eq!(
            tp.try_send(t0 + Duration::from_millis(500)),
            Err(ThroughputExceeded)
        );
        // One second after the first ones they slide out of the window.
        assert_eq!(tp.try_send(t0 + Duration::from_millis(1_001)), Ok(()));
    }

    #[test]
    fn a_send_stamped_before_the_last_one_counted_is_counted_at_its_instant() {
        let t0 = SimTime::from_unix_secs(1_000);
        let mut tp = Throughput::new(2);
        tp.try_send(t0 + Duration::from_millis(900)).unwrap();
        // Arrived earlier, reached the world later: it may not slip out of the window early.
        tp.try_send(t0).unwrap();
        assert_eq!(
            tp.try_send(t0 + Duration::from_millis(1_500)),
            Err(ThroughputExceeded),
            "both still count at 1.5 s"
        );
        assert_eq!(tp.try_send(t0 + Duration::from_millis(1_901)), Ok(()));
    }

    #[test]
    fn cloud_api_number_uses_its_tier_mps() {
        let t0 = SimTime::from_unix_secs(1_000);
        let mut tp = Throughput::new(DEFAULT_CLOUD_API_MPS);
        for _ in 0..80 {
            tp.try_send(t0).unwrap();
        }
        assert!(tp.try_send(t0).is_err());
    }
}
