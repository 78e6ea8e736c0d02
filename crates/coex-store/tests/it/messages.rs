//! Live messages and echoes: idempotency, the customer-service window, pagination, patches.

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

const ALICE: &str = "16505551234";

both!(same_batch_twice_changes_nothing, |db| async {
    let f = db.fixture().await;
    let events = vec![
        inbound("wamid.in1", by_phone(ALICE), 1_000, "hi"),
        echo(
            "wamid.echo1",
            by_phone(ALICE),
            1_010,
            "hello from the phone",
        ),
    ];
    let first = db.apply(events.clone()).await;
    assert_eq!(first.messages_inserted, 2);
    assert_eq!(first.messages_duplicate, 0);
    let events_before = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 1000)
        .await
        .unwrap();

    let second = db.apply(events).await;
    assert_eq!(second.messages_inserted, 0);
    assert_eq!(second.messages_duplicate, 2);
    assert_eq!(second.events_appended, 0);
    let events_after = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 1000)
        .await
        .unwrap();
    assert_eq!(events_before, events_after);

    let conv = db.conversation_of("wamid.in1").await;
    assert_eq!(conv.conversation.message_count, 2);
});

both!(duplicate_inside_one_batch_is_stored_once, |db| async {
    db.fixture().await;
    let m = inbound("wamid.dup", by_phone(ALICE), 1_000, "twice");
    let s = db.apply(vec![m.clone(), m]).await;
    assert_eq!((s.messages_inserted, s.messages_duplicate), (1, 1));
    assert_eq!(
        db.conversation_of("wamid.dup")
            .await
            .conversation
            .message_count,
        1
    );
});

both!(echo_never_moves_the_window, |db| async {
    let f = db.fixture().await;
    db.apply(vec![
        inbound("wamid.in", by_phone(ALICE), 1_000, "question"),
        echo("wamid.e1", by_phone(ALICE), 2_000, "answer from the phone"),
    ])
    .await;
    let c = db.conversation_of("wamid.in").await.conversation;
    assert_eq!(c.last_inbound_at, Some(t(1_000)));
    assert_eq!(c.last_echo_at, Some(t(2_000)));
    assert_eq!(c.last_outbound_at, Some(t(2_000)));
    assert_eq!(c.last_message_at, t(2_000));

    let e = db.message("wamid.e1").await;
    assert_eq!(e.origin, Origin::BusinessApp);
    assert_eq!(e.direction, Direction::Outbound);
    assert_eq!(e.timestamp, t(2_000));

    // An echo-only conversation has no window at all.
    db.apply(vec![echo(
        "wamid.e2",
        by_phone("16505559999"),
        3_000,
        "promo",
    )])
    .await;
    let c2 = db.conversation_of("wamid.e2").await.conversation;
    assert_eq!(c2.last_inbound_at, None);

    // Echoes are the phone app's sign of life (13-day rule).
    let n = db.store.get_number(&f.number.id).await.unwrap();
    assert_eq!(n.last_app_activity_at, Some(t(3_000)));
});

both!(our_own_echo_is_not_a_second_message, |db| async {
    db.fixture().await;
    db.apply(vec![sent(
        "wamid.api",
        by_phone(ALICE),
        1_000,
        "from the inbox",
    )])
    .await;
    let s = db
        .apply(vec![echo(
            "wamid.api",
            by_phone(ALICE),
            1_001,
            "from the inbox",
        )])
        .await;
    assert_eq!(s.messages_duplicate, 1);
    let m = db.message("wamid.api").await;
    assert_eq!(m.origin, Origin::ApiAgent);
    assert_eq!(m.sender.as_deref(), Some("agent:alice"));
    assert_eq!(
        db.conversation_of("wamid.api")
            .await
            .conversation
            .message_count,
        1
    );
});

