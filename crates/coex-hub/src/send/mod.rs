//! Sending (issue 6): everything asked of `coex` goes out as fast as Meta allows and no
//! faster, and nothing accepted is lost or sent twice.
//!
//! The path of one send:
//! 1. [`service::SendService::enqueue`] translates the Graph API body ([`request`]) and, for a
//!    template, gets the WABA's catalog ([`templates`]); then, in the transaction that queues
//!    the send, the store reads the number, the recipient and the window, and the pure policy
//!    (`coex_core::policy::decide`) answers. A refusal or a closed window is answered at once
//!    with a stable code (nothing written); a send the policy lets through is priced (the
//!    `[pricing]` table) and stored, `queued`, before anything reaches Meta.
//! 2. The number's lane ([`lane`]), run by whichever process holds the number's lease
//!    ([`engine`]), claims it, paces it ([`limits`]: the number's share of its throughput, the
//!    pair rate, the messaging limit) and makes the request.
//! 3. Meta's answer is committed with the attempt; an accepted send gets its wamid in the same
//!    transaction that stores the outbound message, and status webhooks then move it (and
//!    replace the estimated cost with Meta's pricing).
//!
//! [`http`] has the REST routes; `coex send` on the command line calls them.

mod claims;
pub mod engine;
pub mod http;
pub mod lane;
pub mod limits;
pub mod request;
pub mod service;
pub mod templates;

use std::time::Duration;

use coex_core::model::NumberKind;
use coex_core::policy::pacing::{
    CLOUD_API_DEFAULT_MPS, DEFAULT_COEXISTENCE_OUTBOUND_MPS, PAIR_RATE_INTERVAL, Throughput,
};

pub use engine::{LaneStats, SendEngine};
pub use service::{SendError, SendInput, SendService};

/// How sending behaves; `coex serve` fills it from the `[send]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSettings {
    /// Outbound messages per second a coexistence number uses at most (of its fixed 20);
    /// lowered while inbound and echo traffic uses the rest.
    pub coexistence_outbound_mps: u32,
    /// Throughput of a pure Cloud API number (Meta's tier: 80 by default, up to 1,000).
    pub cloud_api_mps: u32,
    /// One message per this interval to one recipient (Meta: about 6 s).
    pub pair_interval: Duration,
    /// Messages to one recipient at once before the interval applies (1: none borrowed).
    pub pair_burst: u32,
    /// Sends claimed at a time per lane; `None`: one second's worth at the lane's rate.
    pub claim_batch: Option<u32>,
    /// Requests in flight per lane, and over all lanes.
    pub max_in_flight_per_lane: usize,
    pub max_in_flight: usize,
    /// Attempts before a send with transient errors fails.
    pub max_attempts: u32,
    /// A lane's lease lasts this long unless renewed; a dead owner's lanes are taken over
    /// after at most `lease_ttl + lease_renew`. A lane starts a request only until
    /// `lease_ttl - lease_margin()` after its last successful renewal began (the lease
    /// fence), so a stalled process never sends what a new owner has queued again.
    pub lease_ttl: Duration,
    pub lease_renew: Duration,
    /// How often an idle lane looks for work queued by another process.
    pub poll_interval: Duration,
    /// A lane without work for this long ends (its lease then lapses).
    pub idle_release: Duration,
    /// How often a coexistence lane measures the number's inbound and echo traffic, and over
    /// how many seconds.
    pub traffic_sample: Duration,
    pub traffic_span_secs: usize,
    /// How often status webhooks are matched to sends.
    pub reconcile_interval: Duration,
    /// An accepted send without any status webhook after this long is `sent_unconfirmed`.
    pub unconfirmed_after: Duration,
    /// Most results a committer takes in one batch (written sorted by number, a hundred per
    /// transaction; see `engine`'s `RESULTS_PER_TRANSACTION`).
    pub commit_max_batch: usize,
    /// How long a busy results committer (over 100 results a second) gathers results before
    /// writing them sorted by number, so a number's results share the pages they rewrite. A
    /// quiet one writes each result at once. Results gathered are not yet stored: should the
    /// process die meanwhile, their sends are queued again on recovery (their attempts marked
    /// abandoned), so the longer this is, the more messages a crash may send twice.
    pub commit_linger: Duration,
    /// How long a WABA's template list is trusted.
    pub template_cache_ttl: Duration,
    /// This process's name on leases; `None`: host, pid and a random suffix.
    pub owner: Option<String>,
}

impl Default for SendSettings {
    fn default() -> Self {
        Self {
            coexistence_outbound_mps: DEFAULT_COEXISTENCE_OUTBOUND_MPS,
            cloud_api_mps: CLOUD_API_DEFAULT_MPS,
            // A little over Meta's 6 s, so network jitter never makes two requests to one
            // customer arrive closer than that.
            pair_interval: PAIR_RATE_INTERVAL + Duration::from_millis(100),
            pair_burst: 1,
            claim_batch: None,
            max_in_flight_per_lane: 32,
            max_in_flight: 1024,
            max_attempts: 10,
            lease_ttl: Duration::from_secs(20),
            lease_renew: Duration::from_secs(5),
            poll_interval: Duration::from_millis(500),
            idle_release: Duration::from_secs(60),
            traffic_sample: Duration::from_secs(1),
            traffic_span_secs: 3,
            reconcile_interval: Duration::from_secs(5),
            unconfirmed_after: Duration::from_secs(600),
            commit_max_batch: 2048,
            commit_linger: Duration::from_millis(500),
            template_cache_ttl: Duration::from_secs(60),
            owner: None,
        }
    }
}

impl SendSettings {
    /// The throughput budget of a number of `kind`.
    pub fn throughput(&self, kind: NumberKind) -> Throughput {
        Throughput::for_number(
            kind,
            Some(self.cloud_api_mps),
            self.coexistence_outbound_mps,
        )
    }

    /// How long before its lease could lapse a lane stops starting requests: a quarter of
    /// `lease_ttl` (5 s of the default 20 s), room for clock drift between processes and
    /// for a request on its way to Meta.
    pub fn lease_margin(&self) -> Duration {
        self.lease_ttl / 4
    }

    /// The lease owner name of this process.
    pub fn owner_name(&self) -> String {
        self.owner.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "coex".to_owned());
            format!(
                "{host}-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            )
        })
    }
}
