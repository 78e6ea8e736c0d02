//! Webhook delivery as Meta does it (spec/cloud-api.md §1.3, §7): pending changes are batched
//! into POSTs per callback URL, each body written as Meta writes it and signed with
//! `X-Hub-Signature-256` over those exact bytes; attempts run concurrently; any non-2xx answer
//! or connection failure is retried with exponential backoff for up to 7 days of virtual time;
//! every attempt is recorded. Chaos mode reorders, re-batches, delays and duplicates.

pub mod chaos;
pub mod encode;
pub mod outbox;
pub mod retry;

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::clock::SimTime;
use crate::world::{AttemptJob, Task, World};

use self::outbox::{MAX_CHANGES_PER_POST, OutChange, envelope};

/// The state of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Retried for 7 days without success.
    GaveUp,
    /// No callback URL is configured: recorded, never sent.
    NoCallbackUrl,
}

/// One attempt's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    /// 1-based attempt number.
    pub n: u32,
    /// Virtual time of the attempt.
    pub at: SimTime,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Connection or timeout error, if no answer came.
    pub error: Option<String>,
    /// The start of the answer body (at most 512 bytes).
    pub response_body: Option<String>,
}

/// A change inside a delivery, for listing.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRef {
    pub seq: u64,
    pub field: String,
    pub summary: String,
}

/// One webhook POST, with every attempt made.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: u64,
    pub url: Option<String>,
    /// The exact body bytes (ASCII, Meta-escaped).
    pub body: String,
    /// The `X-Hub-Signature-256` header value.
    pub signature: String,
    pub created_at: SimTime,
    /// When the first attempt was (or is) due.
    pub first_due: SimTime,
    pub changes: Vec<ChangeRef>,
    pub attempts: Vec<AttemptRecord>,
    pub state: DeliveryState,
    /// Set on a chaos duplicate: the delivery it copies.
    pub duplicate_of: Option<u64>,
}

/// What an HTTP attempt produced.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

impl AttemptOutcome {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl World {
    /// Where a change goes: account-level fields to the app's URL; others to the number's
    /// override, then the WABA's, then the app's URL.
    fn target_url(&self, change: &OutChange) -> Option<String> {
        if !change.is_account_level() {
            if let Some(url) = change
                .number
                .as_ref()
                .and_then(|n| self.numbers.get(n))
                .and_then(|n| n.override_url.clone())
            {
                return Some(url);
            }
            if let Some(url) = self
                .wabas
                .get(&change.waba)
                .and_then(|w| w.override_url.clone())
            {
                return Some(url);
            }
        }
        self.settings.webhook_url.clone()
    }

    /// Turns every pending change into deliveries (per URL, at most 1,000 changes a POST;
    /// under chaos, reordered, re-batched, delayed and duplicated).
    pub fn flush(&mut self, now: SimTime) {
        self.outbox.flush_queued = false;
        let pending = std::mem::take(&mut self.outbox.pending);
        if pending.is_empty() {
            return;
        }
        let mut by_url: Vec<(Option<String>, Vec<OutChange>)> = Vec::new();
        for change in pending {
            // An app unsubscribed from the WABA gets none of its webhooks.
            if self.wabas.get(&change.waba).is_some_and(|w| !w.subscribed) {
                tracing::debug!(
                    seq = change.seq,
                    "dropped: the app is not subscribed to the WABA"
                );
                self.outbox.dropped_unsubscribed += 1;
                continue;
            }
            let url = self.target_url(&change);
            match by_url.iter_mut().find(|(u, _)| *u == url) {
                Some((_, list)) => list.push(change),
                None => by_url.push((url, vec![change])),
            }
        }
        for (url, changes) in by_url {
            let plan = self.chaos.plan(changes.len(), &mut self.chaos_rng);
            for batch in plan.batches {
                for part in batch.changes.chunks(MAX_CHANGES_PER_POST) {
                    let selected: Vec<&OutChange> = part.iter().map(|i| &changes[*i]).collect();
                    let id = self.create_delivery(now, url.clone(), &selected, batch.delay, None);
                    if let (Some(id), Some(dup_delay)) = (id, batch.duplicate_delay) {
                        self.create_delivery(now, url.clone(), &selected, dup_delay, Some(id));
                    }
                }
            }
        }
    }

