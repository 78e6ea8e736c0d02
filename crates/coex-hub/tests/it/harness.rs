//! The integration harness: a fresh store (a SQLite file in a temporary folder, or a fresh
//! PostgreSQL database on `TEST_DATABASE_URL` that is dropped afterwards), a hub on
//! 127.0.0.1:0 and the emulator on 127.0.0.1:0 whose webhook URL is the hub, with the WABA
//! onboarded through the emulator's Graph API.
//!
//! The emulator runs at speed 0: virtual time moves only when a test jumps it, and a jump (or
//! an action) returns once the webhooks it caused were attempted. The hub and its store read
//! the same virtual clock, so "seven days later" is seven days for both. Waiting is always a
//! bounded number of polls with short sleeps, never a timed assertion.

use std::sync::Arc;
use std::time::Duration;

use coex_core::model::{
    ArchiveInput, ConversationView, CustomerKey, CustomerRef, Ingest, IngestBatch, IngestItem,
    Message, MessageContent, Origin, PageRequest, SentMessage, Timestamp, Workspace, WorkspaceSlug,
};
use coex_core::{Bsuid, PhoneNumber, PhoneNumberId, WabaId, Wamid};
use coex_hub::http::WebhookSettings;
use coex_hub::http::webhook::MAX_WEBHOOK_BYTES;
use coex_hub::ingest::IngestConfig;
use coex_hub::{Hub, HubSettings, onboarding};
use coex_meta::graph::{GraphClient, GraphConfig};
use coex_sim::clock::SimTime;
use coex_sim::engine::Engine;
use coex_sim::world::seed::WorldSpec;
use coex_sim::{Sim, SimInfo, SimOptions};
use coex_store::{SqlStore, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The emulator's virtual start: a fixed instant, so runs are reproducible.
pub const START: i64 = 1_780_000_000;

pub use coex_testdb::Backend;

// --- databases -----------------------------------------------------------------------------

/// A fresh, empty database; dropped (PostgreSQL) or deleted (SQLite) at the end.
#[derive(Debug)]
pub struct Db {
    pub url: String,
    db: coex_testdb::TestDb,
}

impl Db {
    pub async fn create(backend: Backend) -> Db {
        let db = coex_testdb::TestDb::create(backend, "coex_hub_it").await;
        Db {
            url: db.url().to_owned(),
            db,
        }
    }

    /// A store on this database with its own pools (like another process).
    pub async fn open(&self, clock: coex_store::Clock) -> SqlStore {
        SqlStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
            .with_clock(clock)
    }

    async fn finish(self) {
        self.db.finish().await;
    }
}

// --- the environment -----------------------------------------------------------------------

/// How to start an [`Env`].
#[derive(Debug, Clone)]
pub struct Options {
    pub world: WorldSpec,
    pub history_chunk_messages: usize,
    pub ingest: IngestConfig,
    /// Whether the emulator POSTs its webhooks to the hub; when false it only records them
    /// (with their signed bodies) for the test to deliver itself.
    pub deliver: bool,
    /// Whether to onboard the WABA (which requests the contact and history syncs).
    pub onboard: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            world: WorldSpec::default(),
            history_chunk_messages: 40,
            ingest: IngestConfig::default(),
            deliver: true,
            onboard: true,
        }
    }
}

/// A running hub process.
#[derive(Debug)]
pub struct HubHandle {
    pub url: String,
    pub store: SqlStore,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl HubHandle {
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close().await;
    }
}

