//! Who goes first at the SQLite writer: transactions a caller waits on before group commits.
//!
//! SQLite has one writer connection, and the group commits (webhook batches, the send
//! engine's claims and results, reconciliation) keep it busy with transactions of hundreds of
//! rows. A short transaction someone waits on (an API enqueue, a lease renewal, a number's
//! setup) used to queue behind all of them in the pool: at 3,500 sends/s an idle number's
//! enqueue waited 63 ms at the median, 160 ms at p99.
//!
//! The gate orders the two kinds. Group commits take the writer one at a time (a turn), and
//! the one whose turn it is first lets every interactive transaction that was already waiting
//! go ahead. So an interactive transaction waits for at most the one group commit running,
//! and a group commit waits only for the interactive transactions queued before it: a steady
//! stream of them (a campaign enqueued through the API) cannot starve ingest or sending.
//! The writer's connection itself is handed out first come, first served (tokio's mutex is
//! fair; see `lite`).
//!
//! A group commit that can be cut (the send engine's results and claims, through
//! `finish_attempts_some` and `claim_sends_some`) works in pieces and asks
//! [`Demand::waiting`] between them: when an interactive transaction waits, it commits what
//! it has done and returns, and its caller writes the rest in a new turn. The interactive
//! transaction then waits for one piece and that commit, not for the whole group (at 3,500
//! sends/s a results commit held the writer for 50 ms at the median, 135 ms at p99). Nobody
//! waiting, nothing is cut: the check is two atomic loads.
//!
//! Better still, such a group commit first gives way by rolling back ([`GiveWay`]): the
//! interactive transaction that finds it running would otherwise wait for the rest of its
//! piece and then for its commit, which writes every page the pieces so far dirtied (at
//! 3,500 sends/s a results commit took 2.5 ms at the median, 17 ms at p99, and the commit it
//! waited for was most of an idle number's enqueue time). A rollback only drops those pages
//! from the writer's cache. It does so only within its first piece, so what it throws away
//! is at most a piece (at 3,500 sends/s the writer is busy most of the time, and a rollback
//! that threw away a long batch cost more writer time than the commit it saved); past it,
//! it commits at the next piece boundary as above. The group commit then runs again, after
//! the interactive transactions, and this time it does not roll back: each call gives way by
//! rollback at most once, so a steady stream of interactive transactions costs it at most a
//! redone piece per call, never its progress.
//!
//! PostgreSQL needs none of this: its writers run side by side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::StoreError;

/// Which kind of write transaction asks for the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    /// Short, and someone waits for it: goes before the group commits queued.
    Interactive,
    /// A group commit: many rows, and the rows' own callers wait in a queue anyway.
    Bulk,
}

/// Shared by every handle of one SQLite store.
#[derive(Debug, Default)]
pub(crate) struct WriterGate {
    // Why a tokio Mutex: group commits take the writer in turn, so at most one of them is
    // in the pool's queue ahead of an interactive transaction. Held until the group commit's
    // transaction ends (see `db::Tx`).
    turn: Arc<Mutex<()>>,
    /// Interactive transactions that asked for the writer.
    arrived: AtomicU64,
    /// Interactive transactions that got it (or stopped waiting).
    passed: AtomicU64,
    // Why a Notify: the group commit holding the turn sleeps until the interactive
    // transactions that were waiting before it got the writer.
    passed_changed: Notify,
    /// Group commit tries rolled back to give way ([`GiveWay`]).
    gave_way: AtomicU64,
}

/// A group commit's turn at the writer; the next one waits until it is dropped, which
/// logs (at debug) how long the turn was held.
#[derive(Debug)]
pub(crate) struct BulkTurn {
    _turn: OwnedMutexGuard<()>,
    since: Instant,
}

impl Drop for BulkTurn {
    fn drop(&mut self) {
        tracing::debug!(
            ms = self.since.elapsed().as_secs_f64() * 1e3,
            "group commit held the writer"
        );
    }
}

impl WriterGate {
    /// Waits for a group commit's turn: after the group commit before it, and after every
    /// interactive transaction that was waiting by then.
    pub(crate) async fn bulk(&self) -> BulkTurn {
        let turn = self.turn.clone().lock_owned().await;
        let ahead = self.arrived.load(Ordering::Acquire);
        loop {
            let notified = self.passed_changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a ticket dropped in between still wakes us.
            notified.as_mut().enable();
            if self.passed.load(Ordering::Acquire) >= ahead {
                return BulkTurn {
                    _turn: turn,
                    since: Instant::now(),
                };
            }
            notified.await;
        }
    }

    /// Whether an interactive transaction waits for the writer now.
    fn waiting(&self) -> bool {
        self.arrived.load(Ordering::Acquire) > self.passed.load(Ordering::Acquire)
    }

    /// How many group commit tries rolled back to give way so far.
    #[cfg(test)]
    pub(crate) fn gave_way(&self) -> u64 {
        self.gave_way.load(Ordering::Acquire)
    }

