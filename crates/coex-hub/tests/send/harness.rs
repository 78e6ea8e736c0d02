//! The sending harness: a fresh store (a SQLite file, or a fresh PostgreSQL database on
//! `TEST_DATABASE_URL`), the emulator and one or more hubs with sending, on 127.0.0.1:0.
//!
//! Tests run with tokio's clock paused. The emulator's clock follows tokio's
//! (`TokioRealTime`, speed 1) and the hubs and stores read the emulator's clock, so the
//! hub's pacing, the emulator's rate limits, backoffs, leases and the 24 h window all run on
//! one virtual time that moves as fast as the machine allows. Waiting is a bounded number of
//! polls with virtual sleeps, never a timed assertion.
//!
//! Paused time jumps straight to the next timer whenever every task waits — also while the
//! database works on its own threads (SQLite) or across a socket (PostgreSQL), which would
//! fire pool and request timeouts at once. [`pace_virtual_time`] keeps a timer 1 ms ahead and
//! blocks 100 µs per tick, so while the test waits on a database, virtual time runs at most
//! ten times faster than real time instead of leaping.

use std::sync::Arc;
use std::time::Duration;

use coex_core::model::{Timestamp, Workspace, WorkspaceSlug};
use coex_core::pricing::{Amount, Country, CountryRates, Currency, PriceTable, Rates};
use coex_core::{PhoneNumberId, WabaId};
use coex_hub::http::WebhookSettings;
use coex_hub::http::webhook::MAX_WEBHOOK_BYTES;
use coex_hub::ingest::{Clock, IngestConfig};
use coex_hub::send::templates::TemplateCache;
use coex_hub::send::{SendEngine, SendService, SendSettings};
use coex_hub::{Hub, HubSettings, onboarding};
use coex_meta::graph::{GraphClient, GraphConfig};
use coex_sim::clock::{SimTime, TokioRealTime};
use coex_sim::engine::Engine;
use coex_sim::{Sim, SimInfo, SimOptions};
use coex_store::{SqlStore, Store, StoreOptions};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The emulator's virtual start.
pub const START: i64 = 1_780_000_000;

pub use coex_testdb::Backend;

/// A fresh database, dropped at the end.
pub struct Db {
    pub url: String,
    db: Option<coex_testdb::TestDb>,
}

impl Db {
    async fn create(backend: Backend) -> Db {
        let db = coex_testdb::TestDb::create(backend, "coex_send_it").await;
        Db {
            url: db.url().to_owned(),
            db: Some(db),
        }
    }

    /// Drops the PostgreSQL database (the stores are closed by then).
    async fn finish(&mut self) {
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }

    /// A store with its own pools, like another process. Pool timeouts are virtual time
    /// here (tokio's clock is paused and jumps while the database works), so they are long.
    pub async fn open(&self, clock: Clock) -> SqlStore {
        let opts = StoreOptions {
            acquire_timeout: Duration::from_secs(3600),
            busy_timeout: Duration::from_secs(60),
            ..StoreOptions::default()
        };
        SqlStore::connect_with(&self.url, opts)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
            .with_clock(clock)
    }
}

/// One running hub.
pub struct HubHandle {
    pub url: String,
    pub store: SqlStore,
    pub service: Arc<SendService>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl HubHandle {
    /// Graceful stop: in-flight requests finish, results are committed, leases released.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        self.store.close().await;
    }
}

pub struct Env {
    pub db: Db,
    pub info: SimInfo,
    pub engine: Arc<Engine>,
    pub hubs: Vec<HubHandle>,
    pub workspace: Workspace,
    pub http: reqwest::Client,
    pub graph: GraphClient,
    sim_stop: Option<oneshot::Sender<()>>,
    sim_task: Option<JoinHandle<Result<(), coex_sim::SimError>>>,
}

pub fn sim_clock(engine: &Arc<Engine>) -> Clock {
    let engine = engine.clone();
    Arc::new(move || Timestamp::from_millis(engine.clock.now().unix_millis()))
}

/// The sending settings of the test hubs: production defaults, with reconciliation and the
/// "unconfirmed" timeout short enough to see within a test.
pub fn test_settings() -> SendSettings {
    SendSettings {
        reconcile_interval: Duration::from_secs(1),
        unconfirmed_after: Duration::from_secs(120),
        // Virtual time may run ahead of a busy database (see the module notes): a longer
        // lease keeps a slow renewal from handing the lane to another test hub.
        lease_ttl: Duration::from_secs(60),
        ..SendSettings::default()
    }
}

