//! The ingest benchmark's correctness check: what the generator saw acknowledged (and which of
//! it were redeliveries) against the server's counters (`GET /metrics`) and the rows the
//! database holds (counted with SQL). For every kind of unit: `acked == stored_unique +
//! duplicates_ignored`, with `stored_unique` equal to the distinct units acknowledged.
//!
//! A request whose fate is unknown (connection failure, a 5xx other than 503) may or may not be
//! stored; the check then allows exactly its units more, and is exact otherwise.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{
    load::Outcome,
    target::{Stored, Totals},
    workload::{Units, Webhook},
};

/// What the generator saw, summed over all steps.
#[derive(Debug, Default, Serialize)]
pub struct Ledger {
    pub requests: u64,
    pub acked: u64,
    pub acked_redeliveries: u64,
    pub refused_503: u64,
    /// Neither 200 nor 503: 4xx (refused, not stored) or other 5xx (fate unknown).
    pub other_status: u64,
    pub failed: u64,
    pub not_sent: u64,
    /// Acknowledged requests per kind of body.
    pub acked_by_kind: BTreeMap<&'static str, u64>,
    /// Units in acknowledged requests (redeliveries counted each time).
    pub acked_units: Units,
    /// Units of the distinct bodies acknowledged at least once.
    pub unique_units: Units,
    /// Units of bodies never acknowledged but whose fate is unknown (connection failure or a
    /// 5xx other than 503): the store may or may not hold them.
    pub unknown_units: Units,
    /// Units of the requests with an unknown fate (each time).
    pub unknown_deliveries: Units,
    pub unknown_requests: u64,
}

impl Ledger {
    pub fn record(&mut self, webhooks: &[Webhook], outcomes: &[Outcome]) {
        // Per original body: acknowledged at least once, fate unknown at least once.
        let mut originals: HashMap<u64, (Units, bool, bool)> = HashMap::new();
        for (w, o) in webhooks.iter().zip(outcomes) {
            self.requests += 1;
            let entry = originals
                .entry(w.original)
                .or_insert((w.units, false, false));
            match *o {
                Outcome::Answered { status: 200, .. } => {
                    self.acked += 1;
                    self.acked_redeliveries += u64::from(w.redelivery);
                    *self.acked_by_kind.entry(w.kind.name()).or_default() += 1;
                    self.acked_units.add(&w.units);
                    entry.1 = true;
                }
                Outcome::Answered { status: 503, .. } => self.refused_503 += 1,
                Outcome::Answered { status, .. } => {
                    self.other_status += 1;
                    if status >= 500 {
                        self.unknown(w, entry);
                    }
                }
                Outcome::Failed => {
                    self.failed += 1;
                    self.unknown(w, entry);
                }
                Outcome::NotSent => self.not_sent += 1,
            }
        }
        for (units, acked, unknown) in originals.values() {
            if *acked {
                self.unique_units.add(units);
            } else if *unknown {
                self.unknown_units.add(units);
            }
        }
    }

    fn unknown(&mut self, w: &Webhook, entry: &mut (Units, bool, bool)) {
        self.unknown_requests += 1;
        self.unknown_deliveries.add(&w.units);
        entry.2 = true;
    }
}

/// One line of the correctness check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub what: &'static str,
    /// Units in acknowledged requests.
    pub acked: u64,
    /// Rows in the database.
    pub stored_unique: i64,
    /// The server's count of units it recognised as already stored.
    pub duplicates_ignored: Option<u64>,
    /// The server's count of units it stored.
    pub server_stored: u64,
    /// Distinct units the generator had acknowledged (what the database must hold).
    pub expected_unique: u64,
    /// How many more units the database may hold because some requests' fate is unknown.
    pub unknown: u64,
    pub pass: bool,
}

/// The correctness check: every acknowledged unit is stored once, or recognised as a duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub pass: bool,
    pub lines: Vec<CheckLine>,
    /// `acked == stored_unique + duplicates_ignored` summed over the lines that have duplicates.
    pub acked: u64,
    pub stored_unique: i64,
    pub duplicates_ignored: u64,
    pub webhooks_acked: u64,
    pub webhooks_acked_by_server: u64,
    pub webhooks_archived: i64,
    pub webhooks_pending: i64,
    /// Statuses for messages the store did not know (the bench sends none).
    pub statuses_orphaned: u64,
    pub problems: Vec<String>,
}