    /// Whether a group commit holds its turn now.
    #[cfg(test)]
    pub(crate) fn turn_taken(&self) -> bool {
        self.turn.try_lock().is_err()
    }

    /// Marks an interactive transaction as waiting until the ticket is dropped (once it has
    /// the writer, or when the caller gives up).
    pub(crate) fn interactive(&self) -> Ticket<'_> {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        Ticket { gate: self }
    }
}

/// What a group commit asks between the pieces of its work: whether to commit and let an
/// interactive transaction go first. PostgreSQL's writers run side by side: never.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Demand<'a>(pub(crate) Option<&'a WriterGate>);

impl Demand<'_> {
    /// Whether an interactive transaction waits for the writer (the group commit should end
    /// its transaction at the next piece's boundary).
    pub(crate) fn waiting(self) -> bool {
        self.0.is_some_and(WriterGate::waiting)
    }

    /// The size of a group commit's pieces: `size` on SQLite; on PostgreSQL, which never
    /// cuts a group, the whole group is one piece (its statements stay as large as they were).
    pub(crate) fn piece(self, size: usize) -> usize {
        if self.0.is_some() {
            size.max(1)
        } else {
            usize::MAX
        }
    }
}

/// Whether a group commit's try rolls back when an interactive transaction waits (see the
/// module notes): armed during its first try's first piece only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GiveWay<'a> {
    demand: Demand<'a>,
    armed: bool,
}

impl<'a> GiveWay<'a> {
    /// The first try of a group commit that gives way: it rolls back when someone waits.
    pub(crate) fn first_try(demand: Demand<'a>) -> Self {
        Self {
            demand,
            armed: true,
        }
    }

    /// A group commit that never rolls back to give way.
    pub(crate) fn never() -> GiveWay<'static> {
        GiveWay {
            demand: Demand(None),
            armed: false,
        }
    }

    /// Past the first piece, or the try after it gave way once: it goes on to commit.
    pub(crate) fn disarmed(self) -> Self {
        Self {
            armed: false,
            ..self
        }
    }

    /// At the end of a piece: a last [`Self::check`], then disarmed (the pieces after the
    /// first commit instead of rolling back).
    pub(crate) fn piece_done(self) -> Result<Self, StoreError> {
        self.check()?;
        Ok(self.disarmed())
    }

    /// Called between the statements of a group commit: fails with
    /// [`StoreError::GaveWay`] (its transaction then rolls back) when this try is armed and
    /// an interactive transaction waits for the writer.
    pub(crate) fn check(self) -> Result<(), StoreError> {
        if self.armed && self.demand.waiting() {
            if let Some(gate) = self.demand.0 {
                gate.gave_way.fetch_add(1, Ordering::AcqRel);
            }
            tracing::debug!("a group commit gives way to an interactive transaction");
            Err(StoreError::GaveWay)
        } else {
            Ok(())
        }
    }
}

/// An interactive transaction waiting for the writer.
pub(crate) struct Ticket<'a> {
    gate: &'a WriterGate,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.passed.fetch_add(1, Ordering::AcqRel);
        self.gate.passed_changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `fut` is still pending after the runtime ran everything else it could.
    async fn pending<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
        tokio::select! {
            biased;
            _ = fut => false,
            () = tokio::time::sleep(Duration::from_millis(1)) => true,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_commit_lets_the_waiting_interactive_transactions_go_first() {
        let gate = WriterGate::default();
        let first = gate.interactive();
        let second = gate.interactive();
        let mut bulk = Box::pin(gate.bulk());
        assert!(
            pending(&mut bulk).await,
            "two interactive transactions wait"
        );
        drop(first);
        assert!(pending(&mut bulk).await, "one still waits");
        // One that arrives after the group commit asked does not hold it back.
        let late = gate.interactive();
        drop(second);
        let turn = bulk.await;
        drop(late);
        drop(turn);
    }

    #[tokio::test(start_paused = true)]
    async fn group_commits_take_turns() {
        let gate = WriterGate::default();
        let turn = gate.bulk().await;
        let mut next = Box::pin(gate.bulk());
        assert!(
            pending(&mut next).await,
            "the second waits for the first's turn to end"
        );
        drop(turn);
        let _turn = next.await;
    }

    #[tokio::test(start_paused = true)]
    async fn demand_tells_a_group_commit_when_an_interactive_transaction_waits() {
        let gate = WriterGate::default();
        let demand = Demand(Some(&gate));
        assert!(!demand.waiting());
        let ticket = gate.interactive();
        assert!(demand.waiting(), "one waits");
        drop(ticket);
        assert!(!demand.waiting(), "it got the writer");
        let ticket = gate.interactive();
        assert!(!Demand(None).waiting(), "PostgreSQL: never");
        drop(ticket);
        assert_eq!(demand.piece(32), 32);
        assert_eq!(Demand(None).piece(32), usize::MAX, "PostgreSQL: one piece");
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_commit_with_no_one_waiting_goes_at_once() {
        let gate = WriterGate::default();
        drop(gate.interactive());
        let _turn = gate.bulk().await;
    }
}