    fn create_delivery(
        &mut self,
        now: SimTime,
        url: Option<String>,
        changes: &[&OutChange],
        delay: Duration,
        duplicate_of: Option<u64>,
    ) -> Option<u64> {
        let body = match encode::to_meta_bytes(&envelope(changes)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "could not serialise a webhook body");
                return None;
            }
        };
        let signature = coex_meta::signature::sign(self.settings.app_secret.as_bytes(), &body);
        let id = self.deliveries.next_id();
        let first_due = now + delay;
        let state = if url.is_some() {
            DeliveryState::Pending
        } else {
            DeliveryState::NoCallbackUrl
        };
        self.deliveries.push(
            Delivery {
                id,
                url: url.clone(),
                body: String::from_utf8_lossy(&body).into_owned(),
                signature,
                created_at: now,
                first_due,
                changes: changes
                    .iter()
                    .map(|c| ChangeRef {
                        seq: c.seq,
                        field: c.field.clone(),
                        summary: c.summary.clone(),
                    })
                    .collect(),
                attempts: Vec::new(),
                state,
                duplicate_of,
            },
            |d| d.state != DeliveryState::Pending,
        );
        if url.is_some() {
            self.schedule(first_due, Task::Attempt { delivery: id });
        }
        Some(id)
    }

    fn delivery_mut(&mut self, id: u64) -> Option<&mut Delivery> {
        self.deliveries.get_mut(id)
    }

    /// The HTTP work for an attempt due at `at`.
    pub fn attempt_job(&mut self, id: u64, at: SimTime) -> Option<AttemptJob> {
        let d = self.delivery_mut(id)?;
        if d.state != DeliveryState::Pending {
            return None;
        }
        Some(AttemptJob {
            delivery: id,
            at,
            url: d.url.clone()?,
            body: Bytes::from(d.body.clone().into_bytes()),
            signature: d.signature.clone(),
        })
    }

    /// Records an attempt's outcome and schedules the retry, if Meta would make one.
    pub fn record_attempt(&mut self, job: &AttemptJob, outcome: AttemptOutcome) {
        let ok = outcome.ok();
        let Some(d) = self.delivery_mut(job.delivery) else {
            return;
        };
        let n = u32::try_from(d.attempts.len()).unwrap_or(u32::MAX) + 1;
        d.attempts.push(AttemptRecord {
            n,
            at: job.at,
            status: outcome.status,
            error: outcome.error,
            response_body: outcome.response_body,
        });
        if ok {
            d.state = DeliveryState::Delivered;
            return;
        }
        let first = d.attempts.first().map_or(job.at, |a| a.at);
        match retry::next_attempt(first, job.at, n) {
            Some(next) => self.schedule(
                next,
                Task::Attempt {
                    delivery: job.delivery,
                },
            ),
            None => {
                if let Some(d) = self.delivery_mut(job.delivery) {
                    d.state = DeliveryState::GaveUp;
                }
            }
        }
    }
}

/// Makes one HTTP attempt: a POST with Meta's headers, bounded by `timeout`.
pub async fn attempt(
    client: &reqwest::Client,
    job: &AttemptJob,
    timeout: Duration,
) -> AttemptOutcome {
    let request = client
        .post(&job.url)
        .header("content-type", "application/json")
        .header(coex_meta::signature::HEADER, &job.signature)
        .header("user-agent", "facebookexternalua")
        .timeout(timeout)
        .body(job.body.clone());
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.bytes().await.ok().map(|b| {
                let cut = &b[..b.len().min(512)];
                String::from_utf8_lossy(cut).into_owned()
            });
            AttemptOutcome {
                status: Some(status),
                error: None,
                response_body: body,
            }
        }
        Err(e) => AttemptOutcome {
            status: None,
            error: Some(e.to_string()),
            response_body: None,
        },
    }
}
