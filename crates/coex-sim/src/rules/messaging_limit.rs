//! Messaging limits (spec/cloud-api.md §5.4): the number of unique customers a business
//! portfolio may deliver to **outside** a customer-service window within a moving 24 hours,
//! shared by every number of the portfolio. Messages inside a window and app-sent messages do
//! not count.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::SimTime;

const ROLLING: Duration = Duration::from_secs(24 * 3600);

/// A portfolio's messaging tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    #[serde(rename = "TIER_250")]
    T250,
    #[serde(rename = "TIER_2K")]
    T2K,
    #[serde(rename = "TIER_10K")]
    T10K,
    #[serde(rename = "TIER_100K")]
    T100K,
    #[serde(rename = "TIER_UNLIMITED")]
    Unlimited,
}

impl Tier {
    /// Unique customers per rolling 24 h, `None` for unlimited.
    pub fn limit(self) -> Option<usize> {
        match self {
            Self::T250 => Some(250),
            Self::T2K => Some(2_000),
            Self::T10K => Some(10_000),
            Self::T100K => Some(100_000),
            Self::Unlimited => None,
        }
    }

    /// The value of `whatsapp_business_manager_messaging_limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::T250 => "TIER_250",
            Self::T2K => "TIER_2K",
            Self::T10K => "TIER_10K",
            Self::T100K => "TIER_100K",
            Self::Unlimited => "TIER_UNLIMITED",
        }
    }
}

/// Unique customers reached outside the window in the last 24 h, per portfolio.
#[derive(Debug, Clone)]
pub struct MessagingLimit<K> {
    tier: Tier,
    reached: HashMap<K, SimTime>,
}

/// The portfolio reached its limit; this customer was not among the ones already reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitReached(pub Tier);

impl<K: Hash + Eq + Clone> MessagingLimit<K> {
    pub fn new(tier: Tier) -> Self {
        Self {
            tier,
            reached: HashMap::new(),
        }
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    pub fn set_tier(&mut self, tier: Tier) {
        self.tier = tier;
    }

    /// A business-initiated delivery (outside the window) to `customer` at `now`.
    pub fn try_reach(&mut self, customer: &K, now: SimTime) -> Result<(), LimitReached> {
        self.reached.retain(|_, at| now < *at + ROLLING);
        if let Some(at) = self.reached.get_mut(customer) {
            *at = now;
            return Ok(());
        }
        if self
            .tier
            .limit()
            .is_some_and(|limit| self.reached.len() >= limit)
        {
            return Err(LimitReached(self.tier));
        }
        self.reached.insert(customer.clone(), now);
        Ok(())
    }

    /// Unique customers counted at `now`.
    pub fn used(&self, now: SimTime) -> usize {
        self.reached
            .values()
            .filter(|at| now < **at + ROLLING)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_customers_per_rolling_day() {
        let t0 = SimTime::from_unix_secs(0);
        let mut m = MessagingLimit::new(Tier::T250);
        for c in 0..250u32 {
            m.try_reach(&c, t0).unwrap();
        }
        // The same customers again are fine, a new one is not.
        m.try_reach(&7, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(m.try_reach(&999, t0), Err(LimitReached(Tier::T250)));
        // A day later the earlier ones have rolled out (except 7, reached again later).
        let later = t0 + ROLLING;
        m.try_reach(&999, later).unwrap();
        assert_eq!(m.used(later), 2);
        let mut unlimited = MessagingLimit::new(Tier::Unlimited);
        for c in 0..5_000u32 {
            unlimited.try_reach(&c, t0).unwrap();
        }
    }
}
