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
    assert_eq!(db.store.backend_name(), db.backend);
});
