//! Status webhooks: forward-only, deduplicated, parked while their message is unknown.

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

const BOB: &str = "4915123456789";

both!(late_delivered_never_overwrites_read, |db| async {
    db.fixture().await;
    db.apply(vec![sent("wamid.s1", by_phone(BOB), 1_000, "hi")])
        .await;
    assert_eq!(
        db.message("wamid.s1").await.status,
        Some(MessageStatus::Pending)
    );

    let s = db
        .apply(vec![
            status("wamid.s1", MessageStatus::Sent, 1_001),
            status("wamid.s1", MessageStatus::Read, 1_005),
        ])
        .await;
    assert_eq!(s.statuses_applied, 2);
    let s = db
        .apply(vec![status("wamid.s1", MessageStatus::Delivered, 1_003)])
        .await;
    assert_eq!((s.statuses_applied, s.statuses_stale), (0, 1));
    let m = db.message("wamid.s1").await;
    assert_eq!(m.status, Some(MessageStatus::Read));
    assert_eq!(m.status_at, Some(t(1_005)));

    // Redelivery of a known (wamid, status) is a duplicate, not even stale.
    let s = db
        .apply(vec![status("wamid.s1", MessageStatus::Read, 1_005)])
        .await;
    assert_eq!(s.statuses_duplicate, 1);

    let history = db
        .store
        .status_history(&number(), &w("wamid.s1"))
        .await
        .unwrap();
    let seen: Vec<_> = history.iter().map(|h| h.status).collect();
    assert_eq!(
        seen,
        [
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read
        ]
    );
});

both!(read_without_delivered_and_pricing_from_either, |db| async {
    db.fixture().await;
    db.apply(vec![sent("wamid.s2", by_phone(BOB), 1_000, "hi")])
        .await;
    let mut read = status("wamid.s2", MessageStatus::Read, 1_010);
    let Ingest::Status(ref mut r) = read else {
        unreachable!()
    };
    r.pricing = None;
    let mut delivered = status("wamid.s2", MessageStatus::Delivered, 1_005);
    let Ingest::Status(ref mut d) = delivered else {
        unreachable!()
    };
    d.pricing = Some(Pricing {
        billable: Some(true),
        model: Some("PMP".into()),
        kind: Some("regular".into()),
        category: Some("marketing".into()),
    });
    db.apply(vec![read]).await;
    let s = db.apply(vec![delivered]).await;
    assert_eq!(s.statuses_stale, 1);
    let m = db.message("wamid.s2").await;
    assert_eq!(m.status, Some(MessageStatus::Read));
    let p = m.pricing.expect("pricing from the stale delivered is kept");
    assert_eq!(p.category.as_deref(), Some("marketing"));
    assert_eq!(p.billable, Some(true));
});

both!(failed_is_terminal, |db| async {
    db.fixture().await;
    db.apply(vec![
        sent("wamid.f1", by_phone(BOB), 1_000, "a"),
        sent("wamid.f2", by_phone(BOB), 1_000, "b"),
    ])
    .await;
    let mut failed = status("wamid.f1", MessageStatus::Failed, 1_002);
    let Ingest::Status(ref mut f) = failed else {
        unreachable!()
    };
    f.error = Some(MetaError {
        code: 131_049,
        title: "healthy ecosystem".into(),
        details: Some("not delivered".into()),
    });
    let s = db
        .apply(vec![status("wamid.f1", MessageStatus::Sent, 1_001), failed])
        .await;
    assert_eq!(s.statuses_applied, 2);
    let s = db
        .apply(vec![status("wamid.f1", MessageStatus::Delivered, 1_003)])
        .await;
    assert_eq!(s.statuses_stale, 1);
    let m = db.message("wamid.f1").await;
    assert_eq!(m.status, Some(MessageStatus::Failed));
    assert_eq!(m.error.as_ref().unwrap().code, 131_049);

    // A failure after delivery contradicts it: kept in the history only.
    db.apply(vec![status("wamid.f2", MessageStatus::Delivered, 1_001)])
        .await;
    let s = db
        .apply(vec![status("wamid.f2", MessageStatus::Failed, 1_002)])
        .await;
    assert_eq!(s.statuses_stale, 1);
    assert_eq!(
        db.message("wamid.f2").await.status,
        Some(MessageStatus::Delivered)
    );
});

both!(status_before_its_message_waits_for_it, |db| async {
    let f = db.fixture().await;
    let s = db
        .apply(vec![
            status("wamid.early", MessageStatus::Sent, 1_001),
            status("wamid.early", MessageStatus::Delivered, 1_002),
        ])
        .await;
    assert_eq!(s.statuses_orphaned, 2);
    let s = db
        .apply(vec![sent("wamid.early", by_phone(BOB), 1_000, "hi")])
        .await;
    assert_eq!(s.messages_inserted, 1);
    assert_eq!(s.statuses_applied, 2);
    let m = db.message("wamid.early").await;
    assert_eq!(m.status, Some(MessageStatus::Delivered));

    let feed = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 100)
        .await
        .unwrap();
    assert!(feed.iter().any(|e| e.kind == EventKind::MessageStatus
        && e.wamid.as_ref().map(|w| w.as_str()) == Some("wamid.early")));
});

