//! On SQLite the send engine's group commits (results, claims) give way to an interactive
//! transaction by rolling back their first try, then commit after it (see
//! `crate::writer_gate`). PostgreSQL has no writer gate: there nothing gives way, and the
//! integration tests (`tests/it/sending.rs`) cover both backends' results.
//!
//! Each test holds SQLite's writer connection in a transaction of its own while the group
//! commit takes its turn and queues for that connection; an interactive transaction then
//! asks for the writer, and the test lets the connection go. The group commit gets it first
//! (the connection is handed out first come, first served) and finds someone waiting at its first look.

use std::time::Duration;

use coex_core::model::{
    CustomerKey, MessageContent, MessagingTier, NewNumber, NumberKind, NumberState, Origin,
    Timestamp, WorkspaceSlug,
};
use coex_core::policy::Recipient;
use coex_core::pricing::{Amount, Category, Country};
use coex_core::{PhoneNumber, PhoneNumberId, WabaId, Wamid};
use coex_testdb::{Backend, TestDb};

use super::{
    AttemptResult, ClaimRequest, ClaimedSend, LaneOwner, NewSend, Outcome, SendState, SendStore,
};
use crate::writer_gate::{Ticket, WriteKind, WriterGate};
use crate::{SqlStore, Store};

const NOW_MS: i64 = 1_750_000_000_000;
const SENDS: usize = 40;

fn now() -> Timestamp {
    Timestamp::from_millis(NOW_MS)
}

fn number() -> PhoneNumberId {
    PhoneNumberId::parse("106540352242922").expect("a phone-number id")
}

/// A SQLite store with one number, its lane held by `owner`, and `SENDS` queued sends.
async fn queued(owner: &LaneOwner) -> (TestDb, SqlStore) {
    queued_on(Backend::Sqlite, owner, SENDS).await
}

