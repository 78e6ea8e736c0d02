//! The durable send queue: send requests, their attempts, idempotency keys, and the send lanes
//! (one lease per business number), behind the [`SendStore`] trait that [`SqlStore`]
//! implements on both backends.
//!
//! The rules the SQL keeps:
//! - **Stored before attempted.** [`SendStore::enqueue`] commits a `queued` row (and the
//!   `Idempotency-Key`, which returns the first send for 24 h) before anything reaches Meta.
//! - **Claimed atomically.** [`SendStore::claim_sends`] moves ready rows to `sending` with one
//!   `UPDATE … RETURNING` (on PostgreSQL its row choice is `FOR UPDATE SKIP LOCKED`), and only
//!   for the process holding the number's lane lease.
//! - **Every attempt recorded, nothing deleted.** [`SendStore::finish_attempts`] writes one
//!   `send_attempts` row per request made (Meta's answer, the duration) and moves the send on;
//!   a failure only changes its state.
//! - **The wamid with the message.** An accepted send gets its wamid in the same transaction
//!   that records the outbound message through the ingest apply path (`Ingest::Sent`, the
//!   message naming its send), so status webhooks that overtook the commit (parked as orphans)
//!   are applied right there.
//! - **Crash recovery.** A lane taken over from another owner (whose lease expired) has its
//!   `sending` rows put back in the queue with an `abandoned` attempt each: a request that was
//!   in flight may be sent a second time (at most once more); nothing else is resent.
//! - **Reconciliation.** [`SendStore::reconcile_sends`] matches status webhooks to sends
//!   through their messages: a `failed` status fails the send (131047 makes it
//!   `needs_template`), and a send Meta accepted that no status confirmed in time becomes
//!   `sent_unconfirmed`.

#[cfg(test)]
mod give_way_tests;
mod sql;

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use coex_core::model::{
    CustomerKey, MessageContent, MessageStatus, Number, Origin, Pricing, Timestamp, WorkspaceId,
};
use coex_core::policy::Recipient;
use coex_core::pricing::{Amount, Category, Country};
use coex_core::{PhoneNumberId, Wamid};
use serde::{Deserialize, Serialize};

use crate::Result;

/// A send's row id (defined with the other row ids, since a sent message names its send).
pub use coex_core::model::SendId;

