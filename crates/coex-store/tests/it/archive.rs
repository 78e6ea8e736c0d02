//! Raw-body archive and malformed changes.

use coex_core::model::*;
use coex_store::Store;

use crate::harness::*;

both!(
    malformed_change_is_kept_without_losing_the_rest,
    |db| async {
        db.fixture().await;
        let body = r#"{"object":"whatsapp_business_account","entry":[...]}"#;
        let b = IngestBatch {
            items: vec![IngestItem {
                received_at: t(NOW_SECS),
                archive: ArchiveInput::New(raw(body)),
                events: vec![
                    inbound("wamid.ok1", by_phone("16505551234"), 10, "fine"),
                    Ingest::ChangeError(ChangeError {
                        waba: Some(waba()),
                        number: Some(number()),
                        field: Some("messages".into()),
                        error: "missing field `id` at messages[1]".into(),
                        raw: RawJson::new(r#"{"from":"16505551234","type":"text"}"#),
                    }),
                    inbound("wamid.ok2", by_phone("16505551234"), 11, "also fine"),
                ],
            }],
        };
        let out = db.store.apply_batch(&b).await.unwrap();
        assert_eq!(out.summary.messages_inserted, 2);
        assert_eq!(out.summary.change_errors, 1);
        assert_eq!(out.summary.archived, 1);
        let archive_id = out.archives[0].expect("archived");

        let errors = db.store.change_errors(0, 10).await.unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].archive, Some(archive_id));
        assert_eq!(errors[0].field.as_deref(), Some("messages"));
        assert!(errors[0].error.contains("missing field"));
        assert_eq!(errors[0].raw, r#"{"from":"16505551234","type":"text"}"#);

        let archived = db.store.get_archive(archive_id).await.unwrap();
        assert_eq!(archived.body, body.as_bytes());
        assert!(archived.processed_at.is_some());
        assert!(
            db.store
                .pending_archives(None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both!(archive_first_apply_later, |db| async {
    db.fixture().await;
    let big = format!(r#"{{"history":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let id = db.store.archive_webhook(&raw(&big)).await.unwrap();
    let mut bad = raw("forged");
    bad.signature_ok = false;
    let bad_id = db.store.archive_webhook(&bad).await.unwrap();

    let pending = db.store.pending_archives(None, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "unverified bodies are never replayed");
    assert_eq!(pending[0].id, id);
    assert_eq!(pending[0].body.len(), big.len());
    assert!(
        db.store
            .pending_archives(Some(id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!db.store.get_archive(bad_id).await.unwrap().signature_ok);

    let b = IngestBatch {
        items: vec![IngestItem {
            received_at: t(NOW_SECS),
            archive: ArchiveInput::Existing(id),
            events: vec![inbound(
                "wamid.late",
                by_phone("16505551234"),
                10,
                "from the archive",
            )],
        }],
    };
    let out = db.store.apply_batch(&b).await.unwrap();
    assert_eq!(out.archives, vec![Some(id)]);
    assert!(
        db.store
            .pending_archives(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.message("wamid.late").await.content.body.as_deref(),
        Some("from the archive")
    );
});
