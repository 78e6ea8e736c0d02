//! The send queue: idempotency, leases and claims, attempts, recovery after a crash,
//! reconciliation with status webhooks, and the cost ledger.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use coex_core::model::*;
use coex_core::policy::Recipient;
use coex_core::pricing::{Amount, Category, Country};
use coex_store::send::*;
use coex_store::{SqlStore, Store, StoreError};

use crate::harness::*;

const TTL: i64 = 20_000;

fn owner(name: &str) -> LaneOwner {
    LaneOwner::new(name)
}

fn new_send(ws: WorkspaceId, to: &str, text: &str, key: Option<&str>) -> NewSend {
    let p = phone(to);
    NewSend {
        workspace: ws,
        number: number(),
        customer: CustomerKey::Phone(p.clone()),
        recipient: Recipient::Phone(p.clone()),
        origin: Origin::ApiAgent,
        sender: Some("agent:ana".into()),
        kind: "text".into(),
        request: format!(
            r#"{{"messaging_product":"whatsapp","to":"{}","type":"text","text":{{"body":"{text}"}}}}"#,
            p.e164()
        ),
        content: MessageContent::text(text),
        category: Category::Service,
        country: Country::from_phone(&p),
        business_initiated: false,
        window_closes_at: None,
        estimated: Amount::from_micros(0),
        currency: "USD".into(),
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
        not_before: t(NOW_SECS),
    }
}

/// A store on the same database whose clock the test moves.
async fn timed(db: &TestDb) -> (SqlStore, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(NOW_SECS * 1000));
    let n = now.clone();
    let store = db.second_store().await.with_clock(Arc::new(move || {
        Timestamp::from_millis(n.load(Ordering::SeqCst))
    }));
    (store, now)
}

