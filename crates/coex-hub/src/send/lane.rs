//! One number's lane: claims the number's sends, paces them, makes the requests and reacts
//! to Meta's answers (spec/cloud-api.md §4, §5).
//!
//! The lane claims about one second's worth of its number's sends at a time, and starts the
//! next claim as soon as it holds less than that, so it keeps sending while the claim waits
//! for the store's writer.
//!
//! Before each request, in this order:
//! 1. a free-form send that waited in the queue past its window is decided again (the
//!    customer may have written since; if not, it becomes `needs_template` without a
//!    request);
//! 2. a recipient held back after a 131056 waits its 4^X seconds;
//! 3. a business-initiated send takes a slot of the portfolio's messaging limit, or waits
//!    until one frees;
//! 4. the number's limiter grants a slot (the outbound share of the number's throughput);
//! 5. the recipient's pair limiter grants a slot, or the send waits for it in the queue.
//!
//! Reactions by error class: 130429 pauses the whole lane (jittered exponential, up to a
//! minute) and re-queues; 131056 holds the recipient back 4^X s; 131057 and other number-wide
//! conditions pause the lane with their backoff (up to a minute for maintenance); 131047
//! makes the send `needs_template`; credentials, permissions, policy and billing errors stop
//! the lane (an alert, in the log and in the lane's state) and keep its sends queued;
//! transient errors retry with jittered exponential backoff up to `max_attempts`; everything
//! else fails the send with Meta's code and text.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use coex_core::PhoneNumberId;
use coex_core::model::{Number, NumberKind, Timestamp};
use coex_core::policy::Window;
use coex_core::policy::pacing::{RateMeter, Throughput};
use coex_meta::graph::{
    ErrorClass, GraphError, RetryAdvice, RetryScope, SendMessageRequest, SendMessageResponse,
};
use coex_store::send::{AttemptError, AttemptResult, Claim, ClaimedSend, Outcome, SendStore};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::SendSettings;
use super::engine::Inner;
use super::limits::{Backoffs, NumberLimiter, PairLimiter};

/// What other tasks (the manager, attempts, the traffic sampler, the REST API) tell a lane.
pub(crate) struct LaneControl {
    // Why a std Mutex: a few fields read and written in passing, never across an await.
    state: Mutex<ControlState>,
    // Why a Notify: the lane sleeps until its next deadline; new work, a resume, a lost
    // lease or a new rate wakes it early.
    wake: Notify,
}

struct ControlState {
    paused_until: Option<Instant>,
    stopped: bool,
    lease_lost: bool,
    /// The lease fence: requests start only before this instant (see [`LaneControl::renewed`]).
    lease_fence: Instant,
    can_send: bool,
    target_mps: u32,
    /// Consecutive number-wide pauses, for their backoff.
    number_x: u32,
    backoffs: Backoffs,
    /// Sends claimed for this lane in their enqueue's transaction, not taken yet.
    handed: VecDeque<ClaimedSend>,
    /// The lane has stopped taking handed sends (it is ending).
    closed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    paused_until: Option<Instant>,
    stopped: bool,
    lease_lost: bool,
    can_send: bool,
    target_mps: u32,
}

