//! Errors tell the caller whose fault they are: data that can never be stored (the same on
//! both backends, refused before it reaches the database) or a database that may recover.

use coex_core::model::*;
use coex_store::{MAX_ID_BYTES, SqlStore, Store, StoreError, StoreOptions};

use crate::harness::*;

both!(data_that_can_never_be_stored_is_a_data_error, |db| async {
    db.fixture().await;
    let apply = |events: Vec<Ingest>| {
        let store = db.store.clone();
        async move { store.apply_batch(&batch(events)).await }
    };
    // A NUL character in text: PostgreSQL cannot hold it, SQLite could; both refuse it.
    let e = apply(vec![inbound(
        "wamid.nul",
        by_phone("16505550001"),
        1_000,
        "a\0b",
    )])
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::InvalidData(_)), "{e}");
    assert!(e.is_data_error() && !e.is_retryable(), "{e}");
    // An id too long to index: PostgreSQL could not index it, SQLite could; both refuse it.
    let long = format!("wamid.{}", "A".repeat(MAX_ID_BYTES));
    let e = apply(vec![inbound(&long, by_phone("16505550001"), 1_000, "hi")])
        .await
        .unwrap_err();
    assert!(e.is_data_error() && !e.is_retryable(), "{e}");
    let e = apply(vec![status(&long, MessageStatus::Delivered, 1_000)])
        .await
        .unwrap_err();
    assert!(e.is_data_error(), "{e}");
    // Nothing of those batches was kept, and the store goes on.
    let s = apply(vec![inbound(
        "wamid.ok",
        by_phone("16505550001"),
        1_000,
        "fine",
    )])
    .await
    .unwrap()
    .summary;
    assert_eq!(s.messages_inserted, 1);
    assert!(
        db.store
            .get_message(&number(), &w("wamid.nul"))
            .await
            .is_err()
    );
    // An id right at the limit is fine.
    let longest = format!("wamid.{}", "B".repeat(MAX_ID_BYTES - 6));
    let s = apply(vec![inbound(
        &longest,
        by_phone("16505550001"),
        1_000,
        "ok",
    )])
    .await
    .unwrap()
    .summary;
    assert_eq!(s.messages_inserted, 1, "{} bytes", longest.len());
});

#[tokio::test]
async fn an_unreachable_database_is_not_a_data_error() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let opts = StoreOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..StoreOptions::default()
    };
    let e = SqlStore::connect_with("postgres://postgres@127.0.0.1:1/coex", opts)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    assert!(!e.is_data_error() && !e.is_retryable(), "{e}");
}
