//! History import: original timestamps, no window, dedup with live messages, progress in any
//! arrival order, declined as a state, media placeholders.

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

const ANA: &str = "5511987654321";

fn hmsg(
    wamid: &str,
    dir: Direction,
    secs: i64,
    content: MessageContent,
    st: Option<MessageStatus>,
) -> HistoryMessage {
    HistoryMessage {
        wamid: w(wamid),
        customer: by_phone(ANA),
        direction: dir,
        timestamp: t(secs),
        content,
        status: st,
    }
}

fn chunk(phase: u8, order: u32, progress: u8, messages: Vec<HistoryMessage>) -> Ingest {
    Ingest::HistoryChunk(HistoryChunk {
        number: number(),
        phase,
        chunk_order: order,
        progress,
        messages,
    })
}

both!(
    history_keeps_timestamps_and_never_opens_the_window,
    |db| async {
        let f = db.fixture().await;
        let s = db
            .apply(vec![chunk(
                1,
                1,
                40,
                vec![
                    hmsg(
                        "wamid.h1",
                        Direction::Inbound,
                        100,
                        MessageContent::text("old question"),
                        Some(MessageStatus::Read),
                    ),
                    hmsg(
                        "wamid.h2",
                        Direction::Outbound,
                        200,
                        MessageContent::text("old answer"),
                        Some(MessageStatus::Delivered),
                    ),
                ],
            )])
            .await;
        assert_eq!(s.history_inserted, 2);
        let h1 = db.message("wamid.h1").await;
        assert_eq!(h1.origin, Origin::HistoryImport);
        assert_eq!(h1.direction, Direction::Inbound);
        assert_eq!(h1.timestamp, t(100));
        assert_eq!(h1.stored_at, t(NOW_SECS));
        let h2 = db.message("wamid.h2").await;
        assert_eq!(h2.status, Some(MessageStatus::Delivered));
        let c = db.conversation_of("wamid.h1").await.conversation;
        assert_eq!(c.last_inbound_at, None, "history never opens the window");
        assert_eq!(c.last_echo_at, None);
        assert_eq!(c.last_message_at, t(200));
        let n = db.store.get_number(&f.number.id).await.unwrap();
        assert_eq!(n.last_app_activity_at, Some(t(NOW_SECS)));
    }
);

both!(history_deduplicates_against_live_messages, |db| async {
    db.fixture().await;
    db.apply(vec![inbound("wamid.live", by_phone(ANA), 5_000, "live")])
        .await;
    let s = db
        .apply(vec![chunk(
            0,
            1,
            100,
            vec![hmsg(
                "wamid.live",
                Direction::Inbound,
                5_000,
                MessageContent::text("live"),
                Some(MessageStatus::Read),
            )],
        )])
        .await;
    assert_eq!((s.history_inserted, s.history_duplicate), (0, 1));
    let m = db.message("wamid.live").await;
    assert_eq!(m.origin, Origin::Customer);
    assert_eq!(
        db.conversation_of("wamid.live")
            .await
            .conversation
            .message_count,
        1
    );
});

both!(progress_in_any_arrival_order, |db| async {
    let f = db.fixture().await;
    let job = db
        .store
        .record_sync_request(
            &number(),
            SyncKind::History,
            &coex_core::RequestId::parse("req-1").unwrap(),
            t(10),
        )
        .await
        .unwrap();
    assert_eq!(job.state, SyncState::Requested);

    let m = |id: &str, secs| {
        hmsg(
            id,
            Direction::Inbound,
            secs,
            MessageContent::text("x"),
            None,
        )
    };
    db.apply(vec![chunk(2, 3, 100, vec![m("wamid.z3", 30)])])
        .await;
    db.apply(vec![chunk(1, 1, 20, vec![m("wamid.z1", 10)])])
        .await;
    let s = db
        .apply(vec![chunk(1, 2, 60, vec![m("wamid.z2", 20)])])
        .await;
    assert_eq!(s.history_chunks, 1);
    // A redelivered chunk counts once.
    let s = db
        .apply(vec![chunk(1, 2, 60, vec![m("wamid.z2", 20)])])
        .await;
    assert_eq!(
        (
            s.history_chunks,
            s.history_chunks_duplicate,
            s.history_duplicate
        ),
        (0, 1, 1)
    );

    let jobs = db.store.sync_progress(&number()).await.unwrap();
    let h = jobs.iter().find(|j| j.kind == SyncKind::History).unwrap();
    assert_eq!(h.state, SyncState::Complete);
    assert_eq!(h.progress, 100);
    assert_eq!((h.phase, h.chunk_order), (Some(2), Some(3)));
    assert_eq!(h.chunks_received, 3);
    assert_eq!(h.items_received, 3);
    assert_eq!(h.request_id.as_ref().unwrap().as_str(), "req-1");

    let feed = db
        .store
        .events_after(f.ws.id, EventSeq::new(0), 100)
        .await
        .unwrap();
    assert!(feed.iter().any(|e| e.kind == EventKind::SyncProgress));
});