impl LaneControl {
    /// `leased_at`: when the statement that took the lane's lease started.
    pub fn new(number: &Number, settings: &SendSettings, leased_at: Instant) -> Self {
        Self {
            state: Mutex::new(ControlState {
                paused_until: None,
                stopped: false,
                lease_lost: false,
                lease_fence: fence_after(leased_at, settings),
                can_send: number.state.can_send(),
                target_mps: settings.throughput(number.kind).outbound_cap_mps,
                number_x: 0,
                backoffs: Backoffs::new(Duration::from_secs(1024)),
                handed: VecDeque::new(),
                closed: false,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Snapshot {
        let s = self.lock();
        Snapshot {
            paused_until: s.paused_until,
            stopped: s.stopped,
            lease_lost: s.lease_lost,
            can_send: s.can_send,
            target_mps: s.target_mps,
        }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn resume(&self) {
        {
            let mut s = self.lock();
            s.stopped = false;
            s.paused_until = None;
        }
        self.wake();
    }

    /// Gives the lane a send claimed for it when it was queued; returns it when the lane
    /// is ending (the caller puts it back in the queue).
    pub fn hand_over(&self, send: ClaimedSend) -> Option<ClaimedSend> {
        {
            let mut s = self.lock();
            if s.closed {
                return Some(send);
            }
            s.handed.push_back(send);
        }
        self.wake();
        None
    }

    fn take_handed(&self) -> VecDeque<ClaimedSend> {
        std::mem::take(&mut self.lock().handed)
    }

    /// Takes no more handed sends; returns those not taken yet.
    fn close(&self) -> VecDeque<ClaimedSend> {
        let mut s = self.lock();
        s.closed = true;
        std::mem::take(&mut s.handed)
    }

    pub fn lose_lease(&self) {
        self.lock().lease_lost = true;
        self.wake();
    }

    /// A renewal of the lease that started at `started` succeeded: requests may start until
    /// `started + lease_ttl - lease_margin`. The store's lease runs until at least
    /// `started + lease_ttl` (it is stamped after the statement began), so no other process
    /// can take the lane over (and re-queue this lane's claimed sends) before the fence.
    pub fn renewed(&self, started: Instant, settings: &SendSettings) {
        let fence = fence_after(started, settings);
        let reopened = {
            let mut s = self.lock();
            let was_closed = s.lease_fence <= Instant::now();
            s.lease_fence = s.lease_fence.max(fence);
            was_closed
        };
        if reopened {
            self.wake();
        }
    }

    /// Whether a request may start now under the lease fence.
    fn within_fence(&self) -> bool {
        Instant::now() < self.lock().lease_fence
    }

    pub fn set_can_send(&self, can: bool) {
        let changed = {
            let mut s = self.lock();
            std::mem::replace(&mut s.can_send, can) != can
        };
        if changed {
            self.wake();
        }
    }

    fn set_target_mps(&self, mps: u32) {
        let changed = {
            let mut s = self.lock();
            std::mem::replace(&mut s.target_mps, mps) != mps
        };
        if changed {
            self.wake();
        }
    }

    fn stop(&self) {
        self.lock().stopped = true;
    }

    /// Pauses the whole lane for the advice's next backoff; returns the wait.
    fn pause(&self, advice: &RetryAdvice, jitter: f64) -> Duration {
        let mut s = self.lock();
        let wait = advice
            .backoff()
            .map_or(Duration::from_secs(1), |b| b.delay(s.number_x, jitter));
        s.number_x = s.number_x.saturating_add(1);
        let until = Instant::now() + wait;
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        wait
    }

    fn pair_rate_hit(&self, recipient: &str) -> Duration {
        self.lock()
            .backoffs
            .pair_rate_hit(recipient, Instant::now())
    }

    fn backoff_remaining(&self, recipient: &str) -> Option<Duration> {
        self.lock().backoffs.remaining(recipient, Instant::now())
    }

    fn success(&self, recipient: &str) {
        let mut s = self.lock();
        s.number_x = 0;
        s.backoffs.success(recipient);
    }

    fn forget_idle(&self) {
        self.lock()
            .backoffs
            .forget_older_than(Instant::now(), Duration::from_secs(3600));
    }

    async fn notified(&self) {
        self.wake.notified().await;
    }
}

/// The instant before which a lease renewed (or taken) at `started` keeps requests safe.
fn fence_after(started: Instant, settings: &SendSettings) -> Instant {
    started + settings.lease_ttl.saturating_sub(settings.lease_margin())
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps up to `d`, or until the lane is woken or the process stops.
async fn wait(control: &LaneControl, shutdown: &mut watch::Receiver<bool>, d: Duration) {
    // Why select!: a lane sleeps until its deadline, new work or a resume, or shutdown.
    tokio::select! {
        () = control.notified() => {}
        _ = shutdown.changed() => {}
        () = tokio::time::sleep(d) => {}
    }
}

/// Claims up to `batch` sends for the lane in a task of its own, which wakes the lane when
/// the claim is back: the lane goes on with what it holds or is handed meanwhile.
fn start_claim(
    inner: &Arc<Inner>,
    control: &Arc<LaneControl>,
    number: &PhoneNumberId,
    batch: u32,
) -> JoinHandle<Result<Claim, String>> {
    let (inner, control, number, now) =
        (inner.clone(), control.clone(), number.clone(), inner.now());
    tokio::spawn(async move {
        let claim = inner.claim(&number, now, batch).await;
        control.wake();
        claim
    })
}

/// How many sends a claim for `batch` must return to suggest more are queued.
fn claimed_for(batch: u32) -> usize {
    usize::try_from(batch).unwrap_or(usize::MAX)
}

fn millis_until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(at.as_millis() - now.as_millis()).unwrap_or(0))
}

fn plus(now: Timestamp, d: Duration) -> Timestamp {
    now.plus_millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs the lane until shutdown, a lost lease, or `idle_release` without work.
pub(crate) async fn run(
    inner: Arc<Inner>,
    number: Number,
    control: Arc<LaneControl>,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = inner.settings.clone();
    let throughput = settings.throughput(number.kind);
    let mut limiter = NumberLimiter::new(control.snapshot().target_mps);
    let pairs = PairLimiter::new(settings.pair_interval, settings.pair_burst);
    let lane_slots = settings.max_in_flight_per_lane.max(1);
    // Why a Semaphore: bounds this lane's requests in flight; acquiring all of it at the end
    // waits for the last ones.
    let slots = Arc::new(Semaphore::new(lane_slots));
    let sampler = (number.kind == NumberKind::Coexistence).then(|| {
        tokio::spawn(sample_traffic(
            inner.clone(),
            number.id.clone(),
            throughput,
            control.clone(),
        ))
    });
    let tier_limit = number.tier.daily_limit();
    let mut buffer: VecDeque<ClaimedSend> = VecDeque::new();
    // The claim running in its own task (started before the buffer ran out, or by an idle
    // lane), and whether the last claim suggested more are queued (it filled its batch).
    let mut prefetch: Option<JoinHandle<Result<Claim, String>>> = None;
    let mut more_queued = false;
    let mut idle_since: Option<Instant> = None;
    let mut last_cleanup = Instant::now();
    // Whether the lane waits at the lease fence (warned once per wait).
    let mut fenced = false;
    loop {
        if stopping(&shutdown) {
            break;
        }
        let snap = control.snapshot();
        if snap.lease_lost {
            break;
        }
        if snap.stopped {
            // The alert may be cleared by another process: look at the stored state.
            if let Ok(lane) = inner.store.get_lane(&number.id).await
                && lane.stopped_at.is_none()
            {
                control.resume();
                continue;
            }
            wait(&control, &mut shutdown, settings.lease_renew).await;
            continue;
        }
        if !snap.can_send {
            wait(&control, &mut shutdown, settings.lease_renew).await;
            continue;
        }
        if let Some(until) = snap.paused_until
            && until > Instant::now()
        {
            wait(&control, &mut shutdown, until - Instant::now()).await;
            continue;
        }
        if limiter.mps() != snap.target_mps {
            tracing::debug!(number = %number.id, mps = snap.target_mps, "lane rate changed");
            limiter.set_mps(snap.target_mps);
        }
        inner.count(&number.id, |s| s.mps = limiter.mps());
        if last_cleanup.elapsed() >= Duration::from_secs(60) {
            pairs.forget_idle();
            control.forget_idle();
            last_cleanup = Instant::now();
        }

        // Sends claimed for this lane when they were queued (see `SendEngine::hand_over`).
        let handed = control.take_handed();
        if !handed.is_empty() {
            idle_since = None;
            buffer.extend(handed);
        }
        let batch = settings.claim_batch.unwrap_or(limiter.mps()).clamp(1, 500);
        // Sends come from the claim started in advance when it is back (or when the lane ran
        // out while waiting for it), or from a claim made now when the lane has none.
        if buffer.is_empty() || prefetch.as_ref().is_some_and(|p| p.is_finished()) {
            if prefetch.as_ref().is_some_and(|p| !p.is_finished()) {
                // Nothing in hand and the claim still waits for the writer: the claim's end,
                // or a send handed over meanwhile, wakes the lane (an idle lane must not sit
                // out a whole write transaction before it sends what it is handed).
                wait(&control, &mut shutdown, settings.lease_renew).await;
                continue;
            }
            let now = inner.now();
            let claim = match prefetch.take() {
                Some(p) => p.await.unwrap_or_else(|e| Err(e.to_string())),
                None => {
                    // While idle, look with a read before claiming in a write transaction.
                    if idle_since.is_some() {
                        match inner.store.next_ready_at(&number.id).await {
                            Ok(Some(at)) if at <= now => {}
                            Ok(next) => {
                                let since = *idle_since.get_or_insert_with(Instant::now);
                                if since.elapsed() >= settings.idle_release {
                                    break;
                                }
                                let d = next.map_or(settings.poll_interval, |at| {
                                    millis_until(at, now).min(settings.poll_interval)
                                });
                                wait(&control, &mut shutdown, d).await;
                                continue;
                            }
                            Err(e) => {
                                tracing::warn!(number = %number.id, error = %e, "reading the queue failed");
                                wait(&control, &mut shutdown, Duration::from_secs(1)).await;
                                continue;
                            }
                        }
                    }
                    prefetch = Some(start_claim(&inner, &control, &number.id, batch));
                    continue;
                }
            };
            match claim {
                Ok(claim) if claim.lease_lost => {
                    control.lose_lease();
                    break;
                }
                Ok(claim) if claim.stopped => {
                    // Stopped by an alert, here or in another process before a takeover.
                    control.stop();
                    continue;
                }
                Ok(claim) if claim.sends.is_empty() => {
                    more_queued = false;
                    if buffer.is_empty() {
                        idle_since.get_or_insert_with(Instant::now);
                        let d = claim.next_ready_at.map_or(settings.poll_interval, |at| {
                            millis_until(at, now).min(settings.poll_interval)
                        });
                        wait(&control, &mut shutdown, d).await;
                        continue;
                    }
                }
                Ok(claim) => {
                    idle_since = None;
                    more_queued = claim.sends.len() >= claimed_for(batch);
                    buffer.extend(claim.sends);
                }
                Err(e) => {
                    tracing::warn!(number = %number.id, error = %e, "claiming sends failed");
                    more_queued = false;
                    if buffer.is_empty() {
                        wait(&control, &mut shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
        }
        // Less than a claim's worth in hand and more queued: the next claim starts now, so
        // the lane never stands still while its claim waits for the store's writer (at 200
        // busy numbers that wait is a good part of a second, and the lane used to send
        // nothing meanwhile).
        if prefetch.is_none() && more_queued && buffer.len() < claimed_for(batch) {
            prefetch = Some(start_claim(&inner, &control, &number.id, batch));
        }
        let Some(item) = buffer.pop_front() else {
            continue;
        };
        let now = inner.now();
        let key = item.recipient_key();

        // 1. The window, for a free-form send that waited past it.
        if let Some(detail) = window_closed(&inner, &item, now).await {
            submit(
                &inner,
                item,
                now,
                Outcome::NeedsTemplate {
                    error: None,
                    detail,
                },
            )
            .await;
            continue;
        }
        // 2. A recipient held back after 131056.
        if let Some(rest) = control.backoff_remaining(&key) {
            let not_before = plus(now, rest);
            defer(&inner, item, now, not_before, "pair_rate_backoff").await;
            continue;
        }
        // 3. The portfolio's messaging limit.
        if item.business_initiated
            && let Err(reached) = inner
                .admit_business_initiated(item.workspace, tier_limit, &key, now)
                .await
        {
            tracing::warn!(number = %number.id, limit = reached.limit, "messaging limit reached; sends wait");
            defer(&inner, item, now, reached.next_free_at, "messaging_limit").await;
            continue;
        }
        // 4. The number's pace.
        if let Err(wait_for) = limiter.check() {
            buffer.push_front(item);
            let d = wait_for.unwrap_or(settings.traffic_sample);
            wait(&control, &mut shutdown, d).await;
            continue;
        }
        // 5. The pair rate.
        if let Err(d) = pairs.check(&key) {
            defer(&inner, item, now, plus(now, d), "pair_rate").await;
            continue;
        }
        let Ok(lane_permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let Ok(global_permit) = inner.in_flight.clone().acquire_owned().await else {
            break;
        };
        // The lease fence, checked last, right before the request: if this process stalled
        // (or its store did) and no renewal succeeded in time, another process may be about
        // to take the lane over and queue its claimed sends again. The lane waits for the
        // next renewal; a lost lease ends it and gives the buffer up.
        if !control.within_fence() {
            drop((lane_permit, global_permit));
            buffer.push_front(item);
            if !fenced {
                tracing::warn!(number = %number.id, "no lease renewal in time; requests wait for the next one");
            }
            fenced = true;
            wait(&control, &mut shutdown, settings.lease_renew).await;
            continue;
        }
        fenced = false;
        tokio::spawn(attempt(
            inner.clone(),
            control.clone(),
            item,
            [lane_permit, global_permit],
        ));
    }
    // Handed sends and a claim still running go back with the rest.
    buffer.extend(control.close());
    if let Some(p) = prefetch.take()
        && let Ok(Ok(claim)) = p.await
    {
        buffer.extend(claim.sends);
    }
    let now = inner.now();
    for item in buffer.drain(..) {
        defer(&inner, item, now, now, "released").await;
    }
    // Every request in flight hands its result over before the lane counts as gone.
    let _ = slots
        .acquire_many(u32::try_from(lane_slots).unwrap_or(u32::MAX))
        .await;
    if let Some(s) = sampler {
        s.abort();
    }
    tracing::info!(number = %number.id, "lane stopped");
}

async fn submit(inner: &Inner, item: ClaimedSend, now: Timestamp, outcome: Outcome) {
    let result = AttemptResult {
        send: item,
        owner: inner.owner.clone(),
        started_at: now,
        finished_at: now,
        outcome,
    };
    if inner.results.send(result).await.is_err() {
        tracing::error!("the send committer is gone; a result was not recorded");
    }
}

pub(crate) async fn defer(
    inner: &Inner,
    item: ClaimedSend,
    now: Timestamp,
    not_before: Timestamp,
    why: &str,
) {
    inner.count(&item.number, |s| s.deferred += 1);
    let outcome = Outcome::Deferred {
        not_before,
        waiting: why.to_owned(),
    };
    submit(inner, item, now, outcome).await;
}

/// For a free-form send queued past the window it was decided in: `Some(detail)` when the
/// window is still closed now.
async fn window_closed(inner: &Inner, item: &ClaimedSend, now: Timestamp) -> Option<String> {
    let closes = item.window_closes_at?;
    if now < closes {
        return None;
    }
    match inner
        .store
        .last_inbound_at(&item.number, &item.customer)
        .await
    {
        Ok(last) => match Window::at(last, now) {
            Window::Open { .. } => None,
            Window::Closed { .. } => Some(
                "the customer-service window closed while the message waited in the queue \
                 (messages sent by the business, even from the app, do not reopen it); send an \
                 approved template"
                    .to_owned(),
            ),
        },
        Err(e) => {
            tracing::warn!(error = %e, "reading the window failed; Meta will decide");
            None
        }
    }
}

/// Meta's error (or the transport failure) as recorded on the attempt.
fn attempt_error(e: &GraphError) -> AttemptError {
    match e {
        GraphError::Api { status, body } => AttemptError {
            code: Some(body.code.code()),
            title: if body.message.is_empty() {
                body.code.title().to_owned()
            } else {
                body.message.clone()
            },
            detail: body.details().map(str::to_owned),
            http_status: Some(*status),
            response: serde_json::to_string(&body.clone().into_envelope()).ok(),
        },
        GraphError::Decode { status, .. } => AttemptError {
            code: None,
            title: "unreadable answer".into(),
            detail: Some(e.to_string()),
            http_status: Some(*status),
            response: None,
        },
        GraphError::Timeout => AttemptError {
            code: None,
            title: "timeout".into(),
            detail: Some(
                "no answer in time; the message may have reached Meta and is sent again".into(),
            ),
            http_status: None,
            response: None,
        },
        other => AttemptError {
            code: None,
            title: "transport".into(),
            detail: Some(other.to_string()),
            http_status: None,
            response: None,
        },
    }
}

async fn attempt(
    inner: Arc<Inner>,
    control: Arc<LaneControl>,
    item: ClaimedSend,
    permits: [OwnedSemaphorePermit; 2],
) {
    let [lane_permit, global_permit] = permits;
    let started_at = inner.now();
    inner.count(&item.number, |s| s.requests += 1);
    let outcome = match serde_json::from_str::<SendMessageRequest>(&item.request) {
        Err(e) => Outcome::Failed {
            error: AttemptError {
                title: "the stored request does not parse".into(),
                detail: Some(e.to_string()),
                ..AttemptError::default()
            },
        },
        Ok(req) => {
            let answer = inner.graph.send_message(&item.number, &req).await;
            react(&inner, &control, &item, answer).await
        }
    };
    // Meta answered: the shared slot goes to the next lane now, so a slow commit never holds
    // other numbers' requests back. The lane's own slot is kept until the result is handed
    // over (a full commit channel slows this lane down, and a stopping lane waits for it).
    drop(global_permit);
    let finished_at = inner.now();
    let result = AttemptResult {
        send: item,
        owner: inner.owner.clone(),
        started_at,
        finished_at,
        outcome,
    };
    if inner.results.send(result).await.is_err() {
        tracing::error!("the send committer is gone; a result was not recorded");
    }
    drop(lane_permit);
}

/// Turns Meta's answer into the send's outcome and the lane's reaction.
async fn react(
    inner: &Inner,
    control: &LaneControl,
    item: &ClaimedSend,
    answer: Result<SendMessageResponse, GraphError>,
) -> Outcome {
    let key = item.recipient_key();
    let number = &item.number;
    let e = match answer {
        Ok(resp) => {
            return match resp.message_id() {
                Some(wamid) => {
                    control.success(&key);
                    inner.count(number, |s| s.accepted += 1);
                    Outcome::Accepted {
                        wamid: wamid.clone(),
                        http_status: 200,
                        response: serde_json::to_string(&resp).unwrap_or_default(),
                    }
                }
                None => Outcome::Failed {
                    error: AttemptError {
                        title: "Meta's answer has no message id".into(),
                        http_status: Some(200),
                        response: serde_json::to_string(&resp).ok(),
                        ..AttemptError::default()
                    },
                },
            };
        }
        Err(e) => e,
    };
    let error = attempt_error(&e);
    let advice = e.retry();
    let class = e.code().map(|c| c.class());
    let now = inner.now();
    let jitter: f64 = rand::random();
    match class {
        Some(ErrorClass::Throughput) => inner.count(number, |s| s.throughput_errors += 1),
        Some(ErrorClass::PairRate) => inner.count(number, |s| s.pair_rate_errors += 1),
        _ => inner.count(number, |s| s.other_errors += 1),
    }
    match class {
        Some(ErrorClass::WindowClosed) => Outcome::NeedsTemplate {
            error: Some(error),
            detail: "Meta answered 131047: more than 24 hours since the customer's last \
                     message; send an approved template"
                .into(),
        },
        Some(ErrorClass::Throughput) => {
            let wait = control.pause(&advice, jitter);
            tracing::warn!(number = %number, wait_ms = wait.as_millis() as u64, "130429: the number's throughput was exceeded; pausing its lane");
            record_pause(inner, number, plus(now, wait), "throughput").await;
            Outcome::Retry {
                not_before: plus(now, wait),
                waiting: "throughput".into(),
                error,
            }
        }
        Some(ErrorClass::PairRate) => {
            let wait = control.pair_rate_hit(&key);
            Outcome::Retry {
                not_before: plus(now, wait),
                waiting: "pair_rate".into(),
                error,
            }
        }
        Some(ErrorClass::Auth) => stop(inner, control, item, error, now).await,
        _ if advice.needs_operator() => stop(inner, control, item, error, now).await,
        _ => match advice.backoff() {
            None => Outcome::Failed { error },
            Some(backoff) => match advice.scope {
                RetryScope::SendingNumber | RetryScope::Waba | RetryScope::App => {
                    let wait = control.pause(&advice, jitter);
                    tracing::warn!(number = %number, code = ?error.code, wait_ms = wait.as_millis() as u64, "number-wide condition; pausing the lane");
                    record_pause(inner, number, plus(now, wait), "paused").await;
                    Outcome::Retry {
                        not_before: plus(now, wait),
                        waiting: "paused".into(),
                        error,
                    }
                }
                RetryScope::Recipient => Outcome::Retry {
                    not_before: plus(now, backoff.delay(0, jitter)),
                    waiting: "recipient".into(),
                    error,
                },
                RetryScope::Request | RetryScope::Nobody => {
                    if item.attempt >= inner.settings.max_attempts {
                        Outcome::Failed { error }
                    } else {
                        let wait = backoff.delay(item.attempt.saturating_sub(1), jitter);
                        Outcome::Retry {
                            not_before: plus(now, wait),
                            waiting: "retry".into(),
                            error,
                        }
                    }
                }
            },
        },
    }
}

async fn record_pause(inner: &Inner, number: &PhoneNumberId, until: Timestamp, why: &str) {
    if let Err(e) = inner.store.pause_lane(number, until, why).await {
        tracing::warn!(number = %number, error = %e, "recording the pause failed");
    }
}

/// Stops the lane for an error a person must fix: the alert.
async fn stop(
    inner: &Inner,
    control: &LaneControl,
    item: &ClaimedSend,
    error: AttemptError,
    now: Timestamp,
) -> Outcome {
    control.stop();
    tracing::error!(
        number = %item.number,
        code = ?error.code,
        error = %error.title,
        "ALERT: Meta refused the number's send for a reason a person must fix (credentials, \
         permissions, policy or billing); its lane is stopped and its sends stay queued until \
         it is resumed (POST /v1/numbers/{{id}}/lane/resume)"
    );
    if let Err(e) = inner
        .store
        .stop_lane(&item.number, error.code, &error.title, now)
        .await
    {
        tracing::error!(number = %item.number, error = %e, "recording the stopped lane failed");
    }
    Outcome::Stopped { error }
}

/// Keeps a coexistence lane's rate at its share of the number's 20 MPS: what the customers
/// and the phone app used in the last seconds is left to them.
async fn sample_traffic(
    inner: Arc<Inner>,
    number: PhoneNumberId,
    throughput: Throughput,
    control: Arc<LaneControl>,
) {
    let span = inner.settings.traffic_span_secs.max(1);
    let span_ms = i64::try_from(span).unwrap_or(60).saturating_mul(1000);
    loop {
        tokio::time::sleep(inner.settings.traffic_sample).await;
        let now = inner.now();
        match inner
            .store
            .traffic_per_second(&number, now.plus_millis(-span_ms))
            .await
        {
            Ok(rows) => {
                let mut meter = RateMeter::new(span);
                for (sec, n) in rows {
                    meter.record(Timestamp::from_secs(sec), n);
                }
                let target = throughput.outbound_mps(meter.peak_per_sec(now));
                control.set_target_mps(target);
            }
            Err(e) => {
                tracing::warn!(number = %number, error = %e, "sampling the number's traffic failed")
            }
        }
    }
}
