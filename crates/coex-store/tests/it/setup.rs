//! Registration upserts and the number list.

use coex_core::model::*;
use coex_store::{Store, StoreError};

use crate::harness::*;

both!(registration_is_idempotent, |db| async {
    let f = db.fixture().await;
    let again = db.fixture().await;
    assert_eq!(f.ws.id, again.ws.id);
    assert_eq!(f.number, again.number);
    assert_eq!(f.number.state, NumberState::Connected);
    assert_eq!(f.number.kind, NumberKind::Coexistence);
    assert_eq!(f.number.display_phone.digits(), DISPLAY);
    assert_eq!(f.number.last_app_activity_at, None);

    // Re-registering updates the tier but never the lifecycle state.
    let mut n = new_number(NUMBER, DISPLAY);
    n.tier = MessagingTier::Tier10k;
    n.initial_state = NumberState::Pending;
    let updated = db.store.upsert_number(&n).await.unwrap();
    assert_eq!(updated.tier, MessagingTier::Tier10k);
    assert_eq!(updated.state, NumberState::Connected);

    let numbers = db.store.list_numbers(Some(f.ws.id)).await.unwrap();
    assert_eq!(numbers.len(), 1);
    assert_eq!(db.store.list_numbers(None).await.unwrap().len(), 1);
    assert!(
        db.store
            .list_numbers(Some(WorkspaceId::new(f.ws.id.get() + 100)))
            .await
            .unwrap()
            .is_empty()
    );
});

both!(conflicts_and_missing_things_are_reported, |db| async {
    let f = db.fixture().await;
    let other = db
        .store
        .ensure_workspace(&WorkspaceSlug::parse("other").unwrap(), "Other")
        .await
        .unwrap();
    assert_ne!(other.id, f.ws.id);
    let err = db
        .store
        .upsert_waba(other.id, &waba(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let mut n = new_number("999", DISPLAY);
    n.waba = coex_core::WabaId::parse("404").unwrap();
    let err = db.store.upsert_number(&n).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    let err = db
        .store
        .get_number(&coex_core::PhoneNumberId::parse("nope").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = db
        .store
        .get_message(&number(), &w("wamid.none"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
});

both!(bad_urls_are_refused, |db| async {
    let err = coex_store::SqlStore::connect("mysql://x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    // The SQLite writer and readers are separate connections: a private in-memory database
    // would be a different one for each.
    let err = coex_store::SqlStore::connect("sqlite::memory:")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert_eq!(db.store.backend_name(), db.backend);
});

both!(a_new_onboarding_restarts_the_sync_jobs, |db| async {
    db.fixture().await;
    let req = |s: &str| coex_core::RequestId::parse(s).unwrap();
    let chunk = |wamid: &str, progress: u8| {
        Ingest::HistoryChunk(HistoryChunk {
            number: number(),
            phase: 0,
            chunk_order: 1,
            progress,
            messages: vec![HistoryMessage {
                wamid: w(wamid),
                customer: by_phone("5511987654321"),
                direction: Direction::Inbound,
                timestamp: t(100),
                content: MessageContent::text("old"),
                status: None,
            }],
        })
    };
    db.store
        .record_sync_request(&number(), SyncKind::History, &req("first"), t(10))
        .await
        .unwrap();
    db.apply(vec![chunk("wamid.old", 100)]).await;
    let done = db.store.sync_progress(&number()).await.unwrap();
    assert_eq!(done[0].state, SyncState::Complete);

    // The number left and was onboarded again: Meta accepted a new history request.
    let job = db
        .store
        .restart_sync(&number(), SyncKind::History, &req("second"), t(20))
        .await
        .unwrap();
    assert_eq!(job.state, SyncState::Requested);
    assert_eq!(job.request_id, Some(req("second")));
    assert_eq!(job.requested_at, Some(t(20)));
    assert_eq!(
        (job.progress, job.chunks_received, job.items_received),
        (0, 0, 0)
    );
    assert_eq!((job.phase, job.chunk_order), (None, None));

    // The new import's first chunk has the same phase and order as the old one: it counts,
    // and the message imported before is not stored twice.
    let s = db.apply(vec![chunk("wamid.old", 50)]).await;
    assert_eq!((s.history_chunks, s.history_chunks_duplicate), (1, 0));
    assert_eq!(s.history_duplicate, 1);
    let jobs = db.store.sync_progress(&number()).await.unwrap();
    assert_eq!(jobs[0].state, SyncState::InProgress);
    assert_eq!((jobs[0].progress, jobs[0].chunks_received), (50, 1));
    assert_eq!(db.message("wamid.old").await.timestamp, t(100));

    // A number the store does not know is reported as such.
    let err = db
        .store
        .restart_sync(
            &coex_core::PhoneNumberId::parse("404").unwrap(),
            SyncKind::Contacts,
            &req("x"),
            t(30),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
});