/// A stored value that is not one of a send enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {kind}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! names {
    ($(#[$meta:meta])* pub enum $name:ident as $kind:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable name (serde, database and display form).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownName { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// Where a send is in its life.
    pub enum SendState as "send state" {
        /// Stored, waiting for its lane (possibly until `not_before`).
        Queued = "queued",
        /// Claimed by a lane; a request may be in flight.
        Sending = "sending",
        /// Meta accepted it and gave a wamid; status webhooks follow.
        Accepted = "accepted",
        /// Accepted, but no status webhook arrived within the configured time.
        SentUnconfirmed = "sent_unconfirmed",
        /// The customer-service window is closed: only a template can reach the customer.
        NeedsTemplate = "needs_template",
        /// Meta refused it for good (its code and text are kept), or retries ran out.
        Failed = "failed",
    }
}

impl SendState {
    /// Whether nothing more will happen to the send by itself.
    pub fn is_final(self) -> bool {
        matches!(self, Self::NeedsTemplate | Self::Failed)
    }
}

names! {
    /// What became of one attempt.
    pub enum AttemptKind as "attempt outcome" {
        /// Meta answered with a wamid.
        Accepted = "accepted",
        /// Meta (or the network) failed in a way worth retrying; the send was queued again.
        Retry = "retry",
        /// Meta refused it for good.
        Failed = "failed",
        /// Meta answered 131047: the window is closed.
        NeedsTemplate = "needs_template",
        /// Meta refused for a reason a person must fix (credentials, policy); the send waits
        /// in the queue while the lane is stopped.
        Stopped = "stopped",
        /// The owner stopped with the request in flight; the outcome is unknown.
        Abandoned = "abandoned",
    }
}

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

/// An `Idempotency-Key` that is empty, too long or not visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1 to 255 visible ASCII characters")]
pub struct IdempotencyKeyError;

impl IdempotencyKey {
    pub fn parse(value: impl Into<String>) -> Result<Self, IdempotencyKeyError> {
        let value = value.into();
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value))
        } else {
            Err(IdempotencyKeyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = IdempotencyKeyError;
    fn try_from(s: String) -> Result<Self, IdempotencyKeyError> {
        Self::parse(s)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> Self {
        k.0
    }
}

/// How long an `Idempotency-Key` returns its first send.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Who holds lane leases and claims sends: one value per hub process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LaneOwner(String);

impl LaneOwner {
    /// An owner name (e.g. host, pid and a random suffix); any non-empty text.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self(if name.is_empty() {
            "?".to_owned()
        } else {
            name
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LaneOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A send request the policy let through, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSend {
    pub workspace: WorkspaceId,
    pub number: PhoneNumberId,
    /// The customer as the contact is known (used to record the message).
    pub customer: CustomerKey,
    /// Where the request goes (and the pair-rate key).
    pub recipient: Recipient,
    pub origin: Origin,
    pub sender: Option<String>,
    /// The message type (`text`, `template`, …).
    pub kind: String,
    /// The Graph API body as it will be sent.
    pub request: String,
    /// The message as the inbox will store it.
    pub content: MessageContent,
    pub category: Category,
    pub country: Option<Country>,
    pub business_initiated: bool,
    /// For free-form sends: until when the window the decision relied on is open.
    pub window_closes_at: Option<Timestamp>,
    pub estimated: Amount,
    pub currency: String,
    pub idempotency_key: Option<IdempotencyKey>,
    /// When the send may first be attempted (usually now).
    pub not_before: Timestamp,
}

/// What [`SendStore::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new send was queued.
    Created(SendId),
    /// The key named an earlier send (within 24 h) with the same request: nothing was queued.
    Existing(SendId),
}

impl Enqueued {
    pub fn id(&self) -> SendId {
        match self {
            Self::Created(id) | Self::Existing(id) => *id,
        }
    }
}

/// What a send request is decided on, read by [`SendStore::decide_and_enqueue`] in the
/// transaction that queues it.
#[derive(Debug, Clone, PartialEq)]
pub struct SendContext {
    /// The sending number (its state, kind and portfolio).
    pub number: Number,
    /// The customer with every identifier the store knows for them (the request's key when
    /// they are not a contact yet).
    pub customer: CustomerKey,
    /// The customer's last live inbound message to the number: the 24 h window's input.
    pub last_inbound_at: Option<Timestamp>,
}

/// A send [`SendStore::decide_and_enqueue`] queued (or found by its idempotency key), read
/// back in the same transaction.
#[derive(Debug, Clone)]
pub struct Queued {
    pub enqueued: Enqueued,
    /// The new send, claimed for the caller's lane when it can go at once.
    pub claimed: Option<ClaimedSend>,
    pub record: SendRecord,
    /// Its attempts so far (none for a new send).
    pub attempts: Vec<AttemptRecord>,
}

/// An error Meta (or the network) gave an attempt, or the reason a send ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendErrorInfo {
    /// Meta's error code, when Meta answered with one.
    pub code: Option<i64>,
    pub title: String,
    pub detail: Option<String>,
}

/// A stored send with what status webhooks said about its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub id: SendId,
    pub workspace: WorkspaceId,
    pub number: PhoneNumberId,
    pub customer: CustomerKey,
    pub recipient: Recipient,
    pub origin: Origin,
    pub sender: Option<String>,
    pub kind: String,
    /// The Graph API body.
    pub request: String,
    pub category: Category,
    pub country: Option<Country>,
    pub business_initiated: bool,
    pub window_closes_at: Option<Timestamp>,
    pub estimated: Amount,
    pub currency: String,
    pub state: SendState,
    pub not_before: Timestamp,
    pub attempts: u32,
    pub claimed_by: Option<String>,
    pub wamid: Option<Wamid>,
    pub error: Option<SendErrorInfo>,
    /// Why a queued send waits.
    pub waiting: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The stored message's delivery status (sent, delivered, read, failed), once accepted.
    pub message_status: Option<MessageStatus>,
    /// Meta's `pricing` from the status webhooks, once one carried it.
    pub pricing: Option<Pricing>,
}

/// One stored attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub owner: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    pub outcome: AttemptKind,
    pub http_status: Option<u16>,
    pub error_code: Option<i64>,
    pub wamid: Option<Wamid>,
    /// Meta's answer (the JSON body) or what went wrong on the way.
    pub response: Option<String>,
}

