//! The engine: the world behind its lock, the virtual clock, and the loop that runs timers.
//!
//! Everything due at the clock's "now" is run by [`Engine::drain`], in due order; webhook
//! attempts found on the way are made over HTTP outside the lock, concurrently when they are
//! due at the same instant, and their results recorded (which may schedule retries). The
//! driver task calls `drain` whenever the next timer is due in real time; the control API
//! calls it right after a jump or an action, so when `advance 14d` returns, 14 days of timers
//! have run and their webhooks have been attempted.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::{Mutex, MutexGuard, Notify, watch};

use crate::clock::{SimClock, SimTime};
use crate::delivery;
use crate::world::{AttemptJob, World};

/// Most tasks one drain runs before yielding (a guard against a runaway feedback loop).
const MAX_TASKS_PER_DRAIN: usize = 1_000_000;

/// Timers run in one hold of the world's lock. Busy numbers make thousands of statuses due
/// every second, and a drain that fell behind (the machine was busy) ran all of them in one
/// hold: every Graph request waited meanwhile, then went through in a bunch.
const TASKS_PER_HOLD: usize = 256;

/// Shared by the Graph API, the control API and the driver.
#[derive(Debug)]
pub struct Engine {
    pub clock: SimClock,
    // Why one async Mutex around the whole world: every request reads and writes several
    // parts at once (limits, windows, ids, the timer queue, the outbox), and Meta's rules must
    // see one consistent state; an emulator's load does not need finer locks. It is never
    // held across network I/O (webhook attempts run after it is released).
    world: Mutex<World>,
    // Why a Notify: the driver sleeps until the next timer; anything that schedules an earlier
    // one wakes it to recompute its sleep.
    wake: Notify,
    // Why a second Mutex: drains must not interleave, or a timer could run twice out of order
    // and retries could be recorded against the wrong attempt; holding it across the attempts
    // is what lets `advance` return only once the work it caused is done.
    drain_lock: Mutex<()>,
    http: reqwest::Client,
}

impl Engine {
    pub fn new(clock: SimClock, world: World) -> Arc<Self> {
        Arc::new(Self {
            clock,
            world: Mutex::new(world),
            wake: Notify::new(),
            drain_lock: Mutex::new(()),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(16)
                .build()
                .unwrap_or_default(),
        })
    }

    /// Locks the world (for reads and writes that schedule nothing urgent).
    pub async fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().await
    }

    /// Runs `f` on the world at virtual "now" and wakes the driver if it scheduled anything.
    pub async fn mutate<R>(&self, f: impl FnOnce(&mut World, SimTime) -> R) -> R {
        self.mutate_at(self.clock.now(), f).await
    }

    /// [`Engine::mutate`] at `now`, an instant taken earlier: when a request arrived, so the
    /// time it waited for the world does not move it (see `graph_api::log::Arrival`).
    pub async fn mutate_at<R>(&self, now: SimTime, f: impl FnOnce(&mut World, SimTime) -> R) -> R {
        let (out, woke) = {
            let mut w = self.world.lock().await;
            let out = f(&mut w, now);
            let woke = std::mem::take(&mut w.woke);
            (out, woke)
        };
        if woke {
            self.wake.notify_one();
        }
        out
    }

    /// Runs every timer due at the clock's now, with the webhook attempts they cause, until
    /// nothing more is due. Returns the number of tasks run.
    pub async fn drain(&self) -> usize {
        let _serial = self.drain_lock.lock().await;
        let mut ran = 0usize;
        loop {
            let now = self.clock.now();
            let (jobs, timeout, held_full) = {
                let mut w = self.world.lock().await;
                w.woke = false;
                let mut jobs: Vec<AttemptJob> = Vec::new();
                // Stop at the first attempt's instant, so webhooks leave in the order of the
                // events that caused them (a `sent` before its `delivered`).
                let mut barrier: Option<SimTime> = None;
                let mut in_this_hold = 0usize;
                while let Some(due) = w.sched.next_due() {
                    if due > now
                        || barrier.is_some_and(|b| due > b)
                        || ran >= MAX_TASKS_PER_DRAIN
                        || in_this_hold == TASKS_PER_HOLD
                    {
                        break;
                    }
                    let Some((at, task)) = w.sched.pop_due(now) else {
                        break;
                    };
                    ran += 1;
                    in_this_hold += 1;
                    if let Some(job) = w.run_task(at, task) {
                        barrier.get_or_insert(at);
                        jobs.push(job);
                    }
                }
                (
                    jobs,
                    w.settings.attempt_timeout,
                    in_this_hold == TASKS_PER_HOLD,
                )
            };
            if jobs.is_empty() {
                if held_full {
                    // Let the requests waiting for the world in (see `TASKS_PER_HOLD`).
                    tokio::task::yield_now().await;
                    continue;
                }
                break;
            }
            let outcomes = join_all(
                jobs.iter()
                    .map(|job| delivery::attempt(&self.http, job, timeout)),
            )
            .await;
            let mut w = self.world.lock().await;
            for (job, outcome) in jobs.iter().zip(outcomes) {
                w.record_attempt(job, outcome);
            }
            if ran >= MAX_TASKS_PER_DRAIN {
                tracing::warn!("drain stopped after {ran} tasks");
                break;
            }
        }
        ran
    }

    /// Jumps the clock forward and runs everything that became due.
    pub async fn advance(&self, by: Duration) -> SimTime {
        let now = self.clock.advance(by);
        self.drain().await;
        now
    }

    /// The HTTP client webhook attempts and callback checks use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Wakes the driver (something may be due sooner).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs timers as virtual time passes until `shutdown` turns true.
    pub async fn drive(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.drain().await;
            let next = self.world.lock().await.sched.next_due();
            let wait = next.and_then(|t| self.clock.real_wait_until(t));
            // Why select: sleep until whichever comes first — the next timer is due in real
            // time, something scheduled an earlier timer (wake), the clock jumped or changed
            // speed, or the server is shutting down.
            tokio::select! {
                () = sleep_or_forever(wait) => {}
                () = self.wake.notified() => {}
                () = self.clock.changed() => {}
                changed = shutdown.changed() => {
                    // The sender is gone: nobody can stop us any more, so stop now.
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        // At least a millisecond, so a busy clock does not spin.
        Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
        None => std::future::pending().await,
    }
}