both!(statuses_link_phone_and_bsuid, |db| async {
    let f = db.fixture().await;
    db.apply(vec![sent("wamid.l1", by_phone(BOB), 1_000, "hi")])
        .await;
    let mut st = status("wamid.l1", MessageStatus::Delivered, 1_001);
    let Ingest::Status(ref mut s) = st else {
        unreachable!()
    };
    s.recipient = Some(by_both("DE.8812", BOB));
    db.apply(vec![st]).await;
    let c = db
        .store
        .find_contact(f.ws.id, &CustomerKey::Bsuid(bsuid("DE.8812")))
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(c.phone.unwrap().digits(), BOB);
});

both!(bulk_statuses_cover_every_case, |db| async {
    db.fixture().await;
    db.apply(vec![
        sent("wamid.k1", by_phone(BOB), 1_000, "a"),
        sent("wamid.k2", by_phone(BOB), 1_000, "b"),
    ])
    .await;
    db.apply(vec![status("wamid.k2", MessageStatus::Read, 1_010)])
        .await;
    // One status per message: applied, stale, missing, and one whose message comes later in
    // the same batch.
    let s = db
        .apply(vec![
            status("wamid.k1", MessageStatus::Delivered, 1_005),
            status("wamid.k2", MessageStatus::Delivered, 1_005),
            status("wamid.k3", MessageStatus::Sent, 1_005),
            status("wamid.k4", MessageStatus::Delivered, 1_006),
            sent("wamid.k4", by_phone(BOB), 1_001, "d"),
        ])
        .await;
    assert_eq!(
        (s.statuses_applied, s.statuses_stale, s.statuses_orphaned),
        (2, 1, 1)
    );
    assert_eq!(
        db.message("wamid.k1").await.status,
        Some(MessageStatus::Delivered)
    );
    assert_eq!(
        db.message("wamid.k2").await.status,
        Some(MessageStatus::Read)
    );
    assert_eq!(
        db.message("wamid.k4").await.status,
        Some(MessageStatus::Delivered)
    );
    let s = db
        .apply(vec![sent("wamid.k3", by_phone(BOB), 1_000, "c")])
        .await;
    assert_eq!(s.statuses_applied, 1);
    assert_eq!(
        db.message("wamid.k3").await.status,
        Some(MessageStatus::Sent)
    );
});

both!(
    messages_in_a_run_meet_their_statuses_links_and_edits,
    |db| async {
        let f = db.fixture().await;
        let edit = Ingest::Edit(MessageEdit {
            number: number(),
            wamid: w("wamid.r9"),
            original: w("wamid.r1"),
            author: Author::Customer,
            timestamp: t(1_005),
            content: MessageContent::text("hello, edited"),
        });
        let mut linking = status("wamid.r2", MessageStatus::Delivered, 1_002);
        let Ingest::Status(ref mut s) = linking else {
            unreachable!()
        };
        s.recipient = Some(by_both("DE.77", BOB));
        // Two webhooks in one batch: messages gather into one run that the statuses pass and the
        // edit ends; the run's statuses come before their message, the link before the message
        // that needs it.
        let batch = IngestBatch {
            items: vec![
                IngestItem {
                    received_at: t(1_010),
                    archive: ArchiveInput::None,
                    events: vec![
                        inbound("wamid.r1", by_bsuid("DE.77"), 1_000, "hello"),
                        sent("wamid.r2", by_bsuid("DE.77"), 1_001, "yes?"),
                        linking,
                        status("wamid.r2", MessageStatus::Read, 1_003),
                    ],
                },
                IngestItem {
                    received_at: t(1_011),
                    archive: ArchiveInput::None,
                    events: vec![inbound("wamid.r3", by_phone(BOB), 1_004, "me again"), edit],
                },
            ],
        };
        let s = db.store.apply_batch(&batch).await.unwrap().summary;
        assert_eq!(s.messages_inserted, 3);
        assert_eq!(
            db.message("wamid.r2").await.status,
            Some(MessageStatus::Read)
        );
        let r1 = db.message("wamid.r1").await;
        assert_eq!(r1.content.body.as_deref(), Some("hello, edited"));
        assert_eq!(r1.stored_at, t(1_010));
        assert_eq!(db.message("wamid.r3").await.stored_at, t(1_011));
        // One person: the status linked the phone, so the phone-only message is theirs too.
        let conversation = db.conversation_of("wamid.r1").await;
        assert_eq!(conversation.conversation.message_count, 3);
        assert_eq!(
            db.conversation_of("wamid.r3").await.conversation.id,
            conversation.conversation.id
        );
        let c = db
            .store
            .find_contact(f.ws.id, &CustomerKey::Bsuid(bsuid("DE.77")))
            .await
            .unwrap()
            .expect("contact");
        assert_eq!(c.phone.unwrap().digits(), BOB);
    }
);
