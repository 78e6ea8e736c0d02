//! Test databases and event builders.

use std::sync::Arc;

use coex_core::model::*;
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};
use coex_store::{BatchSummary, SqlStore, Store};
use coex_testdb::Backend;

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
    db: Option<coex_testdb::TestDb>,
}

fn clock() -> Clock {
    Arc::new(|| Timestamp::from_secs(NOW_SECS))
}

pub use coex_store::Clock;

impl TestDb {
    pub async fn sqlite() -> Self {
        Self::create(Backend::Sqlite).await
    }

    pub async fn postgres() -> Self {
        Self::create(Backend::Postgres).await
    }

    async fn create(backend: Backend) -> Self {
        let db = coex_testdb::TestDb::create(backend, "coex_test").await;
        let url = db.url().to_owned();
        let store = SqlStore::connect(&url).await.unwrap().with_clock(clock());
        Self {
            store,
            url,
            backend: backend.name(),
            db: Some(db),
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
        if let Some(db) = self.db.take() {
            db.finish().await;
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
        send: None,
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
    RawWebhook::identity(body, true, Timestamp::from_secs(NOW_SECS))
}
