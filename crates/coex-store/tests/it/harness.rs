//! Test databases and event builders.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coex_core::model::*;
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};
use coex_store::{BatchSummary, SqlStore, Store};
use sqlx::Connection;

/// "Now" for every test store: fixed, so stored times are predictable.
pub const NOW_SECS: i64 = 1_750_000_000;

pub const WABA: &str = "102290129340398";
pub const NUMBER: &str = "106540352242922";
pub const DISPLAY: &str = "15550783881";

/// A fresh, migrated store and the URL to open more pools on the same database.
pub struct TestDb {
    pub store: SqlStore,
    pub url: String,
    pub backend: &'static str,
    pg_cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

fn clock() -> Clock {
    Arc::new(|| Timestamp::from_secs(NOW_SECS))
}

pub use coex_store::Clock;

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("coex.db").display());
        let store = SqlStore::connect(&url).await.unwrap().with_clock(clock());
        Self {
            store,
            url,
            backend: "sqlite",
            pg_cleanup: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "the store tests need PostgreSQL at {admin} (set TEST_DATABASE_URL; start it with \
                 `pg_ctlcluster --skip-systemctl-redirect <version> main start`): {e}"
            )
        });
        let name = format!("coex_test_{}", unique_suffix());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        let store = SqlStore::connect(&url).await.unwrap().with_clock(clock());
        Self {
            store,
            url,
            backend: "postgres",
            pg_cleanup: Some((admin, name)),
            _dir: None,
        }
    }

    /// Another store (its own pools) on the same database, like a second hub process.
    pub async fn second_store(&self) -> SqlStore {
        SqlStore::connect(&self.url)
            .await
            .unwrap()
            .with_clock(clock())
    }

    /// Closes the pools and drops the PostgreSQL database.
    pub async fn finish(mut self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg_cleanup.take() {
            drop_database(&admin, &name).await;
        }
    }

    /// Workspace "acme", WABA [`WABA`] and coexistence number [`NUMBER`].
    pub async fn fixture(&self) -> Fixture {
        let ws = self
            .store
            .ensure_workspace(&WorkspaceSlug::parse("acme").unwrap(), "Acme")
            .await
            .unwrap();
        self.store
            .upsert_waba(ws.id, &waba(), Some("Acme WABA"))
            .await
            .unwrap();
        let number = self
            .store
            .upsert_number(&new_number(NUMBER, DISPLAY))
            .await
            .unwrap();
        Fixture { ws, number }
    }

    pub async fn apply(&self, events: Vec<Ingest>) -> BatchSummary {
        self.store
            .apply_batch(&batch(events))
            .await
            .unwrap()
            .summary
    }

    pub async fn message(&self, wamid: &str) -> Message {
        self.store.get_message(&number(), &w(wamid)).await.unwrap()
    }

    pub async fn conversation_of(&self, wamid: &str) -> ConversationView {
        let m = self.message(wamid).await;
        self.store.get_conversation(m.conversation).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A test that panicked never reached `finish`: drop its database from a helper thread
        // with its own runtime (the test's runtime may be unwinding).
        if let Some((admin, name)) = self.pg_cleanup.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_database(&admin, &name));
                }
            })
            .join();
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

pub struct Fixture {
    pub ws: Workspace,
    pub number: Number,
}

// --- builders ----------------------------------------------------------------------------

pub fn waba() -> WabaId {
    WabaId::parse(WABA).unwrap()
}

pub fn number() -> PhoneNumberId {
    PhoneNumberId::parse(NUMBER).unwrap()
}

pub fn new_number(id: &str, display: &str) -> NewNumber {
    NewNumber {
        id: PhoneNumberId::parse(id).unwrap(),
        waba: waba(),
        display_phone: PhoneNumber::parse(display).unwrap(),
        verified_name: Some("Acme".into()),
        kind: NumberKind::Coexistence,
        tier: MessagingTier::Tier1k,
        initial_state: NumberState::Connected,
    }
}

pub fn w(s: &str) -> Wamid {
    Wamid::parse(s).unwrap()
}

pub fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

pub fn phone(p: &str) -> PhoneNumber {
    PhoneNumber::parse(p).unwrap()
}

pub fn bsuid(b: &str) -> Bsuid {
    Bsuid::parse(b).unwrap()
}

pub fn by_phone(p: &str) -> CustomerRef {
    CustomerRef::key(CustomerKey::Phone(phone(p)))
}

pub fn by_bsuid(b: &str) -> CustomerRef {
    CustomerRef::key(CustomerKey::Bsuid(bsuid(b)))
}

pub fn by_both(b: &str, p: &str) -> CustomerRef {
    CustomerRef::key(CustomerKey::Both {
        bsuid: bsuid(b),
        phone: phone(p),
    })
}

pub fn inbound(wamid: &str, customer: CustomerRef, secs: i64, text: &str) -> Ingest {
    Ingest::InboundMessage(InboundMessage {
        number: number(),
        wamid: w(wamid),
        customer,
        timestamp: t(secs),
        content: MessageContent::text(text),
        error: None,
    })
}

pub fn echo(wamid: &str, customer: CustomerRef, secs: i64, text: &str) -> Ingest {
    Ingest::Echo(EchoMessage {
        number: number(),
        wamid: w(wamid),
        customer,
        timestamp: t(secs),
        content: MessageContent::text(text),
    })
}

pub fn sent(wamid: &str, customer: CustomerRef, secs: i64, text: &str) -> Ingest {
    Ingest::Sent(SentMessage {
        number: number(),
        wamid: w(wamid),
        customer,
        timestamp: t(secs),
        origin: Origin::ApiAgent,
        sender: Some("agent:alice".into()),
        content: MessageContent::text(text),
    })
}

pub fn status(wamid: &str, status: MessageStatus, secs: i64) -> Ingest {
    Ingest::Status(StatusUpdate {
        number: number(),
        wamid: w(wamid),
        status,
        timestamp: t(secs),
        recipient: None,
        error: None,
        pricing: None,
    })
}

pub fn batch(events: Vec<Ingest>) -> IngestBatch {
    IngestBatch {
        items: vec![IngestItem {
            received_at: Timestamp::from_secs(NOW_SECS),
            archive: ArchiveInput::None,
            events,
        }],
    }
}

/// A raw body for archive tests.
pub fn raw(body: &str) -> RawWebhook {
    RawWebhook {
        body: body.as_bytes().to_vec(),
        signature_ok: true,
        received_at: Timestamp::from_secs(NOW_SECS),
    }
}

#[test]
fn database_names_replace_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h/db?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    let _ = sqlx::postgres::PgConnectOptions::from_str("postgres://u@h/x").unwrap();
}
