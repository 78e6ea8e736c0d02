//! The per-workspace event feed (outbox).

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

both!(
    sequence_is_gap_free_and_continues_across_batches,
    |db| async {
        let f = db.fixture().await;
        let out = db
            .store
            .apply_batch(&batch(vec![
                inbound("wamid.f1", by_phone("16505551234"), 10, "a"),
                inbound("wamid.f2", by_phone("16505551234"), 11, "b"),
            ]))
            .await
            .unwrap();
        // One contact created, two messages.
        assert_eq!(out.summary.events_appended, 3);
        assert_eq!(out.appended, vec![(f.ws.id, EventSeq::new(3))]);

        // A batch with many events (more than one multi-row insert).
        let many: Vec<_> = (0..150)
            .map(|i| {
                inbound(
                    &format!("wamid.g{i}"),
                    by_phone("16505551234"),
                    100 + i,
                    "x",
                )
            })
            .collect();
        let out = db.store.apply_batch(&batch(many)).await.unwrap();
        assert_eq!(out.appended, vec![(f.ws.id, EventSeq::new(153))]);

        let mut all = Vec::new();
        let mut after = EventSeq::new(0);
        loop {
            let page = db.store.events_after(f.ws.id, after, 40).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        let seqs: Vec<i64> = all.iter().map(|e| e.seq.get()).collect();
        assert_eq!(seqs, (1..=153).collect::<Vec<_>>());
        assert_eq!(all[0].kind, EventKind::ContactChanged);
        assert_eq!(all[1].kind, EventKind::MessageCreated);
        assert_eq!(all[1].wamid.as_ref().unwrap().as_str(), "wamid.f1");
        assert!(all[1].conversation.is_some());
        assert!(
            all[1].data.as_str().contains("\"origin\":\"customer\""),
            "{:?}",
            all[1].data
        );

        // Another workspace has its own sequence.
        let other = db
            .store
            .ensure_workspace(&WorkspaceSlug::parse("other").unwrap(), "Other")
            .await
            .unwrap();
        assert!(
            db.store
                .events_after(other.id, EventSeq::new(0), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
);
