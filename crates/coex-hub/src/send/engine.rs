//! The send engine of one hub process: it owns lanes (through their leases), runs one task
//! per owned lane, commits what the lanes' attempts answered, and reconciles sends with the
//! status webhooks.
//!
//! - **Leases.** Every `lease_renew` the manager renews the leases of the lanes it runs (one
//!   statement for all of them; a lane it missed is looked at alone), reads whether each
//!   number may send (one read), and takes the free (or expired) lanes that have work (for
//!   at most `lease_renew` per tick, so taking many lanes never delays the renewals); a local
//!   enqueue wakes it at once. Each lane starts requests only within its lease fence (see
//!   `LaneControl::renewed`): a stalled process stops sending before its lease can lapse. A
//!   lane whose renewal fails (another process took it over after a stall) stops before its
//!   next claim, and claims themselves check the lease, so one number is sent from by one
//!   process at a time. A dead process's lanes are taken over when their lease expires:
//!   `lease_ttl` (20 s by default) plus at most one `lease_renew` (5 s).
//! - **Fairness.** Each lane is its own task with its own limiters; numbers share nothing but
//!   the store, the HTTP client and a FIFO in-flight semaphore. A number with a million queued
//!   messages claims one second's worth at a time, so another number's first message waits
//!   for no one's backlog. Lanes claim through one [`ClaimQueue`]: whatever lanes asked
//!   meanwhile is claimed in one transaction, so claims cost the store few commits.
//! - **Commits.** Attempt results go through a channel to the committers (one on SQLite, its
//!   single writer; three on PostgreSQL, writing batches in parallel), which write them in
//!   batches: the store's write rate stays far below the send rate. A busy committer gathers
//!   `commit_linger` of results and writes them sorted by number, a hundred per transaction,
//!   so a number's results share the pages they rewrite (see [`RESULTS_PER_TRANSACTION`]).
//!   A full channel slows the lanes down rather than dropping a result.
//! - **Reconciliation.** Every `reconcile_interval`, failed status webhooks are matched to
//!   their sends (131047 turns a send into `needs_template` and is reported in the log), and
//!   sends no status confirmed within `unconfirmed_after` become `sent_unconfirmed`.
//!
//! [`SendEngine::run`] drives every lane of the store against whatever Graph API the client
//! points at until shutdown, so a benchmark can run it in process against the emulator.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use coex_core::PhoneNumberId;
use coex_core::model::{Number, Timestamp, WorkspaceId};
use coex_core::policy::pacing::{LimitReached, MessagingLimit};
use coex_meta::graph::GraphClient;
use coex_store::send::{
    AttemptResult, Claim, ClaimedSend, LaneOwner, LeaseOutcome, ReconcileWindow, SendStore,
};
use coex_store::{SqlStore, Store};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::SendSettings;
use super::claims::ClaimQueue;
use super::lane::{self, LaneControl};
use crate::ingest::Clock;

/// Counters of one number's lane in this process, since start.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LaneStats {
    /// Requests made to Meta.
    pub requests: u64,
    pub accepted: u64,
    /// 130429 answers (the number's throughput).
    pub throughput_errors: u64,
    /// 131056 answers (the pair rate).
    pub pair_rate_errors: u64,
    /// Other error answers and transport failures.
    pub other_errors: u64,
    /// Sends put back without a request (pair rate, messaging limit).
    pub deferred: u64,
    /// Sends claimed when they were queued and handed to the running lane.
    pub handed: u64,
    /// The outbound rate the lane paces at now.
    pub mps: u32,
}

/// Lanes taken in one transaction.
const TAKE_ROUND: usize = 64;

