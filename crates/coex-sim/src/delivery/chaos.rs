//! Chaos mode: what a production Meta does to webhooks now and then (spec/cloud-api.md §7.2,
//! §7.3, spec/coexistence.md §6), on demand and all at once: changes reordered, re-batched into
//! different POSTs, delayed, and POSTs delivered twice. Every change is still delivered at
//! least once (retries are unaffected).

use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Chaos settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Chaos {
    pub enabled: bool,
    /// Chance that a POST is delivered a second time (a Meta retry after a lost 200).
    pub duplicate_probability: f64,
    /// Shuffle the changes of a flush.
    pub reorder: bool,
    /// Split a flush into several POSTs of random sizes.
    pub rebatch: bool,
    /// Delay each POST by up to this many virtual milliseconds.
    pub max_delay_ms: u64,
}

impl Default for Chaos {
    fn default() -> Self {
        Self {
            enabled: false,
            duplicate_probability: 0.3,
            reorder: true,
            rebatch: true,
            max_delay_ms: 30_000,
        }
    }
}

/// How one flush is cut up under chaos: groups of change indexes, each with a delay and
/// whether it is sent twice (and the second copy's delay).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub batches: Vec<PlannedBatch>,
}

/// One POST of a chaos plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedBatch {
    pub changes: Vec<usize>,
    pub delay: Duration,
    pub duplicate_delay: Option<Duration>,
}

impl Chaos {
    /// Plans the POSTs for `n` pending changes.
    pub fn plan<R: Rng>(&self, n: usize, rng: &mut R) -> Plan {
        let mut order: Vec<usize> = (0..n).collect();
        if !self.enabled {
            return Plan {
                batches: vec![PlannedBatch {
                    changes: order,
                    delay: Duration::ZERO,
                    duplicate_delay: None,
                }],
            };
        }
        if self.reorder {
            order.shuffle(rng);
        }
        let mut groups = Vec::new();
        if self.rebatch {
            let mut rest = order.as_slice();
            while !rest.is_empty() {
                let take = rng.gen_range(1..=rest.len());
                groups.push(rest[..take].to_vec());
                rest = &rest[take..];
            }
        } else {
            groups.push(order);
        }
        let delay = |rng: &mut R| Duration::from_millis(rng.gen_range(0..=self.max_delay_ms));
        let batches = groups
            .into_iter()
            .map(|changes| {
                let d = delay(rng);
                let dup = rng
                    .gen_bool(self.duplicate_probability.clamp(0.0, 1.0))
                    .then(|| delay(rng));
                PlannedBatch {
                    changes,
                    delay: d,
                    duplicate_delay: dup,
                }
            })
            .collect();
        Plan { batches }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn off_is_one_batch_in_order() {
        let plan = Chaos::default().plan(3, &mut StdRng::seed_from_u64(1));
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(plan.batches[0].changes, [0, 1, 2]);
    }

    #[test]
    fn on_keeps_every_change_exactly_once_across_batches() {
        let chaos = Chaos {
            enabled: true,
            ..Chaos::default()
        };
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let plan = chaos.plan(20, &mut rng);
            let mut all: Vec<usize> = plan
                .batches
                .iter()
                .flat_map(|b| b.changes.clone())
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..20).collect::<Vec<_>>());
            assert!(
                plan.batches
                    .iter()
                    .all(|b| b.delay <= Duration::from_secs(30))
            );
        }
    }
}
