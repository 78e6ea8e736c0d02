//! The schema migrations, one directory per dialect, embedded in the binary and applied at
//! start-up through sqlx's migrator (so `_sqlx_migrations` and its checksums work as usual and
//! the `sqlx` CLI can still read the directories).
//!
//! Why not `sqlx::migrate!`: that macro needs sqlx's `macros` feature, which compiles sqlx's
//! SQLite and PostgreSQL drivers (and the bundled SQLite C library) a second time for the proc
//! macro. Listing the files here costs one line per migration; a unit test checks the list
//! against the directories so none is forgotten.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

type Embedded = &'static [(i64, &'static str, &'static str)];

/// `migrations/sqlite/<version>_<description>.sql`, in order.
const SQLITE: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "sending",
        include_str!("../migrations/sqlite/0002_sending.sql"),
    ),
    (
        3,
        "contact_sync_items",
        include_str!("../migrations/sqlite/0003_contact_sync_items.sql"),
    ),
    (
        4,
        "traffic_index",
        include_str!("../migrations/sqlite/0004_traffic_index.sql"),
    ),
    (
        5,
        "archive_encoding",
        include_str!("../migrations/sqlite/0005_archive_encoding.sql"),
    ),
    (
        6,
        "message_send",
        include_str!("../migrations/sqlite/0006_message_send.sql"),
    ),
    (
        7,
        "accepted_send_indexes",
        include_str!("../migrations/sqlite/0007_accepted_send_indexes.sql"),
    ),
];

