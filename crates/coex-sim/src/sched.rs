//! Timers keyed on virtual time: delivery retries, customers' delays, status transitions,
//! history chunks, the 14-day inactivity check, scenario steps.
//!
//! A plain ordered map from (due time, sequence) to a task. It knows nothing of real time: the
//! engine asks for what is due at the clock's "now", so jumping the clock 14 days forward
//! makes 14 days of timers due at once, and they come out in due order (ties in the order they
//! were scheduled).

use std::collections::BTreeMap;

use crate::clock::SimTime;

/// An ordered queue of tasks due at virtual instants.
#[derive(Debug)]
pub struct Scheduler<T> {
    queue: BTreeMap<(SimTime, u64), T>,
    seq: u64,
}

impl<T> Default for Scheduler<T> {
    fn default() -> Self {
        Self {
            queue: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<T> Scheduler<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `task` to run at `at`.
    pub fn schedule(&mut self, at: SimTime, task: T) {
        self.seq += 1;
        self.queue.insert((at, self.seq), task);
    }

    /// The earliest due instant, if any task is queued.
    pub fn next_due(&self) -> Option<SimTime> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// Takes the earliest task if it is due at `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<(SimTime, T)> {
        let first = self.queue.first_key_value().map(|(k, _)| *k)?;
        if first.0 > now {
            return None;
        }
        self.queue.remove(&first).map(|task| (first.0, task))
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The queued tasks in due order (for inspection).
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &T)> {
        self.queue.iter().map(|((at, _), t)| (*at, t))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_in_due_order_and_only_when_due() {
        let t0 = SimTime::from_unix_secs(100);
        let mut s = Scheduler::new();
        s.schedule(t0 + Duration::from_secs(14 * 86_400), "inactivity");
        s.schedule(t0 + Duration::from_secs(2), "delivered");
        s.schedule(t0 + Duration::from_secs(2), "read-after-delivered");
        s.schedule(t0, "sent");
        assert_eq!(s.next_due(), Some(t0));
        assert_eq!(s.pop_due(t0), Some((t0, "sent")));
        assert_eq!(s.pop_due(t0), None);
        // A jump of 14 days makes everything due, in order.
        let later = t0 + Duration::from_secs(14 * 86_400);
        let order: Vec<_> = std::iter::from_fn(|| s.pop_due(later).map(|(_, t)| t)).collect();
        assert_eq!(order, ["delivered", "read-after-delivered", "inactivity"]);
        assert!(s.is_empty());
    }
}