pub(crate) struct Inner {
    pub store: SqlStore,
    pub graph: GraphClient,
    pub settings: SendSettings,
    pub clock: Clock,
    pub owner: LaneOwner,
    /// Lanes this process runs.
    // Why a std Mutex: held only to look up or swap entries, never across an await.
    lanes: Mutex<HashMap<PhoneNumberId, RunningLane>>,
    /// Numbers with a fresh local enqueue and no local lane yet.
    // Why a std Mutex: enqueues add to the set, the manager drains it; never across an await.
    wanted: Mutex<HashSet<PhoneNumberId>>,
    // Why a Notify: an enqueue for a number without a local lane wakes the manager at once
    // instead of after its next tick.
    manager_wake: Notify,
    pub results: mpsc::Sender<AttemptResult>,
    // Why a Mutex around an Option: `run` takes the receiver once, from a shared `Inner`.
    receiver: Mutex<Option<mpsc::Receiver<AttemptResult>>>,
    /// Bounds requests in flight over all lanes.
    // Why a Semaphore: tokio's is FIFO, so lanes waiting for a slot are served in turn and no
    // number can starve the others.
    pub in_flight: Arc<Semaphore>,
    /// The portfolio messaging limit per workspace (business-initiated sends).
    // Why a std Mutex: every lane of a workspace counts into one limit; held for a lookup
    // and an insert, never across an await (seeding reads the store before locking).
    limits: Mutex<HashMap<WorkspaceId, (tokio::time::Instant, MessagingLimit<String>)>>,
    // Why a std Mutex: counters bumped in passing by lanes and attempts, read by the API.
    stats: Mutex<HashMap<PhoneNumberId, LaneStats>>,
    /// The lanes' group claims, started by [`SendEngine::run`] (it needs the runtime).
    claims: OnceLock<ClaimQueue>,
}

struct RunningLane {
    control: Arc<LaneControl>,
    task: JoinHandle<()>,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct SendEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SendEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendEngine")
            .field("owner", &self.inner.owner)
            .finish_non_exhaustive()
    }
}

impl SendEngine {
    pub fn new(store: SqlStore, graph: GraphClient, settings: SendSettings, clock: Clock) -> Self {
        let owner = LaneOwner::new(settings.owner_name());
        // Why a bounded channel: if the store cannot keep up, lanes wait to hand over
        // results instead of queueing them without limit in memory. Two batches: one being
        // committed, the next filling.
        let (results, receiver) = mpsc::channel(settings.commit_max_batch.max(32) * 2);
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Self {
            inner: Arc::new(Inner {
                store,
                graph,
                settings,
                clock,
                owner,
                lanes: Mutex::new(HashMap::new()),
                wanted: Mutex::new(HashSet::new()),
                manager_wake: Notify::new(),
                results,
                receiver: Mutex::new(Some(receiver)),
                in_flight,
                limits: Mutex::new(HashMap::new()),
                stats: Mutex::new(HashMap::new()),
                claims: OnceLock::new(),
            }),
        }
    }

    /// This process's name on leases and claims.
    pub fn owner(&self) -> &LaneOwner {
        &self.inner.owner
    }

    /// A send was queued for `number`: wake its lane, or get one started.
    pub fn notify(&self, number: &PhoneNumberId) {
        match self.running_lane(number) {
            Some(control) => control.wake(),
            None => {
                self.inner
                    .wanted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(number.clone());
                self.inner.manager_wake.notify_one();
            }
        }
    }

    /// This process's owner name when `number`'s lane runs here: a send queued for it can
    /// then be claimed in the enqueue's own transaction ([`SendStore::decide_and_enqueue`]).
    pub fn local_lane(&self, number: &PhoneNumberId) -> Option<&LaneOwner> {
        self.running_lane(number).map(|_| &self.inner.owner)
    }

    /// The control of `number`'s lane when it runs in this process.
    fn running_lane(&self, number: &PhoneNumberId) -> Option<Arc<LaneControl>> {
        self.inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(number)
            .filter(|l| !l.task.is_finished())
            .map(|l| l.control.clone())
    }

