//! The 24-hour customer-service window (spec/coexistence.md §4, spec/cloud-api.md §3.2).
//!
//! The window is opened **only** by the customer's live inbound message and lasts 24 hours from
//! the last one. A message the business sends — through the API or from the phone app — never
//! opens, extends or affects it, and neither does imported history. So the one input is
//! [`ConversationFacts::last_inbound_at`](super::ConversationFacts), which the store sets from
//! live inbound messages only (`Conversation::last_inbound_at`).
//!
//! Boundary: the window is the half-open interval `[last_inbound, last_inbound + 24 h)`. At
//! exactly 24 hours it is closed. Meta's wording is "more than 24 hours have passed", but a
//! send decided at the last millisecond reaches Meta later still, so closing at the boundary is
//! what avoids a 131047.

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// How long an inbound message keeps the window open, in milliseconds.
pub const SERVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The window's state at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Window {
    /// Free-form messages may be sent until `closes_at` (exclusive).
    Open { closes_at: Timestamp },
    /// Only templates may be sent. `since` is when it closed; `None` if the customer never
    /// wrote to this number since it was onboarded.
    Closed { since: Option<Timestamp> },
}

impl Window {
    /// The window at `now`, given the customer's last live inbound message.
    pub fn at(last_inbound_at: Option<Timestamp>, now: Timestamp) -> Self {
        match last_inbound_at {
            None => Self::Closed { since: None },
            Some(last) => {
                let closes_at = last.plus_millis(SERVICE_WINDOW_MS);
                if now < closes_at {
                    Self::Open { closes_at }
                } else {
                    Self::Closed {
                        since: Some(closes_at),
                    }
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_secs(1_750_000_000);

    #[test]
    fn half_open_24h() {
        let w = |ms| Window::at(Some(T0), T0.plus_millis(ms));
        let closes_at = T0.plus_millis(SERVICE_WINDOW_MS);
        assert_eq!(w(0), Window::Open { closes_at });
        assert_eq!(w(SERVICE_WINDOW_MS - 1), Window::Open { closes_at });
        assert_eq!(
            w(SERVICE_WINDOW_MS),
            Window::Closed {
                since: Some(closes_at)
            }
        );
        assert!(!w(SERVICE_WINDOW_MS + 1).is_open());
        // An inbound timestamp slightly ahead of our clock still opens the window.
        assert!(w(-5_000).is_open());
    }

    #[test]
    fn never_written() {
        assert_eq!(Window::at(None, T0), Window::Closed { since: None });
    }
}
