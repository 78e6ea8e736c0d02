//! Group claims: a process's lanes claim their sends together.
//!
//! Every lane claims about one second's worth of its number's sends at a time, so 200 busy
//! lanes make 200 claims a second. Each claim is a write transaction, and on a durable store
//! a commit costs an fsync (a few milliseconds here): claimed one by one, the claims alone
//! would fill SQLite's single writer. Lanes hand their claims to a [`ClaimQueue`] instead; its
//! writer gathers whatever lanes asked meanwhile and claims for all of them in one
//! transaction ([`SendStore::claim_sends_many`]), the same group commit ingest uses
//! ([`CommitQueue`]).

use std::sync::Arc;
use std::time::Duration;

use coex_core::PhoneNumberId;
use coex_store::send::{Claim, ClaimRequest, LaneOwner, SendStore};
use coex_store::{SqlStore, StoreError};

use crate::ingest::Clock;
use crate::ingest::commit_queue::{
    BatchSink, CommitError, CommitQueue, CommitQueueConfig, Failed, FlushResult,
};

/// Claims lanes' sends in groups; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct ClaimQueue {
    queue: CommitQueue<ClaimSink>,
}

impl ClaimQueue {
    /// Starts the writer (several on PostgreSQL, whose writers do not serialise).
    pub fn start(store: SqlStore, owner: LaneOwner, clock: Clock) -> Self {
        let writers = match store.backend_name() {
            "postgres" => 2,
            _ => 1,
        };
        let config = CommitQueueConfig {
            // More than any process's lanes: a lane waits for its own claim only.
            capacity: 65_536,
            max_batch: 256,
            // Short: an idle number's first send waits for its claim.
            linger: Duration::from_millis(1),
            writers,
        };
        let sink = Arc::new(ClaimSink {
            store,
            owner,
            clock,
        });
        let (queue, _writers) = CommitQueue::start(sink, config);
        Self { queue }
    }

    /// Claims up to `limit` ready sends of `number` with the next group.
    pub async fn claim(&self, number: &PhoneNumberId, limit: u32) -> Result<Claim, CommitError> {
        self.queue
            .submit(ClaimRequest {
                number: number.clone(),
                limit,
            })
            .await
    }
}

struct ClaimSink {
    store: SqlStore,
    owner: LaneOwner,
    clock: Clock,
}

impl BatchSink for ClaimSink {
    type Item = ClaimRequest;
    type Output = Claim;
    type Error = StoreError;

    async fn flush(&self, items: Vec<ClaimRequest>) -> FlushResult<Self> {
        let now = (self.clock)();
        let started = std::time::Instant::now();
        // The round may take several transactions: the store gives way to interactive ones
        // between pieces (`claim_sends_some`) and answers the lanes it claimed for; the others
        // are asked for again.
        let mut claims: Vec<Option<Claim>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        while !pending.is_empty() {
            let asked: Vec<ClaimRequest> = pending.iter().map(|&i| items[i].clone()).collect();
            match self.store.claim_sends_some(&asked, &self.owner, now).await {
                Ok(answers) => {
                    let mut rest = Vec::new();
                    for (&i, answer) in pending.iter().zip(answers) {
                        match answer {
                            Some(claim) => claims[i] = Some(claim),
                            None => rest.push(i),
                        }
                    }
                    pending = rest;
                }
                // Nothing claimed yet: the queue may commit the lanes again one by one.
                Err(error) if pending.len() == items.len() => {
                    return Err(Failed { error, items });
                }
                Err(error) => {
                    // Some lanes hold their claims already (committed); the rest find nothing
                    // now and claim again at once, on their own.
                    tracing::warn!(%error, lanes = pending.len(), "part of a claim round failed; those lanes claim again");
                    for &i in &pending {
                        claims[i] = Some(Claim {
                            next_ready_at: Some(now),
                            ..Claim::default()
                        });
                    }
                    pending.clear();
                }
            }
        }
        let claims: Vec<Claim> = claims.into_iter().map(Option::unwrap_or_default).collect();
        tracing::debug!(
            lanes = items.len(),
            sends = claims.iter().map(|c| c.sends.len()).sum::<usize>(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "claims committed"
        );
        Ok(claims)
    }

    fn isolate(&self, error: &StoreError) -> bool {
        // Only a lane's own data can fail alone; an unavailable store fails every claim.
        error.is_data_error()
    }
}
