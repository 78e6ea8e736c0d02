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

/// Runs one statement with text binds on the test database, outside the store; returns the
/// first row's first two columns as (i64, text) when the statement yields a row.
async fn raw_sql(db: &TestDb, sql: &str, binds: &[&str]) -> Option<(i64, String)> {
    use sqlx::{Connection, Row};
    if db.backend == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let row = q.fetch_optional(&mut c).await.unwrap();
        row.map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let row = q.fetch_optional(&mut c).await.unwrap();
        row.map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
    }
}

both!(large_bodies_are_archived_compressed, |db| async {
    db.fixture().await;
    // A history-like body: the same keys and envelope over and over, varied text.
    let mut threads = Vec::new();
    for i in 0..2_000 {
        threads.push(format!(
            r#"{{"from":"1650555{i:04}","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk{i:06}","timestamp":"{}","type":"text","text":{{"body":"message number {i} of the import"}},"history_context":{{"status":"READ"}}}}"#,
            1_700_000_000 + i
        ));
    }
    let body = format!(r#"{{"history":[{{"threads":[{}]}}]}}"#, threads.join(","));
    let packed = coex_store::archive_body::pack(body.as_bytes(), true, t(NOW_SECS));
    assert_eq!(packed.encoding, BodyEncoding::Lz4);
    assert!(
        packed.body.len() * 3 < body.len(),
        "{} of {}",
        packed.body.len(),
        body.len()
    );
    // A short body is kept as it came.
    let small = coex_store::archive_body::pack(b"{\"entry\":[]}", true, t(NOW_SECS));
    assert_eq!(small.encoding, BodyEncoding::Identity);

    let out = db
        .store
        .apply_batch(&IngestBatch {
            items: vec![
                IngestItem {
                    received_at: t(NOW_SECS),
                    archive: ArchiveInput::Deferred(packed.clone()),
                    events: vec![],
                },
                IngestItem {
                    received_at: t(NOW_SECS),
                    archive: ArchiveInput::New(small),
                    events: vec![],
                },
            ],
        })
        .await
        .unwrap();
    let deferred = out.archives[0].expect("archived");
    let direct = db.store.archive_webhook(&packed).await.unwrap();

    // Readers get the bytes that arrived; the row holds the compressed form.
    let pending = db.store.pending_archives(None, 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    for a in &pending {
        assert_eq!(a.body, body.as_bytes());
    }
    assert_eq!(
        db.store.get_archive(direct).await.unwrap().body,
        body.as_bytes()
    );
    assert_eq!(
        db.store
            .get_archive(out.archives[1].unwrap())
            .await
            .unwrap()
            .body,
        b"{\"entry\":[]}"
    );
    let len_fn = if db.backend == "sqlite" {
        "length"
    } else {
        "octet_length"
    };
    let (stored_len, encoding) = raw_sql(
        &db,
        &format!(
            "SELECT CAST({len_fn}(body) AS BIGINT), body_encoding FROM webhook_archive WHERE id = {}",
            deferred.get()
        ),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(encoding, "lz4");
    assert_eq!(stored_len as usize, packed.body.len());

    // A damaged row is reported as corrupt; it takes nothing else with it.
    raw_sql(
        &db,
        &format!(
            "UPDATE webhook_archive SET body = CAST('{}' AS {}) WHERE id = {}",
            "not lz4 at all",
            if db.backend == "sqlite" {
                "BLOB"
            } else {
                "BYTEA"
            },
            deferred.get()
        ),
        &[],
    )
    .await;
    let err = db.store.get_archive(deferred).await.unwrap_err();
    assert!(matches!(err, coex_store::StoreError::Corrupt(_)), "{err}");
    assert_eq!(
        db.store.get_archive(direct).await.unwrap().body,
        body.as_bytes()
    );
});
