//! When Meta tries a webhook again (spec/cloud-api.md §7.1): on any non-2xx answer or a
//! failed connection, "with decreasing frequency", "with exponential backoff", "for up to 7
//! days". Meta publishes no intervals; the emulator retries after 10 s, then doubles the wait
//! up to 4 h between attempts, and gives up once the next attempt would fall more than 7 days
//! after the first.

use std::time::Duration;

use crate::clock::SimTime;

/// How long Meta keeps retrying.
pub const HORIZON: Duration = Duration::from_secs(7 * 86_400);
/// The first retry's delay.
pub const FIRST_DELAY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(4 * 3600);

/// The wait after the `failed_attempts`-th failure (1-based).
pub fn delay_after(failed_attempts: u32) -> Duration {
    let exp = failed_attempts.saturating_sub(1).min(20);
    FIRST_DELAY.saturating_mul(1u32 << exp).min(MAX_DELAY)
}

/// When to try again after `failed_attempts` failures, the last at `last_attempt`, for a
/// delivery first attempted at `first_attempt`; `None` once Meta would give up.
pub fn next_attempt(
    first_attempt: SimTime,
    last_attempt: SimTime,
    failed_attempts: u32,
) -> Option<SimTime> {
    let next = last_attempt + delay_after(failed_attempts);
    (next <= first_attempt + HORIZON).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_then_capped_and_stops_after_seven_days() {
        assert_eq!(delay_after(1), Duration::from_secs(10));
        assert_eq!(delay_after(2), Duration::from_secs(20));
        assert_eq!(delay_after(5), Duration::from_secs(160));
        assert_eq!(delay_after(30), MAX_DELAY);
        let t0 = SimTime::from_unix_secs(0);
        let (mut last, mut n, mut count) = (t0, 1, 1);
        while let Some(next) = next_attempt(t0, last, n) {
            assert!(next > last);
            last = next;
            n += 1;
            count += 1;
        }
        assert!(last <= t0 + HORIZON);
        assert!(last + MAX_DELAY > t0 + HORIZON);
        assert!((40..60).contains(&count), "{count} attempts");
    }
}