    /// Gives a send claimed when it was queued to its lane, which sends it without a claim
    /// of its own. If the lane ended meanwhile, the send goes back to the queue (through the
    /// committer, like any released send) and a lane is asked for.
    pub async fn hand_over(&self, send: ClaimedSend) {
        let number = send.number.clone();
        let refused = match self.running_lane(&number) {
            Some(c) => c.hand_over(send),
            None => Some(send),
        };
        match refused {
            None => self.inner.count(&number, |s| s.handed += 1),
            Some(send) => {
                let now = self.inner.now();
                lane::defer(&self.inner, send, now, now, "released").await;
                self.notify(&number);
            }
        }
    }

    /// A lane stopped by an alert was resumed: let it claim again at once.
    pub fn resumed(&self, number: &PhoneNumberId) {
        if let Some(c) = self.running_lane(number) {
            c.resume();
        }
        self.notify(number);
    }

    /// Counters per number, for metrics and benchmarks.
    pub fn stats(&self) -> HashMap<PhoneNumberId, LaneStats> {
        self.inner
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Numbers whose lane runs in this process.
    pub fn running_lanes(&self) -> Vec<PhoneNumberId> {
        let mut v: Vec<PhoneNumberId> = self
            .inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, l)| !l.task.is_finished())
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }

    /// Runs lanes, the committer and the reconciler until `shutdown` turns true, then lets
    /// in-flight requests finish, commits their results and releases the leases.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Some(receiver) = self
            .inner
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            tracing::error!("the send engine is already running");
            return;
        };
        // Why a watch: the committers stop once, after every lane has handed over its last
        // result (other clones of the engine keep the channel itself open).
        let (stop_commit, commit_stop) = watch::channel(false);
        // Why a tokio Mutex around the receiver: the committers take turns collecting a batch
        // (held across the wait for the first result and, when busy, the linger, so one
        // committer gathers at a time) and write their batches concurrently.
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        // PostgreSQL writes batches in parallel; SQLite has one writer, so one committer.
        let committers = match self.inner.store.backend_name() {
            "postgres" => 3,
            _ => 1,
        };
        let committers: Vec<JoinHandle<()>> = (0..committers)
            .map(|_| {
                tokio::spawn(commit_loop(
                    self.inner.clone(),
                    receiver.clone(),
                    commit_stop.clone(),
                ))
            })
            .collect();
        let _ = self.inner.claims.set(ClaimQueue::start(
            self.inner.store.clone(),
            self.inner.owner.clone(),
            self.inner.clock.clone(),
        ));
        let reconciler = tokio::spawn(reconcile_loop(self.inner.clone(), shutdown.clone()));
        tracing::info!(owner = %self.inner.owner, "send engine started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.manage(&shutdown).await;
            // Why select!: the manager ticks every `lease_renew`, wakes early for a local
            // enqueue, and stops at shutdown.
            tokio::select! {
                _ = shutdown.changed() => {}
                () = self.inner.manager_wake.notified() => {}
                () = tokio::time::sleep(self.inner.settings.lease_renew) => {}
            }
        }
        let lanes: Vec<(PhoneNumberId, RunningLane)> = self
            .inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for (_, lane) in &lanes {
            lane.control.wake();
        }
        for (number, lane) in lanes {
            if let Err(e) = lane.task.await {
                tracing::warn!(number = %number, error = %e, "lane ended abnormally");
            }
            if let Err(e) = self
                .inner
                .store
                .release_lane(&number, &self.inner.owner)
                .await
            {
                tracing::warn!(number = %number, error = %e, "could not release the lane");
            }
        }
        let _ = reconciler.await;
        let _ = stop_commit.send(true);
        for committer in committers {
            let _ = committer.await;
        }
        tracing::info!("send engine stopped");
    }

    /// One manager tick: renew what runs, take what waits.
    async fn manage(&self, shutdown: &watch::Receiver<bool>) {
        let inner = &self.inner;
        let now = (inner.clock)();
        let ttl = i64::try_from(inner.settings.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut ended: Vec<PhoneNumberId> = Vec::new();
        let running: Vec<(PhoneNumberId, Arc<LaneControl>)> = {
            let mut lanes = inner.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            lanes.retain(|n, l| {
                let done = l.task.is_finished();
                if done {
                    ended.push(n.clone());
                }
                !done
            });
            lanes
                .iter()
                .map(|(n, l)| (n.clone(), l.control.clone()))
                .collect()
        };
        // A lane that ended (idle, or its lease lost) gives its lease up, so the renewal of
        // all this process's leases below does not keep it.
        for number in &ended {
            if let Err(e) = inner.store.release_lane(number, &inner.owner).await {
                tracing::warn!(number = %number, error = %e, "could not release the lane");
            }
        }
        // Every lease this process holds, renewed in one statement; only the lanes it missed
        // (lapsed, or taken over) are looked at one by one.
        // `started` before the lease's timestamp: the fence never outlives the lease.
        let started = tokio::time::Instant::now();
        let renewed: HashSet<PhoneNumberId> = if running.is_empty() {
            HashSet::new()
        } else {
            match inner
                .store
                .renew_lanes(&inner.owner, (inner.clock)(), ttl)
                .await
            {
                Ok(v) => v.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "lease renewal failed");
                    HashSet::new()
                }
            }
        };
        for (number, control) in &running {
            if renewed.contains(number) {
                control.renewed(started, &inner.settings);
            } else {
                let started = tokio::time::Instant::now();
                let now = (inner.clock)();
                match inner
                    .store
                    .acquire_lane(number, &inner.owner, now, ttl)
                    .await
                {
                    Ok(LeaseOutcome::Renewed | LeaseOutcome::Acquired { .. }) => {
                        control.renewed(started, &inner.settings);
                    }
                    Ok(LeaseOutcome::Busy { owner, .. }) => {
                        tracing::warn!(number = %number, %owner, "lane lease lost to another process");
                        control.lose_lease();
                    }
                    Err(e) => tracing::warn!(number = %number, error = %e, "lease renewal failed"),
                }
            }
        }
        // Whether each number may send, for all of them in one read.
        if !running.is_empty() {
            match inner.store.list_numbers(None).await {
                Ok(numbers) => {
                    let states: HashMap<PhoneNumberId, bool> = numbers
                        .into_iter()
                        .map(|n| (n.id, n.state.can_send()))
                        .collect();
                    for (number, control) in &running {
                        if let Some(can) = states.get(number) {
                            control.set_can_send(*can);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading the numbers failed"),
            }
        }
        let mut candidates: Vec<PhoneNumberId> = inner
            .wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        match inner.store.lanes_wanting_owner(&inner.owner, now).await {
            Ok(found) => candidates.extend(found),
            Err(e) => tracing::warn!(error = %e, "listing lanes with work failed"),
        }
        candidates.sort();
        candidates.dedup();
        candidates.retain(|number| !running.iter().any(|(n, _)| n == number));
        // The free lanes are taken in rounds of one transaction each (a commit per lane would
        // start 200 lanes at the store's fsync rate), for at most `lease_renew` per tick, so
        // taking many lanes never delays the renewal of those that run (their lease fence):
        // the rest are taken at the next tick, right away.
        let tick = tokio::time::Instant::now();
        let mut numbers: Option<HashMap<PhoneNumberId, Number>> = None;
        for round in candidates.chunks(TAKE_ROUND) {
            if tick.elapsed() >= inner.settings.lease_renew {
                inner.manager_wake.notify_one();
                break;
            }
            let started = tokio::time::Instant::now();
            let now = (inner.clock)();
            let outcomes = match inner
                .store
                .acquire_lanes(round, &inner.owner, now, ttl)
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(lanes = round.len(), error = %e, "taking lanes failed");
                    break;
                }
            };
            for (number, outcome) in round.iter().zip(outcomes) {
                if !matches!(
                    outcome,
                    LeaseOutcome::Acquired { .. } | LeaseOutcome::Renewed
                ) {
                    continue;
                }
                if numbers.is_none() {
                    match inner.store.list_numbers(None).await {
                        Ok(all) => {
                            numbers = Some(all.into_iter().map(|n| (n.id.clone(), n)).collect());
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "reading the numbers failed");
                            break;
                        }
                    }
                }
                match numbers.as_mut().and_then(|all| all.remove(number)) {
                    Some(n) => self.start_lane(n, started, shutdown.clone()),
                    None => {
                        tracing::warn!(number = %number, "cannot start the lane: unknown number")
                    }
                }
            }
        }
    }

    fn start_lane(
        &self,
        number: Number,
        leased_at: tokio::time::Instant,
        shutdown: watch::Receiver<bool>,
    ) {
        let control = Arc::new(LaneControl::new(&number, &self.inner.settings, leased_at));
        let id = number.id.clone();
        tracing::info!(number = %id, kind = %number.kind, "lane started");
        let task = tokio::spawn(lane::run(
            self.inner.clone(),
            number,
            control.clone(),
            shutdown,
        ));
        self.inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, RunningLane { control, task });
    }
}