both!(declined_history_is_a_state, |db| async {
    db.fixture().await;
    let declined = Ingest::HistoryDeclined(HistoryDeclined {
        number: number(),
        error: MetaError {
            code: 2_593_109,
            title: "History sync is turned off by the business from the WhatsApp Business App"
                .into(),
            details: Some("History sharing is turned off by the business".into()),
        },
    });
    let s = db.apply(vec![declined.clone(), declined]).await;
    assert_eq!(s.history_declined, 2);
    assert_eq!(s.events_appended, 1);
    let jobs = db.store.sync_progress(&number()).await.unwrap();
    let h = jobs.iter().find(|j| j.kind == SyncKind::History).unwrap();
    assert_eq!(h.state, SyncState::Declined);
    assert_eq!(h.error.as_ref().unwrap().code, 2_593_109);

    // A new request restarts it.
    let job = db
        .store
        .record_sync_request(
            &number(),
            SyncKind::History,
            &coex_core::RequestId::parse("req-2").unwrap(),
            t(20),
        )
        .await
        .unwrap();
    assert_eq!(job.state, SyncState::Requested);
    assert_eq!(job.error, None);
});

both!(media_fills_placeholders_in_either_order, |db| async {
    db.fixture().await;
    let media = |wamid: &str| {
        Ingest::HistoryMedia(HistoryMedia {
            number: number(),
            wamid: w(wamid),
            timestamp: t(300),
            content: MessageContent {
                kind: MessageKind::Image,
                body: Some("Black Prince echeveria".into()),
                media: Some(MediaRef {
                    id: Some(coex_core::MediaId::parse("24230790383178626").unwrap()),
                    mime_type: Some("image/jpeg".into()),
                    sha256: Some("3f9d".into()),
                    filename: None,
                }),
                reply_to: None,
                payload: None,
            },
        })
    };
    // Placeholder first, then media; and media first, then its placeholder.
    db.apply(vec![chunk(
        0,
        1,
        50,
        vec![hmsg(
            "wamid.ph1",
            Direction::Outbound,
            300,
            MessageContent::media_placeholder(),
            Some(MessageStatus::Played),
        )],
    )])
    .await;
    let s = db.apply(vec![media("wamid.ph1")]).await;
    assert_eq!(s.patches_applied, 1);
    let s = db.apply(vec![media("wamid.ph2")]).await;
    assert_eq!(s.patches_pending, 1);
    db.apply(vec![chunk(
        0,
        2,
        60,
        vec![hmsg(
            "wamid.ph2",
            Direction::Inbound,
            301,
            MessageContent::media_placeholder(),
            None,
        )],
    )])
    .await;
    for id in ["wamid.ph1", "wamid.ph2"] {
        let m = db.message(id).await;
        assert_eq!(m.content.kind, MessageKind::Image, "{id}");
        assert_eq!(
            m.content.media.as_ref().unwrap().mime_type.as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(m.content.body.as_deref(), Some("Black Prince echeveria"));
    }
    // A placeholder whose media never comes stays a placeholder.
    db.apply(vec![chunk(
        1,
        1,
        70,
        vec![hmsg(
            "wamid.ph3",
            Direction::Inbound,
            10,
            MessageContent::media_placeholder(),
            None,
        )],
    )])
    .await;
    assert_eq!(
        db.message("wamid.ph3").await.content.kind,
        MessageKind::MediaPlaceholder
    );
});

both!(a_merge_inside_a_chunk_keeps_every_message, |db| async {
    db.fixture().await;
    // Two records of one person, each with a conversation: phone-only and BSUID-only.
    db.apply(vec![inbound("wamid.lp", by_phone(ANA), 1_000, "by phone")])
        .await;
    db.apply(vec![inbound(
        "wamid.lb",
        by_bsuid("BR.1502576394655843"),
        1_001,
        "by id",
    )])
    .await;
    // The chunk names the phone first, then both keys: resolving the second merges the first
    // record away while the chunk is being prepared.
    let mut first = hmsg(
        "wamid.hp",
        Direction::Inbound,
        10,
        MessageContent::text("a"),
        None,
    );
    first.customer = by_phone(ANA);
    let mut second = hmsg(
        "wamid.hb",
        Direction::Outbound,
        20,
        MessageContent::text("b"),
        None,
    );
    second.customer = by_both("BR.1502576394655843", ANA);
    let s = db.apply(vec![chunk(1, 1, 100, vec![first, second])]).await;
    assert_eq!(s.contacts_merged, 1);
    assert_eq!(s.history_inserted, 2);
    let conv = db.conversation_of("wamid.hp").await;
    assert_eq!(conv.conversation.message_count, 4);
    for id in ["wamid.lp", "wamid.lb", "wamid.hb"] {
        assert_eq!(
            db.message(id).await.conversation,
            conv.conversation.id,
            "{id}"
        );
    }
});

both!(
    a_sync_meta_refused_is_kept_as_refused_with_its_error,
    |db| async {
        db.fixture().await;
        let past_24h = MetaError {
            code: 2593108,
            title: "Synchronization window expired".into(),
            details: Some(
                "Synchronization request can only be made within 24 hours of onboarding.".into(),
            ),
        };
        let job = db
            .store
            .record_sync_refusal(&number(), SyncKind::History, &past_24h, t(10))
            .await
            .unwrap();
        assert_eq!(job.state, SyncState::Refused);
        assert_eq!(job.error, Some(past_24h.clone()));
        assert_eq!(job.requested_at, Some(t(10)));
        assert_eq!(job.request_id, None);
        let jobs = db.store.sync_progress(&number()).await.unwrap();
        assert_eq!(jobs, vec![job.clone()]);
        // Recording it again (another process, another start) changes nothing else.
        let again = db
            .store
            .record_sync_refusal(&number(), SyncKind::History, &past_24h, t(10))
            .await
            .unwrap();
        assert_eq!(again, job);

        // Contacts refused as already requested (2593107), yet data from that earlier request
        // arrives: the job moves on.
        let already = MetaError {
            code: 2593107,
            title: "Synchronization API call limit exceeded".into(),
            details: None,
        };
        db.store
            .record_sync_refusal(&number(), SyncKind::Contacts, &already, t(10))
            .await
            .unwrap();
        db.apply(vec![Ingest::ContactUpsert(ContactSync {
            number: number(),
            customer: by_phone("16505550042"),
            full_name: Some("Alice".into()),
            first_name: None,
            timestamp: t(20),
        })])
        .await;
        let jobs = db.store.sync_progress(&number()).await.unwrap();
        let contacts = jobs.iter().find(|j| j.kind == SyncKind::Contacts).unwrap();
        assert_eq!(contacts.state, SyncState::InProgress);
        // A refusal never undoes data already arriving.
        let job = db
            .store
            .record_sync_refusal(&number(), SyncKind::Contacts, &already, t(30))
            .await
            .unwrap();
        assert_eq!(job.state, SyncState::InProgress);

        // Onboarding again and requesting anew restarts the refused job.
        let job = db
            .store
            .record_sync_request(
                &number(),
                SyncKind::History,
                &coex_core::RequestId::parse("req-9").unwrap(),
                t(40),
            )
            .await
            .unwrap();
        assert_eq!(job.state, SyncState::Requested);
        assert_eq!(job.error, None);
        // An unknown number is not found.
        let e = db
            .store
            .record_sync_refusal(
                &coex_core::PhoneNumberId::parse("999").unwrap(),
                SyncKind::History,
                &past_24h,
                t(50),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, coex_store::StoreError::NotFound { .. }), "{e}");
    }
);