/// A send claimed by a lane: everything needed to attempt it and record the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedSend {
    pub id: SendId,
    pub workspace: WorkspaceId,
    pub number: PhoneNumberId,
    pub customer: CustomerKey,
    pub recipient: Recipient,
    pub origin: Origin,
    pub sender: Option<String>,
    pub kind: String,
    pub request: String,
    pub content: MessageContent,
    pub category: Category,
    pub business_initiated: bool,
    pub window_closes_at: Option<Timestamp>,
    /// The number of this attempt (1 for the first).
    pub attempt: u32,
    pub created_at: Timestamp,
}

impl ClaimedSend {
    /// The pair-rate key: who the request goes to.
    pub fn recipient_key(&self) -> String {
        recipient_text(&self.recipient).to_owned()
    }
}

pub(crate) fn recipient_text(r: &Recipient) -> &str {
    match r {
        Recipient::Phone(p) => p.digits(),
        Recipient::Bsuid(b) => b.as_str(),
    }
}

/// One lane's part of a [`SendStore::claim_sends_many`] round: its number and how many
/// sends it takes at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub number: PhoneNumberId,
    pub limit: u32,
}

/// What [`SendStore::claim_sends`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claim {
    /// Claimed sends, oldest first.
    pub sends: Vec<ClaimedSend>,
    /// When nothing was ready: the earliest `not_before` of the number's queued sends.
    pub next_ready_at: Option<Timestamp>,
    /// The caller does not hold the lane's lease (any more): it must stop sending.
    pub lease_lost: bool,
    /// The lane is stopped (an alert is set): nothing is claimed until it is resumed.
    pub stopped: bool,
}

/// The answer to one attempt (or the decision not to make it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Meta accepted the message.
    Accepted {
        wamid: Wamid,
        http_status: u16,
        response: String,
    },
    /// Retry after `not_before` (transient error, throughput, pair rate, pause).
    Retry {
        not_before: Timestamp,
        waiting: String,
        error: AttemptError,
    },
    /// A final refusal by Meta (or retries ran out).
    Failed { error: AttemptError },
    /// Only a template can reach the customer now. `error` is Meta's 131047 when a request
    /// was made, `None` when the lane decided before sending (the window closed in the queue).
    NeedsTemplate {
        error: Option<AttemptError>,
        detail: String,
    },
    /// Meta refused for a reason a person must fix; the send goes back to the queue and
    /// waits for the lane to be resumed.
    Stopped { error: AttemptError },
    /// No request was made: the send waits until `not_before` (pair rate, messaging limit).
    Deferred {
        not_before: Timestamp,
        waiting: String,
    },
}

/// Meta's error answer (or a transport failure) as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptError {
    pub code: Option<i64>,
    pub title: String,
    pub detail: Option<String>,
    pub http_status: Option<u16>,
    /// The raw answer, when one came.
    pub response: Option<String>,
}

/// One finished attempt, for [`SendStore::finish_attempts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub send: ClaimedSend,
    pub owner: LaneOwner,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub outcome: Outcome,
}

/// What [`SendStore::finish_attempts`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FinishSummary {
    pub accepted: u64,
    pub requeued: u64,
    pub failed: u64,
    pub needs_template: u64,
    /// Results for sends this owner no longer held (taken over); recorded as attempts only.
    pub stale: u64,
}

/// A lane's lease answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// Newly taken (free, expired, or ours from before a restart); `recovered` sends that a
    /// previous owner left `sending` were queued again.
    Acquired { recovered: u64 },
    /// Still ours, extended.
    Renewed,
    /// Another process holds it until `until`.
    Busy { owner: String, until: Timestamp },
}

/// A lane's stored state, for the REST API and the lane itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneRecord {
    pub number: PhoneNumberId,
    pub owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
    pub acquired_at: Option<Timestamp>,
    pub paused_until: Option<Timestamp>,
    pub pause_reason: Option<String>,
    /// Set when the lane stopped for an error a person must fix (an alert).
    pub stopped_at: Option<Timestamp>,
    pub stop_code: Option<i64>,
    pub stop_reason: Option<String>,
    /// Sends by state, for this number.
    pub queued: u64,
    pub sending: u64,
}

/// What [`SendStore::reconcile_sends`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// Sends whose message failed asynchronously, now `failed`.
    pub failed: Vec<SendId>,
    /// Sends whose message failed with 131047, now `needs_template`.
    pub needs_template: Vec<SendId>,
    /// Accepted sends without any status webhook, now `sent_unconfirmed`.
    pub unconfirmed: Vec<SendId>,
    /// `sent_unconfirmed` sends whose status finally came.
    pub confirmed: Vec<SendId>,
}