impl Inner {
    /// Claims up to `limit` ready sends of `number` for this process, with the other lanes'
    /// claims when the engine runs.
    pub async fn claim(
        &self,
        number: &PhoneNumberId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Claim, String> {
        match self.claims.get() {
            Some(q) => q.claim(number, limit).await.map_err(|e| e.to_string()),
            None => self
                .store
                .claim_sends(number, &self.owner, now, limit)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn count(&self, number: &PhoneNumberId, f: impl FnOnce(&mut LaneStats)) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        f(stats.entry(number.clone()).or_default());
    }

    /// Counts a business-initiated send against the workspace's messaging limit, or says
    /// when a slot frees. The in-memory count is seeded from the store and re-read every
    /// few minutes, so sends made by other processes are counted too (with that lag).
    pub async fn admit_business_initiated(
        &self,
        workspace: WorkspaceId,
        limit: Option<u32>,
        recipient: &str,
        now: Timestamp,
    ) -> Result<(), LimitReached> {
        const RESEED: Duration = Duration::from_secs(120);
        if limit.is_none() {
            // An unlimited tier counts nothing; the seed is read when a limit appears.
            self.limits
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&workspace);
            return Ok(());
        }
        let stale = {
            let mut limits = self.limits.lock().unwrap_or_else(PoisonError::into_inner);
            match limits.get_mut(&workspace) {
                None => true,
                Some((at, _)) if at.elapsed() >= RESEED => {
                    // This lane re-reads the seed; the others go on with the current count
                    // meanwhile instead of all reading it at once.
                    *at = tokio::time::Instant::now();
                    true
                }
                Some(_) => false,
            }
        };
        if stale {
            let since = now.plus_millis(-coex_core::policy::pacing::MESSAGING_LIMIT_WINDOW_MS);
            match self.store.business_initiated_since(workspace, since).await {
                Ok(seen) => {
                    let mut fresh = MessagingLimit::new(limit);
                    let mut seen = seen;
                    seen.sort_by_key(|(_, at)| *at);
                    for (r, at) in seen {
                        // Seeding never refuses: these were sent already.
                        let _ = fresh.admit(r, at);
                    }
                    self.limits
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(workspace, (tokio::time::Instant::now(), fresh));
                }
                Err(e) => tracing::warn!(error = %e, "reading the messaging limit failed"),
            }
        }
        let mut limits = self.limits.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, l) = limits
            .entry(workspace)
            .or_insert_with(|| (tokio::time::Instant::now(), MessagingLimit::new(limit)));
        l.set_limit(limit);
        l.admit(recipient.to_owned(), now).map(|_| ())
    }
}