fn accepted(send: &ClaimedSend, owner: &LaneOwner, wamid: &str, at: i64) -> AttemptResult {
    AttemptResult {
        send: send.clone(),
        owner: owner.clone(),
        started_at: t(at),
        finished_at: t(at),
        outcome: Outcome::Accepted {
            wamid: w(wamid),
            http_status: 200,
            response: format!(r#"{{"messages":[{{"id":"{wamid}"}}]}}"#),
        },
    }
}

fn error(code: i64) -> AttemptError {
    AttemptError {
        code: Some(code),
        title: format!("error {code}"),
        detail: Some("details".into()),
        http_status: Some(400),
        response: Some(format!(r#"{{"error":{{"code":{code}}}}}"#)),
    }
}

/// Registers another number of the fixture's WABA.
async fn another_number(db: &TestDb, id: &str, display: &str) -> coex_core::PhoneNumberId {
    db.store
        .upsert_number(&new_number(id, display))
        .await
        .unwrap()
        .id
}

/// `count` more numbers of the fixture's WABA, number `i` with `sends(i)` queued sends, their
/// lanes taken by `owner` (at `NOW_SECS`).
async fn busy_lanes(
    db: &TestDb,
    count: usize,
    sends: impl Fn(usize) -> usize,
    owner: &LaneOwner,
) -> Vec<coex_core::PhoneNumberId> {
    let f = db.fixture().await;
    let mut numbers = Vec::with_capacity(count);
    for i in 0..count {
        let n = another_number(db, &format!("2065403522{i:05}"), &format!("1555{i:07}")).await;
        for j in 0..sends(i) {
            let mut s = new_send(f.ws.id, "+16505551234", &format!("m{i}-{j}"), None);
            s.number = n.clone();
            db.store.enqueue(&s).await.unwrap();
        }
        numbers.push(n);
    }
    let taken = db
        .store
        .acquire_lanes(&numbers, owner, t(NOW_SECS), TTL)
        .await
        .unwrap();
    assert!(
        taken
            .iter()
            .all(|o| matches!(o, LeaseOutcome::Acquired { .. }))
    );
    numbers
}

/// One claim request per number, each for up to `limit` sends.
fn claim_requests(numbers: &[coex_core::PhoneNumberId], limit: u32) -> Vec<ClaimRequest> {
    numbers
        .iter()
        .map(|n| ClaimRequest {
            number: n.clone(),
            limit,
        })
        .collect()
}

/// `n` sends to customers `{prefix}0`, `{prefix}1`, … on the fixture's number, claimed by
/// `a` (which takes the lane).
async fn claimed_sends(
    db: &TestDb,
    ws: WorkspaceId,
    a: &LaneOwner,
    prefix: &str,
    n: usize,
) -> Vec<ClaimedSend> {
    for i in 0..n {
        db.store
            .enqueue(&new_send(ws, &format!("{prefix}{i}"), "x", None))
            .await
            .unwrap();
    }
    let now = t(NOW_SECS);
    db.store.acquire_lane(&number(), a, now, TTL).await.unwrap();
    db.store
        .claim_sends(&number(), a, now, 10)
        .await
        .unwrap()
        .sends
}

/// A `delivered` status for `wamid` arriving before its message is stored: kept as an orphan.
async fn overtaking_status(db: &TestDb, wamid: &str) {
    let early = db
        .apply(vec![status(wamid, MessageStatus::Delivered, NOW_SECS + 1)])
        .await;
    assert_eq!(early.statuses_orphaned, 1);
}

both!(idempotency_key_returns_the_first_send, |db| async {
    let f = db.fixture().await;
    let (store, now) = timed(&db).await;
    let first = store
        .enqueue(&new_send(f.ws.id, "+16505551234", "hi", Some("k-1")))
        .await
        .unwrap();
    assert!(matches!(first, Enqueued::Created(_)));
    let again = store
        .enqueue(&new_send(f.ws.id, "+16505551234", "hi", Some("k-1")))
        .await
        .unwrap();
    assert_eq!(again, Enqueued::Existing(first.id()));
    // The same key with another body is refused.
    let err = store
        .enqueue(&new_send(f.ws.id, "+16505551234", "other", Some("k-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // Without a key every request is a new send.
    let a = store
        .enqueue(&new_send(f.ws.id, "+16505551234", "hi", None))
        .await
        .unwrap();
    assert!(matches!(a, Enqueued::Created(id) if id != first.id()));
    // After 24 hours the key may be used again.
    now.fetch_add(IDEMPOTENCY_WINDOW_MS + 1, Ordering::SeqCst);
    let later = store
        .enqueue(&new_send(f.ws.id, "+16505551234", "other", Some("k-1")))
        .await
        .unwrap();
    assert!(matches!(later, Enqueued::Created(id) if id != first.id()));
    let s = store.get_send(first.id()).await.unwrap();
    assert_eq!(s.state, SendState::Queued);
    assert_eq!(s.idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(s.customer, CustomerKey::Phone(phone("+16505551234")));
    store.close().await;
});

both!(claims_need_the_lease_and_never_overlap, |db| async {
    let f = db.fixture().await;
    let a = owner("a");
    for i in 0..10 {
        db.store
            .enqueue(&new_send(f.ws.id, "+16505551234", &format!("m{i}"), None))
            .await
            .unwrap();
    }
    let now = t(NOW_SECS);
    // No lease, no claim.
    let c = db.store.claim_sends(&number(), &a, now, 5).await.unwrap();
    assert!(c.lease_lost && c.sends.is_empty());
    assert_eq!(
        db.store.lanes_wanting_owner(&a, now).await.unwrap(),
        vec![number()]
    );
    assert_eq!(
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap(),
        LeaseOutcome::Acquired { recovered: 0 }
    );
    // Another process sees the lane busy.
    let b = owner("b");
    assert!(matches!(
        db.store
            .acquire_lane(&number(), &b, now, TTL)
            .await
            .unwrap(),
        LeaseOutcome::Busy { .. }
    ));
    assert!(
        db.store
            .lanes_wanting_owner(&b, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap(),
        LeaseOutcome::Renewed
    );
    // Two claims in parallel (two pools, like two tasks) get disjoint sends, in order.
    let other = db.second_store().await;
    let n = number();
    let (x, y) = tokio::join!(
        db.store.claim_sends(&n, &a, now, 4),
        other.claim_sends(&n, &a, now, 4)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.sends.len() + y.sends.len(), 8);
    let mut ids: Vec<SendId> = x.sends.iter().chain(&y.sends).map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert!(x.sends.windows(2).all(|w| w[0].id < w[1].id));
    assert!(x.sends.iter().all(|s| s.attempt == 1));
    let rest = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
    assert_eq!(rest.sends.len(), 2);
    let none = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
    assert!(none.sends.is_empty() && !none.lease_lost);
    assert_eq!(none.next_ready_at, None);
    let lane = db.store.get_lane(&number()).await.unwrap();
    assert_eq!((lane.queued, lane.sending), (0, 10));
    assert_eq!(lane.owner.as_deref(), Some("a"));
    other.close().await;
});

both!(
    accepted_send_records_the_message_and_its_early_statuses,
    |db| async {
        let f = db.fixture().await;
        let a = owner("a");
        let now = t(NOW_SECS);
        let id = db
            .store
            .enqueue(&new_send(f.ws.id, "+16505551234", "hello", None))
            .await
            .unwrap()
            .id();
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        let claim = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
        let sent = &claim.sends[0];
        // The `delivered` webhook overtakes the commit of the send.
        overtaking_status(&db, "wamid.S1").await;
        let summary = db
            .store
            .finish_attempts(&[accepted(sent, &a, "wamid.S1", NOW_SECS)], now)
            .await
            .unwrap();
        assert_eq!(summary.accepted, 1);
        let s = db.store.get_send(id).await.unwrap();
        assert_eq!(s.state, SendState::Accepted);
        assert_eq!(s.wamid, Some(w("wamid.S1")));
        assert_eq!(s.message_status, Some(MessageStatus::Delivered));
        let m = db.message("wamid.S1").await;
        assert_eq!(m.origin, Origin::ApiAgent);
        assert_eq!(m.direction, Direction::Outbound);
        assert_eq!(m.content.body.as_deref(), Some("hello"));
        let attempts = db.store.send_attempts(id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, AttemptKind::Accepted);
        assert_eq!(attempts[0].wamid, Some(w("wamid.S1")));
    }
);

both!(failures_requeue_defer_and_finish, |db| async {
    let f = db.fixture().await;
    let a = owner("a");
    let now = t(NOW_SECS);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            db.store
                .enqueue(&new_send(f.ws.id, "+16505551234", &format!("m{i}"), None))
                .await
                .unwrap()
                .id(),
        );
    }
    db.store
        .acquire_lane(&number(), &a, now, TTL)
        .await
        .unwrap();
    let claim = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
    let at = |s: &ClaimedSend, outcome| AttemptResult {
        send: s.clone(),
        owner: a.clone(),
        started_at: now,
        finished_at: now,
        outcome,
    };
    let later = now.plus_millis(4_000);
    let results = vec![
        at(
            &claim.sends[0],
            Outcome::Retry {
                not_before: later,
                waiting: "pair_rate".into(),
                error: error(131056),
            },
        ),
        at(
            &claim.sends[1],
            Outcome::Deferred {
                not_before: later,
                waiting: "pair_rate".into(),
            },
        ),
        at(
            &claim.sends[2],
            Outcome::Failed {
                error: error(131026),
            },
        ),
        at(
            &claim.sends[3],
            Outcome::NeedsTemplate {
                error: Some(error(131047)),
                detail: "the window is closed".into(),
            },
        ),
    ];
    let s = db.store.finish_attempts(&results, now).await.unwrap();
    assert_eq!((s.requeued, s.failed, s.needs_template), (2, 1, 1));
    let retried = db.store.get_send(ids[0]).await.unwrap();
    assert_eq!(retried.state, SendState::Queued);
    assert_eq!(retried.not_before, later);
    assert_eq!(retried.waiting.as_deref(), Some("pair_rate"));
    assert_eq!(retried.error.unwrap().code, Some(131056));
    assert_eq!(retried.attempts, 1);
    let deferred = db.store.get_send(ids[1]).await.unwrap();
    assert_eq!(deferred.attempts, 0, "a deferral is not an attempt");
    assert!(db.store.send_attempts(ids[1]).await.unwrap().is_empty());
    let failed = db.store.get_send(ids[2]).await.unwrap();
    assert_eq!(failed.state, SendState::Failed);
    assert_eq!(failed.error.unwrap().code, Some(131026));
    assert_eq!(
        db.store.get_send(ids[3]).await.unwrap().state,
        SendState::NeedsTemplate
    );
    // Nothing is ready before `later`; then both come back, as attempt 2 and 1.
    let c = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
    assert!(c.sends.is_empty());
    assert_eq!(c.next_ready_at, Some(later));
    db.store
        .acquire_lane(&number(), &a, later, TTL)
        .await
        .unwrap();
    let c = db
        .store
        .claim_sends(&number(), &a, later, 10)
        .await
        .unwrap();
    let attempts: Vec<(SendId, u32)> = c.sends.iter().map(|s| (s.id, s.attempt)).collect();
    assert_eq!(attempts, vec![(ids[0], 2), (ids[1], 1)]);
    // Stopping a lane keeps its sends queued; resuming makes them ready at once.
    let stop = AttemptResult {
        send: c.sends[0].clone(),
        owner: a.clone(),
        started_at: later,
        finished_at: later,
        outcome: Outcome::Stopped { error: error(190) },
    };
    db.store.finish_attempts(&[stop], later).await.unwrap();
    db.store
        .stop_lane(&number(), Some(190), "access token expired", later)
        .await
        .unwrap();
    let lane = db.store.get_lane(&number()).await.unwrap();
    assert_eq!(lane.stop_code, Some(190));
    assert!(
        db.store
            .claim_sends(&number(), &a, later, 10)
            .await
            .unwrap()
            .sends
            .is_empty()
    );
    assert!(db.store.resume_lane(&number()).await.unwrap());
    let c = db
        .store
        .claim_sends(&number(), &a, later, 10)
        .await
        .unwrap();
    assert_eq!(c.sends.len(), 1);
    assert_eq!(c.sends[0].attempt, 3);
});

both!(
    a_takeover_requeues_what_the_dead_owner_left_in_flight,
    |db| async {
        let f = db.fixture().await;
        let (a, b) = (owner("a"), owner("b"));
        let now = t(NOW_SECS);
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                db.store
                    .enqueue(&new_send(f.ws.id, "+16505551234", &format!("m{i}"), None))
                    .await
                    .unwrap()
                    .id(),
            );
        }
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        let claim = db.store.claim_sends(&number(), &a, now, 2).await.unwrap();
        assert_eq!(claim.sends.len(), 2);
        // A stops renewing; B waits for the lease to expire, then takes it over.
        let before = now.plus_millis(TTL - 1);
        assert!(matches!(
            db.store
                .acquire_lane(&number(), &b, before, TTL)
                .await
                .unwrap(),
            LeaseOutcome::Busy { .. }
        ));
        let after = now.plus_millis(TTL);
        assert_eq!(
            db.store
                .acquire_lane(&number(), &b, after, TTL)
                .await
                .unwrap(),
            LeaseOutcome::Acquired { recovered: 2 }
        );
        let abandoned = db.store.send_attempts(ids[0]).await.unwrap();
        assert_eq!(abandoned.len(), 1);
        assert_eq!(abandoned[0].outcome, AttemptKind::Abandoned);
        assert_eq!(abandoned[0].owner, "a");
        // A cannot claim any more.
        assert!(
            db.store
                .claim_sends(&number(), &a, after, 10)
                .await
                .unwrap()
                .lease_lost
        );
        // A's in-flight request did reach Meta and its answer arrives late: the send is
        // accepted (and replaces the abandoned attempt), so B will not send it again.
        db.store
            .finish_attempts(
                &[accepted(&claim.sends[0], &a, "wamid.LATE", NOW_SECS)],
                after,
            )
            .await
            .unwrap();
        let s = db.store.get_send(ids[0]).await.unwrap();
        assert_eq!(s.state, SendState::Accepted);
        let attempts = db.store.send_attempts(ids[0]).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, AttemptKind::Accepted);
        // B claims the other two (the abandoned one as its second attempt).
        let c = db
            .store
            .claim_sends(&number(), &b, after, 10)
            .await
            .unwrap();
        let got: Vec<(SendId, u32)> = c.sends.iter().map(|s| (s.id, s.attempt)).collect();
        assert_eq!(got, vec![(ids[1], 2), (ids[2], 1)]);
        // A late failure from A for a send B now holds changes nothing but the record.
        let late = AttemptResult {
            send: claim.sends[1].clone(),
            owner: a.clone(),
            started_at: now,
            finished_at: after,
            outcome: Outcome::Failed {
                error: error(131000),
            },
        };
        let summary = db.store.finish_attempts(&[late], after).await.unwrap();
        assert_eq!(summary.stale, 1);
        assert_eq!(
            db.store.get_send(ids[1]).await.unwrap().state,
            SendState::Sending
        );
        // Releasing frees the lane for anyone.
        db.store.release_lane(&number(), &b).await.unwrap();
        assert!(matches!(
            db.store
                .acquire_lane(&number(), &a, after, TTL)
                .await
                .unwrap(),
            LeaseOutcome::Acquired { .. }
        ));
    }
);

both!(status_webhooks_reconcile_sends, |db| async {
    let f = db.fixture().await;
    let a = owner("a");
    let now = t(NOW_SECS);
    let claimed = claimed_sends(&db, f.ws.id, &a, "+1650555123", 3).await;
    let results: Vec<AttemptResult> = claimed
        .iter()
        .enumerate()
        .map(|(i, s)| accepted(s, &a, &format!("wamid.R{i}"), NOW_SECS))
        .collect();
    db.store.finish_attempts(&results, now).await.unwrap();
    // R0: the window was closed after all (async 131047); R1: delivered; R2: nothing.
    let mut failed = status("wamid.R0", MessageStatus::Failed, NOW_SECS + 1);
    if let Ingest::Status(s) = &mut failed {
        s.error = Some(MetaError {
            code: 131047,
            title: "Re-engagement message".into(),
            details: Some("More than 24 hours have passed".into()),
        });
    }
    db.apply(vec![
        failed,
        status("wamid.R1", MessageStatus::Delivered, NOW_SECS + 1),
    ])
    .await;
    let window = ReconcileWindow {
        failed_since: now,
        accepted_from: now,
        accepted_to: now.plus_millis(1),
    };
    let r = db.store.reconcile_sends(&window, now).await.unwrap();
    assert_eq!(r.needs_template, vec![claimed[0].id]);
    assert_eq!(r.unconfirmed, vec![claimed[2].id]);
    let s0 = db.store.get_send(claimed[0].id).await.unwrap();
    assert_eq!(s0.state, SendState::NeedsTemplate);
    assert_eq!(s0.error.unwrap().code, Some(131047));
    assert_eq!(
        db.store.get_send(claimed[1].id).await.unwrap().state,
        SendState::Accepted
    );
    assert_eq!(
        db.store.get_send(claimed[2].id).await.unwrap().state,
        SendState::SentUnconfirmed
    );
    // A second pass changes nothing; a late status confirms R2.
    let again = db.store.reconcile_sends(&window, now).await.unwrap();
    assert_eq!(again, ReconcileSummary::default());
    db.apply(vec![status("wamid.R2", MessageStatus::Sent, NOW_SECS + 2)])
        .await;
    let r = db.store.reconcile_sends(&window, now).await.unwrap();
    assert_eq!(r.confirmed, vec![claimed[2].id]);
});

both!(
    a_failed_status_that_overtook_the_accept_fails_the_send_in_that_commit,
    |db| async {
        let f = db.fixture().await;
        let a = owner("a");
        let now = t(NOW_SECS);
        let claimed = claimed_sends(&db, f.ws.id, &a, "+1650555124", 2).await;
        assert_eq!(claimed.len(), 2);
        // Meta answered the request, then its `failed` status was committed before the answer
        // was: the status waits as an orphan.
        let failed = status("wamid.O0", MessageStatus::Failed, NOW_SECS + 1);
        assert_eq!(db.apply(vec![failed]).await.statuses_orphaned, 1);
        let results: Vec<AttemptResult> = claimed
            .iter()
            .enumerate()
            .map(|(i, s)| accepted(s, &a, &format!("wamid.O{i}"), NOW_SECS))
            .collect();
        let summary = db.store.finish_attempts(&results, now).await.unwrap();
        assert_eq!(summary.accepted, 2);
        // The commit that stored the message applied the status and, through the message,
        // failed its send; the other send stays accepted.
        let s0 = db.store.get_send(claimed[0].id).await.unwrap();
        assert_eq!(s0.state, SendState::Failed);
        assert_eq!(s0.wamid, Some(w("wamid.O0")));
        assert_eq!(
            db.message("wamid.O0").await.status,
            Some(MessageStatus::Failed)
        );
        assert_eq!(
            db.store.get_send(claimed[1].id).await.unwrap().state,
            SendState::Accepted
        );
        // A later reconciliation finds nothing more to do.
        let window = ReconcileWindow {
            failed_since: now,
            accepted_from: now,
            accepted_to: now.plus_millis(1),
        };
        let r = db.store.reconcile_sends(&window, now).await.unwrap();
        assert!(r.failed.is_empty() && r.needs_template.is_empty());
    }
);

both!(
    cost_rows_group_by_day_category_and_meta_pricing,
    |db| async {
        let f = db.fixture().await;
        let a = owner("a");
        let now = t(NOW_SECS);
        for (i, (category, micros)) in [
            (Category::Marketing, 25_000),
            (Category::Marketing, 25_000),
            (Category::Utility, 4_000),
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = new_send(f.ws.id, &format!("+5511999990{i:03}"), "x", None);
            s.category = category;
            s.estimated = Amount::from_micros(micros);
            s.business_initiated = true;
            db.store.enqueue(&s).await.unwrap();
        }
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        let claimed = db
            .store
            .claim_sends(&number(), &a, now, 10)
            .await
            .unwrap()
            .sends;
        let results: Vec<AttemptResult> = claimed
            .iter()
            .enumerate()
            .map(|(i, s)| accepted(s, &a, &format!("wamid.C{i}"), NOW_SECS))
            .collect();
        db.store.finish_attempts(&results, now).await.unwrap();
        let mut priced = status("wamid.C0", MessageStatus::Sent, NOW_SECS + 1);
        if let Ingest::Status(s) = &mut priced {
            s.pricing = Some(Pricing {
                billable: Some(true),
                model: Some("PMP".into()),
                kind: Some("regular".into()),
                category: Some("marketing".into()),
            });
        }
        db.apply(vec![priced]).await;
        let rows = db
            .store
            .cost_rows(&number(), now, now.plus_millis(1))
            .await
            .unwrap();
        let day = NOW_SECS * 1000 / 86_400_000;
        let summary: Vec<(i64, Category, u64, i64, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.day,
                    r.category,
                    r.messages,
                    r.estimated.micros(),
                    r.pricing.is_some(),
                )
            })
            .collect();
        assert!(
            summary.contains(&(day, Category::Marketing, 1, 25_000, true)),
            "{summary:?}"
        );
        assert!(
            summary.contains(&(day, Category::Marketing, 1, 25_000, false)),
            "{summary:?}"
        );
        assert!(
            summary.contains(&(day, Category::Utility, 1, 4_000, false)),
            "{summary:?}"
        );
        assert!(rows.iter().all(|r| r.country == Country::parse("BR").ok()));
        // The messaging limit sees the three business-initiated recipients.
        let seen = db
            .store
            .business_initiated_since(f.ws.id, now.plus_millis(-1))
            .await
            .unwrap();
        assert_eq!(seen.len(), 3);
    }
);

both!(
    renew_lanes_renews_only_live_leases_of_the_owner,
    |db| async {
        let f = db.fixture().await;
        db.store
            .enqueue(&new_send(f.ws.id, "+16505551234", "m", None))
            .await
            .unwrap();
        let (a, b) = (owner("a"), owner("b"));
        let now = t(NOW_SECS);
        // Nothing held, nothing renewed.
        assert!(db.store.renew_lanes(&a, now, TTL).await.unwrap().is_empty());
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        // The owner's live lease is renewed; another owner's call renews nothing.
        let later = now.plus_millis(TTL / 2);
        assert_eq!(
            db.store.renew_lanes(&a, later, TTL).await.unwrap(),
            vec![number()]
        );
        assert!(
            db.store
                .renew_lanes(&b, later, TTL)
                .await
                .unwrap()
                .is_empty()
        );
        let lane = db.store.get_lane(&number()).await.unwrap();
        assert_eq!(lane.lease_expires_at, Some(later.plus_millis(TTL)));
        // A lapsed lease is not renewed in bulk (the lane must be taken again, alone).
        let lapsed = later.plus_millis(TTL + 1);
        assert!(
            db.store
                .renew_lanes(&a, lapsed, TTL)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            db.store
                .acquire_lane(&number(), &b, lapsed, TTL)
                .await
                .unwrap(),
            LeaseOutcome::Acquired { .. }
        ));
        assert!(
            db.store
                .renew_lanes(&a, lapsed, TTL)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both!(one_claim_round_answers_each_lane, |db| async {
    let f = db.fixture().await;
    let a = owner("a");
    let now = t(NOW_SECS);
    let second = another_number(&db, "106540352242933", "15550783882").await;
    let third = another_number(&db, "106540352242944", "15550783883").await;
    for n in [number(), second.clone(), third.clone()] {
        for i in 0..3 {
            let mut s = new_send(f.ws.id, "+16505551234", &format!("m{i}"), None);
            s.number = n.clone();
            db.store.enqueue(&s).await.unwrap();
        }
    }
    // The first lane is held by `a`, the second by nobody, the third by `a` but stopped.
    for n in [number(), third.clone()] {
        db.store.acquire_lane(&n, &a, now, TTL).await.unwrap();
    }
    db.store
        .stop_lane(&third, Some(190), "billing", now)
        .await
        .unwrap();
    let requests: Vec<ClaimRequest> = [(number(), 2), (second.clone(), 2), (third.clone(), 2)]
        .into_iter()
        .map(|(number, limit)| ClaimRequest { number, limit })
        .collect();
    let claims = db.store.claim_sends_many(&requests, &a, now).await.unwrap();
    assert_eq!(claims.len(), 3);
    assert_eq!(claims[0].sends.len(), 2);
    assert!(claims[0].sends.iter().all(|s| s.number == number()));
    assert!(claims[1].lease_lost && claims[1].sends.is_empty());
    assert!(claims[2].stopped && claims[2].sends.is_empty());
    let lane = db.store.get_lane(&second).await.unwrap();
    assert_eq!(
        (lane.queued, lane.sending),
        (3, 0),
        "nothing claimed without the lease"
    );
    let lane = db.store.get_lane(&number()).await.unwrap();
    assert_eq!((lane.queued, lane.sending), (1, 2));
});

both!(
    a_send_is_claimed_at_enqueue_only_when_its_lane_can_send_it_now,
    |db| async {
        let f = db.fixture().await;
        let (a, b) = (owner("a"), owner("b"));
        let now = t(NOW_SECS);
        let send = |text: &str| new_send(f.ws.id, "+16505551234", text, None);
        // No lease yet: queued only.
        let (e, claimed) = db.store.enqueue_and_claim(&send("m0"), &a).await.unwrap();
        assert!(matches!(e, Enqueued::Created(_)) && claimed.is_none());
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        // An older send is ready: the new one waits its turn in the queue.
        let (_, claimed) = db.store.enqueue_and_claim(&send("m1"), &a).await.unwrap();
        assert!(claimed.is_none(), "older ready sends go first");
        let claim = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
        assert_eq!(claim.sends.len(), 2);
        // Nothing older is ready and `a` holds the lease: claimed in the same transaction.
        let (e, claimed) = db.store.enqueue_and_claim(&send("m2"), &a).await.unwrap();
        let claimed = claimed.expect("claimed at enqueue");
        assert_eq!(claimed.id, e.id());
        assert_eq!(claimed.attempt, 1);
        assert_eq!(claimed.number, number());
        let lane = db.store.get_lane(&number()).await.unwrap();
        assert_eq!((lane.queued, lane.sending), (0, 3));
        // Another process that does not hold the lease only queues.
        let (_, claimed) = db.store.enqueue_and_claim(&send("m3"), &b).await.unwrap();
        assert!(claimed.is_none(), "not the lease holder");
        // A send due later is not claimed early.
        let claim = db.store.claim_sends(&number(), &a, now, 10).await.unwrap();
        assert_eq!(claim.sends.len(), 1);
        let mut later = send("m4");
        later.not_before = t(NOW_SECS + 3600);
        let (_, claimed) = db.store.enqueue_and_claim(&later, &a).await.unwrap();
        assert!(claimed.is_none(), "not due yet");
        // A stopped lane claims nothing.
        db.store
            .stop_lane(&number(), Some(190), "billing", now)
            .await
            .unwrap();
        let (_, claimed) = db.store.enqueue_and_claim(&send("m5"), &a).await.unwrap();
        assert!(claimed.is_none(), "the lane is stopped");
        // An idempotent repeat returns the first send and claims nothing again.
        let keyed = new_send(f.ws.id, "+16505551234", "k", Some("key-1"));
        db.store.resume_lane(&number()).await.unwrap();
        let (first, _) = db.store.enqueue_and_claim(&keyed, &a).await.unwrap();
        let (again, claimed) = db.store.enqueue_and_claim(&keyed, &a).await.unwrap();
        assert!(matches!(again, Enqueued::Existing(id) if id == first.id()));
        assert!(claimed.is_none());
    }
);

both!(a_claim_round_takes_each_lanes_share_in_one_go, |db| async {
    let f = db.fixture().await;
    let a = owner("a");
    let now = t(NOW_SECS);
    let second = another_number(&db, "106540352242933", "15550783882").await;
    let third = another_number(&db, "106540352242944", "15550783883").await;
    // Five ready sends on the first number, three on the second, one due later on the third.
    for (n, count, due) in [
        (number(), 5, NOW_SECS),
        (second.clone(), 3, NOW_SECS),
        (third.clone(), 1, NOW_SECS + 30),
    ] {
        for i in 0..count {
            let mut s = new_send(f.ws.id, "+16505551234", &format!("m{i}"), None);
            s.number = n.clone();
            s.not_before = t(due);
            db.store.enqueue(&s).await.unwrap();
        }
        db.store.acquire_lane(&n, &a, now, TTL).await.unwrap();
    }
    // Lanes asking for different amounts, and the first number asked for twice.
    let requests: Vec<ClaimRequest> = [
        (number(), 2),
        (second.clone(), 10),
        (third.clone(), 4),
        (number(), 2),
    ]
    .into_iter()
    .map(|(number, limit)| ClaimRequest { number, limit })
    .collect();
    let claims = db.store.claim_sends_many(&requests, &a, now).await.unwrap();
    assert_eq!(claims.len(), 4);
    let ids = |c: &Claim| c.sends.iter().map(|s| s.id.get()).collect::<Vec<_>>();
    assert_eq!(claims[0].sends.len(), 2, "the first number's limit");
    assert!(
        ids(&claims[0]).windows(2).all(|w| w[0] < w[1]),
        "oldest first"
    );
    assert!(claims[0].sends.iter().all(|s| s.number == number()));
    let first_round = ids(&claims[0]);
    assert_eq!(claims[1].sends.len(), 3, "everything ready on the second");
    assert!(claims[1].sends.iter().all(|s| s.number == second));
    assert!(claims[2].sends.is_empty());
    assert_eq!(claims[2].next_ready_at, Some(t(NOW_SECS + 30)));
    assert!(
        claims[3].sends.is_empty() && !claims[3].lease_lost,
        "a number asked for twice in one round claims once"
    );
    let lane = db.store.get_lane(&number()).await.unwrap();
    assert_eq!((lane.queued, lane.sending), (3, 2));
    let lane = db.store.get_lane(&second).await.unwrap();
    assert_eq!((lane.queued, lane.sending), (0, 3));
    // The next round picks up where the first stopped, and an emptied lane learns nothing is due.
    let claims = db
        .store
        .claim_sends_many(&requests[..2], &a, now)
        .await
        .unwrap();
    assert_eq!(claims[0].sends.len(), 2);
    assert!(
        ids(&claims[0])
            .iter()
            .all(|id| first_round.iter().all(|f| id > f)),
        "the next oldest"
    );
    assert!(claims[1].sends.is_empty());
    assert_eq!(claims[1].next_ready_at, None);
});

both!(
    a_claim_round_spanning_several_statements_serves_every_lane,
    |db| async {
        // More lanes than one claim statement takes (256): the round is split, and each part
        // binds its own lanes, owner and time.
        const LANES: usize = 300;
        let a = owner("a");
        let now = t(NOW_SECS);
        let numbers = busy_lanes(&db, LANES, |_| 2, &a).await;
        let requests = claim_requests(&numbers, 1);
        for round in 0..2 {
            let claims = db.store.claim_sends_many(&requests, &a, now).await.unwrap();
            assert_eq!(claims.len(), LANES);
            for (c, n) in claims.iter().zip(&numbers) {
                assert_eq!(c.sends.len(), 1, "round {round}: one send for {n}");
                assert_eq!(&c.sends[0].number, n);
            }
        }
        let claims = db.store.claim_sends_many(&requests, &a, now).await.unwrap();
        assert!(
            claims
                .iter()
                .all(|c| c.sends.is_empty() && c.next_ready_at.is_none() && !c.lease_lost)
        );
        for n in [&numbers[0], &numbers[LANES - 1]] {
            let lane = db.store.get_lane(n).await.unwrap();
            assert_eq!((lane.queued, lane.sending), (0, 2));
        }
    }
);

both!(
    a_claim_round_in_pieces_answers_every_request_at_its_place,
    |db| async {
        // More lanes than one piece of a round takes (8), and a number asked for again after
        // a later piece began: the repeat is claimed with the first ask (once), and every
        // answer lands at its request's place.
        const LANES: usize = 19;
        let a = owner("a");
        let now = t(NOW_SECS);
        let numbers = busy_lanes(&db, LANES, |i| i % 3 + 2, &a).await;
        let mut requests = claim_requests(&numbers, 2);
        // Lanes 2 and 11 have four sends: asked for again, they would claim the other two.
        requests.push(requests[2].clone());
        requests.push(requests[11].clone());
        // `claim_sends_some` answers some lanes per call (all of them here: no interactive
        // transaction waits); the rest are asked for again.
        let mut claims: Vec<Option<Claim>> = vec![None; requests.len()];
        let mut calls = 0;
        while claims.iter().any(Option::is_none) {
            calls += 1;
            assert!(calls <= requests.len(), "every call answers some lanes");
            let pending: Vec<usize> = (0..requests.len())
                .filter(|&i| claims[i].is_none())
                .collect();
            let asked: Vec<ClaimRequest> = pending.iter().map(|&i| requests[i].clone()).collect();
            let got = db.store.claim_sends_some(&asked, &a, now).await.unwrap();
            assert_eq!(got.len(), asked.len());
            for (&i, answer) in pending.iter().zip(got) {
                claims[i] = answer;
            }
        }
        let claims: Vec<Claim> = claims.into_iter().flatten().collect();
        assert_eq!(claims.len(), LANES + 2);
        for (i, (c, n)) in claims.iter().zip(&numbers).enumerate() {
            assert_eq!(c.sends.len(), 2, "lane {i}: its limit");
            assert!(c.sends.iter().all(|s| &s.number == n), "lane {i}: its own");
        }
        for repeat in &claims[LANES..] {
            assert!(
                repeat.sends.is_empty() && !repeat.lease_lost && !repeat.stopped,
                "a number asked for twice claims once"
            );
        }
        for (i, n) in numbers.iter().enumerate() {
            let lane = db.store.get_lane(n).await.unwrap();
            assert_eq!((lane.queued, lane.sending), ((i % 3) as u64, 2), "lane {i}");
        }
    }
);

both!(
    a_large_batch_of_results_is_written_in_pieces_beside_enqueues,
    |db| async {
        // A batch of results spanning many pieces (32 results each), written through
        // `finish_attempts_some` while other enqueues ask for the writer (on SQLite a call may
        // then stop early): every result is recorded once and the summaries add up.
        const SENDS: usize = 150;
        let f = db.fixture().await;
        let a = owner("a");
        let now = t(NOW_SECS);
        for i in 0..SENDS {
            let to = format!("+165055{:05}", 10_000 + i);
            db.store
                .enqueue(&new_send(f.ws.id, &to, &format!("m{i}"), None))
                .await
                .unwrap();
        }
        db.store
            .acquire_lane(&number(), &a, now, TTL)
            .await
            .unwrap();
        let claim = db
            .store
            .claim_sends(&number(), &a, now, SENDS as u32)
            .await
            .unwrap();
        assert_eq!(claim.sends.len(), SENDS);
        let results: Vec<AttemptResult> = claim
            .sends
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i % 10 == 7 {
                    AttemptResult {
                        send: s.clone(),
                        owner: a.clone(),
                        started_at: now,
                        finished_at: now,
                        outcome: Outcome::Failed {
                            error: error(131026),
                        },
                    }
                } else {
                    accepted(s, &a, &format!("wamid.piece.{i}"), NOW_SECS)
                }
            })
            .collect();
        let enqueues = {
            let store = db.store.clone();
            let ws = f.ws.id;
            tokio::spawn(async move {
                for i in 0..20 {
                    let to = format!("+165056{:05}", 10_000 + i);
                    store
                        .enqueue(&new_send(ws, &to, &format!("late {i}"), None))
                        .await
                        .unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        let (mut written, mut calls) = (0, 0);
        let (mut accepted, mut failed, mut stale) = (0, 0, 0);
        while written < results.len() {
            calls += 1;
            let (n, part) = db
                .store
                .finish_attempts_some(&results[written..], now)
                .await
                .unwrap();
            assert!(
                n > 0 && calls <= results.len(),
                "every call writes some results"
            );
            written += n;
            accepted += part.accepted;
            failed += part.failed;
            stale += part.stale;
        }
        enqueues.await.unwrap();
        assert_eq!(written, SENDS);
        assert_eq!((accepted, failed, stale), (135, 15, 0));
        let lane = db.store.get_lane(&number()).await.unwrap();
        assert_eq!((lane.queued, lane.sending), (20, 0));
        for (i, s) in claim.sends.iter().enumerate() {
            let record = db.store.get_send(s.id).await.unwrap();
            let want = if i % 10 == 7 {
                SendState::Failed
            } else {
                SendState::Accepted
            };
            assert_eq!(record.state, want, "send {i}");
            assert_eq!(db.store.send_attempts(s.id).await.unwrap().len(), 1);
        }
        let last = db.message("wamid.piece.149").await;
        assert_eq!(last.direction, Direction::Outbound);
    }
);

both!(
    a_run_of_sent_messages_resolves_like_one_by_one,
    |db| async {
        let f = db.fixture().await;
        let second = another_number(&db, "106540352242933", "15550783882").await;
        // Known before: a customer by phone (with a conversation), and a phone-only app contact
        // who now comes with a BSUID (linked, not duplicated).
        db.apply(vec![
            inbound("wamid.IN1", by_phone("+16505550001"), NOW_SECS - 60, "hi"),
            inbound("wamid.IN2", by_phone("+16505550002"), NOW_SECS - 60, "yo"),
        ])
        .await;
        // A status that overtakes its message's commit.
        overtaking_status(&db, "wamid.S3").await;
        let on = |n: &coex_core::PhoneNumberId, e: Ingest| match e {
            Ingest::Sent(mut m) => {
                m.number = n.clone();
                Ingest::Sent(m)
            }
            other => other,
        };
        let unknown = coex_core::PhoneNumberId::parse("999999999999999").unwrap();
        let summary = db
            .apply(vec![
                sent("wamid.S1", by_phone("+16505550001"), NOW_SECS, "a"),
                sent(
                    "wamid.S2",
                    by_both("US.BSUID2", "+16505550002"),
                    NOW_SECS,
                    "b",
                ),
                sent("wamid.S3", by_phone("+16505550003"), NOW_SECS, "c"),
                // The same new customer twice in the run, once on another number.
                on(
                    &second,
                    sent("wamid.S4", by_phone("+16505550003"), NOW_SECS, "d"),
                ),
                sent("wamid.S1", by_phone("+16505550001"), NOW_SECS, "a again"),
                on(
                    &unknown,
                    sent("wamid.S5", by_phone("+16505550001"), NOW_SECS, "e"),
                ),
            ])
            .await;
        assert_eq!(summary.messages_inserted, 4);
        assert_eq!(summary.messages_duplicate, 1);
        assert_eq!(summary.unknown_number, 1);
        assert_eq!(summary.statuses_applied, 1);
        // The known customer's message joins the inbound's conversation.
        let c1 = db.conversation_of("wamid.IN1").await;
        assert_eq!(
            db.conversation_of("wamid.S1").await.conversation.id,
            c1.conversation.id
        );
        assert_eq!(
            db.message("wamid.S1").await.content.body.as_deref(),
            Some("a")
        );
        // The phone-only contact got the BSUID: one contact, one conversation.
        let c2 = db.conversation_of("wamid.S2").await;
        assert_eq!(
            c2.conversation.id,
            db.conversation_of("wamid.IN2").await.conversation.id
        );
        assert_eq!(c2.contact.bsuid, Some(bsuid("US.BSUID2")));
        // The new customer is one contact on both numbers; the overtaken status is applied.
        let m3 = db.message("wamid.S3").await;
        assert_eq!(m3.status, Some(MessageStatus::Delivered));
        let m4 = db.store.get_message(&second, &w("wamid.S4")).await.unwrap();
        let c3 = db.conversation_of("wamid.S3").await;
        let c4 = db.store.get_conversation(m4.conversation).await.unwrap();
        assert_eq!(c3.contact.id, c4.contact.id);
        assert_ne!(c3.conversation.id, c4.conversation.id);
        assert_eq!(c3.conversation.last_outbound_at, Some(t(NOW_SECS)));
        assert_eq!(
            c3.conversation.last_inbound_at, None,
            "sends never open the window"
        );
        let _ = f;
    }
);

both!(
    decide_and_enqueue_decides_on_what_it_reads_in_the_queueing_transaction,
    |db| async {
        let f = db.fixture().await;
        let a = owner("a");
        // A customer known by BSUID and phone, whose last live inbound message was at 1,000 s.
        db.apply(vec![inbound(
            "wamid.in1",
            by_both("US.13491208655302741918", "+16505551234"),
            1_000,
            "hi",
        )])
        .await;
        let seen: std::sync::Mutex<Vec<SendContext>> = Default::default();
        let decide = |ctx: &SendContext| -> Result<NewSend, &'static str> {
            seen.lock().unwrap().push(ctx.clone());
            let mut s = new_send(f.ws.id, "+16505551234", "hello", None);
            s.customer = ctx.customer.clone();
            Ok(s)
        };
        // Asked by phone alone: the context names the contact by both identifiers.
        let asked = CustomerKey::Phone(phone("+16505551234"));
        let q = db
            .store
            .decide_and_enqueue(&number(), &asked, Some(&a), decide)
            .await
            .unwrap()
            .unwrap();
        let ctx = seen.lock().unwrap().pop().unwrap();
        assert_eq!(ctx.number.id, number());
        assert_eq!(ctx.number.waba, waba());
        assert_eq!(
            ctx.customer,
            CustomerKey::new(
                Some(bsuid("US.13491208655302741918")),
                Some(phone("+16505551234"))
            )
            .unwrap()
        );
        assert_eq!(ctx.last_inbound_at, Some(t(1_000)));
        // The send is queued and read back in the same transaction; no lease, nothing claimed.
        assert!(matches!(q.enqueued, Enqueued::Created(_)));
        assert!(q.claimed.is_none() && q.attempts.is_empty());
        assert_eq!(q.record.id, q.enqueued.id());
        assert_eq!(q.record.state, SendState::Queued);
        assert_eq!(q.record, db.store.get_send(q.enqueued.id()).await.unwrap());

        // With the lease, a send that can go at once is claimed for the caller.
        db.store
            .acquire_lane(&number(), &a, t(NOW_SECS), TTL)
            .await
            .unwrap();
        db.store
            .claim_sends(&number(), &a, t(NOW_SECS), 10)
            .await
            .unwrap();
        let q = db
            .store
            .decide_and_enqueue(&number(), &asked, Some(&a), decide)
            .await
            .unwrap()
            .unwrap();
        let claimed = q.claimed.expect("claimed at enqueue");
        assert_eq!(claimed.id, q.enqueued.id());
        assert_eq!(q.record.state, SendState::Sending);

        // A stranger: the request's key, no window.
        let stranger = CustomerKey::Phone(phone("+16505559999"));
        db.store
            .decide_and_enqueue(&number(), &stranger, None, decide)
            .await
            .unwrap()
            .unwrap();
        let ctx = seen.lock().unwrap().pop().unwrap();
        assert_eq!(ctx.customer, stranger);
        assert_eq!(ctx.last_inbound_at, None);

        // A refusal writes nothing.
        let before = db.store.get_lane(&number()).await.unwrap();
        let refused = db
            .store
            .decide_and_enqueue(&number(), &asked, Some(&a), |_| {
                Err::<NewSend, _>("refused")
            })
            .await
            .unwrap();
        assert!(matches!(refused, Err("refused")));
        let after = db.store.get_lane(&number()).await.unwrap();
        assert_eq!(
            (before.queued, before.sending),
            (after.queued, after.sending)
        );

        // An idempotent repeat returns the first send with its attempts, and claims nothing.
        // (The stranger's send is claimed first: an older ready send goes before.)
        db.store
            .claim_sends(&number(), &a, t(NOW_SECS), 10)
            .await
            .unwrap();
        let keyed = |_: &SendContext| -> Result<NewSend, &'static str> {
            Ok(new_send(f.ws.id, "+16505551234", "k", Some("key-7")))
        };
        let first = db
            .store
            .decide_and_enqueue(&number(), &asked, Some(&a), keyed)
            .await
            .unwrap()
            .unwrap();
        let sent = first.claimed.expect("claimed");
        db.store
            .finish_attempts(&[accepted(&sent, &a, "wamid.k7", NOW_SECS)], t(NOW_SECS))
            .await
            .unwrap();
        let again = db
            .store
            .decide_and_enqueue(&number(), &asked, Some(&a), keyed)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(again.enqueued, Enqueued::Existing(id) if id == first.enqueued.id()));
        assert!(again.claimed.is_none());
        assert_eq!(again.attempts.len(), 1);
        assert_eq!(again.record.state, SendState::Accepted);

        // An unknown number is NotFound, and nothing is decided.
        let calls = seen.lock().unwrap().len();
        let missing = coex_core::PhoneNumberId::parse("999999999".to_owned()).unwrap();
        let e = db
            .store
            .decide_and_enqueue(&missing, &asked, None, decide)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
        assert_eq!(seen.lock().unwrap().len(), calls);
    }
);