/// What one [`SendStore::reconcile_sends`] pass looks at. Each pass reads only what is new
/// since the previous one, so its cost does not grow with the number of sends ever made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileWindow {
    /// `failed` status webhooks received since then are matched to their sends.
    pub failed_since: Timestamp,
    /// Sends accepted in `[accepted_from, accepted_to)` without any status webhook become
    /// `sent_unconfirmed` (`accepted_to` is "now minus the confirmation timeout").
    pub accepted_from: Timestamp,
    pub accepted_to: Timestamp,
}

/// Accepted sends of one number grouped for the cost ledger: day (UTC), estimated category,
/// country, and Meta's pricing as the status webhooks reported it (all `None` until then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRow {
    /// Days since the Unix epoch (UTC) of `accepted_at`.
    pub day: i64,
    pub category: Category,
    pub country: Option<Country>,
    pub origin: Origin,
    pub pricing: Option<Pricing>,
    pub messages: u64,
    /// Sum of the estimates, in the currency of each row's `currency`.
    pub estimated: Amount,
    pub currency: String,
}

/// The store side of sending. See the module notes.
pub trait SendStore: Send + Sync {
    /// Queues a send (or returns the one its idempotency key already names). A key reused
    /// within 24 h with a different request is a `Conflict`.
    fn enqueue(&self, send: &NewSend) -> impl Future<Output = Result<Enqueued>> + Send;

    /// [`SendStore::enqueue`], and in the same transaction claims the new send for `owner`
    /// when its lane can send it at once: `owner` holds the lane's lease (not stopped), the
    /// send is due, and no older send of the number is ready. The lane then gets it from the
    /// caller's hand instead of from a claim of its own, one transaction sooner.
    fn enqueue_and_claim(
        &self,
        send: &NewSend,
        owner: &LaneOwner,
    ) -> impl Future<Output = Result<(Enqueued, Option<ClaimedSend>)>> + Send;

    /// Reads what a send to `customer` from `number` is decided on ([`SendContext`]), asks
    /// `decide` for the send, and queues it (claimed for `claim_for` as in
    /// [`Self::enqueue_and_claim`]), all in one transaction: the decision is made on what the
    /// queue row is written with (a number disconnected meanwhile cannot slip through), and on
    /// SQLite the reads run on the writer's connection, with no reader round trip before it.
    /// `decide` may run more than once (a transaction the database asked to retry) and must
    /// not do I/O; its error is returned as the inner `Err`, with nothing written. A number
    /// that does not exist is `NotFound`.
    fn decide_and_enqueue<E, F>(
        &self,
        number: &PhoneNumberId,
        customer: &CustomerKey,
        claim_for: Option<&LaneOwner>,
        decide: F,
    ) -> impl Future<Output = Result<std::result::Result<Queued, E>>> + Send
    where
        E: Send,
        F: Fn(&SendContext) -> std::result::Result<NewSend, E> + Send + Sync;

    /// The send with its message's status and pricing.
    fn get_send(&self, id: SendId) -> impl Future<Output = Result<SendRecord>> + Send;

    /// A send's attempts, oldest first.
    fn send_attempts(&self, id: SendId) -> impl Future<Output = Result<Vec<AttemptRecord>>> + Send;

    /// The customer's last live inbound message to `number` (the window input), if any.
    fn last_inbound_at(
        &self,
        number: &PhoneNumberId,
        customer: &CustomerKey,
    ) -> impl Future<Output = Result<Option<Timestamp>>> + Send;