/// Results per second (over at least [`RATE_WINDOW`]) above which a committer counts as busy:
/// it then gathers results for `commit_linger` before writing them; below it, a result is
/// written as soon as it arrives.
const BUSY_RESULTS_PER_SEC: f64 = 100.0;

/// Results written per transaction, a batch's results sorted by number first.
///
/// Every accepted send rewrites pages of its own (its message in two random-key indexes, its
/// conversation) and pages of its number (the send rows, which a number's campaign queued
/// side by side; the number's entries in the claimed-sends, ledger, attempts and inbox-order
/// indexes). Results written in arrival order come one per number, so each paid for its
/// number's pages alone: on SQLite about eight pages per send, written to the WAL and again
/// by the checkpoint (23 GB in a 2-minute send benchmark at 3,500 sends/s), and the fsyncs of
/// that volume were most of an idle number's enqueue time. A busy committer's batch holds
/// half a second of results (about nine per number at 18 MPS), and sorted by number they
/// share their number's pages: the same benchmark wrote 10 GB. A transaction per hundred
/// results (a dozen numbers) keeps each commit's frames, and so the fsync a transaction
/// committed right after it waits for, small: in one transaction the batch's 10 MB of frames
/// made that wait 20-35 ms (idle enqueue-to-request p99: 63 ms; with transactions of 100,
/// 21-28 ms; of 50, no better, with more commits).
const RESULTS_PER_TRANSACTION: usize = 100;