impl Check {
    pub fn evaluate(l: &Ledger, t: &Totals, db: &Stored) -> Self {
        let s = &t.store;
        let line = |what,
                    acked: u64,
                    stored: i64,
                    dup: Option<u64>,
                    server_stored: u64,
                    unique: u64,
                    unknown: u64,
                    unknown_deliveries: u64| {
            let stored_u = u64::try_from(stored).unwrap_or(0);
            // Exact when no request's fate is unknown; otherwise the unknown ones may count.
            let unique_ok = (unique..=unique + unknown).contains(&stored_u);
            let sum_ok =
                dup.is_none_or(|d| (acked..=acked + unknown_deliveries).contains(&(stored_u + d)));
            CheckLine {
                what,
                acked,
                stored_unique: stored,
                duplicates_ignored: dup,
                server_stored,
                expected_unique: unique,
                unknown,
                pass: unique_ok && sum_ok && server_stored == stored_u,
            }
        };
        let (a, u, k, kd) = (
            &l.acked_units,
            &l.unique_units,
            &l.unknown_units,
            &l.unknown_deliveries,
        );
        let lines = vec![
            line(
                "live messages (inbound + echoes)",
                a.messages,
                db.messages,
                Some(s.messages_duplicate),
                s.messages_inserted,
                u.messages,
                k.messages,
                kd.messages,
            ),
            line(
                "statuses",
                a.statuses,
                db.statuses,
                Some(s.statuses_duplicate),
                s.statuses_applied + s.statuses_stale + s.statuses_orphaned,
                u.statuses,
                k.statuses,
                kd.statuses,
            ),
            line(
                "app contacts",
                a.contacts,
                db.contacts,
                Some(s.contacts_unchanged),
                s.contacts_synced,
                u.contacts,
                k.contacts,
                kd.contacts,
            ),
            line(
                "history messages",
                a.history_messages,
                db.history_messages,
                Some(s.history_duplicate),
                s.history_inserted,
                u.history_messages,
                k.history_messages,
                kd.history_messages,
            ),
            // The server splits large chunks into several transactions and counts every
            // piece after the first as a duplicate chunk, so only the stored count is checked.
            line(
                "history chunks",
                a.history_chunks,
                db.history_chunks,
                None,
                s.history_chunks,
                u.history_chunks,
                k.history_chunks,
                kd.history_chunks,
            ),
        ];
        let mut problems = Vec::new();
        for c in lines.iter().filter(|c| !c.pass) {
            problems.push(format!(
                "{}: acked {} vs stored {} + duplicates {:?} (server stored {}, expected unique {}, \
                 unknown {})",
                c.what,
                c.acked,
                c.stored_unique,
                c.duplicates_ignored,
                c.server_stored,
                c.expected_unique,
                c.unknown
            ));
        }
        let archived = u64::try_from(db.webhooks_archived).unwrap_or(0);
        if !(l.acked..=l.acked + l.unknown_requests).contains(&t.acked) {
            problems.push(format!(
                "the server acknowledged {} webhooks, the generator saw {} (unknown {})",
                t.acked, l.acked, l.unknown_requests
            ));
        }
        if archived != t.acked {
            problems.push(format!(
                "{archived} bodies archived for {} acknowledged",
                t.acked
            ));
        }
        if db.webhooks_pending != 0 {
            problems.push(format!(
                "{} archived bodies never applied",
                db.webhooks_pending
            ));
        }
        let with_dups = lines.iter().filter(|c| c.duplicates_ignored.is_some());
        Self {
            pass: problems.is_empty(),
            acked: with_dups.clone().map(|c| c.acked).sum(),
            stored_unique: with_dups.clone().map(|c| c.stored_unique).sum(),
            duplicates_ignored: with_dups.filter_map(|c| c.duplicates_ignored).sum(),
            lines,
            webhooks_acked: l.acked,
            webhooks_acked_by_server: t.acked,
            webhooks_archived: db.webhooks_archived,
            webhooks_pending: db.webhooks_pending,
            statuses_orphaned: s.statuses_orphaned,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_store::BatchSummary;

    /// 10 messages acked, one of them a redelivery; the store holds 9 and ignored 1.
    fn consistent() -> (Ledger, Totals, Stored) {
        let ledger = Ledger {
            requests: 10,
            acked: 10,
            acked_redeliveries: 1,
            acked_units: Units {
                messages: 10,
                ..Units::default()
            },
            unique_units: Units {
                messages: 9,
                ..Units::default()
            },
            ..Ledger::default()
        };
        let totals = Totals {
            acked: 10,
            deferred: 0,
            refused_busy: 0,
            store: BatchSummary {
                messages_inserted: 9,
                messages_duplicate: 1,
                ..BatchSummary::default()
            },
        };
        let stored = Stored {
            webhooks_archived: 10,
            messages: 9,
            ..Stored::default()
        };
        (ledger, totals, stored)
    }

    #[test]
    fn a_consistent_run_passes() {
        let (l, t, s) = consistent();
        let c = Check::evaluate(&l, &t, &s);
        assert!(c.pass, "{:?}", c.problems);
        assert_eq!((c.acked, c.stored_unique, c.duplicates_ignored), (10, 9, 1));
    }

    #[test]
    fn lost_stored_twice_or_unarchived_fail() {
        let (l, t, mut s) = consistent();
        s.messages = 8; // one acknowledged message is missing
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, mut t, mut s) = consistent();
        s.messages = 10; // the redelivery was stored again...
        t.store.messages_inserted = 10;
        t.store.messages_duplicate = 0; // ...instead of being ignored
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, t, mut s) = consistent();
        s.webhooks_pending = 1;
        assert!(!Check::evaluate(&l, &t, &s).pass);

        let (l, t, mut s) = consistent();
        s.webhooks_archived = 9;
        assert!(!Check::evaluate(&l, &t, &s).pass);
    }

    #[test]
    fn unknown_fates_widen_the_bounds_only_by_their_units() {
        let (mut l, t, mut s) = consistent();
        l.unknown_units.messages = 1;
        l.unknown_deliveries.messages = 1;
        l.unknown_requests = 1;
        s.messages = 10;
        let mut t2 = t;
        t2.store.messages_inserted = 10;
        t2.acked = 11;
        s.webhooks_archived = 11;
        assert!(Check::evaluate(&l, &t2, &s).pass);
        s.messages = 11;
        t2.store.messages_inserted = 11;
        assert!(!Check::evaluate(&l, &t2, &s).pass);
    }
}