pub fn prices() -> PriceTable {
    let a = |s: &str| Amount::parse_decimal(s).unwrap();
    PriceTable::new(
        Currency::parse("USD").unwrap(),
        Rates {
            marketing: a("0.025"),
            utility: a("0.004"),
            authentication: a("0.004"),
            service: Amount::ZERO,
        },
    )
    .with_country(
        Country::parse("BR").unwrap(),
        CountryRates {
            marketing: Some(a("0.0625")),
            utility: Some(a("0.0068")),
            ..CountryRates::default()
        },
    )
}

/// See the module notes.
async fn pace_virtual_time() {
    loop {
        std::thread::sleep(Duration::from_micros(100));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

impl Env {
    pub async fn start(backend: Backend) -> Env {
        tokio::spawn(pace_virtual_time());
        let db = Db::create(backend).await;
        let hub_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub_url = format!("http://{}", hub_listener.local_addr().unwrap());
        let sim_opts = SimOptions {
            webhook_url: Some(format!("{hub_url}/webhook")),
            speed: 1.0,
            start: Some(SimTime::from_unix_secs(START)),
            real_time: Some(Arc::new(TokioRealTime::new())),
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
        let mut cfg = GraphConfig::new(info.graph_url.clone(), info.access_token.clone().into());
        cfg.api_version = info.graph_version.clone();
        let graph = GraphClient::new(&cfg).unwrap();
        let store = db.open(sim_clock(&engine)).await;
        let workspace = store
            .ensure_workspace(&WorkspaceSlug::parse("acme").unwrap(), "Acme")
            .await
            .unwrap();
        let waba = WabaId::parse(info.waba_id.clone()).unwrap();
        let now = sim_clock(&engine)();
        onboarding::onboard_waba(&graph, &store, workspace.id, &waba, now)
            .await
            .unwrap();
        store.close().await;
        let mut env = Env {
            db,
            info,
            engine,
            hubs: Vec::new(),
            workspace,
            http: reqwest::Client::new(),
            graph,
            sim_stop: Some(sim_stop),
            sim_task: Some(sim_task),
        };
        env.start_hub(hub_listener, test_settings()).await;
        env
    }

    /// Starts another hub (its own pools, engine and owner name) on the same database.
    pub async fn start_hub(&mut self, listener: TcpListener, settings: SendSettings) -> usize {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let clock = sim_clock(&self.engine);
        let store = self.db.open(clock.clone()).await;
        let hub = Hub::build(
            store.clone(),
            HubSettings {
                webhook: WebhookSettings {
                    app_secret: self.info.app_secret.clone().into(),
                    verify_token: self.info.verify_token.clone().into(),
                    max_body_bytes: MAX_WEBHOOK_BYTES,
                },
                ingest: IngestConfig::default(),
            },
            clock.clone(),
        );
        let templates = Arc::new(TemplateCache::new(
            self.graph.clone(),
            settings.template_cache_ttl,
        ));
        let engine = SendEngine::new(store.clone(), self.graph.clone(), settings, clock.clone());
        let service = Arc::new(SendService::new(
            store.clone(),
            templates,
            prices(),
            engine,
            clock,
        ));
        let hub = hub.with_sending(service.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hub.run(listener, async {
            let _ = stopped.await;
        }));
        self.hubs.push(HubHandle {
            url,
            store,
            service,
            stop: Some(stop),
            task: Some(task),
        });
        self.hubs.len() - 1
    }

    pub async fn finish(mut self) {
        for h in &mut self.hubs {
            h.stop().await;
        }
        if let Some(s) = self.sim_stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.sim_task.take() {
            t.await.unwrap().unwrap();
        }
        self.db.finish().await;
    }

    pub fn hub(&self) -> &HubHandle {
        &self.hubs[0]
    }

    pub fn store(&self) -> &SqlStore {
        &self.hubs[0].store
    }

    pub fn now(&self) -> Timestamp {
        sim_clock(&self.engine)()
    }

    /// The coexistence number.
    pub fn coex(&self) -> PhoneNumberId {
        PhoneNumberId::parse(self.info.phone_number_ids[0].clone()).unwrap()
    }

    /// The pure Cloud API number.
    pub fn cloud(&self) -> PhoneNumberId {
        PhoneNumberId::parse(self.info.phone_number_ids[1].clone()).unwrap()
    }

    pub fn phone_of(&self, customer: &str) -> String {
        let c = self
            .info
            .customers
            .iter()
            .find(|c| c.key == customer)
            .unwrap();
        format!("+{}", c.phone)
    }

    pub fn bsuid_of(&self, customer: &str) -> String {
        self.info
            .customers
            .iter()
            .find(|c| c.key == customer)
            .unwrap()
            .user_id
            .clone()
    }

    // --- the emulator's control API -----------------------------------------------------

    pub async fn act(&self, action: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/act", self.info.control_url))
            .json(&action)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "action {action} failed: {body}");
        body
    }

    /// A customer writes to the coexistence number (opens the window).
    pub async fn customer_writes(&self, customer: &str, text: &str) {
        self.act(json!({"action": "customer_sends", "customer": customer, "text": text}))
            .await;
    }

    pub async fn fault(&self, number: &PhoneNumberId, code: u32, remaining: u32, delivery: &str) {
        let resp = self
            .http
            .post(format!("{}/faults", self.info.control_url))
            .json(&json!({"number": number, "code": code, "remaining": remaining, "delivery": delivery}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }

    /// Every `POST …/messages` the emulator received: (virtual ms, HTTP status, response).
    pub async fn graph_sends(&self, number: &PhoneNumberId) -> Vec<(i64, u16, Value)> {
        let list: Vec<Value> = self
            .http
            .get(format!("{}/requests", self.info.control_url))
            .query(&[("path", format!("{number}/messages"))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list.iter()
            .filter(|r| r["method"] == "POST")
            .map(|r| {
                (
                    r["at"].as_i64().unwrap(),
                    r["status"].as_u64().unwrap() as u16,
                    serde_json::from_str(r["response"].as_str().unwrap_or("null"))
                        .unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    /// The API messages the emulator accepted for `number` (not the refused requests).
    pub async fn sim_api_messages(&self) -> Vec<Value> {
        let list: Vec<Value> = self
            .http
            .get(format!("{}/messages", self.info.control_url))
            .query(&[("origin", "api")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list
    }

    // --- the hub's REST API -------------------------------------------------------------

    /// `POST /v1/numbers/{number}/messages`: (status, body).
    pub async fn send_raw(
        &self,
        hub: usize,
        number: &PhoneNumberId,
        body: &Value,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .post(format!(
                "{}/v1/numbers/{number}/messages",
                self.hubs[hub].url
            ))
            .json(body);
        if let Some(k) = key {
            rb = rb.header("Idempotency-Key", k);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// Sends and expects it queued; returns the send's id.
    pub async fn send_ok(&self, number: &PhoneNumberId, body: Value) -> i64 {
        let (status, v) = self.send_raw(0, number, &body, None).await;
        assert_eq!(status, 202, "{v}");
        v["id"].as_i64().unwrap()
    }

    /// Sends and expects a refusal; returns its code.
    pub async fn send_refused(&self, number: &PhoneNumberId, body: Value) -> String {
        let (status, v) = self.send_raw(0, number, &body, None).await;
        assert!((400..500).contains(&status), "{status} {v}");
        v["code"].as_str().unwrap().to_owned()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.get_json_at(0, path).await
    }

    pub async fn get_json_at(&self, hub: usize, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.hubs[hub].url))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn get_send(&self, id: i64) -> Value {
        self.get_json(&format!("/v1/sends/{id}")).await
    }

    /// Polls the send until `done` holds (a bounded number of virtual-time polls).
    pub async fn wait_send(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_send_at(0, id, what, done).await
    }

    /// [`Env::wait_send`] through hub number `hub`.
    pub async fn wait_send_at(
        &self,
        hub: usize,
        id: i64,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let path = format!("/v1/sends/{id}");
        for _ in 0..600 {
            let v = self.get_json_at(hub, &path).await;
            if done(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "send {id} never became {what}: {}",
            self.get_json_at(hub, &path).await
        );
    }

    pub async fn wait_state(&self, id: i64, state: &str) -> Value {
        self.wait_send(id, state, |v| v["state"] == state).await
    }
}

/// A text body to `to`.
pub fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}

/// A template body to `to`.
pub fn template(to: &str, name: &str, lang: &str, body_params: &[&str]) -> Value {
    let params: Vec<Value> = body_params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    let mut components = Vec::new();
    if !params.is_empty() {
        components.push(json!({"type": "body", "parameters": params}));
    }
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": name, "language": {"code": lang}, "components": components}})
}