/// Writes attempt results in batches until told to stop, then writes what is left.
async fn commit_loop(
    inner: Arc<Inner>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<AttemptResult>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut batcher = Batcher::new(
        inner.settings.commit_max_batch,
        inner.settings.commit_linger,
    );
    let store = inner.store.clone();
    let clock = inner.clock.clone();
    drop(inner);
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            batcher.next(&mut rx, &mut stop).await
        };
        let Some(mut batch) = batch else { break };
        // A stable sort: results for one send (a retry's) keep their order.
        batch.sort_by(|a, b| a.send.number.cmp(&b.send.number));
        for results in batch.chunks(RESULTS_PER_TRANSACTION) {
            commit_results(&store, results, &clock).await;
        }
    }
}

/// How a committer cuts the results coming in into batches: whatever waits when it is quiet,
/// `linger` of them when it is busy (see [`BUSY_RESULTS_PER_SEC`]).
#[derive(Debug)]
struct Batcher {
    max: usize,
    linger: Duration,
    /// When the last batch was taken.
    last_taken: Option<tokio::time::Instant>,
    /// Results taken since the window's start; once it spans [`RATE_WINDOW`], their rate
    /// says whether the committer is busy (gathers the next batches) until the next look.
    window: Option<(tokio::time::Instant, usize)>,
    busy: bool,
    stopping: bool,
}

/// The shortest time over which the rate of results is judged: a few results taken one
/// right after the other are no sign of a busy sender.
const RATE_WINDOW: Duration = Duration::from_millis(100);

impl Batcher {
    fn new(max: usize, linger: Duration) -> Self {
        Self {
            max: max.max(1),
            linger,
            last_taken: None,
            window: None,
            busy: false,
            stopping: false,
        }
    }

    /// Waits for the next batch: the first result and whatever waits with it, up to `max`;
    /// when busy, more until `linger` after the last batch was taken. Once `stop` says so,
    /// it takes what waits without waiting, and `None` when nothing is left.
    async fn next<T>(
        &mut self,
        rx: &mut mpsc::Receiver<T>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Vec<T>> {
        if self.stopping {
            return None;
        }
        self.stopping = *stop.borrow();
        let first = if self.stopping {
            rx.try_recv().ok()
        } else {
            // Why select!: wait for the next result, or for the order to finish.
            tokio::select! {
                r = rx.recv() => r,
                _ = stop.changed() => {
                    self.stopping = true;
                    rx.try_recv().ok()
                }
            }
        };
        let mut batch = vec![first?];
        let until = self
            .last_taken
            .filter(|_| self.busy)
            .map(|at| at + self.linger);
        while self.stopping || batch.len() < self.max {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) if self.stopping => break,
                Err(_) => {
                    let Some(until) = until else { break };
                    // Why select!: more results until the batch closes, or the order to
                    // finish (whatever waits is then taken at once).
                    tokio::select! {
                        r = tokio::time::timeout_at(until, rx.recv()) => match r {
                            Ok(Some(r)) => batch.push(r),
                            Ok(None) | Err(_) => break,
                        },
                        _ = stop.changed() => self.stopping = true,
                    }
                }
            }
        }
        let taken = tokio::time::Instant::now();
        self.last_taken = Some(taken);
        // The first batch starts the window: how long its results took to come is unknown.
        let (since, count) = match self.window {
            Some((since, count)) => (since, count + batch.len()),
            None => (taken, 0),
        };
        let span = taken - since;
        self.window = if span >= RATE_WINDOW {
            self.busy = count as f64 >= BUSY_RESULTS_PER_SEC * span.as_secs_f64();
            Some((taken, 0))
        } else {
            Some((since, count))
        };
        Some(batch)
    }
}