/// One webhook POST the emulator made (or recorded), as its control API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub body: String,
    pub signature: String,
    pub state: String,
    pub attempts: Vec<Attempt>,
    pub duplicate_of: Option<u64>,
    pub changes: Vec<ChangeRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Attempt {
    pub status: Option<u16>,
    pub response_body: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChangeRef {
    pub field: String,
}

/// The emulator, a hub and its store, all on loopback.
#[derive(Debug)]
pub struct Env {
    pub info: SimInfo,
    pub engine: Arc<Engine>,
    pub store: SqlStore,
    pub hub: HubHandle,
    pub workspace: Workspace,
    pub http: reqwest::Client,
    extra_hubs: Vec<HubHandle>,
    sim_stop: Option<oneshot::Sender<()>>,
    sim_task: Option<JoinHandle<Result<(), coex_sim::SimError>>>,
    db: Option<Db>,
}

/// The emulator's virtual clock, as the hub's and the store's clock.
fn sim_clock(engine: &Arc<Engine>) -> Arc<dyn Fn() -> Timestamp + Send + Sync> {
    let engine = engine.clone();
    Arc::new(move || Timestamp::from_millis(engine.clock.now().unix_millis()))
}

impl Env {
    pub async fn start(backend: Backend) -> Env {
        Self::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, opts: Options) -> Env {
        let db = Db::create(backend).await;
        // The hub listens first, so the emulator knows where to send webhooks.
        let hub_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub_url = format!("http://{}", hub_listener.local_addr().unwrap());
        let sim_opts = SimOptions {
            webhook_url: opts.deliver.then(|| format!("{hub_url}/webhook")),
            speed: 0.0,
            start: Some(SimTime::from_unix_secs(START)),
            world: opts.world.clone(),
            history_chunk_messages: opts.history_chunk_messages,
            ..SimOptions::default()
        };
        let sim = Sim::new(sim_opts, TcpListener::bind("127.0.0.1:0").await.unwrap())
            .await
            .unwrap();
        let info = sim.info().clone();
        let engine = sim.engine();
        let (sim_stop, sim_stopped) = oneshot::channel::<()>();
        let sim_task = tokio::spawn(sim.serve(async {
            let _ = sim_stopped.await;
        }));

        let store = db.open(sim_clock(&engine)).await;
        let workspace = store
            .ensure_workspace(&WorkspaceSlug::parse("acme").unwrap(), "Acme")
            .await
            .unwrap();
        let mut env = Env {
            hub: HubHandle {
                url: hub_url,
                store: store.clone(),
                stop: None,
                task: None,
            },
            info,
            engine,
            store,
            workspace,
            http: reqwest::Client::new(),
            extra_hubs: Vec::new(),
            sim_stop: Some(sim_stop),
            sim_task: Some(sim_task),
            db: Some(db),
        };
        let store = env.store.clone();
        env.hub = env.run_hub(hub_listener, store, opts.ingest).await;
        if opts.onboard {
            env.onboard().await;
        }
        env
    }

    fn settings(&self, ingest: IngestConfig) -> HubSettings {
        HubSettings {
            webhook: WebhookSettings {
                app_secret: self.info.app_secret.clone().into(),
                verify_token: self.info.verify_token.clone().into(),
                max_body_bytes: MAX_WEBHOOK_BYTES,
            },
            ingest,
        }
    }

    async fn run_hub(
        &self,
        listener: TcpListener,
        store: SqlStore,
        ingest: IngestConfig,
    ) -> HubHandle {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hub = Hub::build(
            store.clone(),
            self.settings(ingest),
            sim_clock(&self.engine),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hub.run(listener, async {
            let _ = stopped.await;
        }));
        HubHandle {
            url,
            store,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Another hub process on the same database (its own store pools and ingest queue).
    /// Returns its base URL.
    pub async fn start_second_hub(&mut self, ingest: IngestConfig) -> String {
        let db = self.db.as_ref().unwrap();
        let store = db.open(sim_clock(&self.engine)).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub = self.run_hub(listener, store, ingest).await;
        let url = hub.url.clone();
        self.extra_hubs.push(hub);
        url
    }

    /// Stops the hub process, as a crash or a deploy would: the emulator's webhooks fail until
    /// [`Env::start_hub_again`].
    pub async fn stop_hub(&mut self) {
        if let Some(stop) = self.hub.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.hub.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Starts a new hub process (with its own store pools) where the emulator sends webhooks.
    pub async fn start_hub_again(&mut self) {
        let addr = self.hub.url.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind(&addr).await.unwrap();
        let store = self
            .db
            .as_ref()
            .unwrap()
            .open(sim_clock(&self.engine))
            .await;
        let hub = self.run_hub(listener, store, IngestConfig::default()).await;
        // The old handle's store is `self.store`, which stays open.
        self.hub = hub;
    }

    /// Runs the hub's onboarding against the emulator's Graph API.
    pub async fn onboard(&self) -> Vec<onboarding::NumberOnboarding> {
        let mut cfg = GraphConfig::new(
            self.info.graph_url.clone(),
            self.info.access_token.clone().into(),
        );
        cfg.api_version = self.info.graph_version.clone();
        let graph = GraphClient::new(&cfg).unwrap();
        let waba = WabaId::parse(self.info.waba_id.clone()).unwrap();
        onboarding::onboard_waba(&graph, &self.store, self.workspace.id, &waba, self.now())
            .await
            .unwrap()
    }

    /// Stops the servers, closes the store and drops the database.
    pub async fn finish(mut self) {
        for mut h in std::mem::take(&mut self.extra_hubs) {
            h.stop().await;
        }
        self.hub.stop().await;
        if let Some(stop) = self.sim_stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.sim_task.take() {
            task.await.unwrap().unwrap();
        }
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }

    // --- ids -------------------------------------------------------------------------------

    /// The coexistence number.
    pub fn coex(&self) -> PhoneNumberId {
        PhoneNumberId::parse(self.info.phone_number_ids[0].clone()).unwrap()
    }

    /// The pure Cloud API number.
    pub fn cloud(&self) -> PhoneNumberId {
        PhoneNumberId::parse(self.info.phone_number_ids[1].clone()).unwrap()
    }

    pub fn customer(&self, key: &str) -> coex_sim::CustomerInfo {
        self.info
            .customers
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("no customer {key}"))
            .clone()
    }

    /// Virtual "now".
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.engine.clock.now().unix_millis())
    }

    // --- the control API -------------------------------------------------------------------

    pub async fn ctl(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.info.control_url);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{method} {url}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `POST /_sim/act`: one action (or a list); returns its result.
    pub async fn act(&self, action: Value) -> Value {
        self.ctl("POST", "/act", Some(action)).await
    }

    /// Jumps the virtual clock (`"90s"`, `"10h"`, `"14d"`) and runs what became due.
    pub async fn advance(&self, by: &str) {
        self.ctl("POST", "/clock/advance", Some(json!({ "by": by })))
            .await;
    }

    /// Schedules a TOML scenario from now.
    pub async fn scenario(&self, toml: &str) {
        let url = format!("{}/scenario", self.info.control_url);
        let resp = self
            .http
            .post(&url)
            .body(toml.to_owned())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "POST {url}: {status} {text}");
    }

    /// Chaos mode: duplicates, reordering, re-batching and delays of up to 30 s.
    pub async fn chaos(&self) {
        self.ctl(
            "PUT",
            "/chaos",
            Some(
                json!({ "enabled": true, "duplicate_probability": 0.5, "reorder": true,
                         "rebatch": true, "max_delay_ms": 30_000 }),
            ),
        )
        .await;
    }

    pub async fn world(&self) -> Value {
        self.ctl("GET", "/world", None).await
    }

    /// Every webhook POST the emulator made or recorded, oldest first.
    pub async fn deliveries(&self) -> Vec<Delivery> {
        serde_json::from_value(self.ctl("GET", "/deliveries", None).await).unwrap()
    }

    /// Waits until every webhook the emulator has made is acknowledged and every body the hub
    /// deferred is applied: jumps the clock past chaos delays and retries while deliveries are
    /// pending, and polls (a bounded number of times, with short sleeps) for the hub's
    /// background work.
    pub async fn quiesce(&self) {
        for _ in 0..400 {
            let pending: Vec<Delivery> =
                serde_json::from_value(self.ctl("GET", "/deliveries?state=pending", None).await)
                    .unwrap();
            if !pending.is_empty() {
                self.advance("1m").await;
                continue;
            }
            let unapplied = self.store.pending_archives(None, 1).await.unwrap();
            if unapplied.is_empty() {
                let gave_up: Vec<Delivery> = serde_json::from_value(
                    self.ctl("GET", "/deliveries?state=gave_up", None).await,
                )
                .unwrap();
                assert!(gave_up.is_empty(), "deliveries given up: {gave_up:?}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the emulator's webhooks or the hub's deferred bodies never settled");
    }

    // --- the Graph API (the platform's sending side, which the hub does not have yet) -----

    /// Sends through the emulator's Graph API from `number` and records the send in the
    /// store as the sending side will (`Ingest::Sent`) before any status can arrive. Returns
    /// the wamid.
    pub async fn api_send(&self, number: &PhoneNumberId, customer: &str, body: Value) -> Wamid {
        let wamid = self.graph_send(number, customer, body.clone()).await;
        self.record_sent(number, customer, &wamid, &body).await;
        wamid
    }

    /// Only the Graph call of [`Env::api_send`].
    pub async fn graph_send(&self, number: &PhoneNumberId, customer: &str, body: Value) -> Wamid {
        let c = self.customer(customer);
        let mut body = body;
        body["messaging_product"] = json!("whatsapp");
        body["recipient_type"] = json!("individual");
        body["to"] = json!(c.phone);
        let url = format!(
            "{}/{}/{}/messages",
            self.info.graph_url, self.info.graph_version, number
        );
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.info.access_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "send: {status} {answer}");
        Wamid::parse(answer["messages"][0]["id"].as_str().unwrap().to_owned()).unwrap()
    }

    /// Records a platform send in the store (`Ingest::Sent`, origin API agent).
    pub async fn record_sent(
        &self,
        number: &PhoneNumberId,
        customer: &str,
        wamid: &Wamid,
        body: &Value,
    ) {
        let c = self.customer(customer);
        let key = CustomerKey::new(
            Some(Bsuid::parse(c.user_id.clone()).unwrap()),
            Some(PhoneNumber::parse(&c.phone).unwrap()),
        )
        .unwrap();
        let content = match body["type"].as_str() {
            Some("text") => MessageContent::text(body["text"]["body"].as_str().unwrap()),
            Some(other) => MessageContent {
                kind: coex_core::model::MessageKind::from_meta(other),
                body: None,
                media: None,
                reply_to: None,
                payload: None,
            },
            None => panic!("a send needs a type"),
        };
        let now = self.now();
        let batch = IngestBatch {
            items: vec![IngestItem {
                received_at: now,
                archive: ArchiveInput::None,
                events: vec![Ingest::Sent(SentMessage {
                    number: number.clone(),
                    wamid: wamid.clone(),
                    customer: CustomerRef::key(key),
                    timestamp: now,
                    origin: Origin::ApiAgent,
                    sender: Some("agent:test".into()),
                    content,
                    send: None,
                })],
            }],
        };
        self.store.apply_batch(&batch).await.unwrap();
    }

    // --- the hub's webhook endpoint --------------------------------------------------------

    /// `X-Hub-Signature-256` for `body` with the app secret.
    pub fn sign(&self, body: &[u8]) -> String {
        coex_meta::signature::sign(self.info.app_secret.as_bytes(), body)
    }

    /// POSTs a body to a hub's webhook endpoint; returns the status and the JSON answer.
    pub async fn post_webhook(
        &self,
        hub_url: &str,
        body: Vec<u8>,
        signature: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{hub_url}/webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A history chunk of `count` messages from Alice, the first with id `first`.
    pub fn history_body(&self, first: &str, count: usize, chunk_order: u32) -> Vec<u8> {
        let alice = self.customer("alice");
        let display = &self.info.phone_numbers[0].display_phone_number;
        let at = self.now().as_secs() - 30 * 86_400;
        let messages: Vec<Value> = (0..count)
            .map(|i| {
                let id = if i == 0 {
                    first.to_owned()
                } else {
                    format!("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRISVNUT1JZ{chunk_order:04}{i:08}AA==")
                };
                json!({ "from": alice.phone, "from_user_id": alice.user_id, "id": id,
                        "timestamp": (at + i as i64).to_string(), "type": "text",
                        "text": { "body": "Do you still have the black prince echeveria?" },
                        "history_context": { "status": "DELIVERED" } })
            })
            .collect();
        serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": self.info.waba_id, "changes": [{ "field": "history", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": display, "phone_number_id": self.coex() },
                "history": [{ "metadata": { "phase": 1, "chunk_order": chunk_order, "progress": 50 },
                              "threads": [{ "id": alice.phone,
                                            "context": { "wa_id": alice.phone, "user_id": alice.user_id },
                                            "messages": messages }] }]
            }}]}]
        }))
        .unwrap()
    }

    /// A hub's REST API: `GET {hub}/v1{path}` as JSON (asserting 200).
    pub async fn rest(&self, path: &str) -> Value {
        let url = format!("{}/v1{path}", self.hub.url);
        let resp = self.http.get(&url).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "GET {url}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    // --- reading the store -----------------------------------------------------------------

    /// Every conversation of a number.
    pub async fn conversations(&self, number: &PhoneNumberId) -> Vec<ConversationView> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let p = self.store.list_conversations(number, page).await.unwrap();
            out.extend(p.items);
            match p.next {
                Some(next) => page = PageRequest::after(PageRequest::MAX_LIMIT, next),
                None => return out,
            }
        }
    }

    /// Every message of a conversation, newest first.
    pub async fn messages_of(
        &self,
        conversation: coex_core::model::ConversationId,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let p = self.store.list_messages(conversation, page).await.unwrap();
            out.extend(p.items);
            match p.next {
                Some(next) => page = PageRequest::after(PageRequest::MAX_LIMIT, next),
                None => return out,
            }
        }
    }

    /// Every message of a number, by wamid (asserting no wamid is stored twice).
    pub async fn messages(
        &self,
        number: &PhoneNumberId,
    ) -> std::collections::BTreeMap<String, Message> {
        let mut out = std::collections::BTreeMap::new();
        for c in self.conversations(number).await {
            for m in self.messages_of(c.conversation.id).await {
                let wamid = m.wamid.as_str().to_owned();
                assert!(
                    out.insert(wamid.clone(), m).is_none(),
                    "{wamid} is listed twice"
                );
            }
        }
        out
    }
}

/// The phone-number key of a customer of the emulator.
pub fn phone_key(digits: &str) -> CustomerKey {
    CustomerKey::Phone(PhoneNumber::parse(digits).unwrap())
}