/// A store on `backend` with one number, its lane held by `owner`, and `sends` queued sends.
async fn queued_on(backend: Backend, owner: &LaneOwner, sends: usize) -> (TestDb, SqlStore) {
    let db = TestDb::create(backend, "coex_give_way").await;
    let store = SqlStore::connect(db.url()).await.expect("store");
    let ws = store
        .ensure_workspace(&WorkspaceSlug::parse("acme").expect("slug"), "Acme")
        .await
        .expect("workspace");
    let waba = WabaId::parse("102290129340398").expect("WABA id");
    store.upsert_waba(ws.id, &waba, None).await.expect("WABA");
    store
        .upsert_number(&NewNumber {
            id: number(),
            waba,
            display_phone: PhoneNumber::parse("15550783881").expect("phone"),
            verified_name: None,
            kind: NumberKind::Coexistence,
            tier: MessagingTier::Tier1k,
            initial_state: NumberState::Connected,
        })
        .await
        .expect("number");
    for i in 0..sends {
        let to = PhoneNumber::parse(&format!("+165055{:05}", 10_000 + i)).expect("phone");
        store
            .enqueue(&NewSend {
                workspace: ws.id,
                number: number(),
                customer: CustomerKey::Phone(to.clone()),
                recipient: Recipient::Phone(to.clone()),
                origin: Origin::ApiAgent,
                sender: None,
                kind: "text".into(),
                request: format!(r#"{{"to":"{}","type":"text"}}"#, to.e164()),
                content: MessageContent::text(format!("m{i}")),
                category: Category::Service,
                country: Country::from_phone(&to),
                business_initiated: false,
                window_closes_at: None,
                estimated: Amount::from_micros(0),
                currency: "USD".into(),
                idempotency_key: None,
                not_before: now(),
            })
            .await
            .expect("enqueue");
    }
    store
        .acquire_lane(&number(), owner, now(), 20_000)
        .await
        .expect("lane");
    (db, store)
}

fn accepted(send: &ClaimedSend, owner: &LaneOwner, i: usize) -> AttemptResult {
    let wamid = format!("wamid.give-way.{i}");
    AttemptResult {
        send: send.clone(),
        owner: owner.clone(),
        started_at: now(),
        finished_at: now(),
        outcome: Outcome::Accepted {
            wamid: Wamid::parse(&wamid).expect("wamid"),
            http_status: 200,
            response: format!(r#"{{"messages":[{{"id":"{wamid}"}}]}}"#),
        },
    }
}

/// Claims `n` queued sends for `owner` and builds an accepted result for each.
async fn claimed_results(
    store: &SqlStore,
    owner: &LaneOwner,
    n: usize,
) -> (Vec<ClaimedSend>, Vec<AttemptResult>) {
    let claim = store
        .claim_sends(&number(), owner, now(), n as u32)
        .await
        .expect("claim");
    assert_eq!(claim.sends.len(), n);
    let results = claim
        .sends
        .iter()
        .enumerate()
        .map(|(i, s)| accepted(s, owner, i))
        .collect();
    (claim.sends, results)
}

/// Every one of `sends` is accepted, with one attempt recorded.
async fn assert_accepted_once(store: &SqlStore, sends: &[ClaimedSend]) {
    for s in sends {
        assert_eq!(
            store.get_send(s.id).await.expect("send").state,
            SendState::Accepted
        );
        assert_eq!(store.send_attempts(s.id).await.expect("attempts").len(), 1);
    }
}

/// Waits (yielding to the spawned group commit) until `ready` holds; a stuck test fails
/// after ten seconds instead of hanging.
async fn until(what: &str, ready: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ready() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

fn gate(store: &SqlStore) -> &WriterGate {
    store.writer_demand().0.expect("SQLite has a writer gate")
}

/// Starts `group_commit` while this test holds the writer, and returns once the group commit
/// has the writer's connection and an interactive transaction (the ticket) waits for it.
async fn with_one_waiting<T: Send + 'static>(
    store: &SqlStore,
    group_commit: impl std::future::Future<Output = T> + Send + 'static,
) -> (tokio::task::JoinHandle<T>, Ticket<'_>) {
    let holder = store.begin(WriteKind::Interactive).await.expect("writer");
    let task = tokio::spawn(group_commit);
    until("the group commit takes its turn", || {
        gate(store).turn_taken()
    })
    .await;
    let ticket = gate(store).interactive();
    drop(holder);
    (task, ticket)
}

#[tokio::test(flavor = "current_thread")]
async fn a_results_commit_rolls_back_for_a_waiting_transaction_then_commits_after_it() {
    let owner = LaneOwner::new("a");
    let (db, store) = queued(&owner).await;
    let (sends, results) = claimed_results(&store, &owner, SENDS).await;

    let (finishing, ticket) = with_one_waiting(&store, {
        let (store, results) = (store.clone(), results.clone());
        async move { store.finish_attempts_some(&results, now()).await }
    })
    .await;
    until("the results commit gives way", || {
        gate(&store).gave_way() == 1
    })
    .await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !finishing.is_finished(),
        "the results commit waits for the interactive transaction"
    );
    let first = store.get_send(sends[0].id).await.expect("send");
    assert_eq!(
        first.state,
        SendState::Sending,
        "nothing of its try is kept"
    );

    drop(ticket);
    let (written, summary) = finishing.await.expect("task").expect("results");
    assert_eq!(
        written, SENDS,
        "no one waits on its second try: all in one commit"
    );
    assert_eq!(summary.accepted, SENDS as u64);
    assert_eq!(gate(&store).gave_way(), 1, "it gives way once");
    assert_accepted_once(&store, &sends).await;
    store.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_claim_round_rolls_back_for_a_waiting_transaction_then_claims_after_it() {
    let owner = LaneOwner::new("a");
    let (db, store) = queued(&owner).await;
    let asked = vec![ClaimRequest {
        number: number(),
        limit: SENDS as u32,
    }];

    let (claiming, ticket) = with_one_waiting(&store, {
        let (store, asked, owner) = (store.clone(), asked.clone(), owner.clone());
        async move { store.claim_sends_some(&asked, &owner, now()).await }
    })
    .await;
    until("the claim round gives way", || gate(&store).gave_way() == 1).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !claiming.is_finished(),
        "the claim round waits for the interactive transaction"
    );
    assert_eq!(
        store.get_lane(&number()).await.expect("lane").sending,
        0,
        "nothing of its try is kept"
    );

    drop(ticket);
    let claims = claiming.await.expect("task").expect("claims");
    let claim = claims[0].as_ref().expect("the number was claimed for");
    assert_eq!(claim.sends.len(), SENDS);
    assert_eq!(gate(&store).gave_way(), 1, "it gives way once");
    let lane = store.get_lane(&number()).await.expect("lane");
    assert_eq!((lane.queued, lane.sending), (0, SENDS as u64));
    store.close().await;
    db.finish().await;
}

/// Nobody waiting, a results batch of several pieces (on SQLite the runtime's other tasks run
/// between them) is written in one transaction on either backend, every result once.
async fn a_long_results_batch_is_written_in_one_transaction(backend: Backend) {
    const LONG: usize = 100;
    let owner = LaneOwner::new("a");
    let (db, store) = queued_on(backend, &owner, LONG).await;
    let (sends, results) = claimed_results(&store, &owner, LONG).await;

    let mut calls = Vec::new();
    let mut written = 0;
    while written < LONG {
        let (n, summary) = store
            .finish_attempts_some(&results[written..], now())
            .await
            .expect("results");
        assert_eq!(summary.accepted, n as u64);
        calls.push(n);
        written += n;
    }
    const { assert!(LONG > 3 * super::sql::FINISH_PIECE, "several pieces") };
    assert_eq!(calls, vec![LONG], "one transaction");
    assert_accepted_once(&store, &sends).await;
    store.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_results_batch_is_written_in_one_transaction_sqlite() {
    a_long_results_batch_is_written_in_one_transaction(Backend::Sqlite).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_results_batch_is_written_in_one_transaction_postgres() {
    a_long_results_batch_is_written_in_one_transaction(Backend::Postgres).await;
}