/// Writes `results` in as many transactions as the store takes to give way to interactive
/// ones (`finish_attempts_some`); a failed one is written again from where the last success
/// stopped, so nothing is dropped or applied twice.
async fn commit_results(store: &SqlStore, results: &[AttemptResult], clock: &Clock) {
    let mut written = 0;
    let mut wait = Duration::from_millis(50);
    while written < results.len() {
        let started = std::time::Instant::now();
        match store
            .finish_attempts_some(&results[written..], clock())
            .await
        {
            Ok((n, summary)) => {
                written += n;
                tracing::debug!(
                    results = n,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "send results committed"
                );
                if summary.stale > 0 {
                    tracing::warn!(
                        stale = summary.stale,
                        "results for sends taken over by another owner"
                    );
                }
            }
            Err(e) => {
                // Nothing is dropped: the rest is written again until the store is back.
                tracing::error!(error = %e, results = results.len() - written, "committing send results failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn reconcile_loop(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let timeout = i64::try_from(inner.settings.unconfirmed_after.as_millis()).unwrap_or(i64::MAX);
    let start = inner.now();
    // At start, look back far enough to cover what happened while no process ran.
    let mut failed_since = start.plus_millis(-3_600_000);
    let mut accepted_from = start.plus_millis(-timeout).plus_millis(-3_600_000);
    loop {
        // Why select!: reconcile every interval until shutdown.
        tokio::select! {
            _ = shutdown.changed() => {}
            () = tokio::time::sleep(inner.settings.reconcile_interval) => {}
        }
        if *shutdown.borrow() {
            break;
        }
        let now = inner.now();
        let window = ReconcileWindow {
            failed_since,
            accepted_from,
            accepted_to: now.plus_millis(-timeout),
        };
        match inner.store.reconcile_sends(&window, now).await {
            Ok(r) => {
                for id in &r.needs_template {
                    tracing::warn!(send = %id, "Meta failed the message with 131047: the customer-service window is closed; send a template");
                }
                for id in &r.failed {
                    tracing::info!(send = %id, "Meta reported the message failed");
                }
                for id in &r.unconfirmed {
                    tracing::warn!(send = %id, "Meta accepted the message but no status webhook confirmed it");
                }
                // Statuses are stamped when received and may commit a little later.
                failed_since = now.plus_millis(-60_000);
                accepted_from = window.accepted_to;
            }
            Err(e) => tracing::warn!(error = %e, "reconciling sends failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use coex_core::model::WorkspaceSlug;
    use coex_meta::graph::GraphConfig;
    use tokio::time::Instant;

    use super::*;

    const LINGER: Duration = Duration::from_millis(500);

    /// Sends `0..` into `tx`, one every `every`, until the receiver is gone.
    fn produce(tx: mpsc::Sender<u32>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            for i in 0.. {
                if tx.send(i).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_committer_takes_each_result_at_once() {
        let (tx, mut rx) = mpsc::channel(16);
        let (_stop_tx, mut stop) = watch::channel(false);
        let mut batcher = Batcher::new(100, LINGER);
        // Ten results a second: under the busy rate.
        let start = Instant::now();
        let producer = produce(tx, Duration::from_millis(100));
        for i in 0..20 {
            let batch = batcher.next(&mut rx, &mut stop).await;
            assert_eq!(batch, Some(vec![i]), "each result is a batch of its own");
            assert_eq!(
                start.elapsed(),
                Duration::from_millis(100) * i,
                "taken the moment it arrived"
            );
        }
        producer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_committer_gathers_for_the_linger_and_stops_when_results_slow_down() {
        let (tx, mut rx) = mpsc::channel(10_000);
        let (_stop_tx, mut stop) = watch::channel(false);
        let mut batcher = Batcher::new(10_000, LINGER);
        // A thousand results a second: busy.
        let producer = produce(tx.clone(), Duration::from_millis(1));
        // Until the rate is first judged, after a tenth of a second, each result goes at once.
        let start = Instant::now();
        let mut singles = 0;
        while batcher
            .next(&mut rx, &mut stop)
            .await
            .expect("a batch")
            .len()
            == 1
        {
            singles += 1;
            assert!(start.elapsed() <= RATE_WINDOW, "{singles} single results");
        }
        // Busy: every batch closes a linger after the one before, with half a second of
        // results.
        let mut last = Instant::now();
        let mut sizes = Vec::new();
        for _ in 0..4 {
            let batch = batcher.next(&mut rx, &mut stop).await.expect("a batch");
            let now = Instant::now();
            sizes.push((batch.len(), now - last));
            last = now;
        }
        for &(len, gap) in &sizes {
            assert_eq!(gap, LINGER, "{sizes:?}");
            assert!((490..=510).contains(&len), "{sizes:?}");
        }
        // Results slow down to 20 a second: one more lingering batch, then at once again.
        producer.abort();
        let start = Instant::now();
        let producer = produce(tx, Duration::from_millis(50));
        let batch = batcher.next(&mut rx, &mut stop).await.expect("a batch");
        assert!(batch.len() < 20, "{}", batch.len());
        for _ in 0..3 {
            let batch = batcher.next(&mut rx, &mut stop).await.expect("a batch");
            assert_eq!(batch.len(), 1, "quiet again");
            assert_eq!(
                start.elapsed().as_millis() % 50,
                0,
                "taken the moment it arrived"
            );
        }
        producer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopping_committer_takes_everything_waiting_then_ends() {
        let (tx, mut rx) = mpsc::channel(100);
        let (stop_tx, mut stop) = watch::channel(false);
        let mut batcher = Batcher::new(2, LINGER);
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(batcher.next(&mut rx, &mut stop).await, Some(vec![0, 1]));
        stop_tx.send(true).unwrap();
        assert_eq!(
            batcher.next(&mut rx, &mut stop).await,
            Some(vec![2, 3, 4]),
            "past the batch limit"
        );
        tx.send(5).await.unwrap();
        assert_eq!(batcher.next(&mut rx, &mut stop).await, None, "ended");
    }

    #[tokio::test]
    async fn messaging_limit_counts_unique_recipients() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let ws = store
            .ensure_workspace(&WorkspaceSlug::parse("acme").unwrap(), "Acme")
            .await
            .unwrap();
        let graph = GraphClient::new(&GraphConfig::new(
            "http://127.0.0.1:9",
            coex_core::Secret::default(),
        ))
        .unwrap();
        let clock: Clock = Arc::new(Timestamp::now);
        let engine = SendEngine::new(store.clone(), graph, SendSettings::default(), clock);
        let inner = &engine.inner;
        let t0 = Timestamp::from_secs(1_780_000_000);
        let admit = |who: &'static str, at: Timestamp| {
            inner.admit_business_initiated(ws.id, Some(2), who, at)
        };
        assert!(admit("a", t0).await.is_ok());
        assert!(admit("b", t0.plus_millis(1)).await.is_ok());
        // A third customer waits until the first slot frees, 24 h after it was taken.
        let refused = admit("c", t0.plus_millis(2)).await.unwrap_err();
        assert_eq!(refused.next_free_at, t0.plus_millis(86_400_000));
        // Customers already counted may receive more.
        assert!(admit("a", t0.plus_millis(3)).await.is_ok());
        assert!(admit("c", t0.plus_millis(86_400_001)).await.is_ok());
        store.close().await;
    }
}
