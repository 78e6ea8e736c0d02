//! What the control API can list about the Graph side: every request the emulator received
//! (with its response), and faults injected for upcoming sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use coex_core::PhoneNumberId;

use crate::clock::SimTime;

/// One Graph API request and the emulator's answer.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub id: u64,
    /// Virtual time it arrived.
    pub at: SimTime,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Request headers; `authorization` is reduced to whether it matched.
    pub headers: BTreeMap<String, String>,
    /// The body as text (binary uploads are summarised).
    pub body: String,
    pub status: u16,
    pub response: String,
}

/// How an injected fault is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultDelivery {
    /// The send is refused with the Graph error envelope.
    Sync,
    /// The send is accepted, then a `failed` status carries the error.
    Async,
}

/// "The next `remaining` sends (to `number`, or any number) fail with `code`."
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub number: Option<PhoneNumberId>,
    pub code: u32,
    pub remaining: u32,
    /// Defaults by code: errors Meta reports in status webhooks (131047, 131026, 131049,
    /// 131050, 130472) are async, the rest sync.
    #[serde(default)]
    pub delivery: Option<FaultDelivery>,
}

impl Fault {
    /// How this fault is reported.
    pub fn delivery(&self) -> FaultDelivery {
        self.delivery.unwrap_or(match self.code {
            131047 | 131026 | 131049 | 131050 | 130472 => FaultDelivery::Async,
            _ => FaultDelivery::Sync,
        })
    }
}

/// An append-only log numbered from 1 that keeps at most `cap` entries, dropping the oldest
/// ones that `droppable` allows (a pending delivery is never dropped). Long runs (benchmarks)
/// keep bounded memory; ids stay stable.
#[derive(Debug)]
pub struct BoundedLog<T> {
    items: std::collections::VecDeque<T>,
    /// Id of `items[0]`.
    first_id: u64,
    cap: usize,
}

impl<T> BoundedLog<T> {
    pub fn new(cap: usize) -> Self {
        Self {
            items: std::collections::VecDeque::new(),
            first_id: 1,
            cap: cap.max(1),
        }
    }

    /// The id the next pushed entry gets.
    pub fn next_id(&self) -> u64 {
        self.first_id + u64::try_from(self.items.len()).unwrap_or(u64::MAX)
    }

    /// Appends, then trims from the front while over capacity and the oldest may go.
    pub fn push(&mut self, item: T, droppable: impl Fn(&T) -> bool) -> u64 {
        let id = self.next_id();
        self.items.push_back(item);
        while self.items.len() > self.cap && self.items.front().is_some_and(&droppable) {
            self.items.pop_front();
            self.first_id += 1;
        }
        id
    }

    fn index(&self, id: u64) -> Option<usize> {
        usize::try_from(id.checked_sub(self.first_id)?).ok()
    }

    pub fn get(&self, id: u64) -> Option<&T> {
        self.items.get(self.index(id)?)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let i = self.index(id)?;
        self.items.get_mut(i)
    }

    /// Entries still kept, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Entries kept with an id greater than `id`, oldest first: a reader that polls for what
    /// is new skips what it has seen without looking at it.
    pub fn after(&self, id: u64) -> impl Iterator<Item = &T> {
        let skip = usize::try_from(id.saturating_add(1).saturating_sub(self.first_id))
            .unwrap_or(usize::MAX)
            .min(self.items.len());
        self.items.range(skip..)
    }

    /// Entries still kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_skips_to_the_first_newer_id() {
        let mut log = BoundedLog::new(3);
        for v in 1..=5u64 {
            assert_eq!(log.push(v, |_| true), v);
        }
        // Ids 3..=5 are kept.
        let after = |id| log.after(id).copied().collect::<Vec<_>>();
        assert_eq!(after(0), vec![3, 4, 5]);
        assert_eq!(after(3), vec![4, 5]);
        assert_eq!(after(5), Vec::<u64>::new());
        assert_eq!(after(u64::MAX), Vec::<u64>::new());
    }

    #[test]
    fn keeps_ids_stable_and_the_undroppable() {
        let mut log = BoundedLog::new(2);
        for n in 1..=3u32 {
            log.push(n, |_| true);
        }
        assert_eq!(log.len(), 2);
        assert!(log.get(1).is_none());
        assert_eq!(log.get(3), Some(&3));
        // An entry that may not be dropped holds the front.
        let mut log = BoundedLog::new(1);
        log.push(10u32, |n| *n != 10);
        log.push(11, |n| *n != 10);
        assert_eq!(log.len(), 2);
        assert_eq!(log.get(1), Some(&10));
    }
}