/// `migrations/postgres/<version>_<description>.sql`, in order.
const POSTGRES: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "sending",
        include_str!("../migrations/postgres/0002_sending.sql"),
    ),
    (
        3,
        "contact_sync_items",
        include_str!("../migrations/postgres/0003_contact_sync_items.sql"),
    ),
    (
        4,
        "traffic_index",
        include_str!("../migrations/postgres/0004_traffic_index.sql"),
    ),
    (
        5,
        "archive_encoding",
        include_str!("../migrations/postgres/0005_archive_encoding.sql"),
    ),
    (
        6,
        "message_send",
        include_str!("../migrations/postgres/0006_message_send.sql"),
    ),
    (
        7,
        "accepted_send_indexes",
        include_str!("../migrations/postgres/0007_accepted_send_indexes.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

type BoxDynError = Box<dyn std::error::Error + Send + Sync>;

impl MigrationSource<'static> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub(crate) async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(SQLITE)).await
}

pub(crate) async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(POSTGRES)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use coex_testdb::{Backend, TestDb};

    fn on_disk(dialect: &str) -> Vec<(i64, String)> {
        let dir = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("migrations")
        .join(dialect);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| {
                let stem = name.strip_suffix(".sql")?;
                let (v, d) = stem.split_once('_')?;
                Some((v.parse().unwrap(), d.to_owned()))
            })
            .collect();
        found.sort();
        found
    }

    fn listed(list: Embedded) -> Vec<(i64, String)> {
        list.iter().map(|(v, d, _)| (*v, (*d).to_owned())).collect()
    }

    #[test]
    fn every_migration_file_is_embedded() {
        assert_eq!(listed(SQLITE), on_disk("sqlite"));
        assert_eq!(listed(POSTGRES), on_disk("postgres"));
    }

    /// What a store at migration 5 held: a send Meta accepted (`wamid.A`) with its message,
    /// and a customer's message.
    const BEFORE_MESSAGE_SEND: &str = "\
        INSERT INTO workspaces (id, slug, name, created_at) VALUES (1, 'w', 'W', 0); \
        INSERT INTO wabas (id, workspace_id, created_at) VALUES ('100', 1, 0); \
        INSERT INTO numbers (id, workspace_id, waba_id, display_phone, kind, tier, state, \
          state_changed_at, created_at, updated_at) \
          VALUES ('200', 1, '100', '15550000000', 'coexistence', 'tier_250', 'connected', 0, 0, 0); \
        INSERT INTO contacts (id, workspace_id, phone, created_at, updated_at) \
          VALUES (1, 1, '16505551234', 0, 0); \
        INSERT INTO conversations (id, workspace_id, number_id, contact_id, created_at, last_message_at) \
          VALUES (1, 1, '200', 1, 0, 0); \
        INSERT INTO messages (id, number_id, wamid, conversation_id, direction, origin, kind, sent_at, stored_at) \
          VALUES (1, '200', 'wamid.A', 1, 'outbound', 'api_agent', 'text', 0, 0), \
                 (2, '200', 'wamid.B', 1, 'inbound', 'customer', 'text', 0, 0); \
        INSERT INTO sends (id, workspace_id, number_id, customer_phone, recipient_kind, recipient, \
          origin, kind, request, content, category, business_initiated, estimated_micros, currency, \
          state, not_before, wamid, created_at, updated_at) \
          VALUES (7, 1, '200', '16505551234', 'phone', '16505551234', 'api_agent', 'text', '{}', '{}', \
                  'service', FALSE, 0, 'USD', 'accepted', 0, 'wamid.A', 0, 0);";

    /// Migrates `$pool` up to the first `$before` migrations of `$list`, writes `$rows`, then
    /// migrates to the end of `$list`: what a store written by an earlier release goes through.
    macro_rules! migrate_across {
        ($pool:expr, $list:expr, $before:expr, $rows:expr) => {{
            Migrator::new(Source(&$list[..$before]))
                .await
                .unwrap()
                .run($pool)
                .await
                .unwrap();
            sqlx::raw_sql($rows).execute($pool).await.unwrap();
            Migrator::new(Source($list))
                .await
                .unwrap()
                .run($pool)
                .await
                .unwrap();
        }};
    }

    /// Migration 6 links the messages of earlier sends to them (and drops the index it replaces).
    async fn message_send_links_earlier_sends(backend: Backend) {
        let db = TestDb::create(backend, "migrate").await;
        let select = "SELECT wamid, send_id FROM messages ORDER BY id";
        let expected = vec![
            ("wamid.A".to_owned(), Some(7)),
            ("wamid.B".to_owned(), None),
        ];
        // The backends differ only in their pool type and catalogue.
        macro_rules! check {
            ($pool:expr, $list:expr, $index:expr) => {{
                let pool = $pool;
                migrate_across!(&pool, $list, 5, BEFORE_MESSAGE_SEND);
                let rows: Vec<(String, Option<i64>)> =
                    sqlx::query_as(select).fetch_all(&pool).await.unwrap();
                assert_eq!(rows, expected);
                let index: i64 = sqlx::query_scalar($index).fetch_one(&pool).await.unwrap();
                assert_eq!(index, 0, "sends_by_wamid is gone");
                pool.close().await;
            }};
        }
        match backend {
            Backend::Sqlite => check!(
                sqlx::SqlitePool::connect(db.url()).await.unwrap(),
                SQLITE,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sends_by_wamid'"
            ),
            Backend::Postgres => check!(
                sqlx::PgPool::connect(db.url()).await.unwrap(),
                POSTGRES,
                "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'sends_by_wamid'"
            ),
        }
        db.finish().await;
    }

    /// Migration 7 indexes sends by time only once accepted, on both backends (the ledger and
    /// messaging-limit reads bound `accepted_at`, so the partial indexes serve them).
    async fn time_indexes_hold_accepted_sends_only(backend: Backend) {
        let db = TestDb::create(backend, "migrate").await;
        macro_rules! check {
            ($pool:expr, $list:expr, $definition:expr) => {{
                let pool = $pool;
                migrate_across!(&pool, $list, 6, BEFORE_MESSAGE_SEND);
                for index in ["sends_by_number_time", "sends_messaging_limit"] {
                    let definition: String = sqlx::query_scalar($definition)
                        .bind(index)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    assert!(
                        definition.contains("accepted_at IS NOT NULL"),
                        "{index}: {definition}"
                    );
                }
                let sends: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sends")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(sends, 1, "the sends stay");
                pool.close().await;
            }};
        }
        match backend {
            Backend::Sqlite => check!(
                sqlx::SqlitePool::connect(db.url()).await.unwrap(),
                SQLITE,
                "SELECT sql FROM sqlite_master WHERE name = $1"
            ),
            Backend::Postgres => check!(
                sqlx::PgPool::connect(db.url()).await.unwrap(),
                POSTGRES,
                "SELECT indexdef FROM pg_indexes WHERE indexname = $1"
            ),
        }
        db.finish().await;
    }

    #[tokio::test]
    async fn time_indexes_hold_accepted_sends_only_sqlite() {
        time_indexes_hold_accepted_sends_only(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn time_indexes_hold_accepted_sends_only_postgres() {
        time_indexes_hold_accepted_sends_only(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn message_send_links_earlier_sends_sqlite() {
        message_send_links_earlier_sends(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn message_send_links_earlier_sends_postgres() {
        message_send_links_earlier_sends(Backend::Postgres).await;
    }
}
