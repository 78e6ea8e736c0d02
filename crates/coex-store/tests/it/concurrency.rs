//! Several writers on one database (two pools, like two hub processes): duplicates collapse to
//! one row, aggregates stay exact, the feed stays gap-free.

use std::collections::BTreeSet;

use coex_core::model::*;
use coex_store::{SqlStore, Store};

use crate::harness::*;

fn workload(task: usize) -> Vec<IngestBatch> {
    // Every task sends the same 40 messages (in a different order and batching) plus
    // statuses for the API messages; every message is therefore a concurrent duplicate.
    let mut events = Vec::new();
    for i in 0..20 {
        let customer = by_phone(&format!("1650555{:04}", i % 5));
        events.push(inbound(
            &format!("wamid.in{i}"),
            customer.clone(),
            1_000 + i,
            "hi",
        ));
        events.push(sent(&format!("wamid.out{i}"), customer, 2_000 + i, "hello"));
        events.push(status(
            &format!("wamid.out{i}"),
            MessageStatus::Delivered,
            3_000 + i,
        ));
        events.push(status(
            &format!("wamid.out{i}"),
            MessageStatus::Read,
            4_000 + i,
        ));
    }
    if task % 2 == 1 {
        events.reverse();
    }
    events.chunks(7 + task).map(|c| batch(c.to_vec())).collect()
}

async fn run(stores: [SqlStore; 2], tasks: usize) -> Vec<coex_store::BatchSummary> {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = stores[task % 2].clone();
        handles.push(tokio::spawn(async move {
            let mut total = Vec::new();
            for b in workload(task) {
                total.push(store.apply_batch(&b).await.unwrap().summary);
            }
            total
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

both!(
    concurrent_duplicates_from_two_pools_make_one_row,
    |db| async {
        let f = db.fixture().await;
        let second = db.second_store().await;
        let summaries = run([db.store.clone(), second.clone()], 4).await;

        let inserted: u64 = summaries.iter().map(|s| s.messages_inserted).sum();
        let duplicates: u64 = summaries.iter().map(|s| s.messages_duplicate).sum();
        assert_eq!(inserted, 40, "each message stored exactly once");
        assert_eq!(inserted + duplicates, 4 * 40);

        let convs = db
            .store
            .list_conversations(&number(), PageRequest::first(50))
            .await
            .unwrap();
        assert_eq!(convs.items.len(), 5);
        let total: i64 = convs
            .items
            .iter()
            .map(|v| v.conversation.message_count)
            .sum();
        assert_eq!(total, 40, "aggregates counted once per stored message");
        for v in &convs.items {
            assert!(v.conversation.last_inbound_at.is_some());
        }
        for i in 0..20 {
            let m = db.message(&format!("wamid.out{i}")).await;
            assert_eq!(m.status, Some(MessageStatus::Read), "wamid.out{i}");
        }

        let feed = db
            .store
            .events_after(f.ws.id, EventSeq::new(0), 10_000)
            .await
            .unwrap();
        let seqs: Vec<i64> = feed.iter().map(|e| e.seq.get()).collect();
        assert_eq!(
            seqs,
            (1..=feed.len() as i64).collect::<Vec<_>>(),
            "gap-free"
        );
        let created: BTreeSet<_> = feed
            .iter()
            .filter(|e| e.kind == EventKind::MessageCreated)
            .map(|e| e.wamid.clone())
            .collect();
        assert_eq!(created.len(), 40);
        assert_eq!(
            feed.iter()
                .filter(|e| e.kind == EventKind::MessageCreated)
                .count(),
            40,
            "one created event per message"
        );
        let contacts = feed
            .iter()
            .filter(|e| e.kind == EventKind::ContactChanged)
            .count();
        assert_eq!(contacts, 5, "each contact created once");
        second.close().await;
    }
);

both!(
    a_message_and_its_edit_revoke_or_status_racing_from_two_pools_always_end_applied,
    |db| async {
        db.fixture().await;
        let second = db.second_store().await;
        const ROUNDS: i64 = 120;
        for i in 0..ROUNDS {
            let original = format!("wamid.race{i}");
            let customer = by_phone("16505550001");
            let (message, follow_up) = match i % 3 {
                0 => (
                    inbound(&original, customer, 1_000 + i, "hi"),
                    Ingest::Revoke(MessageRevoke {
                        number: number(),
                        wamid: w(&format!("wamid.rv{i}")),
                        original: w(&original),
                        author: Author::Customer,
                        timestamp: t(2_000 + i),
                    }),
                ),
                1 => (
                    inbound(&original, customer, 1_000 + i, "hi"),
                    Ingest::Edit(MessageEdit {
                        number: number(),
                        wamid: w(&format!("wamid.ed{i}")),
                        original: w(&original),
                        author: Author::Customer,
                        timestamp: t(2_000 + i),
                        content: MessageContent::text("edited"),
                    }),
                ),
                _ => (
                    sent(&original, customer, 1_000 + i, "hello"),
                    status(&original, MessageStatus::Delivered, 2_000 + i),
                ),
            };
            let (message, follow_up) = (batch(vec![message]), batch(vec![follow_up]));
            // Alternate which pool stores the message.
            let (a, b) = if i % 6 < 3 {
                (db.store.clone(), second.clone())
            } else {
                (second.clone(), db.store.clone())
            };
            let store_message = tokio::spawn(async move { a.apply_batch(&message).await });
            let store_follow_up = tokio::spawn(async move { b.apply_batch(&follow_up).await });
            store_message.await.unwrap().unwrap();
            store_follow_up.await.unwrap().unwrap();
            // No later batch runs: one of the two must have applied the follow-up.
            let m = db.message(&original).await;
            match i % 3 {
                0 => assert_eq!(m.revoked_at, Some(t(2_000 + i)), "round {i}: revoke lost"),
                1 => assert_eq!(
                    m.content.body.as_deref(),
                    Some("edited"),
                    "round {i}: edit lost"
                ),
                _ => assert_eq!(
                    m.status,
                    Some(MessageStatus::Delivered),
                    "round {i}: status lost"
                ),
            }
        }
        second.close().await;
    }
);