both!(unsupported_inbound_keeps_its_error, |db| async {
    db.fixture().await;
    let ev = Ingest::InboundMessage(InboundMessage {
        number: number(),
        wamid: w("wamid.unsup"),
        customer: by_phone(ALICE),
        timestamp: t(500),
        content: MessageContent {
            kind: MessageKind::Unsupported,
            body: None,
            media: None,
            reply_to: None,
            payload: Some(RawJson::new(r#"{"type":"unsupported"}"#)),
        },
        error: Some(MetaError {
            code: 131_060,
            title: "Unsupported message".into(),
            details: None,
        }),
    });
    db.apply(vec![ev]).await;
    let m = db.message("wamid.unsup").await;
    assert_eq!(m.content.kind, MessageKind::Unsupported);
    assert_eq!(m.error.unwrap().code, 131_060);
    assert_eq!(m.status, None);
    assert_eq!(
        m.content.payload.unwrap().as_str(),
        r#"{"type":"unsupported"}"#
    );
});

both!(
    conversations_and_messages_paginate_newest_first,
    |db| async {
        db.fixture().await;
        // 7 customers, customer i last wrote at 1000 + i; customer 0 writes 5 messages.
        let mut events = Vec::new();
        for i in 0..7 {
            events.push(inbound(
                &format!("wamid.c{i}"),
                by_phone(&format!("1650555{i:04}")),
                1_000 + i,
                "x",
            ));
        }
        for j in 0..4 {
            events.push(inbound(
                &format!("wamid.m{j}"),
                by_phone("16505550000"),
                100 + j,
                "old",
            ));
        }
        db.apply(events).await;

        let mut seen = Vec::new();
        let mut page = PageRequest::first(3);
        loop {
            let p = db.store.list_conversations(&number(), page).await.unwrap();
            assert!(p.items.len() <= 3);
            seen.extend(p.items.iter().map(|v| v.conversation.last_message_at));
            match p.next {
                Some(c) => page = PageRequest::after(3, Cursor::parse(&c.to_string()).unwrap()),
                None => break,
            }
        }
        let expected: Vec<_> = (0..7).rev().map(|i| t(1_000 + i)).collect();
        assert_eq!(seen, expected);

        let conv = db.conversation_of("wamid.c0").await;
        assert_eq!(conv.contact.phone.as_ref().unwrap().digits(), "16505550000");
        let mut wamids = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let p = db
                .store
                .list_messages(conv.conversation.id, page)
                .await
                .unwrap();
            wamids.extend(p.items.iter().map(|m| m.wamid.to_string()));
            match p.next {
                Some(c) => page = PageRequest::after(2, c),
                None => break,
            }
        }
        assert_eq!(
            wamids,
            ["wamid.c0", "wamid.m3", "wamid.m2", "wamid.m1", "wamid.m0"]
        );
    }
);

both!(edits_and_revokes_apply_to_the_original, |db| async {
    db.fixture().await;
    let edit = |id: &str, original: &str, secs: i64, text: &str| {
        Ingest::Edit(MessageEdit {
            number: number(),
            wamid: w(id),
            original: w(original),
            author: Author::Customer,
            timestamp: t(secs),
            content: MessageContent::text(text),
        })
    };
    let revoke = |id: &str, original: &str, secs: i64| {
        Ingest::Revoke(MessageRevoke {
            number: number(),
            wamid: w(id),
            original: w(original),
            author: Author::Customer,
            timestamp: t(secs),
        })
    };

    // Edit after its original; a duplicate of it changes nothing.
    db.apply(vec![inbound("wamid.o1", by_phone(ALICE), 1_000, "helo")])
        .await;
    let s = db
        .apply(vec![edit("wamid.ed1", "wamid.o1", 1_060, "hello")])
        .await;
    assert_eq!(s.patches_applied, 1);
    let s = db
        .apply(vec![edit("wamid.ed1", "wamid.o1", 1_060, "hello")])
        .await;
    assert_eq!(s.patches_duplicate, 1);
    let m = db.message("wamid.o1").await;
    assert_eq!(m.content.body.as_deref(), Some("hello"));
    assert_eq!(m.edited_at, Some(t(1_060)));

    // Two edits out of order: the newest wins.
    db.apply(vec![edit("wamid.ed3", "wamid.o1", 1_200, "hello!!")])
        .await;
    let s = db
        .apply(vec![edit("wamid.ed2", "wamid.o1", 1_100, "hello!")])
        .await;
    assert_eq!(s.patches_stale, 1);
    assert_eq!(
        db.message("wamid.o1").await.content.body.as_deref(),
        Some("hello!!")
    );

    // An edit and a revoke before their original: kept, then applied when it lands.
    let s = db
        .apply(vec![
            edit("wamid.ed9", "wamid.o2", 2_060, "edited first"),
            revoke("wamid.rv9", "wamid.o3", 2_100),
        ])
        .await;
    assert_eq!(s.patches_pending, 2);
    let s = db
        .apply(vec![
            inbound("wamid.o2", by_phone(ALICE), 2_000, "original"),
            inbound("wamid.o3", by_phone(ALICE), 2_001, "oops"),
        ])
        .await;
    assert_eq!(s.patches_applied, 2);
    let m2 = db.message("wamid.o2").await;
    assert_eq!(m2.content.body.as_deref(), Some("edited first"));
    assert_eq!(m2.edited_at, Some(t(2_060)));
    let m3 = db.message("wamid.o3").await;
    assert_eq!(m3.revoked_at, Some(t(2_100)));
    assert_eq!(
        m3.content.body.as_deref(),
        Some("oops"),
        "content is kept for the record"
    );

    // A second revoke is stale; an app-side revoke counts as app activity.
    let s = db
        .apply(vec![Ingest::Revoke(MessageRevoke {
            number: number(),
            wamid: w("wamid.rv10"),
            original: w("wamid.o3"),
            author: Author::BusinessApp,
            timestamp: t(2_200),
        })])
        .await;
    assert_eq!(s.patches_stale, 1);
    let n = db.store.get_number(&number()).await.unwrap();
    assert_eq!(n.last_app_activity_at, Some(t(2_200)));
});
