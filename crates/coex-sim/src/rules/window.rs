//! The customer-service window (spec/cloud-api.md §3.2): 24 hours from the customer's last
//! inbound message. It is opened **only** by a customer's message received while the number is
//! onboarded; an echo (a message the business sent from the phone app) never opens or extends
//! it, and neither does a message received before onboarding.
//!
//! Outside the window only templates may be sent; Meta accepts a free-form send and then
//! reports 131047 in a `failed` status webhook, which is what the emulator does.

use std::time::Duration;

use crate::clock::SimTime;

/// How long a customer's message keeps the window open.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The window state of one (business number, customer) pair.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceWindow {
    last_inbound: Option<SimTime>,
}

impl ServiceWindow {
    /// A customer's inbound message at `at`; ignored if it came before `onboarded_at`.
    pub fn customer_message(&mut self, at: SimTime, onboarded_at: SimTime) {
        if at >= onboarded_at && self.last_inbound.is_none_or(|t| at > t) {
            self.last_inbound = Some(at);
        }
    }

    /// Whether a free-form message may be sent at `now`.
    pub fn is_open(&self, now: SimTime) -> bool {
        self.last_inbound.is_some_and(|t| now < t + WINDOW)
    }

    /// When the window closes, if it is open.
    pub fn closes_at(&self, now: SimTime) -> Option<SimTime> {
        self.last_inbound.map(|t| t + WINDOW).filter(|c| *c > now)
    }

    pub fn last_inbound(&self) -> Option<SimTime> {
        self.last_inbound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opened_by_inbound_only_after_onboarding_and_for_24_hours() {
        let onboarded = SimTime::from_unix_secs(10_000);
        let mut w = ServiceWindow::default();
        assert!(!w.is_open(onboarded));
        // A message just before onboarding opens nothing.
        w.customer_message(onboarded - Duration::from_secs(60), onboarded);
        assert!(!w.is_open(onboarded));
        w.customer_message(onboarded + Duration::from_secs(60), onboarded);
        let t = onboarded + Duration::from_secs(60);
        assert!(w.is_open(t + Duration::from_secs(23 * 3600)));
        assert!(!w.is_open(t + WINDOW));
        assert_eq!(w.closes_at(t), Some(t + WINDOW));
    }
}