    /// Takes or renews the number's lane lease for `ttl_ms`. Taking it over recovers the
    /// sends a previous owner left in flight (see the module notes).
    fn acquire_lane(
        &self,
        number: &PhoneNumberId,
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome>> + Send;

    /// [`Self::acquire_lane`] for several numbers in one transaction (one commit for a whole
    /// round of lanes taken at start-up or after a takeover). One outcome per number, in order;
    /// pass the numbers sorted, so two processes lock lanes in the same order.
    fn acquire_lanes(
        &self,
        numbers: &[PhoneNumberId],
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<Vec<LeaseOutcome>>> + Send;

    /// Renews, in one statement, every lease `owner` still holds (not expired at `now`) for
    /// `ttl_ms`; returns the numbers renewed. A lane not among them needs
    /// [`SendStore::acquire_lane`] (its lease lapsed, or another process holds it).
    fn renew_lanes(
        &self,
        owner: &LaneOwner,
        now: Timestamp,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<Vec<PhoneNumberId>>> + Send;

    /// Gives the lease up (graceful shutdown, idle lane).
    fn release_lane(
        &self,
        number: &PhoneNumberId,
        owner: &LaneOwner,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Numbers with queued or in-flight sends whose lease is free, expired or `owner`'s.
    fn lanes_wanting_owner(
        &self,
        owner: &LaneOwner,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<PhoneNumberId>>> + Send;

    fn get_lane(&self, number: &PhoneNumberId) -> impl Future<Output = Result<LaneRecord>> + Send;

    /// Records a pause of the number's sending (throughput, maintenance) until `until`.
    fn pause_lane(
        &self,
        number: &PhoneNumberId,
        until: Timestamp,
        reason: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Stops the lane for an error a person must fix (the alert).
    fn stop_lane(
        &self,
        number: &PhoneNumberId,
        code: Option<i64>,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Clears a stop and a pause. Returns whether the lane was stopped.
    fn resume_lane(&self, number: &PhoneNumberId) -> impl Future<Output = Result<bool>> + Send;

    /// Claims up to `limit` ready sends of the number for `owner` (who must hold the lease).
    fn claim_sends(
        &self,
        number: &PhoneNumberId,
        owner: &LaneOwner,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Claim>> + Send;

    /// [`Self::claim_sends`] for several lanes of one owner, in one transaction: on a durable
    /// store a commit (an fsync) is what a claim costs, so a process's lanes claim together.
    /// One answer per request, in order; a lane whose lease is gone or that is stopped gets
    /// that answer without affecting the others.
    fn claim_sends_many(
        &self,
        requests: &[ClaimRequest],
        owner: &LaneOwner,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Claim>>> + Send;

    /// [`Self::claim_sends_many`] for a group commit that gives way: in one transaction it
    /// claims for some of the requests (at least the first few lanes) and answers those; on
    /// SQLite it stops early when an interactive transaction waits for the writer (see
    /// `writer_gate`). `None` marks a request not claimed for yet: ask again for those. Every
    /// request for one number is answered in the same call, so a number claims once.
    fn claim_sends_some(
        &self,
        requests: &[ClaimRequest],
        owner: &LaneOwner,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Option<Claim>>>> + Send;

    /// The earliest `not_before` of the number's queued sends (a read: lanes poll it while
    /// idle instead of claiming in a write transaction).
    fn next_ready_at(
        &self,
        number: &PhoneNumberId,
    ) -> impl Future<Output = Result<Option<Timestamp>>> + Send;

    /// Records attempts and moves their sends on, all in one transaction; accepted ones are
    /// recorded as outbound messages through the ingest apply path.
    fn finish_attempts(
        &self,
        results: &[AttemptResult],
        now: Timestamp,
    ) -> impl Future<Output = Result<FinishSummary>> + Send;

    /// [`Self::finish_attempts`] for a group commit that gives way: in one transaction it
    /// records the first results (at least a few) and returns how many; on SQLite it stops
    /// early when an interactive transaction waits for the writer (see `writer_gate`). Call
    /// again with the rest. A failure wrote nothing of this call.
    fn finish_attempts_some(
        &self,
        results: &[AttemptResult],
        now: Timestamp,
    ) -> impl Future<Output = Result<(usize, FinishSummary)>> + Send;

    /// Matches status webhooks to sends (see the module notes and [`ReconcileWindow`]).
    fn reconcile_sends(
        &self,
        window: &ReconcileWindow,
        now: Timestamp,
    ) -> impl Future<Output = Result<ReconcileSummary>> + Send;

    /// Recipients of the workspace's business-initiated sends accepted since `since`, with
    /// the latest time each (to seed the messaging limit).
    fn business_initiated_since(
        &self,
        workspace: WorkspaceId,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<(String, Timestamp)>>> + Send;

    /// Inbound and echo messages stored for the number since `since`, counted per second
    /// (Unix second, count), for the coexistence throughput share.
    fn traffic_per_second(
        &self,
        number: &PhoneNumberId,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<(i64, u32)>>> + Send;

    /// The cost ledger's rows for sends accepted in `[from, to)` (see [`CostRow`]). Failed
    /// messages are left out: Meta does not bill them.
    fn cost_rows(
        &self,
        number: &PhoneNumberId,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<CostRow>>> + Send;
}
